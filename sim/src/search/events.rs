//! The one place the search reads the engine's trace: each reader turns typed events
//! into the facts its checker needs.

use std::collections::{BTreeMap, BTreeSet};

use fazt_chaos::Action;
use fazt_engine::coverage::Mark;
use fazt_engine::events::Event as EngineEvent;
use fazt_engine::failpoints;
use fazt_engine::runtime::Operation;

use crate::trace::{Event, Trace, What};

/// The trace cut at each server crash or power loss: one slice per server lifetime.
pub fn lifetimes(trace: &Trace) -> Vec<&[Event]> {
    trace.events.split(ends_lifetime).collect()
}

fn ends_lifetime(event: &Event) -> bool {
    matches!(
        &event.what,
        What::Fault {
            action: Action::Crash { .. } | Action::PowerLoss { .. }
        }
    )
}

/// What the runtime did with a VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmEvent<'a> {
    Checkout {
        execution: u64,
        vm: u64,
    },
    /// An execution failed; `interrupted`: its VM was interrupted (a timeout, a signal).
    Failed {
        execution: u64,
        vm: u64,
        kind: &'a str,
        interrupted: bool,
    },
    Return {
        execution: u64,
        vm: u64,
        discarded: bool,
    },
}

/// The VM events of one lifetime, in order.
pub fn vm_events(lifetime: &[Event]) -> Vec<VmEvent<'_>> {
    lifetime
        .iter()
        .filter_map(|event| match event.engine()? {
            EngineEvent::VmCheckout { execution, vm } => Some(VmEvent::Checkout {
                execution: *execution,
                vm: *vm,
            }),
            EngineEvent::ExecutionFailed {
                execution,
                vm,
                kind,
                interrupted,
                ..
            } => Some(VmEvent::Failed {
                execution: *execution,
                vm: *vm,
                kind,
                interrupted: *interrupted,
            }),
            EngineEvent::VmReturn {
                execution,
                vm,
                discarded,
            } => Some(VmEvent::Return {
                execution: *execution,
                vm: *vm,
                discarded: *discarded,
            }),
            _ => None,
        })
        .collect()
}

/// Whether a lifetime ended (at a crash) with a group's writes applied and held open
/// by a slow statement, not yet committed: the crash fell between apply and commit.
/// (The slow statement's failpoint fires as its transaction begins.)
pub fn crashed_between_apply_and_commit(trace: &Trace) -> bool {
    let lifetimes = lifetimes(trace);
    let crashed = lifetimes.len().saturating_sub(1);
    lifetimes[..crashed].iter().any(|lifetime| {
        let mut open = false;
        for event in lifetime.iter().filter_map(Event::engine) {
            match event {
                EngineEvent::Fault { point, .. } => {
                    open |= *point == failpoints::STORAGE_SLOW_STATEMENT;
                }
                EngineEvent::GroupCommitted { .. }
                | EngineEvent::CommitUnconfirmed { .. }
                | EngineEvent::WriterBusy { .. } => open = false,
                _ => {}
            }
        }
        open
    })
}

/// The windows (µs) when the network between the server and its clients was held,
/// partitioned or slowed, from the fault driver's own events.
pub fn network_faulted(trace: &Trace) -> Vec<(u64, u64)> {
    trace
        .events
        .iter()
        .filter_map(|event| {
            let What::Fault { action } = &event.what else {
                return None;
            };
            let ms = match action {
                Action::Hold { ms } | Action::Partition { ms } => *ms,
                Action::Latency { for_ms, .. } => *for_ms,
                _ => return None,
            };
            Some((event.at_us, event.at_us + ms * 1000))
        })
        .collect()
}

/// The windows (µs) when the server stalled every request whatever the engine does: a
/// CPU slowdown (`runtime-slow-cpu`: `n` ticks of `js_tick_us` charged at once, before a
/// script starts, holding the simulated CPU) or a slow accept (`server-slow-accept`:
/// `n` ms before a connection is taken). Like a held link, each delays every answer
/// that needs the CPU or a new connection meanwhile.
pub fn server_stalled(trace: &Trace, js_tick_us: u64) -> Vec<(u64, u64)> {
    trace
        .events
        .iter()
        .filter_map(|event| {
            let EngineEvent::Fault { point, n: Some(n) } = event.engine()? else {
                return None;
            };
            let us = match *point {
                failpoints::RUNTIME_SLOW_CPU => n * js_tick_us,
                failpoints::SERVER_SLOW_ACCEPT => n * 1000,
                _ => return None,
            };
            Some((event.at_us, event.at_us + us))
        })
        .collect()
}

