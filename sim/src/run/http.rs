//! Running HTTP workloads against the engine's server as a turmoil host: one server
//! host with the fixture apps, one client host whose tasks send requests, and every
//! answer recorded as a [`RequestRecord`] (with its phase) next to the engine's trace.
//!
//! Scenarios write only their workload (who sends what, when); the server, the trace
//! capture and the report with root causes are built here the same way for all.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use fazt_engine::env::{Clock, Env, Instant, Rng};
use fazt_engine::events::Event as EngineEvent;

use crate::capture::Capture;
use crate::causes::{cause_class, Causes};
use crate::client::HttpClient;
use crate::disk::SimDisk;
use crate::env::{sim_env, CostModel};
use crate::profile::Profile;
use crate::report::{wall_clock_ms_since, wall_clock_start, Latency, LatencyClock, Phase, Report};
use crate::run::harness;
use crate::run::server_host::{fixture_apps, ServerHost, ADMIN_TOKEN, DOMAIN, PORT};
use crate::run::Run;
use crate::trace::{Said, Trace};

/// What one request came to.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// The part of the workload it belongs to (one phase per test of a seed document).
    pub phase: String,
    pub request_id: String,
    /// The HTTP status; 0 when the connection failed before an answer.
    pub status: u16,
    /// The error body's `kind`, for failures (status ≥ 400 or no answer).
    pub kind: Option<String>,
    /// When it was sent, in virtual µs since the client host started.
    pub started_us: u64,
    /// From sent to answered on the client host's clock ([`LatencyClock::ClientTick1ms`]).
    pub latency_us: u64,
}

/// Each request's server-side latency ([`LatencyClock::EngineVirtualUs`]) by request id,
/// from the engine's `Answered` events in `trace` (the first answer, should an id repeat).
pub fn server_latencies(trace: &Trace) -> BTreeMap<&str, u64> {
    let mut took = BTreeMap::new();
    for event in &trace.events {
        if let Some(EngineEvent::Answered {
            request_id,
            took_us,
            ..
        }) = event.engine()
        {
            took.entry(request_id.as_str()).or_insert(*took_us);
        }
    }
    took
}

/// The client-side and server-side latencies of `outcomes` (the server's over those it
/// answered).
fn latencies<'a>(
    outcomes: impl Iterator<Item = &'a RequestRecord> + Clone,
    server: &BTreeMap<&str, u64>,
) -> (Latency, Latency) {
    let client: Vec<u64> = outcomes.clone().map(|o| o.latency_us).collect();
    let server: Vec<u64> = outcomes
        .filter_map(|o| server.get(o.request_id.as_str()).copied())
        .collect();
    (
        Latency::from_micros(&client, LatencyClock::ClientTick1ms),
        Latency::from_micros(&server, LatencyClock::EngineVirtualUs),
    )
}

/// A client host's view of the run: its clock, and where outcomes go. Cheap to clone;
/// every task of the client host shares it.
#[derive(Clone)]
pub struct Recorder {
    env: Env,
    origin: Instant,
    capture: Capture,
    outcomes: Rc<RefCell<Vec<RequestRecord>>>,
}

impl Recorder {
    /// The client host's environment (clock, and the Rng for think times).
    pub fn env(&self) -> &Env {
        &self.env
    }

    pub fn clock(&self) -> &dyn Clock {
        self.env.clock.as_ref()
    }

    /// Virtual microseconds since the client host started.
    pub fn now_us(&self) -> u64 {
        micros_since(self.clock(), self.origin)
    }

    /// A keep-alive connection to the server, once it listens (it deploys its apps
    /// first).
    pub async fn connect(&self) -> HttpClient {
        loop {
            match HttpClient::connect(&format!("server:{PORT}")).await {
                Ok(client) => return client,
                Err(_) => self.clock().sleep(Duration::from_millis(1)).await,
            }
        }
    }

    /// Sends one request to `app` on `client` and records its outcome in `phase`.
    /// Returns the status (0 when the connection failed: the caller should reconnect).
    pub async fn send(&self, client: &mut HttpClient, phase: &str, request: Request<'_>) -> u16 {
        self.exchange(client, phase, request, &[]).await.0
    }

