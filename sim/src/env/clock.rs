//! Virtual time: tokio's paused clock (driven by turmoil), refined by the modelled CPU's
//! timeline, and a pinned epoch.

use std::sync::Arc;

use fazt_engine::env::{Clock, Instant, Sleep};

use super::cpu::SimCpu;

/// The simulated clock. Monotonic time is the later of tokio's paused clock and the
/// CPU timeline ([`SimCpu`]); wall time is the pinned epoch plus the virtual time
/// elapsed since the clock was made.
pub struct SimClock {
    epoch_ms: i64,
    origin: Instant,
    cpu: Arc<SimCpu>,
}

impl SimClock {
    /// A clock whose wall time reads `epoch_ms` now. Create it inside the simulation.
    #[allow(clippy::disallowed_methods)] // virtual: tokio's clock is paused here
    pub fn new(epoch_ms: i64, cpu: Arc<SimCpu>) -> SimClock {
        SimClock {
            epoch_ms,
            origin: Instant::now(),
            cpu,
        }
    }
}

#[allow(clippy::disallowed_methods)] // virtual: tokio's clock is paused here
impl Clock for SimClock {
    fn now(&self) -> Instant {
        let paused = Instant::now();
        self.cpu.free_at().map_or(paused, |cpu| cpu.max(paused))
    }

    fn wall_ms(&self) -> i64 {
        let elapsed = self.now().saturating_duration_since(self.origin);
        self.epoch_ms + i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
    }

    /// Waits on tokio's timer even when the CPU timeline is already past `deadline`:
    /// the CPU being busy until then is exactly what the sleeper waits out, and other
    /// tasks' earlier timers must fire first.
    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(tokio::time::sleep_until(deadline))
    }
}
