//! Fault schedules: which fault happens at which virtual time of a run.
//!
//! A schedule is data (JSON), so a run's faults can be saved, shrunk by proptest,
//! stored in the regression corpus and replayed (`fazt-sim run ... --schedule FILE`).
//! The simulator applies it: a failpoint fault arms the `fail` switchboard for a
//! number of hits (`N*return(arg)`, never `N%`: when a point fires is decided here,
//! from the run's seed); network faults act on turmoil's links between the server
//! and its clients; a crash stops the server host and restarts it on the same database
//! file.

use std::path::Path;

use fazt_engine::env::Rng;
use serde::{Deserialize, Serialize};

use crate::catalog;

/// Faults in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub faults: Vec<Fault>,
}

/// One fault at a virtual time from the start of the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub at_ms: u64,
    #[serde(flatten)]
    pub action: Action,
}

/// What happens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "kebab-case")]
pub enum Action {
    /// Arms `point` for its next `times` hits, with `return(argument)`.
    Failpoint {
        point: String,
        times: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        argument: Option<u64>,
    },
    /// Messages between the server and its clients are held for `ms`, then delivered.
    Hold { ms: u64 },
    /// Messages between the server and its clients are dropped for `ms`.
    Partition { ms: u64 },
    /// Every message between the server and its clients takes `ms` for `for_ms`.
    Latency { ms: u64, for_ms: u64 },
    /// The server host crashes (its in-flight work is lost, the database file stays)
    /// and restarts after `down_ms`.
    Crash { down_ms: u64 },
    /// The machine loses power: the server host stops, every write not yet synced to
    /// the simulated disk is lost (with a seeded chance, one of them torn at sector
    /// granularity), and the server restarts after `down_ms`.
    PowerLoss { down_ms: u64 },
    /// The simulated disk fails its next `times` operations of one kind.
    Disk { disk: DiskFault, times: u32 },
    /// Another process (a `sqlite3` shell, a backup) takes the database's write lock
    /// as soon as it is free and holds it for `ms`: the server's writes meet a real
    /// SQLITE_BUSY. The process dies with the machine (a crash or a power loss).
    LockHeld { ms: u64 },
}

/// A named disk fault ([`Action::Disk`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiskFault {
    /// A read returns `SQLITE_IOERR_READ`.
    ReadError,
    /// A write returns `SQLITE_IOERR_WRITE` and changes nothing.
    WriteError,
    /// A sync returns `SQLITE_IOERR_FSYNC` and makes nothing durable.
    SyncError,
    /// A write that would grow a file returns `SQLITE_FULL`.
    Full,
    /// A sync takes the disk model's stall time (at least 50 ms).
    SlowSync,
    /// A write-lock request (RESERVED or above on the database file, an exclusive
    /// WAL-index lock) returns `SQLITE_IOERR_LOCK` / `SQLITE_IOERR_SHMLOCK` and takes
    /// nothing: `fcntl` failing with `ENOLCK` or `EIO`, as on a network filesystem.
    /// Shared (read) locks are left alone, so that it reaches writes.
    LockError,
}

impl DiskFault {
    /// Every disk fault, for schedules that draw one.
    pub const ALL: [DiskFault; 6] = [
        DiskFault::ReadError,
        DiskFault::WriteError,
        DiskFault::SyncError,
        DiskFault::Full,
        DiskFault::SlowSync,
        DiskFault::LockError,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DiskFault::ReadError => "read-error",
            DiskFault::WriteError => "write-error",
            DiskFault::SyncError => "sync-error",
            DiskFault::Full => "full",
            DiskFault::SlowSync => "slow-sync",
            DiskFault::LockError => "lock-error",
        }
    }
}

impl Action {
    /// The `fail` action string that arms a failpoint fault.
    pub fn fail_actions(times: u32, argument: Option<u64>) -> String {
        match argument {
            Some(argument) => format!("{times}*return({argument})"),
            None => format!("{times}*return"),
        }
    }

    /// A short description for traces and reports.
    pub fn describe(&self) -> String {
        match self {
            Action::Failpoint {
                point,
                times,
                argument,
            } => match argument {
                Some(argument) => format!("failpoint {point} x{times} ({argument})"),
                None => format!("failpoint {point} x{times}"),
            },
            Action::Hold { ms } => format!("hold {ms} ms"),
            Action::Partition { ms } => format!("partition {ms} ms"),
            Action::Latency { ms, for_ms } => format!("latency {ms} ms for {for_ms} ms"),
            Action::Crash { down_ms } => format!("crash, restart after {down_ms} ms"),
            Action::PowerLoss { down_ms } => format!("power loss, restart after {down_ms} ms"),
            Action::Disk { disk, times } => format!("disk {} x{times}", disk.name()),
            Action::LockHeld { ms } => format!("write lock held {ms} ms by another process"),
        }
    }
}

