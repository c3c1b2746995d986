//! The bounded pool of VMs and coroutine stacks of one thread, with its metrics.
//!
//! A VM that has run an app's code only ever runs that app's code again: idle VMs are
//! kept per app, under one bound on the VMs of the pool (and so on their memory: each
//! VM has its own heap limit). A checkout for an app takes one of its idle VMs, else a
//! fresh one (pre-warmed, never used), else creates one while under the bound, else
//! evicts an idle VM of the app that used the pool least recently and creates one in
//! its place. When every VM is busy it waits, no later than its deadline, or (fazt's
//! pool, [`WhenAllBusy::CreateAnother`]) creates one more, dropped on its return if
//! the pool's idle VMs are already `size`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use corosensei::stack::DefaultStack;
use serde::Serialize;
use tokio::sync::Semaphore;

use super::error::{ErrorKind, ExecutionError};
use super::vm::{Vm, VmLimits};
use crate::env::{timeout_at, Deadline, Env};
use crate::events::Event;

/// Which idle VM serves next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmReuse {
    /// The app's most recently returned VM (warm caches), fresh VMs only when it has
    /// none. The hardened default.
    Lifo,
    /// The least recently returned (fazt's channel-based pool): fresh VMs first, as
    /// they were in fazt's channel before any VM came back.
    Fifo,
}

/// What a checkout does when every VM of the pool is busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenAllBusy {
    /// Wait for one, no later than the deadline: the pool bounds the VMs' memory. The
    /// hardened default.
    Wait,
    /// Create a VM outside the bound; it is dropped on its return when `size` VMs are
    /// idle (fazt's `getVM`/`returnVM`: a non-blocking receive from the pool's channel,
    /// else `goja.New()`; a non-blocking send back, else discard; v0.10.5 and fde8041
    /// `internal/runtime/runtime.go`).
    CreateAnother,
}

/// Pool counters, as `/api/_debug/runtime` shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PoolMetrics {
    /// Most VMs alive at once (idle and busy, all apps together).
    pub size: usize,
    pub idle: usize,
    pub busy: usize,
    pub waiters: usize,
    pub created: u64,
    pub executions: u64,
    pub timeouts: u64,
    pub interrupts: u64,
    /// VMs dropped because their state could not be proven clean.
    pub discarded: u64,
    /// Idle VMs dropped to make room for a VM of another app.
    pub evicted: u64,
}

/// Sums the figures of several pools (one per worker thread).
impl std::ops::AddAssign<&PoolMetrics> for PoolMetrics {
    fn add_assign(&mut self, other: &PoolMetrics) {
        // Destructured, so that a new figure cannot be left out of the sum.
        let PoolMetrics {
            size,
            idle,
            busy,
            waiters,
            created,
            executions,
            timeouts,
            interrupts,
            discarded,
            evicted,
        } = other;
        self.size += size;
        self.idle += idle;
        self.busy += busy;
        self.waiters += waiters;
        self.created += created;
        self.executions += executions;
        self.timeouts += timeouts;
        self.interrupts += interrupts;
        self.discarded += discarded;
        self.evicted += evicted;
    }
}

/// A VM and a stack checked out of the pool.
pub struct Lease {
    pub vm: Vm,
    pub stack: DefaultStack,
}

/// Idle VMs by the app whose code they ran.
#[derive(Default)]
struct Idle {
    /// Never used: any app may take them.
    fresh: VecDeque<Vm>,
    /// Apps with idle VMs (only those: at most `size` entries).
    by_app: BTreeMap<String, AppIdle>,
    /// The pool's own clock of checkouts and returns.
    tick: u64,
}

/// One app's idle VMs.
struct AppIdle {
    /// Oldest returned first.
    vms: VecDeque<Vm>,
    /// The app's latest checkout or return, on [`Idle::tick`].
    last_used: u64,
}

impl Idle {
    fn len(&self) -> usize {
        self.fresh.len() + self.by_app.values().map(|app| app.vms.len()).sum::<usize>()
    }

