//! `agentctl run`: the headless runner.

use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::exit;
use agentctl::engine::{Orchestrator, Restore, RunOptions, RunOutcome, new_session_id};
use agentctl::event::{Command, Event, EventKind, Id, now_micros};
use agentctl::llm::tokens;
use agentctl::run_state::HeadlessProgress;
use agentctl::session::{Header, Recorder, SessionReader};
use agentctl::workflow::builtins::BUILTINS;
use agentctl::workflow::model::Workflow;
use agentctl::workflow::policy::budget::OnExhausted;

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Workflow file (.toml or .json) or builtin:NAME.
    #[arg(value_name = "WORKFLOW", required_unless_present = "list")]
    workflow: Option<String>,
    /// Print one JSON summary object at the end (and nothing else on stdout).
    #[arg(long)]
    json: bool,
    /// Seed for the sim provider's replies, latencies and faults.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Approve every human gate without asking (not `shell` tool calls:
    /// see --auto-approve-shell).
    #[arg(long)]
    auto_approve: bool,
    /// Also run every `shell` tool call without asking. Without it, each
    /// command waits for a yes on the terminal, even with --auto-approve.
    #[arg(long)]
    auto_approve_shell: bool,
    /// Replace the workflow's input (JSON, or plain text).
    #[arg(long, value_name = "INPUT")]
    input: Option<String>,
    /// List the built-in workflows.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    record: super::session::RecordArgs,
    #[command(flatten)]
    providers: super::providers::ProviderArgs,
    #[command(flatten)]
    nats: super::worker::NatsRunArgs,
    #[command(flatten)]
    telemetry: super::telemetry::TelemetryArgs,
    /// Step through debates and votes: each turn or ballot waits for Enter
    /// (`r` finishes the round, `c` leaves step mode). Needs a terminal.
    #[arg(long)]
    step: bool,
}

pub(crate) enum Mode {
    Json,
    Bars,
    Lines,
}

pub(crate) fn main(args: RunArgs) -> i32 {
    if args.list {
        for b in BUILTINS {
            println!("builtin:{:<16} {}", b.name, b.description);
        }
        return exit::OK;
    }
    let Some(arg) = args.workflow.as_deref() else {
        eprintln!(
            "error: a workflow is required: agentctl run FILE | builtin:NAME (see agentctl run --list)"
        );
        return exit::BAD_INPUT;
    };
    let config = match super::providers::load_config(args.providers.config.as_deref()) {
        Ok(c) => c,
        Err(c) => return c,
    };
    let mut loaded = match super::load_or_report(arg, &config.config.provider_catalog()) {
        Ok(l) => l,
        Err(c) => return c,
    };
    if let Some(input) = &args.input {
        loaded.workflow.input =
            serde_json::from_str(input).unwrap_or_else(|_| Value::String(input.clone()));
    }
    let wiring =
        match super::providers::apply(&mut loaded.workflow, arg, &args.providers, &config.config) {
            Ok(p) => p,
            Err(c) => return c,
        };
    let interactive_gates = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !args.auto_approve
        && !interactive_gates
        && let Some(gate) = loaded.workflow.human_gate()
    {
        eprintln!(
            "error: {arg} has a human gate (node `{}`) and there is no terminal to ask on.\n  \
             = hint: pass --auto-approve to approve every gate, or use the cockpit: agentctl tui {arg}",
            gate.id
        );
        return exit::BAD_INPUT;
    }
    if let Err(c) = refuse_unanswerable_budget_pause(&loaded.workflow, interactive_gates, arg) {
        return c;
    }
    if !args.auto_approve_shell
        && !interactive_gates
        && let Some(a) = loaded.workflow.agents.iter().find(|a| a.shell.is_some())
    {
        eprintln!(
            "error: agent `{}` of {arg} may run shell commands, each of which needs a human's approval, and there is no terminal to ask on.\n  \
             = hint: run it in a terminal, use the cockpit (agentctl tui {arg}), or pass --auto-approve-shell to run every command unasked",
            a.id
        );
        return exit::BAD_INPUT;
    }
    if args.step && !interactive_gates {
        eprintln!(
            "error: --step reads Enter from a terminal, and there is none.\n  \
             = hint: run it in a terminal, or step in the cockpit: agentctl tui {arg} (keys n and s)"
        );
        return exit::BAD_INPUT;
    }
    let mode = match Mode::pick(args.json) {
        // Step prompts wait on the terminal: bars would redraw over them.
        Mode::Bars if args.step => Mode::Lines,
        m => m,
    };
    let recording = match args.record.for_new_run() {
        Ok(Some(dir)) => Recording::New {
            dir,
            text: loaded.text.clone(),
            origin: super::session::origin_of(&loaded.origin),
        },
        Ok(None) => Recording::Off,
        Err(c) => return c,
    };
    // The engine drives its whole work tree from one task; a single-threaded
    // runtime spares it a cross-thread wake-up for every event it emits.
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
    let workflow = Arc::new(loaded.workflow);
    let setup = Setup {
        seed: args.seed,
        auto_approve: args.auto_approve,
        auto_approve_shell: args.auto_approve_shell,
        mode,
        recording,
        resume: None,
        wiring,
        step: args.step,
        nats: super::worker::NatsRunArgs {
            auth: config.config.nats.clone(),
            ..args.nats
        },
        telemetry: args.telemetry.settings(&config.config),
    };
    runtime.block_on(drive(workflow, setup))
}

