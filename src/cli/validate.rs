use clap::Args;

use super::exit;

#[derive(Args, Debug)]
pub(crate) struct ValidateArgs {
    /// Workflow files (.toml or .json) or builtin:NAME.
    #[arg(required = true, value_name = "WORKFLOW")]
    files: Vec<String>,
    /// Config file whose provider names are accepted (default: config.toml
    /// in the platform config directory).
    #[arg(long, value_name = "PATH")]
    config: Option<std::path::PathBuf>,
}

pub(crate) fn run(args: ValidateArgs) -> i32 {
    let catalog = match super::providers::load_config(args.config.as_deref()) {
        Ok(c) => c.config.provider_catalog(),
        Err(c) => return c,
    };
    let mut code = exit::OK;
    for f in &args.files {
        match super::load_or_report(f, &catalog) {
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
