//! Running a property-based [`Workload`] with a fault schedule against the real engine,
//! then checking every invariant ([`fazt_chaos::invariants`]) on what the clients saw,
//! the trace and the final database file.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use fazt_chaos::invariants::{check_history, check_integrity, check_vm_pool};
use fazt_chaos::{Action, Op, OpKind, Outcome, Schedule, Violation};
use fazt_engine::env::timeout_at;
use fazt_engine::storage::Db;
use serde_json::{json, Value};

use crate::capture::Capture;
use crate::causes::{Causes, FaultWindows};
use crate::client::HttpClient;
use crate::disk::SimDisk;
use crate::env::{sim_env, TIMER_RESOLUTION};
use crate::faults;
use crate::lost_writes;
use crate::profile::Profile;
use crate::report::{wall_clock_ms_since, wall_clock_start, Latency, LatencyClock, Report};
use crate::run::harness;
use crate::run::server_host::{fixture_apps, ServerHost, DOMAIN, PORT};
use crate::run::Run;
use crate::trace::{Said, Trace, What};
use crate::workload::{Operation, Space, Verb, Workload, APP, PROBE_APP, TWIN_APP};

/// How long a client waits for an answer before it counts the outcome as unknown:
/// longer than any profile's request budget.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// Violations for every failure of `report` whose cause names none of `outages`
/// (nor a connection refused before the server listened): in a run whose only faults
/// are those outages, a failure they do not explain is a gap in the causes or a
/// failure the engine should not have had.
pub fn unexplained_failures(report: &Report, outages: &[&str]) -> Vec<String> {
    let explained = |cause: &String| {
        cause.ends_with(NOT_LISTENING)
            || cause == lost_writes::LOST_AT_POWER_LOSS
            || outages.iter().any(|outage| cause.contains(outage))
    };
    report
        .causes
        .iter()
        .filter(|(cause, _)| !explained(cause))
        .map(|(cause, n)| {
            format!("unexplained-failure: {n} failed with no outage in effect: {cause}")
        })
        .collect()
}

/// The error kind of a request whose connection was refused.
pub const NOT_CONNECTED: &str = "NotConnected";
/// The cause of a refused connection with no fault in effect.
pub const NOT_LISTENING: &str = "server not listening";

/// One operation as its client observed it.
#[derive(Clone, Debug)]
pub struct Answer {
    pub op: Op,
    /// What it asked for.
    pub operation: Operation,
    /// The error kind of a failure.
    pub kind: Option<String>,
    /// The JSON body of the answer (`null` when there was none).
    pub body: Value,
    /// When the connection it went over was opened (µs): a crash between then and the
    /// answer breaks the exchange, even one sent after the server came back.
    pub connected_us: u64,
}

/// What a run left for the checkers beyond the history: read before its files go.
pub struct Evidence<'a> {
    pub answers: &'a [Answer],
    pub trace: &'a Trace,
    pub db: &'a Path,
    /// The runtime's figures as the server served them at the end (the property
    /// search's runs only: [`run_checked`]).
    pub scraped: Option<&'a Scrape>,
}

/// The request id of the scrape of [`RUNTIME_PATH`], by which the checkers find its
/// answer in the trace.
pub const SCRAPE_REQUEST: &str = "scrape-runtime";

/// Where the admin API serves the runtime's figures (the VM pool's among them).
pub const RUNTIME_PATH: &str = "/api/_debug/runtime";

/// What the run's last client read at [`RUNTIME_PATH`] after its workload, so that the
/// checkers can hold the figures the server serves against its trace.
#[derive(Clone, Debug)]
pub struct Scrape {
    /// When it was sent and answered (µs, on the client's clock).
    pub sent_us: u64,
    pub answered_us: u64,
    /// The JSON answer, or why there was none.
    pub answer: Result<Value, String>,
}

/// Checks of a run beyond the history's; they may add numbers to the report's details.
pub type Checks<'a> = &'a dyn Fn(&Evidence, &mut BTreeMap<String, u64>) -> Vec<Violation>;

