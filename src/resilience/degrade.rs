//! Graceful degradation: under pressure a task switches to a declared
//! cheaper (or faster) agent.

use crate::workflow::policy::degrade::DegradePolicy;

impl DegradePolicy {
    /// The reason to switch now, if there is one.
    pub fn pressure(&self, queued: usize, budget_used: f64) -> Option<String> {
        if let Some(q) = self.queue_depth
            && queued >= q as usize
        {
            return Some(format!("{queued} tasks queued (threshold {q})"));
        }
        if let Some(f) = self.budget_fraction
            && budget_used >= f
        {
            return Some(format!(
                "{:.0}% of the budget used (threshold {:.0}%)",
                budget_used * 100.0,
                f * 100.0
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_only_past_a_threshold() {
        let p = DegradePolicy {
            to: 1,
            queue_depth: Some(10),
            budget_fraction: Some(0.9),
        };
        assert_eq!(p.pressure(9, 0.5), None);
        assert!(p.pressure(10, 0.0).unwrap().contains("10 tasks queued"));
        assert!(p.pressure(0, 0.95).unwrap().contains("95% of the budget"));
        let never = DegradePolicy {
            to: 1,
            queue_depth: None,
            budget_fraction: None,
        };
        assert_eq!(never.pressure(usize::MAX, 1.0), None);
    }
}
