//! Acknowledged writes that the final database does not hold.
//!
//! A write is checked when it is surely its register's last: acknowledged, and every
//! other write to the register that may have taken effect was acknowledged before it
//! was sent. Its value (or its absence, for a delete) must then be the register's final
//! state. Writes that a power loss may have erased are named by the caller, which knows
//! the durability setting ([`crate::Outcome`] stays as the client saw it).

use std::collections::BTreeMap;

use crate::history::{Op, OpKind, Outcome};

/// Whether `op` changes its register (`Some(value)`, `None` for a delete).
fn effect(op: &Op) -> Option<Option<&str>> {
    match &op.kind {
        OpKind::Read(_) | OpKind::Update { matched: false, .. } => None,
        OpKind::Write(value) => Some(value.as_deref()),
        OpKind::Insert(value) | OpKind::Update { value, .. } => Some(Some(value)),
    }
}

/// The acknowledged writes, each its register's sure last, missing from `final_state`
/// (register → value). Registers absent from `final_state` are not checked.
pub fn acknowledged_writes_lost<'a>(
    ops: &'a [Op],
    final_state: &BTreeMap<String, Option<String>>,
) -> Vec<&'a Op> {
    let writes: Vec<&Op> = ops
        .iter()
        .filter(|op| op.outcome != Outcome::Failed && effect(op).is_some())
        .collect();
    writes
        .iter()
        .filter(|w| w.outcome == Outcome::Ok)
        .filter(|w| {
            writes.iter().all(|other| {
                std::ptr::eq(*other, **w)
                    || other.register != w.register
                    || (other.outcome == Outcome::Ok && other.completed_us < w.invoked_us)
            })
        })
        .filter(|w| {
            final_state
                .get(&w.register)
                .is_some_and(|value| Some(value.as_deref()) != effect(w))
        })
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(request: &str, register: &str, at: u64, outcome: Outcome) -> Op {
        Op {
            request: request.into(),
            client: "c".into(),
            register: register.into(),
            kind: OpKind::Write(Some(request.into())),
            invoked_us: at,
            completed_us: at + 1,
            outcome,
        }
    }

    #[test]
    fn the_last_acknowledged_write_must_be_the_final_value() {
        let ops = [
            write("w1", "kv:a", 0, Outcome::Ok),
            write("w2", "kv:a", 10, Outcome::Ok),
            write("w3", "kv:b", 0, Outcome::Ok),
        ];
        let state = BTreeMap::from([
            ("kv:a".to_owned(), Some("w1".to_owned())),
            ("kv:b".to_owned(), Some("w3".to_owned())),
        ]);
        let lost: Vec<&str> = acknowledged_writes_lost(&ops, &state)
            .iter()
            .map(|op| op.request.as_str())
            .collect();
        assert_eq!(lost, ["w2"]);
    }

    #[test]
    fn a_write_that_may_follow_leaves_the_register_unchecked() {
        let ops = [
            write("w1", "kv:a", 0, Outcome::Ok),
            write("w2", "kv:a", 0, Outcome::Unknown),
        ];
        let state = BTreeMap::from([("kv:a".to_owned(), None)]);
        assert!(acknowledged_writes_lost(&ops, &state).is_empty());
    }
}
