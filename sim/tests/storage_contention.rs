//! 200 concurrent writers under the simulated executor, against a second connection
//! that keeps taking the write lock: no BUSY reaches a caller, every acknowledged write
//! is in the file, and runs replay exactly from their seed.

use std::collections::BTreeSet;

use fazt_sim::profile;
use fazt_sim::scenarios::write_contention::{run, Options};

const SEEDS: [u64; 4] = [1, 2, 3, 4];

#[test]
fn two_hundred_writers_see_no_busy_under_the_hardened_profile() {
    let hardened = profile::by_name("hardened", 1).unwrap();
    for seed in SEEDS {
        let report = run(&hardened, seed, &Options::default()).report;
        assert_eq!(report.requests, 200 * 6, "seed {seed}");
        assert_eq!(report.failed, 0, "seed {seed}: {:?}", report.errors);
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        assert!(
            report.details["writer_busy"] > 0,
            "seed {seed}: the writer never met SQLITE_BUSY, so nothing was tested"
        );
        assert!(
            report.details["groups_committed"] < report.details["writes_committed"],
            "seed {seed}: writes were not grouped"
        );
    }
}

#[test]
fn failing_fast_on_busy_lets_busy_reach_callers_and_names_the_holder() {
    let fail_fast = profile::by_name("no-busy-wait", 1).unwrap();
    for seed in SEEDS {
        let report = run(&fail_fast, seed, &Options::default()).report;
        assert!(report.failed > 0, "seed {seed}");
        assert_eq!(
            report.errors.keys().collect::<Vec<_>>(),
            ["Busy"],
            "seed {seed}"
        );
        assert_eq!(
            report.causes.keys().collect::<Vec<_>>(),
            ["sqlite-busy (write lock held by adversary)"],
            "seed {seed}"
        );
        // Failed writes were never applied, acknowledged ones all were.
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
    }
}

#[test]
fn same_seed_same_trace_and_seeds_differ() {
    let hardened = profile::by_name("hardened", 1).unwrap();
    let options = Options {
        writers: 50,
        ..Options::default()
    };
    let mut hashes = BTreeSet::new();
    for seed in SEEDS {
        let first = run(&hardened, seed, &options);
        let second = run(&hardened, seed, &options);
        assert_eq!(
            first.report.trace_hash, second.report.trace_hash,
            "seed {seed}"
        );
        assert_eq!(
            first.trace.to_json_lines(),
            second.trace.to_json_lines(),
            "seed {seed}"
        );
        hashes.insert(first.report.trace_hash);
    }
    assert!(
        hashes.len() > 1,
        "every seed gave the same trace: the seed does not reach the run"
    );
}
