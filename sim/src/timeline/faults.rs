//! The faults' tracks: the schedule's actions (a timed one as a span of its length,
//! a crash or a power loss as an instant and the server's time down), their ends, and
//! the engine's failpoints as they fired.

use fazt_chaos::Action;
use fazt_engine::events::chrome::Timeline;
use serde_json::json;

use crate::trace::FaultEnd;

/// The process the fault tracks belong to.
const FAULTS: &str = "faults";

/// The schedule applied `action` at `at`.
pub fn action(timeline: &mut Timeline, at: u64, action: &Action) {
    let track = timeline.track(FAULTS, "schedule");
    let name = action.describe();
    match action {
        Action::Hold { ms }
        | Action::Partition { ms }
        | Action::Latency { for_ms: ms, .. }
        | Action::LockHeld { ms } => {
            timeline.span(track, name, at, at + ms * 1000, json!({}));
        }
        Action::Crash { down_ms } | Action::PowerLoss { down_ms } => {
            timeline.instant(track, name, at, json!({}));
            let down = timeline.track(FAULTS, "server down");
            timeline.span(down, "down", at, at + down_ms * 1000, json!({}));
        }
        Action::Failpoint { .. } | Action::Disk { .. } => {
            timeline.instant(track, name, at, json!({}));
        }
    }
}

/// A timed fault ended at `at`.
pub fn ended(timeline: &mut Timeline, at: u64, end: FaultEnd) {
    let track = timeline.track(FAULTS, "schedule");
    let name = match end {
        FaultEnd::Released => "released",
        FaultEnd::Repaired => "repaired",
        FaultEnd::LatencyRestored => "latency restored",
        FaultEnd::ServerRestarted => "server restarted",
    };
    timeline.instant(track, name, at, json!({}));
}

/// The engine's failpoint `point` fired at `at` (with its `return(n)` argument).
pub fn failpoint(timeline: &mut Timeline, at: u64, point: &str, n: Option<u64>) {
    let track = timeline.track(FAULTS, "failpoints");
    timeline.instant(track, point, at, json!({ "n": n }));
}
