//! `loop`: a state machine. After each state runs, its transitions are
//! checked in order (guards see `output`, `input`, `outputs`, `iteration`,
//! `state`); the first that holds is taken, `$end` (or none) ends the loop.
//! `max_iterations` bounds the number of state visits.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::exec::{NodeResult, exec_node};
use crate::engine::run::{Run, Scope, TaskError, Vars};
use crate::event::{EventKind, Id};
use crate::workflow::index::NodeIdx;
use crate::workflow::kinds::loop_node::LoopNode;

pub(crate) async fn run(
    run: &Arc<Run>,
    node: NodeIdx,
    kind: &LoopNode,
    input: Value,
    scope: &Scope,
) -> NodeResult {
    let n = &run.wf.nodes[node];
    let LoopNode {
        states,
        start,
        transitions,
        max_iterations,
        end_at_max,
    } = kind;
    let mut current = *start;
    let mut value = input.clone();
    let mut visits = vec![0u32; states.len()];
    let mut iteration = 0u32;
    // This activation owns the ids under `<name>#`: each finished
    // iteration's are forgotten, so the engine's state does not grow with
    // the iterations. A loop reached twice at the same path names its
    // second activation `<id>~2`.
    let mut name = n.id.to_string();
    let mut k = 2;
    while !run.claim_ids(&format!("{}{name}#", scope.prefix)) {
        name = format!("{}~{k}", n.id);
        k += 1;
    }
    loop {
        iteration += 1;
        let state_node = states[current];
        let mut s = scope.nested(format_args!("{name}#{iteration}"));
        s.iteration = Some(iteration);
        s.visit = visits[current];
        visits[current] = visits[current].saturating_add(1);
        let output = exec_node(run.clone(), state_node, value, s.clone()).await;
        run.forget_ids_under(&s.prefix);
        let output = output?;

        let state_name = Value::String(run.wf.nodes[state_node].id.to_string());
        let vars = Vars {
            input: &input,
            output: Some(&output),
            scope: &s,
            label: None,
            state: Some(&state_name),
        };
        let mut next: Option<Option<usize>> = None;
        for t in transitions.iter().filter(|t| t.from == current) {
            let pass = match &t.when {
                None => true,
                Some(e) => run.with_vars(&vars, |v| e.eval_bool(v)).map_err(|err| {
                    TaskError::workflow(format!(
                        "{}: guard `{}` failed: {}",
                        n.id,
                        e.source(),
                        err.message
                    ))
                })?,
            };
            if pass {
                next = Some(t.to);
                break;
            }
        }
        let from: Id = run.wf.nodes[state_node].id.clone();
        match next.flatten() {
            None => {
                run.emit(EventKind::LoopTransition {
                    node: n.id.clone(),
                    from,
                    to: Id::from("$end"),
                    iteration,
                });
                return Ok(output);
            }
            Some(to) => {
                if iteration >= *max_iterations {
                    if *end_at_max {
                        run.emit(EventKind::LoopTransition {
                            node: n.id.clone(),
                            from,
                            to: Id::from("$end"),
                            iteration,
                        });
                        return Ok(output);
                    }
                    return Err(TaskError::workflow(format!(
                        "{}: reached max_iterations = {max_iterations} while moving from {} to {}; \
                         raise the bound or set on_max_iterations = \"end\"",
                        n.id, from, run.wf.nodes[states[to]].id
                    )));
                }
                run.emit(EventKind::LoopTransition {
                    node: n.id.clone(),
                    from,
                    to: run.wf.nodes[states[to]].id.clone(),
                    iteration: iteration + 1,
                });
                current = to;
                value = output;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use crate::bus::InProcessBus;
    use crate::engine::emitter::Emitter;
    use crate::engine::exec::exec_node;
    use crate::engine::run::{Run, Scope};
    use crate::engine::scheduler::Scheduler;
    use crate::llm::Provider;
    use crate::llm::sim::SimProvider;
    use crate::workflow::load::{Format, load_str};

    fn run_of(iterations: u32, extra: &str) -> Arc<Run> {
        let text = format!(
            r#"
[workflow]
name = "spin"
{extra}
[[agents]]
id = "w"
concurrency = 0
[[nodes]]
id = "spin"
kind = "loop"
states = ["work"]
max_iterations = {iterations}
on_max_iterations = "end"
transitions = [{{ from = "work", to = "work", when = "true" }}]
[[nodes]]
id = "work"
kind = "sequence"
steps = ["a", "inner"]
[[nodes]]
id = "a"
kind = "agent"
agent = "w"
[[nodes]]
id = "inner"
kind = "loop"
states = ["b"]
max_iterations = 2
on_max_iterations = "end"
transitions = [{{ from = "b", to = "b", when = "true" }}]
[[nodes]]
id = "b"
kind = "agent"
agent = "w"
"#
        );
        let wf = Arc::new(
            load_str(&text, "t.toml", Format::Toml)
                .expect("valid")
                .workflow,
        );
        let scripts = wf
            .agents
            .iter()
            .map(|a| (a.id.to_string(), a.sim.clone()))
            .collect();
        let sim: Arc<dyn Provider> = Arc::new(SimProvider::new(1, scripts));
        let providers = wf.agents.iter().map(|_| sim.clone()).collect();
        let emitter = Arc::new(Emitter::new("s".into(), Vec::new()));
        let sched = Scheduler::new(&wf, false);
        Arc::new(Run::new(
            wf,
            "s".into(),
            1,
            emitter,
            sched,
            providers,
            Arc::new(InProcessBus::new()),
            false,
            false,
        ))
    }

    async fn held_after(iterations: u32) -> (usize, usize, usize) {
        let run = run_of(iterations, "");
        let entry = run.wf.entry;
        exec_node(run.clone(), entry, Value::Null, Scope::default())
            .await
            .expect("the loop ends at max_iterations");
        run.held_ids()
    }

    #[tokio::test]
    async fn a_loops_bookkeeping_does_not_grow_with_its_iterations() {
        // Each iteration runs an agent and a nested loop of two agents.
        let few = held_after(3).await;
        let many = held_after(400).await;
        assert_eq!(few, many, "(ids, loop claims, live tasks) after 3 vs 400");
        assert_eq!(many.2, 0, "no task is live after the loop ended");
    }

    #[tokio::test]
    async fn a_run_past_max_tasks_stops_with_an_error_naming_the_bound() {
        let run = run_of(1000, "[defaults]\nmax_tasks = 25");
        let entry = run.wf.entry;
        let err = exec_node(run.clone(), entry, Value::Null, Scope::default())
            .await
            .expect_err("the bound stops the loop");
        assert!(err.message.contains("max_tasks"), "{}", err.message);
        assert!(err.message.contains("25"), "{}", err.message);
        // Three tasks per iteration: it stopped at the bound, not at the end.
        assert!(run.limit_hit.is_cancelled());
        assert_eq!(run.completed.load(std::sync::atomic::Ordering::Relaxed), 25);
    }
}