impl Mode {
    pub(crate) fn pick(json: bool) -> Mode {
        if json {
            Mode::Json
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// Whether and where a run is recorded.
pub(crate) enum Recording {
    Off,
    /// A new session file in `dir`.
    New {
        dir: std::path::PathBuf,
        text: String,
        origin: String,
    },
    /// Continue this session file (resume).
    Append(Box<SessionReader>),
}

/// How `drive` runs a workflow (`run` and `resume`).
pub(crate) struct Setup {
    pub(crate) seed: u64,
    pub(crate) auto_approve: bool,
    /// Run `shell` tool calls without asking (`--auto-approve` does not).
    pub(crate) auto_approve_shell: bool,
    pub(crate) mode: Mode,
    pub(crate) recording: Recording,
    pub(crate) resume: Option<Arc<Restore>>,
    /// Configured providers and tools to install.
    pub(crate) wiring: super::providers::Wiring,
    /// Step through debates and votes on the terminal.
    pub(crate) step: bool,
    /// Agent calls on workers over NATS (`--nats`).
    pub(crate) nats: super::worker::NatsRunArgs,
    /// OpenTelemetry export (`--otlp`, `[telemetry]`), if any.
    pub(crate) telemetry: Option<agentctl::telemetry::ExportSettings>,
}

/// A new or continued session file, fed from `orch`'s events.
fn start_recorder(
    orch: &mut Orchestrator,
    wf: &Workflow,
    seed: u64,
    session: &str,
    recording: Recording,
) -> Result<Option<Recorder>, String> {
    match recording {
        Recording::Off => Ok(None),
        Recording::New { dir, text, origin } => {
            let mut header = Header::new(session, wf, &text, &origin, seed, now_micros());
            // Unsigned (no usable key) only means `resume` will ask first.
            let _ = agentctl::session::trust::sign_as_user(&mut header);
            Recorder::create(&dir, &header, orch.subscribe_bounded(agentctl::session::RECORD_QUEUE))
                .map(Some)
                .map_err(|e| {
                    format!(
                        "cannot record the session: {e}\n  = hint: pass --session-dir DIR (or set {}), or --no-record",
                        agentctl::session::DIR_ENV
                    )
                })
        }
        Recording::Append(reader) => Recorder::append(
            &reader,
            orch.subscribe_bounded(agentctl::session::RECORD_QUEUE),
        )
        .map(Some)
        .map_err(|e| format!("cannot continue the session: {e}")),
    }
}

pub(crate) async fn drive(wf: Arc<Workflow>, setup: Setup) -> i32 {
    let Setup {
        seed,
        auto_approve,
        auto_approve_shell,
        mode,
        recording,
        resume,
        wiring,
        step,
        nats,
        telemetry,
    } = setup;
    // The tokenizer's first use costs ~60 ms: pay it before the clock starts,
    // on this thread, which is the engine's: its regex scratch pool then
    // serves the engine from the owner's fast path. Nothing else runs yet.
    tokens::warm_up();
    let session = match &recording {
        Recording::Append(r) => r.header().session.clone(),
        _ => new_session_id(),
    };
    let mut orch = Orchestrator::new(
        wf.clone(),
        RunOptions {
            seed,
            session_id: Some(session.clone()),
            resume,
            step,
            ..Default::default()
        },
    )
    // The file's input or --input; a workflow with neither runs on null.
    .input(wf.input.clone());
    match nats.dispatch(&session).await {
        Ok(Some(d)) => orch = wiring.install_with(orch, Some(&d)).with_dispatch(d),
        Ok(None) => orch = wiring.install(orch),
        Err(c) => return c,
    }
    // Before the session file exists: once it holds anything, a signal ends it
    // cleanly.
    let stop = match StopSignals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot listen for signals: {e}");
            return 1;
        }
    };
    // Before the recorder, so a bad setting fails before a session file exists.
    let telemetry = match super::telemetry::start(telemetry, &wf, &session, || orch.subscribe()) {
        Ok(t) => t,
        Err(c) => return c,
    };
    let recorder = match start_recorder(&mut orch, &wf, seed, &session, recording) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    // `--json` shows no progress; it only needs the stream to answer gates.
    let has_gates = wf.human_gate().is_some()
        || wf.agents.iter().any(|a| a.shell.is_some())
        || may_pause_for_budget(&wf);
    let mut events = if matches!(mode, Mode::Json) && !has_gates && !step {
        None
    } else {
        Some(orch.subscribe())
    };
    let handle = match orch.start() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    let commands = handle.commands();
    let interrupt = handle.interrupt_token();
    tokio::spawn(async move {
        let mut stop = stop;
        let name = stop.next().await;
        // Whatever asked us to stop, the run ends the same way: interrupted,
        // `session_ended` recorded, the summary printed, exit code 3.
        eprintln!("\n{name}: interrupting the run");
        interrupt.cancel();
    });

    let mut view = Progress::new(&mode, &wf);
    let stepper = StepPrompter::new(commands.clone());
    let mut budget = BudgetPrompter::new(commands.clone());
    let mut gates = GatePrompter::new(commands, auto_approve, auto_approve_shell);
    while let Some(ev) = match events.as_mut() {
        Some(rx) => rx.recv().await,
        None => None,
    } {
        view.show(&ev);
        // The bars must be out of the way before a question is printed: they
        // would redraw over it while it waits for an answer.
        if let EventKind::GateOpened {
            gate,
            artifact,
            revision,
            ..
        } = &ev.kind
        {
            let auto = if is_shell_gate(artifact) {
                auto_approve_shell
            } else {
                auto_approve
            };
            view.set_hidden(!auto);
            gates.opened(gate.clone(), artifact, *revision);
        }
        if let EventKind::AwaitingStep {
            node,
            round,
            next,
            what,
        } = &ev.kind
        {
            // Step mode prints plain lines (no bars), so the prompt stays put.
            stepper.ask(node.clone(), *round, next.clone(), what);
        }
        if matches!(ev.kind, EventKind::GateDecided { .. }) {
            gates.decided();
        }
        if matches!(&ev.kind, EventKind::BudgetExhausted { policy, .. } if policy == "pause") {
            // Out of the way before the question is printed, as for gates.
            view.set_hidden(true);
        }
        budget.seen(&ev.kind);
        view.set_hidden(gates.asking || budget.asking);
        if matches!(ev.kind, EventKind::SessionEnded { .. }) {
            break;
        }
    }
    view.finish();
    let outcome = handle.wait().await;
    let file = recorder.map(|r| {
        let path = r.path().display().to_string();
        // The recorder thread syncs the tail; wait for it off the runtime.
        if let Err(e) = r.finish() {
            eprintln!("warning: the session recording is incomplete: {e}");
        }
        path
    });
    report(&mode, &wf, &outcome, file.as_deref());
    super::telemetry::finish(telemetry, !matches!(mode, Mode::Json)).await;
    outcome.status.exit_code()
}

/// SIGINT, SIGTERM and SIGHUP, listened for from the moment `install`
/// returns (not when the task awaiting them first runs), so a signal that
/// comes early still ends the run cleanly instead of killing the process.
struct StopSignals {
    #[cfg(unix)]
    signals: [(tokio::signal::unix::Signal, &'static str); 3],
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                signals: [
                    (signal(SignalKind::interrupt())?, "SIGINT"),
                    (signal(SignalKind::terminate())?, "SIGTERM"),
                    (signal(SignalKind::hangup())?, "SIGHUP"),
                ],
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignals {})
    }

