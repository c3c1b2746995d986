//! Profiles: named sets of policies for storage, runtime and server. `hardened` is the
//! default; the legacy profiles (`legacy.rs`) reproduce a fazt version by its
//! mechanisms, and each `mech-*` profile (`mechanism.rs`) switches on one mechanism of
//! `fazt-reference.md` §4 alone on top of `hardened`.

mod legacy;
mod mechanism;

pub use mechanism::Mechanism;

use std::time::Duration;

use crate::runtime::RuntimeConfig;
use crate::storage::StorageConfig;

/// The configuration of one server.
#[derive(Clone, Debug)]
pub struct Config {
    /// The profile's name.
    pub profile: &'static str,
    pub storage: StorageConfig,
    pub runtime: RuntimeConfig,
    /// The budget of a request, from its arrival. The runtime's timeout lies inside it.
    pub request_timeout: Duration,
}

/// A profile's name and what it is.
pub struct ProfileInfo {
    pub name: &'static str,
    pub summary: &'static str,
}

/// Every profile, in display order.
pub const PROFILES: &[ProfileInfo] = &[
    ProfileInfo {
        name: "hardened",
        summary: "the default engine: group commit, busy backoff on the Clock, deadlines honoured, VMs keyed and reset",
    },
    ProfileInfo {
        name: "fazt-0.10.5",
        summary: "legacy watchdog and FIFO pool of 10 that grows when all are busy, runtime timeout 1 s under 5 s, storage ignores deadlines, fail fast on BUSY, single-statement writes on up to 25 connections (5 idle)",
    },
    ProfileInfo {
        name: "fazt-0.10.6",
        summary: "fazt-0.10.5 plus PRAGMA busy_timeout=5000 run once through the pool: one connection waits on BUSY, until it returns to a full idle list and is closed",
    },
    ProfileInfo {
        name: "fazt-0.10.10",
        summary: "fde8041: unbatched write queue of 1000 (refused only when full), 5 retries 20-320 ms, busy_timeout 2 s on one of 10 connections for 5 min, ghost writes, runtime = request timeout 5 s, VM pool of 100 that grows, analytics flush and request-log rows outside the queue",
    },
    ProfileInfo {
        name: "fazt-0.10.10-analytics-fix",
        summary: "c8e38a5, the fix seed 002 planned: analytics batches (and the kv sweep) through the write queue; the request-log rows still outside it",
    },
    ProfileInfo {
        name: "mech-stale-interrupt",
        summary: "hardened but fazt's watcher goroutine: a late watcher interrupts a pooled VM (§4.1)",
    },
    ProfileInfo {
        name: "no-busy-wait",
        summary: "hardened but SQLITE_BUSY fails at once (§4.2: fazt before busy_timeout)",
    },
    ProfileInfo {
        name: "mech-busy-timeout-one-conn",
        summary: "hardened but busy waits only from busy_timeout=5000 run once through the pool, lost after the 5-minute connection lifetime (§4.3)",
    },
    ProfileInfo {
        name: "mech-deadline-ignored",
        summary: "hardened but storage runs without the request's deadline (§4.4)",
    },
    ProfileInfo {
        name: "mech-ghost-writes",
        summary: "hardened but a caller whose write is committing is told it failed at its deadline (§4.5)",
    },
    ProfileInfo {
        name: "mech-timeout-hierarchy",
        summary: "hardened but busy_timeout = runtime timeout = request budget = 5 s: a lock wait takes the whole budget (§4.6)",
    },
    ProfileInfo {
        name: "mech-writers-bypass-queue",
        summary: "hardened but the analytics flush, the kv sweep and a request-log row per request take the write lock outside the queue (§4.7)",
    },
    ProfileInfo {
        name: "mech-queue-admission",
        summary: "hardened but a write is refused unless time left >= queued writes x 30 ms + 500 ms (§4.8)",
    },
    ProfileInfo {
        name: "mech-deferred-upgrade",
        summary: "hardened but the writer begins DEFERRED: a read-then-write gets SQLITE_BUSY at once (§4.9)",
    },
];

impl Config {
    /// The default: everything hardened.
    pub fn hardened() -> Config {
        Config {
            profile: "hardened",
            storage: StorageConfig::default(),
            runtime: RuntimeConfig::default(),
            request_timeout: Duration::from_secs(10),
        }
    }

    /// The profile called `name` for a machine with `cpus` CPUs (only the legacy
    /// runtime's scheduler model uses it). Unknown names are refused with the list.
    pub fn preset(name: &str, cpus: u32) -> Result<Config, String> {
        if let Some(mechanism) = Mechanism::by_profile(name) {
            return Ok(mechanism.on_hardened(cpus));
        }
        match name {
            "hardened" => Ok(Config::hardened()),
            "fazt-0.10.5" => Ok(legacy::fazt_0_10_5(cpus)),
            "fazt-0.10.6" => Ok(legacy::fazt_0_10_6(cpus)),
            "fazt-0.10.10" => Ok(legacy::fazt_0_10_10()),
            "fazt-0.10.10-analytics-fix" => Ok(legacy::fazt_0_10_10_analytics_fix()),
            other => {
                let known: Vec<&str> = PROFILES.iter().map(|p| p.name).collect();
                Err(format!(
                    "unknown profile {other:?}; known: {}",
                    known.join(", ")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_profile_builds_and_unknown_names_are_refused() {
        for profile in PROFILES {
            assert_eq!(
                Config::preset(profile.name, 1).unwrap().profile,
                profile.name
            );
        }
        let error = Config::preset("fazt-9", 1).unwrap_err();
        assert!(error.contains("hardened"), "{error}");
        assert!(error.contains("mech-deferred-upgrade"), "{error}");
    }

    #[test]
    fn every_mechanism_has_a_listed_profile() {
        for mechanism in Mechanism::ALL {
            assert!(
                PROFILES.iter().any(|p| p.name == mechanism.profile()),
                "{mechanism:?}"
            );
        }
    }
}
