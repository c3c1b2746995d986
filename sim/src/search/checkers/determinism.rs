//! Determinism: the same case (profile, seed, workload, schedule) replays to the same
//! trace and the same final rows.
//!
//! Verifies: two runs of a case give equal trace hashes and equal hashes of every app
//! row (kv, documents, blobs, timestamps included: a wall-clock read shows there).
//! Does not verify: determinism across machines or builds, nor of the engine's own
//! tables (request log, analytics).

use fazt_chaos::{Schedule, Violation};
use fazt_engine::storage::{sha256_hex, Db};

use crate::profile::Profile;
use crate::workload::Workload;

/// The report detail holding the final rows' hash.
pub const ROWS_HASH: &str = "rows_hash";

/// A hash of every app row of the database at `path` (0 when it cannot be read).
pub fn rows_hash(path: &std::path::Path) -> u64 {
    let Ok(db) = Db::open(path) else {
        return 0;
    };
    let tables = [
        "SELECT app_id || ' ' || key || ' ' || value || ' ' || ifnull(expires_at, '') || ' ' || updated_at FROM app_kv ORDER BY app_id, key",
        "SELECT app_id || ' ' || collection || ' ' || id || ' ' || data || ' ' || created_at || ' ' || updated_at FROM app_docs ORDER BY app_id, collection, id",
        "SELECT app_id || ' ' || path || ' ' || hash || ' ' || updated_at FROM app_blobs ORDER BY app_id, path",
    ];
    let mut text = String::new();
    for sql in tables {
        let rows: Vec<String> = db
            .conn()
            .prepare(sql)
            .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect())
            .unwrap_or_else(|error| vec![format!("unreadable: {error}")]);
        text += &rows.join("\n");
        text.push('\n');
    }
    u64::from_str_radix(&sha256_hex(text.as_bytes())[..15], 16).expect("hex digits")
}

/// Runs the case twice; a difference in trace or rows is a violation.
pub fn check(
    profile: &Profile,
    seed: u64,
    workload: &Workload,
    schedule: &Schedule,
) -> Vec<Violation> {
    let first = super::super::run(profile, seed, workload, schedule).report;
    let second = super::super::run(profile, seed, workload, schedule).report;
    let mut violations = Vec::new();
    if first.trace_hash != second.trace_hash {
        violations.push(Violation {
            invariant: "nondeterministic-trace",
            detail: format!(
                "trace hashes {} and {}",
                first.trace_hash, second.trace_hash
            ),
            involved: Vec::new(),
        });
    }
    if first.details.get(ROWS_HASH) != second.details.get(ROWS_HASH) {
        violations.push(Violation {
            invariant: "nondeterministic-rows",
            detail: format!(
                "final rows hash {:?} and {:?}",
                first.details.get(ROWS_HASH),
                second.details.get(ROWS_HASH)
            ),
            involved: Vec::new(),
        });
    }
    violations
}
