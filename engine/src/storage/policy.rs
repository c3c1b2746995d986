//! How the storage layer writes, waits on SQLITE_BUSY and treats deadlines, as policies.
//!
//! The hardened defaults live here. Legacy profiles (fazt 0.10.x) and the one-mechanism
//! profiles (`fazt-reference.md` §4) select other variants; each variant is implemented
//! where it acts (`writer.rs`, `direct_writes.rs`, `retry.rs`, `busy_timeout.rs`,
//! `background.rs`, `handle.rs`).

use std::time::Duration;

use super::durability::Durability;
use crate::env::Deadline;

/// The storage configuration of one server.
#[derive(Clone, Debug)]
pub struct StoragePolicy {
    pub write_path: WritePath,
    /// How write transactions begin: the queue's, the legacy pool's and those of the
    /// writes that bypass the queue. Default IMMEDIATE.
    pub begin: BeginMode,
    /// The engine's own retry on SQLITE_BUSY.
    pub busy: BusyPolicy,
    /// SQLite's busy handler (`PRAGMA busy_timeout`), modelled on the Clock. Default off.
    pub busy_timeout: BusyTimeoutPragma,
    pub deadline: DeadlinePolicy,
    /// Which writes the queue refuses up front for lack of time.
    pub admission: QueueAdmission,
    /// How background writes (analytics flush, kv sweep) reach SQLite.
    pub background: BackgroundWrites,
    /// The analytics buffer: one event per HTTP request, flushed in batches.
    pub analytics: AnalyticsFlush,
    /// Whether each request also writes a request-log row of its own.
    pub request_log: RequestLogWrites,
    /// Reader connections in the pool. Default 4.
    pub readers: usize,
    /// How often expired kv entries are swept. Default 60 s.
    pub kv_sweep_interval: Duration,
    /// WAL size, in pages, past which a writer's commit checkpoints the log into the
    /// database (`PRAGMA wal_autocheckpoint`). A checkpoint syncs both files before its
    /// commit returns, and the writes queued behind it wait: at SQLite's 1,000 pages a
    /// write-heavy load checkpoints several times a second, and the waits make its p99
    /// (momentum's `POST` at c=50: p99 8.6–9.5 ms at 1,000, 4.4–5.7 ms at 10,000;
    /// BENCHMARKS.md). Default 10,000 (40 MiB of 4 KiB pages, the WAL's size on disk
    /// between checkpoints); legacy profiles keep SQLite's 1,000, as fazt did.
    pub checkpoint_pages: u32,
    /// When a committed write is synced to disk (the writers' `PRAGMA synchronous`).
    /// Default [`Durability::Normal`] (see there why); legacy profiles `Full`, as
    /// fazt; `--durability`.
    pub durability: Durability,
}

impl Default for StoragePolicy {
    fn default() -> Self {
        StoragePolicy {
            write_path: WritePath::default(),
            begin: BeginMode::Immediate,
            busy: BusyPolicy::default(),
            busy_timeout: BusyTimeoutPragma::Off,
            deadline: DeadlinePolicy::Propagate,
            admission: QueueAdmission::Estimate,
            background: BackgroundWrites::ThroughQueue,
            analytics: AnalyticsFlush::default(),
            request_log: RequestLogWrites::InMemory,
            readers: 4,
            kv_sweep_interval: Duration::from_secs(60),
            checkpoint_pages: 10_000,
            durability: Durability::Normal,
        }
    }
}

/// SQLite's default `wal_autocheckpoint`, in pages.
pub const SQLITE_CHECKPOINT_PAGES: u32 = 1000;

/// How writes reach SQLite.
#[derive(Clone, Debug)]
pub enum WritePath {
    /// One writer connection behind a bounded queue; every write waiting when the
    /// writer is free (up to `batch_max`) commits in one transaction, each in its own
    /// savepoint.
    GroupCommit {
        /// Writes that may wait in the queue. Default 1024.
        queue_depth: usize,
        /// Writes per transaction; 1 gives one commit per write (fazt 0.10.10's
        /// WriteQueue). Default 256.
        batch_max: usize,
    },
    /// fazt 0.10.5: `connections` connections, each write on one of them in its own
    /// transaction, begun by the policy's [`BeginMode`] (see `direct_writes.rs`).
    DirectPool {
        /// Go's `SetMaxOpenConns`.
        connections: usize,
        /// Go's `SetMaxIdleConns`: a connection returned while this many are idle is
        /// closed, and the pool later opens a fresh one in its place (without a pragma
        /// that was run once through the pool).
        max_idle: usize,
    },
}