    /// [`Recorder::send`] with extra `headers`, giving the status and the body (empty
    /// when the connection failed), for workloads that look at what they got back.
    pub async fn exchange(
        &self,
        client: &mut HttpClient,
        phase: &str,
        request: Request<'_>,
        headers: &[(&str, &str)],
    ) -> (u16, Bytes) {
        let host = format!("{}.{DOMAIN}", request.app);
        let started = self.now_us();
        let sent = Said::Sent {
            request: request.id.to_owned(),
        };
        self.capture.note_at(started, "client", sent);
        let answer = client
            .send_with_headers(
                request.method,
                &host,
                request.path,
                request.id,
                request.body.as_ref(),
                headers,
            )
            .await;
        let answered = self.now_us();
        let (status, kind, body) = match answer {
            Ok(response) => {
                let kind = (response.status >= 400).then(|| {
                    serde_json::from_slice::<serde_json::Value>(&response.body)
                        .ok()
                        .and_then(|body| body["kind"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| format!("HTTP {}", response.status))
                });
                (response.status, kind, response.body)
            }
            Err(_) => (0, Some("ConnectionError".to_owned()), Bytes::new()),
        };
        let said = Said::Answered {
            request: request.id.to_owned(),
            says: format!("status={status}"),
            failure: kind.clone(),
        };
        self.capture.note_at(answered, "client", said);
        self.outcomes.borrow_mut().push(RequestRecord {
            phase: phase.to_owned(),
            request_id: request.id.to_owned(),
            status,
            kind,
            started_us: started,
            latency_us: answered.saturating_sub(started),
        });
        (status, body)
    }
}

impl Recorder {
    /// [`admin_json`] as request `admin`, `None` when it failed. Not a workload
    /// request: no outcome is recorded.
    pub async fn admin_json(
        &self,
        client: &mut HttpClient,
        path: &str,
    ) -> Option<serde_json::Value> {
        admin_json(client, path, "admin").await.ok()
    }
}

/// `GET path` on the admin host with the admin token, as request `request_id`: the
/// JSON answer, or why there is none.
pub async fn admin_json(
    client: &mut HttpClient,
    path: &str,
    request_id: &str,
) -> Result<serde_json::Value, String> {
    let authorization = format!("Bearer {ADMIN_TOKEN}");
    let response = client
        .send_with_headers(
            "GET",
            &format!("admin.{DOMAIN}"),
            path,
            request_id,
            None,
            &[("authorization", &authorization)],
        )
        .await
        .map_err(|error| format!("no answer: {error}"))?;
    if response.status != 200 {
        return Err(format!("HTTP {}", response.status));
    }
    serde_json::from_slice(&response.body).map_err(|error| format!("unreadable answer: {error}"))
}

/// One request of a workload.
pub struct Request<'a> {
    pub app: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// The `X-Request-ID`, unique in the run: root causes are found by it.
    pub id: &'a str,
    pub body: Option<serde_json::Value>,
}

fn micros_since(clock: &dyn Clock, origin: Instant) -> u64 {
    u64::try_from(clock.now().saturating_duration_since(origin).as_micros()).unwrap_or(u64::MAX)
}

/// What an HTTP run observed, before it becomes a report.
pub struct Observed {
    pub outcomes: Vec<RequestRecord>,
    pub trace: Trace,
    /// Virtual time the workload took.
    pub virtual_ms: u64,
    pub wall_started: std::time::Instant,
    /// The simulated disk holding the run's database until the report is made.
    disk: SimDisk,
}

/// Runs `workload` on a client host against a server running `profile` (its
/// configuration, on its disk) with `seed`.
pub fn observe<F, Fut>(profile: &Profile, seed: u64, workload: F) -> Observed
where
    F: FnOnce(Recorder) -> Fut + 'static,
    Fut: Future<Output = turmoil::Result> + 'static,
{
    observe_on(profile, seed, profile.cost(), workload)
}

/// [`observe`] with the server's machine costing `cost` (a slower machine: `capacity`).
pub fn observe_on<F, Fut>(profile: &Profile, seed: u64, cost: CostModel, workload: F) -> Observed
where
    F: FnOnce(Recorder) -> Fut + 'static,
    Fut: Future<Output = turmoil::Result> + 'static,
{
    let setup = Setup {
        cost,
        ..Setup::default()
    };
    observe_with(profile, seed, setup, workload)
}

/// What the server host of an HTTP run is given besides its configuration.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The server machine's CPU costs.
    pub cost: CostModel,
    /// Directories of apps deployed at start (see [`ServerHost::apps`]).
    pub apps: Vec<PathBuf>,
}

