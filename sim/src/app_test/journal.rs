//! Reading a request journal of `fazt server start --journal` (a file, or a directory of
//! rotated `journal-N.jsonl` files) and turning it into what `fazt-sim test` runs: one
//! request template per journaled request and a plan that sends each at its arrival
//! time, relative to the first.
//!
//! Each request is its own client, so requests that overlapped in production overlap
//! in the simulator too. Server runs (a restart starts one, [`JournalEntry::run`]) follow
//! each other, each starting [`RUN_GAP_MS`] after the previous one's last arrival.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fazt_engine::server::journal::journal_files;
use fazt_engine::server::JournalEntry;
use serde_json::Value;

use super::workload::{Step, Template, Workload};

/// Virtual ms between the last arrival of one server run and the first of the next.
pub const RUN_GAP_MS: u64 = 100;

/// Faults drawn per replay at most: as many as `fazt-sim test` draws by default.
pub const FAULTS_MAX: usize = 3;

/// Header fields the simulator's client sets itself (or that describe the
/// connection, not the request): not replayed from the journal.
const NOT_REPLAYED: [&str; 10] = [
    "host",
    "content-length",
    "content-type",
    "x-request-id",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "expect",
];

/// One journaled request the simulator can send.
#[derive(Clone, Debug)]
pub struct Replayable {
    /// `file:line` in the journal.
    pub source: String,
    /// Arrival, virtual ms from the journal's first.
    pub at_ms: u64,
    pub entry: JournalEntry,
    /// The body as JSON (the simulator's client sends JSON bodies).
    pub body: Option<Value>,
}

/// A journal, read and ordered by arrival.
#[derive(Clone, Debug)]
pub struct Journal {
    /// The path it was read from.
    pub path: PathBuf,
    pub requests: Vec<Replayable>,
    /// Requests that cannot be replayed, with why (`file:line: reason`).
    pub skipped: Vec<String>,
}

impl Journal {
    /// Reads the journal at `path` (a file, or a directory of `journal-N.jsonl`, in
    /// order), keeping the requests of `app` only. A line that is not a journal entry
    /// is an error naming its file and line.
    pub fn read(path: &Path, app: &str) -> Result<Journal, String> {
        let files = if path.is_dir() {
            let files = journal_files(path)
                .map_err(|error| format!("cannot read the journal {}: {error}", path.display()))?;
            if files.is_empty() {
                return Err(format!("{} holds no journal-N.jsonl file", path.display()));
            }
            files.into_iter().map(|(_, file)| file).collect()
        } else {
            vec![path.to_owned()]
        };
        let mut entries = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file)
                .map_err(|error| format!("cannot read the journal {}: {error}", file.display()))?;
            entries.extend(parse(&text, &file.display().to_string())?);
        }
        let mut journal = Journal {
            path: path.to_owned(),
            requests: Vec::new(),
            skipped: Vec::new(),
        };
        entries.retain(|(_, entry)| entry.app == app);
        // Runs in order, arrivals in order within a run; the sort is stable, so equal
        // arrivals keep the journal's order.
        entries.sort_by_key(|(_, entry)| (entry.run, entry.at_us));
        let mut runs: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for (_, entry) in &entries {
            let span = runs.entry(entry.run).or_insert((entry.at_us, entry.at_us));
            span.1 = span.1.max(entry.at_us);
        }
        // Each run's first arrival, in virtual ms from the journal's start.
        let mut run_start_ms = BTreeMap::new();
        let mut next_ms = 0;
        for (run, (first_us, last_us)) in &runs {
            run_start_ms.insert(*run, (next_ms, *first_us));
            next_ms += (last_us - first_us) / 1000 + RUN_GAP_MS;
        }
        for (source, entry) in entries {
            let (start_ms, first_us) = run_start_ms[&entry.run];
            let at_ms = start_ms + (entry.at_us - first_us) / 1000;
            match replayable_body(&entry) {
                Ok(body) => journal.requests.push(Replayable {
                    source,
                    at_ms,
                    entry,
                    body,
                }),
                Err(reason) => journal.skipped.push(format!("{source}: {reason}")),
            }
        }
        if journal.requests.is_empty() {
            return Err(format!(
                "{} holds no request of the app {app} that can be replayed{}",
                path.display(),
                journal
                    .skipped
                    .first()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default()
            ));
        }
        Ok(journal)
    }

    /// The template name of the `index`th request.
    pub fn template_name(index: usize) -> String {
        format!("r{index:05}")
    }

    /// The index of the request a template name names.
    pub fn index_of(template: &str) -> Option<usize> {
        template.strip_prefix('r')?.parse().ok()
    }

    /// The workload the replay runs: one literal template per request, no clients of
    /// its own (the plan comes from [`super::journal_mutate`]). A request matching a
    /// template of the app's own workload (`app`, its `fazt-sim.json`) goes by that
    /// template's name in the run's history.
    pub fn workload(&self, app: Option<&Workload>, shift_ms_max: u64) -> Workload {
        let requests = self
            .requests
            .iter()
            .enumerate()
            .map(|(index, request)| {
                let mut template = template(request);
                template.shown_as = app.and_then(|app| matching_template(app, &template));
                (Journal::template_name(index), template)
            })
            .collect();
        Workload {
            requests,
            clients: Vec::new(),
            requests_per_client: 1,
            think_ms: [0, 0],
            duration_ms: Some(self.span_ms() + shift_ms_max + 1),
            faults_max: FAULTS_MAX,
        }
    }

    /// The last arrival, in virtual ms from the first.
    pub fn span_ms(&self) -> u64 {
        self.requests.iter().map(|r| r.at_ms).max().unwrap_or(0)
    }

    /// The step sending the `index`th request `at_ms` after the start.
    pub fn step(index: usize, at_ms: u64) -> Step {
        Step {
            think_ms: at_ms,
            template: Some(Journal::template_name(index)),
            values_seed: 0,
        }
    }
}

