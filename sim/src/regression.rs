//! The regression corpus: minimal failing cases (workload + fault schedule + profile +
//! seed) that property tests found and shrank, stored as JSON under
//! `fixtures/regressions/` and replayed by `cargo test` and `fazt-sim suite`.
//!
//! A case records the invariants it broke under its profile. Replaying it checks that
//! it still breaks them there (the mechanism is still reproduced) and that `hardened`
//! keeps every invariant on the same workload and schedule.
//!
//! A case may instead carry an adversarial-tenant workload ([`Case::tenants`], see
//! [`crate::adversary`]), run with the tenancy invariants; one found under `hardened`
//! itself (an escape the search found) only has to hold under `hardened` once fixed.

use std::path::{Path, PathBuf};

use fazt_chaos::Schedule;
use serde::{Deserialize, Serialize};

use crate::adversary::{self, Tenants, HARDENED_BOUNDS};
use crate::profile;
use crate::report::Report;
use crate::run::property;
use crate::workload::Workload;

/// A stored case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// What it shows, for a person.
    pub name: String,
    /// The profile it broke an invariant under.
    pub profile: String,
    pub seed: u64,
    #[serde(default = "one")]
    pub cpus: u32,
    /// The invariants it broke (`failed-write-landed`, ...).
    pub broke: Vec<String>,
    /// The register workload (empty for an adversarial case).
    #[serde(default)]
    pub workload: Workload,
    pub schedule: Schedule,
    /// An adversarial-tenant workload, run instead of `workload` (without faults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenants: Option<Tenants>,
}

fn one() -> u32 {
    1
}

/// Where the corpus lives.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/regressions")
}

/// Every stored case with its file, in name order.
pub fn corpus() -> Result<Vec<(PathBuf, Case)>, String> {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect(),
        Err(error) => return Err(format!("cannot read {}: {error}", dir.display())),
    };
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            let case: Case = serde_json::from_str(&text)
                .map_err(|error| format!("{} is not a regression case: {error}", path.display()))?;
            case.schedule.validate()?;
            Ok((path, case))
        })
        .collect()
}

/// Stores `case` as `<dir>/<file_name>.json`; gives the path.
pub fn store(case: &Case, file_name: &str) -> std::io::Result<PathBuf> {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{file_name}.json"));
    let text = serde_json::to_string_pretty(case).expect("a case serializes");
    std::fs::write(&path, text + "\n")?;
    Ok(path)
}

/// The invariant names in a report's violations.
pub fn broken_invariants(report: &Report) -> Vec<String> {
    let mut names: Vec<String> = report
        .violations
        .iter()
        .filter_map(|v| v.split(':').next().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Replays `case` under its own profile and under `hardened`.
pub fn replay(case: &Case) -> Result<(Report, Report), String> {
    let legacy = profile::by_name(&case.profile, case.cpus)?;
    let hardened = profile::by_name("hardened", case.cpus)?;
    let run = |profile| match &case.tenants {
        Some(tenants) => {
            adversary::run("adversarial", profile, case.seed, tenants, &HARDENED_BOUNDS).report
        }
        None => property::run(profile, case.seed, &case.workload, &case.schedule).report,
    };
    Ok((run(&legacy), run(&hardened)))
}

/// Whether a replay still shows the case: its invariants broken under its profile,
/// none under `hardened` (a case found under `hardened` only has to hold there).
pub fn verdict(case: &Case, legacy: &Report, hardened: &Report) -> Result<(), String> {
    if case.profile != "hardened" {
        let broke = broken_invariants(legacy);
        let missing: Vec<&String> = case
            .broke
            .iter()
            .filter(|name| !broke.contains(name))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "under {} it no longer breaks {missing:?} (broke {broke:?})",
                case.profile
            ));
        }
    }
    match hardened.violations.first() {
        Some(violation) => Err(format!("hardened breaks an invariant: {violation}")),
        None => Ok(()),
    }
}
