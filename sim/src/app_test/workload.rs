//! The workload file beside an app (`fazt-sim.json`): named request templates, groups of
//! clients with their mix of templates, think times and the run's span. Read, checked,
//! and turned into a proptest strategy of [`Plan`]s, so that the same shrinker that
//! minimizes fault schedules also removes requests.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::generate;
use crate::search::faults::REQUEST_MS;

/// The workload file's name, in the app's directory.
pub const FILE: &str = "fazt-sim.json";

/// Think time between a client's requests when the file sets none: up to 20 ms, so
/// that requests of a few clients overlap (a fixture request is about 5 ms of CPU).
const THINK_MS_DEFAULT: [u64; 2] = [0, 20];

/// Faults drawn per run at most when the file sets none: a few, so that a failure's
/// cause stays readable; the shrinker removes those that do not matter.
const FAULTS_MAX_DEFAULT: usize = 3;

/// A workload file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Request templates by name.
    pub requests: BTreeMap<String, Template>,
    /// Groups of identical clients.
    pub clients: Vec<ClientGroup>,
    /// Requests each client sends at most (the shrinker removes some).
    pub requests_per_client: usize,
    /// `[min, max]` ms a client waits before each request.
    #[serde(default = "think_default")]
    pub think_ms: [u64; 2],
    /// Virtual ms after which no client starts a request; the span faults are drawn
    /// in. Default: the requests' expected span.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Faults drawn per run at most (under `--faults` other than `none`).
    #[serde(default = "faults_max_default")]
    pub faults_max: usize,
}

fn think_default() -> [u64; 2] {
    THINK_MS_DEFAULT
}

fn faults_max_default() -> usize {
    FAULTS_MAX_DEFAULT
}

/// One kind of request; strings of `path` and `headers` may hold `{var}` placeholders
/// filled from `vars`, and `body` may hold generators anywhere ([`generate`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[serde(default = "get")]
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
    /// Values for the `{var}` placeholders: generators or constants.
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,
    /// Values to keep from a successful answer's JSON body, by name: a dotted path
    /// (`"id"`, `"order.id"`); later requests of the same client read them with
    /// `{"$captured": name}`.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// The name a request of this template has in the run's history, when not the
    /// template's own: a replayed journal request goes by the name of the workload
    /// template it matches, so that the app's invariants recognize it.
    #[serde(skip)]
    pub shown_as: Option<String>,
}

fn get() -> String {
    "GET".into()
}

/// `count` clients, each drawing its requests from `mix` (template name → weight).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientGroup {
    #[serde(default = "one")]
    pub count: usize,
    pub mix: BTreeMap<String, u32>,
}

fn one() -> usize {
    1
}

/// One planned request: when (`think_ms` after the client's previous planned start, or
/// when its previous answer came if later), which template, with which seed for its
/// generated values. A step the shrinker dropped keeps its time and has no template, so
/// that dropping it moves no other request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub think_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(default)]
    pub values_seed: u64,
}

/// What each client sends, in order.
pub type Plan = Vec<Vec<Step>>;

impl Workload {
    /// Reads and checks `dir/fazt-sim.json`.
    pub fn load(dir: &Path) -> Result<Workload, String> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|error| format!("cannot read the workload {}: {error}", path.display()))?;
        let workload: Workload = serde_json::from_str(&text)
            .map_err(|error| format!("{} is not a workload: {error}", path.display()))?;
        workload
            .check()
            .map_err(|error| format!("{}: {error}", path.display()))?;
        Ok(workload)
    }

    fn check(&self) -> Result<(), String> {
        if self.clients.is_empty() || self.clients.iter().all(|group| group.count == 0) {
            return Err("no clients".into());
        }
        if self.requests_per_client == 0 {
            return Err("requests_per_client must be at least 1".into());
        }
        if self.think_ms[0] > self.think_ms[1] {
            return Err(format!("think_ms {:?}: min above max", self.think_ms));
        }
        for (index, group) in self.clients.iter().enumerate() {
            if group.mix.values().all(|weight| *weight == 0) {
                return Err(format!("clients[{index}]: the mix has no weight"));
            }
            if let Some(name) = group.mix.keys().find(|n| !self.requests.contains_key(*n)) {
                return Err(format!("clients[{index}]: no request template {name:?}"));
            }
        }
        for (name, template) in &self.requests {
            if !template.path.starts_with('/') {
                return Err(format!("requests.{name}: the path must start with /"));
            }
            let values = template.vars.values().chain(template.body.iter());
            for value in values {
                generate::check(value).map_err(|error| format!("requests.{name}: {error}"))?;
            }
        }
        Ok(())
    }

    /// The virtual time the workload spans: faults are drawn within it.
    pub fn span_ms(&self) -> u64 {
        let per_request = (self.think_ms[0] + self.think_ms[1]) / 2 + REQUEST_MS;
        self.duration_ms
            .unwrap_or(self.requests_per_client as u64 * per_request)
            .max(1)
    }

    /// Plans: every client's requests, each of which the shrinker may drop (a step
    /// drawn with a template shrinks to one without) or turn into the mix's first
    /// template. Think
    /// times and value seeds do not shrink: each step of the shrinker is a whole run,
    /// spent on removing requests.
    pub fn plans(&self) -> impl Strategy<Value = Plan> {
        let mut clients = Vec::new();
        for group in &self.clients {
            let mix: Vec<(String, u32)> = group
                .mix
                .iter()
                .filter(|(_, weight)| **weight > 0)
                .map(|(name, weight)| (name.clone(), *weight))
                .collect();
            let total: u32 = mix.iter().map(|(_, weight)| weight).sum();
            let step = (
                proptest::bool::weighted(1.0),
                (self.think_ms[0]..=self.think_ms[1]).no_shrink(),
                0..total,
                any::<u64>().no_shrink(),
            )
                .prop_map(move |(enabled, think_ms, pick, values_seed)| Step {
                    think_ms,
                    template: enabled.then(|| pick_weighted(&mix, pick)),
                    values_seed,
                });
            let steps = proptest::collection::vec(step, self.requests_per_client);
            for _ in 0..group.count {
                clients.push(steps.clone());
            }
        }
        clients
    }
}

/// The template whose cumulative weight covers `pick`.
fn pick_weighted(mix: &[(String, u32)], mut pick: u32) -> String {
    for (name, weight) in mix {
        if pick < *weight {
            return name.clone();
        }
        pick -= weight;
    }
    unreachable!("pick is drawn below the total weight")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(), String> {
        let workload: Workload = serde_json::from_str(text).map_err(|e| e.to_string())?;
        workload.check()
    }

    #[test]
    fn a_mix_naming_no_template_is_refused() {
        let text = r#"{"requests": {"a": {"path": "/api"}},
            "clients": [{"mix": {"b": 1}}], "requests_per_client": 2}"#;
        assert!(parse(text)
            .unwrap_err()
            .contains("no request template \"b\""));
    }

    #[test]
    fn an_unknown_generator_is_refused() {
        let text = r#"{"requests": {"a": {"path": "/api", "body": {"x": {"$nope": 1}}}},
            "clients": [{"mix": {"a": 1}}], "requests_per_client": 2}"#;
        assert!(parse(text).unwrap_err().contains("$nope"));
    }

    #[test]
    fn picks_follow_the_weights() {
        let mix = vec![("a".to_owned(), 1), ("b".to_owned(), 3)];
        let picks: Vec<String> = (0..4).map(|n| pick_weighted(&mix, n)).collect();
        assert_eq!(picks, ["a", "b", "b", "b"]);
    }
}
