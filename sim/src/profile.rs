//! The engine's profiles (`fazt_engine::config`), as the simulator runs them.

use fazt_engine::config::{Config, PROFILES};

use crate::disk::DiskModel;

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
    })
}
