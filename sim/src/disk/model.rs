//! How long the simulated disk takes: each operation's latency, charged in virtual
//! time (`fazt-sim --disk devvm|nvme|vps`).

use std::time::Duration;

use fazt_engine::env::Rng;

/// One disk's latencies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskModel {
    pub name: &'static str,
    /// A read: served from the page cache (SQLite's database is small and hot), so
    /// about a `pread` system call.
    pub read: Duration,
    /// A write: copied into the page cache, no device wait.
    pub write: Duration,
    /// An `fsync`, uniform in this range: the device flushes its write cache.
    pub sync: (Duration, Duration),
    /// One sync in this many stalls (a noisy neighbour, a volume's throttling).
    pub stall_one_in: u64,
    /// How long a stalled sync takes.
    pub stall: Duration,
}

/// A disk that takes no time: the simulator's timings as they were before the disk
/// model, which the regression corpus's reproductions (timing-sensitive races found
/// by search) were found at. The default; `--disk devvm|nvme|vps` models a real one.
pub const INSTANT: DiskModel = DiskModel {
    name: "instant",
    read: Duration::ZERO,
    write: Duration::ZERO,
    sync: (Duration::ZERO, Duration::ZERO),
    stall_one_in: 0,
    stall: Duration::ZERO,
};

/// A laptop NVMe SSD. Syncs 50–200 µs: `fio --fsync=1` on consumer NVMe drives with a
/// volatile cache measures flush latencies of that order; no stalls.
pub const NVME: DiskModel = DiskModel {
    name: "nvme",
    read: Duration::from_micros(2),
    write: Duration::from_micros(3),
    sync: (Duration::from_micros(50), Duration::from_micros(200)),
    stall_one_in: 0,
    stall: Duration::ZERO,
};

/// A VPS's network block volume. Syncs 0.3–1 ms (cloud block storage quotes
/// sub-millisecond to ~1 ms write latency, e.g. AWS gp3 "single-digit millisecond",
/// typically 0.5–1 ms measured), and one sync in 200 stalls for 50 ms (throttling or a
/// noisy neighbour on the shared storage network, as seen in fsync latency tails).
pub const VPS: DiskModel = DiskModel {
    name: "vps",
    read: Duration::from_micros(5),
    write: Duration::from_micros(10),
    sync: (Duration::from_micros(300), Duration::from_micros(1000)),
    stall_one_in: 200,
    stall: Duration::from_millis(50),
};

/// Seed 001's machine: a developer's virtual machine whose fazt database lived in a
/// temporary directory (fazt's dev setup of the time), where a sync flushes no device
/// (tmpfs, or a virtual disk whose host caches writes): an `fsync` is a system call of
/// 5–30 µs, under the two `sysmon` ticks (40 µs) after which Go hands a P in a system
/// call to another thread. Reads and writes hit the page cache.
pub const DEVVM: DiskModel = DiskModel {
    name: "devvm",
    read: Duration::from_micros(1),
    write: Duration::from_micros(2),
    sync: (Duration::from_micros(5), Duration::from_micros(30)),
    stall_one_in: 0,
    stall: Duration::ZERO,
};

/// Every disk profile, for `--disk`.
pub const PROFILES: [&DiskModel; 4] = [&INSTANT, &NVME, &VPS, &DEVVM];

impl Default for DiskModel {
    fn default() -> Self {
        INSTANT
    }
}

impl DiskModel {
    /// The profile called `name`.
    pub fn named(name: &str) -> Result<DiskModel, String> {
        PROFILES
            .iter()
            .find(|model| model.name == name)
            .map(|model| (*model).clone())
            .ok_or_else(|| {
                let names: Vec<&str> = PROFILES.iter().map(|m| m.name).collect();
                format!("unknown disk {name:?}; one of: {}", names.join(", "))
            })
    }

    /// One sync's latency, drawn from `rng`.
    pub fn sync_time(&self, rng: &Rng) -> Duration {
        if self.stall_one_in > 0 && rng.chance(1, self.stall_one_in) {
            return self.stall;
        }
        let (low, high) = self.sync;
        low + rng.duration_up_to(high - low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vps_syncs_stall_now_and_then() {
        let rng = Rng::seeded(7);
        let times: Vec<Duration> = (0..2000).map(|_| VPS.sync_time(&rng)).collect();
        let stalls = times.iter().filter(|t| **t == VPS.stall).count();
        assert!((2..=30).contains(&stalls), "{stalls} stalls in 2000");
        assert!(times
            .iter()
            .all(|t| *t == VPS.stall || (VPS.sync.0..=VPS.sync.1).contains(t)));
        assert!(DiskModel::named("floppy")
            .unwrap_err()
            .contains("instant, nvme, vps"));
    }
}
