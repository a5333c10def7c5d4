//! A real terminal for end-to-end tests: a private tmux server running one
//! command, polled with `capture-pane` against a deadline (no fixed sleeps),
//! killed on drop even when an assertion fails.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    /// How long `wait_for` and `wait_text` wait for one screen state.
    patience: Duration,
}

impl Tmux {
    /// Runs `command` in a new `width`×`height` session with `env` set.
    pub fn start(command: &str, env: &[(&str, &Path)], (width, height): (u16, u16)) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let t = Tmux {
            socket: format!("agentctl-e2e-{}-{n}", std::process::id()),
            // Generous for a loaded 2-core CI machine.
            patience: Duration::from_secs(20),
        };
        let (w, h) = (width.to_string(), height.to_string());
        let mut args = vec!["new-session", "-d", "-x", w.as_str(), "-y", h.as_str()];
        let pairs: Vec<String> = env
            .iter()
            .map(|(k, v)| format!("{k}={}", v.display()))
            .collect();
        for p in &pairs {
            args.push("-e");
            args.push(p);
        }
        args.push(command);
        let out = t.tmux(&args);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    /// Waits at most `limit` for each screen state.
    pub fn patience(mut self, limit: Duration) -> Tmux {
        self.patience = limit;
        self
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            // No user configuration: a fixed, predictable terminal.
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux is required for this test (scripts/test installs it)")
    }

    pub fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", "0"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success());
    }

    /// Types `text` as it is.
    pub fn literal(&self, text: &str) {
        assert!(
            self.tmux(&["send-keys", "-t", "0", "-l", text])
                .status
                .success()
        );
    }

    /// Types `text`, then Enter.
    pub fn line(&self, text: &str) {
        self.literal(text);
        self.keys(&["Enter"]);
    }

    pub fn display(&self, format: &str) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", "0", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Polls the screen until `pred` holds; panics with the screen otherwise.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_within(what, self.patience, pred)
    }

    /// As `wait_for`, with its own bound.
    pub fn wait_within(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen was:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Polls until `text` shows.
    pub fn wait_text(&self, text: &str) -> String {
        self.wait_for(&format!("{text:?}"), |s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let path = self.tmux(&["display-message", "-p", "#{socket_path}"]);
        let _ = self.tmux(&["kill-server"]);
        // tmux leaves its socket file behind when killed; do not litter /tmp.
        let path = String::from_utf8_lossy(&path.stdout).trim().to_owned();
        if !path.is_empty() {
            let _ = std::fs::remove_file(path);
        }
    }
}
