//! Profiles: named sets of policies for storage, runtime and server. `hardened` is the
//! default; the others reproduce fazt's behaviour by their mechanisms, one version or
//! one mechanism (fazt-reference.md §4) at a time.

use std::time::Duration;

use crate::runtime::RuntimeConfig;
use crate::storage::{BusyPolicy, DeadlinePolicy, StorageConfig, StoragePolicy, WritePath};

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
        summary: "legacy watchdog and FIFO pool of 10, runtime timeout 1 s under 5 s, storage ignores deadlines, fail fast on BUSY, 25 connections writing DEFERRED",
    },
    ProfileInfo {
        name: "no-busy-wait",
        summary: "hardened but SQLITE_BUSY fails at once (§4.2: fazt before busy_timeout)",
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

    /// fazt 0.10.5 on a machine with `cpus` CPUs.
    pub fn fazt_0_10_5(cpus: u32) -> Config {
        Config {
            profile: "fazt-0.10.5",
            storage: StorageConfig {
                policy: StoragePolicy {
                    write_path: WritePath::DirectPool { connections: 25 },
                    busy: BusyPolicy::FailFast,
                    deadline: DeadlinePolicy::Ignore,
                    ..StoragePolicy::default()
                },
                ..StorageConfig::default()
            },
            runtime: RuntimeConfig::fazt_0_10_5(cpus),
            request_timeout: Duration::from_secs(5),
        }
    }

    /// The profile called `name` for a machine with `cpus` CPUs (only the legacy
    /// runtime's scheduler model uses it).
    pub fn preset(name: &str, cpus: u32) -> Result<Config, String> {
        match name {
            "hardened" => Ok(Config::hardened()),
            "fazt-0.10.5" => Ok(Config::fazt_0_10_5(cpus)),
            "no-busy-wait" => {
                let mut config = Config::hardened();
                config.profile = "no-busy-wait";
                config.storage.policy.busy = BusyPolicy::FailFast;
                Ok(config)
            }
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
    }
}
