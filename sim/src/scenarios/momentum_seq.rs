//! `momentum-seq`: one client sends N sequential `POST /api/tasks {session, text}` to
//! the momentum fixture, like seed 001's curl loop that showed ~10% `TimeoutError`.

use serde_json::json;

use crate::profile::Profile;
use crate::run::http::{self, Request};
use crate::run::Run;

pub const SUMMARY: &str =
    "one client sends N sequential POST /api/tasks to momentum (seed 001's curl loop)";

/// Sizes of the workload.
#[derive(Clone, Debug)]
pub struct Options {
    pub requests: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { requests: 100 }
    }
}

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, options: &Options) -> Run {
    let requests = options.requests;
    http::observe(profile, seed, move |recorder| async move {
        let mut client = recorder.connect().await;
        for n in 0..requests {
            let request = Request {
                app: "momentum",
                method: "POST",
                path: "/api/tasks",
                id: &format!("r-{n:04}"),
                body: Some(json!({"session": "test", "text": format!("Task {n}")})),
            };
            recorder.send(&mut client, "requests", request).await;
        }
        Ok(())
    })
    .into_run("momentum-seq", profile, seed)
}
