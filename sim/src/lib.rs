//! fazt-sim: the fazt engine, unchanged, on virtual time inside turmoil.
//!
//! | module | what it is |
//! | --- | --- |
//! | [`capture`] | records the engine's `tracing` events into the run's trace, on virtual time |
//! | [`env`] | the simulated seams: [`env::SimClock`], [`env::SimExecutor`], the cost model |
//! | [`harness`] | building a turmoil `Sim` the same way for every run (epoch, tick, seed) |
//! | [`profile`] | named engine configurations (`hardened`, one per mechanism) |
//! | [`scenarios`] | named workloads, each returning a [`report::Report`] |
//! | [`suite`] | the matrix of scenarios × profiles with expectations |
//! | [`trace`], [`report`] | the event trace and its hash; the report of a run |

pub mod capture;
pub mod env;
pub mod harness;
pub mod profile;
pub mod report;
pub mod scenarios;
pub mod suite;
pub mod trace;
