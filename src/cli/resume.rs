//! `agentctl resume SESSION`: continues an interrupted session in its own
//! file. Completed tasks keep their recorded outputs (no provider call, no
//! tokens spent twice); tasks that were in flight run again as new attempts.

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use clap::Args;

use super::exit;
use super::run::{Mode, Recording, Setup, drive};
use super::session::DirArgs;
use agentctl::session::{SessionReader, content_hash};
use agentctl::workflow::load::{Format, Loaded, load_source_with, load_str_with};
use agentctl::workflow::provider_catalog::ProviderCatalog;

#[derive(Args, Debug)]
pub(crate) struct ResumeArgs {
    /// Session id, unique id prefix, or path to a session file.
    #[arg(value_name = "SESSION")]
    session: String,
    /// Print one JSON summary object at the end (and nothing else on stdout).
    #[arg(long)]
    json: bool,
    /// Approve every human gate without asking.
    #[arg(long)]
    auto_approve: bool,
    /// Resume even though the workflow file changed since it was recorded
    /// (the changed file runs).
    #[arg(long)]
    force: bool,
    /// Run the workflow copy embedded in a session another user's agentctl
    /// recorded (its file gone) without asking. Only for files from a
    /// source you trust: that copy may run any program.
    #[arg(long)]
    trust: bool,
    #[command(flatten)]
    dir: DirArgs,
    #[command(flatten)]
    providers: super::providers::ProviderArgs,
    #[command(flatten)]
    nats: super::worker::NatsRunArgs,
    #[command(flatten)]
    telemetry: super::telemetry::TelemetryArgs,
}