    /// The name of the next signal that arrives.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            let [(a, an), (b, bn), (c, cn)] = &mut self.signals;
            tokio::select! {
                _ = a.recv() => *an,
                _ = b.recv() => *bn,
                _ = c.recv() => *cn,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

fn report(mode: &Mode, wf: &Workflow, o: &RunOutcome, file: Option<&str>) {
    match mode {
        Mode::Json => {
            let mut summary = json!({
                "status": o.status,
                "session": o.session,
                "workflow": wf.name,
                "tasks_completed": o.tasks_completed,
                "tasks_failed": o.tasks_failed,
                "wall_ms": o.wall_ms,
                "tokens": {"prompt": o.usage.prompt_tokens, "completion": o.usage.completion_tokens, "total": o.usage.total()},
                "events": o.events,
                "outputs": o.output,
                "error": o.error,
                "session_file": file,
                "metrics": o.metrics,
            });
            // Tasks added to the run while it ran (the cockpit's `N`, the
            // library's `submit`), as `RunOutcome::submitted` has them.
            if !o.submitted.is_empty() {
                summary["submitted"] = json!(o.submitted);
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).unwrap_or_default()
            );
        }
        Mode::Bars | Mode::Lines => {
            let status = format!("{:?}", o.status).to_lowercase();
            let wall = if o.wall_ms < 1000.0 {
                format!("{:.1} ms", o.wall_ms)
            } else {
                format!("{:.2} s", o.wall_ms / 1000.0)
            };
            eprintln!(
                "{status} in {wall} · {} tasks completed · {} failed · {} tokens",
                o.tasks_completed,
                o.tasks_failed,
                o.usage.total()
            );
            if let Some(e) = &o.error {
                eprintln!("error: {e}");
            }
            if let Some(f) = file {
                eprintln!("session {} recorded in {f}", o.session);
            }
            if let Some(out) = &o.output {
                match out {
                    Value::String(s) => println!("{s}"),
                    v => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
                }
            }
        }
    }
}

/// Progress output: indicatif bars on a terminal, plain lines otherwise.
struct Progress {
    lines: bool,
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    /// The fold behind the counts, and the lines to print.
    run: HeadlessProgress,
    start_ts: Option<u64>,
    hidden: bool,
}

impl Progress {
    fn new(mode: &Mode, wf: &Workflow) -> Self {
        let bars = matches!(mode, Mode::Bars).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(15));
            let tasks = multi.add(ProgressBar::new(0));
            tasks.set_style(
                ProgressStyle::with_template(
                    "{prefix:>10} [{bar:30.cyan/blue}] {pos}/{len} tasks  {elapsed_precise}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("█▉▊▋▌▍▎▏ "),
            );
            tasks.set_prefix(super::output::printable(&wf.name).into_owned());
            let activity = multi.add(ProgressBar::new_spinner());
            activity.enable_steady_tick(Duration::from_millis(120));
            (multi, tasks, activity)
        });
        Progress {
            lines: matches!(mode, Mode::Lines),
            bars,
            run: HeadlessProgress::default(),
            start_ts: None,
            hidden: false,
        }
    }

