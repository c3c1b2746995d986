//! The ledger: a multi-document update that fails partway leaves nothing behind. A
//! bump ($inc of `n` and $set of `last` on every entry of a group) fails on an entry
//! whose `n` is not a number, after updating the entries before it; the engine must
//! roll those back (the write's savepoint) and tell the client it definitely failed.
//!
//! Verifies, on the final database: no ledger entry's `last` names a bump its client
//! was told definitely failed. Does not verify: that an acknowledged bump reached every
//! entry of its group (entries enlisted concurrently may or may not be among them).

use std::collections::BTreeSet;

use fazt_chaos::{Outcome, Violation};
use fazt_engine::storage::Db;

use crate::run::property::Evidence;
use crate::workload::Verb;

pub fn check(evidence: &Evidence) -> Vec<Violation> {
    let failed: BTreeSet<&str> = evidence
        .answers
        .iter()
        .filter(|a| a.operation.verb == Verb::Bump && a.op.outcome == Outcome::Failed)
        .map(|a| a.op.request.as_str())
        .collect();
    if failed.is_empty() {
        return Vec::new();
    }
    let Ok(db) = Db::open(evidence.db) else {
        return Vec::new();
    };
    let lasts: Vec<(String, String, String)> = db
        .conn()
        .prepare(
            "SELECT app_id, id, json_extract(data, '$.last') FROM app_docs \
             WHERE collection = 'ledger' AND json_extract(data, '$.last') IS NOT NULL ORDER BY seq",
        )
        .and_then(|mut s| {
            s.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect()
        })
        .unwrap_or_default();
    lasts
        .into_iter()
        .filter(|(_, _, last)| failed.contains(last.as_str()))
        .map(|(app, id, last)| Violation {
            invariant: "failed-write-landed",
            detail: format!("ledger entry {id} of {app} was bumped by {last}, which was told it definitely failed"),
            involved: vec![last],
        })
        .collect()
}
