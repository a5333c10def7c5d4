//! The `agentctl` binary: parses the command line and wires the pieces.

mod cli;

use clap::Parser;

fn main() {
    // Before any thread or child exists: non-dumpable, child subreaper, and
    // the thread children are forked from (agent::confine).
    for problem in agentctl::agent::confine::setup_process() {
        eprintln!("warning: {problem}");
    }
    let args = cli::Cli::parse();
    let code = match args.command {
        cli::Commands::Tui(a) => cli::tui::main(a),
        cli::Commands::Run(a) => cli::run::main(a),
        cli::Commands::Validate(a) => cli::validate::run(a),
        cli::Commands::Graph(a) => cli::graph::run(a),
        cli::Commands::Resume(a) => cli::resume::main(a),
        cli::Commands::Fork(a) => cli::fork::main(a),
        cli::Commands::Replay(a) => cli::replay::main(a),
        cli::Commands::Sessions(a) => cli::sessions::main(a),
        cli::Commands::Providers(a) => cli::providers::main(a),
        cli::Commands::Worker(a) => cli::worker::main(a),
    };
    // exit() runs no destructors: end every child tree still running.
    agentctl::agent::process_tree::kill_all();
    std::process::exit(code);
}