impl WritePath {
    /// Group commit with the default queue depth (1024) and `batch_max` writes per
    /// transaction.
    pub fn group_commit(batch_max: usize) -> WritePath {
        WritePath::GroupCommit {
            queue_depth: 1024,
            batch_max,
        }
    }
}

impl Default for WritePath {
    fn default() -> Self {
        WritePath::group_commit(256)
    }
}

/// How the write queue's transactions begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeginMode {
    /// `BEGIN IMMEDIATE`: the write lock is taken first, where SQLite's busy handler
    /// (and the engine's busy policy) can wait for it. The hardened default.
    /// Also what a single autocommit write statement does (fazt 0.10.x's `ExecContext`
    /// calls): SQLite's `OP_Transaction` takes the write lock as the statement starts,
    /// calling the busy handler; there is no read before it to upgrade.
    Immediate,
    /// `BEGIN DEFERRED` (Go's `db.Begin`): the lock is taken at the first write. A
    /// transaction that read first and then writes gets SQLITE_BUSY at once when
    /// another connection holds the lock or committed since its read: SQLite does not
    /// call the busy handler for that upgrade (§4.9). This engine's update and delete
    /// read first (`ds.rs`), so under this mode they meet it; fazt's did not.
    Deferred,
}

/// What the engine does when SQLite answers SQLITE_BUSY. SQLite's own busy handler is
/// never used for waiting (`busy_timeout = 0`: it sleeps in real time); every wait is
/// on the engine's Clock.
#[derive(Clone, Debug)]
pub enum BusyPolicy {
    /// Retry with exponential backoff and full jitter, within the caller's deadline,
    /// where SQLite would have called its busy handler (waiting for the lock with no
    /// transaction open). The hardened default.
    Backoff {
        /// First wait. Default 1 ms.
        initial: Duration,
        /// Longest single wait. Default 50 ms.
        max: Duration,
        /// Attempts in all, the first included. Default 12.
        attempts: u32,
    },
    /// fazt 0.10.10's `withRetry`: after each SQLITE_BUSY, whatever statement met it,
    /// wait `first`, then twice as long each time, no jitter, `retries` times.
    Doubling { first: Duration, retries: u32 },
    /// Give up at the first SQLITE_BUSY (fazt before busy_timeout was added).
    FailFast,
}

impl BusyPolicy {
    /// fazt 0.10.10: 5 retries waiting 20, 40, 80, 160, 320 ms.
    pub fn fazt_retry() -> BusyPolicy {
        BusyPolicy::Doubling {
            first: Duration::from_millis(20),
            retries: 5,
        }
    }

    /// True when a BUSY met while upgrading a DEFERRED transaction (no busy handler
    /// called) is retried too: fazt's retry matched the error text, not the place.
    pub fn retries_failed_upgrade(&self) -> bool {
        matches!(self, BusyPolicy::Doubling { .. })
    }
}

impl Default for BusyPolicy {
    fn default() -> Self {
        BusyPolicy::Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(50),
            attempts: 12,
        }
    }
}

/// Which connections have a busy timeout (`PRAGMA busy_timeout = T`), as fazt set it.
/// Modelled by `busy_timeout.rs`: where SQLite would call its handler, the connection
/// waits on the Clock by SQLite's own delay table, up to `timeout` in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusyTimeoutPragma {
    /// No connection has one: SQLite answers BUSY at once. The hardened default (the
    /// busy policy waits instead, bounded by the deadline).
    Off,
    /// Every connection, as it opens (fazt after the fix; §4.6 when `timeout` equals
    /// the runtime's timeout).
    EveryConnection { timeout: Duration },
    /// fazt 0.10.6-0.10.10 (§4.3): run once through the pool, so only the first
    /// connection has it, and only until the pool replaces connections older than
    /// `connection_lifetime` (Go's `SetConnMaxLifetime`; `Duration::MAX` for none, as
    /// fazt 0.10.6 set none): after that none has it.
    OnceThroughPool {
        timeout: Duration,
        connection_lifetime: Duration,
    },
}

/// Whether storage honours the request's deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlinePolicy {
    /// Refuse what cannot finish in time, start nothing past the deadline, report
    /// outcome-unknown writes.
    Propagate,
    /// fazt 0.10.10 (§4.5): like `Propagate`, but a caller whose deadline passes while
    /// its queued write is already executing is told it failed (`DeadlineExceeded`),
    /// and the write still commits: a ghost write.
    AbandonAtDeadline,
    /// Run every call as if it had no deadline (fazt's `context.Background()`, §4.4).
    Ignore,
}

