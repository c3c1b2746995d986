//! How the storage layer writes, waits on SQLITE_BUSY and treats deadlines, as policies.
//!
//! The hardened defaults live here. Legacy profiles (fazt 0.10.x) select other
//! variants; each variant is implemented where it acts (`writer.rs`, `retry.rs`,
//! `handle.rs`).

use std::time::Duration;

/// The storage configuration of one server.
#[derive(Clone, Debug)]
pub struct StoragePolicy {
    pub write_path: WritePath,
    pub busy: BusyPolicy,
    pub deadline: DeadlinePolicy,
    /// Reader connections in the pool. Default 4.
    pub readers: usize,
    /// How often expired kv entries are swept (through the write queue). Default 60 s.
    pub kv_sweep_interval: Duration,
}

impl Default for StoragePolicy {
    fn default() -> Self {
        StoragePolicy {
            write_path: WritePath::default(),
            busy: BusyPolicy::default(),
            deadline: DeadlinePolicy::Propagate,
            readers: 4,
            kv_sweep_interval: Duration::from_secs(60),
        }
    }
}

/// How writes reach SQLite.
#[derive(Clone, Debug)]
pub enum WritePath {
    /// One writer connection behind a bounded queue; every write waiting when the
    /// writer is free (up to `batch_max`) commits in one IMMEDIATE transaction, each in
    /// its own savepoint.
    GroupCommit {
        /// Writes that may wait in the queue. Default 1024.
        queue_depth: usize,
        /// Writes per transaction; 1 gives one commit per write. Default 256.
        batch_max: usize,
    },
    /// fazt 0.10.5: `connections` connections, each write on one of them in its own
    /// DEFERRED transaction (see `direct_writes.rs`).
    DirectPool { connections: usize },
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

/// What to do when SQLite answers SQLITE_BUSY. SQLite's own busy handler is never used
/// (`busy_timeout = 0`: it sleeps in real time); every wait is on the engine's Clock.
#[derive(Clone, Debug)]
pub enum BusyPolicy {
    /// Retry with exponential backoff and full jitter, within the caller's deadline.
    Backoff {
        /// First wait. Default 1 ms.
        initial: Duration,
        /// Longest single wait. Default 50 ms.
        max: Duration,
        /// Attempts in all, the first included. Default 12.
        attempts: u32,
    },
    /// Give up at the first SQLITE_BUSY (fazt before busy_timeout was added).
    FailFast,
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

/// Whether storage honours the request's deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlinePolicy {
    /// Refuse what cannot finish in time, start nothing past the deadline, report
    /// outcome-unknown writes.
    Propagate,
    /// Run every call as if it had no deadline (fazt's `context.Background()`).
    Ignore,
}
