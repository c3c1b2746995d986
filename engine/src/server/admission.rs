//! The admission gate in front of the JavaScript workers: at most one request in
//! flight per VM. A request that cannot get a slot within `admission_wait` is told
//! 503 + Retry-After at once, instead of queueing until its deadline and timing out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::env::{timeout_at, Clock};

/// Execution slots, one per VM of the worker pools.
pub struct Admission {
    slots: Arc<Semaphore>,
    size: usize,
    wait: Duration,
}

/// No slot became free within the admission wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

impl Admission {
    /// `size` slots (at least one); a request waits at most `wait` for one.
    pub fn new(size: usize, wait: Duration) -> Admission {
        let size = size.max(1);
        Admission {
            slots: Arc::new(Semaphore::new(size)),
            size,
            wait,
        }
    }

    /// Takes a slot, waiting no longer than the admission wait; the slot is given back
    /// when the permit drops.
    pub async fn enter(&self, clock: &dyn Clock) -> Result<OwnedSemaphorePermit, Refused> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let deadline = clock.deadline_in(self.wait);
        match timeout_at(clock, deadline, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Refused),
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Slots taken now.
    pub fn in_use(&self) -> usize {
        self.size - self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::RealClock;

    #[tokio::test(start_paused = true)]
    async fn a_full_gate_refuses_after_the_wait() {
        let clock = RealClock::new();
        let gate = Admission::new(1, Duration::from_millis(50));
        let held = gate.enter(&clock).await.unwrap();
        assert_eq!(gate.in_use(), 1);
        assert_eq!(gate.enter(&clock).await.unwrap_err(), Refused);
        drop(held);
        assert!(gate.enter(&clock).await.is_ok());
    }
}
