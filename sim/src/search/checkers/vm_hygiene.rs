//! VM hygiene: a VM whose execution was interrupted, timed out or ran out of memory is
//! discarded, never checked out again.
//!
//! Verifies, per server lifetime, from the runtime's trace: such an execution's VM is
//! returned discarded, and no later execution checks out the same VM. Does not verify:
//! that a healthy VM's state was reset between executions (the tenancy checkers do),
//! nor VMs of a lifetime a crash cut short after the failure.

use fazt_chaos::Violation;

use crate::run::property::Evidence;
use crate::search::events::{lifetimes, vm_events, VmEvent};

/// Error kinds after which a VM is not fit to run again.
pub const UNFIT: &[&str] = &["TimeoutError", "MemoryError"];

pub fn check(evidence: &Evidence) -> Vec<Violation> {
    let mut violations = Vec::new();
    for lifetime in lifetimes(evidence.trace) {
        let mut unfit: Vec<(u64, u64)> = Vec::new();
        for event in vm_events(lifetime) {
            match event {
                VmEvent::Failed {
                    execution,
                    vm,
                    kind,
                    interrupted,
                } if interrupted || UNFIT.contains(&kind) => {
                    unfit.push((execution, vm));
                }
                VmEvent::Return {
                    execution,
                    vm,
                    discarded: false,
                } if unfit.contains(&(execution, vm)) => {
                    violations.push(Violation {
                        invariant: "unfit-vm-returned",
                        detail: format!("VM {vm} went back to the pool after execution {execution} failed on it"),
                        involved: vec![format!("execution {execution}")],
                    });
                }
                VmEvent::Checkout { execution, vm } => {
                    if let Some((failed, _)) = unfit.iter().find(|(_, v)| *v == vm) {
                        violations.push(Violation {
                            invariant: "unfit-vm-reused",
                            detail: format!("execution {execution} checked out VM {vm}, unfit since execution {failed}"),
                            involved: vec![format!("execution {execution}")],
                        });
                    }
                }
                _ => {}
            }
        }
    }
    violations
}
