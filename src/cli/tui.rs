//! `agentctl tui`: the cockpit on a live, in-process run.
//!
//! Reads key overrides from `config.toml`'s `[keys]` table in the user
//! config dir and logs to `tui.log` in the user state (or data) dir: the
//! terminal belongs to the cockpit, so nothing is ever logged to it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use directories::ProjectDirs;
use tracing_subscriber::EnvFilter;

use super::exit;
use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::RunStatus;
use agentctl::llm::tokens;
use agentctl::tui::Keymap;
use agentctl::tui::{TuiExit, TuiOptions};

#[derive(Args, Debug)]
pub(crate) struct TuiArgs {
    /// Workflow file or builtin:NAME (default: the built-in demo).
    #[arg(value_name = "WORKFLOW", default_value = "builtin:demo")]
    workflow: String,
    /// Colour theme: dark, light, high-contrast, colorblind, monochrome, a theme
    /// file, or NAME for `themes/NAME.toml` in the config dir.
    #[arg(long)]
    theme: Option<String>,
    /// Seed for the sim provider.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Start with dispatching paused (press p to start).
    #[arg(long)]
    paused: bool,
    /// Run every debate and vote in step mode: each turn and ballot waits
    /// for `n` (`s` switches step mode off).
    #[arg(long)]
    step: bool,
    /// Do not capture the mouse (lets the terminal select text).
    #[arg(long)]
    no_mouse: bool,
    #[command(flatten)]
    record: super::session::RecordArgs,
    #[command(flatten)]
    providers: super::providers::ProviderArgs,
    #[command(flatten)]
    telemetry: super::telemetry::TelemetryArgs,
    /// Agent calls on workers over NATS (`--nats`), as for `run`.
    #[command(flatten)]
    nats: super::worker::NatsRunArgs,
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
    let mut loaded = match super::load_or_report(&args.workflow, &config.config.provider_catalog())
    {
        Ok(l) => l,
        Err(c) => return c,
    };
    let record_dir = match args.record.for_new_run() {
        Ok(d) => d,
        Err(c) => return c,
    };
    let dirs = ProjectDirs::from("", "", "agentctl");
    let keymap = match keymap_at(args.providers.config.as_deref(), dirs.as_ref()) {
        Ok(k) => k,
        Err(code) => return code,
    };
    // Held until the end of `main` so buffered lines are flushed on exit.
    let (_log_guard, log_path) = start_logging(dirs.as_ref());
    tracing::info!(
        workflow = %args.workflow,
        seed = args.seed,
        log = ?log_path,
        "cockpit starting"
    );
    let wiring = match super::providers::apply(
        &mut loaded.workflow,
        &args.workflow,
        &args.providers,
        &config.config,
    ) {
        Ok(p) => p,
        Err(c) => return c,
    };
    // The engine walks nested nodes recursively on these workers: room for
    // the deepest nesting validation allows (100), even in a debug build.
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
    let text = loaded.text.clone();
    let origin = super::session::origin_of(&loaded.origin);
    let telemetry_settings = args.telemetry.settings(&config.config);
    let workflow = Arc::new(loaded.workflow);
    let nats = super::worker::NatsRunArgs {
        auth: config.config.nats.clone(),
        ..args.nats
    };
    runtime.block_on(async move {
        let _ = tokio::task::spawn_blocking(tokens::warm_up).await;
        // Interactive: a failed task waits for r(etry) / R(eroute) / c(ancel).
        let session = agentctl::engine::new_session_id();
        let opts = RunOptions {
            seed: args.seed,
            session_id: Some(session.clone()),
            hold_failed: true,
            start_paused: args.paused,
            step: args.step,
            ..Default::default()
        };
        // The file's input or --input; a workflow with neither runs on null.
        let orch = Orchestrator::new(workflow.clone(), opts).input(workflow.input.clone());
        // Before the cockpit takes the terminal: a bad --nats is an error
        // on the plain screen.
        let mut orch = match nats.dispatch(&session).await {
            Ok(Some(d)) => wiring.install_with(orch, Some(&d)).with_dispatch(d),
            Ok(None) => wiring.install(orch),
            Err(c) => return c,
        };
        let events = orch.subscribe();
        let telemetry = match super::telemetry::start(telemetry_settings, &workflow, &session, || orch.subscribe()) {
            Ok(t) => t,
            Err(c) => return c,
        };
        let recorder = match record_dir {
            Some(dir) => {
                let mut header = agentctl::session::Header::new(
                    &session,
                    &workflow,
                    &text,
                    &origin,
                    args.seed,
                    agentctl::event::now_micros(),
                );
                // Unsigned (no usable key) only means `resume` will ask first.
                let _ = agentctl::session::trust::sign_as_user(&mut header);
                match agentctl::session::Recorder::create(&dir, &header, orch.subscribe_bounded(agentctl::session::RECORD_QUEUE)) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        eprintln!("error: cannot record the session: {e}\n  = hint: pass --session-dir DIR, or --no-record");
                        return exit::BAD_INPUT;
                    }
                }
            }
            None => None,
        };
        let handle = match orch.start() {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::BAD_INPUT;
            }
        };
        let tui_opts = TuiOptions {
            theme: args.theme.map(|t| user_theme(dirs.as_ref(), t)),
            replay: false,
            mouse: !args.no_mouse,
            keymap,
        };
        let result = agentctl::tui::run(workflow, events, Some(handle.commands()), tui_opts).await;
        match &result {
            Ok(exit) => tracing::info!(?exit, "cockpit closed"),
            Err(e) => tracing::error!(error = %e, "cockpit failed"),
        }
        // Leaving the cockpit stops whatever still runs.
        handle.interrupt();
        let outcome = handle.wait().await;
        super::telemetry::finish(telemetry, true).await;
        if let Some(r) = recorder
            && let Err(e) = r.finish()
        {
            eprintln!("warning: the session recording is incomplete: {e}");
        }
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

