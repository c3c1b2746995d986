//! fazt-engine: a fazt-compatible runtime and SQLite storage engine.
//!
//! A map of the code:
//!
//! | module | what it is |
//! | --- | --- |
//! | [`config`] | profiles: `hardened` and the legacy presets, as sets of policies |
//! | [`failpoints`] | where faults can be injected (the simulator's seeded schedules arm them) |
//! | [`coverage`] | named marks at the rare states the simulator's search must reach |
//! | [`env`] | the seams (Clock, Rng, Executor) through which the engine meets the world |
//! | [`runtime`] | fazt's handler contract on QuickJS: suspendable executions, VM pool |
//! | [`storage`] | kv / ds / s3 on one SQLite file: group-committing writer, reader pool |
//! | [`server`] | the HTTP server: Host routing, static files, deploy, `/api` handlers, admin API |
//! | [`bench`] | `fazt bench`: closed-loop load, reports (text, JSON), storage / runtime / HTTP benchmarks |
//! | [`client`] | the HTTP/1.1 client side: URL → [`client::Target`], keep-alive connections |
//! | [`deploy_client`] | `fazt deploy`: a folder zipped in memory, uploaded to `POST /api/deploy` |
//!
//! Nothing here knows whether it runs for real or in the simulator: that is decided by
//! the [`env::Env`] handed in at construction.

pub mod bench;
pub mod client;
pub mod config;
pub mod coverage;
pub mod deploy_client;
pub mod env;
pub mod failpoints;
pub mod runtime;
pub mod server;
pub mod storage;
