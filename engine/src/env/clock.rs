//! Time as the engine sees it: a monotonic instant, wall-clock milliseconds and sleeps,
//! plus the request [`Deadline`] every storage call carries.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Monotonic instant. tokio's type, so that a paused runtime (the simulator) and a real
/// one share it; read it only through [`Clock::now`].
pub use tokio::time::Instant;

/// A boxed sleep future, so that [`Clock`] stays object safe.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The only source of time in the engine.
pub trait Clock: Send + Sync + 'static {
    /// Monotonic now.
    fn now(&self) -> Instant;
    /// Milliseconds since the Unix epoch, for stored timestamps (`_createdAt`, TTLs).
    fn wall_ms(&self) -> i64;
    /// A future that completes at `deadline` (at once when it has passed).
    fn sleep_until(&self, deadline: Instant) -> Sleep;
}

impl dyn Clock {
    /// Sleeps for `duration` from now.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.now() + duration)
    }

    /// The deadline `budget` from now.
    pub fn deadline_in(&self, budget: Duration) -> Deadline {
        Deadline::at(self.now() + budget)
    }
}

/// The production clock: tokio time and the system's wall clock.
pub struct RealClock {
    _private: (),
}

impl RealClock {
    pub fn new() -> RealClock {
        RealClock { _private: () }
    }
}

impl Default for RealClock {
    fn default() -> Self {
        RealClock::new()
    }
}

#[allow(clippy::disallowed_methods)] // the one place the real clock is read
impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_ms(&self) -> i64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(tokio::time::sleep_until(deadline))
    }
}

/// When a request must be answered by. `Deadline::NONE` means unbounded (background
/// work such as the TTL sweep, or a profile that ignores deadlines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline.
    pub const NONE: Deadline = Deadline(None);

    pub fn at(instant: Instant) -> Deadline {
        Deadline(Some(instant))
    }

    pub fn instant(self) -> Option<Instant> {
        self.0
    }

    /// Time left at `now`; `None` when unbounded, zero when passed.
    pub fn remaining(self, now: Instant) -> Option<Duration> {
        self.0.map(|at| at.saturating_duration_since(now))
    }

    /// True when the deadline exists and `now` is at or past it.
    pub fn is_past(self, now: Instant) -> bool {
        self.0.is_some_and(|at| now >= at)
    }

    /// The earlier of two deadlines.
    pub fn min(self, other: Deadline) -> Deadline {
        match (self.0, other.0) {
            (Some(a), Some(b)) => Deadline(Some(a.min(b))),
            (Some(a), None) | (None, Some(a)) => Deadline(Some(a)),
            (None, None) => Deadline::NONE,
        }
    }
}

/// The deadline passed before the future completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline elapsed")
    }
}

/// Runs `future` until `deadline` on `clock`. The future wins a tie, so work that is
/// ready exactly at the deadline is not thrown away.
pub async fn timeout_at<F: Future>(
    clock: &dyn Clock,
    deadline: Deadline,
    future: F,
) -> Result<F::Output, Elapsed> {
    let Some(at) = deadline.instant() else {
        return Ok(future.await);
    };
    let sleep = clock.sleep_until(at);
    tokio::select! {
        biased;
        output = future => Ok(output),
        () = sleep => Err(Elapsed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn timeout_at_expires_on_the_clock() {
        let clock: &dyn Clock = &RealClock::new();
        let deadline = clock.deadline_in(Duration::from_millis(10));
        let slow = clock.sleep(Duration::from_millis(20));
        assert_eq!(timeout_at(clock, deadline, slow).await, Err(Elapsed));
        let fast = clock.sleep(Duration::from_millis(1));
        let deadline = clock.deadline_in(Duration::from_millis(10));
        assert_eq!(timeout_at(clock, deadline, fast).await, Ok(()));
    }

    #[test]
    fn deadline_arithmetic() {
        let now = RealClock::new().now();
        let d = Deadline::at(now + Duration::from_millis(5));
        assert_eq!(d.remaining(now), Some(Duration::from_millis(5)));
        assert!(!d.is_past(now));
        assert!(d.is_past(now + Duration::from_millis(5)));
        assert_eq!(Deadline::NONE.remaining(now), None);
        assert_eq!(Deadline::NONE.min(d), d);
        assert!(!Deadline::NONE.is_past(now));
    }
}
