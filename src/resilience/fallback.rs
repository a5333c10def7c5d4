//! Fallback chain: the primary agent, then each fallback agent in order.

use crate::workflow::index::AgentIdx;

/// Where a task stands in its agent's fallback chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FallbackChain {
    /// Primary first, then the fallbacks in declared order.
    agents: Vec<AgentIdx>,
    pos: usize,
}

impl FallbackChain {
    /// A chain starting at `primary`.
    pub fn new(primary: AgentIdx, fallbacks: &[AgentIdx]) -> Self {
        let mut agents = Vec::with_capacity(1 + fallbacks.len());
        agents.push(primary);
        // An agent listed twice (or the primary listed as its own fallback)
        // would only repeat a failure.
        for &f in fallbacks {
            if !agents.contains(&f) {
                agents.push(f);
            }
        }
        FallbackChain { agents, pos: 0 }
    }

    /// The agent currently tried.
    pub fn current(&self) -> AgentIdx {
        self.agents[self.pos]
    }

    /// Position of the current agent (the primary is 0).
    pub fn position(&self) -> u32 {
        self.pos as u32
    }

    /// Moves to the next agent, if any is left.
    pub fn advance(&mut self) -> Option<AgentIdx> {
        if self.pos + 1 < self.agents.len() {
            self.pos += 1;
            Some(self.agents[self.pos])
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_is_tried_in_order_once() {
        let mut c = FallbackChain::new(2, &[5, 2, 1, 5]);
        assert_eq!((c.current(), c.position()), (2, 0));
        assert_eq!(c.advance(), Some(5));
        assert_eq!(c.advance(), Some(1));
        assert_eq!(c.position(), 2);
        assert_eq!(c.advance(), None);
        assert_eq!(c.current(), 1);
        assert_eq!(FallbackChain::new(0, &[]).advance(), None);
    }
}
