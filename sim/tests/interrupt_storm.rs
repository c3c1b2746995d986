//! `interrupt-storm` at both ends of its deadline range (1 and 10 ms) under `hardened`:
//! every trivial request succeeds, every CPU-bound one ends in `TimeoutError` by its own
//! deadline, and the VM pool checks hold (the suite runs the default, 5 ms).

use std::time::Duration;

use fazt_sim::profile;
use fazt_sim::scenarios::interrupt_storm::{self, Options, LONG_LOOP, SPIN_FOREVER, TRIVIAL};

#[test]
fn hardened_contains_the_storm_at_1_and_10_ms_deadlines() {
    let profile = profile::by_name("hardened", 1).unwrap();
    for deadline_ms in [1, 10] {
        let options = Options {
            requests_per_client: 8,
            deadline: Duration::from_millis(deadline_ms),
            ..Options::default()
        };
        let report = interrupt_storm::run(&profile, 1, &options).report;
        let context = format!("deadline {deadline_ms} ms:\n{}", report.render());
        assert!(report.violations.is_empty(), "{context}");
        for phase in &report.phases {
            if phase.name == TRIVIAL {
                assert_eq!(phase.failed, 0, "{context}");
            } else {
                assert!([SPIN_FOREVER, LONG_LOOP].contains(&phase.name.as_str()));
                assert_eq!(phase.ok, 0, "{context}");
                assert_eq!(
                    phase.errors.keys().collect::<Vec<_>>(),
                    ["TimeoutError"],
                    "{context}"
                );
                assert_eq!(
                    phase.causes.keys().collect::<Vec<_>>(),
                    ["deadline"],
                    "{context}"
                );
            }
        }
        assert_eq!(report.phases.len(), 3, "{context}");
    }
}
