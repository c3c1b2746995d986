//! One run of an app under the simulator: the app deployed alone on the engine's server
//! host, each client sending its planned requests, the fault schedule applied; the
//! history of requests and answers, the trace and the app's final storage come back.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use fazt_chaos::Schedule;
use fazt_engine::env::{timeout_at, Rng};
use serde::Serialize;
use serde_json::Value;

use super::generate::{self, Source};
use super::storage_view;
use super::workload::{Plan, Template, Workload};
use crate::capture::Capture;
use crate::client::HttpClient;
use crate::disk::SimDisk;
use crate::env::sim_env;
use crate::faults;
use crate::profile::Profile;
use crate::run::harness;
use crate::run::property::CLIENT_TIMEOUT;
use crate::run::server_host::{ServerHost, DOMAIN, PORT};
use crate::trace::Trace;

/// The database file's name on the run's simulated disk.
const DB_FILE: &str = "fazt.db";

/// One request and what its client saw.
#[derive(Clone, Debug, Serialize)]
pub struct Exchange {
    /// The request id (`c<client>-<n>`), also sent as `X-Request-ID`.
    pub request: String,
    pub client: usize,
    pub template: String,
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
    /// Virtual µs when it was sent and when its answer (or the client's give-up) came.
    pub sent_us: u64,
    pub answered_us: u64,
    /// The HTTP status; `None`: no answer (connection lost, client timeout).
    pub status: Option<u16>,
    /// The answer's body: JSON when it parses, else text.
    pub response: Value,
    /// What the request did to storage, as far as the client knows: `applied` (a 2xx),
    /// `none` (the server said nothing was written), `unknown` (otherwise).
    pub effects: &'static str,
}

/// What a run left behind.
pub struct Ran {
    pub history: Vec<Exchange>,
    pub trace: Trace,
    /// The app's final storage: `{kv: {key: value}, ds: {collection: [doc]}, s3: {path: blob}}`.
    pub storage: Value,
}

/// The app in `dir`, laid out for deploy under the name `app` in a fresh temporary
/// directory: its files except the simulator's own (`sim/`, the workload).
pub struct Staged {
    pub app: String,
    apps: tempfile::TempDir,
}

impl Staged {
    pub fn new(dir: &Path) -> Result<Staged, String> {
        let name = std::fs::canonicalize(dir)
            .map_err(|error| format!("cannot read the app {}: {error}", dir.display()))?
            .file_name()
            .map(|name| name.to_string_lossy().to_lowercase())
            .ok_or_else(|| format!("{} names no directory", dir.display()))?;
        if !dir.join("api/main.js").is_file() {
            return Err(format!("{} has no api/main.js", dir.display()));
        }
        let apps = tempfile::tempdir().map_err(|error| error.to_string())?;
        copy_app(dir, &apps.path().join(&name))
            .map_err(|error| format!("cannot copy the app {}: {error}", dir.display()))?;
        Ok(Staged { app: name, apps })
    }

    fn apps_dir(&self) -> PathBuf {
        self.apps.path().to_owned()
    }
}

/// Files beside an app that are not part of it.
const NOT_DEPLOYED: &[&str] = &["sim", super::workload::FILE];

fn copy_app(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if NOT_DEPLOYED.contains(&name.to_string_lossy().as_ref()) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &to.join(&name))?;
        } else {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()))?;
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// The run's shared, send-time state: sequences across clients.
type Sequences = Rc<RefCell<BTreeMap<String, u64>>>;