pub(crate) fn main(args: ResumeArgs) -> i32 {
    let reader = match args.dir.open(&args.session) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let state = reader.state();
    let id = reader.header().session.clone();
    if state.finished() {
        let line = format!(
            "session {id} already finished ({}); nothing to resume",
            state.status_name()
        );
        if args.json {
            println!(
                "{}",
                serde_json::json!({"session": id, "status": state.status_name(), "resumed": false, "message": line})
            );
        } else {
            eprintln!("{line}");
        }
        return exit::OK;
    }
    // The config first: the recorded workflow may name its providers.
    let config = match super::providers::load_config(args.providers.config.as_deref()) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let (mut loaded, embedded) =
        match workflow_of(&reader, args.force, &config.config.provider_catalog()) {
            Ok(l) => l,
            Err(msg) => {
                eprintln!("error: {msg}");
                return exit::BAD_INPUT;
            }
        };
    if embedded && let Err(code) = trust_embedded(&reader, &loaded, args.trust) {
        return code;
    }
    loaded.workflow.input = reader.header().input.clone();
    let origin = reader.header().workflow.origin.clone();
    let wiring = match super::providers::apply(
        &mut loaded.workflow,
        &origin,
        &args.providers,
        &config.config,
    ) {
        Ok(w) => w,
        Err(c) => return c,
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !args.auto_approve
        && !interactive
        && let Some(g) = loaded.workflow.human_gate()
    {
        eprintln!(
            "error: the workflow has a human gate (node `{}`) and there is no terminal to ask on.\n  = hint: pass --auto-approve",
            g.id
        );
        return exit::BAD_INPUT;
    }
    if let Err(c) =
        super::run::refuse_unanswerable_budget_pause(&loaded.workflow, interactive, &origin)
    {
        return c;
    }
    let restore = Arc::new(state.restore(&reader));
    if !args.json {
        eprintln!(
            "resuming session {id}: {} of {} recorded task(s) completed, {} tokens spent",
            state.completed(),
            state.tasks.len(),
            state.total_usage.total()
        );
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let setup = Setup {
        seed: reader.header().seed,
        auto_approve: args.auto_approve,
        auto_approve_shell: false,
        mode: Mode::pick(args.json),
        recording: Recording::Append(Box::new(reader)),
        resume: Some(restore),
        wiring,
        step: false,
        nats: super::worker::NatsRunArgs {
            auth: config.config.nats.clone(),
            ..args.nats
        },
        telemetry: args.telemetry.settings(&config.config),
    };
    runtime.block_on(drive(Arc::new(loaded.workflow), setup))
}

/// Before the workflow copy a session carries runs: a session this user's
/// agentctl recorded (its header MAC checks out) runs as it is; any other
/// runs only with `--trust`, or when the user says yes on a terminal after
/// seeing what it would run.
fn trust_embedded(reader: &SessionReader, loaded: &Loaded, trust: bool) -> Result<(), i32> {
    let header = reader.header();
    let why = match agentctl::session::trust::recorded_by_user(header) {
        Ok(true) => return Ok(()),
        Ok(false) => {
            "it was not recorded by your agentctl (no valid signature of yours)".to_string()
        }
        Err(e) => format!("it cannot be checked as yours: {e}"),
    };
    let reach = agentctl::workflow::reach::Reach::of(&loaded.workflow);
    let what = format!(
        "session {} carries its own copy of the workflow, and {why}. Resuming runs that copy, which reaches:\n{reach}",
        header.session.escape_debug()
    );
    if trust {
        eprintln!("warning: {what}running it (--trust)");
        return Ok(());
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        eprintln!(
            "error: {what}  = hint: if you trust where this session file came from, pass --trust; otherwise restore the workflow file {} and resume again",
            header.workflow.origin.escape_debug()
        );
        return Err(exit::BAD_INPUT);
    }
    eprint!("{what}Run it? [y/N] ");
    let mut answer = String::new();
    // One short line at most: the answer is a word.
    let _ = std::io::Read::take(std::io::stdin().lock(), 256).read_line(&mut answer);
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        eprintln!("not resumed: the session's workflow did not run");
        Err(exit::BAD_INPUT)
    }
}

/// The workflow a session ran, checked against its source: a changed file
/// (or built-in) is refused unless `force`. `true` when it is the copy
/// embedded in the session (its source is gone).
fn workflow_of(
    reader: &SessionReader,
    force: bool,
    providers: &ProviderCatalog,
) -> Result<(Loaded, bool), String> {
    let rec = &reader.header().workflow;
    // A fork that changed its workflow runs its own text: the file its
    // origin names is the unchanged one.
    let edited_fork = reader.header().fork.as_ref().is_some_and(|f| f.edited);
    let (current, origin_kind) = if edited_fork {
        (None, "forked workflow")
    } else if let Some(name) = rec.origin.strip_prefix("builtin:") {
        (
            agentctl::workflow::builtins::get(name).map(|b| b.text.to_string()),
            "built-in workflow",
        )
    } else {
        // A crafted header may name a FIFO or a device: read regular files only.
        (
            agentctl::workflow::source_file::read_text(
                std::path::Path::new(&rec.origin),
                agentctl::workflow::source_file::MAX_TEXT_BYTES,
            )
            .ok(),
            "workflow file",
        )
    };
    let embedded = current.is_none();
    let text = match current {
        Some(t) if content_hash(&t) == rec.hash => t,
        Some(t) if force => {
            eprintln!(
                "warning: the {origin_kind} {} changed since the session was recorded; running the changed one (--force)",
                rec.origin
            );
            t
        }
        Some(_) => {
            return Err(format!(
                "the {origin_kind} {} changed since session {} was recorded ({}); resuming would mix two workflows.\n  = hint: restore the file, or pass --force to resume with the changed workflow",
                rec.origin,
                reader.header().session,
                rec.hash
            ));
        }
        None if edited_fork => rec.text.clone(),
        None => {
            eprintln!(
                "note: the {origin_kind} {} is gone; resuming with the copy recorded in the session",
                rec.origin
            );
            rec.text.clone()
        }
    };
    let loaded =
        if rec.origin.starts_with("builtin:") && !edited_fork && content_hash(&text) == rec.hash {
            load_source_with(&rec.origin, providers)
        } else {
            load_str_with(
                &text,
                &rec.origin,
                Format::from_path(&rec.origin),
                providers,
            )
        };
    loaded
        .map(|l| (l, embedded))
        .map_err(|d| format!("the recorded workflow does not load:\n{d}"))
}
