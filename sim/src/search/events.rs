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
/// A group's members are those [`Membership`] finds, of groups whose members it knows.
/// A member answered later than the attempt's start, before the group ended, was
/// claimed by it (a member whose deadline had passed is cancelled as the attempt
/// starts); an attempt that met SQLITE_BUSY claimed nothing that its retry does not
/// claim again.
pub fn answered_mid_group(lifetime: &[Event]) -> Vec<u64> {
    let mut membership = Membership::default();
    // The attempt in progress: when it started, and its members answered with an
    // error since.
    let mut attempt: (u64, Vec<u64>) = (0, Vec::new());
    let mut answered = Vec::new();
    for event in lifetime {
        let Some(engine) = event.engine() else {
            continue;
        };
        let members = membership.running().and_then(|(_, members)| members);
        match engine {
            EngineEvent::GroupStarted { .. } => attempt = (event.at_us, Vec::new()),
            EngineEvent::StorageAnswer {
                execution,
                ok: false,
                ..
            } if event.at_us > attempt.0 && members.is_some_and(|m| m.contains(execution)) => {
                attempt.1.push(*execution);
            }
            EngineEvent::GroupCommitted { writes, applied }
                if members.is_some() && applied == writes =>
            {
                answered.append(&mut attempt.1);
            }
            EngineEvent::CommitUnconfirmed { .. } if members.is_some() => {
                answered.append(&mut attempt.1);
            }
            _ => {}
        }
        membership.observe(event);
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

/// When (µs) the server first read a request's head, so was listening; `None` when it
/// answered none. A connection refused earlier met a server still starting (deploying
/// its apps, which it does before it listens), not one that had served.
pub fn first_request_read(trace: &Trace) -> Option<u64> {
    trace
        .events
        .iter()
        .filter_map(|event| match event.engine()? {
            EngineEvent::Answered { took_us, .. } => Some(event.at_us.saturating_sub(*took_us)),
            _ => None,
        })
        .min()
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

/// Which writes of one lifetime are waiting in the write queue and which the group in
/// progress took, followed event by event ([`Membership::observe`]).
///
/// A new group drains the queue (up to a full batch; writes cancelled there, past their
/// deadline, are drained with it but do not count in `GroupStarted`'s `writes`); a
/// retry after SQLITE_BUSY takes the same writes, less those answered meanwhile. The
/// writer answers some writes with no event of its own (those it gives up on after
/// SQLITE_BUSY, those whose deadline passed, a group failed before `COMMIT`) and goes
/// straight on to the next group, so their callers' answers may be traced after that
/// group's start (the writer's job holds the simulated CPU first). A group's members
/// are therefore *known* only when every write it may hold was found and they are as
/// many as it has. Left out: a group that drained a background write (never answered
/// in the trace) or more writes than it counts (a cancelled write or a full batch
/// among them), a group started after SQLITE_BUSY while writes were waiting (the
/// writer may have given the busy group up and started a new one, by chance as many:
/// the release search's sixth finding), and a new group while a write that such a
/// group may have left in the queue is unanswered.
#[derive(Debug, Default)]
pub struct Membership {
    /// Executions' writes queued and not yet drained or answered.
    queued: BTreeSet<u64>,
    /// Writes a group may or may not have drained, until they are answered.
    maybe_queued: BTreeSet<u64>,
    /// Whether a background write (of no execution) waits.
    background: bool,
    group: Option<Group>,
    /// The group whose attempt met SQLITE_BUSY, until the writer starts again.
    retrying: Option<Group>,
    /// Whether a write was answered while still waiting in the queue (cancelled there,
    /// or failed with a group that started without an event): the writer may then run
    /// a group the trace does not show (every write of it cancelled).
    answered_in_queue: bool,
}

/// The group in progress, as [`Membership`] follows it.
#[derive(Debug)]
struct Group {
    /// When its first attempt started.
    started_us: u64,
    /// Its members found and not yet answered.
    members: BTreeSet<u64>,
    /// Whether it may hold writes not found.
    unfound: bool,
    known: bool,
}

impl Membership {
    /// Follows one event of the lifetime (every event, in order).
    pub fn observe(&mut self, event: &Event) {
        let Some(engine) = event.engine() else {
            return;
        };
        match engine {
            EngineEvent::WriteQueued { .. } => match event.execution() {
                Some(execution) => {
                    self.queued.insert(execution);
                }
                None => self.background = true,
            },
            EngineEvent::GroupStarted { writes } => {
                let waiting =
                    self.background || !self.queued.is_empty() || !self.maybe_queued.is_empty();
                let (started_us, members, unfound) = match self.retrying.take() {
                    // The busy group's retry.
                    Some(busy) if !waiting => (busy.started_us, busy.members, busy.unfound),
                    // Its retry, or a new group if it was given up: not told apart.
                    Some(_) => {
                        self.maybe_queued.append(&mut self.queued);
                        (event.at_us, BTreeSet::new(), true)
                    }
                    // A new group: it drains the queue (up to a full batch).
                    None => {
                        // Writes an earlier group may have left waiting stay uncertain
                        // until answered; while any is, this group may have drained
                        // them instead of the writes found, which may then be left.
                        let unfound =
                            std::mem::take(&mut self.background) || !self.maybe_queued.is_empty();
                        let members = std::mem::take(&mut self.queued);
                        if unfound || members.len() > *writes {
                            self.maybe_queued.extend(members.iter().copied());
                        }
                        (event.at_us, members, unfound)
                    }
                };
                self.group = Some(Group {
                    started_us,
                    known: !unfound && members.len() == *writes,
                    members,
                    unfound,
                });
            }
            EngineEvent::StorageAnswer { execution, .. } => {
                let waiting = self.queued.remove(execution);
                let maybe_waiting = self.maybe_queued.remove(execution);
                self.answered_in_queue |= waiting || maybe_waiting;
                if let Some(busy) = self.retrying.as_mut() {
                    busy.members.remove(execution);
                }
                if let Some(group) = self.group.as_mut() {
                    group.members.remove(execution);
                }
            }
            EngineEvent::WriterBusy { .. } => self.retrying = self.group.take(),
            EngineEvent::GroupCommitted { .. } | EngineEvent::CommitUnconfirmed { .. } => {
                self.group = None;
            }
            EngineEvent::Fault { point, .. } if *point == failpoints::STORAGE_BEFORE_COMMIT => {
                // The group rolls back: it ends without an event.
                self.group = None;
            }
            _ => {}
        }
    }

    /// The group in progress: when it started, and its members not yet answered when
    /// they are known.
    pub fn running(&self) -> Option<(u64, Option<&BTreeSet<u64>>)> {
        self.group.as_ref().map(|group| {
            let members = group.known.then_some(&group.members);
            (group.started_us, members)
        })
    }

    /// Whether a write was answered while it was still waiting in the queue.
    pub fn answered_in_queue(&self) -> bool {
        self.answered_in_queue
    }
}

/// What the write queue did, as its admission rule reads it: each group's start and
/// time, and each write admitted or refused with the figures the rule had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueStep {
    /// A group began with `writes` writes.
    Started { at_us: u64, writes: usize },
    /// The group in progress committed (or failed to confirm its commit), `took_us`
    /// after it began: the time the writer's estimate observes.
    Ended { took_us: u64 },
    /// A write of `execution` was admitted at `at_us` with `waiting` writes ahead of it
    /// (`WriteQueued` counts its own place too).
    Admitted {
        at_us: u64,
        execution: u64,
        waiting: usize,
    },
    /// A write was refused at `at_us` with `waiting` writes ahead of it and
    /// `remaining_us` of its budget left, the engine saying it needed `needed_us`.
    Refused {
        at_us: u64,
        waiting: usize,
        remaining_us: u64,
        needed_us: u64,
    },
    /// From here on the trace no longer gives every group's time: a storage fault other
    /// than a slow statement (a group failing without an event), SQLITE_BUSY, a disk
    /// fault, a write outside the queue, or a write answered while still waiting in the
    /// queue (the writer may then run a group of cancelled writes, unseen).
    Lost,
}

/// Whether a disk fault was armed in `lifetime` (it may fire in a later one).
pub fn disk_faulted(lifetime: &[Event]) -> bool {
    lifetime.iter().any(|event| {
        matches!(
            event.what,
            What::Fault {
                action: Action::Disk { .. }
            }
        )
    })
}

/// The write queue's steps in one lifetime, up to the first [`QueueStep::Lost`].
pub fn queue_steps(lifetime: &[Event]) -> Vec<QueueStep> {
    let mut membership = Membership::default();
    let mut steps = Vec::new();
    let mut started: Option<u64> = None;
    for event in lifetime {
        membership.observe(event);
        let step = match &event.what {
            What::Fault {
                action: Action::Disk { .. },
            } => Some(QueueStep::Lost),
            What::Engine { event: engine, .. } => match engine {
                EngineEvent::Fault { point, .. }
                    if point.starts_with("storage-")
                        && *point != failpoints::STORAGE_SLOW_STATEMENT =>
                {
                    Some(QueueStep::Lost)
                }
                EngineEvent::WriterBusy { .. } | EngineEvent::DirectWriteStarted { .. } => {
                    Some(QueueStep::Lost)
                }
                EngineEvent::GroupStarted { writes } => {
                    let again = started.replace(event.at_us).is_some();
                    Some(match again {
                        true => QueueStep::Lost,
                        false => QueueStep::Started {
                            at_us: event.at_us,
                            writes: *writes,
                        },
                    })
                }
                EngineEvent::GroupCommitted { .. } | EngineEvent::CommitUnconfirmed { .. } => {
                    started.take().map(|since| QueueStep::Ended {
                        took_us: event.at_us - since,
                    })
                }
                EngineEvent::WriteQueued { waiting, .. } => {
                    event.execution().map(|execution| QueueStep::Admitted {
                        at_us: event.at_us,
                        execution,
                        waiting: waiting.saturating_sub(1),
                    })
                }
                EngineEvent::WriteRefused {
                    waiting,
                    remaining_us,
                    needed_us,
                    ..
                } => Some(QueueStep::Refused {
                    at_us: event.at_us,
                    waiting: *waiting,
                    remaining_us: *remaining_us,
                    needed_us: *needed_us,
                }),
                _ => None,
            },
            _ => None,
        };
        let lost = membership.answered_in_queue() || step == Some(QueueStep::Lost);
        if lost {
            steps.push(QueueStep::Lost);
            break;
        }
        steps.extend(step);
    }
    steps
}

/// When each execution of one lifetime took its VM (its first checkout).
pub fn checkouts(lifetime: &[Event]) -> BTreeMap<u64, u64> {
    let mut checkouts = BTreeMap::new();
    for event in lifetime {
        if let Some(EngineEvent::VmCheckout { execution, .. }) = event.engine() {
            checkouts.entry(*execution).or_insert(event.at_us);
        }
    }
    checkouts
}

/// A write whose group rolled back before `COMMIT` (the `storage-before-commit` fault
/// fired while it ran): nothing of the group was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolledBack {
    pub execution: u64,
    /// When its caller was answered (its storage call's answer), if it was.
    pub answered_us: Option<u64>,
}

/// The members of one lifetime's groups that rolled back before `COMMIT`, not yet
/// answered when the fault fired, of groups whose members are known
/// ([`Membership`]). None when a write went outside the queue (its transaction fires
/// the same fault).
pub fn rolled_back_before_commit(lifetime: &[Event]) -> Vec<RolledBack> {
    let direct = lifetime
        .iter()
        .any(|event| matches!(event.engine(), Some(EngineEvent::DirectWriteStarted { .. })));
    if direct {
        return Vec::new();
    }
    let mut membership = Membership::default();
    let mut rolled_back: Vec<RolledBack> = Vec::new();
    for event in lifetime {
        match event.engine() {
            Some(EngineEvent::Fault { point, .. })
                if *point == failpoints::STORAGE_BEFORE_COMMIT =>
            {
                if let Some((_, Some(members))) = membership.running() {
                    rolled_back.extend(members.iter().map(|&execution| RolledBack {
                        execution,
                        answered_us: None,
                    }));
                }
            }
            Some(EngineEvent::StorageAnswer { execution, .. }) => {
                let unanswered = rolled_back
                    .iter_mut()
                    .find(|r| r.execution == *execution && r.answered_us.is_none());
                if let Some(write) = unanswered {
                    write.answered_us = Some(event.at_us);
                }
            }
            _ => {}
        }
        membership.observe(event);
    }
    rolled_back
}

/// How many writes each execution of one lifetime queued.
pub fn writes_queued(lifetime: &[Event]) -> BTreeMap<u64, usize> {
    let mut writes = BTreeMap::new();
    for event in lifetime {
        if let (Some(EngineEvent::WriteQueued { .. }), Some(execution)) =
            (event.engine(), event.execution())
        {
            *writes.entry(execution).or_insert(0) += 1;
        }
    }
    writes
}

/// The number of writes of every group the writer started (each attempt), in order.
pub fn groups_started(trace: &Trace) -> Vec<usize> {
    trace
        .events
        .iter()
        .filter_map(|event| match event.engine()? {
            EngineEvent::GroupStarted { writes } => Some(*writes),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lifetime of engine events `(at_us, emitting execution, event)`.
    fn lifetime(events: Vec<(u64, Option<u64>, EngineEvent)>) -> Trace {
        let mut trace = Trace::default();
        for (at_us, execution, event) in events {
            trace.engine(at_us, execution, event);
        }
        trace
    }

    fn queued(at_us: u64, execution: u64) -> (u64, Option<u64>, EngineEvent) {
        let event = EngineEvent::WriteQueued {
            write: "ds.update",
            waiting: 1,
        };
        (at_us, Some(execution), event)
    }

    fn started(at_us: u64, writes: usize) -> (u64, Option<u64>, EngineEvent) {
        (at_us, None, EngineEvent::GroupStarted { writes })
    }

    fn busy(at_us: u64, attempt: u32) -> (u64, Option<u64>, EngineEvent) {
        let event = EngineEvent::WriterBusy {
            writes: 1,
            attempt,
            conn: 0,
            busy_timeout_ms: 0,
            lock_wait: true,
        };
        (at_us, None, event)
    }

    fn answer(at_us: u64, execution: u64, ok: bool) -> (u64, Option<u64>, EngineEvent) {
        let event = EngineEvent::StorageAnswer {
            execution,
            ok,
            took_us: 0,
        };
        (at_us, None, event)
    }

    fn committed(at_us: u64, writes: usize) -> (u64, Option<u64>, EngineEvent) {
        let applied = writes;
        (at_us, None, EngineEvent::GroupCommitted { writes, applied })
    }

    /// A write claimed by a group, its caller answered (its deadline passed) while the
    /// group ran, the group then committing: the write's outcome was not known.
    #[test]
    fn a_write_answered_while_its_group_ran_is_found() {
        let trace = lifetime(vec![
            queued(10, 1),
            started(10, 1),
            answer(500, 1, false),
            committed(900, 1),
        ]);
        assert_eq!(answered_mid_group(&trace.events), vec![1]);
    }

    /// The same in a group retried after SQLITE_BUSY with nothing else waiting.
    #[test]
    fn a_write_answered_while_its_retried_group_ran_is_found() {
        let trace = lifetime(vec![
            queued(10, 1),
            started(10, 1),
            busy(19, 1),
            started(30, 1),
            answer(500, 1, false),
            committed(900, 1),
        ]);
        assert_eq!(answered_mid_group(&trace.events), vec![1]);
    }

    /// The release search's sixth finding (`properties.rs`,
    /// `a_write_given_up_on_busy_is_not_in_the_next_group`): the writer gave up on
    /// execution 17's group after its last SQLITE_BUSY, answered it and started a new
    /// group of execution 18's write, queued meanwhile; 17's answer was traced after
    /// that group's start. 17 was no member of the group that committed.
    #[test]
    fn a_write_given_up_on_busy_is_not_taken_for_the_next_groups() {
        let trace = lifetime(vec![
            queued(141_020, 17),
            started(141_020, 1),
            busy(141_029, 1),
            started(143_000, 1),
            queued(157_020, 18),
            busy(268_009, 11),
            started(275_000, 1),
            busy(275_009, 12),
            started(275_009, 1),
            answer(275_023, 17, false),
            committed(275_032, 1),
            answer(275_032, 18, true),
        ]);
        assert_eq!(answered_mid_group(&trace.events), Vec::<u64>::new());
    }

    /// A background write drained with a write whose deadline had passed (cancelled as
    /// the group started, its answer traced after): as many writes as found, but not
    /// the same ones.
    #[test]
    fn a_group_with_a_background_write_is_left_out() {
        let trace = lifetime(vec![
            queued(10, 1),
            (
                20,
                None,
                EngineEvent::WriteQueued {
                    write: "deploy",
                    waiting: 2,
                },
            ),
            started(30, 1),
            answer(40, 1, false),
            committed(90, 1),
        ]);
        assert_eq!(answered_mid_group(&trace.events), Vec::<u64>::new());
    }

    /// Full batches (`batch_max` 2, six writes waiting): the writes left after the
    /// first group stay uncertain, so a later group is not taken to hold the writes
    /// queued since (it drained the older ones).
    #[test]
    fn writes_left_by_a_full_batch_keep_later_groups_unknown() {
        let mut events: Vec<_> = (1..=6).map(|execution| queued(10, execution)).collect();
        events.extend([
            started(20, 2),
            committed(30, 2),
            answer(30, 1, true),
            answer(30, 2, true),
            started(31, 2),
            queued(35, 7),
            queued(35, 8),
            committed(40, 2),
            answer(40, 3, true),
            answer(40, 4, true),
            started(41, 2),
            answer(500, 7, false),
            committed(900, 2),
        ]);
        let trace = lifetime(events);
        assert_eq!(answered_mid_group(&trace.events), Vec::<u64>::new());
    }
}
