//! Cutting and padding text: by display columns for what people read (a CJK
//! character or an emoji takes two, a combining accent none, and a cut never
//! falls inside a grapheme), and by bytes or characters for data caps (a cut
//! never falls inside a UTF-8 character).
//!
//! Every truncation in the crate goes through here, so "how long is this on
//! screen" has one answer. ASCII takes a fast path: these run per row per
//! frame in the cockpit.

use std::borrow::Cow;

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// What marks a cut; one column wide.
pub const ELLIPSIS: char = '…';

/// Terminal columns `s` takes.
pub fn width(s: &str) -> usize {
    if s.is_ascii() {
        // Control characters count one, as a terminal cell each (they are
        // replaced before drawing).
        return s.len();
    }
    s.graphemes(true).map(grapheme_width).sum()
}

/// One grapheme's columns. A control character still takes a cell when drawn.
fn grapheme_width(g: &str) -> usize {
    match UnicodeWidthStr::width(g) {
        0 if g.chars().next().is_some_and(char::is_control) => 1,
        w => w,
    }
}

/// The longest start of `s` that fits in `max` columns, whole graphemes only.
pub fn prefix(s: &str, max: usize) -> &str {
    if s.is_ascii() {
        return &s[..s.len().min(max)];
    }
    let mut used = 0;
    for (i, g) in s.grapheme_indices(true) {
        used += grapheme_width(g);
        if used > max {
            return &s[..i];
        }
    }
    s
}

/// The longest end of `s` that fits in `max` columns, whole graphemes only.
pub fn suffix(s: &str, max: usize) -> &str {
    if s.is_ascii() {
        return &s[s.len() - s.len().min(max)..];
    }
    let mut used = 0;
    let mut start = s.len();
    for (i, g) in s.grapheme_indices(true).rev() {
        used += grapheme_width(g);
        if used > max {
            break;
        }
        start = i;
    }
    &s[start..]
}

/// `s` in at most `max` columns: whole when it fits, else cut and ended by
/// [`ELLIPSIS`] (which counts in `max`).
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let head = prefix(s, max - 1);
    let mut out = String::with_capacity(head.len() + ELLIPSIS.len_utf8());
    out.push_str(head);
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

/// `s` in exactly `w` columns: clipped as by [`clip`], then padded with
/// spaces (also when a wide character did not fit whole).
pub fn fit(s: &str, w: usize) -> String {
    let shown = clip(s, w);
    let pad = w.saturating_sub(width(&shown));
    let mut out = String::with_capacity(shown.len() + pad);
    out.push_str(&shown);
    out.extend(std::iter::repeat_n(' ', pad));
    out
}

/// `s` in at most `max` columns, cut in the middle when it does not fit:
/// its start and its end stay (the end gets the larger share), joined by
/// [`ELLIPSIS`]. For ids whose ends tell them apart (`ship~r1/…/r2/architect`).
pub fn clip_middle(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max < 4 {
        return clip(s, max);
    }
    let room = max - 1;
    let head = prefix(s, room / 3);
    let tail = suffix(s, room - width(head));
    let mut out = String::with_capacity(head.len() + tail.len() + ELLIPSIS.len_utf8());
    out.push_str(head);
    out.push(ELLIPSIS);
    out.push_str(tail);
    Cow::Owned(out)
}

/// `s` in exactly `w` columns: cut as by [`clip_middle`], then padded.
pub fn fit_middle(s: &str, w: usize) -> String {
    let shown = clip_middle(s, w);
    let pad = w.saturating_sub(width(&shown));
    let mut out = String::with_capacity(shown.len() + pad);
    out.push_str(&shown);
    out.extend(std::iter::repeat_n(' ', pad));
    out
}

