//! The regression suite: scenarios × profiles at fixed seeds, each cell with the
//! expectation it must meet, and the stored regression corpus replayed.
//!
//! Some cells arm failpoints: the process running the suite must hold a
//! `fail::FailScenario`.

mod mechanisms;

use fazt_engine::storage::Durability;

use crate::causes;
use crate::lost_writes::LOST;
use crate::profile;
use crate::regression;
use crate::report::{ms_or_dash, Phase, Report};
use crate::scenarios;
use crate::scenarios::cashflow_stress::{
    CONCURRENT_WRITES, SEQUENTIAL_READS, SEQUENTIAL_WRITES, THROTTLED_WRITES,
};
use crate::scenarios::interrupt_storm::{LONG_LOOP, SPIN_FOREVER, TRIVIAL};
use mechanisms::detail;

/// One cell of the matrix.
pub struct Cell {
    pub scenario: &'static str,
    pub profile: &'static str,
    pub seed: u64,
    /// CPUs of the simulated machine.
    pub cpus: u32,
    /// The run's size (`fazt-sim run --requests N`), when not the scenario's default.
    pub requests: Option<u64>,
    /// The durability instead of the profile's (`fazt-sim run --durability`).
    pub durability: Option<Durability>,
    /// What the cell must show, in words (printed in the table).
    pub expectation: &'static str,
    pub check: fn(&Report) -> Result<(), String>,
}

/// A cell's outcome.
pub struct CellResult {
    pub report: Report,
    pub expectation: &'static str,
    pub verdict: Result<(), String>,
    /// The durability the cell set instead of its profile's, when it set one (cells
    /// of one scenario and profile that differ only in it).
    pub durability: Option<Durability>,
}

impl Cell {
    /// A cell on one simulated CPU at the scenario's default size.
    pub fn new(
        scenario: &'static str,
        profile: &'static str,
        seed: u64,
        expectation: &'static str,
        check: fn(&Report) -> Result<(), String>,
    ) -> Cell {
        Cell {
            scenario,
            profile,
            seed,
            cpus: 1,
            requests: None,
            durability: None,
            expectation,
            check,
        }
    }
}

/// The seeds every cell runs at.
pub const SEEDS: [u64; 2] = [1, 2];

fn no_violations(report: &Report) -> Result<(), String> {
    match report.violations.first() {
        Some(violation) => Err(violation.clone()),
        None => Ok(()),
    }
}

fn failure_rate(report: &Report) -> f64 {
    report.failed as f64 / report.requests.max(1) as f64
}

fn only_stale_interrupts(report: &Report) -> Result<(), String> {
    if report.errors.keys().any(|kind| kind != "TimeoutError") {
        return Err(format!(
            "failures other than TimeoutError: {:?}",
            report.errors
        ));
    }
    if report.causes.keys().any(|cause| cause != "stale-interrupt") {
        return Err(format!(
            "causes other than stale-interrupt: {:?}",
            report.causes
        ));
    }
    Ok(())
}

/// The phase called `name` of a multi-phase report.
fn phase<'a>(report: &'a Report, name: &str) -> Result<&'a Phase, String> {
    report
        .phases
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| format!("no phase {name:?}"))
}

/// Phase `name` succeeded at least `percent`% with a mean latency under `mean_ms`.
fn phase_at_least(report: &Report, name: &str, percent: f64, mean_ms: f64) -> Result<(), String> {
    let phase = phase(report, name)?;
    if phase.success_percent() < percent {
        return Err(format!(
            "{name}: {:.1}% ok, below {percent}% ({:?})",
            phase.success_percent(),
            phase.causes
        ));
    }
    if phase.latency_ms.mean >= mean_ms {
        return Err(format!(
            "{name}: mean latency {:.3} ms, not under {mean_ms} ms",
            phase.latency_ms.mean
        ));
    }
    Ok(())
}

/// Phase `name` has failures, every one of them with a cause in `causes`, and at
/// least one with the first of them.
fn phase_fails_by(report: &Report, name: &str, causes: &[&str]) -> Result<(), String> {
    let phase = phase(report, name)?;
    if phase.failed == 0 {
        return Err(format!(
            "{name}: nothing failed, the mechanism did not show"
        ));
    }
    if let Some(other) = phase.causes.keys().find(|c| !causes.contains(&c.as_str())) {
        return Err(format!("{name}: a failure caused by {other:?}"));
    }
    if !phase.causes.contains_key(causes[0]) {
        return Err(format!("{name}: no failure caused by {}", causes[0]));
    }
    Ok(())
}

