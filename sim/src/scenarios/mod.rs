//! Named workloads with their expectations. Each runs the real engine on virtual time,
//! through one of the runners in [`crate::run`], and returns a report.

pub mod busy_timeout_one_conn;
pub mod capacity;
pub mod cashflow_stress;
pub mod crash_restart;
pub mod deferred_upgrade;
pub mod disk_faults;
pub mod ghost_writes;
pub mod interrupt_storm;
pub mod momentum_seq;
pub mod noisy_neighbor;
pub mod power_loss;
pub mod queue_admission;
pub mod slow_query;
pub mod timeout_hierarchy;
pub mod write_contention;

use fazt_engine::storage::Durability;

use crate::disk::DiskModel;
use crate::profile::Profile;
use crate::run::Run;

/// What a run may override (`fazt-sim run --requests N --schedule FILE`).
#[derive(Clone, Debug, Default)]
pub struct Sizes {
    pub requests: Option<u64>,
    /// Faults instead of the scenario's own (scenarios that take faults).
    pub schedule: Option<fazt_chaos::Schedule>,
    /// Seconds of load instead of the scenario's default (scenarios that run for a
    /// time: `capacity`).
    pub duration_s: Option<u64>,
    /// How many times slower than the cost model the server's CPU is (scenarios that
    /// model a machine: `capacity`).
    pub slowdown: Option<u32>,
    /// The simulated disk instead of the profile's (`--disk`).
    pub disk: Option<DiskModel>,
    /// The durability instead of the profile's (`--durability`).
    pub durability: Option<Durability>,
}

impl Sizes {
    /// These sizes as `fazt-sim run` options (empty for the defaults).
    pub fn args(&self) -> String {
        let mut args = String::new();
        if let Some(n) = self.requests {
            args += &format!(" --requests {n}");
        }
        if let Some(s) = self.duration_s {
            args += &format!(" --duration-s {s}");
        }
        if let Some(n) = self.slowdown {
            args += &format!(" --slowdown {n}");
        }
        if let Some(disk) = &self.disk {
            args += &format!(" --disk {}", disk.name);
        }
        if let Some(durability) = self.durability {
            args += &format!(" --durability {}", durability.name());
        }
        if self.schedule.is_some() {
            args += " --schedule <the same file>";
        }
        args
    }

    /// `profile` with this run's disk and durability.
    pub fn apply(&self, profile: &Profile) -> Profile {
        let mut profile = profile.clone();
        if let Some(disk) = &self.disk {
            profile.disk = disk.clone();
        }
        if let Some(durability) = self.durability {
            profile.config.storage.policy.durability = durability;
        }
        profile
    }
}

/// A scenario the CLI can run by name.
pub struct Scenario {
    pub name: &'static str,
    pub summary: &'static str,
    pub run: fn(&Profile, u64, &Sizes) -> Run,
}

impl Scenario {
    /// Runs the scenario; the report's replay command carries `sizes`.
    pub fn execute(&self, profile: &Profile, seed: u64, sizes: &Sizes) -> Run {
        let mut run = (self.run)(&sizes.apply(profile), seed, sizes);
        run.report.replay_args = sizes.args();
        run
    }
}

