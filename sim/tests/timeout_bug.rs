//! The ~10% `TimeoutError` of fazt 0.10.5, reproduced from its mechanism (the watcher
//! goroutine's race with the deferred cleanup, fazt-reference.md §4.1) and the model of
//! Go's scheduler and goja's costs (issue 20), on the seeds' workloads: seed 001's
//! sequential `POST /api/tasks` to momentum, seed 000's cashflow stress test; 20 seeds
//! per expectation.

use fazt_sim::disk::DiskModel;
use fazt_sim::profile;
use fazt_sim::report::{Phase, Report};
use fazt_sim::scenarios::{self, cashflow_stress, Sizes};

const SEEDS: std::ops::Range<u64> = 1..21;

fn run(scenario: &str, profile_name: &str, cpus: u32, disk: &str, seed: u64) -> Report {
    let scenario = scenarios::by_name(scenario).unwrap();
    let mut profile = profile::by_name(profile_name, cpus).unwrap();
    profile.disk = DiskModel::named(disk).unwrap();
    (scenario.run)(&profile, seed, &Sizes::default()).report
}

fn momentum(profile_name: &str, cpus: u32, disk: &str) -> Vec<Report> {
    SEEDS
        .map(|seed| run("momentum-seq", profile_name, cpus, disk, seed))
        .collect()
}

fn failure_rate(reports: &[Report]) -> f64 {
    let failed: u64 = reports.iter().map(|r| r.failed).sum();
    let requests: u64 = reports.iter().map(|r| r.requests).sum();
    failed as f64 / requests as f64
}

/// Every failure of every report is a `TimeoutError` caused by a stale interrupt.
fn assert_all_stale_interrupts(reports: &[Report]) {
    for report in reports {
        let seed = report.seed;
        if report.failed == 0 {
            continue;
        }
        assert_eq!(
            report.errors.keys().collect::<Vec<_>>(),
            ["TimeoutError"],
            "seed {seed}"
        );
        assert_eq!(
            report.causes.get("stale-interrupt"),
            Some(&report.failed),
            "seed {seed}: {:?}",
            report.causes
        );
    }
}

/// Seed 001: a curl loop of POSTs on a 2-vCPU dev VM saw ~10% `TimeoutError`. The
/// handler takes ~0.55 ms under goja; the watcher is late only when the idle P's
/// wake-up falls in the calibrated tail, then Go's `select` picks the timeout half the
/// time.
#[test]
fn timeout_bug_fazt_0_10_5_on_several_cpus_fails_5_to_15_percent_by_stale_interrupts() {
    for cpus in [2, 4] {
        let reports = momentum("fazt-0.10.5", cpus, "devvm");
        let rate = failure_rate(&reports);
        eprintln!("fazt-0.10.5, momentum-seq, {cpus} cpus, devvm: failure rate {rate:.3}");
        assert_all_stale_interrupts(&reports);
        assert!((0.05..=0.15).contains(&rate), "{cpus} cpus: {rate}");
    }
}

/// One CPU, no real sync: the watcher waits in `runnext` until the handler ends, so
/// every execution (a poisoned one too) leaves its VM poisoned half the time: about
/// half the requests fail. Each seed stays within about four standard deviations.
#[test]
fn timeout_bug_fazt_0_10_5_on_one_cpu_fails_about_half_by_stale_interrupts() {
    let reports = momentum("fazt-0.10.5", 1, "devvm");
    for report in &reports {
        let rate = report.failed as f64 / report.requests as f64;
        assert!(
            (0.25..=0.70).contains(&rate),
            "seed {}: failure rate {rate}",
            report.seed
        );
    }
    assert_all_stale_interrupts(&reports);
    let rate = failure_rate(&reports);
    eprintln!("fazt-0.10.5, momentum-seq, 1 cpu, devvm: failure rate {rate:.3}");
    assert!((0.40..=0.55).contains(&rate), "{rate}");
}

fn phase<'a>(report: &'a Report, name: &str) -> &'a Phase {
    (report.phases.iter())
        .find(|phase| phase.name == name)
        .unwrap_or_else(|| panic!("phase {name}"))
}

fn phase_failure_rate(reports: &[Report], name: &str) -> f64 {
    let (failed, requests) = reports.iter().fold((0, 0), |(failed, requests), report| {
        let phase = phase(report, name);
        (failed + phase.failed, requests + phase.requests)
    });
    failed as f64 / requests as f64
}

fn cashflow(cpus: u32, disk: &str) -> Vec<Report> {
    SEEDS
        .map(|seed| run("cashflow-stress", "fazt-0.10.6", cpus, disk, seed))
        .collect()
}

/// A sequential read loop: 100 `GET /api/categories` to cashflow, alone (the reads of
/// seed 000's stress test without the writes before them).
fn read_loop(cpus: u32, disk: &str) -> Vec<Report> {
    let options = cashflow_stress::Options {
        sequential_writes: 0,
        concurrent_writes: 0,
        sequential_reads: 100,
        throttled_writes: 0,
        ..cashflow_stress::Options::default()
    };
    SEEDS
        .map(|seed| {
            let mut profile = profile::by_name("fazt-0.10.5", cpus).unwrap();
            profile.disk = DiskModel::named(disk).unwrap();
            cashflow_stress::run(&profile, seed, &options).report
        })
        .collect()
}

