//! The JavaScript runtime: fazt's handler contract on QuickJS (rquickjs).
//!
//! | file | what lives there |
//! | --- | --- |
//! | `mod.rs` | [`Runtime`]: run an app's handler for a request, with a VM from the pool |
//! | `contract.rs`, `error.rs` | request, response, logs, app code; error kinds |
//! | `prelude.js` | the contract's globals in JavaScript, and the VM lockdown |
//! | `vm.rs` | one VM: limits, host functions, interrupt handler |
//! | `globals.rs` | the global object as the prelude left it, restored after each execution |
//! | `json_value.rs` | the `request` global built from Rust values, without JSON text |
//! | `json_read.rs` | storage arguments and responses read as `JSON.stringify` would, without text |
//! | `budgets.rs` | byte budgets of what leaves a VM: response, storage arguments, console |
//! | `compile.rs` | scripts and modules compiled once per VM, run afresh each execution |
//! | `execution.rs` | one execution in a coroutine, driven until it completes |
//! | `suspend.rs` | the coroutine protocol: storage calls and time slices |
//! | `storage_call.rs` | storage calls from JavaScript, performed by the driver |
//! | `pool.rs` | the bounded VM pool, idle VMs kept per app, and its metrics |
//! | `workers.rs` | the real environment's execution threads, one `Runtime` each |
//! | `legacy_watchdog.rs` | fazt 0.10.5's watcher goroutine, for the legacy profile only |
//!
//! Storage calls look synchronous to JavaScript, but an execution waiting on storage
//! holds up nobody: it is a coroutine that suspends at each storage call (and at each
//! interrupt tick, which time-slices CPU-bound scripts) while its driver awaits the
//! work. A `Runtime` is not `Send`: the real server runs one per core.

mod budgets;
mod compile;
mod contract;
mod error;
mod execution;
mod globals;
mod json_read;
mod json_value;
mod legacy_watchdog;
mod operation;
mod pool;
mod stdlib;
mod storage_call;
mod suspend;
mod vm;
mod workers;

pub use budgets::{CONSOLE_BYTES_MAX, RESPONSE_BYTES_MAX};
pub use contract::{AppCode, HandlerRequest, HandlerResponse, LogEntry, LogLevel, Upload};
pub use error::{ErrorKind, ExecutionError, STALE_INTERRUPT};
pub use legacy_watchdog::{GoScheduler, WakeDelay, WatcherEnd};
pub use operation::Operation;
pub use pool::{PoolMetrics, VmReuse, WhenAllBusy};
pub use vm::VmLimits;
pub use workers::Workers;

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use crate::env::{Deadline, Env};
use crate::events::Event;
use crate::storage::Storage;
use execution::Invocation;
use legacy_watchdog::{HandlerRun, Watcher};
use pool::VmPool;

/// Runtime settings.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// VMs per runtime (per core in the server), all apps together: each VM only ever
    /// runs one app's code, so this also bounds the memory of the runtime's VMs
    /// (`pool_size` × `limits.memory_bytes`). Default 16.
    pub pool_size: usize,
    pub reuse: VmReuse,
    /// What a checkout does when all `pool_size` VMs are busy. Default wait.
    pub when_all_busy: WhenAllBusy,
    /// Longest execution, within the request's deadline. Default 5 s.
    pub timeout: Duration,
    pub limits: VmLimits,
    pub watchdog: Watchdog,
    /// Create every VM up front instead of on demand.
    pub prewarm: bool,
}

/// How executions are stopped at their deadline.
#[derive(Clone, Debug)]
pub enum Watchdog {
    /// The driver checks the deadline at every time slice and stops its own coroutine;
    /// an interrupted VM is discarded. The hardened default.
    Deadline,
    /// fazt 0.10.5: a watcher goroutine per execution, cleanup in fazt's order, VMs
    /// never reset (see `legacy_watchdog.rs`).
    LegacyGoroutine(GoScheduler),
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            pool_size: 16,
            reuse: VmReuse::Lifo,
            when_all_busy: WhenAllBusy::Wait,
            timeout: Duration::from_secs(5),
            limits: VmLimits::default(),
            watchdog: Watchdog::Deadline,
            prewarm: false,
        }
    }
}

