//! Command agents: an agent backed by an external program, in any language.
//!
//! Protocol (one process per task, the default):
//! - stdin: one JSON object `{"id", "task", "agent", "input", "prompt", "attempt", "visit",
//!   "message_type", "payload"}`, then EOF; `message_type` is `task_assignment` and
//!   `payload` the structured task (`task_id`, `description` = the prompt, `context`,
//!   `constraints` with `time_limit_ms` and `priority`: [`crate::llm::TaskAssignment`]);
//! - stdout: one JSON object. Its `output` field is the task's output (any
//!   JSON); an optional `usage` (`{"prompt_tokens", "completion_tokens"}`)
//!   counts toward budgets; without an `output` field the whole object is
//!   the output;
//! - stderr: progress and log lines, published on the bus as
//!   `agent.<id>.log` (the cockpit's bus pane shows them); lines are cut at
//!   64 KiB and at most 1 MiB is recorded per task, and what was dropped is
//!   said (see [`super::stderr_log`]);
//! - exit code: 0 success, 75 (`EX_TEMPFAIL`) retryable failure, anything
//!   else a fatal failure; killed by a signal counts as retryable.
//!
//! With `persistent = true` one long-lived process serves many tasks: each
//! request is one JSON line on stdin and each reply one JSON line on stdout,
//! echoing the request's `id`. A process that dies is started again for the
//! next task; the task it was working on fails as retryable.
//!
//! The environment is explicit: the program sees only the variables set in
//! `env` and those named in `inherit_env`. The working directory defaults to
//! the workflow file's folder. The program runs confined (no capabilities,
//! no new privileges, dies with agentctl: see [`super::confine`]). On
//! timeout, when the task no longer needs the process, and once a one-shot
//! program has exited, its whole process tree is killed, including
//! descendants that left its process group ([`super::process_tree`]). A
//! one-shot reply is complete when the program exits: a descendant still
//! holding stdout or stderr open does not hold the reply.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

use super::process_tree::TreeGuard;
use super::stderr_log::{self, StderrLog};
use super::{Agent, AgentContext, AgentError, AgentOutput, AgentTask, confine};
use crate::bus::PublishOptions;
use crate::event::{ErrorKind, Id, Usage};
use crate::workflow::model::CommandConfig;

/// `EX_TEMPFAIL` from sysexits.h: "try again later".
pub const EXIT_RETRYABLE: i32 = 75;

/// After a one-shot program exited and its tree was killed, how long the
/// rest of its output may take to arrive (it is already in the pipe, unless
/// something outside the tree holds the pipe open).
const AFTER_EXIT: Duration = Duration::from_secs(2);

/// An agent that runs a program.
pub struct CommandAgent {
    id: Id,
    cfg: CommandConfig,
    live: tokio::sync::Mutex<Option<LiveProcess>>,
}

impl CommandAgent {
    /// A command agent with a validated configuration.
    pub fn new(id: Id, cfg: CommandConfig) -> Self {
        CommandAgent {
            id,
            cfg,
            live: tokio::sync::Mutex::new(None),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.cfg.run[0]);
        cmd.args(&self.cfg.run[1..])
            .current_dir(&self.cfg.cwd)
            .env_clear();
        for name in &self.cfg.inherit_env {
            if let Some(v) = crate::secret::inheritable(name) {
                cmd.env(name, v);
            }
        }
        for (k, v) in &self.cfg.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group, so a timeout can kill the children too.
        #[cfg(unix)]
        cmd.process_group(0);
        cmd
    }

    fn spawn(&self) -> Result<(Child, TreeGuard), AgentError> {
        let child = confine::spawn(self.command()).map_err(|e| {
            AgentError::fatal(format!(
                "command agent `{}` could not start `{}` (in {}): {e}",
                self.id,
                self.cfg.run.join(" "),
                self.cfg.cwd.display()
            ))
        })?;
        let guard = TreeGuard::new(child.id());
        Ok((child, guard))
    }

    fn request(task: &AgentTask) -> Value {
        // The first seven fields are the original protocol; `message_type`
        // and `payload` make the object the task-assignment message too.
        json!({
            "id": &*task.id,
            "task": &*task.id,
            "agent": &*task.agent,
            "input": task.input,
            "prompt": task.prompt,
            "attempt": task.attempt,
            "visit": task.visit,
            "message_type": task.assignment.message_type,
            "payload": task.assignment.payload,
        })
    }

