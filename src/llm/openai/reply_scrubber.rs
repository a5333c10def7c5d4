//! Keeps the provider's own secrets out of what a model says. A server may
//! echo the key it was sent (a proxy quoting the request, a model told the
//! header), and a reply becomes events, session files, exports and the
//! cockpit; so every text taken from a reply passes through here first.
//!
//! A streamed reply comes in deltas, and a key may be split across two of
//! them: [`ReplyScrubber`] holds back the end of a delta while it could
//! still be the start of a secret, and lets it go with the next delta (or
//! at the end of the reply) once it is known either way.
//!
//! Public so `benches/scrub.rs` can time the delta path.

/// What stands in for a scrubbed value.
const MASK: &str = "[REDACTED]";

/// The secret values one provider knows, longest first (so of two secrets
/// where one starts the other, the longer is masked whole).
#[derive(Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// The non-empty `values`, deduplicated.
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        values.dedup();
        Secrets { values }
    }

    /// `text` with every whole occurrence of a secret masked.
    pub fn scrub(&self, text: &str) -> String {
        if self.values.is_empty() {
            return text.to_string();
        }
        let (mut out, rest) = self.mask_matches(text, true);
        out.push_str(&text[rest..]);
        out
    }

    /// A scrubber for one streamed reply.
    pub fn stream(&self) -> ReplyScrubber<'_> {
        ReplyScrubber {
            secrets: self,
            held: String::new(),
        }
    }

    /// Masks whole matches left to right in one pass (a mask is never
    /// scanned again). Returns the text up to the last decided byte and
    /// the offset where the undecided rest starts. When `last` is false, a
    /// match is not taken while a longer secret could still complete at the
    /// same place with more text.
    fn mask_matches(&self, text: &str, last: bool) -> (String, usize) {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        while let Some((pos, len)) = self.first_match(&text[at..]) {
            let pos = at + pos;
            if !last && self.could_grow(&text[pos..], len) {
                out.push_str(&text[at..pos]);
                return (out, pos);
            }
            out.push_str(&text[at..pos]);
            out.push_str(MASK);
            at = pos + len;
        }
        (out, at)
    }

    /// The earliest match in `text` (position, length), the longest secret
    /// winning a tie.
    fn first_match(&self, text: &str) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize)> = None;
        for v in &self.values {
            if let Some(p) = text.find(v.as_str())
                && best.is_none_or(|(bp, _)| p < bp)
            {
                // Longest first: an equal position keeps the longer one.
                best = Some((p, v.len()));
            }
        }
        best
    }

    /// True when `tail` (starting with a match of `len` bytes) is a proper
    /// prefix of a longer secret.
    fn could_grow(&self, tail: &str, len: usize) -> bool {
        self.values
            .iter()
            .any(|v| v.len() > len && tail.len() < v.len() && v.starts_with(tail))
    }

    /// Where the longest suffix of `text` that begins some secret starts
    /// (`text.len()` when none does).
    fn undecided_from(&self, text: &str) -> usize {
        let mut from = text.len();
        for v in &self.values {
            let first = v.as_bytes()[0];
            // Only a suffix shorter than the secret can still grow into it.
            let earliest = text.len().saturating_sub(v.len() - 1);
            let bytes = text.as_bytes();
            for start in earliest..from {
                if bytes[start] == first
                    && text.is_char_boundary(start)
                    && v.as_bytes().starts_with(&bytes[start..])
                {
                    from = start;
                    break;
                }
            }
        }
        from
    }
}

/// Scrubs one streamed reply delta by delta. What it holds back is always
/// shorter than the longest secret, so a delta is delayed, never lost: call
/// [`ReplyScrubber::finish`] at the end of the reply for the rest.
pub struct ReplyScrubber<'a> {
    secrets: &'a Secrets,
    /// Raw text not yet let go: it may be the start of a secret.
    held: String,
}

