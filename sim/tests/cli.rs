//! The `fazt-sim` binary: a run's fault schedule saved with `--save-schedule` replays
//! to the same trace with `--schedule`; a slower machine (`--slowdown`) is part of the
//! replay command, and an impossible one is refused; `--timeline` writes a valid
//! Chrome trace-event file.

use std::process::Command;

fn fazt_sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fazt-sim"))
        .args(args)
        .output()
        .expect("fazt-sim runs")
}

fn trace_hash(output: &std::process::Output) -> String {
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("a JSON report on stdout");
    report["trace_hash"]
        .as_str()
        .expect("a trace hash")
        .to_owned()
}

#[test]
fn a_saved_schedule_replays_to_the_same_trace() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.json");
    let file = file.to_str().unwrap();
    let run = [
        "run",
        "crash-restart",
        "--seed",
        "7",
        "--requests",
        "20",
        "--json",
    ];
    let first = fazt_sim(&[&run[..], &["--save-schedule", file]].concat());
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let saved = std::fs::read_to_string(file).unwrap();
    assert!(saved.contains("\"crash\""), "{saved}");
    let replayed = fazt_sim(&[&run[..], &["--schedule", file]].concat());
    assert!(replayed.status.success());
    assert_eq!(trace_hash(&first), trace_hash(&replayed));
}

#[test]
fn a_scenario_without_faults_has_no_schedule_to_save() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.json");
    let output = fazt_sim(&[
        "run",
        "momentum-seq",
        "--requests",
        "2",
        "--save-schedule",
        file.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("momentum-seq takes no fault schedule"),
        "{stderr}"
    );
    assert!(!file.exists());
}

#[test]
fn a_slower_machine_is_in_the_replay_command_and_zero_is_refused() {
    let run = [
        "run",
        "capacity",
        "--requests",
        "5",
        "--duration-s",
        "2",
        "--json",
    ];
    let slow = fazt_sim(&[&run[..], &["--slowdown", "10"]].concat());
    assert!(
        slow.status.success(),
        "{}",
        String::from_utf8_lossy(&slow.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&slow.stdout).unwrap();
    assert_eq!(report["details"]["cpu_slowdown"], 10);
    assert!(
        String::from_utf8_lossy(&slow.stderr).contains("--slowdown 10"),
        "the replay command names the machine"
    );
    let zero = fazt_sim(&[&run[..], &["--slowdown", "0"]].concat());
    assert_eq!(zero.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&zero.stderr).contains("--slowdown"),
        "{}",
        String::from_utf8_lossy(&zero.stderr)
    );
}

/// The `--timeline` file of `args`' run, checked against the trace-event format, and
/// the run's JSON report.
fn timeline_of(args: &[&str]) -> (serde_json::Value, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("timeline.json");
    let output = fazt_sim(
        &[
            &["run"],
            args,
            &["--json", "--timeline", file.to_str().unwrap()],
        ]
        .concat(),
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let text = std::fs::read_to_string(&file).expect("the timeline is written");
    fazt_engine::events::chrome::validate(&text).expect("a valid trace-event file");
    (serde_json::from_str(&text).unwrap(), report)
}

#[test]
fn a_failing_run_s_timeline_flags_each_failed_request_with_its_cause() {
    let (timeline, report) = timeline_of(&["momentum-seq", "--profile", "fazt-0.10.5"]);
    let events = timeline["traceEvents"].as_array().unwrap();
    let failed_requests: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["cat"] == "clients" && e["ph"] == "X" && e["args"]["failed"].is_string())
        .collect();
    assert!(report["failed"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(
        failed_requests.len() as u64,
        report["failed"].as_u64().unwrap()
    );
    assert!(failed_requests.iter().all(|e| e["args"]["cause"]
        .as_str()
        .unwrap()
        .contains("stale-interrupt")));
    let threads: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert!(
        threads.contains(&"client") && threads.contains(&"vm 0"),
        "{threads:?}"
    );
    let interrupts = events
        .iter()
        .filter(|e| e["name"] == "interrupt left on the pooled VM")
        .count();
    assert!(interrupts > 0);
}

#[test]
fn a_crash_cuts_the_spans_in_progress_and_the_timeline_stays_valid() {
    let (timeline, _) = timeline_of(&["crash-restart", "--seed", "7"]);
    let events = timeline["traceEvents"].as_array().unwrap();
    assert!(events.iter().any(|e| e["name"] == "down" && e["ph"] == "X"));
    assert!(events
        .iter()
        .any(|e| e["cat"] == "storage" && e["ph"] == "X"));
}