/// `--theme NAME` finds `NAME.toml` in the config dir's `themes/` when NAME
/// is neither a built-in theme nor an existing file.
fn user_theme(dirs: Option<&ProjectDirs>, theme: String) -> String {
    if agentctl::tui::is_builtin_theme(&theme) || std::path::Path::new(&theme).exists() {
        return theme;
    }
    match dirs.map(|d| d.config_dir().join("themes").join(format!("{theme}.toml"))) {
        Some(p) if p.is_file() => p.display().to_string(),
        _ => theme,
    }
}

/// Logs to `tui.log` under the state dir (Linux) or the local data dir,
/// through a non-blocking writer; `AGENTCTL_LOG` sets the filter (default
/// `info`). Logging is best effort: without a writable dir the cockpit runs
/// without a log.
fn start_logging(
    dirs: Option<&ProjectDirs>,
) -> (
    Option<tracing_appender::non_blocking::WorkerGuard>,
    Option<PathBuf>,
) {
    let Some(dir) = dirs.map(|d| {
        d.state_dir()
            .unwrap_or_else(|| d.data_local_dir())
            .to_path_buf()
    }) else {
        return (None, None);
    };
    if std::fs::create_dir_all(&dir).is_err() {
        return (None, None);
    }
    let path = dir.join("tui.log");
    let Ok(file) = open_log(&path) else {
        return (None, None);
    };
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_from_env("AGENTCTL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .is_ok();
    if installed {
        (Some(guard), Some(path))
    } else {
        (None, None)
    }
}

/// Opens (or creates) the log for appending, readable by this user only:
/// it holds workflow names, errors and paths, like the sessions, which are
/// 0600 too. A log an older version created 0644 is tightened.
fn open_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

fn describe(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Succeeded => "the run succeeded",
        RunStatus::Failed => "the run failed",
        RunStatus::Cancelled => "the run was cancelled",
        RunStatus::Interrupted => "the run was interrupted",
    }
}

/// The keymap with the user's `[keys]` overrides from `config.toml` (a bad
/// file is reported and is bad input).
pub(crate) fn user_keymap(dirs: Option<&ProjectDirs>) -> Result<Keymap, i32> {
    keymap_at(None, dirs)
}

/// The keymap with the `[keys]` of `config` (`--config PATH`, the same file
/// the providers come from), else of the default `config.toml`.
pub(crate) fn keymap_at(
    config: Option<&std::path::Path>,
    dirs: Option<&ProjectDirs>,
) -> Result<Keymap, i32> {
    let path = match config {
        Some(p) => Some(p.to_path_buf()),
        None => dirs.map(|d| d.config_dir().join("config.toml")),
    };
    match path {
        Some(path) => Keymap::load(&path).map_err(|e| {
            eprintln!("{e}");
            exit::BAD_INPUT
        }),
        None => Ok(Keymap::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_log_is_private_new_or_old() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let fresh = dir.path().join("tui.log");
        drop(open_log(&fresh).unwrap());
        assert_eq!(mode(&fresh), 0o600);
        let old = dir.path().join("old.log");
        std::fs::write(&old, "earlier lines\n").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = open_log(&old).unwrap();
        std::io::Write::write_all(&mut f, b"more\n").unwrap();
        assert_eq!(mode(&old), 0o600);
        assert_eq!(
            std::fs::read_to_string(&old).unwrap(),
            "earlier lines\nmore\n"
        );
    }
}