/// The database file's name on the run's simulated disk.
const DB_FILE: &str = "fazt.db";

/// Runs `workload` under `profile` with `seed` and `schedule`; the report's violations
/// are the invariants it broke.
pub fn run(profile: &Profile, seed: u64, workload: &Workload, schedule: &Schedule) -> Run {
    run_scraping(profile, seed, workload, schedule, &|_, _| Vec::new(), false)
}

/// [`run`], with `checks` run on the evidence too, which holds the runtime's figures as
/// the last client read them after its workload ([`Scrape`]). Only here: the scrape is
/// one more request (and request-log write) at the end of the trace, which the
/// scenarios that run through [`run`] do not make.
pub fn run_checked(
    profile: &Profile,
    seed: u64,
    workload: &Workload,
    schedule: &Schedule,
    checks: Checks,
) -> Run {
    run_scraping(profile, seed, workload, schedule, checks, true)
}

fn run_scraping(
    profile: &Profile,
    seed: u64,
    workload: &Workload,
    schedule: &Schedule,
    checks: Checks,
    scrape: bool,
) -> Run {
    let wall = wall_clock_start();
    let disk = SimDisk::new(
        profile.disk.clone(),
        fazt_engine::env::Rng::seeded(seed).split("disk"),
    );
    // The checkers open the database by path alone: a URI naming the disk's VFS.
    let db = disk.uri(DB_FILE);
    // The apps are real files, read at deploy: only the database is on the disk.
    let dir = tempfile::tempdir().expect("a temp dir for the twin app");
    let twin = twin_app(dir.path());
    let capture = Capture::default();
    let mut apps = vec![fixture_apps(), twin];
    // The search's own apps only when the workload sends to them: the scenarios that
    // run through here deploy exactly what they did before.
    let mut steps = workload.clients.iter().flatten();
    if steps.any(|step| step.op.app() == PROBE_APP) {
        apps.push(search_apps());
    }
    let host = ServerHost::on_disk(profile, seed, &disk, DB_FILE, &capture, apps);
    let mut sim = harness::build(seed);
    sim.host(faults::SERVER, move || host.clone().run());
    let observed: Rc<RefCell<Vec<Answer>>> = Rc::default();
    let scraped: Rc<RefCell<Option<Scrape>>> = Rc::default();
    let scraper = workload.clients.len().checked_sub(1).filter(|_| scrape);
    let mut clients = Vec::new();
    for (index, steps) in workload.clients.iter().enumerate() {
        let name = format!("client-{index}");
        clients.push(name.clone());
        let (steps, out, capture) = (steps.clone(), observed.clone(), capture.clone());
        let scrape_to = (scraper == Some(index)).then(|| scraped.clone());
        let host_name = name.clone();
        sim.client(host_name.as_str(), async move {
            let clock = sim_env(seed).clock;
            let origin = clock.now();
            let now_us = || {
                u64::try_from(clock.now().saturating_duration_since(origin).as_micros())
                    .unwrap_or(u64::MAX)
            };
            let (mut connection, mut connected_us): (Option<HttpClient>, u64) = (None, 0);
            for (n, step) in steps.iter().enumerate() {
                clock.sleep(Duration::from_millis(step.think_ms)).await;
                let request = format!("c{index}-{n}");
                let invoked = now_us();
                let sent = Said::Sent {
                    request: request.clone(),
                };
                capture.note_at(invoked, name.as_str(), sent);
                if connection.is_none() {
                    connected_us = invoked;
                }
                let answer = timeout_at(
                    clock.as_ref(),
                    clock.deadline_in(CLIENT_TIMEOUT),
                    send(&mut connection, &step.op, &request),
                )
                .await
                .unwrap_or(Exchange::Unanswered);
                let completed = now_us();
                let mut answer = observe(&step.op, &request, &name, invoked, completed, answer);
                answer.connected_us = connected_us;
                if !matches!(answer.op.outcome, Outcome::Ok) {
                    connection = None;
                }
                let answered = Said::Answered {
                    request,
                    says: format!("{:?}", answer.op.outcome),
                    failure: answer.kind.clone(),
                };
                capture.note_at(completed, name.as_str(), answered);
                out.borrow_mut().push(answer);
            }
            if let Some(scrape_to) = scrape_to {
                let sent_us = now_us();
                let answer = timeout_at(
                    clock.as_ref(),
                    clock.deadline_in(CLIENT_TIMEOUT),
                    scrape_runtime(&mut connection),
                )
                .await
                .unwrap_or_else(|_| Err("no answer within the client's timeout".into()));
                let answered_us = now_us();
                *scrape_to.borrow_mut() = Some(Scrape {
                    sent_us,
                    answered_us,
                    answer,
                });
            }
            Ok(())
        });
    }
    faults::drive(&mut sim, schedule, &clients, &disk, &capture)
        .expect("the simulation runs to completion");

    let trace = capture.trace();
    let observed = observed.borrow();
    let ops: Vec<Op> = observed.iter().map(|answer| answer.op.clone()).collect();
    let mut violations = Vec::new();
    let operations = observed.iter().map(|answer| answer.operation.clone());
    let final_state = read_registers(&db, &ops, operations);
    let durability = profile.config.storage.policy.durability;
    let lost = lost_writes::judge(&ops, &final_state, schedule, durability);
    violations.extend(lost.violations);
    let (history, summary) = check_history(&lost.history, &final_state);
    violations.extend(history);
    violations.extend(vm_pool(&trace));
    violations.extend(check_integrity(&db));
    let mut details = BTreeMap::new();
    let scraped = scraped.borrow();
    let evidence = Evidence {
        answers: &observed,
        trace: &trace,
        db: &db,
        scraped: scraped.as_ref(),
    };
    violations.extend(checks(&evidence, &mut details));

    let latencies: Vec<u64> = ops
        .iter()
        .map(|op| op.completed_us - op.invoked_us)
        .collect();
    let server = crate::run::http::server_latencies(&trace);
    let on_server: Vec<u64> = ops
        .iter()
        .filter_map(|op| server.get(op.request.as_str()).copied())
        .collect();
    let virtual_ms = ops.iter().map(|op| op.completed_us).max().unwrap_or(0) / 1000;
    let client = Latency::from_micros(&latencies, LatencyClock::ClientTick1ms);
    let mut report = Report::new("property", profile, seed, &trace, client, virtual_ms);
    report.server_latency_ms = Some(Latency::from_micros(
        &on_server,
        LatencyClock::EngineVirtualUs,
    ));
    // Requests told "failed" whose write landed anyway.
    let ghosts: BTreeSet<&str> = violations
        .iter()
        .filter(|v| v.invariant == "failed-write-landed")
        .flat_map(|v| v.involved.iter().map(String::as_str))
        .collect();
    let (faults, engine) = (FaultWindows::new(&trace), Causes::new(&trace));
    for Answer {
        op,
        kind,
        connected_us,
        ..
    } in observed.iter()
    {
        let (kind, what) = match (&op.outcome, kind) {
            // A 409 is the app's answer to an insert over an existing id.
            (Outcome::Ok, _) if lost.allowed.contains(&op.request) => {
                let cause = lost_writes::LOST_AT_POWER_LOSS.to_owned();
                report.count(Some((lost_writes::LOST, cause)));
                continue;
            }
            (Outcome::Ok, _) => {
                report.count(None);
                continue;
            }
            (Outcome::Failed, Some(kind)) if kind == "HTTP 409" => {
                report.count(None);
                continue;
            }
            (Outcome::Failed, kind) if ghosts.contains(op.request.as_str()) => (
                kind.as_deref().unwrap_or("Failed"),
                "ghost write (reported failed, landed)",
            ),
            (Outcome::Failed, kind) => (kind.as_deref().unwrap_or("Failed"), "definite failure"),
            (Outcome::Unknown, kind) => (kind.as_deref().unwrap_or("NoAnswer"), "outcome unknown"),
        };
        // The fault behind it, when one was in effect while it ran. The clients read
        // tokio's clock, which trails the engine's events by up to one timer tick.
        let tick_us = TIMER_RESOLUTION.as_micros() as u64;
        // Otherwise, what the engine's trace says (a stale interrupt, ...).
        let cause = match faults.during(*connected_us, op.completed_us + tick_us) {
            Some(fault) => format!("{what} ({fault})"),
            // Refused at connect with no fault in effect: nothing listened yet (a
            // client that started while the server was still deploying its apps).
            None if kind == NOT_CONNECTED => format!("{what}: {NOT_LISTENING}"),
            None => match engine.root_cause(&op.request, kind) {
                root if root == kind || root.ends_with("(no execution)") => what.to_owned(),
                root => format!("{what}: {root}"),
            },
        };
        report.count(Some((kind, cause)));
    }
    report.details.extend(details);
    report.details.insert("registers".into(), summary.registers);
    report
        .details
        .insert("linearizability_undecided".into(), summary.undecided);
    report
        .details
        .insert("faults".into(), schedule.faults.len() as u64);
    report.violations = violations.iter().map(Violation::to_string).collect();
    report.schedule = Some(schedule.clone());
    report.wall_ms = wall_clock_ms_since(wall);
    Run { report, trace }
}

