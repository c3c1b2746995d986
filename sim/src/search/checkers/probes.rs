//! Probes of the storage API's rarer parts: the probes app (`fixtures/search-apps/probes`)
//! runs a fixed sequence on documents of its own and answers what the engine did; this
//! model says what it must have done.
//!
//! Verifies, for every probe answered with a success: `$unset` removes the field and
//! keeps the others; `$in`/`$nin` and the range operators (`$gt`, `$gte`, `$lt`,
//! `$lte`) match exactly the documents they should; a query binding as many values as the
//! engine's limit runs, one binding one more is refused as `InvalidQuery`, and an array compared
//! whole (`$eq`) binds one value, however long; the system
//! fields (`_createdAt`, `_updatedAt`, `id`) are queried as such; `session`
//! conditions match the documents' own `session`, whatever its type (its indexed column
//! holds plain strings only); a query with as many conditions as
//! the engine's limit runs, one with one more is refused as `InvalidQuery`; a
//! client-chosen field name with `'`, `%` or `_`, or one that is no identifier and must
//! be quoted in the JSON path (`first-name`, `a b`, `1a`, `a$b`, `a[0]`: unquoted,
//! `a[0]` would address an array element), is stored and queried literally, one
//! with `"` or a control character, an empty segment (`a..b`) or a segment longer
//! than the engine's limit is refused as `InvalidQuery` (the engine's field paths
//! exclude them); and no probe fails as a caller's mistake. Does not verify: probes that
//! failed otherwise (a fault may fail them),
//! nor these operations under concurrent writes to the same documents (each probe's
//! documents are its own).

use fazt_chaos::{Outcome, Violation};
use serde_json::{json, Value};

use super::failed_with;
use crate::run::property::Evidence;
use crate::workload::Verb;

/// The probes the app knows, by the name the workload sends.
pub const KINDS: &[&str] = &[
    "unset", "in", "range", "values", "system", "session", "many", "fields",
];

/// The longest segment of a field path the engine takes, in bytes: the engine's
/// `FIELD_SEGMENT_MAX` (`engine/src/storage/query.rs`, private to it); the probes app
/// sends a segment one byte longer.
const FIELD_SEGMENT_MAX: usize = 64;

/// The errors the engine answers a caller's mistake with (never a fault's).
const CALLER_MISTAKES: &[&str] = &["InvalidQuery", "InvalidArgument"];

/// What the engine refuses a malformed query with.
fn refused() -> Value {
    json!({ "refused": "InvalidQuery" })
}

/// The answer a correct engine gives to probe `kind`.
pub fn expected(kind: &str) -> Value {
    match kind {
        "unset" => json!({ "keys": ["keep"] }),
        "in" => json!({ "in": [1, 3], "nin": [0, 2, 4] }),
        "range" => json!({ "gt_lte": [2, 3], "gte": [3, 4], "lt": [0] }),
        "values" => json!({ "at_limit": [1, 3], "over_limit": refused(), "whole": [9] }),
        "system" => {
            json!({ "created": [0, 1, 2, 3, 4], "updated": [0, 1, 2, 3, 4], "ids": [1, 3] })
        }
        // Only `$eq` with a plain string may use the `session_id` column: an array,
        // an object, a string starting with `[` and a number are matched in the document.
        "session" => json!({ "eq": [1], "bracket": [4], "ne": [2, 3, 4, 5], "in": [1, 5] }),
        "many" => json!({ "at_limit": 1, "over_limit": refused() }),
        "fields" => {
            let mut fields = json!({
                "plain": 1,
                "a\"b": refused(),
                "a'b": 1,
                "a%b": 1,
                "a_b": 1,
                "a\u{1}b": refused(),
                "a\nb": refused(),
                "a..b": refused(),
                "first-name": 1,
                "a b": 1,
                "1a": 1,
                "a$b": 1,
                "a[0]": 1,
            });
            fields["x".repeat(FIELD_SEGMENT_MAX + 1)] = refused();
            fields
        }
        other => json!({ "unknown probe": other }),
    }
}

pub fn check(evidence: &Evidence) -> Vec<Violation> {
    let probes = evidence
        .answers
        .iter()
        .filter(|a| a.operation.verb == Verb::Probe);
    probes
        .filter_map(|answer| {
            let kind = answer.operation.key.as_str();
            let want = expected(kind);
            let (invariant, got) = match answer.op.outcome {
                Outcome::Ok if answer.body != want => {
                    ("probe-wrong-answer", answer.body.to_string())
                }
                // Every query a probe sends without catching its error is valid: a
                // refusal for the caller's mistake is the engine's, whatever the faults.
                _ if failed_with(answer, CALLER_MISTAKES) => (
                    "probe-refused",
                    format!("a refusal ({:?}, {})", answer.kind, answer.body),
                ),
                _ => return None,
            };
            Some(Violation {
                invariant,
                detail: format!(
                    "request {} probed {kind}: the engine answered {got}, the model expects {want}",
                    answer.op.request
                ),
                involved: vec![answer.op.request.clone()],
            })
        })
        .collect()
}
