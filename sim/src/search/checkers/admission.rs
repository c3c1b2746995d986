//! Admission by the estimate: the write queue admits a write when, by its own estimate,
//! the write can be committed within the caller's remaining budget, and refuses it
//! otherwise; and it commits at most `batch_max` writes in one group.
//!
//! The rule (hardened's `QueueAdmission::Estimate`), recomputed here from the trace
//! alone: a write needs the running group's remainder, estimated as the time that group
//! has run so far, plus the estimate of one group's time for each group ahead of it and
//! its own (`waiting / batch_max + 1` groups, `waiting` the writes queued ahead of it);
//! the estimate is the exponentially weighted moving average, weight 1/8, of the
//! groups' times from start to commit (the first time taken as it is), each read from
//! its `GroupStarted` and `GroupCommitted` (or `CommitUnconfirmed`) events.
//!
//! Verifies, per server lifetime: no group started with more than `batch_max` writes
//! (`group-over-batch-max`); and, while the trace gives every group's time
//! ([`events::queue_steps`]), no write was admitted that the rule says could not finish
//! within the most budget it could have left (its execution's VM checkout plus the
//! execution budget: `admitted-past-estimate`), and none was refused that the rule
//! says could, with the remaining budget the refusal recorded
//! (`refused-within-estimate`). Times in the trace may be a timer tick off the
//! engine's, so each comparison allows a tick per figure it sums. Does not verify: the
//! rule after the trace stops giving every group's time (a storage fault other than a
//! slow statement, SQLITE_BUSY, a disk fault (in this lifetime or, armed, an earlier
//! one), a write cancelled in the queue: see [`events::QueueStep::Lost`]), writes of no execution (background writes, which have
//! no deadline), that the estimate predicts well (only that the engine applies its
//! rule), nor other admission rules (a profile with another, or no queue, is not
//! judged: [`Scale::estimate_batch_max`]).

use fazt_chaos::Violation;

use crate::env::TIMER_RESOLUTION;
use crate::run::property::Evidence;
use crate::search::events::{self, QueueStep};
use crate::search::faults::Scale;

/// The estimate's weight of a new group's time, as a divisor.
const WEIGHT_DIVISOR: u64 = 8;

/// The rule's state: the estimate and the group in progress.
#[derive(Debug, Default)]
struct Rule {
    /// The average group time (µs); 0 before the first group.
    estimate_us: u64,
    /// When the group in progress started.
    running_since: Option<u64>,
}

impl Rule {
    fn observe(&mut self, took_us: u64) {
        let old = self.estimate_us;
        self.estimate_us = match old {
            0 => took_us,
            _ => old - old / WEIGHT_DIVISOR + took_us / WEIGHT_DIVISOR,
        };
    }

    /// What a write with `waiting` writes ahead of it needs at `at_us` (µs), and the
    /// allowance for the trace's timing (a tick per figure summed).
    fn needed(&self, at_us: u64, waiting: usize, batch_max: usize) -> (u64, u64) {
        let tick_us = u64::try_from(TIMER_RESOLUTION.as_micros()).unwrap_or(u64::MAX);
        let groups = (waiting / batch_max + 1) as u64;
        let running = self
            .running_since
            .map_or(0, |since| at_us.saturating_sub(since));
        let needed = running.saturating_add(self.estimate_us.saturating_mul(groups));
        (needed, 2 * tick_us * (groups + 1))
    }
}

pub fn check(scale: &Scale, evidence: &Evidence) -> Vec<Violation> {
    let Some(batch_max) = scale.estimate_batch_max else {
        return Vec::new();
    };
    let mut violations: Vec<Violation> = events::groups_started(evidence.trace)
        .into_iter()
        .filter(|&writes| writes > batch_max)
        .map(|writes| Violation {
            invariant: "group-over-batch-max",
            detail: format!("a group started with {writes} writes, over batch_max {batch_max}"),
            involved: Vec::new(),
        })
        .collect();
    let budget_us = scale.execution_ms * 1000;
    // A disk fault stays armed across a crash until operations consume it, and fails
    // them with no event of its own: a group it fails in a later lifetime ends unseen.
    // So the rule is judged up to the first disk fault only (the release search's
    // seventh finding: a group failed by a disk full armed before the crash taken for
    // one still running 18 s later).
    let lifetimes = events::lifetimes(evidence.trace);
    let disk_faulted = lifetimes
        .iter()
        .position(|lifetime| events::disk_faulted(lifetime));
    for lifetime in &lifetimes[..disk_faulted.map_or(lifetimes.len(), |at| at + 1)] {
        let checkouts = events::checkouts(lifetime);
        let mut rule = Rule::default();
        for step in events::queue_steps(lifetime) {
            match step {
                QueueStep::Started { at_us, .. } => rule.running_since = Some(at_us),
                QueueStep::Ended { took_us } => {
                    rule.observe(took_us);
                    rule.running_since = None;
                }
                QueueStep::Admitted {
                    at_us,
                    execution,
                    waiting,
                } => {
                    let Some(&checkout_us) = checkouts.get(&execution) else {
                        continue;
                    };
                    let remaining_max = (checkout_us + budget_us).saturating_sub(at_us);
                    let (needed, slack) = rule.needed(at_us, waiting, batch_max);
                    if needed > remaining_max + slack {
                        violations.push(Violation {
                            invariant: "admitted-past-estimate",
                            detail: format!(
                                "execution {execution}'s write was admitted behind {waiting} writes needing {} ms by the estimate, with at most {} ms of its budget left",
                                needed / 1000,
                                remaining_max / 1000
                            ),
                            involved: Vec::new(),
                        });
                    }
                }
                QueueStep::Refused {
                    at_us,
                    waiting,
                    remaining_us,
                    needed_us,
                } => {
                    let (needed, slack) = rule.needed(at_us, waiting, batch_max);
                    if remaining_us >= needed + slack {
                        violations.push(Violation {
                            invariant: "refused-within-estimate",
                            detail: format!(
                                "a write was refused behind {waiting} writes with {} ms of its budget left, needing {} ms by the estimate (the engine said {} ms)",
                                remaining_us / 1000,
                                needed / 1000,
                                needed_us / 1000
                            ),
                            involved: Vec::new(),
                        });
                    }
                }
                QueueStep::Lost => break,
            }
        }
    }
    violations
}
