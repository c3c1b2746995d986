//! Applying a fault schedule ([`fazt_chaos::Schedule`]) to a running simulation.
//!
//! [`drive`] replaces `sim.run()`: it steps the simulation and, between steps, applies
//! each fault when its virtual time comes (arming a failpoint, holding, partitioning
//! or slowing the server's links, crashing the server host and restarting it later,
//! cutting its power or failing its disk), then undoes the timed ones. Every applied
//! fault is recorded in the trace ([`What::Fault`], [`What::FaultEnded`]), and a crash
//! or power loss also ends a server lifetime for the invariants. Failpoints
//! left armed at the end are cleared, so nothing leaks into the next run.

use fazt_chaos::{catalog, Action, Schedule};

use crate::capture::Capture;
use crate::disk::SimDisk;
use crate::trace::{FaultEnd, What};

/// The host every network fault and crash acts on.
pub const SERVER: &str = "server";

/// A timed fault's end.
enum Undo {
    Release,
    Repair,
    Latency,
    Restart,
}

/// Runs `sim` to completion, applying `schedule`'s faults between the server and
/// `clients` (host names) and to the server's `disk`.
pub fn drive(
    sim: &mut turmoil::Sim<'_>,
    schedule: &Schedule,
    clients: &[String],
    disk: &SimDisk,
    capture: &Capture,
) -> turmoil::Result {
    let mut next = 0;
    let mut undo: Vec<(u64, Undo)> = Vec::new();
    let result = loop {
        let now_ms = u64::try_from(sim.elapsed().as_millis()).unwrap_or(u64::MAX);
        while let Some(fault) = schedule.faults.get(next).filter(|f| f.at_ms <= now_ms) {
            next += 1;
            capture.record_at(
                now_ms * 1000,
                What::Fault {
                    action: fault.action.clone(),
                },
            );
            if let Some(end) = apply(sim, &fault.action, clients, disk) {
                undo.push((now_ms + end.0, end.1));
            }
        }
        undo.sort_by_key(|(at, _)| *at);
        while undo.first().is_some_and(|(at, _)| *at <= now_ms) {
            let (_, action) = undo.remove(0);
            finish(sim, action, clients, capture, now_ms);
        }
        match sim.step() {
            Ok(true) => break Ok(()),
            Ok(false) => {}
            Err(error) => break Err(error),
        }
    };
    for entry in catalog::CATALOG {
        fail::remove(entry.name);
    }
    disk.disarm();
    result
}

fn apply(
    sim: &mut turmoil::Sim<'_>,
    action: &Action,
    clients: &[String],
    disk: &SimDisk,
) -> Option<(u64, Undo)> {
    match action {
        Action::Failpoint {
            point,
            times,
            argument,
        } => {
            fail::cfg(point.as_str(), &Action::fail_actions(*times, *argument))
                .expect("a validated failpoint action");
            None
        }
        Action::Hold { ms } => {
            for client in clients {
                sim.hold(SERVER, client.as_str());
            }
            Some((*ms, Undo::Release))
        }
        Action::Partition { ms } => {
            for client in clients {
                sim.partition(SERVER, client.as_str());
            }
            Some((*ms, Undo::Repair))
        }
        Action::Latency { ms, for_ms } => {
            for client in clients {
                sim.set_link_latency(
                    SERVER,
                    client.as_str(),
                    std::time::Duration::from_millis(*ms),
                );
            }
            Some((*for_ms, Undo::Latency))
        }
        // The disk learns first that the process died, so that the dying connections
        // touch nothing (a clean close would checkpoint and delete the WAL).
        Action::Crash { down_ms } => {
            disk.crash();
            sim.crash(SERVER);
            Some((*down_ms, Undo::Restart))
        }
        Action::PowerLoss { down_ms } => {
            disk.power_loss();
            sim.crash(SERVER);
            Some((*down_ms, Undo::Restart))
        }
        Action::Disk { disk: fault, times } => {
            disk.arm(*fault, *times);
            None
        }
    }
}

fn finish(
    sim: &mut turmoil::Sim<'_>,
    action: Undo,
    clients: &[String],
    capture: &Capture,
    now_ms: u64,
) {
    let end = match action {
        Undo::Release => {
            for client in clients {
                sim.release(SERVER, client.as_str());
            }
            FaultEnd::Released
        }
        Undo::Repair => {
            for client in clients {
                sim.repair(SERVER, client.as_str());
            }
            FaultEnd::Repaired
        }
        Undo::Latency => {
            for client in clients {
                sim.set_link_latency(
                    SERVER,
                    client.as_str(),
                    crate::run::harness::NETWORK_LATENCY,
                );
            }
            FaultEnd::LatencyRestored
        }
        Undo::Restart => {
            sim.bounce(SERVER);
            FaultEnd::ServerRestarted
        }
    };
    capture.record_at(now_ms * 1000, What::FaultEnded { end });
}
