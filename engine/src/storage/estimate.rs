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

    /// The estimate at `now`: the average, or the time the operation in progress has
    /// already taken when that is longer. Its cost is at least that much, and a slow
    /// disk or a held lock that slows it slows the ones behind it too; the average
    /// alone learns of it only once it finishes, letting work queue behind it in the
    /// meantime that cannot finish in time.
    pub fn at(&self, now: Instant) -> Duration {
        let running = self
            .running_since
            .lock()
            .expect("estimate")
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        self.get().max(running)
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
    fn an_operation_in_progress_counts_as_at_least_its_elapsed_time() {
        let estimate = Estimate::default();
        // Only an origin for the instants below: no behaviour reads the time.
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        estimate.observe(Duration::from_millis(10));
        estimate.start(t0);
        assert_eq!(
            estimate.at(t0 + Duration::from_millis(4)),
            Duration::from_millis(10)
        );
        let late = t0 + Duration::from_millis(300);
        assert_eq!(estimate.at(late), Duration::from_millis(300));
        estimate.finish(late);
        assert_eq!(estimate.at(late), estimate.get(), "nothing runs any more");
        assert!(
            estimate.get() > Duration::from_millis(10),
            "and it was observed"
        );
    }
}
