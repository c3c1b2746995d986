//! What a test found: per profile, which seeds broke which invariant; the first
//! failure, shrunk, with its case file, replay command, minimal history and root
//! causes. Printed for a person, or as JSON (`--json`) for CI.

use std::fmt::Write;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use serde::Serialize;

use super::case::Case;
use super::fault_kinds::FaultKinds;
use super::generic::describe;
use super::run::{Exchange, Ran};
use super::{App, Verdict};
use crate::causes::Causes;
use crate::profile::Profile;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub app: String,
    /// Seeds as `A..=B`.
    pub seeds: String,
    pub faults: &'static str,
    pub profiles: Vec<ProfileSummary>,
    /// The first failure, shrunk; `None`: every run held every invariant.
    pub failure: Option<Failure>,
}

#[derive(Debug, Serialize)]
pub struct ProfileSummary {
    pub profile: String,
    pub runs: u64,
    pub failed_seeds: Vec<u64>,
    pub invariants: Vec<InvariantSummary>,
}

/// One invariant over a profile's seeds.
#[derive(Debug, Serialize)]
pub struct InvariantSummary {
    pub name: String,
    pub failed_seeds: Vec<u64>,
    /// The first failure's message.
    pub first_failure: Option<String>,
}

/// A failing case, shrunk and explained.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub case: PathBuf,
    pub replay: String,
    pub profile: String,
    pub seed: u64,
    pub requests: usize,
    pub faults: Vec<String>,
    /// The invariants the minimal case breaks, with why.
    pub broke: Vec<Verdict>,
    /// The minimal run's requests, as sent and answered.
    pub history: Vec<String>,
    /// Root causes of its requests that did not succeed, from the engine's trace.
    pub causes: Vec<String>,
    /// Requests of different clients that were in flight together: where a race is.
    pub concurrent: Vec<String>,
}

impl Summary {
    pub fn new(app: &App, seeds: &RangeInclusive<u64>, faults: FaultKinds) -> Summary {
        Summary {
            app: app.staged.app.clone(),
            seeds: format!("{}..={}", seeds.start(), seeds.end()),
            faults: faults.name(),
            profiles: Vec::new(),
            failure: None,
        }
    }

    pub fn passed(&self) -> bool {
        self.profiles.iter().all(|p| p.failed_seeds.is_empty())
    }

    /// The summary for a person.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for p in &self.profiles {
            let _ = writeln!(
                out,
                "{} under {}, seeds {}, faults {}: {} runs, {} failed",
                self.app,
                p.profile,
                self.seeds,
                self.faults,
                p.runs,
                p.failed_seeds.len()
            );
            for invariant in &p.invariants {
                let verdict = match invariant.failed_seeds.len() {
                    0 => "ok".to_owned(),
                    n => format!("FAILED on {n} seeds {:?}", invariant.failed_seeds),
                };
                let _ = writeln!(out, "  {:<32} {verdict}", invariant.name);
            }
        }
        if let Some(failure) = &self.failure {
            out += &failure.render();
        }
        out
    }
}

impl ProfileSummary {
    pub fn new(profile: &Profile) -> ProfileSummary {
        ProfileSummary {
            profile: profile.name.to_owned(),
            runs: 0,
            failed_seeds: Vec::new(),
            invariants: Vec::new(),
        }
    }

    /// Counts one seed's verdicts.
    pub fn add(&mut self, seed: u64, verdicts: &[Verdict]) {
        self.runs += 1;
        if verdicts.iter().any(|v| v.failure.is_some()) {
            self.failed_seeds.push(seed);
        }
        for verdict in verdicts {
            let index = match self.invariants.iter().position(|i| i.name == verdict.name) {
                Some(index) => index,
                None => {
                    self.invariants.push(InvariantSummary {
                        name: verdict.name.clone(),
                        failed_seeds: Vec::new(),
                        first_failure: None,
                    });
                    self.invariants.len() - 1
                }
            };
            let invariant = &mut self.invariants[index];
            if let Some(failure) = &verdict.failure {
                invariant.failed_seeds.push(seed);
                invariant
                    .first_failure
                    .get_or_insert_with(|| failure.clone());
            }
        }
    }
}

impl Failure {
    /// The failure of `case`, stored at `path` and replayed by the command `replay`.
    pub fn new(
        replay: String,
        path: PathBuf,
        case: &Case,
        ran: &Ran,
        verdicts: &[Verdict],
    ) -> Failure {
        let causes = Causes::new(&ran.trace);
        Failure {
            replay,
            case: path,
            profile: case.profile.clone(),
            seed: case.seed,
            requests: case.requests(),
            faults: case
                .schedule
                .faults
                .iter()
                .map(|f| format!("at {} ms: {}", f.at_ms, f.action.describe()))
                .collect(),
            broke: verdicts
                .iter()
                .filter(|v| v.failure.is_some())
                .cloned()
                .collect(),
            history: ran.history.iter().map(line).collect(),
            causes: ran
                .history
                .iter()
                .filter(|e| e.status.is_none_or(|status| status >= 500))
                .map(|e| {
                    let kind = e.response["kind"].as_str().unwrap_or("NoAnswer");
                    format!("{}: {}", describe(e), causes.root_cause(&e.request, kind))
                })
                .collect(),
            concurrent: concurrent(&ran.history),
        }
    }

    fn render(&self) -> String {
        let mut out = format!(
            "\nfailing case, shrunk: {} requests and {} faults (profile {}, seed {}):\n",
            self.requests,
            self.faults.len(),
            self.profile,
            self.seed
        );
        for line in self.history.iter().chain(&self.faults) {
            let _ = writeln!(out, "  {line}");
        }
        for verdict in &self.broke {
            let why = verdict.failure.as_deref().unwrap_or_default();
            let _ = writeln!(out, "broke {}: {why}", verdict.name);
        }
        for cause in &self.causes {
            let _ = writeln!(out, "root cause: {cause}");
        }
        for pair in &self.concurrent {
            let _ = writeln!(out, "in flight together: {pair}");
        }
        let _ = writeln!(out, "case: {}", self.case.display());
        let _ = writeln!(out, "replay: {}", self.replay);
        out
    }
}

/// `c0-1  12.0→18.0 ms  POST /api/increment {"by":1} → 200 {"count":3}`.
fn line(e: &Exchange) -> String {
    let body = e.body.as_ref().map(|b| format!(" {b}")).unwrap_or_default();
    let answer = match e.status {
        Some(status) => format!("{status} {}", e.response),
        None => "no answer".to_owned(),
    };
    format!(
        "{:<6} {:>7.1}→{:>7.1} ms  {} {}{body} → {answer}",
        e.request,
        e.sent_us as f64 / 1000.0,
        e.answered_us as f64 / 1000.0,
        e.method,
        e.path
    )
}

/// Pairs of requests of different clients whose times from sending to answer overlap.
fn concurrent(history: &[Exchange]) -> Vec<String> {
    let mut pairs = Vec::new();
    for (index, a) in history.iter().enumerate() {
        for b in &history[index + 1..] {
            if a.client != b.client && a.sent_us < b.answered_us && b.sent_us < a.answered_us {
                pairs.push(format!("{} and {}", describe(a), describe(b)));
            }
        }
    }
    pairs
}