/// The lines of one journal file; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Vec<(String, JournalEntry)>, String> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let source = format!("{file}:{}", number + 1);
        if line.trim().is_empty() {
            continue;
        }
        let entry: JournalEntry = serde_json::from_str(line)
            .map_err(|error| format!("{source}: not a journal entry: {error}"))?;
        if !entry.path.starts_with('/') {
            return Err(format!(
                "{source}: not a journal entry: the path {:?} does not start with /",
                entry.path
            ));
        }
        if hyper::Method::from_bytes(entry.method.as_bytes()).is_err() {
            return Err(format!(
                "{source}: not a journal entry: {:?} is not an HTTP method",
                entry.method
            ));
        }
        entries.push((source, entry));
    }
    Ok(entries)
}

/// The body the simulator's client can send for `entry`, or why it cannot.
fn replayable_body(entry: &JournalEntry) -> Result<Option<Value>, String> {
    if entry.body_truncated {
        return Err("the body was longer than the server's limit; only its start is kept".into());
    }
    if entry.body_base64.is_some() {
        return Err("the body is not UTF-8; the simulator's client sends JSON bodies".into());
    }
    let Some(text) = &entry.body else {
        return Ok(None);
    };
    let body: Value = serde_json::from_str(text)
        .map_err(|_| "the body is not JSON; the simulator's client sends JSON bodies")?;
    if holds_generator(&body) {
        return Err(
            "the body holds a {\"$…\": …} object, which a workload template reads as a generator"
                .into(),
        );
    }
    Ok(Some(body))
}

/// True when `value` holds an object of one `$` key: a generator to a template.
fn holds_generator(value: &Value) -> bool {
    match value {
        Value::Object(fields) => {
            (fields.len() == 1 && fields.keys().all(|k| k.starts_with('$')))
                || fields.values().any(holds_generator)
        }
        Value::Array(items) => items.iter().any(holds_generator),
        _ => false,
    }
}

/// The name of the first template of `app` with the method of `request` and a path
/// (query aside) its path fits, each `{var}` standing for any text.
fn matching_template(app: &Workload, request: &Template) -> Option<String> {
    let path = request.path.split('?').next().unwrap_or_default();
    app.requests
        .iter()
        .find(|(_, template)| {
            template.method.eq_ignore_ascii_case(&request.method)
                && path_fits(template.path.split('?').next().unwrap_or_default(), path)
        })
        .map(|(name, _)| name.clone())
}

/// True when `path` is `pattern` with each `{var}` replaced by some non-empty text.
fn path_fits(pattern: &str, path: &str) -> bool {
    let Some((literal, rest)) = pattern.split_once('{') else {
        return pattern == path;
    };
    let Some(path) = path.strip_prefix(literal) else {
        return false;
    };
    let Some((_, after)) = rest.split_once('}') else {
        return pattern == path;
    };
    // The placeholder takes one or more characters; the rest must fit after them.
    (1..=path.len())
        .filter(|end| path.is_char_boundary(*end))
        .any(|end| path_fits(after, &path[end..]))
}

