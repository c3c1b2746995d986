//! The engine's profiles (`fazt_engine::config`), as the simulator runs them.

use fazt_engine::config::{Config, PROFILES};
use fazt_engine::storage::WritePath;

use crate::disk::DiskModel;
use crate::env::{CostModel, RuntimeStack};

/// A named configuration for a machine with `cpus` CPUs.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: &'static str,
    pub summary: &'static str,
    /// CPUs of the simulated machine.
    pub cpus: u32,
    pub config: Config,
    /// The simulated machine's disk (`--disk`; default one that takes no time).
    pub disk: DiskModel,
    /// The software stack whose costs the server's work is charged: fazt's own (goja,
    /// database/sql, modernc) for the `fazt-*` version profiles, this engine's for the
    /// others.
    pub runtime: RuntimeStack,
}

/// The `batch_max`es the property search's deep-queue stage runs `hardened` with: its
/// own (256), and small ones, so that a burst of writes queues several groups deep and
/// the admission estimate's count of the groups ahead matters. A search-only variation
/// of the profile (the cap is a tuning knob, every promise holds at any), not a profile.
pub const HARDENED_BATCH_MAX_DRAWN: [usize; 3] = [256, 4, 2];

impl Profile {
    /// The server machine's CPU costs under this profile.
    pub fn cost(&self) -> CostModel {
        self.runtime.costs()
    }

    /// This profile with groups of at most `batch_max` writes (a group-commit profile;
    /// another is returned as it is).
    pub fn with_batch_max(mut self, batch_max: usize) -> Profile {
        if let WritePath::GroupCommit { batch_max: cap, .. } =
            &mut self.config.storage.policy.write_path
        {
            *cap = batch_max;
        }
        self
    }
}

/// The stack profile `name` runs: the version profiles model fazt's releases, whose
/// runtime was goja over database/sql; every other profile is this engine.
fn runtime_of(name: &str) -> RuntimeStack {
    if name.starts_with("fazt-") {
        RuntimeStack::GojaGo
    } else {
        RuntimeStack::QuickJs
    }
}

/// Every profile, in display order.
pub fn all(cpus: u32) -> Vec<Profile> {
    PROFILES
        .iter()
        .map(|info| Profile {
            name: info.name,
            summary: info.summary,
            cpus,
            config: Config::preset(info.name, cpus).expect("listed profiles build"),
            disk: DiskModel::default(),
            runtime: runtime_of(info.name),
        })
        .collect()
}

/// The profile called `name`, or an error listing the known ones.
pub fn by_name(name: &str, cpus: u32) -> Result<Profile, String> {
    let config = Config::preset(name, cpus)?;
    let info = PROFILES
        .iter()
        .find(|p| p.name == name)
        .expect("a preset is listed");
    Ok(Profile {
        name: info.name,
        summary: info.summary,
        cpus,
        config,
        disk: DiskModel::default(),
        runtime: runtime_of(info.name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::faults::Scale;

    /// The deep-queue search's variation reaches the admission checker's figures, and a
    /// profile without the estimate's admission is not judged by it.
    #[test]
    fn with_batch_max_sets_the_cap_the_admission_checker_judges() {
        let hardened = by_name("hardened", 1).unwrap();
        assert_eq!(Scale::of(&hardened).estimate_batch_max, Some(256));
        let small = hardened.with_batch_max(HARDENED_BATCH_MAX_DRAWN[2]);
        assert_eq!(Scale::of(&small).estimate_batch_max, Some(2));
        let legacy = by_name("fazt-0.10.5", 1).unwrap();
        assert_eq!(Scale::of(&legacy).estimate_batch_max, None);
    }
}
