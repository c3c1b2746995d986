//! The runners: how a workload meets the engine on virtual time, and what every run
//! hands back. Scenarios (`crate::scenarios`) choose the workload and judge the
//! result; the runners here know nothing of any scenario.
//!
//! | module | what it runs |
//! | --- | --- |
//! | [`harness`] | building a turmoil `Sim` the same way for every run (epoch, tick, seed) |
//! | [`server_host`] | the engine's server, unchanged, as a turmoil host |
//! | [`http`] | HTTP workloads against the server host: requests by phase, report with root causes |
//! | [`storage`] | workloads against the engine's storage alone, beside a lock holder outside the engine |
//! | [`property`] | property-based workloads on the `registers` app under a fault schedule, checked against the invariants |

pub mod harness;
pub mod http;
pub mod property;
pub mod server_host;
pub mod storage;

use crate::report::Report;
use crate::trace::Trace;

/// What a run produced: its report and the trace the report was computed from.
pub struct Run {
    pub report: Report,
    pub trace: Trace,
}
