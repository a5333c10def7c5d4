//! A join that keeps what succeeds (`join = "all_settled"` on `parallel`
//! and `map`): every branch or item runs to its end, and the output has one
//! entry each, in order: `{ok: true, output}` or `{ok: false, error}`.
//! Fewer successes than `min_success` fail the node.

use futures::{Stream, StreamExt};
use serde_json::{Value, json};

use crate::engine::exec::NodeResult;
use crate::engine::run::{Run, TaskError};
use crate::workflow::index::NodeIdx;

/// The entry a branch or item leaves in a settled join's output.
pub(crate) fn entry(r: Result<Value, TaskError>) -> Value {
    match r {
        Ok(output) => json!({ "ok": true, "output": output }),
        Err(e) => json!({ "ok": false, "error": e.message }),
    }
}

/// Whether an entry made by [`entry`] is a success.
pub(crate) fn succeeded(entry: &Value) -> bool {
    entry.get("ok").and_then(Value::as_bool) == Some(true)
}

/// Waits for every branch of `pending` (index, result) and settles them.
pub(crate) async fn gather(
    run: &Run,
    node: NodeIdx,
    mut pending: impl Stream<Item = (usize, NodeResult)> + Unpin,
    total: usize,
    min_success: u32,
    what: &str,
) -> NodeResult {
    let mut entries = vec![Value::Null; total];
    let mut done = 0usize;
    while let Some((i, r)) = pending.next().await {
        entries[i] = entry(r);
        done += 1;
        run.progress(node, done, total);
    }
    floor(run, node, entries, min_success, what)
}

/// The settled output, or the node's failure when fewer than `min_success`
/// entries succeeded.
pub(crate) fn floor(
    run: &Run,
    node: NodeIdx,
    entries: Vec<Value>,
    min_success: u32,
    what: &str,
) -> NodeResult {
    let ok = entries.iter().filter(|e| succeeded(e)).count();
    if ok < min_success as usize {
        let errors: Vec<&str> = entries
            .iter()
            .filter_map(|e| e.get("error").and_then(Value::as_str))
            .take(5)
            .collect();
        return Err(TaskError::workflow(format!(
            "{}: only {ok} of {} {what} succeeded, below min_success = {min_success}: {}",
            run.wf.nodes[node].id,
            entries.len(),
            errors.join("; ")
        )));
    }
    Ok(Value::Array(entries))
}
