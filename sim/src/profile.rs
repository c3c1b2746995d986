//! Named engine configurations the simulator runs scenarios under.
//!
//! `hardened` is the engine's default. Each other profile switches on one mechanism of
//! `fazt-reference.md` §4 (later: whole legacy versions such as `fazt-0.10.5`).

use fazt_engine::storage::{BusyPolicy, StorageConfig, StoragePolicy};

/// A named configuration.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: &'static str,
    pub summary: &'static str,
    pub storage: StorageConfig,
}

/// Every profile, in display order.
pub fn all() -> Vec<Profile> {
    vec![
        Profile {
            name: "hardened",
            summary:
                "the default engine: group commit, busy backoff on the Clock, deadlines honoured",
            storage: StorageConfig::default(),
        },
        Profile {
            name: "no-busy-wait",
            summary: "§4.2: SQLITE_BUSY fails the write at once (fazt before busy_timeout)",
            storage: StorageConfig {
                policy: StoragePolicy {
                    busy: BusyPolicy::FailFast,
                    ..StoragePolicy::default()
                },
                ..StorageConfig::default()
            },
        },
    ]
}

/// The profile called `name`, or an error listing the known ones.
pub fn by_name(name: &str) -> Result<Profile, String> {
    all().into_iter().find(|p| p.name == name).ok_or_else(|| {
        let known: Vec<&str> = all().iter().map(|p| p.name).collect();
        format!("unknown profile {name:?}; known: {}", known.join(", "))
    })
}
