//! fazt-sim: the fazt engine, unchanged, on virtual time inside turmoil.
//!
//! | module | what it is |
//! | --- | --- |
//! | [`capture`] | records the engine's `tracing` events into the run's trace, on virtual time |
//! | [`net`], [`client`] | the Net seam on turmoil TCP; a small HTTP client for workloads |
//! | [`env`] | the simulated seams: [`env::SimClock`], [`env::SimExecutor`], the cost model |
//! | [`run`] | the runners: the turmoil harness, the server host, HTTP, storage-level and property runs, each ending in a [`run::Run`] |
//! | [`profile`] | named engine configurations (`hardened`, one per mechanism) |
//! | [`scenarios`] | named workloads, each returning a [`report::Report`] |
//! | [`sweep`] | one scenario over many seeds: failure statistics, seeds that broke an invariant |
//! | [`suite`] | the matrix of scenarios × profiles with expectations |
//! | [`causes`] | root causes of failed requests, derived from the trace |
//! | [`cause_groups`] | a sweep's causes grouped by kind (told × fault), with example seeds |
//! | [`trace`], [`report`] | the event trace and its hash; the report of a run |
//! | [`timeline`] | a run's trace as a Chrome trace-event timeline (Perfetto): `fazt-sim run --timeline` |
//! | [`faults`] | applying a fault schedule to a running simulation |
//! | [`regression`] | the stored corpus of minimal failing cases, replayed by tests and the suite |
//! | [`app_test`] | `fazt-sim test DIR`: an author's app under the simulator, its JS invariants, JUnit/JSON reports |
//! | [`adversary`] | a hostile tenant beside victims: the corpus, the workload, the tenancy invariants checked |
//! | [`workload`] | property-based workloads on the `registers` app (run and checked by [`run::property`]) |
//! | [`search`] | the property search as a library: broad workloads, faults in their span, promise-level checkers, coverage marks |

pub mod adversary;
pub mod app_test;
pub mod capture;
pub mod cause_groups;
pub mod causes;
pub mod client;
pub mod disk;
pub mod env;
pub mod faults;
pub mod lost_writes;
pub mod net;
pub mod profile;
pub mod regression;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod search;
pub mod sensitivity;
pub mod suite;
pub mod sweep;
pub mod timeline;
pub mod trace;
pub mod workload;