/// What a generated schedule may contain.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Faults fall in `[0, duration_ms)`.
    pub duration_ms: u64,
    /// Failpoint faults in all, spread over the catalog's points.
    pub failpoints: u32,
    /// Failpoints that may be chosen (default: the whole catalog).
    pub points: Vec<&'static str>,
    /// Network faults (hold, partition, latency) in all.
    pub network: u32,
    /// Server crashes.
    pub crashes: u32,
}

impl Plan {
    /// `failpoints` failpoint faults over the whole catalog within `duration_ms`.
    pub fn failpoints(duration_ms: u64, failpoints: u32) -> Plan {
        Plan {
            duration_ms,
            failpoints,
            points: catalog::CATALOG.iter().map(|entry| entry.name).collect(),
            network: 0,
            crashes: 0,
        }
    }
}

impl Schedule {
    /// A schedule drawn from `rng` within `plan`.
    pub fn generate(plan: &Plan, rng: &Rng) -> Schedule {
        let at = |rng: &Rng| rng.below(plan.duration_ms.max(1));
        let mut faults = Vec::new();
        for _ in 0..plan.failpoints {
            if plan.points.is_empty() {
                break;
            }
            let point = plan.points[rng.below(plan.points.len() as u64) as usize];
            let argument = catalog::entry(point)
                .and_then(|entry| entry.argument)
                .map(|_| 1 + rng.below(200));
            faults.push(Fault {
                at_ms: at(rng),
                action: Action::Failpoint {
                    point: point.to_owned(),
                    times: 1 + rng.below(3) as u32,
                    argument,
                },
            });
        }
        for _ in 0..plan.network {
            let ms = 1 + rng.below(100);
            let action = match rng.below(3) {
                0 => Action::Hold { ms },
                1 => Action::Partition { ms },
                _ => Action::Latency {
                    ms: 1 + rng.below(20),
                    for_ms: ms * 5,
                },
            };
            faults.push(Fault {
                at_ms: at(rng),
                action,
            });
        }
        for _ in 0..plan.crashes {
            faults.push(Fault {
                at_ms: at(rng),
                action: Action::Crash {
                    down_ms: 1 + rng.below(50),
                },
            });
        }
        let mut schedule = Schedule { faults };
        schedule.sort();
        schedule
    }

    /// Puts the faults in time order (stable: equal times keep their order).
    pub fn sort(&mut self) {
        self.faults.sort_by_key(|fault| fault.at_ms);
    }

    /// Refuses failpoints the engine does not have, naming the ones it has.
    pub fn validate(&self) -> Result<(), String> {
        for fault in &self.faults {
            if let Action::Failpoint { point, times, .. } = &fault.action {
                if catalog::entry(point).is_none() {
                    let known: Vec<&str> = catalog::CATALOG.iter().map(|e| e.name).collect();
                    return Err(format!(
                        "unknown failpoint {point:?} at {} ms; known: {}",
                        fault.at_ms,
                        known.join(", ")
                    ));
                }
                if *times == 0 {
                    return Err(format!(
                        "failpoint {point:?} at {} ms fires 0 times",
                        fault.at_ms
                    ));
                }
            }
        }
        Ok(())
    }

    /// Reads and validates a schedule saved as JSON.
    pub fn load(path: &Path) -> Result<Schedule, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read schedule {}: {error}", path.display()))?;
        let mut schedule: Schedule = serde_json::from_str(&text)
            .map_err(|error| format!("schedule {} is not valid: {error}", path.display()))?;
        schedule.validate()?;
        schedule.sort();
        Ok(schedule)
    }

    /// Writes the schedule as pretty JSON.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("a schedule serializes");
        std::fs::write(path, text + "\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_seeded_and_ordered() {
        let plan = Plan {
            network: 3,
            crashes: 2,
            ..Plan::failpoints(10_000, 8)
        };
        let a = Schedule::generate(&plan, &Rng::seeded(7));
        assert_eq!(a, Schedule::generate(&plan, &Rng::seeded(7)));
        assert_ne!(a, Schedule::generate(&plan, &Rng::seeded(8)));
        assert_eq!(a.faults.len(), 13);
        assert!(a.faults.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        a.validate().unwrap();
    }

    #[test]
    fn saved_schedules_load_back_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schedule.json");
        let schedule = Schedule::generate(&Plan::failpoints(1000, 4), &Rng::seeded(1));
        schedule.save(&path).unwrap();
        assert_eq!(Schedule::load(&path).unwrap(), schedule);

        std::fs::write(
            &path,
            r#"{"faults":[{"at_ms":5,"fault":"failpoint","point":"nope","times":1}]}"#,
        )
        .unwrap();
        let error = Schedule::load(&path).unwrap_err();
        assert!(
            error.contains("unknown failpoint \"nope\"") && error.contains("storage-busy"),
            "{error}"
        );
        std::fs::write(&path, "{not json").unwrap();
        assert!(Schedule::load(&path).unwrap_err().contains("not valid"));
    }
}