    fn set_hidden(&mut self, hidden: bool) {
        if let Some((multi, _, _)) = &self.bars
            && hidden != self.hidden
        {
            self.hidden = hidden;
            if hidden {
                let _ = multi.clear();
            }
            multi.set_draw_target(if hidden {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr_with_hz(15)
            });
        }
    }

    fn show(&mut self, ev: &Event) {
        let start = *self.start_ts.get_or_insert(ev.ts);
        let t = (ev.ts.saturating_sub(start)) as f64 / 1e6;
        let line = self.run.apply(ev);
        if let Some((_, tasks, activity)) = &self.bars {
            tasks.set_length(self.run.total());
            tasks.set_position(self.run.done());
            if let Some(l) = &line {
                activity.set_message(super::output::printable(l).into_owned());
            }
        } else if self.lines
            && let Some(l) = line
        {
            eprintln!("{t:>8.3}s  {l}");
        }
    }

    fn finish(&self) {
        if let Some((_, tasks, activity)) = &self.bars {
            activity.finish_and_clear();
            tasks.finish();
        }
    }
}

/// Asks on the terminal (or auto-approves) when a gate opens, one gate at a
/// time. `shell` tool calls are gates too (artifact `kind: "shell"`): they
/// are approved unasked only with `--auto-approve-shell`, their prompt
/// defaults to no, and with no terminal to ask on they are denied.
struct GatePrompter {
    commands: UnboundedSender<Command>,
    auto: bool,
    auto_shell: bool,
    queue: VecDeque<(Id, Value, u32)>,
    asking: bool,
}

