//! Keeps a background thread (the session recorder) off the CPU the
//! engine runs on.
//!
//! Why: the recorder wakes every half millisecond. When the scheduler
//! puts it on the engine's CPU — at a wake-up, or when the engine itself
//! wakes up on the recorder's CPU after blocking — the two share one core
//! while the other idles, and the load balancer, which weighs a nice-10
//! thread lightly, is slow to separate them. Measured on the zero-latency
//! benches that doubled what recording costs (BENCHMARKS.md, "Recording on
//! vs off"). The engine publishes the CPU it runs on now and then; the
//! recorder, at each wake-up, narrows its own affinity to every CPU it may
//! use except that one. Linux only, best effort: where it cannot apply
//! (one CPU, another OS) nothing changes.

/// The CPU the calling thread runs on, if the platform says.
pub(crate) fn current_cpu() -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: no arguments; glibc answers from the thread's rseq area
        // or with one system call.
        let cpu = unsafe { libc::sched_getcpu() };
        u32::try_from(cpu).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The calling thread's affinity, steered away from one CPU at a time.
pub(crate) struct CpuAvoider {
    #[cfg(target_os = "linux")]
    allowed: Option<libc::cpu_set_t>,
    avoiding: Option<u32>,
}

impl CpuAvoider {
    /// Remembers the calling thread's current affinity (what it may ever
    /// use; `taskset` and cgroups are respected).
    pub(crate) fn for_this_thread() -> Self {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: `set` is a plain bit set, written by the kernel for
            // this thread (pid 0); its size is passed.
            let allowed = unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                let ok =
                    libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set)
                        == 0;
                (ok && libc::CPU_COUNT(&set) > 1).then_some(set)
            };
            CpuAvoider {
                allowed,
                avoiding: None,
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            CpuAvoider { avoiding: None }
        }
    }

    /// Keeps the calling thread off `cpu` (the engine's, when known).
    /// A system call only when the CPU to avoid changes.
    pub(crate) fn avoid(&mut self, cpu: Option<u32>) {
        let Some(cpu) = cpu else { return };
        if self.avoiding == Some(cpu) {
            return;
        }
        self.avoiding = Some(cpu);
        #[cfg(target_os = "linux")]
        if let Some(allowed) = &self.allowed {
            let cpu = cpu as usize;
            if cpu >= libc::CPU_SETSIZE as usize {
                return;
            }
            let mut set = *allowed;
            // SAFETY: bit operations on a local set, then the affinity of
            // this thread (pid 0) with the set's size.
            unsafe {
                if !libc::CPU_ISSET(cpu, &set) {
                    return;
                }
                libc::CPU_CLR(cpu, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn the_thread_leaves_the_avoided_cpu_and_keeps_the_others() {
        let Some(here) = current_cpu() else {
            panic!("sched_getcpu failed on Linux")
        };
        // Run on a fresh thread: its affinity is changed for good.
        let after = std::thread::spawn(move || {
            let mut a = CpuAvoider::for_this_thread();
            let many = a.allowed.is_some();
            a.avoid(Some(here));
            // SAFETY: reads this thread's affinity into a local set.
            let (count, has_here) = unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                assert_eq!(
                    libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
                    0
                );
                (libc::CPU_COUNT(&set), libc::CPU_ISSET(here as usize, &set))
            };
            (many, count, has_here, current_cpu())
        })
        .join()
        .expect("thread");
        let (many, count, has_here, now) = after;
        if many {
            assert!(!has_here, "cpu {here} is still allowed");
            assert!(count >= 1);
            assert_ne!(now, Some(here), "still running on cpu {here}");
        } else {
            // One CPU: nothing to steer, and nothing changed.
            assert!(has_here);
            assert_eq!(count, 1);
        }
    }
}
