//! The modelled CPU: one serial timeline of work, shared by the simulated clock and
//! executor.

use std::sync::Mutex;
use std::time::Duration;

use fazt_engine::env::Instant;

/// tokio's timer resolution: a sleep ends at a whole millisecond of virtual time.
pub const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// When the modelled CPU finishes the work given to it so far.
///
/// Work is serial: it starts when the work before it ends. Virtual time is the later of
/// tokio's paused clock (which moves in whole milliseconds, when every task waits) and
/// this timeline (which moves by each piece of work's cost), so time has microsecond
/// resolution while timers fire on tokio's millisecond boundaries.
#[derive(Debug, Default)]
pub struct SimCpu {
    free_at: Mutex<Option<Instant>>,
}

impl SimCpu {
    /// The CPU timeline's end, if any work was ever given.
    pub fn free_at(&self) -> Option<Instant> {
        *self.free_at.lock().expect("cpu timeline")
    }

    /// Gives the CPU `cost` of work at `now` (virtual time); returns when it ends.
    pub fn spend(&self, now: Instant, cost: Duration) -> Instant {
        let mut free_at = self.free_at.lock().expect("cpu timeline");
        let start = free_at.map_or(now, |at| at.max(now));
        let done_at = start + cost;
        *free_at = Some(done_at);
        done_at
    }
}