/// Every scenario, in display order.
pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "momentum-seq",
            summary: momentum_seq::SUMMARY,
            run: |profile, seed, sizes| {
                let defaults = momentum_seq::Options::default();
                let options = momentum_seq::Options {
                    requests: sizes.requests.unwrap_or(defaults.requests),
                };
                momentum_seq::run(profile, seed, &options)
            },
        },
        Scenario {
            name: "cashflow-stress",
            summary: cashflow_stress::SUMMARY,
            run: |profile, seed, sizes| {
                let options = sizes.requests.map_or_else(
                    cashflow_stress::Options::default,
                    cashflow_stress::Options::each,
                );
                cashflow_stress::run(profile, seed, &options)
            },
        },
        Scenario {
            name: "interrupt-storm",
            summary: interrupt_storm::SUMMARY,
            run: |profile, seed, sizes| {
                let defaults = interrupt_storm::Options::default();
                let options = interrupt_storm::Options {
                    requests_per_client: sizes.requests.unwrap_or(defaults.requests_per_client),
                    ..defaults
                };
                interrupt_storm::run(profile, seed, &options)
            },
        },
        Scenario {
            name: "capacity",
            summary: capacity::SUMMARY,
            run: |profile, seed, sizes| {
                let defaults = capacity::Options::default();
                let options = capacity::Options {
                    users: sizes.requests.unwrap_or(defaults.users),
                    duration: sizes
                        .duration_s
                        .map_or(defaults.duration, std::time::Duration::from_secs),
                    slowdown: sizes.slowdown.unwrap_or(defaults.slowdown),
                    ..defaults
                };
                capacity::run(profile, seed, &options)
            },
        },
        Scenario {
            name: "write-contention",
            summary: write_contention::SUMMARY,
            run: |profile, seed, sizes| {
                let defaults = write_contention::Options::default();
                let options = write_contention::Options {
                    writers: sizes.requests.map_or(defaults.writers, |n| n as usize),
                    ..defaults
                };
                write_contention::run(profile, seed, &options)
            },
        },
        Scenario {
            name: "crash-restart",
            summary: crash_restart::SUMMARY,
            run: crash_restart::run,
        },
        Scenario {
            name: "power-loss",
            summary: power_loss::SUMMARY,
            run: power_loss::run,
        },
        Scenario {
            name: "disk-faults",
            summary: disk_faults::SUMMARY,
            run: disk_faults::run,
        },
        Scenario {
            name: "slow-query",
            summary: slow_query::SUMMARY,
            run: slow_query::run,
        },
        Scenario {
            name: "busy-timeout-one-conn",
            summary: busy_timeout_one_conn::SUMMARY,
            run: |profile, seed, sizes| {
                let defaults = busy_timeout_one_conn::Options::default();
                let options = busy_timeout_one_conn::Options {
                    writers: sizes.requests.map_or(defaults.writers, |n| n as usize),
                    ..defaults
                };
                busy_timeout_one_conn::run(profile, seed, &options)
            },
        },
        Scenario {
            name: "deferred-upgrade",
            summary: deferred_upgrade::SUMMARY,
            run: |profile, seed, sizes| {
                let defaults = deferred_upgrade::Options::default();
                let options = deferred_upgrade::Options {
                    writers: sizes.requests.map_or(defaults.writers, |n| n as usize),
                    ..defaults
                };
                deferred_upgrade::run(profile, seed, &options)
            },
        },
        Scenario {
            name: "queue-admission",
            summary: queue_admission::SUMMARY,
            run: |profile, seed, sizes| {
                let defaults = queue_admission::Options::default();
                let options = queue_admission::Options {
                    writes: sizes.requests.map_or(defaults.writes, |n| n as usize),
                    ..defaults
                };
                queue_admission::run(profile, seed, &options)
            },
        },
        Scenario {
            name: "timeout-hierarchy",
            summary: timeout_hierarchy::SUMMARY,
            run: |profile, seed, sizes| {
                let defaults = timeout_hierarchy::Options::default();
                let options = timeout_hierarchy::Options {
                    requests: sizes.requests.map_or(defaults.requests, |n| n as usize),
                    ..defaults
                };
                timeout_hierarchy::run(profile, seed, &options)
            },
        },
        Scenario {
            name: "ghost-writes",
            summary: ghost_writes::SUMMARY,
            run: |profile, seed, sizes| {
                let defaults = ghost_writes::Options::default();
                let options = ghost_writes::Options {
                    writers: sizes.requests.map_or(defaults.writers, |n| n as usize),
                    ..defaults
                };
                ghost_writes::run(profile, seed, &options)
            },
        },
        Scenario {
            name: "noisy-neighbor",
            summary: noisy_neighbor::SUMMARY,
            run: |profile, seed, sizes| {
                let mut options = noisy_neighbor::Options::default();
                if let Some(n) = sizes.requests {
                    options.shape.victim_requests = n;
                }
                noisy_neighbor::run(profile, seed, &options)
            },
        },
    ]
}

/// The scenario called `name`, or an error listing the known ones.
pub fn by_name(name: &str) -> Result<Scenario, String> {
    all().into_iter().find(|s| s.name == name).ok_or_else(|| {
        let known: Vec<&str> = all().iter().map(|s| s.name).collect();
        format!("unknown scenario {name:?}; known: {}", known.join(", "))
    })
}
