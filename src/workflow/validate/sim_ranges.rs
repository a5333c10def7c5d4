//! Range checks of the `sim` provider's parameters and of `on` timers, so a
//! typo like `spike_ms = inf` or `plan_size = 100000000` is a located error
//! instead of a panic, an allocation abort or a run that never ends.

use super::Ctx;
use crate::workflow::kinds::compile_context::Owner;
use crate::workflow::spec::{SimLatency, SimScript};

/// Longest simulated latency, spike or Retry-After: one hour.
pub const MAX_SIM_MS: f64 = 3_600_000.0;
/// Most subtasks an unscripted sim plan may have.
pub const MAX_PLAN_SIZE: u32 = 1_000;
/// Longest unscripted sim reply, in words.
pub const MAX_REPLY_WORDS: u32 = 100_000;
/// Longest `on` timer (`every_ms`, `idle_timeout_ms`): one day.
pub const MAX_TIMER_MS: u64 = 86_400_000;

/// The sim's probabilities; each must be a number in [0, 1].
const RATES: &[&str] = &[
    "error_rate",
    "timeout_rate",
    "malformed_rate",
    "rate_limit_rate",
    "hang_rate",
    "spike_rate",
];

impl Ctx<'_> {
    /// Checks every agent's `sim` table and every `on` node's timers.
    pub(super) fn sim_ranges(&mut self) {
        let spec = self.spec;
        for (i, a) in spec.agents.iter().enumerate() {
            if let Some(sim) = &a.sim {
                self.sim_script(Owner::Agent(i), sim);
            }
        }
        for (i, n) in spec.nodes.iter().enumerate() {
            let crate::workflow::kinds::KindSpec::On(n) = &n.fields else {
                continue;
            };
            for (key, v) in [
                ("every_ms", &n.every_ms),
                ("idle_timeout_ms", &n.idle_timeout_ms),
            ] {
                if let Some(v) = v
                    && v.value > MAX_TIMER_MS
                {
                    let at = self
                        .cx
                        .value_span(Owner::Node(i), key, &v.span, &v.value.to_string());
                    self.cx.error(
                        at,
                        format!("`{key}` is too large ({} ms, more than a day)", v.value),
                        format!("use at most {MAX_TIMER_MS} (one day)"),
                    );
                }
            }
        }
    }

    fn sim_script(&mut self, o: Owner, sim: &SimScript) {
        let rates = [
            sim.error_rate,
            sim.timeout_rate,
            sim.malformed_rate,
            sim.rate_limit_rate,
            sim.hang_rate,
            sim.spike_rate,
        ];
        for (key, x) in RATES.iter().zip(rates) {
            if !(0.0..=1.0).contains(&x) {
                let at = self.sim_key_span(o, key);
                self.cx.error(
                    at,
                    format!("sim `{key}` must be a probability in [0, 1], got {x}"),
                    format!("set `{key}` to a number between 0 and 1"),
                );
            }
        }
        let mut millis: Vec<(&str, f64)> = Vec::new();
        match &sim.latency_ms {
            None => {}
            Some(SimLatency::Fixed(ms)) => millis.push(("latency_ms", *ms)),
            Some(SimLatency::Uniform { min, max }) => {
                millis.extend([("min", *min), ("max", *max)]);
            }
            Some(SimLatency::Normal { mean, stddev }) => {
                millis.extend([("mean", *mean), ("stddev", *stddev)]);
            }
        }
        if let Some(ms) = sim.spike_ms {
            millis.push(("spike_ms", ms));
        }
        if let Some(ms) = sim.retry_after_ms {
            millis.push(("retry_after_ms", ms as f64));
        }
        for (key, ms) in millis {
            if !ms.is_finite() || !(0.0..=MAX_SIM_MS).contains(&ms) {
                let at = self.sim_key_span(o, key);
                self.cx.error(
                    at,
                    format!(
                        "sim `{key}` must be between 0 and {MAX_SIM_MS} ms (one hour), got {ms}"
                    ),
                    format!("set `{key}` to a number of milliseconds up to {MAX_SIM_MS}"),
                );
            }
        }
        for (key, v, max) in [
            ("plan_size", sim.plan_size, MAX_PLAN_SIZE),
            ("reply_words", sim.reply_words, MAX_REPLY_WORDS),
        ] {
            if let Some(v) = v
                && v > max
            {
                let at = self.sim_key_span(o, key);
                self.cx.error(
                    at,
                    format!("sim `{key}` is too large ({v})"),
                    format!("use at most {max}"),
                );
            }
        }
    }

    /// A sim key of the agent (in `[agents.sim]` or an inline `sim`
    /// table), else the agent's `sim` key, else the agent.
    fn sim_key_span(&self, o: Owner, key: &str) -> std::ops::Range<usize> {
        self.cx
            .key_span(o, key)
            .or_else(|| self.cx.key_span(o, "sim"))
            .unwrap_or_else(|| self.cx.owner_start(o))
    }
}