/// The coverage marks a trace's typed events record: the states the engine reports as
/// events anyway, so it need not mark them itself (issue 17).
pub fn marks(trace: &Trace) -> Vec<Mark> {
    let mut marks = Vec::new();
    if crashed_between_apply_and_commit(trace) {
        marks.push(Mark::CrashBetweenApplyAndCommit);
    }
    for lifetime in lifetimes(trace) {
        let mut timed_out = BTreeSet::new();
        for event in lifetime.iter().filter_map(Event::engine) {
            match event {
                EngineEvent::CommitUnconfirmed { .. } => marks.push(Mark::CommitUnconfirmed),
                EngineEvent::WriteRefused { .. } => marks.push(Mark::WriteRefusedForBudget),
                EngineEvent::RequestRefused { .. } => marks.push(Mark::AdmissionRefused),
                EngineEvent::ExecutionFailed {
                    execution, kind, ..
                } if kind == TIMEOUT => {
                    timed_out.insert(*execution);
                }
                EngineEvent::VmReturn {
                    execution,
                    discarded: true,
                    ..
                } if timed_out.contains(execution) => marks.push(Mark::VmDiscardedAfterTimeout),
                _ => {}
            }
        }
    }
    marks
}

/// The error kind of a timed-out execution.
const TIMEOUT: &str = "TimeoutError";

/// A write that entered the queue while a group was running, which then committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedBehind {
    pub execution: u64,
    /// When the execution took its VM: its deadline is at most its budget after.
    pub checkout_us: u64,
    /// When the execution made the storage call: the write was submitted no earlier.
    pub call_us: u64,
    /// When the running group started.
    pub group_started_us: u64,
}

/// The writes of executions queued behind a running group that started before their
/// storage call and later committed (or failed to confirm its commit). Groups that met
/// SQLITE_BUSY, or ended without an event (a failure before `COMMIT`), are left out:
/// their retries and their successors are not told apart by the trace.
pub fn queued_behind_groups(lifetime: &[Event]) -> Vec<QueuedBehind> {
    let (mut checkouts, mut calls) = (BTreeMap::new(), BTreeMap::new());
    let mut group: Option<u64> = None;
    let (mut waiting, mut behind) = (Vec::new(), Vec::new());
    for event in lifetime {
        let Some(engine) = event.engine() else {
            continue;
        };
        match engine {
            EngineEvent::VmCheckout { execution, .. } => {
                checkouts.entry(*execution).or_insert(event.at_us);
            }
            EngineEvent::StorageCall { execution, .. } => {
                calls.insert(*execution, event.at_us);
            }
            EngineEvent::GroupStarted { .. } => {
                group = Some(event.at_us);
                waiting.clear();
            }
            EngineEvent::WriterBusy { .. } => {
                group = None;
                waiting.clear();
            }
            EngineEvent::GroupCommitted { .. } | EngineEvent::CommitUnconfirmed { .. }
                if group.take().is_some() =>
            {
                behind.append(&mut waiting);
            }
            EngineEvent::WriteQueued { .. } => {
                let queued = event.execution().and_then(|execution| {
                    Some(QueuedBehind {
                        execution,
                        checkout_us: *checkouts.get(&execution)?,
                        call_us: *calls.get(&execution)?,
                        group_started_us: group?,
                    })
                });
                waiting.extend(queued.filter(|q| q.group_started_us <= q.call_us));
            }
            _ => {}
        }
    }
    behind
}

/// The executions of one lifetime whose queued write was answered with an error while
/// the group that had claimed it was still running, that group then committing every
/// one of its writes (or failing to confirm its commit): their write's outcome was not
/// known when they were answered, and was in fact (or may have been) applied.
///
/// A group is the writes queued before it started (in the trace's order: the writer
/// drains the queue and starts the group in one step); an attempt that met SQLITE_BUSY
/// is retried with the same writes, less those answered meanwhile, draining nothing
/// new. A group whose count of writes is not the count so found (a background write
/// among them, a full batch) is left out. A member answered later than the group's
/// start, before it ended, was claimed by it (a member whose deadline had passed is
/// cancelled as the group starts).
pub fn answered_mid_group(lifetime: &[Event]) -> Vec<u64> {
    /// The group running: when it started, its members not yet answered, those
    /// answered with an error while it ran, and whether its members are known.
    struct Running {
        started_us: u64,
        members: BTreeSet<u64>,
        mid: Vec<u64>,
        known: bool,
    }
    let mut queued = BTreeSet::new();
    // The writes of an attempt that met SQLITE_BUSY, until it is retried.
    let mut retrying: Option<BTreeSet<u64>> = None;
    let mut group: Option<Running> = None;
    let mut answered = Vec::new();
    for event in lifetime {
        let Some(engine) = event.engine() else {
            continue;
        };
        match engine {
            EngineEvent::WriteQueued { .. } => queued.extend(event.execution()),
            EngineEvent::GroupStarted { writes } => {
                let members = retrying
                    .take()
                    .unwrap_or_else(|| std::mem::take(&mut queued));
                group = Some(Running {
                    started_us: event.at_us,
                    known: members.len() == *writes,
                    members,
                    mid: Vec::new(),
                })
            }
            EngineEvent::StorageAnswer { execution, ok, .. } => {
                queued.remove(execution);
                if let Some(retrying) = retrying.as_mut() {
                    retrying.remove(execution);
                }
                if let Some(running) = group.as_mut() {
                    if running.members.remove(execution) && !ok && event.at_us > running.started_us
                    {
                        running.mid.push(*execution);
                    }
                }
            }
            EngineEvent::GroupCommitted { writes, applied } => {
                if let Some(running) = group.take() {
                    if running.known && applied == writes {
                        answered.extend(running.mid);
                    }
                }
            }
            EngineEvent::CommitUnconfirmed { .. } => {
                if let Some(running) = group.take().filter(|running| running.known) {
                    answered.extend(running.mid);
                }
            }
            EngineEvent::WriterBusy { .. } => {
                retrying = group.take().map(|running| running.members);
            }
            _ => {}
        }
    }
    answered
}