/// A caller's deadline as the storage layer honours it under its [`DeadlinePolicy`]:
/// made by [`DeadlinePolicy::honour`], the one place that reads the policy, when a call
/// enters the storage layer; the read and write paths then obey it without asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallDeadline {
    /// When storage gives up on the call: the caller's deadline, or none.
    pub until: Deadline,
    /// A caller whose deadline passes while its write is already committing is told it
    /// failed (a ghost write, fazt 0.10.10) instead of that its outcome is unknown.
    pub abandon_mid_commit: bool,
}

impl DeadlinePolicy {
    /// How storage treats a call whose caller must be answered by `deadline`.
    pub fn honour(self, deadline: Deadline) -> CallDeadline {
        match self {
            DeadlinePolicy::Propagate => CallDeadline {
                until: deadline,
                abandon_mid_commit: false,
            },
            DeadlinePolicy::AbandonAtDeadline => CallDeadline {
                until: deadline,
                abandon_mid_commit: true,
            },
            DeadlinePolicy::Ignore => CallDeadline {
                until: Deadline::NONE,
                abandon_mid_commit: false,
            },
        }
    }
}

/// Which writes the queue refuses up front for lack of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueAdmission {
    /// Refused when the time left is less than the observed group time × the groups
    /// ahead plus one, a group still running counting as at least its elapsed time.
    /// The hardened default.
    Estimate,
    /// fazt 51c0d2b (§4.8): refused unless the time left ≥ writes waiting × `per_write`
    /// + `base`, however fast the queue drains.
    PerQueuedWrite { per_write: Duration, base: Duration },
    /// No rule: only a full queue refuses (fazt fde8041, `internal/storage/writer.go`
    /// `Write`: a non-blocking send into the queue's channel).
    QueueDepthOnly,
}

impl QueueAdmission {
    /// fazt 51c0d2b (`internal/storage/writer.go`): 30 ms per queued write plus 500 ms.
    pub fn fazt() -> QueueAdmission {
        QueueAdmission::PerQueuedWrite {
            per_write: Duration::from_millis(30),
            base: Duration::from_millis(500),
        }
    }
}

/// How background writes (the analytics flush, the kv sweep) reach SQLite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackgroundWrites {
    /// Through the write path like any other write: they never take the lock outside
    /// it. The hardened default.
    ThroughQueue,
    /// fazt 0.10.10 (§4.7): each in its own DEFERRED transaction on another pooled
    /// connection, taking the write lock outside the queue.
    BypassQueue,
}

/// Where the request log goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestLogWrites {
    /// Kept in memory (`/api/_debug/traces`); no write per request. The hardened
    /// default: the analytics buffer already persists one event per request, batched.
    InMemory,
    /// fazt 0.10.10 (§4.7): a `request_log` row per request, written as the request
    /// ends in a transaction of its own, as a background write by the given path (fazt:
    /// outside the queue, its own policy apart from the analytics flush's). A row that
    /// meets SQLITE_BUSY is dropped.
    PerRequest(BackgroundWrites),
    /// fazt 0.10.10 as it was (fde8041, `internal/runtime/handler.go` `persistLogs`):
    /// after each handler execution, a row per console entry and one more when the
    /// execution failed, each its own autocommit `INSERT` (into `site_logs`; written
    /// here as a request-log row, the same one-statement write), as a background write
    /// by the given path. A request whose handler logs nothing and succeeds writes none.
    PerLogEntry(BackgroundWrites),
}

/// When the analytics buffer (fazt's `internal/analytics/buffer.go`) is written out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnalyticsFlush {
    /// Flush at least this often when events are buffered. Default 30 s.
    pub flush_interval: Duration,
    /// Flush as soon as this many events are buffered, all in one transaction.
    /// Default 1,000.
    pub flush_events: usize,
}

impl Default for AnalyticsFlush {
    fn default() -> Self {
        AnalyticsFlush {
            flush_interval: Duration::from_secs(30),
            flush_events: 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::env::{Clock, RealClock};

    /// The policy is read in one place: what each variant makes of a caller's deadline.
    #[test]
    fn each_deadline_policy_honours_a_deadline_its_own_way() {
        let deadline = Deadline::at(RealClock::new().now() + Duration::from_secs(1));
        let honoured = |policy: DeadlinePolicy| policy.honour(deadline);
        assert_eq!(
            honoured(DeadlinePolicy::Propagate),
            CallDeadline {
                until: deadline,
                abandon_mid_commit: false
            }
        );
        assert_eq!(
            honoured(DeadlinePolicy::AbandonAtDeadline),
            CallDeadline {
                until: deadline,
                abandon_mid_commit: true
            }
        );
        assert_eq!(
            honoured(DeadlinePolicy::Ignore),
            CallDeadline {
                until: Deadline::NONE,
                abandon_mid_commit: false
            }
        );
    }
}
