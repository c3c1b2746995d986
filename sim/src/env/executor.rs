//! The simulated executor: blocking work runs inline on the sim thread, one job at a
//! time, on one modelled CPU whose busy time is virtual time.

use std::sync::{Arc, Mutex};

use fazt_engine::env::{Clock, Executor, Instant, Job};
use futures::future::BoxFuture;

use super::cost::CostModel;

/// Runs each job inline, then keeps its caller waiting until the modelled CPU has spent
/// the job's cost on it.
///
/// The CPU is serial: a job's cost starts when the previous job's ends, so queueing for
/// the CPU emerges from the load. tokio's timer has millisecond resolution, so a caller
/// wakes at the first millisecond boundary at or after its job's end: single latencies
/// are quantised to 1 ms, while throughput follows the accumulated cost exactly.
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
}

impl Executor for SimExecutor {
    fn execute(&self, job: Job) -> BoxFuture<'static, ()> {
        let (clock, cost, cpu_free_at) = (self.clock.clone(), self.cost, self.cpu_free_at.clone());
        Box::pin(async move {
            let work = job();
            let done_at = {
                let mut free_at = cpu_free_at.lock().expect("cpu clock");
                let start = free_at.map_or(clock.now(), |at| at.max(clock.now()));
                let done_at = start + cost.cost(work);
                *free_at = Some(done_at);
                done_at
            };
            clock.sleep_until(done_at).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fazt_engine::env::{run_blocking, Work};

    use super::*;
    use crate::env::SimClock;

    #[tokio::test(start_paused = true)]
    async fn jobs_share_one_cpu() {
        let clock: Arc<dyn Clock> = Arc::new(SimClock::new(0));
        let cost = CostModel {
            job: Duration::from_micros(400),
            statement: Duration::ZERO,
            sqlite_tick: Duration::ZERO,
        };
        let executor = Arc::new(SimExecutor::new(clock.clone(), cost));
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
        // Ten 400 µs jobs on one CPU: 4 ms, rounded up to the timer's millisecond.
        assert_eq!(clock.now() - start, Duration::from_millis(4));
    }
}
