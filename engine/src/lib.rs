//! fazt-engine: a fazt-compatible runtime and SQLite storage engine.
//!
//! A map of the code:
//!
//! | module | what it is |
//! | --- | --- |
//! | [`config`] | profiles: `hardened` and the legacy presets, as sets of policies |
//! | [`failpoints`] | where faults can be injected (the simulator's seeded schedules arm them) |
//! | [`engine`] | the one assembly: storage → execution workers → server ([`Engine::build`]) |
//! | [`coverage`] | named marks at the rare states the simulator's search must reach |
//! | [`env`] | the seams (Clock, Rng, Executor, Recorder) through which the engine meets the world |
//! | [`events`] | the typed trace events the engine emits through the Recorder seam |
//! | [`runtime`] | fazt's handler contract on QuickJS: suspendable executions, VM pool |
//! | [`storage`] | kv / ds / s3 on one SQLite file: group-committing writer, reader pool |
//! | [`server`] | the HTTP server: Host routing, static files, deploy, `/api` handlers, admin API |
//!
//! The command line's plumbing (`fazt bench`, `fazt deploy`, its HTTP client) is not the
//! engine: it lives under the `fazt` binary (`src/cli/`), outside the library the
//! simulator links.
//!
//! Nothing here knows whether it runs for real or in the simulator: that is decided by
//! the [`env::Env`] handed in at construction.

pub mod config;
pub mod coverage;
pub mod engine;
pub mod env;
pub mod events;
pub mod failpoints;
pub mod runtime;
pub mod server;
pub mod storage;

pub use engine::{BuildError, Engine, EngineConfig, ExecutionThreads};
