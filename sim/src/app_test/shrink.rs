//! Shrinking a failing run: proptest's value tree over the plan and the schedule
//! together drops requests, shortens think times and removes or shrinks faults, and a
//! step is kept when the run still breaks one of the invariants the original broke.

use fazt_chaos::Schedule;
use proptest::strategy::ValueTree;

use super::workload::Plan;
use super::{broken, App};
use crate::profile::Profile;

/// Simulated runs one shrink may take at most: each is a whole run of the app, and a
/// plan of a few dozen requests and a few faults reaches its minimum in far fewer.
pub const SHRINK_RUNS_MAX: u32 = 200;

/// The smallest case `tree` reaches that still breaks one of `broke` under `profile`
/// and `seed`; `tree`'s current value must be the failing case.
pub fn shrink(
    app: &App,
    profile: &Profile,
    seed: u64,
    tree: &mut dyn ValueTree<Value = (Plan, Schedule)>,
    broke: &[String],
) -> (Plan, Schedule) {
    let mut smallest = tree.current();
    let still_fails = |(plan, schedule): &(Plan, Schedule)| {
        let (_, verdicts) = app.judge(profile, seed, plan, schedule);
        broken(&verdicts).iter().any(|name| broke.contains(name))
    };
    if !tree.simplify() {
        return smallest;
    }
    for _ in 0..SHRINK_RUNS_MAX {
        let candidate = tree.current();
        if still_fails(&candidate) {
            smallest = candidate;
            if !tree.simplify() {
                break;
            }
        } else if !tree.complicate() {
            break;
        }
    }
    smallest
}
