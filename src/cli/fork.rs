//! `agentctl fork SESSION --at POINT [--set PATH=VALUE]… [--workflow FILE]`:
//! a new session that shares SESSION's history up to POINT and runs on
//! live from there, with the changes asked for. It is a resume of a
//! truncated copy with an edited spec (see `agentctl::session::fork`), so
//! completed work is neither redone nor billed again. The replay cockpit's
//! `F` goes through the same [`ForkPlan`].

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::exit;
use super::providers::{ProviderArgs, Wiring};
use super::run::{Mode, Recording, Setup, drive};
use super::session::DirArgs;
use agentctl::config::Config;
use agentctl::engine::{Restore, new_session_id};
use agentctl::event::now_micros;
use agentctl::session::fork::ForkOrigin;
use agentctl::session::fork_edit::{self, SetArg};
use agentctl::session::fork_point::{FORK_POINT_HELP, ForkPoint};
use agentctl::session::{Header, SessionReader, content_hash};
use agentctl::workflow::load::{Format, load_str_with};
use agentctl::workflow::model::{AgentKind, Workflow};
use agentctl::workflow::reach::Reach;

#[derive(Args, Debug)]
pub(crate) struct ForkArgs {
    /// Session id, unique id prefix, or path to a session file.
    #[arg(value_name = "SESSION")]
    session: String,
    /// Where to fork: an event's seq (120), an event count (#120, as the
    /// replay counts), a time from the start (1:05, 90s, 250ms) or gate:ID
    /// (just before that gate opened).
    #[arg(long, value_name = "EVENT|TIME|gate:ID", value_parser = parse_point)]
    at: ForkPoint,
    /// Change the workflow for the fork: PATH is a path into the spec
    /// (input, agents.ID.FIELD, nodes.ID.FIELD, workflow.FIELD, budget.…).
    /// Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = parse_set)]
    sets: Vec<SetArg>,
    /// Run on this workflow file instead of the session's (tasks with the
    /// same ids keep their recorded outputs).
    #[arg(long, value_name = "FILE")]
    workflow: Option<String>,
    /// Print one JSON summary object at the end (and nothing else on stdout).
    #[arg(long)]
    json: bool,
    /// Approve every human gate of the fork without asking.
    #[arg(long)]
    auto_approve: bool,
    /// Run the workflow of a session another user's agentctl recorded
    /// without asking. Only for files from a source you trust: that
    /// workflow may run any program.
    #[arg(long)]
    trust: bool,
    #[command(flatten)]
    dir: DirArgs,
    #[command(flatten)]
    providers: ProviderArgs,
    #[command(flatten)]
    telemetry: super::telemetry::TelemetryArgs,
}

fn parse_point(s: &str) -> Result<ForkPoint, String> {
    s.parse()
}

fn parse_set(s: &str) -> Result<SetArg, String> {
    s.parse()
}

/// A fork checked and ready to write: everything that can refuse it has
/// run, and nothing is on disk yet.
pub(crate) struct ForkPlan {
    workflow: Workflow,
    wiring: Wiring,
    text: String,
    origin: String,
    seed: u64,
    started_at: u64,
    origin_record: ForkOrigin,
    /// Sign the new header as this user's: false when it runs a foreign
    /// session's workflow, so resuming the fork asks again.
    sign: bool,
    /// Changes that only touch work completed before the point.
    pub(crate) warnings: Vec<String>,
}

/// What a fork needs to be planned.
pub(crate) struct ForkRequest<'a> {
    pub(crate) parent: &'a SessionReader,
    /// Events of the parent the fork keeps.
    pub(crate) keep: usize,
    /// The point as the user gave it (recorded in the header).
    pub(crate) at: String,
    pub(crate) sets: &'a [SetArg],
    pub(crate) workflow_file: Option<&'a str>,
    pub(crate) providers: &'a ProviderArgs,
    pub(crate) config: &'a Config,
}

/// A fork written to disk, ready to drive.
pub(crate) struct Written {
    pub(crate) workflow: Arc<Workflow>,
    pub(crate) wiring: Wiring,
    pub(crate) reader: SessionReader,
    pub(crate) restore: Arc<Restore>,
    pub(crate) seed: u64,
    /// One line saying what the fork took over.
    pub(crate) summary: String,
}

