//! The failure mechanisms of `fazt-reference.md` §4, each a change of one policy that
//! can be switched on alone on top of `hardened` (profile `mech-*`).

use std::time::Duration;

use super::Config;
use crate::runtime::{GoScheduler, Watchdog};
use crate::storage::{
    BackgroundWrites, BeginMode, BusyPolicy, BusyTimeoutPragma, DeadlinePolicy, QueueAdmission,
    RequestLogWrites,
};

/// One mechanism of §4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// §4.1: fazt's watcher goroutine; a late one interrupts a VM back in the pool.
    StaleInterrupt,
    /// §4.2: no busy timeout; SQLITE_BUSY fails at once.
    NoBusyTimeout,
    /// §4.3: busy_timeout=5000 run once through the pool; lost with the connection.
    BusyTimeoutOneConnection,
    /// §4.4: storage ignores the request's deadline.
    DeadlineIgnored,
    /// §4.5: a caller stops waiting at its deadline while its write commits.
    GhostWrites,
    /// §4.6: busy timeout = runtime timeout = request budget.
    TimeoutHierarchy,
    /// §4.7: background writers (analytics flush, kv sweep, a request-log row per
    /// request) take the write lock outside the queue.
    WritersBypassQueue,
    /// §4.8: fazt's queue admission rule.
    QueueAdmission,
    /// §4.9: DEFERRED transactions that read, then write.
    DeferredUpgrade,
}

/// §4.3's and §4.6's busy timeout, and §4.6's runtime timeout and request budget.
const FAZT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl Mechanism {
    pub const ALL: [Mechanism; 9] = [
        Mechanism::StaleInterrupt,
        Mechanism::NoBusyTimeout,
        Mechanism::BusyTimeoutOneConnection,
        Mechanism::DeadlineIgnored,
        Mechanism::GhostWrites,
        Mechanism::TimeoutHierarchy,
        Mechanism::WritersBypassQueue,
        Mechanism::QueueAdmission,
        Mechanism::DeferredUpgrade,
    ];

    /// The profile that switches this mechanism on alone.
    pub fn profile(self) -> &'static str {
        match self {
            Mechanism::StaleInterrupt => "mech-stale-interrupt",
            Mechanism::NoBusyTimeout => "no-busy-wait",
            Mechanism::BusyTimeoutOneConnection => "mech-busy-timeout-one-conn",
            Mechanism::DeadlineIgnored => "mech-deadline-ignored",
            Mechanism::GhostWrites => "mech-ghost-writes",
            Mechanism::TimeoutHierarchy => "mech-timeout-hierarchy",
            Mechanism::WritersBypassQueue => "mech-writers-bypass-queue",
            Mechanism::QueueAdmission => "mech-queue-admission",
            Mechanism::DeferredUpgrade => "mech-deferred-upgrade",
        }
    }

    /// The mechanism whose profile is `name` (`mech-no-busy-timeout` is an alias of
    /// `no-busy-wait`).
    pub fn by_profile(name: &str) -> Option<Mechanism> {
        if name == "mech-no-busy-timeout" {
            return Some(Mechanism::NoBusyTimeout);
        }
        Mechanism::ALL.into_iter().find(|m| m.profile() == name)
    }

    /// Switches the mechanism on in `config` (`cpus`: the machine, for the Go
    /// scheduler model of §4.1).
    pub fn apply(self, config: &mut Config, cpus: u32) {
        let storage = &mut config.storage.policy;
        match self {
            Mechanism::StaleInterrupt => {
                config.runtime.watchdog = Watchdog::LegacyGoroutine(GoScheduler::with_cpus(cpus));
            }
            Mechanism::NoBusyTimeout => storage.busy = BusyPolicy::FailFast,
            Mechanism::BusyTimeoutOneConnection => {
                storage.busy = BusyPolicy::FailFast;
                storage.busy_timeout = BusyTimeoutPragma::OnceThroughPool {
                    timeout: FAZT_BUSY_TIMEOUT,
                    connection_lifetime: Duration::from_secs(300),
                };
            }
            Mechanism::DeadlineIgnored => storage.deadline = DeadlinePolicy::Ignore,
            Mechanism::GhostWrites => storage.deadline = DeadlinePolicy::AbandonAtDeadline,
            Mechanism::TimeoutHierarchy => {
                storage.busy = BusyPolicy::FailFast;
                storage.busy_timeout = BusyTimeoutPragma::EveryConnection {
                    timeout: FAZT_BUSY_TIMEOUT,
                };
                config.runtime.timeout = FAZT_BUSY_TIMEOUT;
                config.request_timeout = FAZT_BUSY_TIMEOUT;
            }
            Mechanism::WritersBypassQueue => {
                storage.background = BackgroundWrites::BypassQueue;
                storage.request_log = RequestLogWrites::PerRequest(BackgroundWrites::BypassQueue);
            }
            Mechanism::QueueAdmission => storage.admission = QueueAdmission::fazt(),
            Mechanism::DeferredUpgrade => storage.begin = BeginMode::Deferred,
        }
    }

    /// `hardened` with this mechanism switched on, named by its profile.
    pub fn on_hardened(self, cpus: u32) -> Config {
        let mut config = Config::hardened();
        config.profile = self.profile();
        self.apply(&mut config, cpus);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mechanism_changes_hardened_and_nothing_else_is_shared() {
        let hardened = format!("{:?}", Config::hardened().storage);
        for mechanism in Mechanism::ALL {
            let config = mechanism.on_hardened(1);
            assert_eq!(config.profile, mechanism.profile());
            let changed = format!("{:?}", config.storage) != hardened
                || config.runtime.timeout != Config::hardened().runtime.timeout
                || matches!(config.runtime.watchdog, Watchdog::LegacyGoroutine(_));
            assert!(changed, "{mechanism:?} changes nothing");
        }
        assert_eq!(
            Mechanism::by_profile("mech-no-busy-timeout"),
            Some(Mechanism::NoBusyTimeout)
        );
        assert_eq!(Mechanism::by_profile("mech-nothing"), None);
    }

    #[test]
    fn the_timeout_hierarchy_makes_the_three_timeouts_equal() {
        let config = Mechanism::TimeoutHierarchy.on_hardened(1);
        assert_eq!(config.runtime.timeout, config.request_timeout);
        assert_eq!(
            config.storage.policy.busy_timeout,
            BusyTimeoutPragma::EveryConnection {
                timeout: config.request_timeout
            }
        );
    }
}
