//! The one place the search reads the engine's trace: each reader turns typed events
//! into the facts its checker needs.

use fazt_chaos::Action;
use fazt_engine::events::Event as EngineEvent;
use fazt_engine::failpoints;

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
