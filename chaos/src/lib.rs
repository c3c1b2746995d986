//! fazt-chaos: the failpoint catalog, seeded fault schedules and invariant checkers.
//!
//! | module | what it is |
//! | --- | --- |
//! | [`catalog`] | every engine failpoint, what firing it means, what argument it takes |
//! | [`schedule`] | a fault schedule: failpoints, network faults, crashes, power losses and disk faults at virtual times; seeded generation, JSON save and load |
//! | [`history`] | what clients observed: operations on registers with their outcomes and real-time bounds |
//! | [`linearizable`] | whether some serial order consistent with real time explains a register's history |
//! | [`durability`] | acknowledged writes the final database lost (a power loss under `synchronous = NORMAL`, or a bug) |
//! | [`invariants`] | the checks every run ends with, each violation naming the requests involved |
//! | [`tenancy`] | the checks of a shared server with a hostile tenant: isolation, victims' availability, host memory |
//!
//! The simulator applies schedules and records histories; this crate only describes
//! faults and judges outcomes, so the same checks serve every workload.

pub mod catalog;
pub mod durability;
pub mod history;
pub mod invariants;
pub mod linearizable;
pub mod schedule;
pub mod tenancy;

pub use history::{Op, OpKind, Outcome};
pub use invariants::Violation;
pub use schedule::{Action, DiskFault, Fault, Plan, Schedule};
