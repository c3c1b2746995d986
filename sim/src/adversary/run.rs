//! Running a [`Tenants`] workload against the engine's server in the simulator, then
//! checking every tenancy invariant (`fazt_chaos::tenancy`) and the VM pool's.
//!
//! The server hosts the fixture apps (`registers` and `momentum` are the victims) and
//! the `attacker`. While the clients run, every response body is scanned for other
//! apps' canaries and its size kept, and the runtime's pool figures are sampled from
//! `GET /api/_debug/runtime`; after the run, every app's rows of the final database
//! file are scanned too. The VM pool's invariants are the trace's (every checkout
//! returned, no stale interrupt) and `interrupt-storm`'s pool at rest.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use fazt_chaos::tenancy::availability::{self, check_availability, Answer};
use fazt_chaos::tenancy::host_memory::{check_host_memory, PoolSample, ResponseSize};
use fazt_chaos::tenancy::isolation::{canary, check_isolation, Seen};
use fazt_chaos::Violation;
use serde_json::Value;

use super::corpus::{entry, CPU_LOOP};
use super::storage::{rows, stored_bytes};
use super::tenants::{Attack, Storm, Tenants, VictimClient};
use super::victims;
use super::ATTACKER;
use crate::profile::Profile;
use crate::run::http::{self, Recorder, Request, Setup};
use crate::run::property::vm_pool;
use crate::run::server_host::{adversarial_apps, fixture_apps};
use crate::run::Run;
use crate::scenarios::interrupt_storm::pool_at_rest;

/// The runtime timeout of every execution in these runs, for every profile (as in
/// `interrupt-storm`): each CPU loop holds its VM this long. 100 ms keeps a storm of
/// a hundred loops to about two seconds of real time in a debug build, and is still
/// far above what any victim request needs (a few ms).
pub const DEADLINE: Duration = Duration::from_millis(100);

/// How often the pool's figures are sampled while the clients run.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// Execution slots assumed when `/api/_debug/runtime` does not say (the hardened pool).
const SLOTS_DEFAULT: u64 = 16;

/// What the victims and the host must keep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    pub victims: availability::Bounds,
    /// Largest response body any client may receive, in bytes.
    pub response_bytes_max: u64,
}

/// The bounds of the `noisy-neighbor` scenario and of the property tests.
///
/// - At least 99% of each victim's requests succeed: a victim's own requests never
///   fail by design (a duplicate insert's 409 counts as its documented answer), so
///   failures can only come from the neighbour; 1% leaves room for one unlucky request
///   in a hundred, never for a starved stretch.
/// - Victim p99 at most 50 virtual ms, half the [`DEADLINE`]: a victim request that
///   waits for one attacker execution to end waits a whole deadline (100 ms), while
///   sharing the one CPU with a capped attacker's loops (300 µs slices) costs a few ms.
/// - No response over 16 MiB: sixteen times the largest request body the server takes
///   (1 MiB), and a quarter of the corpus's huge response (62.5 MiB at [`super::SIM_MB`]);
///   the runtime's response budget must be at or under it.
pub const HARDENED_BOUNDS: Bounds = Bounds {
    victims: availability::Bounds {
        success_percent_min: 99.0,
        p99_ms_max: 50.0,
    },
    response_bytes_max: 16 << 20,
};

/// The phases of the report.
const ATTACK: &str = "attacker";
const STORM: &str = "storm";

/// What the clients gathered.
#[derive(Default)]
struct Gathered {
    /// Isolation violations found in response bodies.
    isolation: Vec<Violation>,
    sizes: Vec<ResponseSize>,
    /// Each victim app's answers.
    victims: BTreeMap<&'static str, Vec<Answer>>,
    samples: Vec<PoolSample>,
    samples_missed: u64,
    slots: u64,
    storm_clients: u64,
    done: bool,
}

type Shared = Rc<RefCell<Gathered>>;

impl Gathered {
    /// Scans the body `app` answered to `request` with.
    fn response(&mut self, app: &str, request: &str, body: &[u8]) {
        self.isolation.extend(check_isolation([Seen {
            app,
            what: format!("response to {request}"),
            text: body,
        }]));
        self.sizes.push(ResponseSize {
            app: app.to_owned(),
            request: request.to_owned(),
            bytes: body.len() as u64,
        });
    }
}

