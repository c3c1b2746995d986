//! The engine's coverage marks ([`fazt_engine::coverage`]) as the search reports them:
//! which rare states a search reached, and how often.

use std::collections::BTreeMap;

use fazt_engine::coverage::{self, Mark};

use super::events;
use crate::trace::Trace;

/// The marks the CI search (`cargo test -p fazt-sim --test properties`) must hit: a
/// search that stops reaching one of these states stops testing it. Admission refusals
/// are counted, not required: the hardened gate refuses only past 12 requests of one
/// app at once (16 VMs less a quarter), a crowd the CI search does not build.
pub const REQUIRED: &[Mark] = &[
    Mark::BusyRetriedThenCommitted,
    Mark::BusyGaveUp,
    Mark::DeadlinePassedMidCommit,
    Mark::CommitUnconfirmed,
    Mark::QueuedWriteCancelled,
    Mark::SavepointRolledBackInCommittedGroup,
    Mark::BeginFailed,
    Mark::WriteRefusedForBudget,
    Mark::VmDiscardedAfterTimeout,
    Mark::CrashBetweenApplyAndCommit,
];

/// Marks the states `trace`'s typed events record ([`events::marks`]); the engine
/// marks only the states no event records.
pub fn mark_from_trace(trace: &Trace) {
    events::marks(trace).into_iter().for_each(coverage::hit);
}

/// A reading of every mark's count, to subtract from a later one.
#[derive(Clone, Debug, Default)]
pub struct Hits(BTreeMap<Mark, u64>);

impl Hits {
    /// The counts now (process-wide).
    pub fn now() -> Hits {
        Hits(coverage::hits().into_iter().collect())
    }

    /// The hits since `earlier`, by mark name.
    pub fn since(&self, earlier: &Hits) -> BTreeMap<&'static str, u64> {
        self.0
            .iter()
            .map(|(mark, n)| (mark.name(), n - earlier.0.get(mark).copied().unwrap_or(0)))
            .collect()
    }
}

/// The required marks with no hit in `hits`.
pub fn missing(hits: &BTreeMap<&'static str, u64>) -> Vec<&'static str> {
    REQUIRED
        .iter()
        .map(|mark| mark.name())
        .filter(|name| hits.get(name).copied().unwrap_or(0) == 0)
        .collect()
}

/// One line per mark: `  mark <name>: <hits>`.
pub fn render(hits: &BTreeMap<&'static str, u64>) -> String {
    hits.iter()
        .map(|(name, n)| format!("  mark {name}: {n}\n"))
        .collect()
}
