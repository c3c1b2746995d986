//! fazt's versions as profiles: each its own policies, by mechanism (see
//! `fazt-reference.md` §4 and the seeds).

use std::time::Duration;

use super::Config;
use crate::runtime::{RuntimeConfig, VmLimits, VmReuse, Watchdog, WhenAllBusy};
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

/// fazt 0.10.x's app writes are single autocommit statements (`ExecContext`: v0.10.5
/// `internal/storage/ds.go` `Update` and `Delete` are one `UPDATE`/`DELETE` each, and
/// kv's `Set`/`Delete` one statement; fde8041 the same inside the queue's function):
/// SQLite takes the write lock as such a statement starts, calling the busy handler,
/// which is `BEGIN IMMEDIATE`'s locking. No DEFERRED read-then-write upgrade occurs.
const FAZT_BEGIN: BeginMode = BeginMode::Immediate;

/// fazt 0.10.5 on a machine with `cpus` CPUs (seed 001; tag v0.10.5,
/// `internal/database/db.go`: `SetMaxOpenConns(25)`, `SetMaxIdleConns(5)`, no busy
/// timeout; `internal/storage/*.go`: storage on `context.Background()`): the watcher
/// goroutine, single-statement writes on up to 25 connections, failing at the first
/// SQLITE_BUSY; the VM pool of 10 creates another VM when all are busy
/// ([`RuntimeConfig::fazt_0_10_5`]).
pub fn fazt_0_10_5(cpus: u32) -> Config {
    Config {
        profile: "fazt-0.10.5",
        storage: StorageConfig {
            policy: StoragePolicy {
                write_path: WritePath::DirectPool {
                    connections: 25,
                    max_idle: 5,
                },
                begin: FAZT_BEGIN,
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

/// fazt 0.10.6: 0.10.5 plus `PRAGMA busy_timeout=5000` run once through the pool (tag
/// v0.10.6, `internal/database/db.go`; §4.3). No connection lifetime was set, so the
/// connection that got it keeps it until it returns to a full idle list (5 idle) and
/// is closed.
pub fn fazt_0_10_6(cpus: u32) -> Config {
    let mut config = fazt_0_10_5(cpus);
    config.profile = "fazt-0.10.6";
    config.storage.policy.busy_timeout = BusyTimeoutPragma::OnceThroughPool {
        timeout: Duration::from_secs(5),
        connection_lifetime: Duration::MAX,
    };
    config
}

/// fazt 0.10.10 (seed 002; commit fde8041 "Storage layer optimization with
/// WriteQueue"): every write through an unbatched queue of 1000
/// (`internal/storage/writer.go`, refused only when full), each a single autocommit
/// statement, `withRetry` (`retry.go`: 5 retries, 20-320 ms), `busy_timeout=2000` once
/// through a pool of 10 open / 10 idle connections with a 5-minute lifetime
/// (`internal/database/db.go`; the writer, the bypass connection and 8 readers; the
/// 1-minute idle time is not modelled: the writer is never idle that long under
/// load), the deadline propagated but abandoned mid-write (ghost writes), runtime
/// timeout 5 s = request timeout 5 s (`internal/runtime/runtime.go` `DefaultTimeout`,
/// `handler.go`'s `context.WithTimeout(ctx, 5*time.Second)`), the kv sweep every
/// 5 minutes (`kv.go` `kvCleanupInterval`), and outside the queue the analytics
/// flush and `persistLogs`' rows (`handler.go`: one per console entry and one per
/// failed execution, not one per request).
///
/// The runtime is fazt's FIFO pool of `MaxPoolSize = 100` pre-warmed VMs that creates
/// another when all are busy, with the watcher fix (waiting for the watcher before
/// `cancel()`) taken as in place: seed 002's 80-90% success at 1000-2000 users is not
/// what the stale interrupt gives. `mech-stale-interrupt` switches that mechanism on
/// by itself.
pub fn fazt_0_10_10() -> Config {
    Config {
        profile: "fazt-0.10.10",
        storage: StorageConfig {
            policy: StoragePolicy {
                write_path: WritePath::GroupCommit {
                    queue_depth: 1000,
                    batch_max: 1,
                },
                begin: FAZT_BEGIN,
                busy: BusyPolicy::fazt_retry(),
                busy_timeout: BusyTimeoutPragma::OnceThroughPool {
                    timeout: Duration::from_secs(2),
                    connection_lifetime: Duration::from_secs(300),
                },
                deadline: DeadlinePolicy::AbandonAtDeadline,
                admission: QueueAdmission::QueueDepthOnly,
                background: BackgroundWrites::BypassQueue,
                request_log: RequestLogWrites::PerLogEntry(BackgroundWrites::BypassQueue),
                readers: 8,
                kv_sweep_interval: Duration::from_secs(300),
                checkpoint_pages: SQLITE_CHECKPOINT_PAGES,
                durability: FAZT_DURABILITY,
                ..StoragePolicy::default()
            },
            ..StorageConfig::default()
        },
        runtime: RuntimeConfig {
            pool_size: 100,
            reuse: VmReuse::Fifo,
            when_all_busy: WhenAllBusy::CreateAnother,
            timeout: Duration::from_secs(5),
            limits: VmLimits::default(),
            watchdog: Watchdog::Deadline,
            prewarm: true,
        },
        request_timeout: Duration::from_secs(5),
    }
}

/// fazt 0.10.10 with the fix seed 002 planned next, made in commit c8e38a5 ("Route
/// analytics writes through global WriteQueue": `internal/analytics` `writeBatch`
/// through `storage.QueueWrite`; its message reports 100% success at 2,000 users,
/// from 80%): the analytics flush and the kv sweep go through the queue; the request
/// log's rows still outside it (`internal/runtime/handler.go` `persistLogs`, unchanged).
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
            WritePath::DirectPool {
                connections: 25,
                max_idle: 5
            }
        ));
        // Single autocommit statements: no DEFERRED upgrade in any 0.10.x app write.
        assert_eq!(v6.storage.policy.begin, BeginMode::Immediate);
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
        assert_eq!(v10.runtime.timeout, v10.request_timeout);
        assert_eq!(v10.storage.policy.admission, QueueAdmission::QueueDepthOnly);
        assert_eq!(v10.runtime.pool_size, 100);
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