/// What a client got back.
enum Exchange {
    /// Status and JSON body.
    Answered(u16, Value),
    /// Could not even connect: nothing was sent.
    NeverConnected,
    /// Sent, but no answer (connection lost, timeout).
    Unanswered,
}

/// The client's keep-alive connection, opened when it has none (`None`: refused).
async fn connected(connection: &mut Option<HttpClient>) -> Option<&mut HttpClient> {
    if connection.is_none() {
        let address = format!("{}:{PORT}", faults::SERVER);
        *connection = HttpClient::connect(&address).await.ok();
    }
    connection.as_mut()
}

async fn send(connection: &mut Option<HttpClient>, op: &Operation, request: &str) -> Exchange {
    let Some(client) = connected(connection).await else {
        return Exchange::NeverConnected;
    };
    let (method, path) = op.route();
    let body = (op.writes() && op.verb != Verb::Delete).then(|| json!({ "value": request }));
    let host = format!("{}.{DOMAIN}", op.app());
    match client
        .send(method, &host, &path, request, body.as_ref())
        .await
    {
        Ok(response) => {
            let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            Exchange::Answered(response.status, body)
        }
        Err(_) => Exchange::Unanswered,
    }
}

/// The runtime's figures, read over the client's connection (or a new one).
async fn scrape_runtime(connection: &mut Option<HttpClient>) -> Result<Value, String> {
    let client = connected(connection).await.ok_or("connection refused")?;
    crate::run::http::admin_json(client, RUNTIME_PATH, SCRAPE_REQUEST).await
}

