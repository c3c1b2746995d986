//! The simulated executor: blocking work runs inline on the sim thread, one job at a
//! time, and its modelled cost is spent on the simulated CPU.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use fazt_engine::env::{Clock, Executor, Instant, Job, Rng, Syscall, Work};
use futures::future::BoxFuture;

use super::cost::CostModel;
use super::cpu::{SimCpu, TIMER_RESOLUTION};
use crate::disk::SimDisk;

/// [`Executor::interleave`] yields 0 to this many times less one, drawn from the run's
/// Rng: enough for the executions ready at one suspension to resume in any order
/// (default 3, the engine's own interleaving before it became this seam).
const MAX_INTERLEAVE_YIELDS: u64 = 3;

/// The most recent disk waits kept for [`Executor::syscalls_since`] (the legacy
/// watchdog asks for those of one execution; older ones are dropped).
const SYSCALLS_KEPT: usize = 256;

/// Runs each job inline, then keeps its caller waiting until the modelled CPU has spent
/// the job's cost on it. Work ending within the timer resolution of tokio's clock only
/// yields (others run; the clock, which reads the CPU timeline, has already moved);
/// work ending later sleeps until the last timer tick before its end, from where the
/// clock reads the CPU timeline again. So the CPU timeline runs less than one timer
/// resolution ahead of tokio's clock, the time every host (clients too) sees: a busy
/// CPU shows in their latencies, and no time is lost to rounding. Queueing for the CPU
/// emerges from the load.
///
/// On a simulated disk, a job's disk time (its reads, writes and syncs, from the
/// disk model) is waited for after its CPU time, without holding the CPU: the caller
/// resumes once both have passed. That wait is a system call (the kernel's `pread`,
/// `pwrite`, `fsync`), which [`Executor::syscalls_since`] reports.
pub struct SimExecutor {
    clock: Arc<dyn Clock>,
    cpu: Arc<SimCpu>,
    cost: CostModel,
    disk: Option<SimDisk>,
    syscalls: Mutex<VecDeque<Syscall>>,
}

impl SimExecutor {
    pub fn new(clock: Arc<dyn Clock>, cpu: Arc<SimCpu>, cost: CostModel) -> SimExecutor {
        SimExecutor {
            clock,
            cpu,
            cost,
            disk: None,
            syscalls: Mutex::default(),
        }
    }

    /// This executor, charging the disk time of jobs run on `disk`.
    pub fn on_disk(self, disk: Option<SimDisk>) -> SimExecutor {
        SimExecutor { disk, ..self }
    }

    #[allow(clippy::disallowed_methods)] // virtual: tokio's clock is paused here
    fn spend(&self, cost: std::time::Duration) -> BoxFuture<'static, ()> {
        let io = self
            .disk
            .as_ref()
            .map_or(std::time::Duration::ZERO, SimDisk::take_charged);
        let cpu_done = self.cpu.spend(self.clock.now(), cost);
        if !io.is_zero() {
            let mut syscalls = self.syscalls.lock().expect("syscall log");
            if syscalls.len() == SYSCALLS_KEPT {
                syscalls.pop_front();
            }
            syscalls.push_back(Syscall {
                start: cpu_done,
                length: io,
            });
        }
        let done_at = cpu_done + io;
        if done_at <= tokio::time::Instant::now() + TIMER_RESOLUTION {
            Box::pin(tokio::task::yield_now())
        } else {
            // tokio rounds a timer up to its next tick: this one fires after `now`
            // and no later than `done_at`.
            self.clock.sleep_until(done_at - TIMER_RESOLUTION)
        }
    }
}

impl Executor for SimExecutor {
    fn execute(&self, job: Job) -> BoxFuture<'static, ()> {
        let work = job();
        self.spend(self.cost.job + self.cost.cost(work))
    }

    fn interleave(&self, rng: &Rng) -> BoxFuture<'static, ()> {
        let yields = rng.below(MAX_INTERLEAVE_YIELDS);
        Box::pin(async move {
            for _ in 0..yields {
                tokio::task::yield_now().await;
            }
        })
    }

    fn charge(&self, work: Work) -> BoxFuture<'static, ()> {
        self.spend(self.cost.cost(work))
    }

    fn syscalls_since(&self, since: Instant) -> Vec<Syscall> {
        let syscalls = self.syscalls.lock().expect("syscall log");
        (syscalls.iter())
            .filter(|call| call.start >= since)
            .copied()
            .collect()
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
            compile_per_kb: Duration::ZERO,
            js_run: Duration::ZERO,
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

    /// The simulated interleaving draws from the run's Rng (which execution resumes
    /// first follows the seed) and passes no virtual time.
    #[tokio::test(start_paused = true)]
    async fn interleave_draws_from_the_rng_and_takes_no_time() {
        let (clock, executor) = executor(Duration::from_micros(50));
        let rng = fazt_engine::env::Rng::seeded(7);
        let before = clock.now();
        executor.interleave(&rng).await;
        assert_eq!(clock.now(), before);
        let fresh = fazt_engine::env::Rng::seeded(7);
        fresh.below(MAX_INTERLEAVE_YIELDS);
        assert_eq!(rng.next_u64(), fresh.next_u64());
    }
}