/// Seed 000 (one vCPU): 48% of its sequential reads succeeded. A read commits nothing,
/// so no system call frees the watcher: it is always late, and after the pool's ten
/// fresh VMs every execution fails half the time. (Inside `cashflow-stress`, after
/// writes that leave the VMs clean, the 50 reads fail 39.7% over seeds 1–20: their
/// first ten run on clean VMs.)
#[test]
fn timeout_bug_one_cpu_sequential_reads_fail_40_to_55_percent() {
    let reports = read_loop(1, "vps");
    let rate = failure_rate(&reports);
    eprintln!("fazt-0.10.5, a read loop, 1 cpu, vps: failure rate {rate:.3}");
    assert_all_stale_interrupts(&reports);
    assert!((0.40..=0.55).contains(&rate), "{rate}");
}

/// One CPU with a real sync (a VPS's 0.3–1 ms): a POST's commit sits in `fsync` long
/// enough for `sysmon` to hand the P to another thread, which runs the watcher in
/// time; reads have no such window.
#[test]
fn timeout_bug_one_cpu_posts_with_a_real_sync_fail_less_than_reads() {
    let posts = failure_rate(&momentum("fazt-0.10.5", 1, "vps"));
    let reads = failure_rate(&read_loop(1, "vps"));
    eprintln!("fazt-0.10.5, 1 cpu, vps: POSTs fail {posts:.3}, reads {reads:.3}");
    assert!(posts < reads, "POSTs {posts}, reads {reads}");
}

#[test]
fn timeout_bug_is_absent_from_the_hardened_profile() {
    for disk in ["instant", "devvm", "nvme", "vps"] {
        for cpus in [1, 2, 4] {
            for report in momentum("hardened", cpus, disk) {
                assert_eq!(
                    report.failed, 0,
                    "{disk} cpus {cpus} seed {}: {:?}",
                    report.seed, report.errors
                );
                assert_eq!(report.requests, 100);
            }
        }
    }
}

/// Seed 000's table (one vCPU): success 70% on sequential writes, 60% concurrent, 48%
/// reads, 90% throttled writes; each phase within ±15 points, from the same parameters.
///
/// Seed 000 was written at fazt commit bfb35c0 and quotes `busy_timeout=5000` and a 5 s
/// runtime: the build it measured is 0a63930 (0.10.6's storage: 25 connections, 5
/// idle, the pragma once through the pool; the runtime timeout raised to 5 s, which
/// these phases never reach), so it runs under `fazt-0.10.6`.
///
/// Not met. Measured over seeds 1–20 on one CPU, `vps`, with the version profiles
/// corrected (single-statement writes, no DEFERRED upgrade; the VM pool grows): under
/// `fazt-0.10.6` sequential writes 100%, concurrent 25.5%, reads 58.9%, throttled
/// 59.8% (`fazt-0.10.5`: 100%, 20.5%, 60.7%, 58.5%). Reads are right (±15 of 48%).
/// The concurrent phase now fails by `sqlite-busy` on a lock wait (a connection
/// without the pragma meeting another's INSERT), not by an upgrade; it fails more than
/// seed 000's 40% because in this engine a storage call parks the handler, so on one
/// CPU all ten handlers run their JavaScript and reach their INSERTs together (seed 1:
/// ten checkouts 0.59 ms apart, then ten INSERTs within 0.3 ms), where in Go a
/// database/sql call runs on the handler's goroutine and only the commit's `fsync`
/// lets the next handler run. The sequential writes' commits sync long enough for
/// `sysmon` to run the watcher in time, so they never poison a VM (seed 000 lost 30%);
/// the throttled writes start on VMs the reads left poisoned and a poisoned execution
/// re-poisons its VM half the time, so they inherit the reads' rate.
///
/// Seed 000 records neither its disk nor whether the server restarted between phases,
/// so each phase was also measured on each disk and alone, on a fresh server (seeds
/// 1–20, one CPU, success; `Options` with the other phases at 0):
///
/// | disk | in sequence (writes / concurrent / reads / throttled) | each phase alone |
/// | --- | --- | --- |
/// | `devvm` | 91.5 / 23.5 / 57.2 / 55.5 | 91.5 / 15.5 / 62.1 / 91.5 |
/// | `nvme` | 100 / 23.5 / 60.1 / 61.0 | 100 / 14.5 / 62.1 / 100 |
/// | `vps` | 100 / 25.5 / 58.9 / 59.8 | 100 / 11.5 / 62.1 / 100 |
///
/// So a restart before the throttled writes gives seed 000's 90% (`devvm`: 91.5%; a
/// clean pool, where the first ten writes cannot fail), and `devvm`'s short syncs let
/// the sequential writes fail (91.5%, 6.5 points outside 70 ± 15). No disk nor
/// procedure brings the concurrent writes near 60%: that needs Go's handler holding
/// its P through its storage calls, which this engine's executor does not model.
#[test]
#[ignore = "cashflow-stress phases not matched (concurrent 25.5%, throttled 59.8%, writes 100%): see the doc comment"]
fn timeout_bug_cashflow_stress_phases_come_out_as_seed_000s_table() {
    let reports = cashflow(1, "vps");
    let mut misses = Vec::new();
    for (name, success) in [
        (cashflow_stress::SEQUENTIAL_WRITES, 0.70),
        (cashflow_stress::CONCURRENT_WRITES, 0.60),
        (cashflow_stress::SEQUENTIAL_READS, 0.48),
        (cashflow_stress::THROTTLED_WRITES, 0.90),
    ] {
        let measured = 1.0 - phase_failure_rate(&reports, name);
        eprintln!(
            "cashflow-stress {name}, 1 cpu, vps: success {measured:.3} (seed 000: {success})"
        );
        if (measured - success).abs() > 0.15 {
            misses.push(format!("{name}: {measured:.3} against {success}"));
        }
    }
    assert!(misses.is_empty(), "{misses:?}");
}