/// The history entry of one operation, with the error kind when it failed.
fn observe(
    operation: &Operation,
    request: &str,
    client: &str,
    invoked_us: u64,
    completed_us: u64,
    answer: Exchange,
) -> Answer {
    let value = Some(request.to_owned());
    let raw = match &answer {
        Exchange::Answered(_, body) => body.clone(),
        _ => Value::Null,
    };
    let (outcome, kind, body) = match answer {
        Exchange::Answered(status, body) if status < 300 => (Outcome::Ok, None, body),
        Exchange::Answered(status, body) => {
            let kind = body["kind"]
                .as_str()
                .map_or_else(|| format!("HTTP {status}"), str::to_owned);
            // Only the server's word that nothing was written is a definite failure
            // (a 409 for an existing document id writes nothing either).
            let definite = status == 409 || body["effects"] == "none";
            let outcome = if definite {
                Outcome::Failed
            } else {
                Outcome::Unknown
            };
            (outcome, Some(kind), Value::Null)
        }
        Exchange::NeverConnected => (Outcome::Failed, Some(NOT_CONNECTED.into()), Value::Null),
        Exchange::Unanswered => (Outcome::Unknown, Some("NoAnswer".into()), Value::Null),
    };
    let kind_of_op = match (operation.space, operation.verb) {
        (_, Verb::Get) => OpKind::Read(body["value"].as_str().map(str::to_owned)),
        // Lists and the ledger touch no register: their own, never written, reads as
        // absent.
        (_, Verb::List | Verb::Enlist | Verb::Bump | Verb::Probe) => OpKind::Read(None),
        (_, Verb::Delete) => OpKind::Write(None),
        (Space::Ds, Verb::Put) => OpKind::Insert(request.to_owned()),
        (Space::Ds, Verb::Update) => OpKind::Update {
            value: request.to_owned(),
            matched: outcome != Outcome::Ok || body["matched"].as_u64().unwrap_or(0) > 0,
        },
        (_, Verb::Put | Verb::Update | Verb::Pair) => OpKind::Write(value),
    };
    let op = Op {
        request: request.to_owned(),
        client: client.to_owned(),
        register: operation.register(),
        kind: kind_of_op,
        invoked_us,
        completed_us,
        outcome,
    };
    Answer {
        op,
        operation: operation.clone(),
        kind,
        body: raw,
        connected_us: invoked_us,
    }
}

