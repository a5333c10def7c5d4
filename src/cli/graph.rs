use clap::Args;

use super::{GraphFormat, exit};
use agentctl::workflow::graph_export;

#[derive(Args, Debug)]
pub(crate) struct GraphArgs {
    /// Workflow file or builtin:NAME.
    #[arg(value_name = "WORKFLOW")]
    workflow: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    format: GraphFormat,
}

pub(crate) fn run(args: GraphArgs) -> i32 {
    // `graph` reads no config: only the built-in providers are known.
    let catalog = agentctl::workflow::provider_catalog::ProviderCatalog::builtin();
    let loaded = match super::load_or_report(&args.workflow, &catalog) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let out = match args.format {
        GraphFormat::Dot => graph_export::to_dot(&loaded.workflow),
        GraphFormat::Mermaid => graph_export::to_mermaid(&loaded.workflow),
    };
    print!("{out}");
    exit::OK
}
