//! A plan's steps as a dependency graph: which step waits for which, in
//! what order they can run, and how deep each one sits (its layer). The
//! engine checks a planner's plan with it and runs the steps in its order;
//! the cockpit draws the same layers.

use std::collections::HashMap;

/// Steps by index, each with the indices of the steps it depends on,
/// checked to be acyclic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanDag {
    deps: Vec<Vec<usize>>,
}

impl PlanDag {
    /// The graph of steps named `ids`, step `i` depending on the steps
    /// named in `depends_on[i]`. An error names the step and what is wrong,
    /// in words a planner can act on: a duplicate id, a dependency on an
    /// unknown id or on the step itself, a cycle (as a path).
    pub fn from_ids(ids: &[String], depends_on: &[Vec<String>]) -> Result<PlanDag, String> {
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, id) in ids.iter().enumerate() {
            if let Some(j) = index.insert(id.as_str(), i) {
                return Err(format!(
                    "subtasks {} and {} have the same id `{id}`; give each subtask its own id",
                    j + 1,
                    i + 1
                ));
            }
        }
        let mut deps = Vec::with_capacity(ids.len());
        for (i, on) in depends_on.iter().enumerate() {
            let mut d: Vec<usize> = Vec::with_capacity(on.len());
            for name in on {
                let Some(&j) = index.get(name.as_str()) else {
                    return Err(format!(
                        "subtask `{}` depends on `{name}`, which is no subtask's id (ids: {})",
                        ids[i],
                        ids.join(", ")
                    ));
                };
                if j == i {
                    return Err(format!("subtask `{}` depends on itself", ids[i]));
                }
                if !d.contains(&j) {
                    d.push(j);
                }
            }
            deps.push(d);
        }
        deps.resize(ids.len(), Vec::new());
        if let Some(cycle) = find_cycle(&deps) {
            let path: Vec<&str> = cycle.iter().map(|&i| ids[i].as_str()).collect();
            return Err(format!(
                "the dependencies form a cycle: {} → {}; a step can only depend on steps that do not wait for it",
                path.join(" → "),
                path[0]
            ));
        }
        Ok(PlanDag { deps })
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// True with no steps.
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// The steps step `i` depends on, in the order the plan named them.
    pub fn deps(&self, i: usize) -> &[usize] {
        &self.deps[i]
    }

    /// Each step's layer: 0 for a step with no dependencies, else one more
    /// than its deepest dependency.
    pub fn layers(&self) -> Vec<usize> {
        layers(&self.deps).expect("checked acyclic when built")
    }

    /// An order to run the steps in: by layer, then by position in the plan.
    pub fn order(&self) -> Vec<usize> {
        let layers = self.layers();
        let mut order: Vec<usize> = (0..self.deps.len()).collect();
        order.sort_by_key(|&i| (layers[i], i));
        order
    }
}

/// Each step's layer (see [`PlanDag::layers`]), or `None` when the
/// dependencies (indices; out-of-range ones are ignored) have a cycle.
pub fn layers(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    let n = deps.len();
    let mut layer: Vec<Option<usize>> = vec![None; n];
    // Kahn's algorithm: a step's layer is known once its dependencies' are.
    let mut waiting: Vec<usize> = deps
        .iter()
        .map(|d| d.iter().filter(|&&j| j < n).count())
        .collect();
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, d) in deps.iter().enumerate() {
        for &j in d.iter().filter(|&&j| j < n) {
            dependants[j].push(i);
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut done = 0;
    while let Some(i) = ready.pop() {
        done += 1;
        let l = deps[i]
            .iter()
            .filter(|&&j| j < n)
            .filter_map(|&j| layer[j])
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        layer[i] = Some(l);
        for &k in &dependants[i] {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.push(k);
            }
        }
    }
    (done == n).then(|| layer.into_iter().map(|l| l.unwrap_or(0)).collect())
}

/// One cycle in the dependencies, as the steps along it, if there is one.
fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    // Depth-first, iteratively: 0 unseen, 1 on the path, 2 finished.
    let n = deps.len();
    let mut mark = vec![0u8; n];
    for root in 0..n {
        if mark[root] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = 1;
        while let Some(&mut (i, ref mut next)) = path.last_mut() {
            if let Some(&j) = deps[i].get(*next) {
                *next += 1;
                match mark[j] {
                    0 => {
                        mark[j] = 1;
                        path.push((j, 0));
                    }
                    1 => {
                        let from = path.iter().position(|&(k, _)| k == j).unwrap_or(0);
                        // The path follows "depends on"; read it as "runs before".
                        let mut cycle: Vec<usize> = path[from..].iter().map(|&(k, _)| k).collect();
                        cycle.reverse();
                        // Start at the earliest step, so the message is stable.
                        let first = (0..cycle.len()).min_by_key(|&k| cycle[k]).unwrap_or(0);
                        cycle.rotate_left(first);
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                mark[i] = 2;
                path.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn deps(v: &[&[&str]]) -> Vec<Vec<String>> {
        v.iter().map(|d| ids(d)).collect()
    }

    #[test]
    fn a_diamond_runs_by_layer() {
        let dag = PlanDag::from_ids(
            &ids(&["fmt", "sum", "a", "b"]),
            &deps(&[&["sum"], &["a", "b"], &[], &[]]),
        )
        .unwrap();
        assert_eq!(dag.layers(), vec![2, 1, 0, 0]);
        assert_eq!(dag.order(), vec![2, 3, 1, 0]);
        assert_eq!(dag.deps(1), &[2, 3]);
    }

    #[test]
    fn bad_plans_are_named() {
        let e = PlanDag::from_ids(&ids(&["a", "b"]), &deps(&[&["c"], &[]])).unwrap_err();
        assert!(
            e.contains("`a` depends on `c`") && e.contains("ids: a, b"),
            "{e}"
        );
        let e = PlanDag::from_ids(&ids(&["a", "a"]), &deps(&[&[], &[]])).unwrap_err();
        assert!(e.contains("same id `a`"), "{e}");
        let e = PlanDag::from_ids(&ids(&["a"]), &deps(&[&["a"]])).unwrap_err();
        assert!(e.contains("depends on itself"), "{e}");
        let e = PlanDag::from_ids(
            &ids(&["a", "b", "c", "d"]),
            &deps(&[&["c"], &["a"], &["b"], &[]]),
        )
        .unwrap_err();
        assert!(e.contains("cycle: a → b → c → a"), "{e}");
    }

    #[test]
    fn layers_refuse_a_cycle() {
        assert_eq!(layers(&[vec![1], vec![0]]), None);
        assert_eq!(layers(&[vec![], vec![0], vec![0, 1]]), Some(vec![0, 1, 2]));
    }
}
