//! The simulated executor: blocking work runs inline on the sim thread, one job at a
//! time, and its modelled cost is spent on the simulated CPU.

use std::sync::Arc;

use fazt_engine::env::{Clock, Executor, Job, Work};
use futures::future::BoxFuture;

use super::cost::CostModel;
use super::cpu::{SimCpu, TIMER_RESOLUTION};

/// Runs each job inline, then keeps its caller waiting until the modelled CPU has spent
/// the job's cost on it. Work ending within the timer resolution of now only yields
/// (others run; the clock, which reads the CPU timeline, has already moved); longer
/// work sleeps until its end. Queueing for the CPU emerges from the load.
pub struct SimExecutor {
    clock: Arc<dyn Clock>,
    cpu: Arc<SimCpu>,
    cost: CostModel,
}

impl SimExecutor {
    pub fn new(clock: Arc<dyn Clock>, cpu: Arc<SimCpu>, cost: CostModel) -> SimExecutor {
        SimExecutor { clock, cpu, cost }
    }

    fn spend(&self, cost: std::time::Duration) -> BoxFuture<'static, ()> {
        let now = self.clock.now();
        let done_at = self.cpu.spend(now, cost);
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
    use std::time::Duration;

    use fazt_engine::env::run_blocking;

    use super::*;
    use crate::env::SimClock;

    fn executor(job_cost: Duration) -> (Arc<dyn Clock>, Arc<SimExecutor>) {
        let cpu = Arc::new(SimCpu::default());
        let clock: Arc<dyn Clock> = Arc::new(SimClock::new(0, cpu.clone()));
        let cost = CostModel {
            job: job_cost,
            statement: Duration::ZERO,
            sqlite_tick: Duration::ZERO,
            js_tick: Duration::ZERO,
            js_execution: Duration::ZERO,
        };
        (clock.clone(), Arc::new(SimExecutor::new(clock, cpu, cost)))
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
        assert_eq!(clock.now() - start, Duration::from_millis(4));
    }

    #[tokio::test(start_paused = true)]
    async fn time_has_microsecond_resolution() {
        let (clock, executor) = executor(Duration::from_micros(50));
        let start = clock.now();
        for _ in 0..100 {
            run_blocking(executor.as_ref(), || ((), Work::default())).await;
        }
        assert_eq!(clock.now() - start, Duration::from_millis(5));
        let before = clock.now();
        run_blocking(executor.as_ref(), || ((), Work::default())).await;
        assert_eq!(clock.now() - before, Duration::from_micros(50));
    }
}
