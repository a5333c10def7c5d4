//! What the CLI prints: every `print!`/`println!`/`eprint!`/`eprintln!` in
//! `cli` comes here (the macros in `cli/mod.rs` shadow std's).
//!
//! Two rules hold for every line:
//! - a closed stdout or stderr (`agentctl sessions list | head`) is not an
//!   error: std's macros panic on it (exit 101); here the stream is marked
//!   gone and later output to it is dropped, so the command ends normally;
//! - text from files, sessions and models may hold terminal control
//!   sequences (an escape in a workflow name rewrites the user's terminal):
//!   control characters other than newline and tab are shown as `�`, as the
//!   cockpit blanks them.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// The stream a line goes to.
#[derive(Clone, Copy)]
pub(crate) enum Stream {
    Out,
    Err,
}

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

impl Stream {
    fn gone(self) -> &'static AtomicBool {
        match self {
            Stream::Out => &STDOUT_GONE,
            Stream::Err => &STDERR_GONE,
        }
    }
}

/// Writes `args` (and a newline) to `stream`, filtered; a failed write marks
/// the stream gone instead of panicking.
pub(crate) fn write(stream: Stream, args: fmt::Arguments<'_>, newline: bool) {
    if stream.gone().load(Ordering::Relaxed) {
        return;
    }
    let text = match args.as_str() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(args.to_string()),
    };
    let text = printable(&text);
    let result = match stream {
        Stream::Out => put(&mut std::io::stdout().lock(), &text, newline),
        Stream::Err => put(&mut std::io::stderr().lock(), &text, newline),
    };
    if result.is_err() {
        // Whoever read it is gone (a closed pipe, a full disk): nothing
        // more can be shown there, and the work itself goes on.
        stream.gone().store(true, Ordering::Relaxed);
    }
}

fn put(w: &mut impl Write, text: &str, newline: bool) -> std::io::Result<()> {
    w.write_all(text.as_bytes())?;
    if newline {
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// `text` with every control character but newline and tab replaced by `�`
/// (C0, DEL and C1: ESC, CSI, BEL, a lone carriage return, backspace…). A
/// carriage return that ends a line (CRLF text, common in model replies) is
/// dropped instead: it can move nothing there.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(bad) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            continue;
        }
        out.push(if bad(c) { '\u{FFFD}' } else { c });
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_replaced_and_the_rest_kept() {
        assert!(matches!(printable("plain\ttext\n"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\u{1b}[2Jb\u{7}c\rd\u{8}e\u{7f}f\u{9b}31mg"),
            "a\u{FFFD}[2Jb\u{FFFD}c\u{FFFD}d\u{FFFD}e\u{FFFD}f\u{FFFD}31mg"
        );
        assert_eq!(printable("é ✓ 漢字"), "é ✓ 漢字");
        assert_eq!(printable("one\r\ntwo\r\n"), "one\ntwo\n");
        assert_eq!(printable("a\r\rb"), "a\u{FFFD}\u{FFFD}b");
    }
}
