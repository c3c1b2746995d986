//! The suite table at its fixed seeds, as a reviewed snapshot (`snapshots/`), every
//! cell meeting its expectation, and each cell's report at the first seed as a JSON
//! snapshot (`report__<scenario>__<profile>__cpus<N>`, with `__<durability>` when the
//! cell sets one, without `wall_ms`, which is real time).

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
        for result in results.iter().filter(|r| r.report.seed == suite::SEEDS[0]) {
            let r = &result.report;
            let durability = result
                .durability
                .map_or(String::new(), |d| format!("__{}", d.name()));
            let name: String = format!(
                "report__{}__{}__cpus{}{durability}",
                r.scenario, r.profile, r.cpus
            )
            .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
                .collect();
            let mut report = serde_json::to_value(r).unwrap();
            report.as_object_mut().unwrap().remove("wall_ms");
            insta::assert_snapshot!(name, serde_json::to_string_pretty(&report).unwrap());
        }
    });
}
