//! `/api/system/capacity`: measured facts about this process and machine, and the
//! limits it runs with. No invented tiers ("handles 500 users"): numbers only, each
//! from where it is measured, `null` when it cannot be.

use serde::Serialize;

use crate::runtime::PoolMetrics;
use crate::storage::StorageStats;

/// What the server can do, as measured now.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    /// `std::thread::available_parallelism`.
    pub cores: Option<usize>,
    /// `MemTotal` of `/proc/meminfo`.
    pub memory_total_bytes: Option<u64>,
    /// Resident set size of this process (`/proc/self/status` `VmRSS`).
    pub process_rss_bytes: Option<u64>,
    pub write_queue: WriteQueue,
    /// Reader connections of the storage.
    pub reader_pool_size: usize,
    /// VMs across all execution workers.
    pub vm_pool_size: usize,
    /// Requests executing handlers at once (the admission gate).
    pub admission_slots: usize,
    pub limits: Limits,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteQueue {
    /// Writes waiting now.
    pub waiting: usize,
    /// Writes the queue holds at most.
    pub depth_max: usize,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub body_bytes_max: usize,
    pub deploy_body_bytes_max: usize,
    pub deploy_unpacked_bytes_max: u64,
    pub connections_max: usize,
    pub rate_limit_per_second: u64,
    pub rate_limit_burst: u64,
    pub request_timeout_ms: u64,
    pub admission_wait_ms: u64,
}

impl Capacity {
    /// Measures now.
    pub fn measure(
        pool: &PoolMetrics,
        storage: &StorageStats,
        admission_slots: usize,
        limits: Limits,
    ) -> Capacity {
        Capacity {
            cores: std::thread::available_parallelism().ok().map(|n| n.get()),
            memory_total_bytes: read_kib_field("/proc/meminfo", "MemTotal:"),
            process_rss_bytes: read_kib_field("/proc/self/status", "VmRSS:"),
            write_queue: WriteQueue {
                waiting: storage.queue_waiting,
                depth_max: storage.queue_depth,
            },
            reader_pool_size: storage.readers,
            vm_pool_size: pool.size,
            admission_slots,
            limits,
        }
    }
}

/// A `Name:   1234 kB` line of a `/proc` file, in bytes.
fn read_kib_field(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_kib_field(&text, field)
}

fn parse_kib_field(text: &str, field: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with(field))?;
    let kib: u64 = line[field.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_parse() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:  1 kB\n";
        assert_eq!(
            parse_kib_field(meminfo, "MemTotal:"),
            Some(24_576_000 * 1024)
        );
        assert_eq!(parse_kib_field(meminfo, "VmRSS:"), None);
    }

    #[test]
    fn measuring_reads_this_machine() {
        let storage = StorageStats {
            groups_committed: 0,
            writes_committed: 0,
            writer_busy: 0,
            queue_waiting: 0,
            queue_depth: 1024,
            readers: 4,
            readers_busy: 0,
        };
        let limits = Limits {
            body_bytes_max: 1,
            deploy_body_bytes_max: 1,
            deploy_unpacked_bytes_max: 1,
            connections_max: 1,
            rate_limit_per_second: 1,
            rate_limit_burst: 1,
            request_timeout_ms: 1,
            admission_wait_ms: 1,
        };
        let capacity = Capacity::measure(&PoolMetrics::default(), &storage, 2, limits);
        assert!(capacity.cores.unwrap() >= 1);
        if cfg!(target_os = "linux") {
            assert!(capacity.memory_total_bytes.unwrap() > 0);
            assert!(capacity.process_rss_bytes.unwrap() > 0);
        }
    }
}
