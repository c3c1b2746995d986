//! Invariants `poisoned-vm` and `vm-leaked`: the VM pool, from the engine's typed trace
//! events ([`fazt_engine::events::Event`]) of one server lifetime.
//!
//! What it verifies: no execution failed at once because a stale interrupt (the watcher of an
//! earlier execution on the same VM) hit it (`poisoned-vm`); when the lifetime ended
//! cleanly, every VM checked out was returned (`vm-leaked`).
//!
//! What it does not verify: VMs whose state leaked between executions without an error (see
//! the tenancy checks); lifetimes a crash cut short (a crash may leave VMs out); the
//! pool's size or its eviction order.

use std::collections::BTreeMap;

use fazt_engine::events::Event;
use fazt_engine::runtime::STALE_INTERRUPT;

use super::Violation;

/// Checks the VM pool from the engine's trace events of one server lifetime: no
/// execution ran on a poisoned VM (a stale interrupt), and, when the lifetime ended
/// cleanly (`complete`), every VM checked out was returned.
pub fn check_vm_pool<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    complete: bool,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut out: BTreeMap<u64, u64> = BTreeMap::new();
    for event in events {
        match event {
            Event::VmCheckout { execution, vm } => {
                out.insert(*execution, *vm);
            }
            Event::VmReturn { execution, .. } => {
                out.remove(execution);
            }
            Event::ExecutionFailed {
                execution,
                vm,
                cause: Some(cause),
                ..
            } if cause.contains(STALE_INTERRUPT) => {
                violations.push(Violation {
                    invariant: "poisoned-vm",
                    detail: format!(
                        "execution {execution} failed at once on VM {vm}, interrupted by an earlier execution"
                    ),
                    involved: vec![format!("execution {execution}")],
                });
            }
            _ => {}
        }
    }
    if complete {
        for (execution, vm) in out {
            violations.push(Violation {
                invariant: "vm-leaked",
                detail: format!(
                    "VM {vm} was checked out by execution {execution} and never returned"
                ),
                involved: vec![format!("execution {execution}")],
            });
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaked_and_poisoned_vms_are_named() {
        let events = [
            Event::VmCheckout {
                execution: 1,
                vm: 0,
            },
            Event::VmCheckout {
                execution: 2,
                vm: 1,
            },
            Event::VmReturn {
                execution: 2,
                vm: 1,
                discarded: false,
            },
            Event::ExecutionFailed {
                execution: 3,
                vm: 1,
                kind: "TimeoutError".into(),
                cause: Some("stale-interrupt from execution 2".into()),
                interrupted: false,
            },
        ];
        let violations = check_vm_pool(&events, true);
        let kinds: Vec<&str> = violations.iter().map(|v| v.invariant).collect();
        assert_eq!(kinds, ["poisoned-vm", "vm-leaked"]);
        assert_eq!(
            check_vm_pool(&events, false).len(),
            1,
            "a crash may leave VMs out"
        );
    }
}