impl Default for Setup {
    /// The default cost model and the fixture apps.
    fn default() -> Self {
        Setup {
            cost: CostModel::default(),
            apps: vec![fixture_apps()],
        }
    }
}

/// [`observe`] with the server host set up as `setup` says.
pub fn observe_with<F, Fut>(profile: &Profile, seed: u64, setup: Setup, workload: F) -> Observed
where
    F: FnOnce(Recorder) -> Fut + 'static,
    Fut: Future<Output = turmoil::Result> + 'static,
{
    let wall_started = wall_clock_start();
    let disk = SimDisk::new(profile.disk.clone(), Rng::seeded(seed).split("disk"));
    let capture = Capture::default();
    let host = ServerHost {
        config: profile.config.clone(),
        seed,
        cost: setup.cost,
        db: disk.path(DB_FILE),
        disk: Some(disk.clone()),
        capture: capture.clone(),
        apps: setup.apps,
    };
    let outcomes: Rc<RefCell<Vec<RequestRecord>>> = Rc::default();
    let finished_at_us = Rc::new(RefCell::new(0));
    let mut sim = harness::build(seed);
    sim.host("server", move || host.clone().run());
    let (out, done, client_capture) = (outcomes.clone(), finished_at_us.clone(), capture.clone());
    sim.client("client", async move {
        let env = sim_env(seed);
        let origin = env.clock.now();
        let recorder = Recorder {
            env,
            origin,
            capture: client_capture,
            outcomes: out,
        };
        workload(recorder.clone()).await?;
        *done.borrow_mut() = recorder.now_us();
        Ok(())
    });
    sim.run().expect("the simulation runs to completion");
    let virtual_ms = *finished_at_us.borrow() / 1000;
    let outcomes = outcomes.borrow().clone();
    Observed {
        outcomes,
        trace: capture.trace(),
        virtual_ms,
        wall_started,
        disk,
    }
}

/// The database file's name on a run's disk.
pub const DB_FILE: &str = "fazt.db";

impl Observed {
    /// The run's database file, as the server left it: a SQLite URI naming the
    /// simulated disk, for [`fazt_engine::storage::Db::open`].
    pub fn db_path(&self) -> PathBuf {
        self.disk.uri(DB_FILE)
    }

    /// The report of `scenario`: every outcome counted with its root cause from the
    /// trace, and one phase per distinct [`RequestRecord::phase`] when there are several.
    pub fn into_run(self, scenario: &str, profile: &Profile, seed: u64) -> Run {
        let causes = Causes::new(&self.trace);
        let failure = |outcome: &RequestRecord| {
            outcome.kind.as_deref().map(|kind| {
                let cause = causes.root_cause(&outcome.request_id, kind);
                (kind.to_owned(), cause_class(&cause))
            })
        };
        let server = server_latencies(&self.trace);
        let (client, on_server) = latencies(self.outcomes.iter(), &server);
        let mut report = Report::new(
            scenario,
            profile,
            seed,
            &self.trace,
            client,
            self.virtual_ms,
        );
        report.server_latency_ms = Some(on_server);
        let mut phases: Vec<&str> = Vec::new();
        for outcome in &self.outcomes {
            if !phases.contains(&outcome.phase.as_str()) {
                phases.push(&outcome.phase);
            }
            let failure = failure(outcome);
            report.count(failure.as_ref().map(|(k, c)| (k.as_str(), c.clone())));
            *report
                .details
                .entry(format!("status_{}", outcome.status))
                .or_default() += 1;
        }
        if phases.len() > 1 {
            for phase in phases {
                let outcomes: Vec<&RequestRecord> =
                    self.outcomes.iter().filter(|o| o.phase == phase).collect();
                let (client, on_server) = latencies(outcomes.iter().copied(), &server);
                let first_sent = outcomes.iter().map(|o| o.started_us).min().unwrap_or(0);
                let last_answered = outcomes
                    .iter()
                    .map(|o| o.started_us + o.latency_us)
                    .max()
                    .unwrap_or(0);
                let mut summary = Phase::new(phase, client, (last_answered - first_sent) / 1000);
                summary.server_latency_ms = Some(on_server);
                for outcome in outcomes {
                    let failure = failure(outcome);
                    summary.count(failure.as_ref().map(|(k, c)| (k.as_str(), c.clone())));
                }
                report.phases.push(summary);
            }
        }
        report.wall_ms = wall_clock_ms_since(self.wall_started);
        Run {
            report,
            trace: self.trace,
        }
    }
}
