//! `cashflow-stress`: seed 000's four stress tests against the cashflow fixture, one
//! after another on one server, each reported as a phase:
//!
//! | phase | what |
//! | --- | --- |
//! | sequential writes | 20 `POST /api/test-write {session}`, one after another |
//! | concurrent writes | 10 clients, each on its own connection, one `POST /api/test-write` at once |
//! | sequential reads | 50 `GET /api/categories?session=`, one after another |
//! | throttled writes | 20 `POST /api/test-write`, 100 ms apart |
//!
//! The seed gives no count for the throttled test; it runs 20, like the sequential
//! writes, so the two differ only in the pause. Every failed request's root cause comes
//! from the engine's trace. The text report renders the seed's table (test, success
//! rate, root cause).

use std::time::Duration;

use serde_json::json;

use crate::profile::Profile;
use crate::run::http::{self, Recorder, Request};
use crate::run::Run;

pub const SUMMARY: &str =
    "seed 000's cashflow stress tests: sequential, concurrent, read and throttled phases";

/// The app under test.
const APP: &str = "cashflow";

/// The session every request uses, as in the seed's test.
const SESSION: &str = "stress";

/// Sizes of the workload (defaults: seed 000's table).
#[derive(Clone, Debug)]
pub struct Options {
    pub sequential_writes: u64,
    pub concurrent_writes: u64,
    pub sequential_reads: u64,
    pub throttled_writes: u64,
    /// The pause between two throttled writes.
    pub throttle: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sequential_writes: 20,
            concurrent_writes: 10,
            sequential_reads: 50,
            throttled_writes: 20,
            throttle: Duration::from_millis(100),
        }
    }
}

impl Options {
    /// Every phase with `n` requests (`--requests N`), the throttle unchanged.
    pub fn each(n: u64) -> Options {
        Options {
            sequential_writes: n,
            concurrent_writes: n,
            sequential_reads: n,
            throttled_writes: n,
            ..Options::default()
        }
    }
}

/// The phases' names, as in seed 000's table.
pub const SEQUENTIAL_WRITES: &str = "sequential writes";
pub const CONCURRENT_WRITES: &str = "concurrent writes";
pub const SEQUENTIAL_READS: &str = "sequential reads";
pub const THROTTLED_WRITES: &str = "throttled writes";

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, options: &Options) -> Run {
    let options = options.clone();
    http::observe(profile, seed, move |recorder| async move {
        let mut client = recorder.connect().await;
        for n in 0..options.sequential_writes {
            write(
                &recorder,
                &mut client,
                SEQUENTIAL_WRITES,
                &format!("sw-{n:03}"),
            )
            .await;
        }
        let mut writers = Vec::new();
        for n in 0..options.concurrent_writes {
            let recorder = recorder.clone();
            writers.push(tokio::task::spawn_local(async move {
                let mut client = recorder.connect().await;
                write(
                    &recorder,
                    &mut client,
                    CONCURRENT_WRITES,
                    &format!("cw-{n:03}"),
                )
                .await;
            }));
        }
        for writer in writers {
            writer.await?;
        }
        let path = format!("/api/categories?session={SESSION}");
        for n in 0..options.sequential_reads {
            let request = Request {
                app: APP,
                method: "GET",
                path: &path,
                id: &format!("sr-{n:03}"),
                body: None,
            };
            recorder.send(&mut client, SEQUENTIAL_READS, request).await;
        }
        for n in 0..options.throttled_writes {
            if n > 0 {
                recorder.clock().sleep(options.throttle).await;
            }
            write(
                &recorder,
                &mut client,
                THROTTLED_WRITES,
                &format!("tw-{n:03}"),
            )
            .await;
        }
        Ok(())
    })
    .into_run("cashflow-stress", profile, seed)
}

/// The stress test's write: `POST /api/test-write {session}`.
async fn write(
    recorder: &Recorder,
    client: &mut crate::client::HttpClient,
    phase: &'static str,
    id: &str,
) {
    let request = Request {
        app: APP,
        method: "POST",
        path: "/api/test-write",
        id,
        body: Some(json!({ "session": SESSION })),
    };
    recorder.send(client, phase, request).await;
}
