//! The JavaScript runtime: fazt's handler contract on QuickJS (rquickjs).
//!
//! | file | what lives there |
//! | --- | --- |
//! | `mod.rs` | [`Runtime`]: run an app's handler for a request, with a VM from the pool |
//! | `contract.rs`, `error.rs` | request, response, logs, app code; error kinds |
//! | `prelude.js` | the contract's globals in JavaScript, and the VM lockdown |
//! | `vm.rs` | one VM: limits, host functions, interrupt handler |
//! | `execution.rs` | one execution in a coroutine, driven until it completes |
//! | `suspend.rs` | the coroutine protocol: storage calls and time slices |
//! | `storage_call.rs` | storage calls from JavaScript, performed by the driver |
//! | `pool.rs` | the bounded VM pool and its metrics |
//!
//! Storage calls look synchronous to JavaScript, but an execution waiting on storage
//! holds up nobody: it is a coroutine that suspends at each storage call (and at each
//! interrupt tick, which time-slices CPU-bound scripts) while its driver awaits the
//! work. A `Runtime` is not `Send`: the real server runs one per core.

mod contract;
mod error;
mod execution;
mod pool;
mod storage_call;
mod suspend;
mod vm;

pub use contract::{AppCode, HandlerRequest, HandlerResponse, LogEntry, LogLevel};
pub use error::{ErrorKind, ExecutionError};
pub use pool::{PoolMetrics, VmReuse};
pub use vm::VmLimits;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::env::{Deadline, Env};
use crate::storage::Storage;
use execution::Job;
use pool::VmPool;

/// Runtime settings.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// VMs per runtime (per core in the server). Default 16.
    pub pool_size: usize,
    pub reuse: VmReuse,
    /// Longest execution, within the request's deadline. Default 5 s.
    pub timeout: Duration,
    pub limits: VmLimits,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            pool_size: 16,
            reuse: VmReuse::Lifo,
            timeout: Duration::from_secs(5),
            limits: VmLimits::default(),
        }
    }
}

/// A successful execution.
#[derive(Clone, Debug)]
pub struct Executed {
    pub response: HandlerResponse,
    pub logs: Vec<LogEntry>,
    pub timing: ExecutionTiming,
}

/// Where an execution's time went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutionTiming {
    /// The VM that ran it.
    pub vm: u64,
    pub vm_wait: Duration,
    pub total: Duration,
    pub storage: Duration,
    pub storage_calls: u64,
    pub fuel: u64,
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
    /// A runtime whose handlers use `storage` (none: storage calls fail).
    pub fn new(env: Env, storage: Option<Storage>, config: RuntimeConfig) -> Runtime {
        let pool = VmPool::new(env.for_component("vm-pool"), config.limits.clone(), config.pool_size, config.reuse);
        Runtime {
            env: env.for_component("runtime"),
            config,
            storage,
            pool,
            next_execution: Cell::new(0),
        }
    }

    pub fn metrics(&self) -> PoolMetrics {
        self.pool.metrics()
    }

    /// Runs `app`'s handler for `request`, to finish by `deadline` (and within the
    /// configured timeout).
    pub async fn execute(
        &self,
        app: &Rc<AppCode>,
        request: &HandlerRequest,
        deadline: Deadline,
    ) -> Result<Executed, ExecutionError> {
        let clock = self.env.clock.as_ref();
        let started = clock.now();
        let deadline = deadline.min(Deadline::at(started + self.config.timeout));
        let execution = self.next_execution.get();
        self.next_execution.set(execution + 1);
        let mut lease = self.pool.acquire(deadline).await?;
        let vm_wait = clock.now().saturating_duration_since(started);
        let request_json = serde_json::to_string(request).map_err(|error| {
            ExecutionError::new(ErrorKind::Script { name: "Error".into() }, format!("unreadable request: {error}"))
        })?;
        let job = Job {
            execution,
            app: app.clone(),
            request_json,
            deadline,
            scope: self.storage.as_ref().map(|storage| storage.scope(&app.id, deadline)),
        };
        let (finished, stack) = execution::run(&mut lease.vm, lease.stack, job, &self.env).await;
        lease.stack = stack;
        let timed_out = matches!(&finished.result, Err(error) if error.kind == ErrorKind::Timeout);
        self.pool.record(timed_out, timed_out && !finished.healthy);
        let vm = lease.vm.id;
        self.pool.release(lease, finished.healthy);
        let timing = ExecutionTiming {
            vm,
            vm_wait,
            total: clock.now().saturating_duration_since(started),
            storage: finished.storage_time,
            storage_calls: finished.storage_calls,
            fuel: finished.fuel,
        };
        finished.result.map(|(response, logs)| Executed {
            response,
            logs,
            timing,
        })
    }
}