    /// An idle VM that may run `app`'s code, in `reuse` order.
    fn take(&mut self, app: &str, reuse: VmReuse) -> Option<Vm> {
        self.tick += 1;
        let tick = self.tick;
        let own = self.by_app.get_mut(app).map(|own| {
            own.last_used = tick;
            &mut own.vms
        });
        let vm = match reuse {
            VmReuse::Lifo => own
                .and_then(VecDeque::pop_back)
                .or_else(|| self.fresh.pop_back()),
            VmReuse::Fifo => self
                .fresh
                .pop_front()
                .or_else(|| own.and_then(VecDeque::pop_front)),
        };
        self.forget_empty(app);
        vm
    }

    /// Takes the oldest idle VM of the app that used the pool least recently.
    fn evict(&mut self) -> Option<Vm> {
        let coldest = self
            .by_app
            .iter()
            .min_by_key(|(_, idle)| idle.last_used)
            .map(|(app, _)| app.clone())?;
        let vm = self
            .by_app
            .get_mut(&coldest)
            .and_then(|idle| idle.vms.pop_front());
        self.forget_empty(&coldest);
        vm
    }

    fn give_back(&mut self, app: &str, vm: Vm) {
        self.tick += 1;
        let tick = self.tick;
        let idle = self
            .by_app
            .entry(app.to_owned())
            .or_insert_with(|| AppIdle {
                vms: VecDeque::new(),
                last_used: 0,
            });
        idle.last_used = tick;
        idle.vms.push_back(vm);
    }

    fn forget_empty(&mut self, app: &str) {
        if self.by_app.get(app).is_some_and(|idle| idle.vms.is_empty()) {
            self.by_app.remove(app);
        }
    }
}

/// Up to `size` VMs, created on demand; a checkout waits no longer than its deadline.
pub struct VmPool {
    env: Env,
    limits: VmLimits,
    reuse: VmReuse,
    when_all_busy: WhenAllBusy,
    size: usize,
    idle: RefCell<Idle>,
    /// VMs alive: idle, fresh and checked out.
    alive: Cell<usize>,
    stacks: RefCell<Vec<DefaultStack>>,
    permits: Rc<Semaphore>,
    next_vm: Cell<u64>,
    metrics: RefCell<PoolMetrics>,
}

impl VmPool {
    pub fn new(
        env: Env,
        limits: VmLimits,
        size: usize,
        reuse: VmReuse,
        when_all_busy: WhenAllBusy,
    ) -> VmPool {
        VmPool {
            env,
            limits,
            reuse,
            when_all_busy,
            size: size.max(1),
            idle: RefCell::new(Idle::default()),
            alive: Cell::new(0),
            stacks: RefCell::new(Vec::new()),
            permits: Rc::new(Semaphore::new(size.max(1))),
            next_vm: Cell::new(0),
            metrics: RefCell::new(PoolMetrics::default()),
        }
    }

    /// Checks out a VM for `app` (one that has run no other app's code) and a stack,
    /// waiting for one no later than `deadline`.
    pub async fn acquire(&self, app: &str, deadline: Deadline) -> Result<Lease, ExecutionError> {
        if self.when_all_busy == WhenAllBusy::Wait {
            self.take_permit(deadline).await?;
        }
        let stack = self.stacks.borrow_mut().pop();
        let stack = match stack {
            Some(stack) => stack,
            None => match DefaultStack::new(self.limits.coroutine_stack_bytes) {
                Ok(stack) => stack,
                Err(error) => {
                    self.give_permit();
                    return Err(ExecutionError::new(
                        ErrorKind::Memory,
                        format!("cannot map a coroutine stack: {error}"),
                    ));
                }
            },
        };
        let vm = match self.checkout(app) {
            Ok(vm) => vm,
            Err(error) => {
                self.stacks.borrow_mut().push(stack);
                self.give_permit();
                return Err(error);
            }
        };
        Ok(Lease { vm, stack })
    }

    /// Waits for a VM of the pool to be free, no later than `deadline`.
    async fn take_permit(&self, deadline: Deadline) -> Result<(), ExecutionError> {
        self.metrics.borrow_mut().waiters += 1;
        let permit = timeout_at(self.env.clock.as_ref(), deadline, self.permits.acquire()).await;
        self.metrics.borrow_mut().waiters -= 1;
        match permit {
            Ok(Ok(permit)) => {
                permit.forget();
                Ok(())
            }
            _ => Err(ExecutionError::new(
                ErrorKind::Overloaded,
                format!(
                    "all {} VMs are busy and none became free in time",
                    self.size
                ),
            )),
        }
    }

