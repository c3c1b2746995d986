//! A running estimate of how long an operation takes, measured on the Clock, used to
//! refuse work up front that cannot finish before its deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::env::Instant;

/// Exponentially weighted moving average (weight 1/8) of observed durations, and the
/// start of the operation in progress, if one is.
#[derive(Debug, Default)]
pub struct Estimate {
    micros: AtomicU64,
    running_since: Mutex<Option<Instant>>,
}

impl Estimate {
    /// The average of finished operations.
    pub fn get(&self) -> Duration {
        Duration::from_micros(self.micros.load(Ordering::Relaxed))
    }

    /// How long the operation in progress has been running at `now` (zero when none is).
    ///
    /// Work queued behind it must wait out its remainder, which the average does not
    /// know: a slow disk or a held lock can stall it far past the average, and the
    /// average learns of that only once it finishes. The time it has already run is the
    /// estimate of what it has left (an operation that has run `t` is expected to run
    /// about `t` more when durations are heavy-tailed, as stalls are), so a write behind
    /// a group that has outlasted the write's whole budget is refused up front.
    pub fn running_for(&self, now: Instant) -> Duration {
        self.running_since
            .lock()
            .expect("estimate")
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// An operation starts at `now`.
    pub fn start(&self, now: Instant) {
        *self.running_since.lock().expect("estimate") = Some(now);
    }

    /// The operation in progress (see [`Estimate::start`]) finished at `now`: its
    /// duration is observed.
    pub fn finish(&self, now: Instant) {
        let since = self.running_since.lock().expect("estimate").take();
        if let Some(since) = since {
            self.observe(now.saturating_duration_since(since));
        }
    }

    pub fn observe(&self, took: Duration) {
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let old = self.micros.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.micros.store(new, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_toward_samples() {
        let estimate = Estimate::default();
        estimate.observe(Duration::from_millis(8));
        assert_eq!(estimate.get(), Duration::from_millis(8));
        for _ in 0..50 {
            estimate.observe(Duration::from_millis(16));
        }
        assert!(estimate.get() > Duration::from_millis(15));
    }

    #[test]
    fn an_operation_in_progress_is_timed_until_it_finishes() {
        let estimate = Estimate::default();
        // Only an origin for the instants below: no behaviour reads the time.
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        estimate.observe(Duration::from_millis(10));
        assert_eq!(estimate.running_for(t0), Duration::ZERO, "nothing runs");
        estimate.start(t0);
        let late = t0 + Duration::from_millis(300);
        assert_eq!(estimate.running_for(late), Duration::from_millis(300));
        assert_eq!(
            estimate.get(),
            Duration::from_millis(10),
            "not yet observed"
        );
        estimate.finish(late);
        assert_eq!(
            estimate.running_for(late),
            Duration::ZERO,
            "nothing runs any more"
        );
        assert!(
            estimate.get() > Duration::from_millis(10),
            "and it was observed"
        );
    }
}
