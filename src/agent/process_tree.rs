//! Killing a child together with everything it started.
//!
//! Every child agentctl starts leads its own process group and is
//! registered here while a [`TreeGuard`] for it lives. Killing the group is
//! not enough: a descendant may leave it (`setsid`, `setpgid`) and, once its
//! parent exits, would be re-parented out of reach. agentctl is a child
//! subreaper (see [`super::confine`]), so such a process is re-parented to
//! agentctl instead, and the kill walks `/proc`:
//!
//! - the group, and every process descending from the leader or from a
//!   process already killed;
//! - every *orphan*: a child of agentctl that it did not start itself (not
//!   registered) and that is not in agentctl's own process group. Which
//!   tree an orphan that called `setsid` came from cannot be told any more,
//!   so cleaning up one tree also kills orphans left by another that is
//!   still running: no background process outlives the task that started
//!   it, and a running agent's detached helper may die early.
//!
//! Repeated until a pass finds nothing new, so a process forked while the
//! walk ran is found in the next pass. Orphans that died are reaped here
//! (they are not tokio's children); registered children never are.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// The leaders (process-group ids) of the children alive now.
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Most passes of one kill: each pass is one `/proc` scan.
const MAX_PASSES: usize = 64;

/// Registers a child's process tree; dropping it kills the whole tree (on
/// timeout, cancellation, after a normal end).
#[derive(Debug)]
pub struct TreeGuard {
    leader: Option<i32>,
}

impl TreeGuard {
    /// Guards the tree led by `pid` (a child started with its own process
    /// group). `None` (a child that already exited): nothing to guard.
    pub fn new(pid: Option<u32>) -> Self {
        let leader = pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 0);
        if let Some(l) = leader {
            live().insert(l);
        }
        TreeGuard { leader }
    }

    /// Kills the tree now; the guard stays registered until dropped.
    pub fn kill(&self) {
        if let Some(l) = self.leader {
            kill_trees(&[l]);
        }
    }
}

impl Drop for TreeGuard {
    fn drop(&mut self) {
        if let Some(l) = self.leader.take() {
            live().remove(&l);
            kill_trees(&[l]);
        }
    }
}

/// Kills every registered tree and every orphan: for agentctl's own exit,
/// when destructors will not run.
pub fn kill_all() {
    let leaders: Vec<i32> = live().iter().copied().collect();
    kill_trees(&leaders);
}

fn live() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    // A panic while holding the lock leaves a plain set: still usable.
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// One process as `/proc/PID/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Proc {
    pid: i32,
    ppid: i32,
    pgid: i32,
    zombie: bool,
}

fn kill_trees(leaders: &[i32]) {
    // SAFETY: getpid/getpgrp have no preconditions.
    let (me, my_group) = unsafe { (libc::getpid(), libc::getpgrp()) };
    for &l in leaders {
        signal(-l);
    }
    if nothing_left(leaders, me, my_group) {
        return;
    }
    let mut killed: HashSet<i32> = HashSet::new();
    for pass in 0..MAX_PASSES {
        let table = scan();
        let live: BTreeSet<i32> = live().clone();
        let targets = doomed(&table, leaders, &killed, &live, me, my_group);
        let fresh: Vec<i32> = targets.difference(&killed).copied().collect();
        for &pid in &fresh {
            signal(pid);
        }
        killed.extend(fresh.iter().copied());
        reap_orphans(&table, &live, leaders, me, my_group);
        if fresh.is_empty() {
            break;
        }
        // Let the killed processes exit, so their children are re-parented
        // before the next pass looks.
        std::thread::sleep(Duration::from_millis(if pass < 4 { 1 } else { 10 }));
    }
}

/// The common case, cheaply: every leader's group is empty (so each leader
/// is dead and whatever it started was re-parented to agentctl) and
/// agentctl has no orphan among its direct children. Then there is nothing
/// to walk, and the full `/proc` scan (a few ms on a busy machine, at every
/// task's end) is skipped.
fn nothing_left(leaders: &[i32], me: i32, my_group: i32) -> bool {
    for &l in leaders {
        // SAFETY: signal 0 only checks that the group exists.
        if unsafe { libc::kill(-l, 0) } == 0 {
            return false;
        }
    }
    let Some(children) = direct_children(me) else {
        return false;
    };
    let live = live().clone();
    children.into_iter().all(|pid| {
        live.contains(&pid)
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| parse_stat(pid, &s))
                .is_some_and(|p| p.pgid == my_group)
    })
}

