//! The cockpit (filled in by the TUI work).
