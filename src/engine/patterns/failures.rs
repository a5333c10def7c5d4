//! The failed calls of a pattern that needs several of them (debate turns,
//! ballots): when too few succeed, its error gives their cause as it came
//! (`choose: every turn failed: writer: http://… answered HTTP 500: …`),
//! not only a count.

use crate::engine::run::TaskError;

/// The first failure and how many there were (bounded: nothing per call).
#[derive(Debug, Default)]
pub(crate) struct CallFailures {
    first: Option<TaskError>,
    count: u32,
}

impl CallFailures {
    pub(crate) fn record(&mut self, e: &TaskError) {
        self.count = self.count.saturating_add(1);
        if self.first.is_none() {
            self.first = Some(e.clone());
        }
    }

    /// The first failure's message, and how many more there were.
    pub(crate) fn cause(&self) -> Option<String> {
        let first = self.first.as_ref()?;
        Some(match self.count {
            0 | 1 => first.message.clone(),
            n => format!("{} (and {} more failed call(s))", first.message, n - 1),
        })
    }

    /// `<node>: every <what> failed: <cause>`, of the first failure's
    /// kind, when any failed.
    pub(crate) fn every(&self, node: &str, what: &str) -> Option<TaskError> {
        let first = self.first.as_ref()?;
        Some(TaskError::new(
            first.kind,
            format!("{node}: every {what} failed: {}", self.cause()?),
        ))
    }

    /// `err` with the cause of these failures added, when there were any.
    pub(crate) fn explain(&self, mut err: TaskError, what: &str) -> TaskError {
        if let Some(cause) = self.cause() {
            err.message
                .push_str(&format!("; {} {what}(s) failed: {cause}", self.count));
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ErrorKind;

    #[test]
    fn the_cause_is_the_first_failure_as_it_came() {
        let mut f = CallFailures::default();
        assert!(f.every("n", "turn").is_none());
        let http = TaskError::new(
            ErrorKind::Server,
            "a: http://127.0.0.1:1/v1/chat/completions answered HTTP 500: nope",
        );
        f.record(&http);
        f.record(&TaskError::new(ErrorKind::Timeout, "b: no reply"));
        let e = f.every("choose", "turn").unwrap();
        assert_eq!(e.kind, ErrorKind::Server);
        assert_eq!(
            e.message,
            "choose: every turn failed: a: http://127.0.0.1:1/v1/chat/completions answered HTTP 500: nope (and 1 more failed call(s))"
        );
        let e = f.explain(TaskError::workflow("v: no consensus"), "ballot");
        assert!(
            e.message
                .starts_with("v: no consensus; 2 ballot(s) failed: a: http://"),
            "{}",
            e.message
        );
    }
}
