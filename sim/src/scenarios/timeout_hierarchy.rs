//! `timeout-hierarchy` (§4.6): requests of two writes each while another connection
//! holds the write lock for 6 s (a long batch, a backup), with clients that retry a
//! retryable failure after `Retry-After` (1 s), up to 10 times.
//!
//! With busy_timeout = runtime timeout = request budget (fazt: 5 s each), a write
//! waits inside SQLite's busy handler for the whole budget: the request times out
//! (`TimeoutError`, not retryable) with nothing left for a graceful answer. `hardened`
//! bounds its lock waits well inside the budget, answers a retryable `Busy` quickly,
//! and the client's retry lands once the lock is free. A request's budget is the
//! profile's (`min(request timeout, runtime timeout)`); an answer at or past it is the
//! runtime's `TimeoutError`. Requests arrive every 200 ms, each up to 50 ms late (seeded).

use std::rc::Rc;
use std::time::Duration;

use serde_json::json;

use crate::profile::Profile;
use crate::run::storage::{self, adversary_held_lock, World};
use crate::run::Run;
use crate::trace::Trace;
use fazt_engine::events::Event as EngineEvent;

pub const SUMMARY: &str =
    "30 requests of two writes while another connection holds the lock for 6 s; clients retry after Retry-After";

/// Sizes of the workload.
#[derive(Clone, Debug)]
pub struct Options {
    pub requests: usize,
    pub arrival_every: Duration,
    pub lock_from: Duration,
    pub lock_hold: Duration,
    pub retry_after: Duration,
    pub attempts_max: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            requests: 30,
            arrival_every: Duration::from_millis(200),
            lock_from: Duration::from_millis(500),
            lock_hold: Duration::from_secs(6),
            retry_after: Duration::from_secs(1),
            attempts_max: 10,
        }
    }
}

/// What one request came to, after its retries.
struct RetriedRequest {
    started_us: u64,
    ended_us: u64,
    /// The last attempt's start.
    attempt_started_us: u64,
    /// The error kind the client saw last, for failed requests.
    failure: Option<&'static str>,
}

async fn request(
    world: Rc<World>,
    n: usize,
    budget: Duration,
    options: &Options,
) -> RetriedRequest {
    let started_us = world.now_us();
    let mut attempt = 1;
    loop {
        let attempt_started_us = world.now_us();
        let deadline = world.env.clock.deadline_in(budget);
        let scope = world.storage.scope("hierarchy", deadline);
        let result = async {
            scope
                .kv_set(&format!("r{n:02}-a"), &json!(attempt), None)
                .await?;
            scope
                .kv_set(&format!("r{n:02}-b"), &json!(attempt), None)
                .await
        }
        .await;
        let timed_out = deadline.is_past(world.env.clock.now());
        let failure = match &result {
            Ok(()) => None,
            // The runtime's timeout is the budget: it answers first.
            Err(_) if timed_out => Some("TimeoutError"),
            Err(error) => Some(error.kind()),
        };
        world.note(
            "workload",
            format!(
                "request r{n:02} attempt {attempt} {}",
                failure.unwrap_or("ok")
            ),
        );
        let retry = matches!(&result, Err(e) if !timed_out && e.retryable());
        if !retry || attempt == options.attempts_max {
            return RetriedRequest {
                started_us,
                ended_us: world.now_us(),
                attempt_started_us,
                failure,
            };
        }
        attempt += 1;
        world.sleep(options.retry_after).await;
    }
}

pub fn run(profile: &Profile, seed: u64, options: &Options) -> Run {
    let budget = profile
        .config
        .request_timeout
        .min(profile.config.runtime.timeout);
    let options = options.clone();
    let result: Rc<std::cell::RefCell<Vec<RetriedRequest>>> = Rc::default();
    let out = result.clone();
    let finished = storage::run(profile, seed, move |world| async move {
        let adversary = tokio::task::spawn_local({
            let (world, options) = (world.clone(), options.clone());
            async move {
                world.sleep(options.lock_from).await;
                world.hold_lock(options.lock_hold).await
            }
        });
        let jitter = world.env.rng.split("arrivals");
        let requests: Vec<_> = (0..options.requests)
            .map(|n| {
                let (world, options) = (world.clone(), options.clone());
                let late = jitter.duration_up_to(Duration::from_millis(50));
                tokio::task::spawn_local(async move {
                    world.sleep(options.arrival_every * n as u32 + late).await;
                    request(world, n, budget, &options).await
                })
            })
            .collect();
        for request in requests {
            let outcome = request.await.expect("a request ends");
            out.borrow_mut().push(outcome);
        }
        adversary
            .await
            .expect("the adversary ends")
            .expect("the adversary's lock");
        Vec::new()
    });
    let outcomes = result.borrow();
    let latencies: Vec<u64> = outcomes.iter().map(|o| o.ended_us - o.started_us).collect();
    let mut report = finished.report_with_latencies("timeout-hierarchy", profile, seed, &latencies);
    report
        .details
        .insert("budget_ms".into(), budget.as_millis() as u64);
    for outcome in outcomes.iter() {
        let failure = outcome
            .failure
            .map(|kind| (kind, root_cause(kind, outcome, &finished.trace, budget)));
        report.count(failure);
    }
    finished.into_run(report)
}

/// For a timed-out request: how long its last attempt waited on the lock, and whose
/// busy timeout made it wait that long.
fn root_cause(kind: &str, outcome: &RetriedRequest, trace: &Trace, budget: Duration) -> String {
    if kind != "TimeoutError" {
        return kind.to_owned();
    }
    let (start, end) = (outcome.attempt_started_us, outcome.ended_us);
    let busy = trace
        .events
        .iter()
        .rev()
        .filter(|e| e.at_us >= start && e.at_us <= end)
        .find_map(|e| match e.engine()? {
            EngineEvent::WriterBusy {
                busy_timeout_ms, ..
            } => Some(*busy_timeout_ms),
            _ => None,
        });
    let lock_held = adversary_held_lock(trace, 0, end);
    match busy {
        Some(busy_timeout_ms) if busy_timeout_ms != 0 && lock_held => format!(
            "lock wait took the whole {} ms budget (busy_timeout {busy_timeout_ms} ms; lock held by adversary)",
            budget.as_millis(),
        ),
        Some(_) => "timed out waiting for the write lock".to_owned(),
        None => "timed out (no lock wait in the trace)".to_owned(),
    }
}
