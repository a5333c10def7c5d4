//! `loop`: a state machine. After each state runs, its transitions are
//! checked in order (guards see `output`, `input`, `outputs`, `iteration`,
//! `state`); the first that holds is taken, `$end` (or none) ends the loop.
//! `max_iterations` bounds the number of state visits.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::exec::{NodeResult, exec_node};
use crate::engine::run::{Run, Scope, TaskError, Vars};
use crate::event::{EventKind, Id};
use crate::workflow::model::{NodeIdx, NodeKind};

pub(crate) async fn run(run: &Arc<Run>, node: NodeIdx, input: Value, scope: &Scope) -> NodeResult {
    let n = &run.wf.nodes[node];
    let NodeKind::Loop {
        states,
        start,
        transitions,
        max_iterations,
        end_at_max,
    } = &n.kind
    else {
        unreachable!("dispatched by kind")
    };
    let mut current = *start;
    let mut value = input.clone();
    let mut visits = vec![0u32; states.len()];
    let mut iteration = 0u32;
    loop {
        iteration += 1;
        let state_node = states[current];
        let mut s = scope.nested(format_args!("{}#{iteration}", n.id));
        s.iteration = Some(iteration);
        s.visit = visits[current];
        visits[current] += 1;
        let output = exec_node(run.clone(), state_node, value, s.clone()).await?;

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