    async fn one_shot(
        &self,
        task: AgentTask,
        ctx: AgentContext,
    ) -> Result<AgentOutput, AgentError> {
        let (mut child, tree) = self.spawn()?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(AgentError::fatal("the command's pipes could not be opened"));
        };
        let request = Self::request(&task).to_string();
        let log = StderrLog::new();
        let mut forwarder = AbortOnDrop(tokio::spawn(stderr_log::forward(
            stderr,
            log.clone(),
            ctx.clone(),
            format!("agent.{}.log", self.id),
        )));
        let max = self.cfg.max_output_bytes;
        let mut out = Vec::new();
        let work = async {
            // A program that exits without reading its input is not an error
            // of ours: ignore a broken pipe here and judge by its exit code.
            let _ = stdin.write_all(request.as_bytes()).await;
            let _ = stdin.write_all(b"\n").await;
            drop(stdin);
            let reading = read_capped(stdout, max, &mut out);
            tokio::pin!(reading);
            let mut read = None;
            let mut status = None;
            tokio::select! {
                r = &mut reading => read = Some(r),
                s = child.wait() => status = Some(s),
            }
            // Over max_output_bytes: no reply can come; stop it now.
            if matches!(read, Some(Err(_))) {
                tree.kill();
            }
            let status = match status {
                Some(s) => s,
                None => child.wait().await,
            };
            // The program exited, so its answer is in the pipe. Whatever it
            // left running is killed now (its task is over), which closes
            // the pipe for good; a writer that escaped even that only costs
            // AFTER_EXIT, not the reply.
            tree.kill();
            let read = match read {
                Some(r) => r,
                None => tokio::time::timeout(AFTER_EXIT, &mut reading)
                    .await
                    .unwrap_or(Ok(())),
            };
            (read, status)
        };
        let (read, status) = match tokio::time::timeout(self.cfg.timeout, work).await {
            Ok(r) => r,
            Err(_) => {
                return Err(AgentError {
                    kind: ErrorKind::Timeout,
                    message: format!(
                        "command agent `{}` did not answer within {} ms; its process group was killed",
                        self.id,
                        self.cfg.timeout.as_millis()
                    ),
                });
            }
        };
        // stderr ends with the tree; bounded for the same reason as stdout.
        let _ = tokio::time::timeout(AFTER_EXIT, forwarder.join()).await;
        if let Some(note) = log.dropped() {
            let _ = ctx
                .publish(
                    &format!("agent.{}.log", self.id),
                    "log",
                    Value::String(note),
                )
                .await;
        }
        let status = status
            .map_err(|e| AgentError::retryable(format!("waiting for `{}` failed: {e}", self.id)))?;
        read?;
        if !status.success() {
            return Err(exit_error(&self.id, status.code(), &log.tail()));
        }
        let reply = parse_reply(&self.id, &out, None)?;
        deliver(&self.id, &task, reply, &ctx).await
    }

    async fn persistent(
        &self,
        task: AgentTask,
        ctx: AgentContext,
    ) -> Result<AgentOutput, AgentError> {
        let mut live = self.live.lock().await;
        if live.is_none() {
            *live = Some(LiveProcess::start(self, &ctx)?);
        }
        let Some(proc_) = live.as_mut() else {
            return Err(AgentError::retryable("the agent process is not running"));
        };
        // The stderr budget is per task: say what the previous one dropped.
        if let Some(note) = proc_.log.next_task() {
            let _ = ctx
                .publish(
                    &format!("agent.{}.log", self.id),
                    "log",
                    Value::String(note),
                )
                .await;
        }
        let mut line = Self::request(&task).to_string();
        line.push('\n');
        let exchange = async {
            proc_.stdin.write_all(line.as_bytes()).await.map_err(|e| {
                AgentError::retryable(format!("command agent `{}` stopped reading: {e}", self.id))
            })?;
            match proc_.stdout.next().await {
                Some(Ok(reply)) => Ok(reply),
                Some(Err(LinesCodecError::MaxLineLengthExceeded)) => Err(AgentError {
                    kind: ErrorKind::Malformed,
                    message: format!(
                        "command agent `{}` replied with more than {} bytes",
                        self.id, self.cfg.max_output_bytes
                    ),
                }),
                Some(Err(e)) => Err(AgentError::retryable(format!(
                    "reading from `{}` failed: {e}",
                    self.id
                ))),
                None => Err(AgentError::retryable(format!(
                    "the process of command agent `{}` exited mid-task; it will be started again",
                    self.id
                ))),
            }
        };
        let reply = match tokio::time::timeout(self.cfg.timeout, exchange).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                // The process is in an unknown state: replace it.
                *live = None;
                return Err(e);
            }
            Err(_) => {
                *live = None;
                return Err(AgentError {
                    kind: ErrorKind::Timeout,
                    message: format!(
                        "command agent `{}` did not answer within {} ms; its process group was killed",
                        self.id,
                        self.cfg.timeout.as_millis()
                    ),
                });
            }
        };
        let parsed = parse_reply(&self.id, reply.as_bytes(), Some(&task.id));
        match parsed {
            Ok(reply) => {
                drop(live);
                deliver(&self.id, &task, reply, &ctx).await
            }
            Err(e) => {
                *live = None;
                Err(e)
            }
        }
    }
}

