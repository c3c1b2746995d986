//! The simulated executor: blocking work runs inline on the sim thread, one job at a
//! time, on one modelled CPU whose busy time is virtual time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fazt_engine::env::{Clock, Executor, Instant, Job, Work};
use futures::future::BoxFuture;

use super::cost::CostModel;

/// tokio's timer resolution: a sleep ends at a whole millisecond of virtual time.
pub const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Runs each job inline, then keeps its caller waiting until the modelled CPU has spent
/// the job's cost on it.
///
/// The CPU is serial: work starts when the work given to it before ends, so queueing
/// for the CPU emerges from the load. Because timers fire only at whole milliseconds,
/// a caller whose work ends within the timer resolution of now only yields (others
/// run, no time passes); otherwise it sleeps until its work's end. The CPU keeps its
/// own timeline, so the clock stays within one resolution of it either way: short work
/// is never inflated to a whole millisecond, and throughput follows the accumulated
/// cost exactly.
pub struct SimExecutor {
    clock: Arc<dyn Clock>,
    cost: CostModel,
    /// When the modelled CPU finishes the work already given to it.
    cpu_free_at: Arc<Mutex<Option<Instant>>>,
}

impl SimExecutor {
    pub fn new(clock: Arc<dyn Clock>, cost: CostModel) -> SimExecutor {
        SimExecutor {
            clock,
            cost,
            cpu_free_at: Arc::default(),
        }
    }

    fn spend(&self, cost: Duration) -> BoxFuture<'static, ()> {
        let now = self.clock.now();
        let done_at = {
            let mut free_at = self.cpu_free_at.lock().expect("cpu clock");
            // A timer overshoot (under one resolution) is not idle CPU time: the CPU
            // timeline continues from where its work ended, not from the late wake-up.
            let start = match *free_at {
                Some(at) if at + TIMER_RESOLUTION > now => at,
                _ => now,
            };
            let done_at = start + cost;
            *free_at = Some(done_at);
            done_at
        };
        if done_at <= now + TIMER_RESOLUTION {
            Box::pin(tokio::task::yield_now())
        } else {
            self.clock.sleep_until(done_at)
        }
    }
}

impl Executor for SimExecutor {
    fn execute(&self, job: Job) -> BoxFuture<'static, ()> {
        let work = job();
        self.spend(self.cost.job + self.cost.cost(work))
    }

    fn charge(&self, work: Work) -> BoxFuture<'static, ()> {
        self.spend(self.cost.cost(work))
    }
}

#[cfg(test)]
mod tests {
    use fazt_engine::env::run_blocking;

    use super::*;
    use crate::env::SimClock;

    fn executor(job_cost: Duration) -> (Arc<dyn Clock>, Arc<SimExecutor>) {
        let clock: Arc<dyn Clock> = Arc::new(SimClock::new(0));
        let cost = CostModel {
            job: job_cost,
            statement: Duration::ZERO,
            sqlite_tick: Duration::ZERO,
            js_tick: Duration::ZERO,
            js_execution: Duration::ZERO,
        };
        (clock.clone(), Arc::new(SimExecutor::new(clock, cost)))
    }

    #[tokio::test(start_paused = true)]
    async fn jobs_share_one_cpu() {
        let (clock, executor) = executor(Duration::from_micros(400));
        let start = clock.now();
        let jobs: Vec<_> = (0..10)
            .map(|_| {
                let executor = executor.clone();
                tokio::spawn(async move {
                    run_blocking(executor.as_ref(), || ((), Work::default())).await
                })
            })
            .collect();
        for job in jobs {
            job.await.unwrap();
        }
        // Ten 400 µs jobs on one CPU: 4 ms.
        assert_eq!(clock.now() - start, Duration::from_millis(4));
    }

    #[tokio::test(start_paused = true)]
    async fn short_sequential_work_is_not_rounded_up() {
        let (clock, executor) = executor(Duration::from_micros(50));
        let start = clock.now();
        for _ in 0..100 {
            run_blocking(executor.as_ref(), || ((), Work::default())).await;
        }
        // 100 × 50 µs = 5 ms of CPU; the clock trails by less than a millisecond.
        let elapsed = clock.now() - start;
        assert!(
            elapsed > Duration::from_millis(3) && elapsed <= Duration::from_millis(5),
            "{elapsed:?}"
        );
    }
}
