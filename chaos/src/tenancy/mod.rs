//! The invariants of a shared server with a hostile tenant (issue 15), one file each:
//!
//! | module | invariant | from what |
//! | --- | --- | --- |
//! | [`isolation`] | `isolation`: no app observes what another app wrote | response bodies, the final database file |
//! | [`availability`] | `victim-availability`, `victim-latency`: a victim's success rate and p99 stay within bounds | the victims' answers |
//! | [`host_memory`] | `host-memory`: live VMs within the pool's size, no response beyond the byte bound | `/api/_debug/runtime`, response sizes |
//!
//! The VM pool's own invariants ([`crate::invariants::check_vm_pool`]) apply as ever.

pub mod availability;
pub mod host_memory;
pub mod isolation;
