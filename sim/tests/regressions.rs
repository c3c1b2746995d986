//! Replays the regression corpus (`fixtures/regressions/*.json`): each stored case must
//! still break its invariants under its own profile, and none under `hardened`.

use fail::FailScenario;
use fazt_sim::regression;

#[test]
fn every_stored_case_replays() {
    let scenario = FailScenario::setup();
    let corpus = regression::corpus().expect("the corpus reads");
    let mut failures = Vec::new();
    for (path, case) in &corpus {
        let (legacy, hardened) = regression::replay(case).expect("its profiles exist");
        if let Err(why) = regression::verdict(case, &legacy, &hardened) {
            failures.push(format!("{}: {why}", path.display()));
        }
    }
    scenario.teardown();
    assert!(!corpus.is_empty(), "the corpus has no case");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