/// Whether a gate asks to run a shell command (see `tools::shell`) or to
/// call an MCP tool whose server says `approve` (`mcp::tool_adapter`).
fn is_shell_gate(artifact: &Value) -> bool {
    matches!(
        artifact.get("kind").and_then(Value::as_str),
        Some("shell" | "mcp")
    )
}

impl GatePrompter {
    fn new(commands: UnboundedSender<Command>, auto: bool, auto_shell: bool) -> Self {
        GatePrompter {
            commands,
            auto,
            auto_shell,
            queue: VecDeque::new(),
            asking: false,
        }
    }

    fn opened(&mut self, gate: Id, artifact: &Value, revision: u32) {
        let shell = is_shell_gate(artifact);
        if (shell && self.auto_shell) || (!shell && self.auto) {
            let _ = self.commands.send(Command::GateDecision {
                gate,
                approve: true,
                comment: None,
            });
            return;
        }
        if !shell && !std::io::stdin().is_terminal() {
            // Headless runs refuse to start when a node may open a gate, so
            // this is a gate the check did not foresee: nobody can answer,
            // and nobody may be assumed to say yes. End the run.
            eprintln!(
                "error: gate {gate} is waiting for a human and there is no terminal to ask on; the run is cancelled\n  \
                 = hint: pass --auto-approve to approve every gate, or use the cockpit (agentctl tui)"
            );
            let _ = self.commands.send(Command::Cancel { task: None });
            return;
        }
        if shell && !std::io::stdin().is_terminal() {
            let _ = self.commands.send(Command::GateDecision {
                gate,
                approve: false,
                comment: Some(
                    "no terminal to ask a human on (pass --auto-approve-shell to allow commands)"
                        .into(),
                ),
            });
            return;
        }
        self.queue.push_back((gate, artifact.clone(), revision));
        self.next();
    }

    fn decided(&mut self) {
        self.asking = false;
        self.next();
    }