/// Runs `tenants` under `profile` with `seed`; the report (named `scenario`) carries
/// every broken invariant as a violation.
pub fn run(
    scenario: &str,
    profile: &Profile,
    seed: u64,
    tenants: &Tenants,
    bounds: &Bounds,
) -> Run {
    let mut profile = profile.clone();
    profile.config.runtime.timeout = DEADLINE;
    let setup = Setup {
        apps: vec![fixture_apps(), adversarial_apps()],
        ..Setup::default()
    };
    let shared: Shared = Rc::default();
    let (tenants_in, gathered) = (tenants.clone(), shared.clone());
    let observed = http::observe_with(&profile, seed, setup, move |recorder| {
        drive(recorder, tenants_in, gathered)
    });
    let stored = rows(&observed.db_path());
    let mut violations: Vec<Violation> = vm_pool(&observed.trace);
    let gathered = shared.borrow();
    violations.extend(gathered.isolation.iter().cloned());
    let mut details: BTreeMap<String, u64> = BTreeMap::new();
    match &stored {
        Ok(rows) => {
            violations.extend(check_isolation(rows.iter().map(|row| Seen {
                app: &row.app,
                what: format!("stored {}", row.what),
                text: &row.text,
            })));
            details.insert("attacker_stored_bytes".into(), stored_bytes(rows, ATTACKER));
        }
        Err(why) => violations.push(Violation {
            invariant: "isolation",
            detail: format!("the final database could not be scanned: {why}"),
            involved: Vec::new(),
        }),
    }
    for (app, answers) in &gathered.victims {
        violations.extend(check_availability(app, answers, &bounds.victims));
    }
    violations.extend(check_host_memory(
        &gathered.samples,
        &gathered.sizes,
        bounds.response_bytes_max,
    ));
    if !gathered.samples.iter().any(|s| s.at == AT_REST) {
        violations.push(Violation {
            invariant: "host-memory",
            detail: "GET /api/_debug/runtime did not answer after the run".into(),
            involved: Vec::new(),
        });
    }
    details.insert("slots".into(), gathered.slots);
    details.insert("storm_clients".into(), gathered.storm_clients);
    details.insert("pool_samples".into(), gathered.samples.len() as u64);
    details.insert("pool_samples_missed".into(), gathered.samples_missed);
    details.insert(
        "largest_response_bytes".into(),
        gathered.sizes.iter().map(|s| s.bytes).max().unwrap_or(0),
    );
    let mut at_rest = Vec::new();
    if let Some(rest) = gathered.samples.iter().find(|s| s.at == AT_REST) {
        details.insert("pool_created".into(), rest.created);
        details.insert("pool_discarded".into(), rest.discarded);
        let figure = |name: &str| match name {
            "idle" => rest.idle,
            "busy" => rest.busy,
            "waiters" => rest.waiters,
            "created" => rest.created,
            "discarded" => rest.discarded,
            "evicted" => rest.evicted,
            _ => 0,
        };
        at_rest = pool_at_rest(&figure);
    }
    for (app, answers) in &gathered.victims {
        let failed = answers.iter().filter(|a| !a.ok).count() as u64;
        details.insert(format!("victim_{app}_failed"), failed);
    }
    let mut run = observed.into_run(scenario, &profile, seed);
    run.report.details.extend(details);
    run.report
        .violations
        .extend(violations.iter().map(Violation::to_string));
    run.report.violations.extend(at_rest);
    run
}

/// The name of the sample taken once every client is done.
const AT_REST: &str = "at rest";

async fn drive(recorder: Recorder, tenants: Tenants, shared: Shared) -> turmoil::Result {
    let mut admin = recorder.connect().await;
    let runtime = recorder.admin_json(&mut admin, "/api/_debug/runtime").await;
    let slots = runtime
        .as_ref()
        .and_then(|r| {
            r["admission"]["slots"]
                .as_u64()
                .or(r["pool"]["size"].as_u64())
        })
        .unwrap_or(SLOTS_DEFAULT);
    shared.borrow_mut().slots = slots;
    let sampler = tokio::task::spawn_local(sample(recorder.clone(), shared.clone()));
    let mut clients = Vec::new();
    for (client, attacks) in tenants.attackers.into_iter().enumerate() {
        clients.push(tokio::task::spawn_local(attack(
            recorder.clone(),
            shared.clone(),
            client,
            attacks,
        )));
    }
    for (client, victim) in tenants.victims.into_iter().enumerate() {
        clients.push(tokio::task::spawn_local(serve_victim(
            recorder.clone(),
            shared.clone(),
            client,
            victim,
        )));
    }
    if let Some(storm) = tenants.storm {
        clients.push(tokio::task::spawn_local(storm_of(
            recorder.clone(),
            shared.clone(),
            storm,
            slots,
        )));
    }
    for client in clients {
        client.await?;
    }
    shared.borrow_mut().done = true;
    sampler.await?;
    let sample = pool_sample(&recorder, &mut admin, AT_REST).await;
    shared.borrow_mut().samples.extend(sample);
    Ok(())
}

