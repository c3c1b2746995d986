//! How fast a request body must arrive. hyper bounds the head (`header_read_timeout`)
//! but not the body: a client that sends its headers and one byte, then nothing, would
//! hold its connection and its request forever. A body must arrive whole within
//! `timeout` of the request's arrival and, after a `grace` period, keep an average of
//! at least `bytes_per_second_min`; else the request ends with 408 `RequestTimeout`.

use std::time::Duration;

use crate::env::Instant;

/// The pace a request body is held to. Defaults: whole within 30 s, and after 5 s at
/// least 1 KiB/s on average since the request arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyPace {
    /// The whole body must have arrived this long after the request did. Default 30 s
    /// (deploy uploads: [`super::DeployLimits::upload_timeout`]).
    pub timeout: Duration,
    /// How long the rate is not checked (connection warm-up). Default 5 s.
    pub grace: Duration,
    /// Lowest average rate past the grace, in bytes per second; 0 turns the rate check
    /// off. Default 1024.
    pub bytes_per_second_min: u64,
}

impl Default for BodyPace {
    fn default() -> Self {
        BodyPace {
            timeout: Duration::from_secs(30),
            grace: Duration::from_secs(5),
            bytes_per_second_min: 1024,
        }
    }
}

impl BodyPace {
    /// The instant by which more of the body must arrive, when `received` bytes came
    /// since `started`: the average falls under the minimum at `started + received /
    /// rate` (never before the grace ends), and nothing may come after the timeout.
    pub fn next_deadline(&self, started: Instant, received: u64) -> Instant {
        let covered = match self.bytes_per_second_min {
            0 => self.timeout,
            rate => {
                let millis = received.saturating_mul(1000) / rate;
                Duration::from_millis(millis).max(self.grace)
            }
        };
        started + covered.min(self.timeout)
    }

    /// This pace with another total timeout.
    pub fn with_timeout(&self, timeout: Duration) -> BodyPace {
        BodyPace {
            timeout,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{Clock, RealClock};

    #[test]
    fn deadlines_follow_the_bytes_received() {
        let start = RealClock::new().now();
        let pace = BodyPace::default();
        let after = |received| pace.next_deadline(start, received) - start;
        assert_eq!(after(0), Duration::from_secs(5), "the grace");
        assert_eq!(after(1), Duration::from_secs(5));
        assert_eq!(
            after(10 * 1024),
            Duration::from_secs(10),
            "10 KiB cover 10 s"
        );
        assert_eq!(
            after(1 << 30),
            Duration::from_secs(30),
            "never past the timeout"
        );
        let unrated = BodyPace {
            bytes_per_second_min: 0,
            ..BodyPace::default()
        };
        assert_eq!(
            unrated.next_deadline(start, 0) - start,
            Duration::from_secs(30)
        );
    }
}
