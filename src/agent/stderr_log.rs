//! A command agent's stderr, recorded with bounds: each line is cut at
//! [`MAX_LINE`] bytes and at most [`MAX_PER_TASK`] bytes are published per
//! task; what is dropped is counted and said (on the bus and in errors).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::AgentContext;

/// Longest stderr line recorded; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 64 * 1024;
/// Most stderr bytes recorded per task; later lines are dropped.
pub const MAX_PER_TASK: usize = 1024 * 1024;
/// Lines kept for error messages, and the length each is shown with.
const TAIL_LINES: usize = 5;
const TAIL_CHARS: usize = 500;

/// What one task's stderr produced so far.
#[derive(Debug, Default)]
pub struct StderrLog {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    recorded: usize,
    dropped_bytes: u64,
    dropped_lines: u64,
    tail: VecDeque<String>,
}

impl StderrLog {
    /// An empty log.
    pub fn new() -> Arc<Self> {
        Arc::new(StderrLog::default())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes one line (without its newline; `cut` bytes of it were already
    /// dropped for length) and returns the text to publish, if any.
    fn accept(&self, line: &[u8], cut: u64) -> Option<String> {
        let mut s = self.state();
        let len = line.len();
        if s.recorded + len > MAX_PER_TASK {
            s.dropped_bytes += len as u64 + cut;
            s.dropped_lines += 1;
            return None;
        }
        s.recorded += len;
        let mut text = String::from_utf8_lossy(line).into_owned();
        if cut > 0 {
            s.dropped_bytes += cut;
            text.push_str(&format!(" [… {cut} more bytes of this line dropped]"));
        }
        s.tail
            .push_back(crate::text::prefix_chars(&text, TAIL_CHARS).to_owned());
        if s.tail.len() > TAIL_LINES {
            s.tail.pop_front();
        }
        Some(text)
    }

    /// The last lines, for an error message, with what was dropped.
    pub fn tail(&self) -> String {
        let s = self.state();
        let mut out: Vec<String> = s.tail.iter().cloned().collect();
        if let Some(d) = dropped_note(&s) {
            out.push(d);
        }
        out.join("\n")
    }

    /// Starts a new task (a persistent process): the per-task budget
    /// restarts; returns the note on what the previous task dropped.
    pub fn next_task(&self) -> Option<String> {
        let mut s = self.state();
        let note = dropped_note(&s);
        *s = State::default();
        note
    }

    /// The note on what was dropped so far, if anything was.
    pub fn dropped(&self) -> Option<String> {
        dropped_note(&self.state())
    }
}

fn dropped_note(s: &State) -> Option<String> {
    if s.dropped_bytes == 0 {
        return None;
    }
    let whole = if s.dropped_lines > 0 {
        format!(
            "; {} line(s) past the {} KiB recorded per task",
            s.dropped_lines,
            MAX_PER_TASK / 1024
        )
    } else {
        String::new()
    };
    Some(format!(
        "[agentctl: {} byte(s) of stderr were not recorded (lines over {} KiB are cut{whole})]",
        s.dropped_bytes,
        MAX_LINE / 1024
    ))
}

/// Reads `stderr` to its end, publishing each line on `agent.<id>.log`
/// within the bounds; memory stays below one line's cap plus one read.
pub async fn forward(
    mut stderr: impl AsyncRead + Unpin,
    log: Arc<StderrLog>,
    ctx: AgentContext,
    topic: String,
) {
    let mut line: Vec<u8> = Vec::new();
    let mut cut: u64 = 0;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            let (part, ends) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (&chunk[..i], Some(i + 1)),
                None => (chunk, None),
            };
            let room = MAX_LINE - line.len();
            let keep = part.len().min(room);
            line.extend_from_slice(&part[..keep]);
            cut += (part.len() - keep) as u64;
            match ends {
                Some(next) => {
                    publish(&log, &ctx, &topic, &line, cut).await;
                    line.clear();
                    cut = 0;
                    chunk = &chunk[next..];
                }
                None => chunk = &[],
            }
        }
    }
    if !line.is_empty() || cut > 0 {
        publish(&log, &ctx, &topic, &line, cut).await;
    }
}

async fn publish(log: &StderrLog, ctx: &AgentContext, topic: &str, line: &[u8], cut: u64) {
    if let Some(text) = log.accept(line, cut) {
        let _ = ctx.publish(topic, "log", Value::String(text)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn forwarded(input: Vec<u8>) -> (Vec<String>, Arc<StderrLog>) {
        let ctx = AgentContext::detached("a");
        let mut sub = ctx.subscribe("agent.a.log").await.unwrap();
        let log = StderrLog::new();
        forward(&input[..], log.clone(), ctx, "agent.a.log".into()).await;
        let mut lines = Vec::new();
        while let Some(m) = sub.try_recv() {
            lines.push(m.payload.as_str().unwrap_or_default().to_string());
        }
        (lines, log)
    }

    #[tokio::test]
    async fn short_lines_pass_whole() {
        let (lines, log) = forwarded(b"one\ntwo\nthree".to_vec()).await;
        assert_eq!(lines, ["one", "two", "three"]);
        assert_eq!(log.tail(), "one\ntwo\nthree");
        assert!(log.dropped().is_none());
    }

    #[tokio::test]
    async fn a_long_line_is_cut_and_the_cut_is_said() {
        let mut input = vec![b'x'; MAX_LINE + 1000];
        input.extend_from_slice(b"\nafter\n");
        let (lines, log) = forwarded(input).await;
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with(&"x".repeat(MAX_LINE)));
        assert!(lines[0].ends_with("[… 1000 more bytes of this line dropped]"));
        assert_eq!(lines[1], "after");
        assert!(log.dropped().unwrap().contains("1000 byte(s)"));
    }

    #[tokio::test]
    async fn the_total_per_task_is_capped_and_counted() {
        // 40 lines of 32 KiB (+ newline): 1.25 MiB, over the 1 MiB cap.
        let line = [vec![b'y'; 32 * 1024], vec![b'\n']].concat();
        let input = line.repeat(40);
        let (lines, log) = forwarded(input).await;
        let recorded: usize = lines.iter().map(String::len).sum();
        assert!(recorded <= MAX_PER_TASK, "{recorded}");
        assert_eq!(lines.len(), 32);
        let note = log.dropped().unwrap();
        assert!(
            note.contains(&format!("{} byte(s)", 8 * 32 * 1024)),
            "{note}"
        );
        assert!(note.contains("8 line(s)"), "{note}");
        assert!(log.tail().ends_with(&note));
        // A new task of a persistent process starts a fresh budget.
        assert_eq!(log.next_task(), Some(note));
        assert!(log.dropped().is_none());
    }
}
