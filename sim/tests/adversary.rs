//! Single escapes of the corpus, each against a victim that runs right after it on the
//! same server: the tenancy invariants must hold under `hardened`.

use fazt_sim::adversary::{
    self, Attack, Tenants, VictimApp, VictimClient, VictimOp, VictimStep, HARDENED_BOUNDS,
};
use fazt_sim::profile;
use fazt_sim::workload::{Operation, Space, Verb};

/// `entry` once, then a `registers` client inserting the same document ten times
/// (each duplicate makes the engine raise an error inside the victim's execution).
fn escape_then_victim(entry: &str) -> Tenants {
    let insert = VictimOp::Register(Operation {
        space: Space::Ds,
        verb: Verb::Put,
        key: "a".into(),
        app: None,
    });
    Tenants {
        attackers: vec![vec![Attack {
            think_ms: 0,
            entry: entry.into(),
        }]],
        victims: vec![VictimClient {
            app: VictimApp::Registers,
            steps: (0..10)
                .map(|_| VictimStep {
                    think_ms: 5,
                    op: insert.clone(),
                })
                .collect(),
        }],
        storm: None,
    }
}

#[test]
fn a_prepare_stack_trace_hook_stays_in_its_app() {
    let profile = profile::by_name("hardened", 1).unwrap();
    let run = adversary::run(
        "adversary",
        &profile,
        1,
        &escape_then_victim("prepare-stack-trace-hook"),
        &HARDENED_BOUNDS,
    );
    assert!(run.report.violations.is_empty(), "{}", run.report.render());
}

#[test]
fn an_adversarial_run_replays_to_the_same_trace() {
    let profile = profile::by_name("hardened", 1).unwrap();
    let tenants = escape_then_victim("finalization-registry-private-field");
    let run = || adversary::run("adversary", &profile, 3, &tenants, &HARDENED_BOUNDS);
    let (first, second) = (run(), run());
    assert_eq!(first.report.trace_hash, second.report.trace_hash);
    assert_eq!(first.trace.to_json_lines(), second.trace.to_json_lines());
}