impl ForkPlan {
    /// Checks a fork: the point, the changes, the workflow's trust, the
    /// providers. `consent` is asked (with what the workflow reaches)
    /// before a workflow that is not the user's own may run.
    pub(crate) fn prepare(
        req: ForkRequest<'_>,
        consent: &mut dyn FnMut(&str) -> bool,
    ) -> Result<ForkPlan, String> {
        let header = req.parent.header();
        let rec = &header.workflow;
        // The session's own workflow, unless a file is given.
        let (text, origin, trusted) = match req.workflow_file {
            Some(f) => {
                let text = agentctl::workflow::source_file::read_text(
                    std::path::Path::new(f),
                    agentctl::workflow::source_file::MAX_TEXT_BYTES,
                )
                .map_err(|e| format!("cannot read `{f}`: {e}\n  = hint: {}", e.hint()))?;
                (text, super::session::origin_of(f), true)
            }
            None => (rec.text.clone(), rec.origin.clone(), own_workflow(header)),
        };
        let format = Format::from_path(&origin);
        let (edited_text, input) = if req.sets.is_empty() {
            (text, None)
        } else {
            let e = fork_edit::apply(&text, format, req.sets).map_err(|e| e.to_string())?;
            (e.text, e.input)
        };
        let catalog =
            super::replay::recorded_providers(req.config.provider_catalog(), &header.providers);
        let mut loaded = load_str_with(&edited_text, &origin, format, &catalog).map_err(|d| {
            if req.sets.is_empty() {
                format!("the workflow does not load:\n{d}")
            } else {
                format!("the workflow with the --set changes does not load:\n{d}")
            }
        })?;
        if !trusted {
            let why = match agentctl::session::trust::recorded_by_user(header) {
                Ok(_) => {
                    "it was not recorded by your agentctl (no valid signature of yours)".to_string()
                }
                Err(e) => format!("it cannot be checked as yours: {e}"),
            };
            let what = format!(
                "session {} carries its own copy of the workflow, and {why}. Forking runs that copy, which reaches:\n{}",
                header.session.escape_debug(),
                Reach::of(&loaded.workflow)
            );
            if !consent(&what) {
                return Err(format!(
                    "not forked: the session's workflow did not run\n  = hint: if you trust where session {} came from, pass --trust",
                    header.session.escape_debug()
                ));
            }
        }
        loaded.workflow.input = input.unwrap_or_else(|| header.input.clone());
        if req.workflow_file.is_none() {
            run_as_recorded(&mut loaded.workflow, header, req.sets);
        }
        if req.providers.provider.is_none() && req.providers.base_url.is_none() {
            missing_providers(&loaded.workflow, req.config)?;
        }
        let wiring =
            super::providers::apply(&mut loaded.workflow, &origin, req.providers, req.config)
                .map_err(|_| "the providers cannot be set up (see above)".to_string())?;
        let state = req.parent.state_at(req.keep);
        let warnings = fork_edit::document(&edited_text, format)
            .map(|doc| agentctl::session::fork_effect::settled_changes(&doc, &state, req.sets))
            .unwrap_or_default();
        let seq = if req.keep == 0 {
            0
        } else {
            req.parent
                .event(req.keep - 1)
                .and_then(Result::ok)
                .map_or(state.last_seq, |e| e.seq)
        };
        let edited = req.workflow_file.is_some()
            || !req.sets.is_empty()
            || header.fork.as_ref().is_some_and(|f| f.edited);
        Ok(ForkPlan {
            workflow: loaded.workflow,
            wiring,
            text: edited_text,
            origin,
            seed: header.seed,
            started_at: header.started_at,
            origin_record: ForkOrigin {
                parent: header.session.clone(),
                at: req.at,
                events: req.keep,
                seq,
                changed: req.sets.iter().map(|s| s.path.clone()).collect(),
                edited,
                forked_at: now_micros(),
            },
            sign: trusted,
            warnings,
        })
    }

    /// The fork's workflow (for checks before it is written).
    pub(crate) fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// Writes the new session into `dir` and folds it for the run.
    pub(crate) fn write(
        self,
        parent: &SessionReader,
        dir: &std::path::Path,
    ) -> Result<Written, String> {
        let id = new_session_id();
        let mut header = Header::new(
            &id,
            &self.workflow,
            &self.text,
            &self.origin,
            self.seed,
            self.started_at,
        );
        header.fork = Some(self.origin_record.clone());
        if self.sign {
            // Unsigned (no usable key) only means resuming it asks first.
            let _ = agentctl::session::trust::sign_as_user(&mut header);
        }
        let keep = self.origin_record.events;
        let path = agentctl::session::fork::write(dir, &header, parent, keep).map_err(|e| {
            format!(
                "cannot write the fork: {e}\n  = hint: pass --session-dir DIR (or set {})",
                agentctl::session::DIR_ENV
            )
        })?;
        let reader =
            SessionReader::open(&path).map_err(|e| format!("cannot read the fork back: {e}"))?;
        let state = reader.state();
        let restore = Arc::new(state.restore(&reader));
        let summary = format!(
            "forked session {} at {} (event {} of {}, seq {}) as {id}: {} completed task(s) keep their recorded outputs, {} tokens already spent",
            self.origin_record.parent,
            self.origin_record.at,
            keep,
            parent.len(),
            self.origin_record.seq,
            state.completed(),
            state.total_usage.total()
        );
        Ok(Written {
            workflow: Arc::new(self.workflow),
            wiring: self.wiring,
            reader,
            restore,
            seed: self.seed,
            summary,
        })
    }
}

