//! BUSY means a lock: a write told SQLITE_BUSY met a lock another connection held.
//!
//! Under `BEGIN IMMEDIATE` a write transaction takes the write lock first, so SQLite
//! answers it SQLITE_BUSY only when that lock is held elsewhere, and then calls its
//! busy handler (the engine's, which records the call): every BUSY event of the write
//! path says `lock_wait`. One that does not is a failure of another kind (an I/O error
//! at `BEGIN`, a refused WAL-index read) retried and reported as BUSY: a transient,
//! retryable refusal in place of the disk's error, in the trace and to the client.
//!
//! Verifies, under a profile whose transactions begin IMMEDIATE: every `WriterBusy` and
//! `DirectWriteBusy` event has `lock_wait`. Does not verify: that the lock was really
//! held (the injected `storage-busy` failpoint plays another connection's lock), nor
//! DEFERRED profiles, whose upgrade BUSY comes without a busy-handler call.

use fazt_chaos::Violation;
use fazt_engine::events::Event as EngineEvent;
use fazt_engine::storage::BeginMode;

use crate::profile::Profile;
use crate::run::property::Evidence;

pub fn check(profile: &Profile, evidence: &Evidence) -> Vec<Violation> {
    if profile.config.storage.policy.begin != BeginMode::Immediate {
        return Vec::new();
    }
    let mut violations = Vec::new();
    for event in &evidence.trace.events {
        let attempt = match event.engine() {
            Some(EngineEvent::WriterBusy {
                attempt,
                lock_wait: false,
                ..
            })
            | Some(EngineEvent::DirectWriteBusy {
                attempt,
                lock_wait: false,
                ..
            }) => attempt,
            _ => continue,
        };
        violations.push(Violation {
            invariant: "busy-without-a-lock",
            detail: format!(
                "attempt {attempt} of a write was refused as SQLITE_BUSY at {} µs with no lock waited for (the busy handler was not called)",
                event.at_us
            ),
            involved: Vec::new(),
        });
    }
    violations
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::profile;
    use crate::trace::Trace;

    fn violations(profile_name: &str, lock_wait: bool) -> Vec<Violation> {
        let mut trace = Trace::default();
        trace.engine(
            10,
            None,
            EngineEvent::WriterBusy {
                writes: 1,
                attempt: 1,
                conn: 0,
                busy_timeout_ms: 0,
                lock_wait,
            },
        );
        let evidence = Evidence {
            answers: &[],
            trace: &trace,
            db: Path::new("unused.db"),
            scraped: None,
        };
        check(&profile::by_name(profile_name, 1).unwrap(), &evidence)
    }

    #[test]
    fn a_busy_without_a_lock_wait_is_a_violation_under_begin_immediate() {
        assert_eq!(violations("hardened", false).len(), 1);
        assert!(violations("hardened", true).is_empty());
    }

    #[test]
    fn a_deferred_upgrade_may_be_busy_without_a_lock_wait() {
        assert!(violations("mech-deferred-upgrade", false).is_empty());
    }
}