    fn next(&mut self) {
        if self.asking {
            return;
        }
        let Some((gate, artifact, revision)) = self.queue.pop_front() else {
            return;
        };
        self.asking = true;
        let shell = is_shell_gate(&artifact);
        if shell {
            let field = |k: &str| artifact.get(k).and_then(Value::as_str).unwrap_or("?");
            let env = artifact
                .get("env")
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            eprintln!(
                "\n── gate {gate}: agent `{}` wants to run a shell command ──",
                field("agent")
            );
            eprintln!("│ $ {}", field("command"));
            eprintln!("│ in {}", field("cwd"));
            eprintln!(
                "│ env: {} · timeout {} ms",
                if env.is_empty() { "(none)" } else { &env },
                artifact
                    .get("timeout_ms")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            );
            eprint!("run it? [y]es / [N]o with a comment: ");
        } else {
            let text = match &artifact {
                Value::String(s) => s.clone(),
                v => serde_json::to_string_pretty(v).unwrap_or_default(),
            };
            eprintln!("\n── gate {gate} (revision {revision}) is waiting for you ──");
            for l in text.lines().take(30) {
                eprintln!("│ {l}");
            }
            if text.lines().count() > 30 {
                eprintln!("│ … ({} more lines)", text.lines().count() - 30);
            }
            eprint!("approve? [Y]es / [n]o with a comment: ");
        }
        let commands = self.commands.clone();
        // Reading stdin blocks: do it on a thread of its own, which the
        // runtime does not wait for when an interrupted run ends mid-question.
        std::thread::spawn(move || {
            let mut line = String::new();
            let stdin = std::io::stdin();
            let eof = matches!(stdin.lock().read_line(&mut line), Ok(0) | Err(_));
            if eof && !shell {
                // Silence is not consent, and denying would only send the
                // work round again to the same closed input.
                eprintln!("\nno answer (end of input): the run is cancelled");
                let _ = commands.send(Command::Cancel { task: None });
                return;
            }
            let answer = line.trim();
            let yes = answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes");
            // A command runs only on an explicit yes; other gates approve on
            // Enter too.
            let approve = !eof && (yes || (!shell && answer.is_empty()));
            let comment = if approve {
                None
            } else if eof {
                Some("no answer (end of input)".to_string())
            } else {
                let inline = answer
                    .split_once(char::is_whitespace)
                    .map(|(_, c)| c.trim().to_string());
                match inline.filter(|c| !c.is_empty()) {
                    Some(c) => Some(c),
                    None => {
                        eprint!(
                            "{}",
                            if shell {
                                "why not (sent to the agent): "
                            } else {
                                "comment for the revision: "
                            }
                        );
                        let mut c = String::new();
                        let _ = stdin.lock().read_line(&mut c);
                        Some(c.trim().to_string()).filter(|c| !c.is_empty())
                    }
                }
            };
            let _ = commands.send(Command::GateDecision {
                gate,
                approve,
                comment,
            });
        });
    }
}

/// Whether a run of `wf` may pause when a budget runs out: it says
/// `on_exhausted = "pause"` and some budget has a limit.
fn may_pause_for_budget(wf: &Workflow) -> bool {
    matches!(wf.policy.on_exhausted, OnExhausted::Pause)
        && (wf.policy.budget.is_set()
            || wf.agents.iter().any(|a| a.policy.budget.is_set())
            || wf.nodes.iter().any(|n| n.policy.budget.is_set()))
}

/// Refuses to start a headless run (or resume) that may pause for budget
/// when there is no terminal to ask for a new limit on: it would wait for a
/// `set_budget` nobody can send, forever. Prints why; `Err` is the exit code.
pub(crate) fn refuse_unanswerable_budget_pause(
    wf: &Workflow,
    interactive: bool,
    arg: &str,
) -> Result<(), i32> {
    if interactive || !may_pause_for_budget(wf) {
        return Ok(());
    }
    eprintln!(
        "error: {arg} pauses when a budget runs out ([budget] on_exhausted = \"pause\") and there is no terminal to ask for a new limit on.\n  \
         = hint: run it in a terminal, use the cockpit (agentctl tui {arg}, key B), or set on_exhausted = \"fail\" or \"degrade\""
    );
    Err(exit::BAD_INPUT)
}

