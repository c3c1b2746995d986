//! `fazt-sim sweep`: one scenario over a range of seeds, with a progress bar; failure
//! statistics across the seeds, causes grouped by kind ([`crate::cause_groups`]), the
//! coverage marks the seeds hit, and every seed that broke an invariant with the
//! command that replays it. `--json` prints every seed's whole report instead.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cause_groups;
use crate::profile::Profile;
use crate::report::Report;
use crate::scenarios::{Scenario, Sizes};
use crate::search::coverage::{self, Hits};

/// Runs `scenario` under `profile` with `sizes` for every seed in `seeds`; prints the
/// statistics (`json`: every report).
pub fn run(
    scenario: &Scenario,
    profile: &Profile,
    seeds: RangeInclusive<u64>,
    sizes: &Sizes,
    json: bool,
) -> ExitCode {
    let before = Hits::now();
    let count = seeds.end() - seeds.start() + 1;
    let bar = ProgressBar::new(count).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  {msg}")
            .expect("a valid template"),
    );
    let mut reports = Vec::new();
    for seed in seeds {
        bar.set_message(format!("seed {seed}"));
        let run = scenario.execute(profile, seed, sizes);
        coverage::mark_from_trace(&run.trace);
        reports.push(run.report);
        bar.inc(1);
    }
    bar.finish_and_clear();
    if json {
        for report in &reports {
            println!(
                "{}",
                serde_json::to_string(report).expect("reports serialize")
            );
        }
    } else {
        print!("{}", render(scenario.name, profile.name, &reports));
        let hits = Hits::now().since(&before);
        print!("coverage marks:\n{}", coverage::render(&hits));
    }
    if reports.iter().any(|r| !r.violations.is_empty()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The statistics of a sweep.
pub fn render(scenario: &str, profile: &str, reports: &[Report]) -> String {
    let rates: Vec<f64> = reports
        .iter()
        .map(|r| 100.0 * r.failed as f64 / r.requests.max(1) as f64)
        .collect();
    let mean = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rates.iter().copied().fold(0.0, f64::max);
    let (requests, failed): (u64, u64) = reports
        .iter()
        .fold((0, 0), |(n, f), r| (n + r.requests, f + r.failed));
    let mut out = format!(
        "{scenario} under {profile}: {} seeds, {requests} requests, {failed} failed\n\
         failure rate per seed: mean {mean:.1}%  min {min:.1}%  max {max:.1}%\n",
        reports.len()
    );
    let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
    for report in reports {
        for (kind, n) in &report.errors {
            *errors.entry(kind).or_default() += n;
        }
    }
    for (kind, n) in errors {
        out += &format!("  error {kind}: {n}\n");
    }
    out += "causes by kind (what the client was told × which fault; --json for each):\n";
    out += &cause_groups::render(&cause_groups::group(reports));
    let broken: Vec<&Report> = reports
        .iter()
        .filter(|r| !r.violations.is_empty())
        .collect();
    out += &format!("seeds that broke an invariant: {}\n", broken.len());
    for report in broken {
        out += &format!(
            "  seed {}: {} (replay: {})\n",
            report.seed,
            report.violations.join("; "),
            report.replay_command()
        );
    }
    out
}
