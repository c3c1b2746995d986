//! fazt's versions as profiles: each its own policies, by mechanism (see
//! `fazt-reference.md` §4 and the seeds).

use std::time::Duration;

use super::Config;
use crate::runtime::{RuntimeConfig, VmLimits, VmReuse, Watchdog};
use crate::storage::{
    BackgroundWrites, BeginMode, BusyPolicy, BusyTimeoutPragma, DeadlinePolicy, Durability,
    QueueAdmission, RequestLogWrites, StorageConfig, StoragePolicy, WritePath,
    SQLITE_CHECKPOINT_PAGES,
};

/// fazt's durability: its DSN is the bare path (`sql.Open("sqlite", dbPath)`, then
/// `PRAGMA journal_mode=WAL`, `foreign_keys=ON`, `busy_timeout`: v0.10.5, v0.10.6,
/// v0.10.10 and v0.29.0's `internal/database/db.go`), so SQLite's default
/// `synchronous = FULL` in the modernc driver holds.
const FAZT_DURABILITY: Durability = Durability::Full;

/// Go's `SetConnMaxLifetime(5 * time.Minute)` in fazt's pool.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);

/// fazt 0.10.5 on a machine with `cpus` CPUs (seed 001): the watcher goroutine, 25
/// pooled connections each writing in its own DEFERRED transaction, no busy timeout,
/// storage on `context.Background()`.
pub fn fazt_0_10_5(cpus: u32) -> Config {
    Config {
        profile: "fazt-0.10.5",
        storage: StorageConfig {
            policy: StoragePolicy {
                write_path: WritePath::DirectPool { connections: 25 },
                busy: BusyPolicy::FailFast,
                deadline: DeadlinePolicy::Ignore,
                checkpoint_pages: SQLITE_CHECKPOINT_PAGES,
                durability: FAZT_DURABILITY,
                ..StoragePolicy::default()
            },
            ..StorageConfig::default()
        },
        runtime: RuntimeConfig::fazt_0_10_5(cpus),
        request_timeout: Duration::from_secs(5),
    }
}

/// fazt 0.10.6: 0.10.5 plus `PRAGMA busy_timeout=5000` run once through the pool
/// (§4.3; seed 000 quotes 5000).
pub fn fazt_0_10_6(cpus: u32) -> Config {
    let mut config = fazt_0_10_5(cpus);
    config.profile = "fazt-0.10.6";
    config.storage.policy.busy_timeout = BusyTimeoutPragma::OnceThroughPool {
        timeout: Duration::from_secs(5),
        connection_lifetime: CONNECTION_LIFETIME,
    };
    config
}

/// fazt 0.10.10 (seed 002, after Plan 21): every write through an unbatched queue of
/// 1000 (one DEFERRED transaction per write) with fazt's admission rule, `withRetry`
/// (5 retries, 20-320 ms), `busy_timeout=2000` once through a pool of 10 connections
/// (the writer, the bypass connection and 8 readers), the deadline propagated but
/// abandoned mid-write (ghost writes), runtime timeout 5 s under a 10 s request, and
/// the analytics flush, the kv sweep and a request-log row per request outside the
/// queue.
///
/// The runtime is fazt's FIFO pool of 10 pre-warmed VMs, with the watcher fix (waiting
/// for the watcher before `cancel()`) taken as in place: seed 002's 80-90% success
/// at 1000-2000 users is not what the stale interrupt gives. `mech-stale-interrupt`
/// switches that mechanism on by itself.
pub fn fazt_0_10_10() -> Config {
    Config {
        profile: "fazt-0.10.10",
        storage: StorageConfig {
            policy: StoragePolicy {
                write_path: WritePath::GroupCommit {
                    queue_depth: 1000,
                    batch_max: 1,
                },
                begin: BeginMode::Deferred,
                busy: BusyPolicy::fazt_retry(),
                busy_timeout: BusyTimeoutPragma::OnceThroughPool {
                    timeout: Duration::from_secs(2),
                    connection_lifetime: CONNECTION_LIFETIME,
                },
                deadline: DeadlinePolicy::AbandonAtDeadline,
                admission: QueueAdmission::fazt(),
                background: BackgroundWrites::BypassQueue,
                request_log: RequestLogWrites::PerRequest(BackgroundWrites::BypassQueue),
                readers: 8,
                checkpoint_pages: SQLITE_CHECKPOINT_PAGES,
                durability: FAZT_DURABILITY,
                ..StoragePolicy::default()
            },
            ..StorageConfig::default()
        },
        runtime: RuntimeConfig {
            pool_size: 10,
            reuse: VmReuse::Fifo,
            timeout: Duration::from_secs(5),
            limits: VmLimits::default(),
            watchdog: Watchdog::Deadline,
            prewarm: true,
        },
        request_timeout: Duration::from_secs(10),
    }
}

/// fazt 0.10.10 with the fix seed 002 planned next ("route analytics batch writes
/// through WriteQueue", expected to lift 2,000 users from 80% to 95%+): the analytics
/// flush and the kv sweep go through the queue; the request log still writes a row per
/// request outside it, as nothing in the seed changes that.
pub fn fazt_0_10_10_analytics_fix() -> Config {
    let mut config = fazt_0_10_10();
    config.profile = "fazt-0.10.10-analytics-fix";
    config.storage.policy.background = BackgroundWrites::ThroughQueue;
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_add_what_their_seeds_say() {
        let v5 = fazt_0_10_5(1);
        let v6 = fazt_0_10_6(1);
        assert_eq!(v5.storage.policy.busy_timeout, BusyTimeoutPragma::Off);
        assert!(matches!(
            v6.storage.policy.busy_timeout,
            BusyTimeoutPragma::OnceThroughPool { timeout, .. } if timeout == Duration::from_secs(5)
        ));
        assert!(matches!(
            v6.storage.policy.write_path,
            WritePath::DirectPool { connections: 25 }
        ));
        let v10 = fazt_0_10_10();
        let policy = &v10.storage.policy;
        assert!(matches!(
            policy.write_path,
            WritePath::GroupCommit {
                queue_depth: 1000,
                batch_max: 1
            }
        ));
        // The writer, the bypass connection and the readers: fazt's pool of 10.
        assert_eq!(1 + 1 + policy.readers, 10);
        assert_eq!(policy.deadline, DeadlinePolicy::AbandonAtDeadline);
        assert_eq!(policy.background, BackgroundWrites::BypassQueue);
        assert!(v10.runtime.timeout < v10.request_timeout);
        // fazt never set `wal_autocheckpoint`.
        for version in [&v5, &v6, &v10] {
            assert_eq!(
                version.storage.policy.checkpoint_pages,
                SQLITE_CHECKPOINT_PAGES
            );
            assert_eq!(version.storage.policy.durability, Durability::Full);
        }
        let fix = fazt_0_10_10_analytics_fix().storage.policy;
        assert_eq!(fix.background, BackgroundWrites::ThroughQueue);
        assert_eq!(fix.request_log, policy.request_log);
    }
}