/// The literal template of one request: its method, path and query, headers (those
/// the client does not set itself) and body.
fn template(request: &Replayable) -> Template {
    let headers = request
        .entry
        .headers
        .iter()
        .filter(|(name, _)| !NOT_REPLAYED.contains(&name.to_ascii_lowercase().as_str()))
        .cloned()
        .collect();
    Template {
        method: request.entry.method.clone(),
        path: request.entry.path.clone(),
        headers,
        body: request.body.clone(),
        vars: BTreeMap::new(),
        capture: BTreeMap::new(),
        shown_as: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"run":1,"at_us":2500,"request_id":"a","app":"shop","method":"POST","path":"/api/x?y=1","headers":[["content-type","application/json"],["accept","*/*"]],"body":"{\"n\":1}","status":200}"#;

    #[test]
    fn a_corrupt_line_is_named() {
        let text = format!("{LINE}\n{{\"run\": 1, \"at_us\": \"soon\"}}\n");
        let error = parse(&text, "journal-1.jsonl").unwrap_err();
        assert!(
            error.starts_with("journal-1.jsonl:2: not a journal entry"),
            "{error}"
        );
    }

    #[test]
    fn a_hostile_line_is_refused_with_its_line() {
        let hostile = LINE.replace("/api/x?y=1", "http://evil.example/");
        let error = parse(&format!("{LINE}\n\n{hostile}\n"), "j").unwrap_err();
        assert!(error.starts_with("j:3: not a journal entry"), "{error}");
        let hostile = LINE.replace("\"POST\"", "\"PO ST\"");
        let error = parse(&hostile, "j").unwrap_err();
        assert!(error.contains("is not an HTTP method"), "{error}");
        let truncated = &LINE[..LINE.len() / 2];
        assert!(parse(truncated, "j").unwrap_err().starts_with("j:1: "));
    }

    #[test]
    fn runs_and_arrivals_order_the_requests() {
        let dir = tempfile::tempdir().unwrap();
        let line = |run: u64, at_us: u64, id: &str| {
            LINE.replace("\"run\":1", &format!("\"run\":{run}"))
                .replace("\"at_us\":2500", &format!("\"at_us\":{at_us}"))
                .replace("\"request_id\":\"a\"", &format!("\"request_id\":\"{id}\""))
        };
        let first = [line(1, 9000, "b"), line(1, 1000, "a")].join("\n");
        let second = [line(1, 12000, "c"), line(3, 500, "d")].join("\n");
        std::fs::write(dir.path().join("journal-1.jsonl"), first).unwrap();
        std::fs::write(dir.path().join("journal-2.jsonl"), second).unwrap();
        let journal = Journal::read(dir.path(), "shop").unwrap();
        let order: Vec<(&str, u64)> = journal
            .requests
            .iter()
            .map(|r| (r.entry.request_id.as_str(), r.at_ms))
            .collect();
        assert_eq!(
            order,
            [("a", 0), ("b", 8), ("c", 11), ("d", 11 + RUN_GAP_MS)]
        );
        let app: Workload = serde_json::from_str(
            r#"{"requests": {"get": {"path": "/api/x"}, "post": {"method": "POST", "path": "/api/{id}"}},
                "clients": [], "requests_per_client": 1}"#,
        )
        .unwrap();
        let workload = journal.workload(Some(&app), 0);
        let template = &workload.requests[&Journal::template_name(0)];
        assert_eq!(template.path, "/api/x?y=1");
        assert_eq!(
            template.headers,
            [("accept".to_owned(), "*/*".to_owned())].into()
        );
        assert_eq!(template.shown_as.as_deref(), Some("post"));
    }

    #[test]
    fn placeholders_fit_any_text() {
        assert!(path_fits("/api/items/{id}", "/api/items/42"));
        assert!(path_fits("/api/{a}/x/{b}", "/api/1/x/2"));
        assert!(!path_fits("/api/items/{id}", "/api/items/"));
        assert!(!path_fits("/api/count", "/api/counts"));
    }

    #[test]
    fn bodies_that_cannot_be_sent_are_skipped_with_why() {
        let text = LINE.replace(r#""body":"{\"n\":1}""#, r#""body":"plain text""#);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, format!("{LINE}\n{text}\n")).unwrap();
        let journal = Journal::read(&path, "shop").unwrap();
        assert_eq!(journal.requests.len(), 1);
        assert!(journal.skipped[0]
            .ends_with(":2: the body is not JSON; the simulator's client sends JSON bodies"));
    }
}
