//! The regression suite: scenarios × profiles at fixed seeds, each cell with the
//! expectation it must meet.

use crate::profile;
use crate::report::Report;
use crate::scenarios;

/// One cell of the matrix.
pub struct Cell {
    pub scenario: &'static str,
    pub profile: &'static str,
    pub seed: u64,
    /// CPUs of the simulated machine.
    pub cpus: u32,
    /// What the cell must show, in words (printed in the table).
    pub expectation: &'static str,
    pub check: fn(&Report) -> Result<(), String>,
}

/// A cell's outcome.
pub struct CellResult {
    pub report: Report,
    pub expectation: &'static str,
    pub verdict: Result<(), String>,
}

/// The seeds every cell runs at.
pub const SEEDS: [u64; 2] = [1, 2];

fn no_violations(report: &Report) -> Result<(), String> {
    match report.violations.first() {
        Some(violation) => Err(violation.clone()),
        None => Ok(()),
    }
}

/// Every cell.
pub fn cells() -> Vec<Cell> {
    let mut cells = Vec::new();
    for seed in SEEDS {
        cells.push(Cell {
            scenario: "write-contention",
            profile: "hardened",
            seed,
            cpus: 1,
            expectation: "0 failures, though the writer met SQLITE_BUSY",
            check: |r| {
                no_violations(r)?;
                if r.failed != 0 {
                    return Err(format!("{} writes failed", r.failed));
                }
                if r.details.get("writer_busy").copied().unwrap_or(0) == 0 {
                    return Err("the writer never met SQLITE_BUSY: no contention happened".into());
                }
                Ok(())
            },
        });
        cells.push(Cell {
            scenario: "write-contention",
            profile: "no-busy-wait",
            seed,
            cpus: 1,
            expectation: "BUSY failures, each caused by the lock holder",
            check: |r| {
                no_violations(r)?;
                if r.failed == 0 {
                    return Err("no write failed: the mechanism did not show".into());
                }
                if r.errors.keys().any(|kind| kind != "Busy") {
                    return Err(format!("failures other than Busy: {:?}", r.errors));
                }
                if r.causes
                    .keys()
                    .any(|cause| !cause.contains("held by adversary"))
                {
                    return Err(format!("a failure without its lock holder: {:?}", r.causes));
                }
                Ok(())
            },
        });
    }
    cells
}

/// Runs one cell.
pub fn run_cell(cell: &Cell) -> Result<CellResult, String> {
    let scenario = scenarios::by_name(cell.scenario)?;
    let profile = profile::by_name(cell.profile, cell.cpus)?;
    let report = (scenario.run)(&profile, cell.seed).report;
    let verdict = (cell.check)(&report);
    Ok(CellResult {
        report,
        expectation: cell.expectation,
        verdict,
    })
}

/// The suite's table. `with_wall` adds real time, which varies between runs (the
/// snapshot leaves it out).
pub fn render_table(results: &[CellResult], with_wall: bool) -> String {
    let mut out = format!(
        "{:<18} {:<14} {:>4} {:>7} {:>8} {:>9} {:>9}  {:<16} {:<18} {}\n",
        "scenario",
        "profile",
        "seed",
        "ok%",
        "failed",
        "p50 ms",
        "p99 ms",
        "trace",
        "errors",
        "expectation"
    );
    for result in results {
        let r = &result.report;
        let errors: Vec<String> = r.errors.iter().map(|(k, n)| format!("{k}:{n}")).collect();
        let verdict = match &result.verdict {
            Ok(()) => "PASS".to_owned(),
            Err(why) => format!("FAIL ({why})"),
        };
        out += &format!(
            "{:<18} {:<14} {:>4} {:>7.1} {:>8} {:>9.3} {:>9.3}  {:<16} {:<18} {verdict}: {}\n",
            r.scenario,
            r.profile,
            r.seed,
            r.success_percent(),
            r.failed,
            r.latency_ms.p50,
            r.latency_ms.p99,
            r.trace_hash,
            if errors.is_empty() {
                "-".to_owned()
            } else {
                errors.join(",")
            },
            result.expectation,
        );
        for (cause, n) in &r.causes {
            out += &format!("{:>20} cause: {cause} x{n}\n", "");
        }
        if with_wall {
            out += &format!(
                "{:>20} wall {} ms; replay: {}\n",
                "",
                r.wall_ms,
                r.replay_command()
            );
        }
    }
    out
}
