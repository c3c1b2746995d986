//! Named workloads. Each runs the real engine on virtual time and returns a report.

pub mod write_contention;

use crate::profile::Profile;
use crate::report::Report;
use crate::trace::Trace;

/// What a run produced: its report and the trace the report was computed from.
pub struct Run {
    pub report: Report,
    pub trace: Trace,
}

/// A scenario the CLI can run by name.
pub struct Scenario {
    pub name: &'static str,
    pub summary: &'static str,
    pub run: fn(&Profile, u64) -> Run,
}

/// Every scenario, in display order.
pub fn all() -> Vec<Scenario> {
    vec![Scenario {
        name: "write-contention",
        summary: write_contention::SUMMARY,
        run: |profile, seed| {
            write_contention::run(profile, seed, &write_contention::Options::default())
        },
    }]
}

/// The scenario called `name`, or an error listing the known ones.
pub fn by_name(name: &str) -> Result<Scenario, String> {
    all().into_iter().find(|s| s.name == name).ok_or_else(|| {
        let known: Vec<&str> = all().iter().map(|s| s.name).collect();
        format!("unknown scenario {name:?}; known: {}", known.join(", "))
    })
}