#[cfg(test)]
mod tests {
    use crate::workflow::load::{Format, load_str};

    fn with_sim(sim: &str) -> String {
        format!(
            "[workflow]\nname = \"s\"\n\n[[agents]]\nid = \"a\"\n{sim}\n\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n"
        )
    }

    /// The one error of `text`: (line, message).
    fn error_of(text: &str) -> (usize, String) {
        let e = load_str(text, "s.toml", Format::Toml).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        (e.0[0].line, e.0[0].message.clone())
    }

    #[test]
    fn out_of_range_sim_parameters_are_located_errors() {
        for (sim, words) in [
            ("[agents.sim]\nspike_ms = inf", "`spike_ms`"),
            ("[agents.sim]\nspike_ms = 1e300", "`spike_ms`"),
            ("[agents.sim]\nlatency_ms = inf", "`latency_ms`"),
            ("[agents.sim]\nlatency_ms = nan", "`latency_ms`"),
            ("[agents.sim]\nlatency_ms = -1.0", "`latency_ms`"),
            ("[agents.sim]\nlatency_ms = 3600001", "`latency_ms`"),
            ("[agents.sim]\nlatency_ms = { min = 1, max = inf }", "`max`"),
            (
                "[agents.sim]\nlatency_ms = { mean = 10, stddev = nan }",
                "`stddev`",
            ),
            ("[agents.sim]\nplan_size = 100000000", "`plan_size`"),
            ("[agents.sim]\nreply_words = 4294967295", "`reply_words`"),
            (
                "[agents.sim]\nretry_after_ms = 9223372036854775807",
                "`retry_after_ms`",
            ),
            ("[agents.sim]\nerror_rate = nan", "`error_rate`"),
            ("[agents.sim]\nspike_rate = 1.5", "`spike_rate`"),
            ("sim = { hang_rate = -inf }", "`hang_rate`"),
        ] {
            let text = with_sim(sim);
            let (line, message) = error_of(&text);
            assert!(message.contains(words), "{sim}: {message}");
            let key = words.trim_matches('`');
            let want = text.lines().position(|l| l.contains(key)).unwrap() + 1;
            assert_eq!(line, want, "{sim}: {message}");
        }
    }

    #[test]
    fn the_documented_maxima_are_accepted() {
        let text = with_sim(
            "[agents.sim]\nlatency_ms = 3600000\nspike_ms = 3600000\nspike_rate = 1\nplan_size = 1000\nreply_words = 100000\nretry_after_ms = 3600000",
        );
        load_str(&text, "s.toml", Format::Toml).expect("maxima are valid");
    }

    #[test]
    fn on_timers_are_capped_at_a_day() {
        let text = "[workflow]\nname = \"t\"\n\n[[agents]]\nid = \"a\"\n\n[[nodes]]\nid = \"tick\"\nkind = \"on\"\nevery_ms = 9223372036854775807\nbody = \"n\"\n\n[[nodes]]\nid = \"n\"\nkind = \"agent\"\nagent = \"a\"\n";
        let (line, message) = error_of(text);
        assert_eq!(line, 10, "{message}");
        assert!(message.contains("`every_ms` is too large"), "{message}");
        let ok = text.replace("9223372036854775807", "86400000");
        load_str(&ok, "t.toml", Format::Toml).expect("one day is allowed");
    }
}