/// Asks on the terminal for a new limit when the run pauses because a
/// budget ran out (`on_exhausted = "pause"`), as the cockpit's `B` does:
/// a token count, a money limit, or both; `c` or end of input cancels.
/// One question at a time: the tasks refused together wait for one answer.
struct BudgetPrompter {
    commands: UnboundedSender<Command>,
    asking: bool,
    /// The latest usage and limits of each scope (`budget_updated`).
    scopes: std::collections::HashMap<String, (u64, Option<u64>, f64, Option<f64>)>,
}

/// Wrong answers accepted before the question gives up and cancels.
const BUDGET_ATTEMPTS: usize = 5;

impl BudgetPrompter {
    fn new(commands: UnboundedSender<Command>) -> Self {
        BudgetPrompter {
            commands,
            asking: false,
            scopes: Default::default(),
        }
    }

    fn seen(&mut self, kind: &EventKind) {
        match kind {
            EventKind::BudgetUpdated {
                scope,
                used_tokens,
                used_usd,
                limit_tokens,
                limit_usd,
            } => {
                self.scopes.insert(
                    scope.clone(),
                    (*used_tokens, *limit_tokens, *used_usd, *limit_usd),
                );
            }
            EventKind::BudgetExhausted {
                scope,
                task,
                needed_tokens,
                remaining_tokens,
                policy,
                ..
            } if policy == "pause" => {
                self.exhausted(scope, task, *needed_tokens, *remaining_tokens)
            }
            // The new limit was applied (or someone resumed): a later
            // exhaustion is a new question.
            EventKind::RunResumed => self.asking = false,
            _ => {}
        }
    }

    fn exhausted(&mut self, scope: &str, task: &Id, needed: u64, remaining: Option<u64>) {
        if self.asking {
            return;
        }
        if !std::io::stdin().is_terminal() {
            // Headless runs that may pause refuse to start; nobody can
            // answer this one, so do not wait forever.
            eprintln!(
                "error: budget {scope} ran out and there is no terminal to ask for a new limit on; the run is cancelled"
            );
            let _ = self.commands.send(Command::Cancel { task: None });
            return;
        }
        self.asking = true;
        let usage = match self.scopes.get(scope) {
            Some((used, lt, used_usd, lu)) => {
                let mut parts = Vec::new();
                if let Some(l) = lt {
                    parts.push(format!("{used} of {l} tokens"));
                }
                if let Some(l) = lu {
                    parts.push(format!("${used_usd:.2} of ${l:.2}"));
                }
                format!(" · used {}", parts.join(", "))
            }
            None => String::new(),
        };
        eprintln!(
            "\n── budget {scope} ran out: task {task} needs {needed} tokens, {} left{usage}; the run is paused ──",
            remaining.map_or_else(|| "none".to_string(), |r| r.to_string())
        );
        let agent = scope.strip_prefix("agent:").map(Id::from);
        let node = scope.strip_prefix("node:").map(Id::from);
        let commands = self.commands.clone();
        let scope = scope.to_string();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            for _ in 0..BUDGET_ATTEMPTS {
                eprint!(
                    "new limit for {scope} (tokens like 20000 or 20k, and/or money like $2.50; c cancels the run): "
                );
                let mut line = String::new();
                if matches!(stdin.lock().read_line(&mut line), Ok(0) | Err(_)) {
                    break;
                }
                match parse_new_limit(&line) {
                    Ok(None) => break,
                    Ok(Some(NewLimit { tokens, usd })) => {
                        let _ = commands.send(Command::SetBudget {
                            agent,
                            node,
                            tokens,
                            usd,
                        });
                        return;
                    }
                    Err(why) => eprintln!("{why}"),
                }
            }
            eprintln!("\nno new limit: the run is cancelled");
            let _ = commands.send(Command::Cancel { task: None });
        });
    }
}

/// A raised budget limit: tokens, money, or both.
#[derive(Debug, PartialEq)]
struct NewLimit {
    tokens: Option<u64>,
    usd: Option<f64>,
}

