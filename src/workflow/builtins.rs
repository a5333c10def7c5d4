//! Built-in example workflows, embedded in the binary (`builtin:NAME`).

/// A built-in workflow: name, one-line description, TOML text.
pub struct Builtin {
    /// Name used after `builtin:`.
    pub name: &'static str,
    /// One line for `run --list`.
    pub description: &'static str,
    /// The workflow file.
    pub text: &'static str,
}

/// Every built-in workflow.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "demo",
        description: "debate → vote → planner → parallel executors → reviewer → per-item checks → human gate",
        text: include_str!("../../assets/workflows/demo.toml"),
    },
    Builtin {
        name: "pipeline",
        description: "research → outline → draft, each step feeding the next",
        text: include_str!("../../assets/workflows/pipeline.toml"),
    },
    Builtin {
        name: "parallel",
        description: "three analysts in parallel, a 2-of-3 join, then an editor",
        text: include_str!("../../assets/workflows/parallel.toml"),
    },
    Builtin {
        name: "all_settled",
        description: "three checkers at once; keep every review that succeeds, then merge them",
        text: include_str!("../../assets/workflows/all_settled.toml"),
    },
    Builtin {
        name: "on_error",
        description: "research → draft → publish; when publishing fails, a handler saves the draft",
        text: include_str!("../../assets/workflows/on_error.toml"),
    },
    Builtin {
        name: "validate",
        description: "a checker rejects a reply; the next writer with the capability answers, told why",
        text: include_str!("../../assets/workflows/validate.toml"),
    },
    Builtin {
        name: "swarm",
        description: "4 scouts work a shared pool with leases and no coordinator; one is down and its items move on",
        text: include_str!("../../assets/workflows/swarm.toml"),
    },
    Builtin {
        name: "chat",
        description: "a product manager, an engineer and a designer talk in turn or when addressed, until one says DONE",
        text: include_str!("../../assets/workflows/chat.toml"),
    },
    Builtin {
        name: "scatter_gather",
        description: "summarise 8 documents with a pool of 2 agents, then combine",
        text: include_str!("../../assets/workflows/scatter_gather.toml"),
    },
    Builtin {
        name: "hierarchical",
        description: "planner → executors by capability → reviewer, with one revision",
        text: include_str!("../../assets/workflows/hierarchical.toml"),
    },
    Builtin {
        name: "dependent_plan",
        description: "a planned DAG: two research steps → summarize → format, with estimates checked against the budget",
        text: include_str!("../../assets/workflows/dependent_plan.toml"),
    },
    Builtin {
        name: "router",
        description: "classify a support ticket and route it to the right team",
        text: include_str!("../../assets/workflows/router.toml"),
    },
    Builtin {
        name: "state_machine",
        description: "research ↔ analyse until confident, then write",
        text: include_str!("../../assets/workflows/state_machine.toml"),
    },
    Builtin {
        name: "event_driven",
        description: "a monitor emits an alert on the bus; a subscribed responder reacts",
        text: include_str!("../../assets/workflows/event_driven.toml"),
    },
    Builtin {
        name: "research_report",
        description: "research → analysis → writing, the classic three-agent report",
        text: include_str!("../../assets/workflows/research_report.toml"),
    },
    Builtin {
        name: "chaos",
        description: "30% of executor calls fail; retries, a circuit breaker and a fallback see it through",
        text: include_str!("../../assets/workflows/chaos.toml"),
    },
    Builtin {
        name: "debate",
        description: "4 debaters, 3 rounds of argument and critique, a judge decides",
        text: include_str!("../../assets/workflows/debate.toml"),
    },
    Builtin {
        name: "consensus",
        description: "7 voters, one Byzantine, BFT agreement with f = 2",
        text: include_str!("../../assets/workflows/consensus.toml"),
    },
];

/// Looks a built-in up by name.
pub fn get(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}
