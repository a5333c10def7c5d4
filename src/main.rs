//! The `agentctl` binary: parses the command line and wires the pieces.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    let code = match args.command {
        cli::Commands::Tui(a) => cli::tui::main(a),
        cli::Commands::Run(a) => cli::run::main(a),
        cli::Commands::Validate(a) => cli::validate::run(a),
        cli::Commands::Graph(a) => cli::graph::run(a),
        cli::Commands::Resume(a) => cli::resume::main(a),
        cli::Commands::Replay(a) => cli::replay::main(a),
        cli::Commands::Sessions(a) => cli::sessions::main(a),
        cli::Commands::Providers(a) => cli::providers::main(a),
    };
    std::process::exit(code);
}
