//! A running estimate of how long an operation takes, measured on the Clock, used to
//! refuse work up front that cannot finish before its deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Exponentially weighted moving average (weight 1/8) of observed durations.
#[derive(Debug, Default)]
pub struct Estimate {
    micros: AtomicU64,
}

impl Estimate {
    pub fn get(&self) -> Duration {
        Duration::from_micros(self.micros.load(Ordering::Relaxed))
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
}