/// agentctl's direct children, from `/proc/self/task/*/children` (`None`
/// where the kernel does not offer that file).
fn direct_children(me: i32) -> Option<Vec<i32>> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{me}/task")).ok()? {
        let path = task.ok()?.path().join("children");
        let text = std::fs::read_to_string(path).ok()?;
        out.extend(
            text.split_ascii_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
    }
    Some(out)
}

/// The processes one kill must end: the leaders' groups and descendants,
/// descendants of anything already killed, and agentctl's orphans.
fn doomed(
    table: &[Proc],
    leaders: &[i32],
    killed: &HashSet<i32>,
    live: &BTreeSet<i32>,
    me: i32,
    my_group: i32,
) -> HashSet<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in table {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut roots: Vec<i32> = leaders.to_vec();
    roots.extend(killed.iter().copied());
    for p in table {
        let in_leader_group = leaders.contains(&p.pgid);
        let orphan = p.ppid == me
            && !live.contains(&p.pid)
            && !leaders.contains(&p.pid)
            && p.pgid != my_group
            && !live.contains(&p.pgid);
        if in_leader_group || orphan {
            roots.push(p.pid);
        }
    }
    let mut out = HashSet::new();
    while let Some(pid) = roots.pop() {
        if pid == me || pid <= 1 || !out.insert(pid) {
            continue;
        }
        // A registered tree other than the ones being killed is not entered.
        if live.contains(&pid) && !leaders.contains(&pid) {
            out.remove(&pid);
            continue;
        }
        if let Some(c) = children.get(&pid) {
            roots.extend(c.iter().copied());
        }
    }
    out
}

/// Reaps dead orphans: processes re-parented to agentctl, which tokio does
/// not know about. Never a registered child or a leader (tokio reaps those).
fn reap_orphans(table: &[Proc], live: &BTreeSet<i32>, leaders: &[i32], me: i32, my_group: i32) {
    for p in table {
        if p.ppid == me
            && p.zombie
            && p.pgid != my_group
            && !live.contains(&p.pid)
            && !leaders.contains(&p.pid)
        {
            let mut status = 0;
            // SAFETY: waitpid on one specific pid with WNOHANG; `status` is a
            // valid out-pointer.
            unsafe {
                libc::waitpid(p.pid, &mut status, libc::WNOHANG);
            }
        }
    }
}

fn signal(target: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions; a negative target
    // is a process group.
    unsafe {
        libc::kill(target, libc::SIGKILL);
    }
}

/// Every process in `/proc` (ones that vanish mid-scan are skipped).
fn scan() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        parse_stat(pid, &stat)
    })
    .collect()
}

/// `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses,
/// so fields are counted after the last `)`.
fn parse_stat(pid: i32, stat: &str) -> Option<Proc> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgid = f.next()?.parse().ok()?;
    Some(Proc {
        pid,
        ppid,
        pgid,
        zombie: state == "Z" || state == "X",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, pgid: i32) -> Proc {
        Proc {
            pid,
            ppid,
            pgid,
            zombie: false,
        }
    }

    #[test]
    fn this_process_lists_its_children() {
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let listed = direct_children(me).is_none_or(|c| c.contains(&(child.id() as i32)));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(listed);
    }

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let s = "4242 (a) b (c) S 17 4242 17 0 -1 4194560 101 0";
        assert_eq!(parse_stat(4242, s), Some(p(4242, 17, 4242)));
        assert!(parse_stat(1, "garbage").is_none());
        let z = parse_stat(9, "9 (x) Z 1 9 9").unwrap();
        assert!(z.zombie);
    }

    #[test]
    fn the_walk_takes_descendants_groups_and_orphans_but_spares_others() {
        let me = 100;
        let my_group = 100;
        let table = [
            p(200, me, 200),  // the leader being killed
            p(201, 200, 200), // its child
            p(202, 201, 202), // a grandchild that left the group
            p(203, 1, 200),   // a group member re-parented elsewhere
            p(300, me, 300),  // another live agent
            p(301, 300, 300), // its child
            p(400, me, 400),  // an orphan that called setsid
            p(401, 400, 400), // its child
            p(500, me, 100),  // something agentctl started in its own group
            p(600, 1, 600),   // an unrelated process
        ];
        let live: BTreeSet<i32> = [200, 300].into();
        let got = doomed(&table, &[200], &HashSet::new(), &live, me, my_group);
        let want: HashSet<i32> = [200, 201, 202, 203, 400, 401].into();
        assert_eq!(got, want);
        // Children of something already killed are found on a later pass.
        let table = [p(700, 202, 700)];
        let got = doomed(&table, &[200], &[202].into(), &live, me, my_group);
        assert!(got.contains(&700));
    }
}
