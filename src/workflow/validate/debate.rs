//! The sim fields that debaters and voters use (`[agents.sim]`). The
//! `debate` and `vote` nodes themselves are checked in their kinds' files.

use super::Ctx;
use crate::workflow::kinds::compile_context::Owner;

/// Accepted sim `byzantine` behaviours.
pub const BYZANTINE: &[&str] = &["random", "equivocate"];

impl<'a> Ctx<'a> {
    /// Checks `[agents.sim]` fields used by debaters and voters.
    pub(super) fn debate_sim_scripts(&mut self) {
        let spec = self.spec;
        for (i, a) in spec.agents.iter().enumerate() {
            let Some(sim) = &a.sim else { continue };
            let o = Owner::Agent(i);
            if let Some(b) = &sim.byzantine
                && !BYZANTINE.contains(&b.as_str())
            {
                let at = self.cx.value_span(o, "byzantine", &None, &super::quote(b));
                let hint = choice_hint(b, BYZANTINE);
                self.cx
                    .error(at, format!("unknown sim behaviour byzantine = `{b}`"), hint);
            }
            for (key, v) in [
                ("confidence", sim.confidence),
                ("stubbornness", sim.stubbornness),
            ] {
                if let Some(x) = v
                    && !(0.0..=1.0).contains(&x)
                {
                    let at = self.cx.field_span(o, key, None);
                    self.cx.error(
                        at,
                        format!("sim `{key}` must be between 0 and 1, got {x}"),
                        format!("set `{key}` to a number in [0, 1]"),
                    );
                }
            }
        }
    }
}

use crate::workflow::kinds::ballot_checks::choice_hint;
