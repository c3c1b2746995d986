//! `fazt bench storage` end to end: the built binary, tiny runs, the JSON report.

use std::path::Path;
use std::process::{Command, Output};

fn fazt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fazt"))
        .args(args)
        .output()
        .expect("the fazt binary runs")
}

/// Runs a benchmark with `--report` and returns the parsed report.
fn bench(args: &[&str], report: &Path) -> serde_json::Value {
    let mut all = vec!["bench", "storage"];
    all.extend_from_slice(args);
    all.extend(["--report", report.to_str().unwrap()]);
    let output = fazt(&all);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "fazt {all:?} failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for heading in [
        "Operations:",
        "Latency (ms):",
        "Throughput:",
        "Errors:",
        "Replay: fazt bench storage",
    ] {
        assert!(
            stdout.contains(heading),
            "{heading:?} missing from\n{stdout}"
        );
    }
    let text = std::fs::read_to_string(report).expect("the report file exists");
    serde_json::from_str(&text).expect("the report is JSON")
}

fn assert_clean(report: &serde_json::Value, ops: u64) {
    for key in [
        "total",
        "succeeded",
        "failed",
        "latency_ms",
        "throughput",
        "errors",
        "type",
        "mix",
        "concurrency",
        "batch_max",
        "baseline",
    ] {
        assert!(report.get(key).is_some(), "{key} missing from {report}");
    }
    for key in ["p50", "p95", "p99", "max"] {
        assert!(
            report["latency_ms"][key].is_f64(),
            "latency_ms.{key} in {report}"
        );
    }
    for key in ["avg", "peak"] {
        assert!(
            report["throughput"][key].as_f64().unwrap() > 0.0,
            "throughput.{key} in {report}"
        );
    }
    assert_eq!(report["total"], ops, "{report}");
    assert_eq!(report["succeeded"], ops, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
}

#[test]
fn kv_writes_report_a_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kv.json");
    let report = bench(
        &["--type", "kv", "--ops", "200", "--concurrency", "4"],
        &path,
    );
    assert_clean(&report, 200);
    assert_eq!(report["type"], "kv");
    assert_eq!(report["mix"], "write");
    assert_eq!(report["concurrency"], 4);
    assert_eq!(report["batch_max"], 256);
    assert_eq!(report["baseline"]["raw_commits"], 200);
    assert!(report["baseline"]["raw_commits_per_sec"].as_f64().unwrap() > 0.0);
    assert!(report["baseline"]["ratio"].as_f64().unwrap() > 0.0);
}

#[test]
fn ds_and_s3_mixed_runs_read_what_they_preloaded() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["ds", "s3"] {
        let path = dir.path().join(format!("{kind}.json"));
        let args = [
            "--type",
            kind,
            "--mix",
            "50/50",
            "--ops",
            "200",
            "--concurrency",
            "4",
            "--preload",
            "300",
        ];
        let report = bench(&args, &path);
        assert_clean(&report, 200);
        assert_eq!(report["type"], kind);
        assert_eq!(report["mix"], "50/50");
        assert_eq!(report["preloaded"], 300);
    }
}

#[test]
fn a_given_db_file_is_kept_and_batch_max_applies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kept.db");
    let path = dir.path().join("report.json");
    let args = [
        "--type",
        "kv",
        "--mix",
        "read",
        "--duration",
        "200ms",
        "--concurrency",
        "2",
        "--preload",
        "100",
        "--batch-max",
        "1",
        "--db",
        db.to_str().unwrap(),
        "--seed",
        "7",
    ];
    let report = bench(&args, &path);
    assert_eq!(report["failed"], 0, "{report}");
    assert!(report["total"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["batch_max"], 1);
    assert_eq!(report["seed"], 7);
    assert_eq!(report["baseline"], serde_json::Value::Null);
    assert!(db.exists(), "--db is kept");
}

#[test]
fn bad_flags_fail_with_a_clear_message() {
    for (args, expected) in [
        (
            &["--type", "kv", "--ops", "10", "--mix", "80/30"][..],
            "add up to 100",
        ),
        (&["--type", "kv", "--duration", "5"][..], "invalid duration"),
        (
            &["--type", "kv", "--ops", "10", "--duration", "1s"][..],
            "cannot be used with",
        ),
        (
            &[
                "--type",
                "kv",
                "--mix",
                "read",
                "--ops",
                "10",
                "--preload",
                "0",
            ][..],
            "--preload",
        ),
    ] {
        let mut all = vec!["bench", "storage"];
        all.extend_from_slice(args);
        let output = fazt(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
