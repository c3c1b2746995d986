//! The invariants every run is checked against (DESIGN.md, Simulator), one checker per
//! file, each header saying what it verifies and what it does not. Each violation
//! names the requests (or executions) involved.
//!
//! | module | invariants | from what |
//! | --- | --- | --- |
//! | [`history`] | `value-from-nowhere`, `failed-write-landed`, `linearizable` | the clients' history, the final database |
//! | [`vm_pool`] | `poisoned-vm`, `vm-leaked` | the engine's typed trace events |
//! | [`integrity`] | `integrity` | `PRAGMA integrity_check` on the database file |

pub mod history;
pub mod integrity;
pub mod vm_pool;

pub use history::{check_history, HistorySummary};
pub use integrity::check_integrity;
pub use vm_pool::check_vm_pool;

use std::fmt;

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant (`failed-write-landed`, `linearizable`, `vm-leaked`, ...).
    pub invariant: &'static str,
    pub detail: String,
    /// The requests or executions involved.
    pub involved: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)?;
        if !self.involved.is_empty() {
            write!(f, " [{}]", self.involved.join(", "))?;
        }
        Ok(())
    }
}
