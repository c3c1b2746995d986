//! The one place the search reads the engine's trace: each reader turns events into
//! the typed facts its checker needs, so that a typed event enum replaces the parsing
//! here and nowhere else.

use std::collections::BTreeMap;

use crate::causes::fields;
use crate::faults::ACTOR;
use crate::trace::{Event, Trace};

/// The trace cut at each server crash: one slice per server lifetime.
pub fn lifetimes(trace: &Trace) -> Vec<&[Event]> {
    trace.events.split(is_crash).collect()
}

fn is_crash(event: &Event) -> bool {
    event.actor == ACTOR && event.what.starts_with("crash")
}

/// What the runtime did with a VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmEvent<'a> {
    Checkout {
        execution: &'a str,
        vm: &'a str,
    },
    /// An execution failed; `interrupted`: its VM was interrupted (a timeout, a signal).
    Failed {
        execution: &'a str,
        vm: &'a str,
        kind: &'a str,
        interrupted: bool,
    },
    Return {
        execution: &'a str,
        vm: &'a str,
        discarded: bool,
    },
}

/// The VM events of one lifetime, in order.
pub fn vm_events(lifetime: &[Event]) -> Vec<VmEvent<'_>> {
    lifetime
        .iter()
        .filter(|event| event.actor == "fazt::runtime")
        .filter_map(|event| {
            let what = event.what.as_str();
            let f = fields(what);
            let get = |name: &str| f.get(name).copied().unwrap_or("?");
            let (execution, vm) = (get("execution"), get("vm"));
            if what.starts_with("vm checkout") {
                Some(VmEvent::Checkout { execution, vm })
            } else if what.starts_with("execution failed") {
                let interrupted = get("interrupted") == "true";
                Some(VmEvent::Failed {
                    execution,
                    vm,
                    kind: get("kind"),
                    interrupted,
                })
            } else if what.starts_with("vm return") {
                Some(VmEvent::Return {
                    execution,
                    vm,
                    discarded: get("discarded") == "true",
                })
            } else {
                None
            }
        })
        .collect()
}

/// Whether a lifetime ended (at a crash) with a group's writes applied and held open
/// by a slow statement, not yet committed: the crash fell between apply and commit.
pub fn crashed_between_apply_and_commit(trace: &Trace) -> bool {
    let lifetimes = lifetimes(trace);
    let crashed = lifetimes.len().saturating_sub(1);
    lifetimes[..crashed].iter().any(|lifetime| {
        let mut open = false;
        for event in *lifetime {
            let what = event.what.as_str();
            if what.starts_with("group started") {
                open = false;
            } else if what.starts_with("fault")
                && fields(what).get("point") == Some(&"storage-slow-statement")
            {
                open = true;
            } else if what.starts_with("group committed")
                || what.starts_with("commit unconfirmed")
                || what.starts_with("writer busy")
            {
                open = false;
            }
        }
        open
    })
}

/// How often each failpoint fired.
pub fn faults_fired(trace: &Trace) -> BTreeMap<String, u64> {
    let mut fired = BTreeMap::new();
    for event in &trace.events {
        if event.what.starts_with("fault") {
            if let Some(point) = fields(&event.what).get("point") {
                *fired.entry((*point).to_owned()).or_default() += 1;
            }
        }
    }
    fired
}

/// The windows (µs) when the network between the server and its clients was held,
/// partitioned or slowed, from the fault driver's own events.
pub fn network_faulted(trace: &Trace) -> Vec<(u64, u64)> {
    trace
        .events
        .iter()
        .filter(|event| event.actor == ACTOR)
        .filter_map(|event| {
            let mut words = event.what.split(' ');
            let kind = words.next()?;
            let ms: u64 = words.next()?.parse().ok()?;
            matches!(kind, "hold" | "partition" | "latency")
                .then(|| (event.at_us, event.at_us + ms * 1000))
        })
        .collect()
}
