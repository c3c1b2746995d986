//! hyper's timer on the engine's [`Clock`], so that hyper's own timeouts (header read)
//! follow the same time as everything else, virtual time included.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::env::{Clock, Instant, Sleep};

/// A [`hyper::rt::Timer`] reading and sleeping on a [`Clock`].
#[derive(Clone)]
pub struct ClockTimer {
    clock: Arc<dyn Clock>,
}

impl ClockTimer {
    /// A timer on `clock` (the server's, so hyper's timeouts follow virtual time in simulation).
    pub fn new(clock: Arc<dyn Clock>) -> ClockTimer {
        ClockTimer { clock }
    }
}

impl hyper::rt::Timer for ClockTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(ClockSleep::new(self.clock.sleep(duration)))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let deadline = Instant::from_std(deadline);
        Box::pin(ClockSleep::new(self.clock.sleep_until(deadline)))
    }

    fn now(&self) -> std::time::Instant {
        self.clock.now().into_std()
    }
}

/// A Clock sleep that is `Sync`, as hyper requires. The mutex is only ever locked by
/// the one task polling the sleep, so it never contends.
struct ClockSleep {
    sleep: Mutex<Sleep>,
}

impl ClockSleep {
    fn new(sleep: Sleep) -> ClockSleep {
        ClockSleep {
            sleep: Mutex::new(sleep),
        }
    }
}

impl Future for ClockSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let mut sleep = self.sleep.lock().expect("sleep lock");
        sleep.as_mut().poll(context)
    }
}

impl hyper::rt::Sleep for ClockSleep {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::RealClock;
    use hyper::rt::Timer;

    #[tokio::test(start_paused = true)]
    async fn sleeps_follow_the_clock() {
        let timer = ClockTimer::new(Arc::new(RealClock::new()));
        let before = timer.now();
        timer.sleep(Duration::from_millis(30)).await;
        assert!(timer.now() >= before + Duration::from_millis(30));
        let until = timer.now() + Duration::from_millis(5);
        timer.sleep_until(until).await;
        assert!(timer.now() >= until);
    }
}
