//! Linearizability of one register's history: is there a serial order of its
//! operations, consistent with real time (an operation that completed before another
//! was invoked comes first), in which every acknowledged operation takes effect and
//! every read sees the value before it? Operations whose outcome is unknown may take
//! effect at any time after their invocation, or never; definitely failed ones never do.
//!
//! A depth-first search over the operations that may come next, remembering states
//! (operations left, current value) already found to be dead ends (Wing & Gong, with
//! Lowe's memoisation). Registers are independent, so each is checked alone.

use std::collections::BTreeSet;

use crate::history::{Op, OpKind, Outcome};

/// States explored per register before giving up.
pub const SEARCH_BUDGET: usize = 200_000;

/// What the search found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// No serial order explains the history.
    Violation,
    /// The search ran out of budget.
    Undecided,
}

/// One operation as the search sees it.
struct Step<'a> {
    kind: &'a OpKind,
    invoked: u64,
    /// `u64::MAX` for optional (outcome-unknown) operations.
    completed: u64,
    required: bool,
}

/// Checks one register: `ops` are its operations (definitely failed ones and reads
/// whose answer was not seen are ignored), `initial` its value before the run,
/// `last` its value after (checked as a read that follows everything).
pub fn check(ops: &[&Op], initial: Option<&str>, last: Option<&str>) -> Verdict {
    let final_read = OpKind::Read(last.map(str::to_owned));
    let mut steps: Vec<Step> = ops
        .iter()
        .filter(|op| match op.outcome {
            Outcome::Failed => false,
            Outcome::Unknown => op.observed().is_none(),
            Outcome::Ok => true,
        })
        .map(|op| Step {
            kind: &op.kind,
            invoked: op.invoked_us,
            completed: match op.outcome {
                Outcome::Ok => op.completed_us,
                _ => u64::MAX,
            },
            required: op.outcome == Outcome::Ok,
        })
        .collect();
    steps.push(Step {
        kind: &final_read,
        invoked: u64::MAX - 1,
        completed: u64::MAX - 1,
        required: true,
    });
    steps.sort_by_key(|step| (step.invoked, step.completed));
    let mut search = Search {
        steps: &steps,
        remaining: vec![true; steps.len()],
        dead: BTreeSet::new(),
        explored: 0,
    };
    match search.run(initial) {
        Some(true) => Verdict::Linearizable,
        Some(false) => Verdict::Violation,
        None => Verdict::Undecided,
    }
}

struct Search<'a> {
    steps: &'a [Step<'a>],
    remaining: Vec<bool>,
    dead: BTreeSet<(Vec<bool>, Option<String>)>,
    explored: usize,
}

impl Search<'_> {
    /// `Some(found)`, or `None` past the budget.
    fn run(&mut self, value: Option<&str>) -> Option<bool> {
        let horizon = self
            .steps
            .iter()
            .zip(&self.remaining)
            .filter(|(step, left)| **left && step.required)
            .map(|(step, _)| step.completed)
            .min();
        let Some(horizon) = horizon else {
            return Some(true);
        };
        let state = (self.remaining.clone(), value.map(str::to_owned));
        if self.dead.contains(&state) {
            return Some(false);
        }
        self.explored += 1;
        if self.explored > SEARCH_BUDGET {
            return None;
        }
        for index in 0..self.steps.len() {
            let step = &self.steps[index];
            if !self.remaining[index] || step.invoked > horizon {
                continue;
            }
            let Some(next) = apply(step.kind, value) else {
                continue;
            };
            self.remaining[index] = false;
            let found = self.run(next);
            self.remaining[index] = true;
            match found {
                Some(false) => {}
                other => return other,
            }
        }
        self.dead.insert(state);
        Some(false)
    }
}

