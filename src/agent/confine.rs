//! What a program agentctl starts (a command agent, a `shell` command) may
//! do, and the process-wide settings that keep it from reaching agentctl.
//!
//! In the child, between fork and exec ([`spawn`]):
//! - `PR_SET_PDEATHSIG(SIGKILL)`: the child dies with agentctl, even when
//!   agentctl is killed with SIGKILL. The kernel ties this signal to the
//!   *thread* that forked, so every child is forked from one thread that
//!   lives as long as the process (the spawner thread below), never from a
//!   runtime worker or a blocking-pool thread that may exit while the child
//!   runs;
//! - every capability is dropped from the bounding and ambient sets and the
//!   effective, permitted and inheritable sets are emptied, then
//!   `PR_SET_NO_NEW_PRIVS` is set: even as root the program cannot ptrace,
//!   read `/proc/PPID/mem`, or regain privileges through setuid or file
//!   capabilities.
//!
//! In agentctl ([`setup_process`], first thing in `main`): not dumpable, so
//! `/proc/PID/environ`, `/proc/PID/mem` and ptrace need CAP_SYS_PTRACE,
//! which children no longer have; and a child subreaper, so a descendant
//! whose parent exits is re-parented to agentctl, where
//! [`super::process_tree`] finds and kills it, instead of escaping to init.
//!
//! Every exit agentctl controls (the end of a task, a timeout, cancel,
//! SIGINT/SIGTERM/SIGHUP through the run's cancel path, the end of `main`)
//! kills each child's whole tree. What survives a SIGKILL of agentctl
//! itself (or any death that runs no code of its own): the programs it
//! started directly die with it (the parent-death signal), but whatever
//! *they* started keeps running, re-parented to init or the nearest
//! subreaper above agentctl. Without cgroups nothing else tracks them.

use std::io;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use tokio::process::{Child, Command};

/// Makes agentctl non-dumpable and a child subreaper, and starts the spawner
/// thread. Call once, early in `main`. Failures are reported, not fatal: the
/// child-side confinement still applies.
pub fn setup_process() -> Vec<String> {
    let mut problems = Vec::new();
    // SAFETY: prctl with integer arguments has no memory-safety
    // preconditions.
    unsafe {
        if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 {
            problems.push(format!(
                "cannot make agentctl non-dumpable: {}",
                io::Error::last_os_error()
            ));
        }
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
            problems.push(format!(
                "cannot make agentctl a child subreaper: {}",
                io::Error::last_os_error()
            ));
        }
    }
    spawner();
    problems
}

/// Starts `cmd` confined (see the module docs), from the spawner thread.
/// Must be called inside a tokio runtime (the child is registered with it).
pub fn spawn(mut cmd: Command) -> io::Result<Child> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs in the forked child before exec and only
    // makes async-signal-safe system calls (prctl, getppid, capset); it
    // allocates nothing.
    unsafe {
        cmd.pre_exec(move || confine_child(parent));
    }
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|e| io::Error::other(format!("no async runtime to start a child in: {e}")))?;
    let (reply, answer) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _runtime = handle.enter();
        let _ = reply.send(cmd.spawn());
    });
    let sender = spawner()
        .lock()
        .map_err(|_| io::Error::other("the spawner thread is gone"))?
        .clone();
    sender
        .send(job)
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    // Forking takes a moment; tokio's own spawn blocks the caller as long.
    answer
        .recv()
        .map_err(|_| io::Error::other("the spawner thread did not answer"))?
}

type Job = Box<dyn FnOnce() + Send>;

/// The one thread every child is forked from; it never exits, so
/// `PR_SET_PDEATHSIG` fires only when agentctl itself ends.
fn spawner() -> &'static Mutex<mpsc::Sender<Job>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name("agentctl-spawner".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
                // All senders gone cannot happen (the static holds one); park
                // forever rather than exit, which would fire PDEATHSIG.
                loop {
                    std::thread::park();
                }
            });
        if let Err(e) = started {
            // Without the thread every spawn reports "the spawner thread is
            // gone"; the receiver is dropped with the closure.
            tracing::error!("cannot start the spawner thread: {e}");
        }
        Mutex::new(tx)
    })
}

/// `_LINUX_CAPABILITY_VERSION_3` (linux/capability.h).
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

// libc has no capset(2) wrapper (glibc leaves it to libcap) nor these two
// structs, so they are declared here from linux/capability.h.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Runs in the child between fork and exec.
fn confine_child(parent: libc::pid_t) -> io::Result<()> {
    // SAFETY: prctl and getppid take integers only.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        // agentctl died between fork and prctl: the signal will never come.
        if libc::getppid() != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        // EINVAL on kernels without ambient capabilities: nothing to clear.
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        // EINVAL past the last capability this kernel knows; EPERM without
        // CAP_SETPCAP, i.e. an unprivileged agentctl, which has no
        // capabilities to hand on (and no-new-privs below stops it gaining
        // any at exec).
        for cap in 0..64 {
            libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
        }
    }
    let header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let none = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads one header and two data structs (version 3), both
    // live on this stack frame for the call.
    if unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, none.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: integers only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_field(status: &str, name: &str) -> String {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_child_has_no_capabilities_and_no_new_privs() {
        let mut cmd = Command::new("cat");
        cmd.arg("/proc/self/status")
            .stdout(std::process::Stdio::piped());
        let out = spawn(cmd).unwrap().wait_with_output().await.unwrap();
        let status = String::from_utf8_lossy(&out.stdout);
        for field in ["CapEff:", "CapPrm:", "CapInh:", "CapAmb:"] {
            assert_eq!(
                status_field(&status, field),
                "0000000000000000",
                "{field} in\n{status}"
            );
        }
        assert_eq!(status_field(&status, "NoNewPrivs:"), "1", "{status}");
        // Root with CAP_SETPCAP (CI) also empties the bounding set.
        let me = std::fs::read_to_string("/proc/self/status").unwrap();
        if status_field(&me, "CapEff:") != "0000000000000000" {
            assert_eq!(status_field(&status, "CapBnd:"), "0000000000000000");
        }
    }

    #[tokio::test]
    async fn spawning_works_from_a_current_thread_runtime_and_reports_errors() {
        let e = spawn(Command::new("/nonexistent/agentctl-test-program")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        let status = spawn(Command::new("true")).unwrap().wait().await.unwrap();
        assert!(status.success());
    }
}
