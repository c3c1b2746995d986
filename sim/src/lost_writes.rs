//! Acknowledged writes a run lost, judged by what the engine promised: under
//! `durability = normal` an acknowledgement survives a crash but not a power loss, so
//! a write erased by one is counted (cause [`LOST_AT_POWER_LOSS`]), not a violation;
//! under `full`, or with no power loss to explain it, a lost write is a violation.

use std::collections::{BTreeMap, BTreeSet};

use fazt_chaos::durability::acknowledged_writes_lost;
use fazt_chaos::{Action, Op, Outcome, Schedule, Violation};
use fazt_engine::storage::Durability;

/// The cause counted for an acknowledged write a power loss erased under `normal`.
pub const LOST_AT_POWER_LOSS: &str = "lost at power loss: not synced";

/// The error kind such a write is counted under.
pub const LOST: &str = "Lost";

/// What [`judge`] found.
pub struct Judged {
    /// The history to check for linearizability: writes the promise let a power loss
    /// erase count as outcome unknown.
    pub history: Vec<Op>,
    /// Requests of acknowledged writes lost as the promise allowed.
    pub allowed: BTreeSet<String>,
    pub violations: Vec<Violation>,
}

/// Judges `ops` against the registers' `final_state` after `schedule` ran under
/// `durability`.
pub fn judge(
    ops: &[Op],
    final_state: &BTreeMap<String, Option<String>>,
    schedule: &Schedule,
    durability: Durability,
) -> Judged {
    let power_losses: Vec<u64> = schedule
        .faults
        .iter()
        .filter(|f| matches!(f.action, Action::PowerLoss { .. }))
        .map(|f| f.at_ms * 1000)
        .collect();
    let mut allowed = BTreeSet::new();
    let mut violations = Vec::new();
    for op in acknowledged_writes_lost(ops, final_state) {
        // A power loss after it was sent may have erased it.
        let erased = power_losses.iter().any(|at| *at >= op.invoked_us);
        if erased && durability == Durability::Normal {
            allowed.insert(op.request.clone());
        } else {
            violations.push(Violation {
                invariant: "acknowledged-write-lost",
                detail: format!(
                    "{} was acknowledged at {} µs and is not in the final database{}",
                    op.request,
                    op.completed_us,
                    if erased {
                        " (a power loss came after it, under durability full)"
                    } else {
                        ""
                    }
                ),
                involved: vec![op.request.clone()],
            });
        }
    }
    // Under `normal`, any acknowledged write sent before a power loss may be erased by
    // it, not only a register's sure last (a later write of unknown outcome hides it
    // from `acknowledged_writes_lost`), and a register may go back past what a read saw
    // before it, which no serial order explains: before a power loss, writes are of
    // unknown outcome to linearizability and reads are not held to the final state.
    let before_power_loss = |op: &Op| {
        durability == Durability::Normal
            && op.outcome == Outcome::Ok
            && power_losses.iter().any(|at| *at >= op.invoked_us)
    };
    let history = ops
        .iter()
        .map(|op| {
            let mut op = op.clone();
            if allowed.contains(&op.request) || before_power_loss(&op) {
                op.outcome = Outcome::Unknown;
            }
            op
        })
        .collect();
    Judged {
        history,
        allowed,
        violations,
    }
}
