//! Counters for `/metrics`, in Prometheus' text format: requests by app and status
//! class, a latency histogram, and (at scrape time) the VM pool and storage numbers.
//!
//! Label sets are bounded: apps are only those deployed (requests for anything else
//! count under `app="-"`), status classes are five, buckets fixed.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::runtime::PoolMetrics;
use crate::storage::StorageStats;

/// Upper bounds of the latency buckets, in milliseconds.
const BUCKETS_MS: [u64; 13] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];

#[derive(Default)]
struct Counts {
    /// (app, status class 1–5) → requests.
    requests: BTreeMap<(String, u16), u64>,
    /// Requests at or under each bucket's bound (not cumulative yet).
    buckets: [u64; BUCKETS_MS.len()],
    count: u64,
    sum_us: u64,
}

/// Request counters of one server.
#[derive(Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
}

/// Gauges the server reads at scrape time.
pub struct Gauges<'a> {
    pub pool: &'a PoolMetrics,
    pub storage: &'a StorageStats,
    pub admission_slots: usize,
    pub admission_in_use: usize,
    pub apps: usize,
    pub uptime: Duration,
}

impl Metrics {
    /// Counts a finished request (`app` only when it names a deployed app).
    pub fn record(&self, app: Option<&str>, status: u16, duration: Duration) {
        let mut counts = self.counts.lock().expect("metrics");
        let key = (app.unwrap_or("-").to_owned(), (status / 100).clamp(1, 5));
        *counts.requests.entry(key).or_insert(0) += 1;
        let millis = duration.as_micros().div_ceil(1000);
        if let Some(bucket) = BUCKETS_MS
            .iter()
            .position(|bound| millis <= u128::from(*bound))
        {
            counts.buckets[bucket] += 1;
        }
        counts.count += 1;
        counts.sum_us = counts
            .sum_us
            .saturating_add(super::traces::micros(duration));
    }

    /// The Prometheus text exposition of everything.
    pub fn render(&self, gauges: &Gauges<'_>) -> String {
        let counts = self.counts.lock().expect("metrics");
        let mut text = String::new();
        write_family(
            &mut text,
            "fazt_http_requests_total",
            "counter",
            "HTTP requests by app and status class.",
        );
        for ((app, class), n) in &counts.requests {
            let _ = writeln!(
                text,
                "fazt_http_requests_total{{app=\"{app}\",class=\"{class}xx\"}} {n}"
            );
        }
        write_family(
            &mut text,
            "fazt_http_request_duration_seconds",
            "histogram",
            "Time from request arrival to response.",
        );
        let mut cumulative = 0;
        for (bound, n) in BUCKETS_MS.iter().zip(counts.buckets) {
            cumulative += n;
            let seconds = *bound as f64 / 1000.0;
            let _ = writeln!(
                text,
                "fazt_http_request_duration_seconds_bucket{{le=\"{seconds}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            text,
            "fazt_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            counts.count
        );
        let _ = writeln!(
            text,
            "fazt_http_request_duration_seconds_sum {}",
            counts.sum_us as f64 / 1e6
        );
        let _ = writeln!(
            text,
            "fazt_http_request_duration_seconds_count {}",
            counts.count
        );
        let pool = gauges.pool;
        let storage = gauges.storage;
        let series: [(&str, &str, &str, u64); 19] = [
            (
                "fazt_vm_pool_size",
                "gauge",
                "VMs the worker pools may hold.",
                pool.size as u64,
            ),
            (
                "fazt_vm_pool_idle",
                "gauge",
                "VMs idle now.",
                pool.idle as u64,
            ),
            (
                "fazt_vm_pool_busy",
                "gauge",
                "VMs running an execution now.",
                pool.busy as u64,
            ),
            (
                "fazt_vm_pool_waiters",
                "gauge",
                "Executions waiting for a VM.",
                pool.waiters as u64,
            ),
            (
                "fazt_vm_created_total",
                "counter",
                "VMs created.",
                pool.created,
            ),
            (
                "fazt_vm_executions_total",
                "counter",
                "Handler executions.",
                pool.executions,
            ),
            (
                "fazt_vm_timeouts_total",
                "counter",
                "Executions stopped at their deadline.",
                pool.timeouts,
            ),
            (
                "fazt_vm_interrupts_total",
                "counter",
                "Executions interrupted.",
                pool.interrupts,
            ),
            (
                "fazt_vm_discarded_total",
                "counter",
                "VMs discarded instead of reused.",
                pool.discarded,
            ),
            (
                "fazt_admission_slots",
                "gauge",
                "Execution slots of the admission gate.",
                gauges.admission_slots as u64,
            ),
            (
                "fazt_admission_in_use",
                "gauge",
                "Execution slots taken now.",
                gauges.admission_in_use as u64,
            ),
            (
                "fazt_storage_write_groups_total",
                "counter",
                "Write transactions committed.",
                storage.groups_committed,
            ),
            (
                "fazt_storage_writes_total",
                "counter",
                "Writes committed.",
                storage.writes_committed,
            ),
            (
                "fazt_storage_writer_busy_total",
                "counter",
                "SQLITE_BUSY met by the writer.",
                storage.writer_busy,
            ),
            (
                "fazt_storage_queue_waiting",
                "gauge",
                "Writes waiting in the write queue.",
                storage.queue_waiting as u64,
            ),
            (
                "fazt_storage_queue_depth",
                "gauge",
                "Capacity of the write queue.",
                storage.queue_depth as u64,
            ),
            (
                "fazt_storage_readers",
                "gauge",
                "Reader connections.",
                storage.readers as u64,
            ),
            (
                "fazt_storage_readers_busy",
                "gauge",
                "Reader connections in use.",
                storage.readers_busy as u64,
            ),
            ("fazt_apps", "gauge", "Deployed apps.", gauges.apps as u64),
        ];
        for (name, kind, help, value) in series {
            write_family(&mut text, name, kind, help);
            let _ = writeln!(text, "{name} {value}");
        }
        write_family(
            &mut text,
            "fazt_uptime_seconds",
            "gauge",
            "Time since the server started.",
        );
        let _ = writeln!(text, "fazt_uptime_seconds {}", gauges.uptime.as_secs_f64());
        text
    }
}

fn write_family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let metrics = Metrics::default();
        metrics.record(Some("momentum"), 201, Duration::from_micros(1500));
        metrics.record(None, 404, Duration::from_millis(20));
        metrics.record(Some("momentum"), 200, Duration::from_secs(60));
        let text = metrics.render(&Gauges {
            pool: &PoolMetrics::default(),
            storage: &StorageStats {
                groups_committed: 1,
                writes_committed: 2,
                writer_busy: 0,
                queue_waiting: 0,
                queue_depth: 1024,
                readers: 4,
                readers_busy: 0,
            },
            admission_slots: 4,
            admission_in_use: 0,
            apps: 1,
            uptime: Duration::from_secs(3),
        });
        assert!(
            text.contains("fazt_http_requests_total{app=\"momentum\",class=\"2xx\"} 2"),
            "{text}"
        );
        assert!(text.contains("fazt_http_requests_total{app=\"-\",class=\"4xx\"} 1"));
        assert!(text.contains("fazt_http_request_duration_seconds_bucket{le=\"0.002\"} 1"));
        assert!(text.contains("fazt_http_request_duration_seconds_bucket{le=\"0.025\"} 2"));
        assert!(text.contains("fazt_http_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("fazt_storage_queue_depth 1024"));
    }
}