/// An answer to the budget question: `Ok(None)` cancels, else the new
/// token and/or money limit (`20000`, `20k`, `1.5M`, `$2.50`, `20k $2`).
fn parse_new_limit(answer: &str) -> Result<Option<NewLimit>, String> {
    let answer = answer.trim();
    if answer.eq_ignore_ascii_case("c") || answer.eq_ignore_ascii_case("cancel") {
        return Ok(None);
    }
    let (mut tokens, mut usd) = (None, None);
    for word in answer.split_whitespace() {
        if let Some(money) = word.strip_prefix('$') {
            match money.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => usd = Some(v),
                _ => {
                    return Err(format!(
                        "`{word}` is not an amount above 0: write e.g. $2.50"
                    ));
                }
            }
            continue;
        }
        let lower = word.to_ascii_lowercase().replace('_', "");
        let (num, scale) = match lower.as_bytes().last() {
            Some(b'k') => (&lower[..lower.len() - 1], 1e3),
            Some(b'm') => (&lower[..lower.len() - 1], 1e6),
            _ => (lower.as_str(), 1.0),
        };
        match num.parse::<f64>().map(|n| (n * scale).round()) {
            Ok(t) if t >= 1.0 && t < u64::MAX as f64 => tokens = Some(t as u64),
            _ => {
                return Err(format!(
                    "`{word}` is not a token count above 0: write e.g. 20000 or 20k (or $2.50, or c to cancel)"
                ));
            }
        }
    }
    if tokens.is_none() && usd.is_none() {
        return Err("write a new limit (e.g. 20000, 20k or $2.50), or c to cancel the run".into());
    }
    Ok(Some(NewLimit { tokens, usd }))
}

/// Asks on the terminal before each debate turn or ballot (`run --step`):
/// Enter steps one turn, `r` finishes the round, `c` leaves step mode.
struct StepPrompter {
    commands: UnboundedSender<Command>,
    /// One prompt at a time: prompts read the same stdin.
    reading: Arc<std::sync::Mutex<()>>,
}

impl StepPrompter {
    fn new(commands: UnboundedSender<Command>) -> Self {
        StepPrompter {
            commands,
            reading: Arc::new(std::sync::Mutex::new(())),
        }
    }

    fn ask(&self, node: Id, round: u32, next: Option<Id>, what: &str) {
        let commands = self.commands.clone();
        let reading = self.reading.clone();
        let who = next.map(|n| format!(" by {n}")).unwrap_or_default();
        // Printed here, while the progress bars are suspended, on a line of
        // its own so their next redraw does not overwrite it.
        eprintln!(
            "── {node} round {round}: next {what}{who} — [Enter] step · r + Enter finish the round · c + Enter stop stepping"
        );
        std::thread::spawn(move || {
            let _one = reading.lock().unwrap_or_else(|p| p.into_inner());
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            let command = match line.trim() {
                "c" | "C" => Command::SetStepMode { on: false },
                "r" | "R" => Command::Step {
                    node: Some(node),
                    until: agentctl::event::StepUntil::Round,
                },
                _ => Command::Step {
                    node: Some(node),
                    until: agentctl::event::StepUntil::Turn,
                },
            };
            let _ = commands.send(command);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_answers_parse() {
        let limit = |tokens, usd| Ok(Some(NewLimit { tokens, usd }));
        assert_eq!(parse_new_limit("20000\n"), limit(Some(20_000), None));
        assert_eq!(parse_new_limit("20k"), limit(Some(20_000), None));
        assert_eq!(parse_new_limit("1.5M"), limit(Some(1_500_000), None));
        assert_eq!(parse_new_limit("$2.50"), limit(None, Some(2.5)));
        assert_eq!(parse_new_limit(" 20k $2 "), limit(Some(20_000), Some(2.0)));
        assert_eq!(parse_new_limit("c"), Ok(None));
        assert_eq!(parse_new_limit("Cancel"), Ok(None));
        for bad in ["", "lots", "0", "-5", "$0", "$x", "1e30", "inf"] {
            assert!(parse_new_limit(bad).is_err(), "{bad}");
        }
    }
}
