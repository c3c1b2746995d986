//! Coverage marks: named points at the rare states the simulator's search must reach
//! (after FoundationDB's `CODE_PROBE` and TigerBeetle's marks).
//!
//! A mark says "this run reached a state that matters" (BUSY retried then committed, a
//! deadline passed mid-commit, ...). The property search and `fazt-sim sweep` report how
//! often each was hit, and a test fails when a mark the search is required to reach
//! never was: a search that stops reaching a state stops testing it, silently otherwise.
//!
//! Marks count only with the `failpoints` feature (the simulation build); without it
//! [`hit`] is an empty inline function and costs nothing in the real server.

#[cfg(feature = "failpoints")]
use std::sync::atomic::{AtomicU64, Ordering};

/// Every mark, by the state it records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    // Hit by the engine (`hit`): states no typed event records.
    /// A group met SQLITE_BUSY, backed off, and then committed.
    BusyRetriedThenCommitted,
    /// A group met SQLITE_BUSY more often than its retry limit and failed its writes.
    BusyGaveUp,
    /// A caller's deadline passed after the writer claimed its write: outcome unknown.
    DeadlinePassedMidCommit,
    /// A queued write's deadline passed before the writer claimed it: cancelled.
    QueuedWriteCancelled,
    /// One write's savepoint was rolled back inside a group that then committed.
    SavepointRolledBackInCommittedGroup,
    /// `BEGIN` failed with an error other than SQLITE_BUSY (the disk refused a lock or
    /// a read): a definite failure, not a retry.
    BeginFailed,
    // Read by the simulator from a run's typed events (`fazt_sim::search::coverage`),
    // which record these states: the engine need not mark them.
    /// `COMMIT` failed after it may have reached the disk: the group's outcome is unknown.
    CommitUnconfirmed,
    /// The write queue refused a write up front: its budget could not cover the wait.
    WriteRefusedForBudget,
    /// An execution timed out and its VM was discarded, not returned to the pool.
    VmDiscardedAfterTimeout,
    /// The admission gate refused a request (slots busy or the app at its cap).
    AdmissionRefused,
    /// The server crashed while a group was applied and not yet committed (the
    /// simulator alone sees the crash).
    CrashBetweenApplyAndCommit,
}

impl Mark {
    /// Every mark, in declaration order.
    pub const ALL: [Mark; 11] = [
        Mark::BusyRetriedThenCommitted,
        Mark::BusyGaveUp,
        Mark::DeadlinePassedMidCommit,
        Mark::QueuedWriteCancelled,
        Mark::SavepointRolledBackInCommittedGroup,
        Mark::BeginFailed,
        Mark::CommitUnconfirmed,
        Mark::WriteRefusedForBudget,
        Mark::VmDiscardedAfterTimeout,
        Mark::AdmissionRefused,
        Mark::CrashBetweenApplyAndCommit,
    ];

    /// The mark's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mark::BusyRetriedThenCommitted => "busy-retried-then-committed",
            Mark::BusyGaveUp => "busy-gave-up",
            Mark::DeadlinePassedMidCommit => "deadline-passed-mid-commit",
            Mark::QueuedWriteCancelled => "queued-write-cancelled",
            Mark::SavepointRolledBackInCommittedGroup => "savepoint-rolled-back-in-committed-group",
            Mark::BeginFailed => "begin-failed",
            Mark::CommitUnconfirmed => "commit-unconfirmed",
            Mark::WriteRefusedForBudget => "write-refused-for-budget",
            Mark::VmDiscardedAfterTimeout => "vm-discarded-after-timeout",
            Mark::AdmissionRefused => "admission-refused",
            Mark::CrashBetweenApplyAndCommit => "crash-between-apply-and-commit",
        }
    }
}

#[cfg(feature = "failpoints")]
static HITS: [AtomicU64; Mark::ALL.len()] = [const { AtomicU64::new(0) }; Mark::ALL.len()];

/// Records that the run reached `mark`'s state.
#[inline]
pub fn hit(mark: Mark) {
    #[cfg(feature = "failpoints")]
    HITS[mark as usize].fetch_add(1, Ordering::Relaxed);
    #[cfg(not(feature = "failpoints"))]
    let _ = mark;
}

/// How often each mark was hit since the process started (all zero without the
/// `failpoints` feature). Process-wide: callers compare two readings.
pub fn hits() -> Vec<(Mark, u64)> {
    Mark::ALL
        .iter()
        .map(|&mark| {
            #[cfg(feature = "failpoints")]
            let n = HITS[mark as usize].load(Ordering::Relaxed);
            #[cfg(not(feature = "failpoints"))]
            let n = 0;
            (mark, n)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let names: std::collections::BTreeSet<_> = Mark::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Mark::ALL.len());
    }
}
