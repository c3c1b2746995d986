//! Virtual time: tokio's paused clock (driven by turmoil) and a pinned epoch.

use fazt_engine::env::{Clock, Instant, Sleep};

/// The simulated clock. Monotonic time is tokio's, which is virtual inside turmoil and
/// paused runtimes; wall time is the pinned epoch plus the virtual time elapsed since
/// the clock was made.
pub struct SimClock {
    epoch_ms: i64,
    origin: Instant,
}

impl SimClock {
    /// A clock whose wall time reads `epoch_ms` now. Create it inside the simulation.
    #[allow(clippy::disallowed_methods)] // virtual: tokio's clock is paused here
    pub fn new(epoch_ms: i64) -> SimClock {
        SimClock {
            epoch_ms,
            origin: Instant::now(),
        }
    }
}

#[allow(clippy::disallowed_methods)] // virtual: tokio's clock is paused here
impl Clock for SimClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_ms(&self) -> i64 {
        let elapsed = Instant::now().saturating_duration_since(self.origin);
        self.epoch_ms + i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(tokio::time::sleep_until(deadline))
    }
}
