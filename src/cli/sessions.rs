//! `agentctl sessions list|show|export|rm|prune`: the recorded sessions.

use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::exit;
use super::session::DirArgs;
use agentctl::event::TaskState;
use agentctl::session::{self, SessionReader, SessionState, export};

#[derive(Args, Debug)]
pub(crate) struct SessionsArgs {
    #[command(subcommand)]
    command: SessionsCommand,
}

#[derive(Subcommand, Debug)]
enum SessionsCommand {
    /// List recorded sessions, newest first.
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DirArgs,
    },
    /// Summary, per-agent table and task tree of one session.
    Show {
        /// Session id, unique id prefix, or path.
        session: String,
        #[command(flatten)]
        dir: DirArgs,
    },
    /// Export a session as Markdown or JSON (to stdout).
    Export {
        /// Session id, unique id prefix, or path.
        session: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Md)]
        format: ExportFormat,
        #[command(flatten)]
        dir: DirArgs,
    },
    /// Delete a session.
    Rm {
        /// Session id, unique id prefix, or path.
        session: String,
        #[command(flatten)]
        dir: DirArgs,
    },
    /// Delete sessions older than a duration (e.g. 30d, 12h, 90m).
    Prune {
        /// Age: a number with s, m, h or d.
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: Duration,
        /// Only print what would be deleted.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        dir: DirArgs,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ExportFormat {
    Md,
    Json,
}

pub(crate) fn main(args: SessionsArgs) -> i32 {
    let r = match args.command {
        SessionsCommand::List { json, dir } => list(&dir, json),
        SessionsCommand::Show { session, dir } => show(&dir, &session),
        SessionsCommand::Export {
            session,
            format,
            dir,
        } => export_cmd(&dir, &session, format),
        SessionsCommand::Rm { session, dir } => rm(&dir, &session),
        SessionsCommand::Prune {
            older_than,
            dry_run,
            dir,
        } => prune(&dir, older_than, dry_run),
    };
    r.unwrap_or_else(|c| c)
}

fn parse_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not an age; write e.g. 30d, 12h, 90m or 45s"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" | "" => 86_400,
        other => return Err(format!("unknown unit `{other}` in `{s}`; use s, m, h or d")),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

