//! The engine's trace events, typed.
//!
//! Every event the engine reports about its own mechanisms (a VM checked out, a group
//! committed, a failpoint fired, a request answered) is one variant of [`Event`], with
//! typed fields and ids, emitted through the [`Recorder`] on the [`crate::env::Env`].
//! The real server's recorder writes them to `tracing` as before; the simulator keeps
//! them as values, so its root causes and invariants match on variants instead of
//! parsing text: renaming a field fails to compile rather than silently breaking them.

pub mod chrome;
mod recorder;

pub use recorder::{current_execution, serving, Record, Recorder, TracingRecorder};

use serde::Serialize;

use crate::runtime::{Operation, WatcherEnd};

/// One thing that happened inside the engine. Ids are the engine's own: `execution`
/// counts executions from 1, `vm` is the pool's VM id, `conn` a writer connection's
/// index, `reader` a reader connection's index in the reader pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    // --- runtime ---
    /// No VM became free for `execution` within its budget.
    Overloaded { execution: u64 },
    /// `execution` took `vm` from the pool.
    VmCheckout { execution: u64, vm: u64 },
    /// How the legacy watcher of `execution` on `vm` ended.
    Watcher {
        execution: u64,
        vm: u64,
        end: WatcherEnd,
    },
    /// `execution` answered.
    ExecutionOk { execution: u64, vm: u64 },
    /// `execution` failed with error `kind` (the name the client sees), with the
    /// engine's `cause` when it knows more; `interrupted` when the VM's interrupt ended it.
    ExecutionFailed {
        execution: u64,
        vm: u64,
        kind: String,
        cause: Option<String>,
        interrupted: bool,
    },
    /// `execution` gave `vm` back (`discarded`: the pool drops it instead of reusing it).
    VmReturn {
        execution: u64,
        vm: u64,
        discarded: bool,
    },
    /// The pool dropped idle `vm`.
    VmEvicted { vm: u64 },
    /// `execution` suspended on the storage call `operation`.
    StorageCall {
        execution: u64,
        operation: Operation,
    },
    /// The storage call of `execution` answered after `took_us` virtual microseconds.
    StorageAnswer {
        execution: u64,
        ok: bool,
        took_us: u64,
    },

    // --- storage ---
    /// An attempt of a read took reader connection `reader` from the pool.
    ReaderCheckout { reader: usize },
    /// The attempt gave reader connection `reader` back to the pool.
    ReaderReturn { reader: usize },
    /// Connection `conn` was replaced past its lifetime and lost its busy timeout.
    ConnectionReplaced { conn: usize, generation: u32 },
    /// A write on the direct path began its transaction.
    DirectWriteStarted { write: &'static str },
    /// A direct write met SQLITE_BUSY (`lock_wait`: at the lock, not at the upgrade).
    DirectWriteBusy {
        write: &'static str,
        attempt: u32,
        conn: usize,
        busy_timeout_ms: u64,
        lock_wait: bool,
    },
    /// A direct write applied its statements and is committing.
    DirectWriteCommitting { write: &'static str },
    /// The queue refused `write`: its remaining budget is below what the `waiting`
    /// writes ahead of it are estimated to need.
    WriteRefused {
        write: &'static str,
        waiting: usize,
        remaining_us: u64,
        needed_us: u64,
    },
    /// `write` entered the queue behind `waiting` others.
    WriteQueued { write: &'static str, waiting: usize },
    /// A queued write's caller gave up while its group executed.
    WriteAbandoned,
    /// The writer began a group of `writes`.
    GroupStarted { writes: usize },
    /// The writer committed a group: `applied` of its `writes` took effect.
    GroupCommitted { writes: usize, applied: usize },
    /// `COMMIT` reported an error: the group's outcome is unknown.
    CommitUnconfirmed { writes: usize, error: String },
    /// The writer met SQLITE_BUSY on attempt `attempt` of a group.
    WriterBusy {
        writes: usize,
        attempt: u32,
        conn: usize,
        busy_timeout_ms: u64,
        lock_wait: bool,
    },
    /// SQLite's busy handler gave up after `waited_ms`.
    BusyTimeoutExpired { waited_ms: u64 },
    /// A DEFERRED transaction met SQLITE_BUSY when it upgraded to a write.
    BusyAtUpgrade { write: &'static str },
    /// A request-log row could not be written.
    RequestLogWriteFailed { kind: &'static str },
    /// An analytics batch of `events` was written (`bypass`: outside the queue).
    AnalyticsFlushed { events: usize, bypass: bool },
    /// An analytics batch of `events` failed with `kind` and was dropped.
    AnalyticsFlushFailed {
        events: usize,
        bypass: bool,
        kind: &'static str,
    },

    // --- faults ---
    /// The failpoint `point` fired (with its `return(n)` argument, if it takes one).
    Fault { point: &'static str, n: Option<u64> },

    // --- server ---
    /// Request `request_id` was refused without an execution slot after waiting
    /// `waited_us` for one.
    RequestRefused {
        request_id: String,
        waited_us: u64,
        cause: &'static str,
    },
    /// Request `request_id` of `app` was served by `execution`.
    Request {
        request_id: String,
        app: String,
        execution: u64,
        outcome: RequestOutcome,
    },
    /// Request `request_id` was answered with `status`, `took_us` microseconds of the
    /// server's clock after its head was read: the server-side latency, for every
    /// request the router answered (served, refused, rate-limited or failed).
    Answered {
        request_id: String,
        status: u16,
        took_us: u64,
    },
}

/// `duration` in whole microseconds, for event fields (saturating).
pub fn micros(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// What a served request answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestOutcome {
    /// The handler's HTTP status.
    Status(u16),
    /// The execution failed with this error kind name.
    Error(String),
}

/// The part of the engine an event comes from, as a `tracing` target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Runtime,
    Storage,
    Fault,
    Server,
}

impl Source {
    /// The `tracing` target (`fazt::runtime`, ...).
    pub fn target(self) -> &'static str {
        match self {
            Source::Runtime => "fazt::runtime",
            Source::Storage => "fazt::storage",
            Source::Fault => "fazt::fault",
            Source::Server => "fazt::server",
        }
    }
}

impl Event {
    /// The part of the engine that emits this event.
    pub fn source(&self) -> Source {
        use Event::*;
        match self {
            Overloaded { .. }
            | VmCheckout { .. }
            | Watcher { .. }
            | ExecutionOk { .. }
            | ExecutionFailed { .. }
            | VmReturn { .. }
            | VmEvicted { .. }
            | StorageCall { .. }
            | StorageAnswer { .. } => Source::Runtime,
            ReaderCheckout { .. }
            | ReaderReturn { .. }
            | ConnectionReplaced { .. }
            | DirectWriteStarted { .. }
            | DirectWriteBusy { .. }
            | DirectWriteCommitting { .. }
            | WriteRefused { .. }
            | WriteQueued { .. }
            | WriteAbandoned
            | GroupStarted { .. }
            | GroupCommitted { .. }
            | CommitUnconfirmed { .. }
            | WriterBusy { .. }
            | BusyTimeoutExpired { .. }
            | BusyAtUpgrade { .. }
            | RequestLogWriteFailed { .. }
            | AnalyticsFlushed { .. }
            | AnalyticsFlushFailed { .. } => Source::Storage,
            Fault { .. } => Source::Fault,
            RequestRefused { .. } | Request { .. } | Answered { .. } => Source::Server,
        }
    }

    /// The execution the event names in its own fields, if any.
    pub fn execution(&self) -> Option<u64> {
        use Event::*;
        match self {
            Overloaded { execution }
            | VmCheckout { execution, .. }
            | Watcher { execution, .. }
            | ExecutionOk { execution, .. }
            | ExecutionFailed { execution, .. }
            | VmReturn { execution, .. }
            | StorageCall { execution, .. }
            | StorageAnswer { execution, .. }
            | Request { execution, .. } => Some(*execution),
            _ => None,
        }
    }
}

impl std::fmt::Display for Event {
    /// The event as one JSON object (`{"event":"vm-checkout","execution":3,"vm":1}`),
    /// for `tracing` and people.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_string(self) {
            Ok(json) => f.write_str(&json),
            Err(_) => write!(f, "{self:?}"),
        }
    }
}
