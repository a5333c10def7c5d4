//! How states and quantities read on screen: state glyphs, token counts,
//! durations and clocks. Shared by the panes and the cached texts below them.

use crate::event::{NodeState, TaskState};

/// Glyph for a task state (shape as well as colour, for colour-blind users and NO_COLOR).
pub fn task_glyph(s: TaskState) -> &'static str {
    match s {
        TaskState::Pending => "○",
        TaskState::Planning => "◇",
        TaskState::InProgress => "◐",
        TaskState::Review => "◎",
        TaskState::Revision => "↻",
        TaskState::Completed => "●",
        TaskState::Failed => "✗",
        TaskState::Paused => "‖",
        TaskState::Cancelled => "⊘",
    }
}

/// Glyph for a node state.
pub fn node_glyph(s: NodeState) -> &'static str {
    match s {
        NodeState::Pending => "○",
        NodeState::Running => "◐",
        NodeState::Completed => "●",
        NodeState::Failed => "✗",
        NodeState::Cancelled => "⊘",
    }
}

/// `1234` → `1.2k`, `2_500_000` → `2.5M`.
pub fn fmt_tokens(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// Milliseconds as `850ms`, `12.3s`, `4m05s`, `1h02m`.
pub fn fmt_ms(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if ms < 60_000.0 {
        format!("{:.1}s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        let s = (ms / 1000.0) as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = (ms / 60_000.0) as u64;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

/// Microseconds as `mm:ss` (or `h:mm:ss`).
pub fn fmt_clock(us: u64) -> String {
    let s = us / 1_000_000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}