fn list(dir: &DirArgs, as_json: bool) -> Result<i32, i32> {
    let d = dir.dir()?;
    let files = session::list_files(&d).map_err(|e| {
        eprintln!("error: {e}");
        exit::BAD_INPUT
    })?;
    let mut rows = Vec::new();
    for f in &files {
        match SessionReader::open(f) {
            Ok(r) => {
                let s = r.state();
                let fork = r.header().fork.as_ref();
                rows.push(json!({
                    "id": s.session,
                    "workflow": s.workflow,
                    "started_us": s.started_us,
                    "started": format_time(s.started_us),
                    "duration_ms": s.duration_ms(),
                    "status": s.status_name(),
                    "tasks": s.tasks.len(),
                    "tasks_completed": s.completed(),
                    "tokens": s.total_usage.total(),
                    // No prices are configured yet (budgets are issue #3).
                    "cost": null,
                    "path": f.display().to_string(),
                    // Lineage: the session this one was forked from, and where.
                    "parent": fork.map(|f| f.parent.clone()),
                    "fork_point": fork.map(|f| json!({
                        "at": f.at,
                        "events": f.events,
                        "seq": f.seq,
                        "changed": f.changed,
                    })),
                }));
            }
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        eprintln!("no sessions in {}", d.display());
        return Ok(exit::OK);
    }
    println!(
        "{:<18} {:<18} {:<20} {:>9} {:<12} {:>11} {:>9} {:>6}  {}",
        "ID",
        "WORKFLOW",
        "STARTED (UTC)",
        "DURATION",
        "STATUS",
        "TASKS",
        "TOKENS",
        "COST",
        "FORKED FROM"
    );
    for r in &rows {
        let lineage = match (r["parent"].as_str(), r["fork_point"]["at"].as_str()) {
            (Some(p), Some(at)) => format!("{p} at {at}"),
            _ => "—".to_string(),
        };
        println!(
            "{:<18} {:<18} {:<20} {:>9} {:<12} {:>11} {:>9} {:>6}  {}",
            r["id"].as_str().unwrap_or(""),
            r["workflow"].as_str().unwrap_or(""),
            r["started"].as_str().unwrap_or(""),
            format_duration(r["duration_ms"].as_f64().unwrap_or(0.0)),
            r["status"].as_str().unwrap_or(""),
            format!(
                "{}/{}",
                r["tasks_completed"].as_u64().unwrap_or(0),
                r["tasks"].as_u64().unwrap_or(0)
            ),
            r["tokens"].as_u64().unwrap_or(0),
            "—",
            lineage,
        );
    }
    Ok(exit::OK)
}

fn show(dir: &DirArgs, what: &str) -> Result<i32, i32> {
    let r = dir.open(what)?;
    let s = r.state();
    let h = r.header();
    println!("session   {}", s.session);
    println!("workflow  {} ({})", h.workflow.name, h.workflow.origin);
    println!(
        "started   {} · duration {} · runs {}",
        format_time(s.started_us),
        format_duration(s.duration_ms()),
        s.runs
    );
    println!("status    {}", s.status_name());
    if let Some(f) = &h.fork {
        println!(
            "forked    from {} at {} (its first {} events, up to seq {}){}",
            f.parent,
            f.at,
            f.events,
            f.seq,
            if f.changed.is_empty() {
                String::new()
            } else {
                format!(" · changed {}", f.changed.join(", "))
            }
        );
    }
    println!(
        "tasks     {} completed of {} · {} events",
        s.completed(),
        s.tasks.len(),
        s.events
    );
    println!(
        "tokens    {} ({} prompt, {} completion) · seed {}",
        s.total_usage.total(),
        s.total_usage.prompt_tokens,
        s.total_usage.completion_tokens,
        h.seed
    );
    if let Some(e) = &s.end_error {
        println!("error     {e}");
    }
    if !s.agents.is_empty() {
        println!(
            "\n{:<16} {:>7} {:>7} {:>9} {:>10} {:>10}",
            "AGENT", "CALLS", "ERRORS", "COMPLETED", "PROMPT", "COMPLETION"
        );
        for a in s.agents_by_id() {
            let id = &a.id;
            println!(
                "{:<16} {:>7} {:>7} {:>9} {:>10} {:>10}",
                id,
                a.calls,
                a.errors,
                a.completed,
                a.usage.prompt_tokens,
                a.usage.completion_tokens
            );
        }
    }
    println!("\nTASKS");
    print_tree(&s);
    if !s.gate_openings.is_empty() {
        println!("\nGATES");
        for g in s.gate_openings.iter() {
            let d = match &g.decision {
                Some((a, c)) => format!(
                    "{}{}",
                    if *a { "approved" } else { "denied" },
                    c.as_ref().map(|c| format!(": {c}")).unwrap_or_default()
                ),
                None => "waiting".into(),
            };
            println!("  {} (revision {}) {d}", g.gate, g.revision);
        }
    }
    Ok(exit::OK)
}

/// Tasks nested under their parent (plan subtasks) or their path prefix.
fn print_tree(s: &SessionState) {
    const MAX: usize = 200;
    for (i, t) in s.tasks.iter().enumerate() {
        if i == MAX {
            println!(
                "  … {} more (agentctl sessions export for all)",
                s.tasks.len() - MAX
            );
            break;
        }
        let depth = match &t.parent {
            Some(_) => 2,
            None => 1 + t.id.matches('/').count().min(4),
        };
        let mark = match t.state {
            TaskState::Completed => "✓",
            TaskState::Failed => "✗",
            TaskState::Cancelled => "–",
            _ => "…",
        };
        println!(
            "{:indent$}{mark} {} [{}] attempts {} · {} · {}",
            "",
            t.id,
            t.state.as_str(),
            t.attempts,
            t.agent.as_deref().unwrap_or("—"),
            t.title,
            indent = depth * 2
        );
    }
}

fn export_cmd(dir: &DirArgs, what: &str, format: ExportFormat) -> Result<i32, i32> {
    let r = dir.open(what)?;
    let s = r.state();
    match format {
        ExportFormat::Md => print!("{}", export::to_markdown(r.header(), &s)),
        ExportFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&export::to_json(r.header(), &s)).unwrap_or_default()
        ),
    }
    Ok(exit::OK)
}

