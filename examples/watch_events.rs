//! Consume the event stream of a run and steer it with commands: pause the
//! run as soon as the first task is assigned, resume it, and approve the
//! demo's human gate. `cargo run --example watch_events`

use agentctl::engine::{Orchestrator, RunOptions};
use agentctl::event::{Command, EventKind};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut orch = Orchestrator::from_file("builtin:demo", RunOptions::default())
        .unwrap_or_else(|d| panic!("{d}"));
    let mut events = orch.subscribe();
    let run = orch.start().unwrap_or_else(|e| panic!("{e}"));
    let mut paused = false;
    let mut gates = 0;
    while let Some(ev) = events.recv().await {
        match &ev.kind {
            EventKind::TaskAssigned { task, agent, .. } => {
                println!("#{:<4} {task} → {agent}", ev.seq);
                if !paused {
                    paused = true;
                    run.send(Command::Pause { task: None });
                }
            }
            EventKind::RunPaused => {
                println!("#{:<4} paused; resuming", ev.seq);
                run.send(Command::Resume { task: None });
            }
            EventKind::GateOpened { gate, .. } => {
                gates += 1;
                println!("#{:<4} gate {gate} opened; approving", ev.seq);
                run.send(Command::GateDecision {
                    gate: gate.clone(),
                    approve: true,
                    comment: None,
                });
            }
            EventKind::SessionEnded { status, .. } => {
                println!("#{:<4} ended: {status:?}", ev.seq);
                break;
            }
            _ => {}
        }
    }
    let outcome = run.wait().await;
    assert_eq!(gates, 1);
    assert_eq!(outcome.status, agentctl::event::RunStatus::Succeeded);
}
