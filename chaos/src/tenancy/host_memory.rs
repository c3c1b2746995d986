//! Invariant `host-memory`: what one tenant can make the host hold stays within the
//! documented bounds.
//!
//! What it verifies, from what a run can measure honestly: (1) at every sample of the
//! runtime's pool figures (`/api/_debug/runtime`, taken while the attacker misbehaves
//! and once at rest), the VMs alive (`created - discarded - evicted`) and the VMs held
//! (`idle + busy`) are at most the pool's `size`: the VM count, each VM with its
//! bounded heap, is the engine's bound on JavaScript memory; (2) no response body that
//! reached a client is larger than the caller's byte bound: a response the server
//! built and sent is memory the host held.
//!
//! What it does not verify: the process's resident memory (the simulator runs the
//! engine inside the test process, with no RSS of its own to read: allocations the
//! host makes and frees within one request, such as copies made while converting a
//! value that is then refused, are invisible here); console capture and storage bytes
//! (not exposed by the engine); memory of anything but VMs and responses.

use crate::invariants::Violation;

/// The pool's figures at one moment, as `/api/_debug/runtime` gives them under `pool`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolSample {
    /// When it was taken (`during the storm`, `at rest`, ...).
    pub at: String,
    pub size: u64,
    pub idle: u64,
    pub busy: u64,
    /// Executions waiting for a VM.
    pub waiters: u64,
    pub created: u64,
    pub discarded: u64,
    /// Idle VMs dropped to make room for another app's (0 from an engine that keeps
    /// one pool for every app).
    pub evicted: u64,
}

/// One response as its client received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseSize {
    pub app: String,
    pub request: String,
    pub bytes: u64,
}

/// The pool bound at every sample, and every response within `response_bytes_max`.
pub fn check_host_memory(
    samples: &[PoolSample],
    responses: &[ResponseSize],
    response_bytes_max: u64,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    for sample in samples {
        let alive = sample
            .created
            .saturating_sub(sample.discarded)
            .saturating_sub(sample.evicted);
        if alive > sample.size || sample.idle + sample.busy > sample.size {
            violations.push(Violation {
                invariant: "host-memory",
                detail: format!(
                    "{}: {alive} VMs alive ({} idle, {} busy) in a pool of {}",
                    sample.at, sample.idle, sample.busy, sample.size
                ),
                involved: vec![sample.at.clone()],
            });
        }
    }
    for response in responses.iter().filter(|r| r.bytes > response_bytes_max) {
        violations.push(Violation {
            invariant: "host-memory",
            detail: format!(
                "app {} answered {} with {} bytes, over the {response_bytes_max}-byte bound",
                response.app, response.request, response.bytes
            ),
            involved: vec![response.request.clone()],
        });
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_within_its_size_and_small_responses_are_fine() {
        let sample = PoolSample {
            at: "at rest".into(),
            size: 4,
            idle: 3,
            busy: 1,
            waiters: 0,
            created: 11,
            discarded: 5,
            evicted: 2,
        };
        let small = ResponseSize {
            app: "a".into(),
            request: "r1".into(),
            bytes: 10,
        };
        assert!(check_host_memory(&[sample], &[small], 10).is_empty());
    }

    #[test]
    fn too_many_vms_and_a_huge_response_are_named() {
        let sample = PoolSample {
            at: "during".into(),
            size: 4,
            created: 6,
            ..PoolSample::default()
        };
        let huge = ResponseSize {
            app: "a".into(),
            request: "r1".into(),
            bytes: 11,
        };
        let violations = check_host_memory(&[sample], &[huge], 10);
        assert_eq!(violations.len(), 2);
        assert!(violations.iter().all(|v| v.invariant == "host-memory"));
        assert_eq!(violations[1].involved, ["r1"]);
    }
}