/// Every request of phase `name` failed with `kind`, each caused by `cause`.
fn phase_all_fail_by(report: &Report, name: &str, kind: &str, cause: &str) -> Result<(), String> {
    let phase = phase(report, name)?;
    if phase.ok > 0 {
        return Err(format!("{name}: {} succeeded", phase.ok));
    }
    if phase.errors.keys().any(|k| k != kind) || phase.causes.keys().any(|c| c != cause) {
        return Err(format!(
            "{name}: {:?} caused by {:?}, not all {kind} by {cause}",
            phase.errors, phase.causes
        ));
    }
    Ok(())
}

/// The run's violations are all of invariant `invariant`, and there is at least one.
fn only_violations_of(report: &Report, invariant: &str) -> Result<(), String> {
    if report.violations.is_empty() {
        return Err(format!(
            "no {invariant} violation: the mechanism did not show"
        ));
    }
    match report
        .violations
        .iter()
        .find(|v| !v.starts_with(&format!("{invariant}:")))
    {
        Some(other) => Err(other.clone()),
        None => Ok(()),
    }
}

fn no_failures(report: &Report) -> Result<(), String> {
    no_violations(report)?;
    match report.failed {
        0 => Ok(()),
        n => Err(format!("{n} requests failed: {:?}", report.errors)),
    }
}

/// Seed 000's targets (Plan 21's "Expected Outcomes"), phase by phase.
fn cashflow_meets_targets(r: &Report) -> Result<(), String> {
    no_violations(r)?;
    phase_at_least(r, SEQUENTIAL_WRITES, 98.0, 100.0)?;
    phase_at_least(r, CONCURRENT_WRITES, 90.0, 100.0)?;
    phase_at_least(r, SEQUENTIAL_READS, 98.0, 100.0)?;
    phase_at_least(r, THROTTLED_WRITES, 100.0, 100.0)
}

/// Seed 000's table's causes: stale interrupts in the sequential phases, SQLITE_BUSY
/// (beside stale interrupts) in the concurrent one.
fn cashflow_fails_by_stale_interrupts_and_busy(r: &Report) -> Result<(), String> {
    no_violations(r)?;
    for name in [SEQUENTIAL_WRITES, SEQUENTIAL_READS, THROTTLED_WRITES] {
        phase_fails_by(r, name, &["stale-interrupt"])?;
    }
    phase_fails_by(r, CONCURRENT_WRITES, &["sqlite-busy", "stale-interrupt"])
}

/// Every trivial request succeeds, every CPU-bound one ends by its own deadline, and
/// the VM pool checks hold.
fn storm_is_contained(r: &Report) -> Result<(), String> {
    no_violations(r)?;
    phase_at_least(r, TRIVIAL, 100.0, f64::INFINITY)?;
    phase_all_fail_by(r, SPIN_FOREVER, "TimeoutError", "deadline")?;
    phase_all_fail_by(r, LONG_LOOP, "TimeoutError", "deadline")
}

/// Trivial requests fail from stale interrupts: VMs handed out poisoned, none leaked.
fn storm_poisons_vms(r: &Report) -> Result<(), String> {
    phase_fails_by(r, TRIVIAL, &["stale-interrupt"])?;
    only_violations_of(r, "poisoned-vm")
}