/// The first `n` characters of `s` (for caps on data, not on screen width).
pub fn prefix_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The largest char boundary of `s` at or below `i` (past the end: the end).
pub fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary of `s` at or above `i` (past the end: the end).
pub fn ceil_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Cuts `s` to at most `max` bytes at a char boundary; true when it cut.
pub fn cap_bytes(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    s.truncate(floor_char_boundary(s, max));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_count_columns_not_chars() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("日本"), 4);
        assert_eq!(width("🦀"), 2);
        assert_eq!(width("e\u{301}"), 1, "a combining accent takes no column");
        assert_eq!(width("👩‍🔬"), 2, "a ZWJ sequence is one emoji");
        assert_eq!(width("a\tb"), 3);
        assert_eq!(width(""), 0);
    }

    #[test]
    fn prefix_and_suffix_keep_whole_graphemes_within_the_width() {
        assert_eq!(prefix("hello", 3), "hel");
        assert_eq!(prefix("日本語", 3), "日");
        assert_eq!(prefix("日本語", 4), "日本");
        assert_eq!(prefix("e\u{301}x", 1), "e\u{301}");
        assert_eq!(prefix("👩‍🔬x", 1), "");
        assert_eq!(prefix("ab", 9), "ab");
        assert_eq!(suffix("hello", 3), "llo");
        assert_eq!(suffix("日本語", 3), "語");
        assert_eq!(suffix("x👩‍🔬", 2), "👩‍🔬");
        assert_eq!(suffix("ab", 0), "");
    }

    #[test]
    fn clip_middle_keeps_both_ends() {
        assert_eq!(clip_middle("short", 10), "short");
        let a = clip_middle("ship~r1/design/r2/architect", 20);
        assert_eq!(a, "ship~r…/r2/architect");
        assert_eq!(width(&a), 20);
        let b = clip_middle("ship~r1/design/r3/architect", 20);
        assert_ne!(a, b, "ids that differ near the end stay apart");
        assert_eq!(width(&fit_middle("調査-タスク-長い-名前", 9)), 9);
        assert_eq!(clip_middle("abcdef", 3), "ab…");
    }

    #[test]
    fn clip_marks_a_cut_and_counts_the_ellipsis() {
        assert_eq!(clip("short", 5), "short");
        assert!(matches!(clip("short", 5), Cow::Borrowed(_)));
        assert_eq!(clip("longer", 5), "long…");
        assert_eq!(clip("日本語テキスト", 7), "日本語…");
        assert_eq!(clip("日本語テキスト", 6), "日本…");
        assert_eq!(clip("anything", 1), "…");
        assert_eq!(clip("anything", 0), "");
        for s in [
            "日本語テキスト",
            "🦀🦀🦀🦀",
            "mixed 日本 🦀 text",
            "e\u{301}e\u{301}e\u{301}",
        ] {
            for max in 0..12 {
                assert!(width(&clip(s, max)) <= max, "{s:?} in {max}");
            }
        }
    }

    #[test]
    fn fit_is_exactly_the_width() {
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 0), "");
        // A wide character that does not fit whole leaves a space.
        assert_eq!(fit("日本語", 4), "日… ");
        assert_eq!(fit("日本語", 5), "日本…");
        for s in [
            "タスク-一",
            "🦀-crab-🦀",
            "plain",
            "",
            "e\u{301}t\u{301}e\u{301}",
        ] {
            for w in 0..14 {
                assert_eq!(width(&fit(s, w)), w, "{s:?} in {w}");
            }
        }
    }

    #[test]
    fn byte_and_char_caps_never_split_a_char() {
        let mut s = String::from("aé日");
        assert!(cap_bytes(&mut s, 4));
        assert_eq!(s, "aé");
        let mut s = String::from("aé日");
        assert!(cap_bytes(&mut s, 2));
        assert_eq!(s, "a");
        let mut s = String::from("abc");
        assert!(!cap_bytes(&mut s, 3));
        assert_eq!(s, "abc");
        assert_eq!(floor_char_boundary("aé", 2), 1);
        assert_eq!(ceil_char_boundary("aé", 2), 3);
        assert_eq!(floor_char_boundary("aé", 99), 3);
        assert_eq!(prefix_chars("aé日x", 3), "aé日");
        assert_eq!(prefix_chars("ab", 5), "ab");
    }
}
