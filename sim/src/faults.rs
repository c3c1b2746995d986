//! Applying a fault schedule ([`fazt_chaos::Schedule`]) to a running simulation.
//!
//! [`drive`] replaces `sim.run()`: it steps the simulation and, between steps, applies
//! each fault when its virtual time comes (arming a failpoint, holding, partitioning
//! or slowing the server's links, crashing the server host and restarting it later,
//! cutting its power, failing its disk or holding its database's write lock from
//! another process), then undoes the timed ones. Every applied
//! fault is recorded in the trace ([`What::Fault`], [`What::FaultEnded`]), and a crash
//! or power loss also ends a server lifetime for the invariants. Failpoints
//! left armed at the end are cleared, so nothing leaks into the next run.

use fazt_chaos::{catalog, Action, Schedule};

use crate::capture::Capture;
use crate::disk::SimDisk;
use crate::run::http::DB_FILE;
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
    let mut lock_holders: Vec<OtherProcess> = Vec::new();
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
            if let Action::LockHeld { ms } = fault.action {
                lock_holders.push(OtherProcess::new(ms));
            }
            if let Some(end) = apply(sim, &fault.action, clients, disk) {
                undo.push((now_ms + end.0, end.1));
            }
        }
        lock_holders.retain_mut(|holder| holder.step(disk, capture, now_ms));
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
        // Driven step by step by its `OtherProcess`.
        Action::LockHeld { .. } => None,
    }
}

/// Another process's connection to the server's database, taking its write lock as
/// soon as it is free and holding it for a while ([`Action::LockHeld`]).
struct OtherProcess {
    hold_ms: u64,
    conn: Option<rusqlite::Connection>,
    /// When it lets go, once it holds the lock.
    release_at_ms: Option<u64>,
}

impl OtherProcess {
    fn new(hold_ms: u64) -> OtherProcess {
        OtherProcess {
            hold_ms,
            conn: None,
            release_at_ms: None,
        }
    }

    /// One step at `now_ms`: tries for the lock (a connection that fails, as a dead
    /// process's does, is opened again), or lets go when its hold ends. False once done.
    fn step(&mut self, disk: &SimDisk, capture: &Capture, now_ms: u64) -> bool {
        if let Some(release_at_ms) = self.release_at_ms {
            if now_ms < release_at_ms {
                return true;
            }
            // After a crash the handle is dead and the lock already gone.
            if let Some(conn) = self.conn.take() {
                let _ = conn.execute_batch("COMMIT");
            }
            capture.record_at(now_ms * 1000, What::AdversaryLock { taken: false });
            return false;
        }
        if self.conn.is_none() {
            // No SQLITE_OPEN_CREATE: before the server has created it, there is no
            // database to lock yet.
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let seam = SimDisk::seam();
            let vfs = seam.vfs_name().expect("the simulated disk is a VFS");
            // No busy handler (rusqlite's default timeout sleeps in real time): the
            // process tries again at the next step instead.
            self.conn =
                rusqlite::Connection::open_with_flags_and_vfs(disk.path(DB_FILE), flags, vfs)
                    .and_then(|mut conn| {
                        conn.busy_handler(None::<fn(i32) -> bool>)?;
                        Ok(conn)
                    })
                    .ok();
        }
        let taken = self
            .conn
            .as_ref()
            .is_some_and(|conn| conn.execute_batch("BEGIN IMMEDIATE").is_ok());
        if taken {
            self.release_at_ms = Some(now_ms + self.hold_ms);
            capture.record_at(now_ms * 1000, What::AdversaryLock { taken: true });
        } else {
            self.conn = None;
        }
        true
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
