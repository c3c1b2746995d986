//! The suite table at its fixed seeds, as a reviewed snapshot (`snapshots/`), and every
//! cell meeting its expectation.

use fazt_sim::suite;

#[test]
fn the_suite_table_is_stable_and_every_cell_passes() {
    let scenario = fail::FailScenario::setup();
    let results = suite::run_all().unwrap();
    scenario.teardown();
    for result in &results {
        assert!(
            result.verdict.is_ok(),
            "{} / {} / seed {}: {:?}",
            result.report.scenario,
            result.report.profile,
            result.report.seed,
            result.verdict
        );
    }
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("suite_table", suite::render_table(&results, false));
    });
}
