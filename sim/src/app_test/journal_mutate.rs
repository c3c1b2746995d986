//! The plans a journal's replay draws. Without `--mutate`, the journal as it came: each
//! request at its arrival time; the shrinker may drop requests. With `--mutate`, the
//! search also changes it, seeded: a request moved in time (so that neighbours swap
//! order), sent again at once (a client's retry), or sent together with the one before
//! it (a concurrent burst). Every mutation shrinks back to the journal's request.

use proptest::prelude::*;

use super::journal::Journal;
use super::workload::Plan;

/// A moved request moves by up to this many ms either way: a few requests' time (a
/// fixture request takes ~5 ms), so neighbours swap without the whole journal
/// shuffling.
pub const SHIFT_MS_MAX: u64 = 50;

/// Of every [`MUTATE_ONE_IN`] requests, about one is moved, one duplicated and one
/// joined to a burst: most of the journal stays as it came, so a failure found is
/// one production could meet.
pub const MUTATE_ONE_IN: u32 = 8;

/// Copies of one request sent at most, besides it.
pub const DUPLICATES_MAX: usize = 2;

/// What the search did to one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Edit {
    /// Sent at all (the shrinker drops requests by clearing it).
    keep: bool,
    /// Moved by this many ms (negative: earlier).
    shift_ms: i64,
    /// Copies sent at the same time.
    duplicates: usize,
    /// Sent when the request before it is (after that one's move).
    burst: bool,
}

/// The plans of `journal`: as it came, or mutated.
pub fn plans(journal: &Journal, mutate: bool) -> BoxedStrategy<Plan> {
    let edit = if mutate {
        let shift = SHIFT_MS_MAX as i64;
        let rare = |p: f64| proptest::bool::weighted(p);
        let p = 1.0 / f64::from(MUTATE_ONE_IN);
        (
            proptest::bool::weighted(1.0),
            prop_oneof![
                (MUTATE_ONE_IN - 1) => Just(0i64),
                1 => -shift..=shift,
            ],
            prop_oneof![
                (MUTATE_ONE_IN - 1) => Just(0usize),
                1 => 1..=DUPLICATES_MAX,
            ],
            rare(p),
        )
            .prop_map(|(keep, shift_ms, duplicates, burst)| Edit {
                keep,
                shift_ms,
                duplicates,
                burst,
            })
            .boxed()
    } else {
        proptest::bool::weighted(1.0)
            .prop_map(|keep| Edit {
                keep,
                ..Edit::default()
            })
            .boxed()
    };
    let journal = journal.clone();
    proptest::collection::vec(edit, journal.requests.len())
        .prop_map(move |edits| apply(&journal, &edits))
        .boxed()
}

/// The plan of `journal` under `edits` (one per request): one client per request sent.
fn apply(journal: &Journal, edits: &[Edit]) -> Plan {
    let mut plan = Vec::new();
    let mut previous_ms = 0;
    for (index, (request, edit)) in journal.requests.iter().zip(edits).enumerate() {
        let at_ms = if edit.burst && index > 0 {
            previous_ms
        } else {
            request.at_ms.saturating_add_signed(edit.shift_ms)
        };
        previous_ms = at_ms;
        let mut step = Journal::step(index, at_ms);
        if !edit.keep {
            step.template = None;
        }
        for _ in 0..=edit.duplicates {
            plan.push(vec![step.clone()]);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_test::journal::Replayable;
    use fazt_engine::server::JournalEntry;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    fn journal(arrivals: &[u64]) -> Journal {
        let requests = arrivals
            .iter()
            .map(|&at_ms| Replayable {
                source: format!("j:{at_ms}"),
                at_ms,
                entry: JournalEntry {
                    run: 1,
                    at_us: at_ms * 1000,
                    request_id: String::new(),
                    app: "a".into(),
                    method: "GET".into(),
                    path: "/api".into(),
                    headers: Vec::new(),
                    body: None,
                    body_base64: None,
                    body_truncated: false,
                    status: 200,
                },
                body: None,
            })
            .collect();
        Journal {
            path: "j".into(),
            requests,
            skipped: Vec::new(),
        }
    }

    fn arrivals(plan: &Plan) -> Vec<u64> {
        plan.iter().map(|steps| steps[0].think_ms).collect()
    }

    #[test]
    fn unmutated_plans_are_the_journal() {
        let journal = journal(&[0, 5, 5, 30]);
        let mut runner = TestRunner::deterministic();
        let plan = plans(&journal, false)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        assert_eq!(arrivals(&plan), [0, 5, 5, 30]);
        assert!(plan.iter().all(|steps| steps[0].template.is_some()));
    }

    #[test]
    fn mutations_are_seeded_and_shrink_back() {
        let arrivals_in: Vec<u64> = (0..64).map(|n| n * 10).collect();
        let journal = journal(&arrivals_in);
        let strategy = plans(&journal, true);
        let mut runner = TestRunner::deterministic();
        let mut tree = strategy.new_tree(&mut runner).unwrap();
        let mutated = tree.current();
        let again = strategy
            .new_tree(&mut TestRunner::deterministic())
            .unwrap()
            .current();
        assert_eq!(mutated, again, "the same seed, the same mutations");
        assert_ne!(arrivals(&mutated), arrivals_in, "64 requests, some mutated");
        // Simplified all the way: every mutation undone, every request dropped.
        while tree.simplify() {}
        let simplest = tree.current();
        assert_eq!(arrivals(&simplest), arrivals_in);
        assert!(simplest.iter().all(|steps| steps[0].template.is_none()));
    }
}
