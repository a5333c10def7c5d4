//! Where a fork cuts its parent's history (`agentctl fork --at`): after an
//! event, at a recorded time, or just before a gate opened. It resolves to
//! the number of events the fork keeps.

use std::fmt;
use std::str::FromStr;

use super::reader::SessionReader;
use crate::event::EventKind;

/// A fork point as written after `--at`.
#[derive(Debug, Clone, PartialEq)]
pub enum ForkPoint {
    /// `120`: after the event with this `seq`.
    Seq(u64),
    /// `#120`: after the first 120 events (the replay's "event 120/255").
    Events(usize),
    /// `1:05`, `90s`, `250ms`, `2m`: the events recorded before this time
    /// from the first event (µs).
    Time(u64),
    /// `gate:ID`: everything before the gate first opened, so the fork
    /// opens it again and a new decision is made.
    Gate(String),
}

/// What `--at` accepts, for messages.
pub const FORK_POINT_HELP: &str = "give an event's seq (120), an event count (#120), a time from the start (1:05, 90s, 250ms, 2m) or gate:ID";

impl FromStr for ForkPoint {
    type Err = String;

    fn from_str(s: &str) -> Result<ForkPoint, String> {
        let t = s.trim();
        let bad = || format!("cannot read the fork point `{t}`: {FORK_POINT_HELP}");
        if let Some(id) = t.strip_prefix("gate:") {
            let id = id.trim();
            if id.is_empty() {
                return Err(format!(
                    "`{t}` names no gate: write gate:ID, e.g. gate:ship"
                ));
            }
            return Ok(ForkPoint::Gate(id.to_string()));
        }
        if let Some(n) = t.strip_prefix('#') {
            return n.trim().parse().map(ForkPoint::Events).map_err(|_| bad());
        }
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse().map(ForkPoint::Seq).map_err(|_| bad());
        }
        super::time_offset::duration_us(t, false)
            .map(ForkPoint::Time)
            .ok_or_else(bad)
    }
}

impl fmt::Display for ForkPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForkPoint::Seq(n) => write!(f, "{n}"),
            ForkPoint::Events(n) => write!(f, "#{n}"),
            ForkPoint::Time(us) if us % 1_000_000 == 0 => write!(f, "{}s", us / 1_000_000),
            ForkPoint::Time(us) => write!(f, "{}ms", us / 1000),
            ForkPoint::Gate(g) => write!(f, "gate:{g}"),
        }
    }
}

