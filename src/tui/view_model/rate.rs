//! Counts per second of run time in a bounded window, read against the
//! clock: a rate over the last seconds falls to 0 when nothing happens,
//! however long ago the last event was.

/// Counts per second of run time (the last `cap` seconds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerSecond {
    /// One bucket per second, oldest first.
    pub buckets: Vec<u64>,
    /// Second (from the run's start) of `buckets[0]`.
    pub origin: u64,
}

impl PerSecond {
    /// Adds `n` at second `sec`, keeping at most `cap` seconds.
    pub fn add(&mut self, sec: u64, n: u64, cap: usize) {
        if self.buckets.is_empty() {
            self.origin = sec;
        }
        if sec < self.origin {
            // Out-of-order timestamp: count it in the oldest bucket.
            if let Some(b) = self.buckets.first_mut() {
                *b += n;
            }
            return;
        }
        if sec - self.origin >= (self.buckets.len() + cap) as u64 {
            // A long quiet gap: nothing before it stays in the window.
            self.buckets.clear();
            self.origin = sec;
        }
        let idx = (sec - self.origin) as usize;
        if idx >= self.buckets.len() {
            self.buckets.resize(idx + 1, 0);
        }
        self.buckets[idx] += n;
        if self.buckets.len() > cap {
            let drop = self.buckets.len() - cap;
            self.buckets.drain(..drop);
            self.origin += drop as u64;
        }
    }

    /// The sum over the `secs` seconds ending with second `now_sec`
    /// (counted in; seconds without a bucket count 0).
    pub fn sum_until(&self, now_sec: u64, secs: u64) -> u64 {
        sum_until(&self.buckets, self.origin, now_sec, secs)
    }

    /// Seconds from the last bucket to `now_sec` with nothing counted
    /// (a sparkline draws them as empty columns).
    pub fn quiet_after(&self, now_sec: u64) -> u64 {
        let end = self.origin + self.buckets.len() as u64;
        (now_sec + 1).saturating_sub(end)
    }
}

/// The sum of `buckets` (one per second from second `origin`) over the
/// `secs` seconds ending with second `now_sec`.
pub fn sum_until(buckets: &[u64], origin: u64, now_sec: u64, secs: u64) -> u64 {
    if secs == 0 || buckets.is_empty() {
        return 0;
    }
    let from = (now_sec + 1).saturating_sub(secs);
    let first = from.max(origin);
    let last = now_sec.min(origin + buckets.len() as u64 - 1);
    if first > last {
        return 0;
    }
    buckets[(first - origin) as usize..=(last - origin) as usize]
        .iter()
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_falls_to_zero_when_nothing_happens() {
        let mut r = PerSecond::default();
        r.add(3, 100, 600);
        r.add(4, 50, 600);
        assert_eq!(r.sum_until(4, 10), 150);
        assert_eq!(r.sum_until(13, 10), 50, "second 3 left the window");
        assert_eq!(r.sum_until(44, 10), 0, "40 s later nothing is current");
        assert_eq!(r.quiet_after(44), 40);
    }

    #[test]
    fn the_window_is_bounded() {
        let mut r = PerSecond::default();
        for s in 0..1000 {
            r.add(s, 1, 60);
        }
        assert_eq!(r.buckets.len(), 60);
        r.add(100_000, 1, 60);
        assert!(r.buckets.len() <= 60, "a long gap does not allocate");
        assert_eq!(r.sum_until(100_000, 60), 1);
    }
}
