//! Invariants `value-from-nowhere`, `failed-write-landed` and `linearizable`: the
//! clients' history against the final database.
//!
//! What it verifies, per register the history touched: no value is present (seen by a client
//! or in the final file) that no request wrote (`value-from-nowhere`); no value of a
//! request reported as definitely failed is present (`failed-write-landed`); the
//! register's history is linearizable (`linearizable`, see [`crate::linearizable`]),
//! which makes every acknowledged write present and visible until overwritten.
//!
//! What it does not verify: registers no operation touched; values across registers (no
//! multi-key transactions are checked); durability across a power loss beyond what the
//! final file shows; histories whose linearizability search ran out of budget (counted
//! as `undecided`, not as violations).

use std::collections::BTreeMap;

use super::Violation;
use crate::history::{Op, Outcome};
use crate::linearizable::{self, Verdict};

/// What the history checks found, violations aside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistorySummary {
    pub registers: u64,
    /// Registers whose linearizability search ran out of budget.
    pub undecided: u64,
}

/// Checks the clients' history against the final state of every register it touched
/// (`final_state[register]`, `None` when absent): nothing lands for a definitely
/// failed request; every value seen was written by some request; each register's
/// history is linearizable, which for a sequential client means it matches the
/// in-memory model exactly, and makes every acknowledged write present and visible
/// until overwritten.
pub fn check_history(
    ops: &[Op],
    final_state: &BTreeMap<String, Option<String>>,
) -> (Vec<Violation>, HistorySummary) {
    let mut violations = Vec::new();
    let mut by_register: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        by_register
            .entry(op.register.as_str())
            .or_default()
            .push(op);
    }
    let mut summary = HistorySummary::default();
    for (register, ops) in &by_register {
        summary.registers += 1;
        let last = final_state.get(*register).cloned().flatten();
        let mut seen: Vec<(String, Option<&str>)> = ops
            .iter()
            .filter(|op| op.outcome == Outcome::Ok)
            .filter_map(|op| Some((op.request.clone(), op.observed()?)))
            .collect();
        seen.push(("the final database".to_owned(), last.as_deref()));
        for (observer, value) in &seen {
            let Some(value) = value else { continue };
            let writers: Vec<&&Op> = ops
                .iter()
                .filter(|op| op.written() == Some(value))
                .collect();
            if writers.is_empty() {
                violations.push(Violation {
                    invariant: "value-from-nowhere",
                    detail: format!(
                        "{register} holds {value:?}, which no request wrote (seen by {observer})"
                    ),
                    involved: vec![observer.clone()],
                });
            } else if writers.iter().all(|op| op.outcome == Outcome::Failed) {
                violations.push(Violation {
                    invariant: "failed-write-landed",
                    detail: format!(
                        "{register}: the value of a request reported as definitely failed is present (seen by {observer})"
                    ),
                    involved: writers.iter().map(|op| op.request.clone()).chain([observer.clone()]).collect(),
                });
            }
        }
        match linearizable::check(ops, None, last.as_deref()) {
            Verdict::Linearizable => {}
            Verdict::Undecided => summary.undecided += 1,
            Verdict::Violation => {
                let acknowledged: Vec<String> = ops
                    .iter()
                    .filter(|op| op.outcome == Outcome::Ok)
                    .map(|op| op.request.clone())
                    .collect();
                violations.push(Violation {
                    invariant: "linearizable",
                    detail: format!(
                        "{register}: no serial order consistent with real time explains the answers (final value {last:?})"
                    ),
                    involved: acknowledged,
                });
            }
        }
    }
    (violations, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpKind;

    fn write(request: &str, value: &str, at: u64, outcome: Outcome) -> Op {
        Op {
            request: request.into(),
            client: "c".into(),
            register: "kv:k".into(),
            kind: OpKind::Write(Some(value.into())),
            invoked_us: at,
            completed_us: at + 1,
            outcome,
        }
    }

    #[test]
    fn a_ghost_write_is_named() {
        let ops = [
            write("r1", "a", 0, Outcome::Ok),
            write("r2", "b", 10, Outcome::Failed),
        ];
        let state = BTreeMap::from([("kv:k".to_owned(), Some("b".to_owned()))]);
        let (violations, _) = check_history(&ops, &state);
        let ghost = violations
            .iter()
            .find(|v| v.invariant == "failed-write-landed")
            .unwrap();
        assert!(ghost.involved.contains(&"r2".to_owned()), "{ghost}");
        assert!(violations.iter().any(|v| v.invariant == "linearizable"));
    }

    #[test]
    fn a_lost_acknowledged_write_breaks_linearizability() {
        let ops = [write("r1", "a", 0, Outcome::Ok)];
        let state = BTreeMap::from([("kv:k".to_owned(), None)]);
        let (violations, _) = check_history(&ops, &state);
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].invariant, "linearizable");
        let state = BTreeMap::from([("kv:k".to_owned(), Some("a".to_owned()))]);
        assert!(check_history(&ops, &state).0.is_empty());
    }
}
