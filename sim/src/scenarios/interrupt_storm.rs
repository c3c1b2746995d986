//! `interrupt-storm`: CPU-bound handlers that only their deadline stops, mixed with
//! trivial ones, from many concurrent clients, against the `spin` fixture.
//!
//! Each of 16 clients (its own connection) sends 25 requests with a seeded think time
//! of 0–5 ms between them; each request is drawn from the client's Rng: one in four
//! `GET /api/spin?forever=1` (`while (true) {}`), one in four `GET /api/spin?loops=N`
//! (a finite loop far longer than the deadline), the rest `GET /api/ping`. Each kind
//! is reported as a phase.
//!
//! The deadline: the engine has no per-request deadline knob, so the scenario sets the
//! runtime timeout in its copy of the profile's Config ([`Options::deadline`], default
//! 5 ms), the same for every profile. `tests/interrupt_storm.rs` checks `hardened` at
//! 1 and 10 ms too.
//!
//! Checked after the run, as violations: from the trace, every `vm checkout` has its
//! `vm return` and no execution failed from a stale interrupt (`fazt_chaos`'s VM-pool
//! invariant); from `GET /api/_debug/runtime`, no VM is still busy or awaited and every
//! VM created is idle or was discarded. The pool's figures are in the report's details.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use crate::profile::Profile;
use crate::run::http::{self, Recorder, Request};
use crate::run::Run;

pub const SUMMARY: &str =
    "16 clients mixing while(true){} and long loops with trivial requests at a 5 ms deadline";

/// The app under test.
const APP: &str = "spin";

/// The phases: one per kind of request.
pub const TRIVIAL: &str = "trivial";
pub const SPIN_FOREVER: &str = "spin forever";
pub const LONG_LOOP: &str = "long loop";

/// Sizes of the workload.
#[derive(Clone, Debug)]
pub struct Options {
    pub clients: u64,
    pub requests_per_client: u64,
    /// The runtime timeout of every execution in this run.
    pub deadline: Duration,
    /// Longest pause between two requests of one client (uniform, from its Rng).
    pub think_max: Duration,
    /// Iterations of a long loop: far more than fit in the deadline.
    pub long_loops: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clients: 16,
            requests_per_client: 25,
            deadline: Duration::from_millis(5),
            think_max: Duration::from_millis(5),
            long_loops: 100_000_000,
        }
    }
}

/// Runs the scenario under `profile` with `seed`.
pub fn run(profile: &Profile, seed: u64, options: &Options) -> Run {
    let mut profile = profile.clone();
    profile.config.runtime.timeout = options.deadline;
    let pool: Rc<RefCell<Option<serde_json::Value>>> = Rc::default();
    let (options, pool_out) = (options.clone(), pool.clone());
    let observed = http::observe(&profile, seed, move |recorder| async move {
        let mut clients = Vec::new();
        for client in 0..options.clients {
            clients.push(tokio::task::spawn_local(send_mix(
                recorder.clone(),
                client,
                options.clone(),
            )));
        }
        for client in clients {
            client.await?;
        }
        let mut admin = recorder.connect().await;
        *pool_out.borrow_mut() = recorder.admin_json(&mut admin, "/api/_debug/runtime").await;
        Ok(())
    });
    let mut violations: Vec<String> = crate::run::property::vm_pool(&observed.trace)
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut run = observed.into_run("interrupt-storm", &profile, seed);
    match pool.borrow().as_ref().map(|runtime| &runtime["pool"]) {
        Some(pool) => {
            let figure = |name: &str| pool[name].as_u64().unwrap_or(0);
            for name in [
                "created",
                "discarded",
                "executions",
                "timeouts",
                "interrupts",
            ] {
                run.report
                    .details
                    .insert(format!("pool_{name}"), figure(name));
            }
            violations.extend(pool_at_rest(&figure));
        }
        None => violations.push("GET /api/_debug/runtime did not answer".to_owned()),
    }
    run.report.violations.extend(violations);
    run
}

/// The pool once every request was answered: nothing busy or waiting, every VM ever
/// created either idle, discarded or evicted (an engine with one pool per app evicts
/// a cold app's idle VMs; `evicted` is 0 where the figure is absent).
pub(crate) fn pool_at_rest(figure: &dyn Fn(&str) -> u64) -> Vec<String> {
    let mut violations = Vec::new();
    for name in ["busy", "waiters"] {
        if figure(name) != 0 {
            violations.push(format!(
                "vm-pool: {} {name} after every request was answered",
                figure(name)
            ));
        }
    }
    if figure("idle") + figure("discarded") + figure("evicted") != figure("created") {
        violations.push(format!(
            "vm-pool: {} created but {} idle, {} discarded and {} evicted",
            figure("created"),
            figure("idle"),
            figure("discarded"),
            figure("evicted")
        ));
    }
    violations
}

/// One client: its requests, one after another on its own connection.
async fn send_mix(recorder: Recorder, client: u64, options: Options) {
    let rng = recorder.env().rng.split(&format!("client-{client}"));
    let mut connection = recorder.connect().await;
    let long_loop = format!("/api/spin?loops={}", options.long_loops);
    for n in 0..options.requests_per_client {
        recorder
            .clock()
            .sleep(rng.duration_up_to(options.think_max))
            .await;
        let (phase, path) = match rng.below(4) {
            0 => (SPIN_FOREVER, "/api/spin?forever=1"),
            1 => (LONG_LOOP, long_loop.as_str()),
            _ => (TRIVIAL, "/api/ping"),
        };
        let request = Request {
            app: APP,
            method: "GET",
            path,
            id: &format!("c{client:02}-{n:03}"),
            body: None,
        };
        if recorder.send(&mut connection, phase, request).await == 0 {
            connection = recorder.connect().await;
        }
    }
}
