//! fazt 0.10.5's execution watchdog, modelled by its mechanism (fazt-reference.md §4.1).
//!
//! Upstream, each execution started a watcher goroutine:
//!
//! ```go
//! go func() { select { case <-timeoutCtx.Done(): vm.Interrupt("execution timeout"); case <-done: } }()
//! ```
//!
//! and its deferred cleanup ran `close(done); vm.ClearInterrupt()`, then `cancel()`, then
//! returned the VM to the pool. A watcher that reaches its `select` before the cleanup
//! blocks there and wakes on `done`: harmless. A watcher that gets the CPU only after
//! the cleanup finds both channels ready; Go picks one at random, and half the time it
//! interrupts a VM that is already back in the pool, so the next execution on that VM
//! fails at once with `TimeoutError: execution timeout`.
//!
//! Whether the watcher is late comes from a model of Go's scheduler, [`GoScheduler`]:
//! - one CPU: a new goroutine waits in the creating P's `runnext` slot until the
//!   running goroutine parks or is preempted. The handler parks when a storage call
//!   waits (a call that took at least [`GoScheduler::park_threshold`], since the SQLite
//!   work itself costs microseconds) and is preempted after running
//!   [`GoScheduler::preempt_slice`]; otherwise the watcher runs after the handler ends.
//! - several CPUs: an idle P wakes and steals the goroutine after a wake-up latency drawn
//!   uniformly from [`GoScheduler::wake_latency`]; the watcher is late when the handler
//!   ends before that.
//!
//! The seeded Rng plays Go's random `select` choice and the wake-up latency.

use std::ops::RangeInclusive;
use std::rc::Rc;
use std::time::Duration;

use super::vm::VmState;
use crate::env::Rng;

/// The model of Go's scheduler that decides when the watcher goroutine first runs.
#[derive(Clone, Debug)]
pub struct GoScheduler {
    /// GOMAXPROCS.
    pub cpus: u32,
    /// Go's async preemption: a goroutine running this long yields its P. 10 ms
    /// (`forcePreemptNS` in the Go runtime).
    pub preempt_slice: Duration,
    /// A storage call this long must have parked the goroutine on a wait (lock, pool,
    /// queue). Default 1 ms.
    pub park_threshold: Duration,
    /// With several CPUs: how long an idle P takes to wake and steal the new goroutine
    /// (futex wake-up of an idle thread; on a virtual machine the vCPU must be scheduled
    /// by the hypervisor too). Default uniform in 10–200 µs.
    pub wake_latency: RangeInclusive<Duration>,
}

impl GoScheduler {
    pub fn with_cpus(cpus: u32) -> GoScheduler {
        GoScheduler {
            cpus: cpus.max(1),
            preempt_slice: Duration::from_millis(10),
            park_threshold: Duration::from_millis(1),
            wake_latency: Duration::from_micros(10)..=Duration::from_micros(200),
        }
    }
}

/// What the handler did, as far as the scheduler cares.
pub struct HandlerRun {
    /// From the watcher's start to the cleanup.
    pub ran: Duration,
    /// Its longest storage call.
    pub longest_storage_call: Duration,
}

/// The watcher goroutine of one execution.
pub struct Watcher {
    execution: u64,
    state: Rc<VmState>,
    /// With several CPUs, when an idle P picks the goroutine up.
    stolen_after: Option<Duration>,
}

/// How the watcher of an execution ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum WatcherEnd {
    /// It reached its `select` in time and woke on `done`.
    InTime,
    /// Late, both channels ready, Go picked `done`.
    LatePickedDone,
    /// Late, both channels ready, Go picked the timeout: the VM, back in the pool, now
    /// carries an interrupt for whoever runs on it next.
    LateInterruptedPooledVm,
}

impl Watcher {
    /// `go func() { select {...} }()` for `execution`, on the VM whose state is `state`.
    pub fn spawn(
        execution: u64,
        state: Rc<VmState>,
        scheduler: &GoScheduler,
        rng: &Rng,
    ) -> Watcher {
        let stolen_after = (scheduler.cpus > 1).then(|| {
            let (low, high) = (
                *scheduler.wake_latency.start(),
                *scheduler.wake_latency.end(),
            );
            low + rng.duration_up_to(high.saturating_sub(low))
        });
        Watcher {
            execution,
            state,
            stolen_after,
        }
    }

    /// Runs fazt's deferred cleanup, in fazt's order, then resolves the watcher.
    /// Call after the execution ended and before the VM goes back to the pool (the
    /// caller returns it right after, as fazt's third step). A late watcher runs right
    /// after the cleanup: on one CPU the P has just become free; on several, within the
    /// wake-up latency, which this model folds into the cleanup instant (the VM cannot
    /// serve again sooner when it is not the only one idle).
    pub fn cleanup(self, scheduler: &GoScheduler, run: &HandlerRun, rng: &Rng) -> WatcherEnd {
        // 1. close(done); vm.ClearInterrupt()
        self.state.interrupt.set(None);
        // 2. cancel(): the timeout context is done too, from now on.
        // 3. (the caller) pool.Put(vm)
        let reached_select_before_cleanup = match self.stolen_after {
            Some(latency) => latency < run.ran,
            None => {
                run.ran >= scheduler.preempt_slice
                    || run.longest_storage_call >= scheduler.park_threshold
            }
        };
        if reached_select_before_cleanup {
            return WatcherEnd::InTime;
        }
        // Both cases ready: Go's select chooses uniformly.
        if rng.chance(1, 2) {
            return WatcherEnd::LatePickedDone;
        }
        self.state.interrupt.set(Some(self.execution));
        WatcherEnd::LateInterruptedPooledVm
    }
}