    /// Frees the permit a checkout took (none under [`WhenAllBusy::CreateAnother`]).
    fn give_permit(&self) {
        if self.when_all_busy == WhenAllBusy::Wait {
            self.permits.add_permits(1);
        }
    }

    /// An idle VM of `app`, a fresh one, a new one, or a new one in place of the
    /// coldest app's idle VM. The caller holds a permit, so at most `size - 1` VMs are
    /// busy: at the bound, one is idle (and no fresh one is left, or `take` had it).
    fn checkout(&self, app: &str) -> Result<Vm, ExecutionError> {
        let mut idle = self.idle.borrow_mut();
        if let Some(vm) = idle.take(app, self.reuse) {
            return Ok(vm);
        }
        if self.alive.get() >= self.size {
            if let Some(vm) = idle.evict() {
                self.env.recorder.emit(Event::VmEvicted { vm: vm.id });
                self.alive.set(self.alive.get() - 1);
                self.metrics.borrow_mut().evicted += 1;
            }
        }
        drop(idle);
        self.create()
    }

    fn create(&self) -> Result<Vm, ExecutionError> {
        let id = self.next_vm.get();
        self.next_vm.set(id + 1);
        self.metrics.borrow_mut().created += 1;
        let rng = self.env.rng.split(&format!("vm-{id}"));
        let vm = Vm::new(id, &self.limits, self.env.clock.clone(), rng).map_err(|error| {
            ExecutionError::new(ErrorKind::Memory, format!("cannot create a VM: {error}"))
        })?;
        self.alive.set(self.alive.get() + 1);
        Ok(vm)
    }

    /// Creates VMs until the pool is full (fazt pre-warmed its pool of 10). They stay
    /// fresh until an app first takes one.
    pub fn prewarm(&self) -> Result<(), ExecutionError> {
        while self.alive.get() < self.size {
            let vm = self.create()?;
            self.idle.borrow_mut().fresh.push_back(vm);
        }
        Ok(())
    }

    /// Returns `app`'s lease; an unhealthy VM is dropped instead of being reused.
    pub fn release(&self, app: &str, lease: Lease, healthy: bool) {
        let overflow = self.when_all_busy == WhenAllBusy::CreateAnother
            && self.idle.borrow().len() >= self.size;
        if healthy && !overflow {
            self.idle.borrow_mut().give_back(app, lease.vm);
        } else {
            self.alive.set(self.alive.get() - 1);
            self.metrics.borrow_mut().discarded += u64::from(!healthy);
        }
        self.stacks.borrow_mut().push(lease.stack);
        self.give_permit();
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
        metrics.busy = self.alive.get() - metrics.idle;
        metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(when_all_busy: WhenAllBusy) -> VmPool {
        let env = Env::real();
        VmPool::new(env, VmLimits::default(), 1, VmReuse::Fifo, when_all_busy)
    }

    /// fazt's pool: a checkout finding every VM busy creates another, and a VM coming
    /// back to a pool whose idle VMs are already `size` is dropped.
    #[tokio::test]
    async fn a_growing_pool_creates_a_vm_when_all_are_busy_and_drops_the_extra() {
        let pool = pool(WhenAllBusy::CreateAnother);
        let first = pool.acquire("a", Deadline::NONE).await.unwrap();
        let second = pool.acquire("a", Deadline::NONE).await.unwrap();
        assert_eq!(pool.metrics().busy, 2);
        pool.release("a", first, true);
        pool.release("a", second, true);
        let metrics = pool.metrics();
        assert_eq!((metrics.created, metrics.idle, metrics.busy), (2, 1, 0));
        assert_eq!(metrics.discarded, 0);
    }

    #[tokio::test]
    async fn a_bounded_pool_waits_and_refuses_at_the_deadline() {
        let pool = pool(WhenAllBusy::Wait);
        let first = pool.acquire("a", Deadline::NONE).await.unwrap();
        let now = pool.env.clock.now();
        let refused = pool.acquire("a", Deadline::at(now)).await;
        assert!(matches!(refused, Err(error) if error.kind == ErrorKind::Overloaded));
        pool.release("a", first, true);
        assert_eq!(pool.metrics().created, 1);
    }
}