impl Agent for CommandAgent {
    async fn process(&self, task: AgentTask, ctx: AgentContext) -> Result<AgentOutput, AgentError> {
        if self.cfg.persistent {
            self.persistent(task, ctx).await
        } else {
            self.one_shot(task, ctx).await
        }
    }
}

/// A long-lived agent process.
struct LiveProcess {
    // Declared before the guard: the child is dropped (killed, handed to
    // tokio's reaper) first, then the guard kills what it left.
    _child: Child,
    _tree: TreeGuard,
    stdin: ChildStdin,
    stdout: FramedRead<ChildStdout, LinesCodec>,
    log: Arc<StderrLog>,
    _forwarder: AbortOnDrop,
}

impl LiveProcess {
    fn start(agent: &CommandAgent, ctx: &AgentContext) -> Result<Self, AgentError> {
        let (mut child, tree) = agent.spawn()?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(AgentError::fatal("the command's pipes could not be opened"));
        };
        let log = StderrLog::new();
        let forwarder = AbortOnDrop(tokio::spawn(stderr_log::forward(
            stderr,
            log.clone(),
            ctx.clone(),
            format!("agent.{}.log", agent.id),
        )));
        Ok(LiveProcess {
            _child: child,
            _tree: tree,
            stdin,
            stdout: FramedRead::new(
                stdout,
                LinesCodec::new_with_max_length(agent.cfg.max_output_bytes),
            ),
            log,
            _forwarder: forwarder,
        })
    }
}

/// Aborts a background task when dropped, so no reader outlives its process.
struct AbortOnDrop(JoinHandle<()>);

