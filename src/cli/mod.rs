//! Command-line interface: argument parsing and the subcommands.

// Every print in `cli` goes through `output`, never std's macros, which
// panic on a closed pipe and pass terminal escapes through. These shadow
// std's `print!`/`println!`/`eprint!`/`eprintln!` in every module below, so
// no subcommand can bypass it. Defined before the `mod`s: macro scope is
// textual.
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::cli::output::write($crate::cli::output::Stream::Out, format_args!($($arg)*), false)
    };
}
macro_rules! println {
    () => {
        $crate::cli::output::write($crate::cli::output::Stream::Out, format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write($crate::cli::output::Stream::Out, format_args!($($arg)*), true)
    };
}
macro_rules! eprint {
    ($($arg:tt)*) => {
        $crate::cli::output::write($crate::cli::output::Stream::Err, format_args!($($arg)*), false)
    };
}
macro_rules! eprintln {
    () => {
        $crate::cli::output::write($crate::cli::output::Stream::Err, format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write($crate::cli::output::Stream::Err, format_args!($($arg)*), true)
    };
}

pub(crate) mod fork;
pub(crate) mod graph;
pub(crate) mod output;
pub(crate) mod providers;
pub(crate) mod replay;
pub(crate) mod resume;
pub(crate) mod run;
pub(crate) mod session;
pub(crate) mod sessions;
pub(crate) mod telemetry;
pub(crate) mod tui;
pub(crate) mod validate;
pub(crate) mod worker;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit codes of the CLI contract.
pub(crate) mod exit {
    pub(crate) const OK: i32 = 0;
    pub(crate) const BAD_INPUT: i32 = 2;
}

#[derive(Parser, Debug)]
#[command(
    name = "agentctl",
    version,
    about = "A multi-agent orchestrator with a terminal cockpit",
    long_about = "agentctl runs workflows of AI agents (pipelines, fan-out, planner → executors → reviewer,\n\
                  state machines, event triggers, human gates) on a deterministic offline simulator or a real model.",
    after_help = "Examples:\n  agentctl tui\n  agentctl run builtin:demo --auto-approve\n  agentctl run --list\n  agentctl validate assets/workflows/*.toml\n  agentctl graph builtin:hierarchical --format mermaid\n\n\
                  Exit codes: 0 success · 1 the workflow ran and failed · 2 bad input · 3 interrupted"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Commands,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Commands {
    /// The cockpit: run a workflow live and steer it (default: the built-in demo).
    #[command(
        after_help = "Examples:\n  agentctl tui\n  agentctl tui builtin:hierarchical --theme light\n  agentctl tui my_flow.toml --paused\n\nPress ? inside for every key."
    )]
    Tui(tui::TuiArgs),
    /// Run a workflow headless: progress on a terminal, plain lines otherwise.
    #[command(
        after_help = "Examples:\n  agentctl run builtin:pipeline\n  agentctl run my_flow.toml --seed 7 --json\n  agentctl run builtin:demo --auto-approve\n  agentctl run --list"
    )]
    Run(run::RunArgs),
    /// Check workflow files; prints every error with file:line:column.
    #[command(
        after_help = "Examples:\n  agentctl validate flow.toml\n  agentctl validate assets/workflows/*.toml builtin:demo"
    )]
    Validate(validate::ValidateArgs),
    /// Print a workflow's graph as Graphviz dot or Mermaid.
    #[command(
        after_help = "Examples:\n  agentctl graph builtin:demo --format dot | dot -Tsvg > demo.svg\n  agentctl graph flow.toml --format mermaid"
    )]
    Graph(graph::GraphArgs),
    // ── sessions, replay, resume subcommands (issue #5) go here ──
    /// Continue an interrupted session without redoing completed work.
    #[command(
        after_help = "Examples:\n  agentctl resume 1763677200-3fa2c\n  agentctl resume 17636 --json --auto-approve\n  agentctl resume ./sessions/demo.jsonl --force"
    )]
    Resume(resume::ResumeArgs),
    /// Fork a session at a point: share its history up to there, run on live with changes.
    #[command(
        after_help = "Examples:\n  agentctl fork 17636 --at gate:ship --set agents.reviewer.system=\"Be strict.\"\n  agentctl fork 17636 --at '#120' --set input=\"Ship a JSON export\" --auto-approve\n  agentctl fork 17636 --at 1:05 --workflow my_flow.toml\n\nPATH is a path into the workflow spec: input, agents.ID.FIELD, nodes.ID.FIELD, workflow.FIELD, budget.FIELD…"
    )]
    Fork(fork::ForkArgs),
    /// Open a recorded session in the cockpit, read-only.
    #[command(
        after_help = "Examples:\n  agentctl replay 1763677200-3fa2c\n  agentctl replay sessions/demo.jsonl --speed 4"
    )]
    Replay(replay::ReplayArgs),
    /// Recorded sessions: list, show, export, rm, prune.
    #[command(
        after_help = "Examples:\n  agentctl sessions list\n  agentctl sessions show 17636\n  agentctl sessions export 17636 --format md > report.md\n  agentctl sessions prune --older-than 30d"
    )]
    Sessions(sessions::SessionsArgs),
    // ── providers subcommand (issue #7) go here ──
    /// Model providers: list them, or check one with a cheap request.
    #[command(
        after_help = "Examples:\n  agentctl providers list\n  agentctl providers check\n  agentctl providers check local --model llama3.2"
    )]
    Providers(providers::ProvidersArgs),
    /// Run agent calls for orchestrators started with --nats (scale-out on NATS JetStream).
    #[command(
        after_help = "Examples:\n  agentctl worker --nats nats://127.0.0.1:4222\n  agentctl worker --nats nats://10.0.0.5:4222 --capability code --concurrency 16\n  agentctl worker --nats nats://127.0.0.1:4222 --agent linter --config worker.toml\n  agentctl worker --nats nats://127.0.0.1:4222 --mcp fs --config worker.toml\n  agentctl worker list --nats nats://127.0.0.1:4222"
    )]
    Worker(worker::WorkerArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GraphFormat {
    Dot,
    Mermaid,
}

/// Loads a workflow argument (path or `builtin:NAME`) whose agents may name
/// the providers of `providers`, or prints its diagnostics and returns the
/// exit code.
pub(crate) fn load_or_report(
    arg: &str,
    providers: &agentctl::workflow::provider_catalog::ProviderCatalog,
) -> Result<agentctl::workflow::load::Loaded, i32> {
    match agentctl::workflow::load::load_source_with(arg, providers) {
        Ok(l) => {
            if !l.warnings.0.is_empty() {
                eprintln!("{}", l.warnings);
            }
            Ok(l)
        }
        Err(d) => {
            eprintln!("{d}");
            if !arg.starts_with("builtin:")
                || agentctl::workflow::builtins::get(&arg["builtin:".len()..]).is_some()
            {
                return Err(exit::BAD_INPUT);
            }
            let names: Vec<&str> = agentctl::workflow::builtins::BUILTINS
                .iter()
                .map(|b| b.name)
                .collect();
            eprintln!("built-in workflows: {}", names.join(", "));
            Err(exit::BAD_INPUT)
        }
    }
}
