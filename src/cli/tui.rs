//! `agentctl tui`: the cockpit on a live, in-process run.

use std::io::IsTerminal;
use std::sync::Arc;

use clap::Args;

use super::exit;
use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::RunStatus;
use agentctl::llm::tokens;
use agentctl::tui::{TuiExit, TuiOptions};

#[derive(Args, Debug)]
pub(crate) struct TuiArgs {
    /// Workflow file or builtin:NAME (default: the built-in demo).
    #[arg(value_name = "WORKFLOW", default_value = "builtin:demo")]
    workflow: String,
    /// Colour theme: dark, light, high-contrast, colorblind, or a theme file.
    #[arg(long)]
    theme: Option<String>,
    /// Seed for the sim provider.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Start with dispatching paused (press p to start).
    #[arg(long)]
    paused: bool,
    /// Do not capture the mouse (lets the terminal select text).
    #[arg(long)]
    no_mouse: bool,
    #[command(flatten)]
    providers: super::providers::ProviderArgs,
}

pub(crate) fn main(args: TuiArgs) -> i32 {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        eprintln!(
            "error: agentctl tui needs a terminal.\n  = hint: for scripts and CI use the headless runner: agentctl run {}",
            args.workflow
        );
        return exit::BAD_INPUT;
    }
    let config = match super::providers::load_config(args.providers.config.as_deref()) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let mut loaded = match super::load_or_report(&args.workflow) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let wiring = match super::providers::apply(
        &mut loaded.workflow,
        &args.workflow,
        &args.providers,
        &config.config,
    ) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let workflow = Arc::new(loaded.workflow);
    runtime.block_on(async move {
        let _ = tokio::task::spawn_blocking(tokens::warm_up).await;
        // Interactive: a failed task waits for r(etry) / R(eroute) / c(ancel).
        let opts = RunOptions {
            seed: args.seed,
            hold_failed: true,
            start_paused: args.paused,
            ..Default::default()
        };
        let mut orch = wiring.install(Orchestrator::new(workflow.clone(), opts));
        let events = orch.subscribe();
        let handle = match orch.start() {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::BAD_INPUT;
            }
        };
        let tui_opts = TuiOptions {
            theme: args.theme,
            replay: false,
            mouse: !args.no_mouse,
        };
        let result = agentctl::tui::run(workflow, events, Some(handle.commands()), tui_opts).await;
        // Leaving the cockpit stops whatever still runs.
        handle.interrupt();
        let outcome = handle.wait().await;
        match result {
            Err(e) => {
                eprintln!("error: {e}");
                if e.kind() == std::io::ErrorKind::InvalidInput {
                    exit::BAD_INPUT
                } else {
                    1
                }
            }
            Ok(TuiExit::Finished(status)) => {
                eprintln!("{} · session {}", describe(status), outcome.session);
                status.exit_code()
            }
            Ok(TuiExit::Quit) => {
                eprintln!(
                    "left the cockpit while the run was live · session {}",
                    outcome.session
                );
                RunStatus::Interrupted.exit_code()
            }
        }
    })
}

fn describe(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Succeeded => "the run succeeded",
        RunStatus::Failed => "the run failed",
        RunStatus::Cancelled => "the run was cancelled",
        RunStatus::Interrupted => "the run was interrupted",
    }
}