/// Whether the session's workflow text is the user's own: their agentctl
/// signed the header, or it is exactly the built-in or file it names.
fn own_workflow(header: &Header) -> bool {
    if agentctl::session::trust::recorded_by_user(header) == Ok(true) {
        return true;
    }
    let rec = &header.workflow;
    let current = match rec.origin.strip_prefix("builtin:") {
        Some(name) => agentctl::workflow::builtins::get(name).map(|b| b.text.to_string()),
        // A crafted header may name a FIFO or a device: regular files only.
        None => agentctl::workflow::source_file::read_text(
            std::path::Path::new(&rec.origin),
            agentctl::workflow::source_file::MAX_TEXT_BYTES,
        )
        .ok(),
    };
    current.is_some_and(|t| content_hash(&t) == rec.hash && t == rec.text)
}

/// Each model agent runs on the provider and model the session recorded
/// for it, unless a `--set` changes them.
fn run_as_recorded(wf: &mut Workflow, header: &Header, sets: &[SetArg]) {
    let set = |agent: &str, field: &str| {
        sets.iter()
            .any(|s| s.path == format!("agents.{agent}.{field}"))
    };
    for a in wf.agents.iter_mut().filter(|a| a.kind == AgentKind::Llm) {
        let Some(p) = header.providers.iter().find(|p| *a.id == *p.agent) else {
            continue;
        };
        if set(&a.id, "provider") {
            continue;
        }
        a.provider = p.provider.clone();
        if !set(&a.id, "model") {
            a.model = p.model.as_str().into();
        }
    }
}

/// The providers the fork's agents need that are not configured here.
fn missing_providers(wf: &Workflow, config: &Config) -> Result<(), String> {
    let mut missing: Vec<(String, Vec<String>)> = Vec::new();
    for a in wf.agents.iter().filter(|a| a.kind == AgentKind::Llm) {
        if a.provider == "sim" || matches!(config.provider_settings(&a.provider, None), Ok(Some(_)))
        {
            continue;
        }
        match missing.iter_mut().find(|(p, _)| *p == a.provider) {
            Some((_, agents)) => agents.push(a.id.to_string()),
            None => missing.push((a.provider.clone(), vec![a.id.to_string()])),
        }
    }
    let Some((first, agents)) = missing.first() else {
        return Ok(());
    };
    let lines: Vec<String> = missing
        .iter()
        .map(|(p, agents)| format!("provider `{p}` (agents {})", agents.join(", ")))
        .collect();
    Err(format!(
        "the fork needs {}, which {} not configured here\n  = hint: add [providers.{first}] to config.toml (or pass --config FILE), or run the fork on another provider: --provider sim, or --set agents.{}.provider=sim",
        lines.join(" and "),
        if lines.len() == 1 { "is" } else { "are" },
        agents[0]
    ))
}