fn rm(dir: &DirArgs, what: &str) -> Result<i32, i32> {
    let d = dir.dir()?;
    let path = session::locate(&d, what).map_err(|e| {
        eprintln!("error: {e}");
        exit::BAD_INPUT
    })?;
    // Only delete what really is a session file.
    if let Err(e) = SessionReader::open(&path) {
        eprintln!("error: {e}\n  = hint: not deleting a file that is not a readable session");
        return Err(exit::BAD_INPUT);
    }
    match remove_unless_recording(&path) {
        Ok(()) => {}
        Err(Removal::Recording) => {
            eprintln!(
                "error: {}: the session is being recorded by another agentctl process right now; not deleting it\n  \
                 = hint: wait for that run to end (or stop it), then remove it",
                path.display()
            );
            return Err(exit::BAD_INPUT);
        }
        Err(Removal::Io(e)) => {
            eprintln!("error: {}: {e}", path.display());
            return Err(1);
        }
    }
    eprintln!("removed {}", path.display());
    Ok(exit::OK)
}

/// Why a session file was not removed.
enum Removal {
    /// Another process holds the recorder's lock on it.
    Recording,
    Io(std::io::Error),
}

/// Deletes a session file unless a recorder holds its lock (the exclusive
/// lock `Recorder` takes for as long as it writes). The lock is held here
/// until the file is gone, so a `resume` cannot start writing in between.
fn remove_unless_recording(path: &std::path::Path) -> Result<(), Removal> {
    let file = std::fs::File::open(path).map_err(Removal::Io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(Removal::Recording),
        Err(std::fs::TryLockError::Error(e)) => return Err(Removal::Io(e)),
    }
    std::fs::remove_file(path).map_err(Removal::Io)
}

fn prune(dir: &DirArgs, older_than: Duration, dry_run: bool) -> Result<i32, i32> {
    let d = dir.dir()?;
    let files = session::list_files(&d).map_err(|e| {
        eprintln!("error: {e}");
        exit::BAD_INPUT
    })?;
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let cutoff_us = cutoff
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let mut removed = 0;
    for f in files {
        let Ok(r) = SessionReader::open(&f) else {
            continue;
        };
        // Age is the last activity, so a resumed session counts as recent.
        let s = r.state();
        if s.last_us >= cutoff_us {
            continue;
        }
        if dry_run {
            println!("would remove {}", f.display());
        } else if let Err(e) = remove_unless_recording(&f) {
            match e {
                Removal::Recording => eprintln!(
                    "warning: {}: being recorded by another agentctl process; kept",
                    f.display()
                ),
                Removal::Io(e) => eprintln!("warning: {}: {e}", f.display()),
            }
            continue;
        } else {
            println!("removed {}", f.display());
        }
        removed += 1;
    }
    eprintln!(
        "{removed} session(s) {} older than {}",
        if dry_run {
            "would be removed,"
        } else {
            "removed,"
        },
        humantime_days(older_than)
    );
    Ok(exit::OK)
}

fn humantime_days(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else {
        format!("{s}s")
    }
}

fn format_duration(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if ms < 60_000.0 {
        format!("{:.1}s", ms / 1000.0)
    } else {
        format!(
            "{:.0}m{:02.0}s",
            (ms / 60_000.0).floor(),
            (ms % 60_000.0) / 1000.0
        )
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) from µs since the epoch.
pub(crate) fn format_time(us: u64) -> String {
    let secs = us / 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_times_parse_and_format() {
        assert_eq!(parse_age("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("90m"), Ok(Duration::from_secs(5400)));
        assert!(parse_age("soon").is_err());
        assert!(parse_age("3w").unwrap_err().contains("unknown unit"));
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_763_677_200_000_000), "2025-11-20 22:20:00");
    }
}
