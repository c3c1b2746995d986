//! The bounded pool of VMs and coroutine stacks of one thread, with its metrics.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use corosensei::stack::DefaultStack;
use serde::Serialize;
use tokio::sync::Semaphore;

use super::error::{ErrorKind, ExecutionError};
use super::vm::{Vm, VmLimits};
use crate::env::{timeout_at, Deadline, Env};

/// Which idle VM serves next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmReuse {
    /// The most recently returned (warm caches). The hardened default.
    Lifo,
    /// The least recently returned (fazt's channel-based pool).
    Fifo,
}

/// Pool counters, as `/api/_debug/runtime` shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PoolMetrics {
    pub size: usize,
    pub idle: usize,
    pub busy: usize,
    pub waiters: usize,
    pub created: u64,
    pub executions: u64,
    pub timeouts: u64,
    pub interrupts: u64,
    pub discarded: u64,
}

/// A VM and a stack checked out of the pool.
pub struct Lease {
    pub vm: Vm,
    pub stack: DefaultStack,
}

/// Up to `size` VMs, created on demand; a checkout waits no longer than its deadline.
pub struct VmPool {
    env: Env,
    limits: VmLimits,
    reuse: VmReuse,
    size: usize,
    idle: RefCell<VecDeque<Vm>>,
    stacks: RefCell<Vec<DefaultStack>>,
    permits: Rc<Semaphore>,
    next_vm: Cell<u64>,
    metrics: RefCell<PoolMetrics>,
}

impl VmPool {
    pub fn new(env: Env, limits: VmLimits, size: usize, reuse: VmReuse) -> VmPool {
        VmPool {
            env,
            limits,
            reuse,
            size: size.max(1),
            idle: RefCell::new(VecDeque::new()),
            stacks: RefCell::new(Vec::new()),
            permits: Rc::new(Semaphore::new(size.max(1))),
            next_vm: Cell::new(0),
            metrics: RefCell::new(PoolMetrics::default()),
        }
    }

    /// Checks out a VM and a stack, waiting for one no later than `deadline`.
    pub async fn acquire(&self, deadline: Deadline) -> Result<Lease, ExecutionError> {
        self.metrics.borrow_mut().waiters += 1;
        let permit = timeout_at(self.env.clock.as_ref(), deadline, self.permits.acquire()).await;
        self.metrics.borrow_mut().waiters -= 1;
        match permit {
            Ok(Ok(permit)) => permit.forget(),
            _ => {
                return Err(ExecutionError::new(
                    ErrorKind::Overloaded,
                    format!(
                        "all {} VMs are busy and none became free in time",
                        self.size
                    ),
                ))
            }
        }
        let vm = match self.reuse {
            VmReuse::Lifo => self.idle.borrow_mut().pop_back(),
            VmReuse::Fifo => self.idle.borrow_mut().pop_front(),
        };
        let vm = match vm {
            Some(vm) => vm,
            None => match self.create() {
                Ok(vm) => vm,
                Err(error) => {
                    self.permits.add_permits(1);
                    return Err(error);
                }
            },
        };
        let stack = match self.stacks.borrow_mut().pop() {
            Some(stack) => stack,
            None => DefaultStack::new(self.limits.coroutine_stack_bytes).map_err(|error| {
                ExecutionError::new(
                    ErrorKind::Memory,
                    format!("cannot map a coroutine stack: {error}"),
                )
            })?,
        };
        Ok(Lease { vm, stack })
    }

    fn create(&self) -> Result<Vm, ExecutionError> {
        let id = self.next_vm.get();
        self.next_vm.set(id + 1);
        self.metrics.borrow_mut().created += 1;
        let rng = self.env.rng.split(&format!("vm-{id}"));
        Vm::new(id, &self.limits, self.env.clock.clone(), rng).map_err(|error| {
            ExecutionError::new(ErrorKind::Memory, format!("cannot create a VM: {error}"))
        })
    }

    /// Creates VMs until the pool is full (fazt pre-warmed its pool of 10).
    pub fn prewarm(&self) -> Result<(), ExecutionError> {
        while (self.next_vm.get() as usize) < self.size {
            let vm = self.create()?;
            self.idle.borrow_mut().push_back(vm);
        }
        Ok(())
    }

    /// Returns a lease; an unhealthy VM is dropped instead of being reused.
    pub fn release(&self, lease: Lease, healthy: bool) {
        if healthy {
            self.idle.borrow_mut().push_back(lease.vm);
        } else {
            self.metrics.borrow_mut().discarded += 1;
        }
        self.stacks.borrow_mut().push(lease.stack);
        self.permits.add_permits(1);
    }

    /// Counts a finished execution.
    pub fn record(&self, timed_out: bool, interrupted: bool) {
        let mut metrics = self.metrics.borrow_mut();
        metrics.executions += 1;
        metrics.timeouts += u64::from(timed_out);
        metrics.interrupts += u64::from(interrupted);
    }

    pub fn metrics(&self) -> PoolMetrics {
        let mut metrics = self.metrics.borrow().clone();
        metrics.size = self.size;
        metrics.idle = self.idle.borrow().len();
        metrics.busy = self.size - self.permits.available_permits();
        metrics
    }
}
