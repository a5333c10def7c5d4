//! Provider selection shared by `run` and `tui` (`--config`, `--provider`,
//! `--base-url`, `--model`), and `agentctl providers check`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Subcommand};

use super::exit;
use agentctl::config::{Config, LoadedConfig};
use agentctl::engine::Orchestrator;
use agentctl::event::Id;
use agentctl::llm::openai::OpenAiProvider;
use agentctl::llm::{self, Message, Provider, ProviderRequest, RequestHints};
use agentctl::secret::redact;
use agentctl::tools::{ToolBox, ToolSettings};
use agentctl::workflow::model::{AgentKind, Workflow};

/// What a run needs besides the workflow: providers other than `sim`, by
/// name, and the tool registry.
pub(crate) struct Wiring {
    providers: Vec<(String, Arc<dyn Provider>)>,
    tools: ToolBox,
    /// The run's MCP servers (started here, or on workers under --nats).
    mcp: Option<agentctl::mcp::McpTools>,
}

impl Wiring {
    /// Registers everything on the orchestrator.
    pub(crate) fn install(self, orch: Orchestrator) -> Orchestrator {
        self.install_with(orch, None)
    }

    /// Registers everything on the orchestrator; with `remote`, the MCP
    /// servers' calls run on the workers that run them.
    pub(crate) fn install_with(
        self,
        mut orch: Orchestrator,
        remote: Option<&agentctl::scale_out::remote_agent::NatsDispatch>,
    ) -> Orchestrator {
        for (name, p) in self.providers {
            orch = orch.with_provider(&name, p);
        }
        let mut tools = self.tools;
        match (self.mcp, remote) {
            (Some(m), Some(d)) => tools.add_source(d.mcp_tools(m.servers().to_vec())),
            (Some(m), None) => tools.add_source(Arc::new(m)),
            (None, _) => {}
        }
        orch.with_tools(Arc::new(tools))
    }
}

/// Flags choosing where agents' calls go.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ProviderArgs {
    /// Config file (default: config.toml in the platform config directory).
    #[arg(long, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Point every agent at this provider (sim, openai, or a configured name).
    #[arg(long, value_name = "NAME")]
    pub(crate) provider: Option<String>,
    /// Base URL of the provider's API, including /v1 (implies --provider openai if none is given).
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// Model every agent uses.
    #[arg(long, value_name = "NAME")]
    pub(crate) model: Option<String>,
    /// Calls in flight at once to the --base-url (or --provider) endpoint
    /// (default: adapts to what the server takes).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_in_flight: Option<u32>,
}

/// Reads the config and prints its warnings; its `provider_catalog()` is
/// what workflows are then validated against.
pub(crate) fn load_config(path: Option<&std::path::Path>) -> Result<LoadedConfig, i32> {
    match Config::load(path) {
        Ok(l) => {
            for w in &l.warnings {
                eprintln!("{w}");
            }
            Ok(l)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(exit::BAD_INPUT)
        }
    }
}

/// Applies the override flags to the workflow and builds the providers its
/// agents use (other than `sim`, which the orchestrator has) and the tools
/// (`read_file` confined to the directory of `workflow_arg` when it is a file).
pub(crate) fn apply(
    wf: &mut Workflow,
    workflow_arg: &str,
    args: &ProviderArgs,
    config: &Config,
) -> Result<Wiring, i32> {
    let forced = args
        .provider
        .clone()
        .or_else(|| args.base_url.as_ref().map(|_| "openai".to_string()));
    if args.max_in_flight.is_some() && forced.is_none() {
        eprintln!(
            "error: --max-in-flight limits the endpoint of --base-url or --provider, and neither is given\n  = hint: add --base-url URL, or set max_in_flight in [providers.NAME] of the config or [quotas.NAME] of the workflow"
        );
        return Err(exit::BAD_INPUT);
    }
    let catalog = config.provider_catalog();
    if let Some(p) = &forced {
        let Some(default_model) = catalog.default_model(p) else {
            eprintln!(
                "error: --provider {p}: unknown provider\n  = hint: known providers: {} (others can be configured in config.toml)",
                catalog.names().join(", ")
            );
            return Err(exit::BAD_INPUT);
        };
        let model = args
            .model
            .clone()
            .unwrap_or_else(|| default_model.to_string());
        // Code agents (command programs, registered Rust agents) have no
        // provider or model to override.
        for a in wf.agents.iter_mut().filter(|a| a.kind == AgentKind::Llm) {
            a.provider = p.clone();
            a.model = Id::from(model.as_str());
        }
    } else if let Some(m) = &args.model {
        for a in wf.agents.iter_mut().filter(|a| a.kind == AgentKind::Llm) {
            a.model = Id::from(m.as_str());
        }
    }
    let mut names: Vec<&str> = wf
        .agents
        .iter()
        .filter(|a| a.kind == AgentKind::Llm)
        .map(|a| a.provider.as_str())
        .filter(|p| *p != "sim")
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let is_forced = forced.as_deref() == Some(name);
        let url = if is_forced {
            args.base_url.as_deref()
        } else {
            None
        };
        let in_flight = if is_forced { args.max_in_flight } else { None };
        match config.build_provider(name, url, in_flight) {
            Ok(Some(p)) => out.push((name.to_string(), p)),
            Ok(None) => {
                eprintln!(
                    "error: provider `{name}` is not configured\n  = hint: add [providers.{name}] to the config file"
                );
                return Err(exit::BAD_INPUT);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Err(exit::BAD_INPUT);
            }
        }
    }
    let root = (!workflow_arg.starts_with("builtin:"))
        .then(|| {
            std::path::Path::new(workflow_arg)
                .parent()
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        std::path::Path::new(".")
                    } else {
                        p
                    }
                })
                .map(std::path::Path::to_path_buf)
        })
        .flatten();
    let mut tools = ToolBox::builtin(ToolSettings {
        root,
        http_allow: config.tools.http_allow.clone(),
    });
    if let Some(n) = config.tools.max_turns {
        tools.max_turns = n.max(1);
    }
    Ok(Wiring {
        providers: out,
        tools,
        mcp: agentctl::mcp::McpTools::for_run(wf, &config.mcp_servers),
    })
}

