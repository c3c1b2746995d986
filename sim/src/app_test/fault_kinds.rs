//! `--faults none|network|storage|all`: which of the property search's fault schedules
//! a test run draws ([`crate::search::faults::in_span`], within the workload's span, at
//! the profile's scale), by keeping only the faults of the chosen kind.

use fazt_chaos::{Action, Schedule};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::profile::Profile;
use crate::search::faults::{in_span, Scale};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKinds {
    None,
    /// Holds, partitions, latency, dropped connections, slow accepts.
    Network,
    /// Storage failpoints (BUSY, slow statements, commit and I/O errors), disk faults,
    /// power loss.
    Storage,
    /// Those and the rest: crashes, slow CPU, failures before execution.
    All,
}

impl FaultKinds {
    pub fn parse(text: &str) -> Result<FaultKinds, String> {
        match text {
            "none" => Ok(FaultKinds::None),
            "network" => Ok(FaultKinds::Network),
            "storage" => Ok(FaultKinds::Storage),
            "all" => Ok(FaultKinds::All),
            _ => Err(format!(
                "--faults takes none, network, storage or all, not {text:?}"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FaultKinds::None => "none",
            FaultKinds::Network => "network",
            FaultKinds::Storage => "storage",
            FaultKinds::All => "all",
        }
    }

    fn keeps(self, action: &Action) -> bool {
        let network = match action {
            Action::Hold { .. } | Action::Partition { .. } | Action::Latency { .. } => true,
            Action::Failpoint { point, .. } => point.starts_with("server-"),
            _ => false,
        };
        let storage = match action {
            Action::Disk { .. } | Action::PowerLoss { .. } | Action::LockHeld { .. } => true,
            Action::Failpoint { point, .. } => point.starts_with("storage-"),
            _ => false,
        };
        match self {
            FaultKinds::None => false,
            FaultKinds::Network => network,
            FaultKinds::Storage => storage,
            FaultKinds::All => true,
        }
    }

    /// Schedules of this kind within `span_ms`, at `profile`'s scale.
    pub fn schedules(
        self,
        span_ms: u64,
        profile: &Profile,
        faults_max: usize,
    ) -> BoxedStrategy<Schedule> {
        if self == FaultKinds::None || faults_max == 0 {
            return Just(Schedule::default()).boxed();
        }
        in_span(span_ms, Scale::of(profile), faults_max)
            .prop_map(move |mut schedule| {
                schedule.faults.retain(|fault| self.keeps(&fault.action));
                schedule
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fazt_engine::failpoints;

    #[test]
    fn kinds_keep_their_own_faults() {
        let busy = Action::Failpoint {
            point: failpoints::STORAGE_BUSY.into(),
            times: 1,
            argument: None,
        };
        let drop = Action::Failpoint {
            point: failpoints::SERVER_DROP_CONNECTION.into(),
            times: 1,
            argument: None,
        };
        let crash = Action::Crash { down_ms: 5 };
        let kept = |kinds: FaultKinds| {
            [&busy, &drop, &crash]
                .iter()
                .filter(|a| kinds.keeps(a))
                .count()
        };
        assert_eq!(kept(FaultKinds::None), 0);
        assert!(FaultKinds::Storage.keeps(&busy) && !FaultKinds::Storage.keeps(&drop));
        assert!(FaultKinds::Network.keeps(&drop) && !FaultKinds::Network.keeps(&crash));
        assert_eq!(kept(FaultKinds::All), 3);
    }
}