/// The value after `kind` runs on `value`, or `None` when it could not have run then.
fn apply<'a>(kind: &'a OpKind, value: Option<&'a str>) -> Option<Option<&'a str>> {
    match kind {
        OpKind::Read(seen) => (seen.as_deref() == value).then_some(value),
        OpKind::Write(next) => Some(next.as_deref()),
        OpKind::Insert(next) => value.is_none().then_some(Some(next.as_str())),
        OpKind::Update {
            value: next,
            matched: true,
        } => value.is_some().then_some(Some(next.as_str())),
        OpKind::Update { matched: false, .. } => value.is_none().then_some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, invoked: u64, completed: u64, outcome: Outcome) -> Op {
        Op {
            request: format!("r{invoked}"),
            client: "c".into(),
            register: "kv:k".into(),
            kind,
            invoked_us: invoked,
            completed_us: completed,
            outcome,
        }
    }

    fn write(value: &str, invoked: u64, completed: u64, outcome: Outcome) -> Op {
        op(
            OpKind::Write(Some(value.into())),
            invoked,
            completed,
            outcome,
        )
    }

    fn read(value: Option<&str>, invoked: u64, completed: u64) -> Op {
        op(
            OpKind::Read(value.map(Into::into)),
            invoked,
            completed,
            Outcome::Ok,
        )
    }

    #[test]
    fn sequential_histories_must_match_the_model_exactly() {
        let ops = [
            write("a", 0, 1, Outcome::Ok),
            read(Some("a"), 2, 3),
            write("b", 4, 5, Outcome::Ok),
        ];
        let refs: Vec<&Op> = ops.iter().collect();
        assert_eq!(check(&refs, None, Some("b")), Verdict::Linearizable);
        assert_eq!(
            check(&refs, None, Some("a")),
            Verdict::Violation,
            "an acknowledged write is lost"
        );
        let stale = [write("a", 0, 1, Outcome::Ok), read(None, 2, 3)];
        let refs: Vec<&Op> = stale.iter().collect();
        assert_eq!(
            check(&refs, None, Some("a")),
            Verdict::Violation,
            "a stale read"
        );
    }

    #[test]
    fn concurrent_operations_may_take_effect_in_either_order() {
        let ops = [
            write("a", 0, 10, Outcome::Ok),
            write("b", 1, 9, Outcome::Ok),
            read(Some("a"), 2, 8),
        ];
        let refs: Vec<&Op> = ops.iter().collect();
        assert_eq!(check(&refs, None, Some("a")), Verdict::Linearizable);
        assert_eq!(check(&refs, None, Some("b")), Verdict::Linearizable);
        let flip_flop = [
            write("a", 0, 10, Outcome::Ok),
            write("b", 1, 9, Outcome::Ok),
            read(Some("b"), 2, 3),
            read(Some("a"), 4, 5),
            read(Some("b"), 6, 7),
        ];
        let refs: Vec<&Op> = flip_flop.iter().collect();
        assert_eq!(
            check(&refs, None, Some("b")),
            Verdict::Violation,
            "each write lands once"
        );
    }

    #[test]
    fn unknown_writes_may_land_late_or_never_and_failed_ones_never() {
        let unknown = [
            write("a", 0, 1, Outcome::Ok),
            write("b", 2, 3, Outcome::Unknown),
            read(Some("a"), 4, 5),
        ];
        let refs: Vec<&Op> = unknown.iter().collect();
        assert_eq!(
            check(&refs, None, Some("a")),
            Verdict::Linearizable,
            "never landed"
        );
        assert_eq!(
            check(&refs, None, Some("b")),
            Verdict::Linearizable,
            "landed after the read"
        );
        let failed = [
            write("a", 0, 1, Outcome::Ok),
            write("b", 2, 3, Outcome::Failed),
        ];
        let refs: Vec<&Op> = failed.iter().collect();
        assert_eq!(check(&refs, None, Some("b")), Verdict::Violation);
    }

    #[test]
    fn inserts_need_an_absent_register_and_updates_a_present_one() {
        let ops = [
            op(OpKind::Insert("a".into()), 0, 1, Outcome::Ok),
            op(OpKind::Insert("b".into()), 2, 3, Outcome::Ok),
        ];
        let refs: Vec<&Op> = ops.iter().collect();
        assert_eq!(
            check(&refs, None, Some("b")),
            Verdict::Violation,
            "second insert over a present value"
        );
        let ops = [op(
            OpKind::Update {
                value: "x".into(),
                matched: true,
            },
            0,
            1,
            Outcome::Ok,
        )];
        let refs: Vec<&Op> = ops.iter().collect();
        assert_eq!(
            check(&refs, None, Some("x")),
            Verdict::Violation,
            "update of an absent value"
        );
        assert_eq!(check(&refs, Some("w"), Some("x")), Verdict::Linearizable);
    }
}
