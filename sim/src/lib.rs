//! fazt-sim: the fazt engine, unchanged, on virtual time inside turmoil.
//!
//! | module | what it is |
//! | --- | --- |
//! | [`env`] | the simulated seams: [`env::SimClock`], [`env::SimExecutor`], the cost model |

pub mod env;