impl ReplyScrubber<'_> {
    /// The scrubbed text that can go out now (possibly empty).
    pub fn push(&mut self, delta: &str) -> String {
        if self.secrets.values.is_empty() {
            return delta.to_string();
        }
        self.held.push_str(delta);
        let (mut out, rest) = self.secrets.mask_matches(&self.held, false);
        let undecided = rest + self.secrets.undecided_from(&self.held[rest..]);
        out.push_str(&self.held[rest..undecided]);
        self.held.drain(..undecided);
        out
    }

    /// The scrubbed rest, at the end of the reply.
    pub fn finish(&mut self) -> String {
        let held = std::mem::take(&mut self.held);
        self.secrets.scrub(&held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-live-0123456789abcdef";

    fn secrets(v: &[&str]) -> Secrets {
        Secrets::new(v.iter().map(|s| s.to_string()))
    }

    /// Streams `deltas` through a scrubber; returns what went out, delta
    /// by delta, and the end.
    fn run(s: &Secrets, deltas: &[&str]) -> (Vec<String>, String) {
        let mut r = s.stream();
        let outs = deltas.iter().map(|d| r.push(d)).collect();
        (outs, r.finish())
    }

    #[test]
    fn masks_whole_values_in_one_text() {
        let s = secrets(&[KEY, "hdr-secret-value"]);
        assert_eq!(
            s.scrub(&format!("a {KEY} b hdr-secret-value c {KEY}")),
            "a [REDACTED] b [REDACTED] c [REDACTED]"
        );
        assert_eq!(s.scrub("nothing here"), "nothing here");
        assert_eq!(secrets(&[]).scrub("x"), "x");
    }

    #[test]
    fn a_key_split_across_two_deltas_never_goes_out() {
        let s = secrets(&[KEY]);
        for cut in 1..KEY.len() {
            let (a, b) = KEY.split_at(cut);
            let (outs, end) = run(&s, &[&format!("the key is {a}"), &format!("{b} ok")]);
            let all = format!("{}{end}", outs.concat());
            assert_eq!(all, "the key is [REDACTED] ok", "cut at {cut}");
            // Neither delta let out a piece of the key's first half.
            assert_eq!(outs[0], "the key is ", "cut at {cut}");
        }
    }

    #[test]
    fn a_key_split_over_many_deltas_and_at_the_very_end() {
        let s = secrets(&[KEY]);
        let pieces: Vec<String> = KEY.chars().map(String::from).collect();
        let mut deltas: Vec<&str> = vec!["<"];
        deltas.extend(pieces.iter().map(String::as_str));
        let (outs, end) = run(&s, &deltas);
        assert_eq!(format!("{}{end}", outs.concat()), "<[REDACTED]");
        // A reply that ends inside a key's first half lets it go (it was
        // not the key).
        let (outs, end) = run(&s, &["see sk-live-01"]);
        assert_eq!(format!("{}{end}", outs.concat()), "see sk-live-01");
        assert_eq!(outs[0], "see ");
    }

    #[test]
    fn ordinary_text_is_not_delayed() {
        let s = secrets(&[KEY]);
        let (outs, end) = run(&s, &["hello ", "world", " and sk"]);
        assert_eq!(outs, ["hello ", "world", " and "]);
        assert_eq!(end, "sk");
    }

    #[test]
    fn a_longer_secret_starting_with_a_shorter_one_is_masked_whole() {
        let s = secrets(&["abcdefgh", "abcdefgh-and-more"]);
        let (outs, end) = run(&s, &["x abcdefgh", "-and-more y"]);
        assert_eq!(format!("{}{end}", outs.concat()), "x [REDACTED] y");
        let (outs, end) = run(&s, &["x abcdefgh", " y"]);
        assert_eq!(format!("{}{end}", outs.concat()), "x [REDACTED] y");
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries() {
        let s = secrets(&["ééé-secret-ééé"]);
        let (outs, end) = run(&s, &["à ééé-sec", "ret-ééé ü", "é"]);
        assert_eq!(format!("{}{end}", outs.concat()), "à [REDACTED] üé");
    }

    #[test]
    fn what_is_held_back_stays_shorter_than_the_longest_secret() {
        let s = secrets(&[KEY, "short-secret"]);
        let mut r = s.stream();
        for piece in [
            "sk-live-0123",
            "sk-live-0123456789abcde",
            "s",
            "sk-",
            "short-secre",
        ] {
            r.push(piece);
            assert!(r.held.len() < KEY.len(), "{}", r.held);
        }
    }
}