impl RuntimeConfig {
    /// fazt 0.10.5's runtime (tag v0.10.5, `internal/runtime/runtime.go`): a
    /// pre-warmed FIFO pool of `MaxPoolSize = 10` VMs never reset, that creates another
    /// VM when all are busy (`getVM`), a `DefaultTimeout` of 1 s, the watcher goroutine
    /// on a machine with `cpus` CPUs.
    pub fn fazt_0_10_5(cpus: u32) -> RuntimeConfig {
        RuntimeConfig {
            pool_size: 10,
            reuse: VmReuse::Fifo,
            when_all_busy: WhenAllBusy::CreateAnother,
            timeout: Duration::from_secs(1),
            limits: VmLimits::default(),
            watchdog: Watchdog::LegacyGoroutine(GoScheduler::with_cpus(cpus)),
            prewarm: true,
        }
    }
}

/// A successful execution.
#[derive(Clone, Debug)]
pub struct Executed {
    pub response: HandlerResponse,
    pub logs: Vec<LogEntry>,
}

/// One execution: its outcome and what happened on the way.
#[derive(Clone, Debug)]
pub struct Execution {
    pub outcome: Result<Executed, ExecutionError>,
    pub report: ExecutionReport,
}

/// Where an execution's time went, and what ran it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionReport {
    /// Number of this execution in its runtime (from 0).
    pub execution: u64,
    /// The VM that ran it (none when no VM became free).
    pub vm: Option<u64>,
    pub vm_wait: Duration,
    pub total: Duration,
    pub storage: Duration,
    pub storage_calls: u64,
    /// Interrupt-handler time slices.
    pub fuel: u64,
    /// How the legacy watcher ended, under [`Watchdog::LegacyGoroutine`].
    pub watcher: Option<WatcherEnd>,
    pub writes: WriteEffects,
}

/// What an execution's storage writes came to, so that a failed request can tell its
/// client whether it changed anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteEffects {
    /// Writes acknowledged as committed.
    pub applied: u32,
    /// Writes that may or may not have committed (`OutcomeUnknown`).
    pub unknown: u32,
}

impl WriteEffects {
    /// Counts one write call's answer; a definite failure changed nothing.
    pub fn record<T>(&mut self, answer: &Result<T, crate::storage::StorageError>) {
        match answer {
            Ok(_) => self.applied += 1,
            Err(crate::storage::StorageError::OutcomeUnknown) => self.unknown += 1,
            Err(_) => {}
        }
    }

    /// What the execution changed, in one word.
    pub fn summary(&self) -> Effects {
        match (self.applied, self.unknown) {
            (_, 1..) => Effects::Unknown,
            (1.., 0) => Effects::Applied,
            (0, 0) => Effects::Nothing,
        }
    }
}

/// Whether a request changed stored data, as its error body tells the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Effects {
    /// Nothing was written: a definite failure.
    #[default]
    Nothing,
    /// Some writes committed before it failed.
    Applied,
    /// Some writes may have committed.
    Unknown,
}

impl Effects {
    /// `none`, `applied` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effects::Nothing => "none",
            Effects::Applied => "applied",
            Effects::Unknown => "unknown",
        }
    }
}

/// Runs handlers on a pool of VMs.
pub struct Runtime {
    env: Env,
    config: RuntimeConfig,
    storage: Option<Storage>,
    pool: VmPool,
    next_execution: Cell<u64>,
}

impl Runtime {
    /// A runtime whose handlers use `storage` (none: storage calls fail). Fails only
    /// when pre-warming cannot create a VM.
    pub fn new(
        env: Env,
        storage: Option<Storage>,
        config: RuntimeConfig,
    ) -> Result<Runtime, ExecutionError> {
        let pool = VmPool::new(
            env.for_component("vm-pool"),
            config.limits.clone(),
            config.pool_size,
            config.reuse,
            config.when_all_busy,
        );
        if config.prewarm {
            pool.prewarm()?;
        }
        Ok(Runtime {
            env: env.for_component("runtime"),
            config,
            storage,
            pool,
            next_execution: Cell::new(0),
        })
    }

