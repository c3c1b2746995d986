//! A shrunk failing case of an app, stored as JSON so that `fazt-sim test DIR --replay
//! FILE` runs exactly it again: the plan (each client's requests with their think
//! times and value seeds), the fault schedule, the profile and the seed.

use std::path::{Path, PathBuf};

use fazt_chaos::Schedule;
use serde::{Deserialize, Serialize};

use super::fault_kinds::FaultKinds;
use super::workload::Plan;
use super::App;
use crate::profile::Profile;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// The app's name (its directory's).
    pub app: String,
    pub profile: String,
    pub seed: u64,
    /// The kinds of faults it was drawn with.
    pub faults: FaultKinds,
    pub plan: Plan,
    pub schedule: Schedule,
}

impl Case {
    pub fn new(
        app: &App,
        profile: &Profile,
        seed: u64,
        faults: FaultKinds,
        (plan, schedule): (Plan, Schedule),
    ) -> Case {
        Case {
            app: app.staged.app.clone(),
            profile: profile.name.to_owned(),
            seed,
            faults,
            plan,
            schedule,
        }
    }

    /// Stores the case as `dir/<app>-<profile>-seed<seed>.json`; gives its path.
    pub fn store(&self, dir: &Path, app: &str) -> Result<PathBuf, String> {
        let path = dir.join(format!("{app}-{}-seed{}.json", self.profile, self.seed));
        std::fs::create_dir_all(dir)
            .and_then(|()| {
                let text = serde_json::to_string_pretty(self).expect("a case serializes");
                std::fs::write(&path, text + "\n")
            })
            .map_err(|error| format!("cannot store the case at {}: {error}", path.display()))?;
        Ok(path)
    }

    pub fn load(path: &Path) -> Result<Case, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let case: Case = serde_json::from_str(&text)
            .map_err(|error| format!("{} is not an app test case: {error}", path.display()))?;
        case.schedule.validate()?;
        Ok(case)
    }

    /// The number of requests in the plan.
    pub fn requests(&self) -> usize {
        self.plan
            .iter()
            .flatten()
            .filter(|step| step.template.is_some())
            .count()
    }
}

/// The command that replays the case at `path` against the app in `dir`.
pub fn replay_command(dir: &Path, path: &Path) -> String {
    format!(
        "fazt-sim test {} --replay {}",
        dir.display(),
        path.display()
    )
}
