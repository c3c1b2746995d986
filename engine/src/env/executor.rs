//! Where blocking SQLite work runs.
//!
//! Storage code wraps each unit of blocking work in a [`Job`] that reports the
//! [`Work`] it did; the executor decides where it runs. The real executor runs jobs on
//! worker threads; the simulator's runs them inline and turns the reported work into
//! virtual time.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::Rng;

/// What a job did, for the simulator's CPU cost model (the real executor ignores it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// SQLite progress-handler ticks (one per [`crate::storage::PROGRESS_TICK_OPS`] VM ops).
    pub sqlite_ticks: u64,
    /// Statements executed.
    pub statements: u64,
    /// JavaScript interrupt-handler calls (one per ~10k QuickJS ticks).
    pub js_ticks: u64,
    /// JavaScript executions started (entering a VM, injecting the globals). An
    /// execution failed by a stale interrupt is started too: it pays this and its
    /// compile before goja checks the flag.
    pub js_executions: u64,
    /// Bytes of script compiled (goja compiled the handler at every execution; the
    /// hardened engine's compile cache makes this cost nothing in its model).
    pub script_bytes: u64,
    /// JavaScript executions that ran their script past the first instruction (the
    /// run's fixed cost; a long script adds [`Work::js_ticks`]).
    pub js_runs: u64,
}

/// A unit of blocking work.
pub type Job = Box<dyn FnOnce() -> Work + Send + 'static>;

/// Runs blocking jobs, and accounts for CPU time spent outside them.
pub trait Executor: Send + Sync + 'static {
    /// Runs `job`; the returned future completes when the job has run.
    fn execute(&self, job: Job) -> BoxFuture<'static, ()>;

    /// Runs `job`, a short read that never waits on a lock (readers in WAL mode don't),
    /// where it is cheapest. The real executor runs it on the calling thread, saving two
    /// thread hand-offs per read; the simulator treats it like any job.
    fn execute_read(&self, job: Job) -> BoxFuture<'static, ()> {
        self.execute(job)
    }

    /// A point where other ready tasks may run before the caller resumes (after each
    /// suspension of a JavaScript execution). The real executor yields once, drawing
    /// nothing: the other executions on the worker thread get their turn (a spinning
    /// script would otherwise hold the thread until its deadline). The simulator's
    /// yields a number of times drawn from `rng`, so the seed decides which execution
    /// resumes first.
    fn interleave(&self, rng: &Rng) -> BoxFuture<'static, ()>;

    /// Accounts for `work` done on the calling thread (a JavaScript time slice). The
    /// real executor returns at once (the time has really passed); the simulator's
    /// spends the work's cost on its modelled CPU, so virtual time passes.
    fn charge(&self, work: Work) -> BoxFuture<'static, ()>;

    /// The system calls (a commit's `fsync`) that jobs spent time blocked in, starting
    /// at or after `since`, oldest first. The legacy watchdog's model of Go's scheduler
    /// needs them: a goroutine whose P sits in a system call is picked up sooner
    /// (fazt-reference.md §4.1). The real executor returns none (the real scheduler
    /// needs no model); the simulator's returns its disk's waits.
    fn syscalls_since(&self, since: super::Instant) -> Vec<Syscall> {
        let _ = since;
        Vec::new()
    }
}

/// A stretch of time a job spent blocked in the kernel, on the executor's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    pub start: super::Instant,
    pub length: std::time::Duration,
}

/// Runs `work` on `executor` and returns its result. `work` returns its value and the
/// [`Work`] it did.
pub async fn run_blocking<T, F>(executor: &dyn Executor, work: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> (T, Work) + Send + 'static,
{
    run_job(work, |job| executor.execute(job)).await
}

/// [`run_blocking`] for a short read ([`Executor::execute_read`]).
pub async fn run_read<T, F>(executor: &dyn Executor, work: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> (T, Work) + Send + 'static,
{
    run_job(work, |job| executor.execute_read(job)).await
}

async fn run_job<T, F>(work: F, dispatch: impl FnOnce(Job) -> BoxFuture<'static, ()>) -> T
where
    T: Send + 'static,
    F: FnOnce() -> (T, Work) + Send + 'static,
{
    let slot = Arc::new(std::sync::Mutex::new(None));
    let filled = slot.clone();
    dispatch(Box::new(move || {
        let (value, done) = work();
        *filled.lock().expect("result slot") = Some(value);
        done
    }))
    .await;
    let value = slot.lock().expect("result slot").take();
    value.expect("an executor completes a job before resolving its future")
}

/// The production executor: a fixed set of worker threads fed from one queue.
pub struct ThreadPoolExecutor {
    jobs: crossbeam_channel::Sender<(Job, tokio::sync::oneshot::Sender<()>)>,
}

impl ThreadPoolExecutor {
    /// Starts `threads` workers (at least one). They exit when the executor is dropped.
    pub fn new(threads: usize) -> ThreadPoolExecutor {
        let (jobs, queue) =
            crossbeam_channel::unbounded::<(Job, tokio::sync::oneshot::Sender<()>)>();
        for index in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("fazt-sqlite-{index}"))
                .spawn(move || {
                    for (job, done) in queue {
                        job();
                        let _ = done.send(());
                    }
                })
                .expect("spawn an executor thread");
        }
        ThreadPoolExecutor { jobs }
    }
}

impl Executor for ThreadPoolExecutor {
    fn execute(&self, job: Job) -> BoxFuture<'static, ()> {
        let (done, finished) = tokio::sync::oneshot::channel();
        let sent = self.jobs.send((job, done));
        Box::pin(async move {
            sent.expect("executor threads live as long as the executor");
            finished
                .await
                .expect("an executor thread completes every job it takes");
        })
    }

    fn execute_read(&self, job: Job) -> BoxFuture<'static, ()> {
        job();
        Box::pin(std::future::ready(()))
    }

    fn interleave(&self, _rng: &Rng) -> BoxFuture<'static, ()> {
        Box::pin(tokio::task::yield_now())
    }

    fn charge(&self, _work: Work) -> BoxFuture<'static, ()> {
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn thread_pool_runs_jobs_and_returns_values() {
        let executor = ThreadPoolExecutor::new(2);
        let sum: u64 = run_blocking(&executor, || ((1..=10).sum(), Work::default())).await;
        assert_eq!(sum, 55);
    }

    /// The real executor's interleaving draws nothing from the Rng: production does
    /// not yield by the Rng at every suspension.
    #[tokio::test]
    async fn real_interleave_draws_nothing() {
        let executor = ThreadPoolExecutor::new(1);
        let rng = Rng::seeded(7);
        executor.interleave(&rng).await;
        assert_eq!(rng.next_u64(), Rng::seeded(7).next_u64());
    }
}
