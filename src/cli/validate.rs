use clap::Args;

use super::exit;

#[derive(Args, Debug)]
pub(crate) struct ValidateArgs {
    /// Workflow files (.toml or .json) or builtin:NAME.
    #[arg(required = true, value_name = "WORKFLOW")]
    files: Vec<String>,
}

pub(crate) fn run(args: ValidateArgs) -> i32 {
    let mut code = exit::OK;
    for f in &args.files {
        match super::load_or_report(f) {
            Ok(l) => {
                let w = &l.workflow;
                println!(
                    "ok: {f} ({} agents, {} nodes)",
                    w.agents.len(),
                    w.nodes.len()
                );
            }
            Err(c) => code = c,
        }
    }
    code
}
