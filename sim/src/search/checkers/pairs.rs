//! Two-field updates: a `pair` update sets `value` and `tag` (`tag-` + value) in one
//! `$set`, so a document either has both from the same request or `tag` absent.
//!
//! Verifies, on the final database, every document of the `registers` collection of
//! both apps: its `tag`, when present, is `tag-` followed by a value some request sent,
//! and `value` is that same request's unless a later single-field update overwrote it.
//! Does not verify: which request's pair won (the register history does, for `value`).

use fazt_chaos::Violation;
use fazt_engine::storage::Db;

use crate::run::property::Evidence;
use crate::workload::Verb;

/// Prefix the app puts before the value in `tag`.
const TAG_PREFIX: &str = "tag-";

pub fn check(evidence: &Evidence) -> Vec<Violation> {
    let Ok(db) = Db::open(evidence.db) else {
        return Vec::new();
    };
    let pairs: Vec<&str> = evidence
        .answers
        .iter()
        .filter(|a| a.operation.verb == Verb::Pair)
        .map(|a| a.op.request.as_str())
        .collect();
    let rows: Vec<(String, String, Option<String>, Option<String>)> = db
        .conn()
        .prepare(
            "SELECT app_id, id, json_extract(data, '$.value'), json_extract(data, '$.tag') \
             FROM app_docs WHERE collection = 'registers' ORDER BY app_id, id",
        )
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?
                .collect()
        })
        .unwrap_or_default();
    rows.into_iter()
        .filter_map(|(app, id, value, tag)| {
            let tag = tag?;
            let from = tag.strip_prefix(TAG_PREFIX).filter(|request| pairs.contains(request));
            match from {
                Some(_) => None,
                None => Some(Violation {
                    invariant: "pair-torn",
                    detail: format!("document {id} of {app} has tag {tag:?} (value {value:?}), which no pair update wrote"),
                    involved: vec![format!("{app}/ds:{id}")],
                }),
            }
        })
        .collect()
}
