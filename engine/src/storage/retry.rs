//! Waiting out SQLITE_BUSY on the engine's Clock, by [`BusyPolicy`].

use std::time::Duration;

use super::policy::BusyPolicy;
use crate::env::Rng;

/// The retry schedule of one operation.
pub struct Backoff<'a> {
    policy: &'a BusyPolicy,
    rng: &'a Rng,
    attempts: u32,
}

impl<'a> Backoff<'a> {
    pub fn new(policy: &'a BusyPolicy, rng: &'a Rng) -> Backoff<'a> {
        Backoff {
            policy,
            rng,
            attempts: 1,
        }
    }

    /// Attempts made so far, the first included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// How long to wait before the next attempt after a BUSY, or `None` to give up.
    /// `Backoff`: exponential with full jitter, uniform in
    /// `0..=min(max, initial * 2^(n-1))`; `Doubling`: exactly `first * 2^(n-1)`.
    pub fn next_delay(&mut self) -> Option<Duration> {
        match self.policy {
            BusyPolicy::FailFast => None,
            BusyPolicy::Doubling { first, retries } => {
                if self.attempts > *retries {
                    return None;
                }
                let delay = first.saturating_mul(1 << (self.attempts - 1).min(20));
                self.attempts += 1;
                Some(delay)
            }
            BusyPolicy::Backoff {
                initial,
                max,
                attempts,
            } => {
                if self.attempts >= *attempts {
                    return None;
                }
                let ceiling = initial
                    .saturating_mul(1 << (self.attempts - 1).min(20))
                    .min(*max);
                self.attempts += 1;
                Some(self.rng.duration_up_to(ceiling))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_bounds_and_stops() {
        let policy = BusyPolicy::Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(8),
            attempts: 6,
        };
        let rng = Rng::seeded(3);
        let mut backoff = Backoff::new(&policy, &rng);
        let delays: Vec<Duration> = std::iter::from_fn(|| backoff.next_delay()).collect();
        assert_eq!(delays.len(), 5);
        for (n, delay) in delays.iter().enumerate() {
            let ceiling = Duration::from_millis((1u64 << n).min(8));
            assert!(*delay <= ceiling, "{n}: {delay:?} > {ceiling:?}");
        }
        assert_eq!(backoff.attempts(), 6);
        assert_eq!(Backoff::new(&BusyPolicy::FailFast, &rng).next_delay(), None);
    }

    #[test]
    fn fazts_retry_doubles_from_20_to_320_ms() {
        let policy = BusyPolicy::fazt_retry();
        let rng = Rng::seeded(3);
        let mut backoff = Backoff::new(&policy, &rng);
        let delays: Vec<u128> = std::iter::from_fn(|| backoff.next_delay())
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(delays, vec![20, 40, 80, 160, 320]);
        assert_eq!(backoff.attempts(), 6);
    }
}
