//! `momentum-seq`: one client sends N sequential `POST /api/tasks {session, text}` to
//! the momentum fixture, like seed 001's curl loop that showed ~10% `TimeoutError`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde_json::json;

use crate::capture::Capture;
use crate::causes::root_cause;
use crate::client::HttpClient;
use crate::env::sim_env;
use crate::harness;
use crate::profile::Profile;
use crate::report::{wall_clock_ms_since, wall_clock_start, Report};
use crate::scenarios::Run;
use crate::server_host::{ServerHost, DOMAIN, PORT};

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

/// What one request came to.
struct Outcome {
    request_id: String,
    status: u16,
    /// The error body's `kind`, for failures.
    kind: Option<String>,
    latency_us: u64,
}

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, options: &Options) -> Run {
    let wall = wall_clock_start();
    let dir = tempfile::tempdir().expect("a temp dir for the database");
    let capture = Capture::default();
    let host = ServerHost {
        config: profile.config.clone(),
        seed,
        db: dir.path().join("fazt.db"),
        capture: capture.clone(),
    };
    let outcomes: Rc<RefCell<Vec<Outcome>>> = Rc::default();
    let finished_at_us = Rc::new(RefCell::new(0));
    let mut sim = harness::build(seed);
    sim.host("server", move || host.clone().run());
    let (out, done, requests) = (outcomes.clone(), finished_at_us.clone(), options.requests);
    let client_capture = capture.clone();
    sim.client("client", async move {
        let clock = sim_env(seed).clock;
        let origin = clock.now();
        let now_us = || {
            u64::try_from(clock.now().saturating_duration_since(origin).as_micros())
                .unwrap_or(u64::MAX)
        };
        let address = format!("server:{PORT}");
        let mut client = loop {
            match HttpClient::connect(&address).await {
                Ok(client) => break client,
                // The server deploys its apps before it listens.
                Err(_) => clock.sleep(Duration::from_millis(1)).await,
            }
        };
        let host = format!("momentum.{DOMAIN}");
        for n in 0..requests {
            let request_id = format!("r-{n:04}");
            let body = json!({"session": "test", "text": format!("Task {n}")});
            let started = now_us();
            client_capture.record_at(started, "client", format!("send {request_id}"));
            let response = client
                .send("POST", &host, "/api/tasks", &request_id, Some(&body))
                .await?;
            let answered = now_us();
            let latency_us = answered.saturating_sub(started);
            let kind = (response.status >= 400).then(|| {
                serde_json::from_slice::<serde_json::Value>(&response.body)
                    .ok()
                    .and_then(|body| body["kind"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("HTTP {}", response.status))
            });
            client_capture.record_at(
                answered,
                "client",
                format!("answer {request_id} status={}", response.status),
            );
            out.borrow_mut().push(Outcome {
                request_id,
                status: response.status,
                kind,
                latency_us,
            });
        }
        *done.borrow_mut() = now_us();
        Ok(())
    });
    capture
        .around(|| sim.run())
        .expect("the simulation runs to completion");

    let trace = capture.trace();
    let outcomes = outcomes.borrow();
    let latencies: Vec<u64> = outcomes.iter().map(|o| o.latency_us).collect();
    let virtual_ms = *finished_at_us.borrow() / 1000;
    let mut report = Report::new(
        "momentum-seq",
        profile,
        seed,
        &trace,
        &latencies,
        virtual_ms,
    );
    for outcome in outcomes.iter() {
        let failure = outcome.kind.as_deref().map(|kind| {
            let cause = root_cause(&trace, &outcome.request_id, kind);
            (kind, cause_class(&cause))
        });
        report.count(failure);
        *report
            .details
            .entry(format!("status_{}", outcome.status))
            .or_default() += 1;
    }
    report.wall_ms = wall_clock_ms_since(wall);
    Run { report, trace }
}

/// A cause without the per-request details (which execution, which VM), for counting.
fn cause_class(cause: &str) -> String {
    cause.split(" (").next().unwrap_or(cause).to_owned()
}