/// The request each execution of one lifetime served.
pub fn requests(lifetime: &[Event]) -> BTreeMap<u64, &str> {
    lifetime
        .iter()
        .filter_map(|event| match event.engine()? {
            EngineEvent::Request {
                request_id,
                execution,
                ..
            } => Some((*execution, request_id.as_str())),
            _ => None,
        })
        .collect()
}

/// What a lifetime's runtime events say of its VM pool so far: the figures the pool
/// keeps (`PoolMetrics`), counted from the events that go with each change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolTally {
    /// Executions that ran to an end on a VM (answered or failed).
    pub executions: u64,
    /// Executions failed as `TimeoutError`, and those of them the VM's interrupt ended
    /// (a script may throw an error of that name itself: no timeout of the pool's).
    pub timeouts: u64,
    pub interrupted_timeouts: u64,
    /// Executions the VM's interrupt ended.
    pub interrupts: u64,
    /// VMs returned to be dropped.
    pub discarded: u64,
    pub evicted: u64,
    /// VMs the pool has numbered: its highest VM id checked out, plus one (ids count
    /// from 0 in each lifetime).
    pub numbered: u64,
    /// Checkouts refused (no VM in time, or one could not be created).
    pub refused: u64,
    /// VMs checked out and not yet returned.
    pub busy: u64,
}

impl PoolTally {
    /// Counts one engine event.
    pub fn count(&mut self, event: &EngineEvent) {
        match event {
            EngineEvent::VmCheckout { vm, .. } => {
                self.busy += 1;
                self.numbered = self.numbered.max(vm + 1);
            }
            EngineEvent::ExecutionOk { .. } => self.executions += 1,
            EngineEvent::ExecutionFailed {
                kind, interrupted, ..
            } => {
                self.executions += 1;
                self.interrupts += u64::from(*interrupted);
                if kind == TIMEOUT {
                    self.timeouts += 1;
                    self.interrupted_timeouts += u64::from(*interrupted);
                }
            }
            EngineEvent::VmReturn { discarded, .. } => {
                self.busy = self.busy.saturating_sub(1);
                self.discarded += u64::from(*discarded);
            }
            EngineEvent::VmEvicted { .. } => self.evicted += 1,
            EngineEvent::Overloaded { .. } => self.refused += 1,
            _ => {}
        }
    }
}

/// Where request `request_id`'s `Answered` event is in `lifetime`, and when (µs) the
/// server read its head: the answer was made between the two.
pub fn answered(lifetime: &[Event], request_id: &str) -> Option<(usize, u64)> {
    lifetime.iter().enumerate().find_map(|(at, event)| {
        let EngineEvent::Answered {
            request_id: id,
            took_us,
            ..
        } = event.engine()?
        else {
            return None;
        };
        (id == request_id).then(|| (at, event.at_us.saturating_sub(*took_us)))
    })
}

/// A write named in an event the storage emitted inside an execution's storage call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedWrite<'a> {
    pub execution: u64,
    /// The storage operation the execution called (its latest call).
    pub called: Operation,
    /// The write's name in the event.
    pub named: &'a str,
    pub at_us: u64,
}

/// Every write of one lifetime that an event names inside an execution's storage call
/// (queued, refused, begun on the direct path), with the operation that call made.
/// Background writes (analytics, the request log, sweeps) are made by no execution and
/// are left out, as are events of the writer's own task.
pub fn named_writes(lifetime: &[Event]) -> Vec<NamedWrite<'_>> {
    let mut calls = BTreeMap::new();
    let mut named = Vec::new();
    for event in lifetime {
        let Some(engine) = event.engine() else {
            continue;
        };
        let name = match engine {
            EngineEvent::StorageCall {
                execution,
                operation,
            } => {
                calls.insert(*execution, *operation);
                continue;
            }
            EngineEvent::WriteQueued { write, .. }
            | EngineEvent::WriteRefused { write, .. }
            | EngineEvent::DirectWriteStarted { write } => *write,
            _ => continue,
        };
        let Some(execution) = event.execution() else {
            continue;
        };
        if let Some(&called) = calls.get(&execution) {
            named.push(NamedWrite {
                execution,
                called,
                named: name,
                at_us: event.at_us,
            });
        }
    }
    named
}