pub(crate) fn main(args: ForkArgs) -> i32 {
    let parent = match args.dir.open(&args.session) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let keep = match args.at.resolve(&parent) {
        Ok(n) => n,
        Err(e) => {
            eprintln!(
                "error: --at {}: {e}\n  = hint: {FORK_POINT_HELP}; agentctl sessions show {} lists the session",
                args.at,
                parent.header().session
            );
            return exit::BAD_INPUT;
        }
    };
    let config = match super::providers::load_config(args.providers.config.as_deref()) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let trust = args.trust;
    let mut consent = |what: &str| -> bool {
        if trust {
            eprintln!("warning: {what}running it (--trust)");
            return true;
        }
        if !interactive {
            eprintln!("error: {what}");
            return false;
        }
        eprint!("{what}Run it? [y/N] ");
        let mut answer = String::new();
        // One short line at most: the answer is a word.
        let _ = std::io::Read::take(std::io::stdin().lock(), 256).read_line(&mut answer);
        matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    };
    let at = args.at.to_string();
    let plan = match ForkPlan::prepare(
        ForkRequest {
            parent: &parent,
            keep,
            at,
            sets: &args.sets,
            workflow_file: args.workflow.as_deref(),
            providers: &args.providers,
            config: &config.config,
        },
        &mut consent,
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    if !args.auto_approve
        && !interactive
        && let Some(g) = plan.workflow().human_gate()
    {
        eprintln!(
            "error: the workflow has a human gate (node `{}`) and there is no terminal to ask on.\n  = hint: pass --auto-approve",
            g.id
        );
        return exit::BAD_INPUT;
    }
    let origin = parent.header().workflow.origin.clone();
    if let Err(c) =
        super::run::refuse_unanswerable_budget_pause(plan.workflow(), interactive, &origin)
    {
        return c;
    }
    let dir: PathBuf = match args.dir.dir() {
        Ok(d) => d,
        Err(c) => return c,
    };
    let written = match plan.write(&parent, &dir) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    if !args.json {
        eprintln!("{}", written.summary);
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
        seed: written.seed,
        auto_approve: args.auto_approve,
        auto_approve_shell: false,
        mode: Mode::pick(args.json),
        recording: Recording::Append(Box::new(written.reader)),
        resume: Some(written.restore),
        wiring: written.wiring,
        step: false,
        nats: super::worker::NatsRunArgs {
            auth: config.config.nats.clone(),
            ..Default::default()
        },
        telemetry: args.telemetry.settings(&config.config),
    };
    runtime.block_on(drive(written.workflow, setup))
}

/// A fork started from the replay cockpit: its run and its recorder.
pub(crate) struct LiveRun {
    session: String,
    handle: agentctl::engine::RunHandle,
    recorder: Option<agentctl::session::Recorder>,
}

/// Where the replay's forker leaves the run it started.
pub(crate) type LiveSlot = Arc<std::sync::Mutex<Option<LiveRun>>>;

/// The replay cockpit's `F`: forks the session at `parent` after its
/// first `n` events, on the providers it recorded, into `dir`'s session
/// directory, and starts the run (inside the cockpit's runtime). A session
/// that is not the user's own is refused here: there is no terminal line
/// to ask on, so `agentctl fork … --trust` is the way.
pub(crate) fn replay_forker(
    parent: PathBuf,
    dir: DirArgs,
    slot: LiveSlot,
) -> agentctl::tui::Forker {
    Box::new(move |n| {
        if slot.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
            return Err("this replay has forked already".into());
        }
        let reader = SessionReader::open(&parent).map_err(|e| e.to_string())?;
        let config = Config::load(None).map_err(|e| format!("the config does not load: {e}"))?;
        let dir = agentctl::session::session_dir(dir.session_dir.as_deref())
            .map_err(|e| e.to_string())?;
        let mut asked = false;
        let plan = ForkPlan::prepare(
            ForkRequest {
                parent: &reader,
                keep: n,
                at: format!("#{n}"),
                sets: &[],
                workflow_file: None,
                providers: &ProviderArgs::default(),
                config: &config.config,
            },
            &mut |_| {
                asked = true;
                false
            },
        );
        let plan = match plan {
            Ok(p) => p,
            Err(_) if asked => {
                return Err(format!(
                    "session {} was not recorded by you, and its workflow may run programs: agentctl fork {} --at '#{n}' --trust forks it if you trust its source",
                    reader.header().session,
                    reader.header().session
                ));
            }
            Err(e) => return Err(e),
        };
        let written = plan.write(&reader, &dir)?;
        let session = written.reader.header().session.clone();
        let mut orch = agentctl::engine::Orchestrator::new(
            written.workflow.clone(),
            agentctl::engine::RunOptions {
                seed: written.seed,
                session_id: Some(session.clone()),
                resume: Some(written.restore),
                // As in the live cockpit: a failed task waits for the user.
                hold_failed: true,
                ..Default::default()
            },
        );
        orch = written.wiring.install(orch);
        let events = orch.subscribe();
        let recorder = agentctl::session::Recorder::append(
            &written.reader,
            orch.subscribe_bounded(agentctl::session::RECORD_QUEUE),
        )
        .map_err(|e| format!("cannot record the fork: {e}"))?;
        let handle = orch.start().map_err(|e| e.to_string())?;
        let commands = handle.commands();
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(LiveRun {
            session: session.clone(),
            handle,
            recorder: Some(recorder),
        });
        Ok(agentctl::tui::LiveFork {
            session,
            events,
            commands,
        })
    })
}

/// Ends a fork the replay cockpit started (the user left it): whatever
/// still runs is interrupted, and the recording is completed.
pub(crate) async fn finish_live(run: LiveRun) {
    run.handle.interrupt();
    let outcome = run.handle.wait().await;
    if let Some(r) = run.recorder
        && let Err(e) = r.finish()
    {
        eprintln!("warning: the fork's recording is incomplete: {e}");
    }
    eprintln!(
        "forked session {} · {} · agentctl replay {} plays it",
        run.session,
        format!("{:?}", outcome.status).to_lowercase(),
        run.session
    );
}
