//! `fazt-sim sensitivity`: how much the legacy watchdog's failure rate rests on the one
//! parameter no document fixes, the tail of the idle P's wake-up delay
//! ([`fazt_engine::runtime::WakeDelay`], calibrated to seed 001). Runs a scenario over
//! seeds for each tail weight and mean and prints the failure rates as a table.

use std::fmt::Write as _;
use std::ops::RangeInclusive;
use std::time::Duration;

use fazt_engine::runtime::{WakeDelay, Watchdog};

use crate::profile::Profile;
use crate::scenarios::{Scenario, Sizes};

/// The tail weights (thousandths) the table spans by default.
pub const WEIGHTS_PER_MILLE: [u64; 7] = [0, 100, 200, 300, 400, 600, 800];

/// The tail means (µs) the table spans by default.
pub const MEANS_US: [u64; 5] = [100, 250, 500, 750, 1000];

/// Failure rates over the seeds, one row per tail weight, one column per tail mean.
pub struct Table {
    pub weights_per_mille: Vec<u64>,
    pub means_us: Vec<u64>,
    /// `rates[row][column]`: failed requests over requests.
    pub rates: Vec<Vec<f64>>,
    /// The profile's own (calibrated) tail.
    pub calibrated: WakeDelay,
}

/// Runs `scenario` under `profile` (a profile with the legacy watchdog) over `seeds`
/// for every tail weight and mean.
pub fn measure(
    scenario: &Scenario,
    profile: &Profile,
    seeds: RangeInclusive<u64>,
    sizes: &Sizes,
    weights_per_mille: &[u64],
    means_us: &[u64],
) -> Result<Table, String> {
    let Watchdog::LegacyGoroutine(scheduler) = &profile.config.runtime.watchdog else {
        return Err(format!(
            "profile {} has no legacy watchdog: its failure rate does not depend on Go's scheduler",
            profile.name
        ));
    };
    let calibrated = scheduler.wake.clone();
    let rate = |weight: u64, mean_us: u64| {
        let mut varied = profile.clone();
        if let Watchdog::LegacyGoroutine(scheduler) = &mut varied.config.runtime.watchdog {
            scheduler.wake.tail_per_mille = weight;
            scheduler.wake.tail_mean = Duration::from_micros(mean_us);
        }
        let (failed, requests) = seeds.clone().fold((0, 0), |(failed, requests), seed| {
            let report = scenario.execute(&varied, seed, sizes).report;
            (failed + report.failed, requests + report.requests)
        });
        failed as f64 / requests.max(1) as f64
    };
    let rates = (weights_per_mille.iter())
        .map(|&weight| means_us.iter().map(|&mean| rate(weight, mean)).collect())
        .collect();
    Ok(Table {
        weights_per_mille: weights_per_mille.to_vec(),
        means_us: means_us.to_vec(),
        rates,
        calibrated,
    })
}

impl Table {
    /// The table as Markdown, percentages of failed requests.
    pub fn render(&self) -> String {
        let mut out = String::from("| tail weight \\ tail mean |");
        for mean in &self.means_us {
            let _ = write!(out, " {mean} µs |");
        }
        out.push_str("\n| --- |");
        out.push_str(&" ---: |".repeat(self.means_us.len()));
        out.push('\n');
        for (weight, row) in self.weights_per_mille.iter().zip(&self.rates) {
            let _ = write!(out, "| {:.1} |", *weight as f64 / 1000.0);
            for rate in row {
                let _ = write!(out, " {:.1}% |", rate * 100.0);
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "calibrated to seed 001: weight {:.1}, mean {} µs (body {}–{} µs)",
            self.calibrated.tail_per_mille as f64 / 1000.0,
            self.calibrated.tail_mean.as_micros(),
            self.calibrated.body.start().as_micros(),
            self.calibrated.body.end().as_micros(),
        );
        out
    }
}
