//! The invariants every run is checked against (DESIGN.md, Simulator), from what the
//! clients observed, the engine's trace and the final database file. Each violation
//! names the requests (or executions) involved.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use fazt_engine::events::Event;
use fazt_engine::runtime::STALE_INTERRUPT;

use crate::history::{Op, Outcome};
use crate::linearizable::{self, Verdict};

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant (`failed-write-landed`, `linearizable`, `vm-leaked`, ...).
    pub invariant: &'static str,
    pub detail: String,
    /// The requests or executions involved.
    pub involved: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)?;
        if !self.involved.is_empty() {
            write!(f, " [{}]", self.involved.join(", "))?;
        }
        Ok(())
    }
}

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

/// Checks the VM pool from the engine's trace events of one server lifetime: no
/// execution ran on a poisoned VM (a stale interrupt), and, when the lifetime ended
/// cleanly (`complete`), every VM checked out was returned.
pub fn check_vm_pool<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    complete: bool,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut out: BTreeMap<u64, u64> = BTreeMap::new();
    for event in events {
        match event {
            Event::VmCheckout { execution, vm } => {
                out.insert(*execution, *vm);
            }
            Event::VmReturn { execution, .. } => {
                out.remove(execution);
            }
            Event::ExecutionFailed {
                execution,
                vm,
                cause: Some(cause),
                ..
            } if cause.contains(STALE_INTERRUPT) => {
                violations.push(Violation {
                    invariant: "poisoned-vm",
                    detail: format!(
                        "execution {execution} failed at once on VM {vm}, interrupted by an earlier execution"
                    ),
                    involved: vec![format!("execution {execution}")],
                });
            }
            _ => {}
        }
    }
    if complete {
        for (execution, vm) in out {
            violations.push(Violation {
                invariant: "vm-leaked",
                detail: format!(
                    "VM {vm} was checked out by execution {execution} and never returned"
                ),
                involved: vec![format!("execution {execution}")],
            });
        }
    }
    violations
}

/// `PRAGMA integrity_check` on the database file (after a crash, say).
pub fn check_integrity(path: &Path) -> Vec<Violation> {
    let result = fazt_engine::storage::Db::open(path).and_then(|db| {
        let rows: Vec<String> = db
            .conn()
            .prepare("PRAGMA integrity_check")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    });
    match result {
        Ok(rows) if rows == ["ok"] => Vec::new(),
        Ok(rows) => vec![Violation {
            invariant: "integrity",
            detail: format!("PRAGMA integrity_check: {}", rows.join("; ")),
            involved: Vec::new(),
        }],
        Err(error) => vec![Violation {
            invariant: "integrity",
            detail: format!("the database cannot be opened: {error}"),
            involved: Vec::new(),
        }],
    }
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

    #[test]
    fn leaked_and_poisoned_vms_are_named() {
        let events = [
            Event::VmCheckout {
                execution: 1,
                vm: 0,
            },
            Event::VmCheckout {
                execution: 2,
                vm: 1,
            },
            Event::VmReturn {
                execution: 2,
                vm: 1,
                discarded: false,
            },
            Event::ExecutionFailed {
                execution: 3,
                vm: 1,
                kind: "TimeoutError".into(),
                cause: Some("stale-interrupt from execution 2".into()),
                interrupted: false,
            },
        ];
        let violations = check_vm_pool(&events, true);
        let kinds: Vec<&str> = violations.iter().map(|v| v.invariant).collect();
        assert_eq!(kinds, ["poisoned-vm", "vm-leaked"]);
        assert_eq!(
            check_vm_pool(&events, false).len(),
            1,
            "a crash may leave VMs out"
        );
    }
}