#[derive(Args, Debug)]
pub(crate) struct ProvidersArgs {
    #[command(subcommand)]
    command: ProvidersCommand,
    /// Config file (default: config.toml in the platform config directory).
    #[arg(long, value_name = "PATH", global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum ProvidersCommand {
    /// List the providers agents can use.
    List,
    /// Make one cheap request to a provider (list models, then a 1-token
    /// completion) and report what works.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Provider to check (default: every configured provider, or openai).
    #[arg(value_name = "NAME")]
    name: Option<String>,
    /// Base URL to check instead of the configured one.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Model for the test completion (default: the provider's model).
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
}

pub(crate) fn main(args: ProvidersArgs) -> i32 {
    let loaded = match load_config(args.config.as_deref()) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let config = loaded.config;
    match args.command {
        ProvidersCommand::List => {
            println!("sim        built-in offline simulator (model sim-1)");
            let mut names: Vec<String> = config.providers.keys().cloned().collect();
            if !names.iter().any(|n| n == "openai") {
                names.insert(0, "openai".into());
            }
            for n in names {
                match config.provider_settings(&n, None) {
                    Ok(Some(s)) => println!(
                        "{n:<10} {} (model {}, key {})",
                        agentctl::secret::redact_url(&s.base_url),
                        config.provider_model(&n),
                        if s.api_key.is_empty() { "none" } else { "set" }
                    ),
                    Ok(None) => {}
                    Err(e) => println!("{n:<10} error: {e}"),
                }
            }
            exit::OK
        }
        ProvidersCommand::Check(c) => {
            let names: Vec<String> = match &c.name {
                Some(n) => vec![n.clone()],
                None if config.providers.is_empty() => vec!["openai".into()],
                None => config.providers.keys().cloned().collect(),
            };
            if let Some(n) = &c.name
                && n != "openai"
                && !config.providers.contains_key(n)
            {
                eprintln!(
                    "error: unknown provider `{n}`\n  = hint: configured providers: {}",
                    if config.providers.is_empty() {
                        "none (openai is always available)".to_string()
                    } else {
                        config
                            .providers
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                );
                return exit::BAD_INPUT;
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
            let mut ok = true;
            for n in names {
                let model = c.model.clone().unwrap_or_else(|| config.provider_model(&n));
                ok &= runtime.block_on(check_one(&config, &n, c.base_url.as_deref(), &model));
            }
            if ok { exit::OK } else { 1 }
        }
    }
}

/// Checks one provider; prints a line per step. True when it works.
async fn check_one(config: &Config, name: &str, base_url: Option<&str>, model: &str) -> bool {
    let settings = match config.provider_settings(name, base_url) {
        Ok(Some(s)) => s,
        Ok(None) => {
            println!("{name}: not configured");
            return false;
        }
        Err(e) => {
            println!("{name}: ✗ {e}");
            return false;
        }
    };
    let key_state = if settings.api_key.is_empty() {
        "no key"
    } else {
        "key set"
    };
    let provider = match OpenAiProvider::new(settings) {
        Ok(p) => p,
        Err(e) => {
            println!("{name}: ✗ {}", redact(&e.0));
            return false;
        }
    };
    println!("{name}: {} ({key_state})", provider.base_url());
    let started = Instant::now();
    let mut model_listed = None;
    match provider.list_models().await {
        Ok(models) => {
            let listed = models.iter().any(|m| m == model);
            model_listed = Some(listed);
            println!(
                "  ✓ list models: {} model{} in {} ms{}",
                models.len(),
                if models.len() == 1 { "" } else { "s" },
                started.elapsed().as_millis(),
                if listed {
                    format!(" (includes {model})")
                } else {
                    format!(" (`{model}` is not among them)")
                }
            );
        }
        Err(e) => {
            // Some servers do not list models; the completion decides.
            println!("  ✗ list models: {}", indent(&e.message));
        }
    }
    let started = Instant::now();
    let req = ProviderRequest {
        agent: Id::from("providers-check"),
        role: Id::from("check"),
        model: Id::from(model),
        task: Id::from("check"),
        attempt: 1,
        visit: 0,
        messages: vec![Message::user("Reply with the single word: ok")],
        max_tokens: Some(1),
        temperature: Some(0.0),
        hints: RequestHints::default(),
        input: serde_json::Value::Null,
    };
    match llm::complete(&provider, req).await {
        Ok(c) => {
            println!(
                "  ✓ completion with {model}: {} prompt + {} completion tokens{} in {} ms",
                c.usage.prompt_tokens,
                c.usage.completion_tokens,
                if c.usage.estimated {
                    " (estimated)"
                } else {
                    ""
                },
                started.elapsed().as_millis()
            );
            true
        }
        Err(e) => {
            println!("  ✗ completion with {model}: {}", indent(&e.message));
            if model_listed == Some(false) {
                println!(
                    "    = hint: `{model}` is not in the server's model list; pass --model NAME or set `model` in [providers.{name}]"
                );
            }
            false
        }
    }
}

fn indent(s: &str) -> String {
    s.replace('\n', "\n    ")
}
