//! `agentctl worker`: runs agent calls for orchestrators started with
//! `--nats`; `agentctl worker list` shows the workers' heartbeats. Also
//! the `--nats` flags of `run` and `resume`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::exit;
use agentctl::scale_out::connection::{Nats, NatsSettings};
use agentctl::scale_out::heartbeat;
use agentctl::scale_out::remote_agent::{NatsDispatch, RemoteSettings};
use agentctl::scale_out::work_queue::Delivery;
use agentctl::scale_out::worker::{self, WorkerOptions};

/// `--nats` for `run` and `resume`: agent calls go to workers.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct NatsRunArgs {
    /// Run agent calls on `agentctl worker`s through this NATS server
    /// (JetStream), e.g. nats://127.0.0.1:4222.
    #[arg(long, value_name = "URL")]
    pub(crate) nats: Option<String>,
    /// With --nats: how long a call waits for a worker serving its agent
    /// before it fails (seconds).
    #[arg(long, value_name = "SECS", default_value_t = 30, requires = "nats")]
    pub(crate) worker_wait: u64,
    /// `[nats]` of the config: credentials and TLS.
    #[arg(skip)]
    pub(crate) auth: agentctl::config::NatsConfig,
}

impl NatsRunArgs {
    /// The dispatcher for session `session`, or `None` without `--nats`.
    pub(crate) async fn dispatch(&self, session: &str) -> Result<Option<Arc<NatsDispatch>>, i32> {
        let Some(url) = &self.nats else {
            return Ok(None);
        };
        let settings = NatsSettings {
            url: url.clone(),
            auth: self.auth.clone(),
        };
        let started = async {
            let nats = Nats::connect(&settings, &format!("agentctl run {session}")).await?;
            NatsDispatch::start(
                nats,
                session,
                RemoteSettings {
                    worker_wait: Duration::from_secs(self.worker_wait),
                },
            )
            .await
        };
        match started.await {
            Ok(d) => Ok(Some(Arc::new(d))),
            Err(e) => {
                eprintln!("error: {e}");
                Err(exit::BAD_INPUT)
            }
        }
    }
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct WorkerArgs {
    #[command(subcommand)]
    command: Option<WorkerCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum WorkerCommand {
    /// List the workers that announce themselves on the server.
    List(ListArgs),
}

#[derive(Args, Debug)]
struct ListArgs {
    /// NATS server URL.
    #[arg(long, value_name = "URL")]
    nats: String,
    /// Config file whose [nats] holds the credentials.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// NATS server URL (JetStream enabled), e.g. nats://127.0.0.1:4222.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// Serve agents with this capability (repeatable).
    #[arg(long = "capability", value_name = "C")]
    capabilities: Vec<String>,
    /// Serve this agent by id (repeatable); command agents run only on
    /// workers that name them.
    #[arg(long = "agent", value_name = "ID")]
    agents: Vec<String>,
    /// Calls run at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// Config file with this worker's providers and keys (and the
    /// `[mcp.NAME]` servers --mcp runs).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Run this MCP server of the config's `[mcp.NAME]` for orchestrators'
    /// tool calls (repeatable); it starts with the worker.
    #[arg(long = "mcp", value_name = "NAME")]
    mcp: Vec<String>,
    /// Command agents' working directory: a relative `cwd` (or none) is
    /// taken from here (default: the current directory).
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// Worker id (default: HOST-PID).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// A call not acked within this is redelivered (ms; the worker sends
    /// in-progress acks while a call runs). Applies when the lane's queue
    /// is created.
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..))]
    ack_wait_ms: u64,
    /// Deliveries of one call before it is given up. Applies when the
    /// lane's queue is created.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(i64).range(1..))]
    max_deliver: i64,
}

