//! The nesting depth bound: the engine, the graph export and the cockpit
//! walk nested nodes recursively, so a chain of `sequence` in `sequence`
//! thousands deep would overflow their stacks. Validation refuses it first.

use super::Ctx;

/// Deepest nesting accepted: a top-level node is at depth 1. Well below
/// where any recursive walk runs out of stack (the cockpit's, the lowest,
/// at about 150).
pub const MAX_DEPTH: usize = 100;

const DEPTH_HINT: &str = "flatten the workflow: list the steps in one `sequence` (or one `parallel`) instead of nesting a node in a node";

impl Ctx<'_> {
    /// Reports the first reference that nests a node deeper than
    /// [`MAX_DEPTH`]. Runs on an acyclic containment graph (after
    /// `cycles` found none); iterative, so it cannot overflow itself.
    pub(super) fn nesting_depth(&mut self) {
        let n = self.cx.edges.len();
        // depth[v]: the longest chain of nodes from v down, v included.
        let mut depth = vec![0usize; n];
        let mut on_stack = vec![false; n];
        for root in 0..n {
            if depth[root] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            on_stack[root] = true;
            while let Some(&mut (u, ref mut next)) = stack.last_mut() {
                if let Some(&(v, _)) = self.cx.edges[u].get(*next) {
                    *next += 1;
                    // On a cycle (already reported) depth[v] stays 0 while
                    // v is on the stack; skipping it keeps this finite.
                    if depth[v] == 0 && !on_stack[v] {
                        on_stack[v] = true;
                        stack.push((v, 0));
                    }
                } else {
                    depth[u] = 1 + self.cx.edges[u]
                        .iter()
                        .map(|(v, _)| depth[*v])
                        .max()
                        .unwrap_or(0);
                    on_stack[u] = false;
                    stack.pop();
                }
            }
        }
        // (Only called without cycles, so a depth is a real chain.)
        // Walk down from the deepest root to the reference at depth 101.
        let Some(mut u) = (0..n)
            .filter(|&u| depth[u] > MAX_DEPTH)
            .max_by_key(|&u| depth[u])
        else {
            return;
        };
        let total = depth[u];
        let mut level = 1;
        loop {
            let Some((v, at)) = self.cx.edges[u]
                .iter()
                .find(|(v, _)| depth[*v] + 1 == depth[u])
                .cloned()
            else {
                return;
            };
            level += 1;
            if level > MAX_DEPTH {
                let (outer, inner) = (&self.spec.nodes[u].id.value, &self.spec.nodes[v].id.value);
                let message = format!(
                    "nodes are nested {total} deep, more than the limit of {MAX_DEPTH}: `{inner}` inside `{outer}` is at depth {level}"
                );
                self.cx.error(at, message, DEPTH_HINT);
                return;
            }
            u = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::workflow::load::{Format, load_str};

    /// `depth` nodes, each a sequence holding the next, then one agent.
    fn chain(depth: usize) -> String {
        let mut t = String::from("[workflow]\nname = \"deep\"\n\n[[agents]]\nid = \"a\"\n\n");
        for i in 0..depth - 1 {
            t.push_str(&format!(
                "[[nodes]]\nid = \"s{i}\"\nkind = \"sequence\"\nsteps = [\"s{}\"]\n\n",
                i + 1
            ));
        }
        t.push_str(&format!(
            "[[nodes]]\nid = \"s{}\"\nkind = \"agent\"\nagent = \"a\"\n",
            depth - 1
        ));
        t
    }

    #[test]
    fn a_hundred_levels_load() {
        load_str(&chain(100), "deep.toml", Format::Toml).expect("depth 100 is allowed");
    }

    #[test]
    fn deeper_nesting_is_a_located_error() {
        let text = chain(101);
        let e = load_str(&text, "deep.toml", Format::Toml).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        let d = &e.0[0];
        assert!(d.message.contains("nested 101 deep"), "{e}");
        assert!(d.message.contains("`s100` inside `s99`"), "{e}");
        // The reference `steps = ["s100"]` of node s99.
        let line = text
            .lines()
            .position(|l| l == "steps = [\"s100\"]")
            .unwrap()
            + 1;
        assert_eq!(d.line, line, "{e}");
        assert!(d.column > 1, "{e}");
        assert!(d.hint.as_deref().is_some_and(|h| h.contains("flatten")));
    }

    #[test]
    fn thousands_deep_do_not_overflow_validation() {
        let e = load_str(&chain(20_000), "deep.toml", Format::Toml).unwrap_err();
        assert!(e.0[0].message.contains("nested 20000 deep"), "{e}");
    }
}
