//! `agentctl replay SESSION`: the cockpit on a recorded session, read-only,
//! played at the recorded pace (times `--speed`), with in-app controls:
//! play/pause, speed, step, jump to gates / debate turns / failures, seek.

use std::io::IsTerminal;
use std::sync::Arc;

use clap::Args;

use super::exit;
use super::session::DirArgs;
use agentctl::tui::TuiOptions;
use agentctl::workflow::load::{Format, load_str_with};
use agentctl::workflow::provider_catalog::ProviderCatalog;

#[derive(Args, Debug)]
pub(crate) struct ReplayArgs {
    /// Session id, unique id prefix, or path to a session file.
    #[arg(value_name = "SESSION")]
    session: String,
    /// Playback speed, 0.5 to 16 (1 = as recorded); `<` and `>` change it in the app.
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    speed: f64,
    /// Open paused at the first event (Space plays, `.` steps).
    #[arg(long)]
    paused: bool,
    /// Colour theme: dark, light, high-contrast, colorblind, or a theme file.
    #[arg(long)]
    theme: Option<String>,
    /// Do not capture the mouse.
    #[arg(long)]
    no_mouse: bool,
    #[command(flatten)]
    dir: DirArgs,
}

fn parse_speed(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number; give a speed from 0.5 to 16"))?;
    if (0.5..=16.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "speed {v} is out of range; give a speed from 0.5 to 16"
        ))
    }
}

/// Replay calls no provider, so it must not need their settings: the
/// providers the session recorded are the ones known, whatever config.toml
/// says now (or if there is none).
pub(crate) fn recorded_providers(
    mut catalog: ProviderCatalog,
    recorded: &[agentctl::session::AgentProvider],
) -> ProviderCatalog {
    for p in recorded {
        let code_agent = p.provider == "command" || p.provider == "custom";
        if !code_agent && catalog.default_model(&p.provider).is_none() {
            catalog = catalog.with(&p.provider, &p.model);
        }
    }
    catalog
}

pub(crate) fn main(args: ReplayArgs) -> i32 {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        eprintln!(
            "error: agentctl replay needs a terminal.\n  = hint: agentctl sessions show {} prints the session instead",
            args.session
        );
        return exit::BAD_INPUT;
    }
    let reader = match args.dir.open(&args.session) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let header = reader.header();
    let rec = &header.workflow;
    let catalog = recorded_providers(ProviderCatalog::builtin(), &header.providers);
    let wf = match load_str_with(
        &rec.text,
        &rec.origin,
        Format::from_path(&rec.origin),
        &catalog,
    ) {
        Ok(mut l) => {
            // Show each agent with the provider and model it ran with (an
            // agent naming none used config.toml's default_provider).
            for a in &mut l.workflow.agents {
                if let Some(p) = header.providers.iter().find(|p| *a.id == *p.agent)
                    && a.kind == agentctl::workflow::model::AgentKind::Llm
                {
                    a.provider = p.provider.clone();
                    a.model = p.model.as_str().into();
                }
            }
            Arc::new(l.workflow)
        }
        Err(d) => {
            eprintln!("error: the workflow recorded in the session does not load:\n{d}");
            return exit::BAD_INPUT;
        }
    };
    // A fork (`F`) runs the engine here, which walks nested nodes
    // recursively on these workers: room for the deepest nesting.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(16 << 20)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    runtime.block_on(async move {
        let dirs = directories::ProjectDirs::from("", "", "agentctl");
        let keymap = match super::tui::user_keymap(dirs.as_ref()) {
            Ok(k) => k,
            Err(code) => return code,
        };
        let opts = TuiOptions {
            theme: args.theme,
            replay: true,
            mouse: !args.no_mouse,
            keymap,
        };
        let live = Arc::new(std::sync::Mutex::new(None));
        let forker =
            super::fork::replay_forker(reader.path().to_path_buf(), args.dir.clone(), live.clone());
        let result = agentctl::tui::run_replay_with_fork(
            wf,
            reader,
            args.speed,
            args.paused,
            opts,
            Some(forker),
        )
        .await;
        // A fork made with `F` ends with the cockpit, recorded to the end.
        let forked = live.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(run) = forked {
            super::fork::finish_live(run).await;
        }
        match result {
            Ok(_) => exit::OK,
            Err(e) => {
                eprintln!("error: {e}");
                if e.kind() == std::io::ErrorKind::InvalidInput {
                    exit::BAD_INPUT
                } else {
                    1
                }
            }
        }
    })
}
