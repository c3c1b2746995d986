//! Write names: the storage's events name each write for the operation the script
//! called, so that a trace (and whoever reads it: the causes, the timeline) says which
//! write queued, was refused or held the lock.
//!
//! Verifies, per server lifetime: every write an event names inside an execution's
//! storage call (queued, refused for budget, begun on the direct path) is named for
//! that call's operation: by the operation's own name (`kv.set`, `ds.update`, ...),
//! `s3.put` for both `s3.put` and `s3.putBytes` (one blob write); and no read call
//! names a write. Does not verify: names in events of the writer's own task (a busy
//! upgrade: no execution is attached), nor of background writes (analytics, the request
//! log, sweeps), nor the names in error messages.

use fazt_chaos::Violation;
use fazt_engine::runtime::Operation;

use crate::run::property::Evidence;
use crate::search::events::{lifetimes, named_writes};

/// The name of the write a call of `operation` makes (`None`: it makes none).
fn write_name(operation: Operation) -> Option<&'static str> {
    match operation {
        Operation::S3PutBytes => Some(Operation::S3Put.name()),
        operation if operation.is_write() => Some(operation.name()),
        _ => None,
    }
}

pub fn check(evidence: &Evidence) -> Vec<Violation> {
    lifetimes(evidence.trace)
        .into_iter()
        .flat_map(named_writes)
        .filter(|write| write_name(write.called) != Some(write.named))
        .map(|write| Violation {
            invariant: "write-misnamed",
            detail: format!(
                "execution {} called {} and its write is named {:?} at {} µs",
                write.execution, write.called, write.named, write.at_us
            ),
            involved: vec![format!("execution {}", write.execution)],
        })
        .collect()
}