impl AbortOnDrop {
    async fn join(&mut self) {
        let _ = (&mut self.0).await;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads all of `r` into `buf`, failing once more than `max` bytes arrive.
/// What arrived stays in `buf` even if this future is dropped midway.
async fn read_capped(
    r: impl AsyncRead + Unpin,
    max: usize,
    buf: &mut Vec<u8>,
) -> Result<(), AgentError> {
    let mut limited = r.take(max as u64 + 1);
    let mut chunk = [0u8; 8192];
    loop {
        let n = limited.read(&mut chunk).await.map_err(|e| {
            AgentError::retryable(format!("reading the command's output failed: {e}"))
        })?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if buf.len() > max {
        return Err(AgentError {
            kind: ErrorKind::Malformed,
            message: format!(
                "the command wrote more than {max} bytes on stdout (max_output_bytes); it was stopped"
            ),
        });
    }
    Ok(())
}

fn exit_error(agent: &str, code: Option<i32>, stderr_tail: &str) -> AgentError {
    let said = if stderr_tail.is_empty() {
        String::new()
    } else {
        format!("; it said: {stderr_tail}")
    };
    match code {
        Some(EXIT_RETRYABLE) => AgentError::retryable(format!(
            "command agent `{agent}` asked to be retried (exit {EXIT_RETRYABLE}){said}"
        )),
        Some(c) => AgentError::fatal(format!(
            "command agent `{agent}` failed with exit code {c}{said}"
        )),
        None => AgentError::retryable(format!(
            "command agent `{agent}` was killed by a signal{said}"
        )),
    }
}

/// Turns stdout into an output, or a clear error naming what is wrong.
fn parse_reply(agent: &str, out: &[u8], expect_id: Option<&str>) -> Result<Reply, AgentError> {
    let malformed = |m: String| AgentError {
        kind: ErrorKind::Malformed,
        message: m,
    };
    let text = std::str::from_utf8(out).map_err(|_| {
        malformed(format!(
            "command agent `{agent}` wrote bytes that are not UTF-8"
        ))
    })?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(malformed(format!(
            "command agent `{agent}` wrote nothing on stdout; expected one JSON object"
        )));
    }
    let v: Value = serde_json::from_str(trimmed).map_err(|e| {
        let start = crate::text::prefix_chars(trimmed, 60);
        malformed(format!(
            "command agent `{agent}` wrote something that is not one JSON object ({e}): {start}"
        ))
    })?;
    let Value::Object(mut obj) = v else {
        return Err(malformed(format!(
            "command agent `{agent}` must reply with a JSON object, not {v}"
        )));
    };
    if let Some(id) = expect_id
        && obj.get("id").and_then(Value::as_str) != Some(id)
    {
        return Err(malformed(format!(
            "command agent `{agent}` answered with a different id than task `{id}`"
        )));
    }
    let usage = match obj.remove("usage") {
        None => None,
        Some(u) => Some(
            serde_json::from_value::<Usage>(u)
                .map_err(|e| malformed(format!("command agent `{agent}`: bad `usage` ({e})")))?,
        ),
    };
    let publish = match obj.remove("publish") {
        None => Vec::new(),
        Some(p) => outgoing(agent, p)?,
    };
    obj.remove("id");
    let value = obj.remove("output").unwrap_or(Value::Object(obj));
    Ok(Reply {
        output: AgentOutput { value, usage },
        publish,
    })
}

/// A parsed reply: the output and the messages to publish first.
#[derive(Debug)]
struct Reply {
    output: AgentOutput,
    publish: Vec<Outgoing>,
}

/// A message a reply asks to publish.
#[derive(Debug)]
struct Outgoing {
    topic: String,
    kind: String,
    payload: Value,
    options: PublishOptions,
}

/// Most messages one reply may publish.
const MAX_PUBLISH: usize = 256;

/// The reply's `publish` list: `[{"topic", "to", "kind", "payload",
/// "priority"}]`, each with a topic or a recipient (whose inbox
/// `agent.<to>` is then the topic).
fn outgoing(agent: &str, list: Value) -> Result<Vec<Outgoing>, AgentError> {
    let bad = |m: String| AgentError {
        kind: ErrorKind::Malformed,
        message: format!("command agent `{agent}`: {m}"),
    };
    let Value::Array(items) = list else {
        return Err(bad(
            "`publish` must be a list of messages, e.g. [{\"to\": \"critic\", \"payload\": \"…\"}]"
                .into(),
        ));
    };
    if items.len() > MAX_PUBLISH {
        return Err(bad(format!(
            "`publish` has {} messages; one reply may publish at most {MAX_PUBLISH}",
            items.len()
        )));
    }
    let text = |m: &serde_json::Map<String, Value>,
                i: usize,
                k: &str|
     -> Result<Option<String>, AgentError> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(other) => Err(bad(format!(
                "publish[{i}].{k} must be a non-empty string, not {other}"
            ))),
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(mut m) = item else {
            return Err(bad(format!(
                "publish[{i}] must be an object with a `payload`"
            )));
        };
        let to = text(&m, i, "to")?;
        let topic = match (text(&m, i, "topic")?, &to) {
            (Some(t), _) => t,
            (None, Some(r)) => crate::bus::inbox(r),
            (None, None) => {
                return Err(bad(format!(
                    "publish[{i}] needs a `topic` or a `to` (an agent, whose inbox agent.<to> is the topic)"
                )));
            }
        };
        let kind = text(&m, i, "kind")?.unwrap_or_else(|| "event".into());
        let priority = match m.get("priority") {
            None | Some(Value::Null) => crate::event::BusMessage::DEFAULT_PRIORITY,
            Some(p) => match p.as_u64() {
                Some(n @ 1..=5) => n as u8,
                _ => {
                    return Err(bad(format!(
                        "publish[{i}].priority must be 1 (most urgent) to 5, not {p}"
                    )));
                }
            },
        };
        let payload = m.remove("payload").unwrap_or(Value::Null);
        let mut options = PublishOptions::new().priority(priority);
        if let Some(r) = to {
            options = options.to(r);
        }
        out.push(Outgoing {
            topic,
            kind,
            payload,
            options,
        });
    }
    Ok(out)
}

/// Publishes what the reply asked (as the agent, correlated with the
/// task), then hands over its output.
async fn deliver(
    agent: &str,
    task: &AgentTask,
    reply: Reply,
    ctx: &AgentContext,
) -> Result<AgentOutput, AgentError> {
    for m in reply.publish {
        ctx.publish_with(
            &m.topic,
            m.kind,
            m.payload,
            m.options.correlation(task.id.clone()),
        )
        .await
        .map_err(|e| AgentError {
            kind: ErrorKind::Malformed,
            message: format!(
                "command agent `{agent}` asked to publish on `{}`: {e}",
                m.topic
            ),
        })?;
    }
    Ok(reply.output)
}

/// Default time limit, for callers building configs in code.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_parsed_strictly() {
        let ok = parse_reply(
            "a",
            br#"{"output": {"n": 1}, "usage": {"prompt_tokens": 3, "completion_tokens": 4}}"#,
            None,
        )
        .unwrap()
        .output;
        assert_eq!(ok.value, json!({"n": 1}));
        assert_eq!(ok.usage.map(|u| u.total()), Some(7));
        assert_eq!(
            parse_reply("a", br#"{"answer": 42}"#, None)
                .unwrap()
                .output
                .value,
            json!({"answer": 42})
        );
        let e = parse_reply("a", b"hello", None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
        assert!(e.message.contains("not one JSON object"), "{}", e.message);
        assert!(
            parse_reply("a", b"[1,2]", None)
                .unwrap_err()
                .message
                .contains("JSON object")
        );
        assert!(
            parse_reply("a", b"", None)
                .unwrap_err()
                .message
                .contains("nothing")
        );
        assert!(
            parse_reply("a", br#"{"id": "t2", "output": 1}"#, Some("t1"))
                .unwrap_err()
                .message
                .contains("different id")
        );
        assert_eq!(
            parse_reply("a", br#"{"id": "t1", "output": 1}"#, Some("t1"))
                .unwrap()
                .output
                .value,
            json!(1)
        );
    }

    fn agent(script: &str, timeout: Duration) -> CommandAgent {
        CommandAgent::new(
            "prog".into(),
            CommandConfig {
                run: vec!["sh".into(), "-c".into(), script.into()],
                env: vec![],
                inherit_env: vec!["PATH".into()],
                cwd: std::env::temp_dir(),
                cwd_given: None,
                timeout,
                persistent: false,
                max_output_bytes: 1024 * 1024,
            },
        )
    }

    fn task() -> AgentTask {
        AgentTask {
            id: "t".into(),
            agent: "prog".into(),
            input: json!(null),
            prompt: String::new(),
            attempt: 1,
            visit: 0,
            assignment: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_reply_does_not_wait_for_descendants_holding_the_pipes() {
        // As agentctl's main does (confine::setup_process): escapees are
        // re-parented to this process, where the tree kill finds them.
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("escapee.pid");
        // A group member and a setsid escapee both keep stdout and stderr
        // open for 30 s; the script answers once the escapee has its own
        // session. The reply is complete when the program exits.
        let a = agent(
            &format!(
                r#"sleep 30 & setsid sh -c 'echo $$ > {p}.tmp; mv {p}.tmp {p}; exec sleep 30' &
                while [ ! -s {p} ]; do sleep 0.01; done
                echo '{{"output": 7}}'; echo bye >&2"#,
                p = pidfile.display()
            ),
            Duration::from_secs(10),
        );
        let started = std::time::Instant::now();
        let out = a
            .process(task(), AgentContext::detached("prog"))
            .await
            .unwrap();
        assert_eq!(out.value, json!(7));
        // A hang check (the sleeps last 30 s, the time limit is 10 s).
        assert!(started.elapsed() < Duration::from_secs(10));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let gone = stat.is_empty() || stat.contains(") Z ");
        if !gone {
            // SAFETY: kill(2) on the escapee this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        assert!(gone, "the setsid escapee {pid} outlived the task: {stat}");
    }

    #[tokio::test]
    async fn stderr_drops_are_said_in_the_error() {
        // One 200 KiB line: cut at 64 KiB, the rest counted.
        let a = agent(
            "head -c 204800 /dev/zero | tr '\\0' x >&2; echo >&2; exit 3",
            Duration::from_secs(10),
        );
        let e = a
            .process(task(), AgentContext::detached("prog"))
            .await
            .unwrap_err();
        assert!(e.message.contains("exit code 3"), "{}", e.message);
        assert!(
            e.message.contains(&format!(
                "{} byte(s) of stderr were not recorded",
                204800 - 65536
            )),
            "{}",
            e.message
        );
        assert!(e.message.len() < 2000, "{}", e.message.len());
    }

    #[tokio::test]
    async fn a_reply_publishes_addressed_prioritised_messages_as_the_agent() {
        let a = agent(
            r#"cat > /dev/null; echo '{"output": 1, "publish": [{"to": "critic", "kind": "ask", "payload": {"q": "ok?"}, "priority": 1}, {"topic": "notes.draft", "payload": "v1"}]}'"#,
            Duration::from_secs(10),
        );
        let ctx = AgentContext::detached("prog");
        let mut inbox = ctx.subscribe("agent.critic").await.unwrap();
        let mut notes = ctx.subscribe("notes.*").await.unwrap();
        let out = a.process(task(), ctx).await.unwrap();
        assert_eq!(out.value, json!(1), "`publish` is not part of the output");
        let m = inbox.try_recv().expect("the addressed message");
        assert_eq!(
            (&*m.from, m.to.as_deref(), &*m.kind, m.priority),
            ("prog", Some("critic"), "ask", 1)
        );
        assert_eq!(
            (&*m.topic, m.correlation.as_deref()),
            ("agent.critic", Some("t"))
        );
        assert_eq!(m.payload, json!({"q": "ok?"}));
        let n = notes.try_recv().expect("the broadcast");
        assert_eq!((n.to.as_deref(), n.priority, &*n.kind), (None, 3, "event"));
        assert!(inbox.try_recv().is_none());
        let bad = parse_reply(
            "a",
            br#"{"output": 1, "publish": [{"payload": 1, "priority": 9}]}"#,
            None,
        )
        .unwrap_err();
        assert!(
            bad.message.contains("publish[0] needs a `topic` or a `to`"),
            "{}",
            bad.message
        );
        let bad = parse_reply(
            "a",
            br#"{"output": 1, "publish": [{"to": "b", "priority": 9}]}"#,
            None,
        )
        .unwrap_err();
        assert!(
            bad.message.contains("publish[0].priority must be 1"),
            "{}",
            bad.message
        );
    }

    #[tokio::test]
    async fn stdin_carries_the_old_fields_and_the_task_assignment() {
        let a = agent(
            r#"printf '{"output": %s}' "$(cat)""#,
            Duration::from_secs(10),
        );
        let mut t = task();
        t.prompt = "Summarise".into();
        t.assignment = crate::llm::TaskAssignment::new(
            "t".into(),
            "Summarise".into(),
            crate::llm::task_assignment::AssignmentContext {
                node: "n".into(),
                agent: "prog".into(),
                attempt: 1,
                visit: 0,
            },
        );
        t.assignment.payload.constraints.time_limit_ms = Some(1000);
        let out = a.process(t, AgentContext::detached("prog")).await.unwrap();
        let v = out.value;
        for k in ["id", "task", "agent", "input", "prompt", "attempt", "visit"] {
            assert!(v.get(k).is_some(), "{k} is kept: {v}");
        }
        assert_eq!(v["message_type"], "task_assignment");
        assert_eq!(v["payload"]["description"], v["prompt"]);
        assert_eq!(v["payload"]["task_id"], v["id"]);
        assert_eq!(v["payload"]["constraints"]["time_limit_ms"], 1000);
        assert_eq!(v["payload"]["context"]["node"], "n");
    }

    #[test]
    fn exit_codes_decide_retrying() {
        assert!(exit_error("a", Some(75), "").kind.is_retryable());
        assert!(!exit_error("a", Some(2), "boom").kind.is_retryable());
        assert!(exit_error("a", Some(2), "boom").message.contains("boom"));
        assert!(exit_error("a", None, "").kind.is_retryable());
    }
}