/// Runs `plan` against the staged app under `profile`, `seed` and `schedule`.
pub fn run(
    staged: &Staged,
    workload: &Workload,
    profile: &Profile,
    seed: u64,
    plan: &Plan,
    schedule: &Schedule,
) -> Ran {
    let disk = SimDisk::new(profile.disk.clone(), Rng::seeded(seed).split("disk"));
    let capture = Capture::default();
    let apps = vec![staged.apps_dir()];
    let host = ServerHost::on_disk(profile, seed, &disk, DB_FILE, &capture, apps);
    let mut sim = harness::build(seed);
    sim.host(faults::SERVER, move || host.clone().run());
    let history: Rc<RefCell<Vec<Exchange>>> = Rc::default();
    let sequences: Sequences = Rc::default();
    let stop_us = workload.duration_ms.map_or(u64::MAX, |ms| ms * 1000);
    let mut clients = Vec::new();
    for (index, steps) in plan.iter().enumerate() {
        let name = format!("client-{index}");
        clients.push(name.clone());
        let (steps, out, sequences) = (steps.clone(), history.clone(), sequences.clone());
        let (templates, app, capture) = (
            workload.requests.clone(),
            staged.app.clone(),
            capture.clone(),
        );
        sim.client(name.clone().as_str(), async move {
            let clock = sim_env(seed).clock;
            let origin = clock.now();
            let now_us = || {
                u64::try_from(clock.now().saturating_duration_since(origin).as_micros())
                    .unwrap_or(u64::MAX)
            };
            let mut connection: Option<HttpClient> = None;
            let mut captured = BTreeMap::new();
            let mut planned_us = 0;
            for (n, step) in steps.iter().enumerate() {
                planned_us += step.think_ms * 1000;
                let wait_us = planned_us.saturating_sub(now_us());
                clock.sleep(Duration::from_micros(wait_us)).await;
                if now_us() >= stop_us {
                    break;
                }
                let Some(template_name) = &step.template else {
                    continue;
                };
                let template = &templates[template_name];
                let request = Request::make(
                    template,
                    &mut Source {
                        rng: &Rng::seeded(step.values_seed),
                        sequences: &mut sequences.borrow_mut(),
                        captured: &captured,
                    },
                );
                let id = format!("c{index}-{n}");
                let sent_us = now_us();
                capture.note_at(sent_us, name.as_str(), format!("send {id}"));
                let answer = timeout_at(
                    clock.as_ref(),
                    clock.deadline_in(CLIENT_TIMEOUT),
                    request.send(&mut connection, &app, &id),
                )
                .await
                .unwrap_or(None);
                let answered_us = now_us();
                capture.note_at(answered_us, name.as_str(), format!("answer {id}"));
                let shown = template.shown_as.as_deref().unwrap_or(template_name);
                let exchange = request.exchange(id, index, shown, sent_us, answered_us, answer);
                if exchange.status.is_none() {
                    connection = None;
                }
                if exchange.effects == "applied" {
                    for (key, path) in &template.capture {
                        if let Some(value) = generate::at_path(&exchange.response, path) {
                            captured.insert(key.clone(), value.clone());
                        }
                    }
                }
                out.borrow_mut().push(exchange);
            }
            Ok(())
        });
    }
    faults::drive(&mut sim, schedule, &clients, &disk, &capture)
        .expect("the simulation runs to completion");
    let storage = storage_view::read(&disk.uri(DB_FILE), &staged.app);
    let mut history = history.take();
    history.sort_by_key(|exchange| (exchange.sent_us, exchange.client));
    Ran {
        history,
        trace: capture.trace(),
        storage,
    }
}

/// A request with its values made.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

impl Request {
    fn make(template: &Template, source: &mut Source) -> Request {
        let vars: BTreeMap<String, Value> = template
            .vars
            .iter()
            .map(|(name, value)| (name.clone(), generate::fill(value, source)))
            .collect();
        Request {
            method: template.method.to_uppercase(),
            path: generate::substitute(&template.path, &vars),
            headers: template
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), generate::substitute(v, &vars)))
                .collect(),
            body: template
                .body
                .as_ref()
                .map(|body| generate::fill(body, source)),
        }
    }

    /// Status and body, or `None` when no answer came.
    async fn send(
        &self,
        connection: &mut Option<HttpClient>,
        app: &str,
        id: &str,
    ) -> Option<(u16, bytes::Bytes)> {
        if connection.is_none() {
            let address = format!("{}:{PORT}", faults::SERVER);
            *connection = Some(HttpClient::connect(&address).await.ok()?);
        }
        let client = connection.as_mut()?;
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let host = format!("{app}.{DOMAIN}");
        let response = client
            .send_with_headers(
                &self.method,
                &host,
                &self.path,
                id,
                self.body.as_ref(),
                &headers,
            )
            .await
            .ok()?;
        Some((response.status, response.body))
    }

    fn exchange(
        self,
        request: String,
        client: usize,
        template: &str,
        sent_us: u64,
        answered_us: u64,
        answer: Option<(u16, bytes::Bytes)>,
    ) -> Exchange {
        let (status, response) = match answer {
            Some((status, body)) => {
                let response = serde_json::from_slice(&body)
                    .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(&body).into_owned()));
                (Some(status), response)
            }
            None => (None, Value::Null),
        };
        let effects = match status {
            Some(status) if status < 300 => "applied",
            Some(_) if response["effects"] == "none" => "none",
            _ => "unknown",
        };
        Exchange {
            request,
            client,
            template: template.to_owned(),
            method: self.method,
            path: self.path,
            body: self.body,
            sent_us,
            answered_us,
            status,
            response,
            effects,
        }
    }
}