pub(crate) fn main(args: WorkerArgs) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match args.command {
        Some(WorkerCommand::List(l)) => {
            let loaded = match super::providers::load_config(l.config.as_deref()) {
                Ok(c) => c,
                Err(c) => return c,
            };
            runtime.block_on(list(&l.nats, loaded.config.nats))
        }
        None => runtime.block_on(serve(args.serve)),
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

async fn serve(args: ServeArgs) -> i32 {
    let Some(url) = args.nats else {
        eprintln!(
            "error: agentctl worker needs --nats URL\n  = hint: agentctl worker --nats nats://127.0.0.1:4222 (see agentctl worker --help)"
        );
        return exit::BAD_INPUT;
    };
    let loaded = match super::providers::load_config(args.config.as_deref()) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let mut mcp = Vec::new();
    for name in &args.mcp {
        match loaded.config.mcp_servers.iter().find(|s| &s.name == name) {
            Some(s) => mcp.push(s.clone()),
            None => {
                let known: Vec<&str> = loaded
                    .config
                    .mcp_servers
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                eprintln!(
                    "error: --mcp {name}: the worker's config declares no [mcp.{name}]{}\n  = hint: add [mcp.{name}] (command = [...] or url = \"...\") to the file given with --config",
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (it declares {})", known.join(", "))
                    }
                );
                return exit::BAD_INPUT;
            }
        }
    }
    let workdir = match args.workdir {
        Some(d) if !d.is_dir() => {
            eprintln!(
                "error: --workdir {}: no such directory\n  = hint: give an existing directory for command agents' relative cwd",
                d.display()
            );
            return exit::BAD_INPUT;
        }
        Some(d) => d.canonicalize().unwrap_or(d),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    let host = host();
    let opts = WorkerOptions {
        id: args
            .id
            .unwrap_or_else(|| format!("{host}-{}", std::process::id())),
        host,
        capabilities: args.capabilities,
        agents: args.agents,
        concurrency: args.concurrency,
        delivery: Delivery {
            ack_wait: Duration::from_millis(args.ack_wait_ms),
            max_deliver: args.max_deliver,
        },
        mcp,
        workdir,
    };
    let settings = NatsSettings {
        url,
        auth: loaded.config.nats.clone(),
    };
    let nats = match Nats::connect(&settings, &format!("agentctl worker {}", opts.id)).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    let lanes: Vec<String> = opts.lanes().iter().map(|l| l.describe()).collect();
    eprintln!(
        "worker {} serving {} ({} at once)",
        opts.id,
        lanes.join(", "),
        opts.concurrency
    );
    let stop = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    match worker::run(nats, opts, loaded.config, stop).await {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

async fn list(url: &str, auth: agentctl::config::NatsConfig) -> i32 {
    let settings = NatsSettings {
        url: url.into(),
        auth,
    };
    let result = async {
        let nats = Nats::connect(&settings, "agentctl worker list").await?;
        let store = heartbeat::bucket(&nats.js).await?;
        heartbeat::list(&nats.js, &store).await
    };
    let workers = match result.await {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    if workers.is_empty() {
        println!("no workers");
        return exit::OK;
    }
    let now = heartbeat::now_ms();
    println!(
        "{:<24} {:<16} {:<28} {:>9} {:>7} {:>7} {:<8} LAST SEEN",
        "ID", "HOST", "SERVES", "IN FLIGHT", "DONE", "FAILED", "STATE"
    );
    for w in workers {
        let mut serves: Vec<String> = w.agents.iter().map(|a| format!("agent:{a}")).collect();
        serves.extend(w.capabilities.iter().map(|c| format!("cap:{c}")));
        if w.any {
            serves.push("any".into());
        }
        serves.extend(w.mcp.iter().map(|m| format!("mcp:{}", m.server)));
        let state = if !w.alive {
            "stopped"
        } else if w.is_live(now) {
            "live"
        } else {
            "lost"
        };
        println!(
            "{:<24} {:<16} {:<28} {:>9} {:>7} {:>7} {:<8} {:.1} s ago",
            w.id,
            w.host,
            serves.join(","),
            format!("{}/{}", w.in_flight, w.concurrency),
            w.done,
            w.failures,
            state,
            now.saturating_sub(w.at_ms) as f64 / 1000.0
        );
    }
    exit::OK
}
