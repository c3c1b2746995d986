//! `fazt bench`: load generators that measure the engine on the real environment.
//!
//! | file | what lives there |
//! | --- | --- |
//! | `load.rs` | the closed-loop driver: C tasks issuing operations back to back for N ops or a duration |
//! | `report.rs` | [`report::Recorder`] (histogram + 100 ms timeline + errors) → [`report::Figures`]; text and JSON |
//! | `storage.rs` | `fazt bench storage`: kv / ds / s3 workloads, preloading, the run |
//! | `runtime.rs` | `fazt bench runtime`: one handler script on the execution workers |
//! | `http.rs` | `fazt bench http`: one request, back to back on C keep-alive connections; status counts |
//! | `baseline.rs` | raw single-row SQLite commits, the yardstick for engine writes |
//!
//! A benchmark is a [`load::Workload`] driven by [`load::run`]; what it measured is a
//! [`report::Report`] of its own parameters plus the common figures, so `fazt bench
//! runtime` and `fazt bench http` print and serialise the same way.
//!
//! Time is read only through the [`fazt_engine::env::Clock`] of the environment handed in.

pub mod baseline;
pub mod http;
pub mod load;
pub mod report;
pub mod runtime;
pub mod storage;