/// Every cell.
pub fn cells() -> Vec<Cell> {
    let mut cells = Vec::new();
    for seed in SEEDS {
        cells.push(Cell::new(
            "momentum-seq",
            "fazt-0.10.5",
            seed,
            "35-65% fail, all TimeoutError from stale interrupts",
            |r| {
                let rate = failure_rate(r);
                if !(0.35..=0.65).contains(&rate) {
                    return Err(format!("failure rate {rate:.2}"));
                }
                only_stale_interrupts(r)
            },
        ));
        cells.push(Cell {
            cpus: 4,
            ..Cell::new(
                "momentum-seq",
                "fazt-0.10.5",
                seed,
                "some fail (at most 65%), all TimeoutError from stale interrupts",
                |r| {
                    let rate = failure_rate(r);
                    if rate == 0.0 || rate > 0.65 {
                        return Err(format!("failure rate {rate:.2}"));
                    }
                    only_stale_interrupts(r)
                },
            )
        });
        for cpus in [1, 4] {
            cells.push(Cell {
                cpus,
                ..Cell::new("momentum-seq", "hardened", seed, "0 failures", no_failures)
            });
        }
        for (profile, expectation, check) in [
            (
                "hardened",
                "seed 000's targets: >=98% / >=90% / >=98% / 100%, mean < 100 ms",
                cashflow_meets_targets as fn(&Report) -> Result<(), String>,
            ),
            (
                "fazt-0.10.10",
                "Plan 21's fixes meet seed 000's targets too",
                cashflow_meets_targets,
            ),
            (
                "fazt-0.10.5",
                "stale interrupts in every phase; SQLITE_BUSY in concurrent writes",
                cashflow_fails_by_stale_interrupts_and_busy,
            ),
            (
                "fazt-0.10.6",
                "as 0.10.5: busy_timeout on one connection spares no concurrent writer",
                cashflow_fails_by_stale_interrupts_and_busy,
            ),
            (
                "mech-stale-interrupt",
                "stale interrupts in every phase, nothing else",
                |r| {
                    no_violations(r)?;
                    for name in [SEQUENTIAL_WRITES, SEQUENTIAL_READS, THROTTLED_WRITES] {
                        phase_fails_by(r, name, &["stale-interrupt"])?;
                    }
                    only_stale_interrupts(r)
                },
            ),
        ] {
            cells.push(Cell::new(
                "cashflow-stress",
                profile,
                seed,
                expectation,
                check,
            ));
        }
        for (profile, expectation, check) in [
            (
                "hardened",
                "trivial all ok; CPU-bound all TimeoutError by own deadline; pool sound",
                storm_is_contained as fn(&Report) -> Result<(), String>,
            ),
            (
                "fazt-0.10.10",
                "as hardened: the watcher fix, interrupted VMs discarded",
                storm_is_contained,
            ),
            (
                "fazt-0.10.5",
                "trivial ones fail by stale interrupts; poisoned VMs, none leaked",
                storm_poisons_vms,
            ),
            (
                "mech-stale-interrupt",
                "as 0.10.5: the watcher alone poisons VMs",
                storm_poisons_vms,
            ),
        ] {
            cells.push(Cell::new(
                "interrupt-storm",
                profile,
                seed,
                expectation,
                check,
            ));
        }
        cells.push(Cell::new(
            "write-contention",
            "hardened",
            seed,
            "0 failures, though the writer met SQLITE_BUSY",
            |r| {
                no_failures(r)?;
                if r.details.get("writer_busy").copied().unwrap_or(0) == 0 {
                    return Err("the writer never met SQLITE_BUSY: no contention happened".into());
                }
                Ok(())
            },
        ));
        cells.push(Cell::new(
            "write-contention",
            "no-busy-wait",
            seed,
            "BUSY failures, each caused by the lock holder",
            |r| {
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
        ));
        cells.push(Cell {
            durability: Some(Durability::Full),
            ..Cell::new(
                "power-loss",
                "hardened",
                seed,
                "durability full: power lost twice, nothing acknowledged lost, no invariant broken",
                |r| {
                    no_violations(r)?;
                    match r.errors.get(LOST) {
                        Some(n) => Err(format!("{n} acknowledged writes lost under full")),
                        None => Ok(()),
                    }
                },
            )
        });
        cells.push(Cell {
            durability: Some(Durability::Normal),
            ..Cell::new(
                "power-loss",
                "hardened",
                seed,
                "durability normal: acknowledged writes lost, counted as not synced; integrity holds",
                |r| {
                    no_violations(r)?;
                    if r.errors.get(LOST).copied().unwrap_or(0) == 0 {
                        return Err("no acknowledged write was lost: nothing unsynced at the power losses?".into());
                    }
                    Ok(())
                },
            )
        });
        cells.push(Cell::new(
            "disk-faults",
            "hardened",
            seed,
            "disk errors fail writes with the right effects; reads go on; no invariant broken",
            |r| {
                no_violations(r)?;
                if r.details
                    .get("reads_ok_while_writes_fail")
                    .copied()
                    .unwrap_or(0)
                    == 0
                {
                    return Err("no read was served while writes failed".into());
                }
                Ok(())
            },
        ));
        cells.push(Cell::new(
            "crash-restart",
            "hardened",
            seed,
            "the server restarted; nothing acknowledged lost, no invariant broken",
            |r| {
                no_violations(r)?;
                if r.details.get("restarts").copied().unwrap_or(0) == 0 {
                    return Err("the server never restarted: no crash happened".into());
                }
                Ok(())
            },
        ));
        cells.push(Cell::new(
            "slow-query",
            "hardened",
            seed,
            "no request outlives its budget, no ghost write, no invariant broken",
            |r| {
                no_violations(r)?;
                if r.details.get("slow_statements").copied().unwrap_or(0) == 0 {
                    return Err("the slow statement never ran".into());
                }
                let budget = r.details.get("budget_ms").copied().unwrap_or(0) as f64;
                if r.latency_ms.max > budget {
                    return Err(format!(
                        "a request took {} ms, over its {budget} ms budget",
                        r.latency_ms.max
                    ));
                }
                Ok(())
            },
        ));
        cells.push(Cell::new(
            "slow-query",
            "fazt-0.10.10",
            seed,
            "ghost writes: a write abandoned at its deadline commits after the hold",
            |r| {
                if !r
                    .causes
                    .keys()
                    .any(|cause| cause.starts_with("ghost write"))
                {
                    return Err("no ghost write".into());
                }
                match r.violations.iter().find(|v| {
                    !v.starts_with("failed-write-landed") && !v.starts_with("linearizable")
                }) {
                    Some(other) => Err(format!("a violation other than the ghost write: {other}")),
                    None => Ok(()),
                }
            },
        ));
        cells.push(Cell::new(
            "slow-query",
            "mech-deadline-ignored",
            seed,
            "storage ignores the deadline: a request outlives its budget",
            |r| {
                let budget = r.details.get("budget_ms").copied().unwrap_or(0) as f64;
                if r.latency_ms.max <= budget {
                    return Err(format!(
                        "every request ended within its {budget} ms budget (max {} ms)",
                        r.latency_ms.max
                    ));
                }
                Ok(())
            },
        ));
    }
    for seed in SEEDS {
        cells.extend(mechanisms::cells(seed));
        cells.push(Cell::new(
            "noisy-neighbor",
            "hardened",
            seed,
            "no cross-app read or write; victims >=99% ok, p99 <= 50 ms; VMs within the pool; no response > 16 MiB",
            no_violations,
        ));
        cells.push(Cell::new(
            "noisy-neighbor",
            "fazt-0.10.5",
            seed,
            "victims fail: the storm's watchers leave stale interrupts that poison the VMs victims get",
            |r| {
                let broke = crate::regression::broken_invariants(r);
                for invariant in ["victim-availability", "poisoned-vm"] {
                    if !broke.iter().any(|b| b == invariant) {
                        return Err(format!("no {invariant} violation: {broke:?}"));
                    }
                }
                Ok(())
            },
        ));
    }
    // Seed 002's load test at full size on its slow machine (about 45 s of real time per
    // cell in a debug build).
    for (profile, expectation, check) in [
        (
            "hardened",
            "on seed 002's slow machine: >=99.9% ok, the rest fast 503s; analytics through the queue",
            capacity_holds as fn(&Report) -> Result<(), String>,
        ),
        // fde8041 wrote log rows per console entry and per failed execution, not per
        // request: the analytics flush is the one writer outside the queue that fails
        // requests, and c8e38a5 (the analytics fix) leaves none.
        (
            "fazt-0.10.10",
            "on seed 002's slow machine: failures, among them ones caused by the analytics flush outside the queue",
            capacity_fails_from_writes_bypassing,
        ),
        (
            "fazt-0.10.10-analytics-fix",
            "c8e38a5, seed 002's planned fix: analytics through the queue, no failure caused by a writer outside it",
            capacity_no_failure_from_bypassing_writers,
        ),
    ] {
        cells.push(Cell::new(
            "capacity",
            profile,
            SEEDS[0],
            expectation,
            check,
        ));
    }
    cells
}

/// At least 99.9% succeed; every failure is a 503 answered within a second; the
/// analytics buffer goes through the write queue.
fn capacity_holds(r: &Report) -> Result<(), String> {
    no_violations(r)?;
    if r.success_percent() < 99.9 {
        return Err(format!("{:.2}% ok: {:?}", r.success_percent(), r.causes));
    }
    if detail(r, "status_503") != r.failed {
        return Err(format!("failures other than 503: {:?}", r.details));
    }
    if detail(r, "failed_latency_max_ms") > 1000 {
        return Err(format!(
            "a failure took {} ms",
            detail(r, "failed_latency_max_ms")
        ));
    }
    if detail(r, "analytics_flushes_outside_queue") > 0 {
        return Err("an analytics batch bypassed the write queue".into());
    }
    Ok(())
}

/// The analytics buffer is flushed outside the write queue; requests fail, and the
/// analytics flush is among the causes.
fn capacity_fails_from_writes_bypassing(r: &Report) -> Result<(), String> {
    no_violations(r)?;
    if r.failed == 0 {
        return Err("no request failed".into());
    }
    if !r.causes.contains_key(causes::ANALYTICS_FLUSH) {
        return Err(format!(
            "no failure caused by the analytics flush: {:?}",
            r.causes
        ));
    }
    if detail(r, "analytics_flushes_outside_queue") == 0 {
        return Err("no analytics batch was flushed outside the queue".into());
    }
    Ok(())
}

/// The analytics flush goes through the queue: no failure is caused by a writer
/// outside it.
fn capacity_no_failure_from_bypassing_writers(r: &Report) -> Result<(), String> {
    no_violations(r)?;
    if detail(r, "analytics_flushes_outside_queue") > 0 {
        return Err("an analytics batch bypassed the write queue".into());
    }
    match [causes::ANALYTICS_FLUSH, causes::REQUEST_LOG]
        .into_iter()
        .find(|cause| r.causes.contains_key(*cause))
    {
        Some(cause) => Err(format!("a failure caused by {cause:?}: {:?}", r.causes)),
        None => Ok(()),
    }
}

/// Replays every case of the regression corpus (see [`crate::regression`]): one row
/// per case, its report under the case's own profile.
pub fn run_corpus() -> Result<Vec<CellResult>, String> {
    let mut results = Vec::new();
    for (path, case) in regression::corpus()? {
        let (mut legacy, hardened) = regression::replay(&case)?;
        let file = path
            .file_stem()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        legacy.scenario = format!("regression:{file}");
        results.push(CellResult {
            verdict: regression::verdict(&case, &legacy, &hardened),
            report: legacy,
            expectation: "breaks its stored invariants under its profile, none under hardened",
            durability: None,
        });
    }
    Ok(results)
}

/// Every cell, then the regression corpus.
pub fn run_all() -> Result<Vec<CellResult>, String> {
    let mut results = cells()
        .iter()
        .map(run_cell)
        .collect::<Result<Vec<_>, _>>()?;
    results.extend(run_corpus()?);
    Ok(results)
}

/// Runs one cell.
pub fn run_cell(cell: &Cell) -> Result<CellResult, String> {
    let scenario = scenarios::by_name(cell.scenario)?;
    let profile = profile::by_name(cell.profile, cell.cpus)?;
    let sizes = scenarios::Sizes {
        requests: cell.requests,
        durability: cell.durability,
        ..scenarios::Sizes::default()
    };
    let report = scenario.execute(&profile, cell.seed, &sizes).report;
    let verdict = (cell.check)(&report);
    Ok(CellResult {
        report,
        expectation: cell.expectation,
        verdict,
        durability: cell.durability,
    })
}

/// What the table's latency columns are on, printed under it: the engine's clock, because
/// the clients' 1 ms tick puts nearly every request at exactly 1.000 ms (the clients'
/// figures stay in each report's `latency_ms`).
pub const LATENCY_LEGEND: &str = "srv p50/p99/mean: virtual ms on the engine's clock (µs resolution), request head read -> response handed to the connection; `-`: no server-side figure. Client-side latencies (1 ms tick) are in each report's latency_ms.";

/// The suite's table. `with_wall` adds real time, which varies between runs (the
/// snapshot leaves it out).
pub fn render_table(results: &[CellResult], with_wall: bool) -> String {
    let mut out = format!(
        "{:<18} {:<26} {:>4} {:>4} {:>7} {:>8} {:>10} {:>10}  {:<16} {:<18} {}\n",
        "scenario",
        "profile",
        "seed",
        "cpus",
        "ok%",
        "failed",
        "srv p50 ms",
        "srv p99 ms",
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
            "{:<18} {:<26} {:>4} {:>4} {:>7.1} {:>8} {:>10} {:>10}  {:<16} {:<18} {verdict}: {}\n",
            r.scenario,
            r.profile,
            r.seed,
            r.cpus,
            r.success_percent(),
            r.failed,
            ms_or_dash(r.engine_latency(), |l| l.p50),
            ms_or_dash(r.engine_latency(), |l| l.p99),
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
        for phase in &r.phases {
            out += &format!(
                "{:>20} phase {:<18} {:>5.1}% ok of {:<4} srv mean {} ms  {}\n",
                "",
                phase.name,
                phase.success_percent(),
                phase.requests,
                ms_or_dash(phase.engine_latency(), |l| l.mean),
                phase.causes_line().unwrap_or_else(|| "-".to_owned())
            );
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
    out += LATENCY_LEGEND;
    out.push('\n');
    out
}