    pub fn metrics(&self) -> PoolMetrics {
        self.pool.metrics()
    }

    /// Runs `app`'s handler for `request`, to finish by `deadline` (and within the
    /// configured timeout).
    pub async fn execute(
        &self,
        app: &Arc<AppCode>,
        request: &HandlerRequest,
        deadline: Deadline,
    ) -> Execution {
        let clock = self.env.clock.as_ref();
        let started = clock.now();
        let deadline = deadline.min(Deadline::at(started + self.config.timeout));
        let execution = self.next_execution.get();
        self.next_execution.set(execution + 1);
        let mut report = ExecutionReport {
            execution,
            ..ExecutionReport::default()
        };
        let mut lease = match self.pool.acquire(&app.id, deadline).await {
            Ok(lease) => lease,
            Err(error) => {
                report.vm_wait = clock.now().saturating_duration_since(started);
                report.total = report.vm_wait;
                self.env.recorder.emit(Event::Overloaded { execution });
                return Execution {
                    outcome: Err(error),
                    report,
                };
            }
        };
        report.vm = Some(lease.vm.id);
        report.vm_wait = clock.now().saturating_duration_since(started);
        let vm = lease.vm.id;
        self.env.recorder.emit(Event::VmCheckout { execution, vm });
        let spawned = clock.now();
        let watcher = match &self.config.watchdog {
            Watchdog::LegacyGoroutine(scheduler) => Some(Watcher::spawn(
                execution,
                lease.vm.state.clone(),
                scheduler,
                &self.env.rng,
            )),
            Watchdog::Deadline => None,
        };
        let job = Invocation {
            execution,
            app: app.clone(),
            request: request.clone(),
            deadline,
            storage: self.storage.clone(),
        };
        let (finished, stack) = execution::run(&mut lease.vm, lease.stack, job, &self.env).await;
        lease.stack = stack;
        let timed_out = matches!(&finished.result, Err(error) if error.kind == ErrorKind::Timeout);
        self.pool.record(timed_out, finished.interrupted);
        let mut healthy = finished.healthy;
        if let (Some(watcher), Watchdog::LegacyGoroutine(scheduler)) =
            (watcher, &self.config.watchdog)
        {
            // fazt never reset or discarded its VMs: an interrupted one went back as is.
            healthy |= timed_out;
            // The system calls since the watcher's creation, on its clock.
            let syscalls = (self.env.executor.syscalls_since(spawned).into_iter())
                .map(|call| (call.start - spawned, call.length))
                .collect();
            let run = HandlerRun {
                ran: clock.now().saturating_duration_since(spawned),
                longest_storage_call: finished.storage_call_max,
                syscalls,
            };
            let end = watcher.cleanup(scheduler, &run, &self.env.rng);
            self.env
                .recorder
                .emit(Event::Watcher { execution, vm, end });
            report.watcher = Some(end);
        }
        self.env.recorder.emit(match &finished.result {
            Ok(_) => Event::ExecutionOk { execution, vm },
            Err(error) => Event::ExecutionFailed {
                execution,
                vm,
                kind: error.kind.name().to_owned(),
                cause: error.cause.clone(),
                interrupted: finished.interrupted,
            },
        });
        self.env.recorder.emit(Event::VmReturn {
            execution,
            vm,
            discarded: !healthy,
        });
        self.pool.release(&app.id, lease, healthy);
        report.total = clock.now().saturating_duration_since(started);
        report.storage = finished.storage_time;
        report.storage_calls = finished.storage_calls;
        report.fuel = finished.fuel;
        report.writes = finished.writes;
        Execution {
            outcome: finished
                .result
                .map(|(response, logs)| Executed { response, logs }),
            report,
        }
    }
}