/// A copy of the `registers` app deployed as [`TWIN_APP`] (under `dir`), so that two
/// apps share every key and collection name.
fn twin_app(dir: &Path) -> std::path::PathBuf {
    let apps = dir.join("twin");
    let api = apps.join(TWIN_APP).join("api");
    std::fs::create_dir_all(&api).expect("the twin app's directory");
    let source = fixture_apps().join(APP).join("api/main.js");
    std::fs::copy(source, api.join("main.js")).expect("the registers app copied");
    apps
}

/// Where the property search's own apps live (`fixtures/search-apps`): deployed only
/// for workloads that send to them.
fn search_apps() -> std::path::PathBuf {
    fixture_apps().join("../search-apps")
}

/// The final value of every register the history touched, read from the file.
fn read_registers(
    path: &Path,
    ops: &[Op],
    operations: impl Iterator<Item = Operation>,
) -> BTreeMap<String, Option<String>> {
    let Ok(db) = Db::open(path) else {
        return BTreeMap::new();
    };
    let mut state = BTreeMap::new();
    let registers = ops.iter().zip(operations).filter(|(_, o)| o.on_register());
    for (op, _) in registers {
        if state.contains_key(&op.register) {
            continue;
        }
        let (app, register) = op.register.split_once('/').unwrap_or((APP, &op.register));
        let (space, key) = register.split_once(':').expect("registers are space:key");
        let sql = match space {
            "kv" => "SELECT json_extract(value, '$') FROM app_kv WHERE app_id = ?1 AND key = ?2",
            "ds" => "SELECT json_extract(data, '$.value') FROM app_docs WHERE app_id = ?1 AND collection = 'registers' AND id = ?2",
            _ => "SELECT CAST(data AS TEXT) FROM app_blobs WHERE app_id = ?1 AND path = ?2",
        };
        let value: Option<String> = db.conn().query_row(sql, [app, key], |row| row.get(0)).ok();
        state.insert(op.register.clone(), value);
    }
    state
}

/// The VM pool invariant over each server lifetime (a crash ends one early); every
/// scenario that checks the pool checks it through this.
pub(crate) fn vm_pool(trace: &Trace) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut lifetime = Vec::new();
    for event in &trace.events {
        match &event.what {
            What::Fault {
                action: Action::Crash { .. } | Action::PowerLoss { .. },
            } => violations.extend(check_vm_pool(lifetime.drain(..), false)),
            What::Engine { event, .. } => lifetime.push(event),
            _ => {}
        }
    }
    violations.extend(check_vm_pool(lifetime, true));
    violations
}