/// The pool's figures now, as sample `at`.
async fn pool_sample(
    recorder: &Recorder,
    admin: &mut crate::client::HttpClient,
    at: &str,
) -> Option<PoolSample> {
    let runtime: Value = recorder.admin_json(admin, "/api/_debug/runtime").await?;
    let pool = &runtime["pool"];
    let figure = |name: &str| pool[name].as_u64().unwrap_or(0);
    Some(PoolSample {
        at: at.to_owned(),
        size: pool["size"].as_u64()?,
        idle: figure("idle"),
        busy: figure("busy"),
        waiters: figure("waiters"),
        created: figure("created"),
        discarded: figure("discarded"),
        evicted: figure("evicted"),
    })
}

/// Samples the pool every [`SAMPLE_EVERY`] until the clients are done.
async fn sample(recorder: Recorder, shared: Shared) {
    let mut admin = recorder.connect().await;
    let mut n = 0;
    while !shared.borrow().done {
        recorder.clock().sleep(SAMPLE_EVERY).await;
        n += 1;
        match pool_sample(&recorder, &mut admin, &format!("sample {n}")).await {
            Some(sample) => shared.borrow_mut().samples.push(sample),
            None => {
                shared.borrow_mut().samples_missed += 1;
                admin = recorder.connect().await;
            }
        }
    }
}

/// One attacker client: its entries, one after another.
async fn attack(recorder: Recorder, shared: Shared, client: usize, attacks: Vec<Attack>) {
    let mut connection = recorder.connect().await;
    for (n, step) in attacks.iter().enumerate() {
        recorder
            .clock()
            .sleep(Duration::from_millis(step.think_ms))
            .await;
        let id = format!("a{client}-{n}");
        if send_entry(
            &recorder,
            &shared,
            &mut connection,
            ATTACK,
            &step.entry,
            &id,
        )
        .await
            == 0
        {
            connection = recorder.connect().await;
        }
    }
}

/// Sends corpus entry `name` to the attacker as request `id`; gives the status.
async fn send_entry(
    recorder: &Recorder,
    shared: &Shared,
    connection: &mut crate::client::HttpClient,
    phase: &str,
    name: &str,
    id: &str,
) -> u16 {
    let Some(entry) = entry(name) else {
        panic!("no corpus entry {name:?}");
    };
    let request = Request {
        app: ATTACKER,
        method: "POST",
        path: "/api/run",
        id,
        body: Some(entry.body(&canary(ATTACKER, id))),
    };
    let (status, body) = recorder.exchange(connection, phase, request, &[]).await;
    shared.borrow_mut().response(ATTACKER, id, &body);
    status
}

/// The storm: `per_slot` CPU loops per execution slot, all at once.
async fn storm_of(recorder: Recorder, shared: Shared, storm: Storm, slots: u64) {
    recorder
        .clock()
        .sleep(Duration::from_millis(storm.at_ms))
        .await;
    let clients = storm.per_slot * slots;
    shared.borrow_mut().storm_clients = clients;
    let mut loops = Vec::new();
    for n in 0..clients {
        let (recorder, shared) = (recorder.clone(), shared.clone());
        loops.push(tokio::task::spawn_local(async move {
            let mut connection = recorder.connect().await;
            let id = format!("s{n:03}");
            send_entry(&recorder, &shared, &mut connection, STORM, CPU_LOOP, &id).await;
        }));
    }
    for one in loops {
        let _ = one.await;
    }
}

/// One victim client: its requests, one after another, each with its canaries.
async fn serve_victim(recorder: Recorder, shared: Shared, client: usize, victim: VictimClient) {
    let app = victim.app.name();
    let phase = format!("victim {app}");
    let mut connection = recorder.connect().await;
    for (n, step) in victim.steps.iter().enumerate() {
        recorder
            .clock()
            .sleep(Duration::from_millis(step.think_ms))
            .await;
        let id = format!("v{client}-{n}");
        let (method, path, body) = victims::route(victim.app, client, &step.op, &id);
        let (cookie, authorization) = victims::secrets(victim.app, &id);
        let request = Request {
            app,
            method,
            path: &path,
            id: &id,
            body,
        };
        let started = recorder.now_us();
        let (status, answer) = recorder
            .exchange(
                &mut connection,
                &phase,
                request,
                &[("cookie", &cookie), ("authorization", &authorization)],
            )
            .await;
        let latency_us = recorder.now_us().saturating_sub(started);
        {
            let mut gathered = shared.borrow_mut();
            gathered.response(app, &id, &answer);
            gathered.victims.entry(app).or_default().push(Answer {
                request: id.clone(),
                ok: victims::succeeded(&step.op, status),
                latency_us,
            });
        }
        if status == 0 {
            connection = recorder.connect().await;
        }
    }
}