impl ForkPoint {
    /// How many of the session's events the fork keeps; an error says why
    /// the point is not in the session.
    pub fn resolve(&self, reader: &SessionReader) -> Result<usize, String> {
        let len = reader.len();
        match self {
            ForkPoint::Events(n) if *n <= len => Ok(*n),
            ForkPoint::Events(n) => Err(format!(
                "the session has {len} events; #{n} is past its end"
            )),
            ForkPoint::Seq(seq) => {
                // `seq` grows through the file (a resume continues it).
                let mut last = 0;
                for (i, ev) in reader.events().enumerate() {
                    if ev.seq == *seq {
                        return Ok(i + 1);
                    }
                    if ev.seq > *seq {
                        return Err(format!(
                            "the session has no event with seq {seq} (the nearest before is {last}); #N counts events instead"
                        ));
                    }
                    last = ev.seq;
                }
                Err(format!(
                    "the session's last event has seq {last}; {seq} is past its end"
                ))
            }
            ForkPoint::Time(us) => {
                let first = reader
                    .ts(0)
                    .ok_or("the session has no events to fork from")?;
                let last = reader.ts(len.saturating_sub(1)).unwrap_or(first);
                if first.saturating_add(*us) > last {
                    return Err(format!(
                        "the session lasts {:.1}s; {:.1}s is past its end",
                        (last - first) as f64 / 1e6,
                        *us as f64 / 1e6
                    ));
                }
                Ok(reader.index_at_time(first + us))
            }
            ForkPoint::Gate(gate) => {
                let mut seen = Vec::new();
                for (i, ev) in reader.events().enumerate() {
                    if let EventKind::GateOpened { gate: g, .. } = &ev.kind {
                        if **g == **gate {
                            // Only the events before it: what came with the
                            // gate's opening is where the fork goes its own way.
                            return Ok(i);
                        }
                        if !seen.contains(&g.to_string()) {
                            seen.push(g.to_string());
                        }
                    }
                }
                Err(if seen.is_empty() {
                    format!("no gate opened in the session, so gate:{gate} is not a point in it")
                } else {
                    format!(
                        "gate `{gate}` never opened in the session; gates that did: {}",
                        seen.join(", ")
                    )
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_points_parse_and_bad_ones_say_what_is_accepted() {
        assert_eq!("120".parse(), Ok(ForkPoint::Seq(120)));
        assert_eq!("#7".parse(), Ok(ForkPoint::Events(7)));
        assert_eq!("1:05".parse(), Ok(ForkPoint::Time(65_000_000)));
        assert_eq!("250ms".parse(), Ok(ForkPoint::Time(250_000)));
        assert_eq!("1.5s".parse(), Ok(ForkPoint::Time(1_500_000)));
        assert_eq!("gate:ship".parse(), Ok(ForkPoint::Gate("ship".into())));
        let e = "soon".parse::<ForkPoint>().unwrap_err();
        assert!(e.contains("gate:ID") && e.contains("#120"), "{e}");
        assert!(
            "gate:"
                .parse::<ForkPoint>()
                .unwrap_err()
                .contains("names no gate")
        );
        // Shown (and recorded) in a form that parses back to the same point.
        for p in ["120", "#7", "1:05", "250ms", "gate:ship"] {
            let point: ForkPoint = p.parse().unwrap();
            assert_eq!(point.to_string().parse::<ForkPoint>(), Ok(point), "{p}");
        }
    }

    fn reader() -> SessionReader {
        let h = r#"{"format":"agentctl-session","version":2,"agentctl":"0.1.0","session":"s-1","started_at":1,"workflow":{"name":"w","origin":"builtin:w","hash":"h","text":""},"seed":0,"input":null,"providers":[]}"#;
        let mut text = format!("{h}\n");
        let kinds = [
            r#""type":"node_state_changed","node":"n","state":"running""#,
            r#""type":"gate_opened","gate":"g","node":"g","artifact":null,"revision":0"#,
            r#""type":"node_state_changed","node":"n","state":"completed""#,
        ];
        for (i, k) in kinds.iter().enumerate() {
            let seq = i as u64 + 5;
            let ts = 1_000_000 * (i as u64 + 1);
            text.push_str(&format!(
                "{{\"seq\":{seq},\"ts\":{ts},\"session\":\"s-1\",{k}}}\n"
            ));
        }
        SessionReader::from_bytes(std::path::Path::new("s.jsonl"), text.into_bytes()).unwrap()
    }

    #[test]
    fn fork_points_resolve_to_the_events_kept() {
        let r = reader();
        assert_eq!(ForkPoint::Seq(6).resolve(&r), Ok(2));
        assert_eq!(ForkPoint::Events(3).resolve(&r), Ok(3));
        assert_eq!(ForkPoint::Gate("g".into()).resolve(&r), Ok(1));
        assert_eq!(ForkPoint::Time(1_000_000).resolve(&r), Ok(1));
        let e = ForkPoint::Gate("nope".into()).resolve(&r).unwrap_err();
        assert!(e.contains("gates that did: g"), "{e}");
        assert!(
            ForkPoint::Seq(99)
                .resolve(&r)
                .unwrap_err()
                .contains("past its end")
        );
        assert!(
            ForkPoint::Seq(1)
                .resolve(&r)
                .unwrap_err()
                .contains("no event with seq 1")
        );
        assert!(
            ForkPoint::Events(4)
                .resolve(&r)
                .unwrap_err()
                .contains("past its end")
        );
        assert!(
            ForkPoint::Time(9_000_000)
                .resolve(&r)
                .unwrap_err()
                .contains("past its end")
        );
    }
}
