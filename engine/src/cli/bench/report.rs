//! What a benchmark measured, shared by every `fazt bench` command: a [`Recorder`] per
//! task collects latencies, a per-window timeline and error kinds; merged, it gives
//! [`Figures`]; a [`Report`] adds the benchmark's own parameters and prints as text or
//! JSON (the parameters' fields and the figures' side by side at the top level).
//!
//! Definitions:
//! - latency: per operation, success or failure, from its start to its answer; kept in
//!   an HDR histogram in microseconds (3 significant digits), shown in milliseconds.
//! - throughput avg: succeeded operations ÷ elapsed time.
//! - throughput peak: succeeded operations completed in the best [`WINDOW`] (fixed
//!   windows from the run's start, by completion time), scaled to per second. Only
//!   whole windows count (the last, partial one is left out); a run shorter than one
//!   window reports its average as its peak.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::load::ErrorKind;

/// The width of a throughput window.
pub const WINDOW: Duration = Duration::from_millis(100);

/// Highest latency the histogram tracks exactly: 10 minutes; longer ones are clamped.
const LATENCY_US_MAX: u64 = 600_000_000;

/// Samples of one task (or, merged, of a whole run).
pub struct Recorder {
    latency_us: Histogram<u64>,
    succeeded: u64,
    failed: u64,
    errors: BTreeMap<String, u64>,
    /// Succeeded operations by completion window (index = offset ÷ [`WINDOW`]).
    windows: Vec<u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            latency_us: Histogram::new_with_bounds(1, LATENCY_US_MAX, 3)
                .expect("valid histogram bounds"),
            succeeded: 0,
            failed: 0,
            errors: BTreeMap::new(),
            windows: Vec::new(),
        }
    }

    /// Records one operation that ended `ended_at` after the run's start, took
    /// `latency`, and came out as `outcome`.
    pub fn record(
        &mut self,
        ended_at: Duration,
        latency: Duration,
        outcome: Result<(), ErrorKind>,
    ) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.saturating_record(micros.max(1));
        match outcome {
            Ok(()) => {
                self.succeeded += 1;
                let window =
                    usize::try_from(ended_at.as_nanos() / WINDOW.as_nanos()).unwrap_or(usize::MAX);
                if self.windows.len() <= window {
                    self.windows.resize(window + 1, 0);
                }
                self.windows[window] += 1;
            }
            Err(kind) => {
                self.failed += 1;
                match self.errors.get_mut(kind.as_ref()) {
                    Some(count) => *count += 1,
                    None => {
                        self.errors.insert(kind.into_owned(), 1);
                    }
                }
            }
        }
    }

    /// Adds `other`'s samples to these.
    pub fn merge(&mut self, other: Recorder) {
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms with the same bounds merge");
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        for (kind, count) in other.errors {
            *self.errors.entry(kind).or_default() += count;
        }
        if self.windows.len() < other.windows.len() {
            self.windows.resize(other.windows.len(), 0);
        }
        for (mine, theirs) in self.windows.iter_mut().zip(other.windows) {
            *mine += theirs;
        }
    }

    /// The figures of a run that lasted `elapsed`.
    pub fn figures(&self, elapsed: Duration) -> Figures {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let seconds = elapsed.as_secs_f64();
        let avg = if seconds > 0.0 {
            self.succeeded as f64 / seconds
        } else {
            0.0
        };
        let whole_windows =
            usize::try_from(elapsed.as_nanos() / WINDOW.as_nanos()).unwrap_or(usize::MAX);
        let peak = match self.windows.iter().take(whole_windows).max() {
            Some(best) if whole_windows > 0 => *best as f64 / WINDOW.as_secs_f64(),
            _ => avg,
        };
        let quantile = |q: f64| {
            if self.latency_us.is_empty() {
                0.0
            } else {
                ms(self.latency_us.value_at_quantile(q))
            }
        };
        Figures {
            total: self.succeeded + self.failed,
            succeeded: self.succeeded,
            failed: self.failed,
            latency_ms: LatencyMs {
                p50: quantile(0.50),
                p95: quantile(0.95),
                p99: quantile(0.99),
                max: ms(self.latency_us.max()),
            },
            throughput: Throughput {
                avg: round_to(avg, 1),
                peak: round_to(peak, 1),
            },
            errors: self.errors.clone(),
            elapsed_ms: round_to(elapsed.as_secs_f64() * 1000.0, 3),
        }
    }
}

/// The common figures of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub latency_ms: LatencyMs,
    pub throughput: Throughput,
    /// Failed operations by error kind.
    pub errors: BTreeMap<String, u64>,
    pub elapsed_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Succeeded operations per second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub avg: f64,
    pub peak: f64,
}

/// A benchmark's parameters `P` (flattened into the JSON next to the figures), its text
/// header and trailing sections, and the figures.
pub struct Report<P> {
    /// First line, e.g. `Storage Benchmark: kv (key-value)`.
    pub title: String,
    /// Lines under the title: settings, seed, the replay command.
    pub header: Vec<String>,
    pub params: P,
    pub figures: Figures,
    /// Sections printed after the figures: a heading and its lines.
    pub sections: Vec<(String, Vec<String>)>,
}

#[derive(Serialize)]
struct Json<'a, P> {
    #[serde(flatten)]
    params: &'a P,
    #[serde(flatten)]
    figures: &'a Figures,
}

impl<P: Serialize> Report<P> {
    /// The human-readable report (seed 001's "Benchmark Tool Design" layout).
    pub fn render(&self) -> String {
        let figures = &self.figures;
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        line(self.title.clone());
        for header in &self.header {
            line(header.clone());
        }
        line(String::new());
        line("Operations:".into());
        line(format!("  Total:     {}", thousands(figures.total)));
        line(format!(
            "  Succeeded: {} ({})",
            thousands(figures.succeeded),
            percent(figures.succeeded, figures.total)
        ));
        line(format!(
            "  Failed:    {} ({})",
            thousands(figures.failed),
            percent(figures.failed, figures.total)
        ));
        line(String::new());
        line("Latency (ms):".into());
        let latency = &figures.latency_ms;
        for (name, value) in [
            ("p50", latency.p50),
            ("p95", latency.p95),
            ("p99", latency.p99),
            ("max", latency.max),
        ] {
            line(format!("  {name}:  {value:.3}"));
        }
        line(String::new());
        line("Throughput:".into());
        line(format!(
            "  Avg:  {} ops/sec",
            thousands(figures.throughput.avg.round() as u64)
        ));
        line(format!(
            "  Peak: {} ops/sec (best {} ms window)",
            thousands(figures.throughput.peak.round() as u64),
            WINDOW.as_millis()
        ));
        line(format!("  Elapsed: {:.3} s", figures.elapsed_ms / 1000.0));
        line(String::new());
        line("Errors:".into());
        if figures.errors.is_empty() {
            line("  (none)".into());
        }
        for (kind, count) in &figures.errors {
            line(format!("  {kind}: {}", thousands(*count)));
        }
        for (heading, lines) in &self.sections {
            line(String::new());
            line(format!("{heading}:"));
            for text in lines {
                line(format!("  {text}"));
            }
        }
        out
    }

    /// The JSON report: the parameters' fields and the figures' at the top level.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(Json {
            params: &self.params,
            figures: &self.figures,
        })
        .expect("a report serialises")
    }

    /// Writes [`Report::to_json`], pretty-printed, to `path`.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(&self.to_json())?;
        text.push('\n');
        std::fs::write(path, text).map_err(|error| {
            anyhow::anyhow!("cannot write the report to {}: {error}", path.display())
        })
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `part` of `whole` as `12.3%` (`0.0%` of nothing).
pub fn percent(part: u64, whole: u64) -> String {
    let share = if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    };
    format!("{share:.1}%")
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut recorder = Recorder::new();
        for latency in 1..=100 {
            recorder.record(ms(1), ms(latency), Ok(()));
        }
        let figures = recorder.figures(ms(1000));
        let close = |actual: f64, expected: f64| (actual - expected).abs() <= expected * 0.001;
        let latency = &figures.latency_ms;
        assert!(close(latency.p50, 50.0), "{latency:?}");
        assert!(close(latency.p95, 95.0), "{latency:?}");
        assert!(close(latency.p99, 99.0), "{latency:?}");
        assert!(close(latency.max, 100.0), "{latency:?}");
    }

    #[test]
    fn peak_is_the_best_whole_window() {
        let mut recorder = Recorder::new();
        for (window, count) in [(0u64, 10), (1, 30), (2, 5)] {
            for _ in 0..count {
                recorder.record(ms(window * 100 + 50), ms(1), Ok(()));
            }
        }
        // The third window is cut short at 250 ms: not a whole window.
        let figures = recorder.figures(ms(250));
        assert_eq!(figures.throughput.peak, 300.0);
        assert_eq!(figures.throughput.avg, 180.0);
        // A spike in the partial last window does not count.
        for _ in 0..100 {
            recorder.record(ms(240), ms(1), Ok(()));
        }
        assert_eq!(recorder.figures(ms(250)).throughput.peak, 300.0);
        // Shorter than one window: the average stands in.
        let mut short = Recorder::new();
        short.record(ms(10), ms(1), Ok(()));
        let figures = short.figures(ms(50));
        assert_eq!(figures.throughput.peak, figures.throughput.avg);
        assert_eq!(figures.throughput.avg, 20.0);
    }

    #[test]
    fn merging_adds_counts_windows_and_errors() {
        let mut a = Recorder::new();
        a.record(ms(50), ms(2), Ok(()));
        a.record(ms(60), ms(4), Err("Busy".into()));
        let mut b = Recorder::new();
        b.record(ms(150), ms(3), Ok(()));
        b.record(ms(160), ms(5), Err("Busy".into()));
        b.record(ms(170), ms(5), Err(format!("Status{}", 503).into()));
        a.merge(b);
        let figures = a.figures(ms(200));
        assert_eq!(
            (figures.total, figures.succeeded, figures.failed),
            (5, 2, 3)
        );
        let errors: Vec<_> = figures
            .errors
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(errors, [("Busy", 2), ("Status503", 1)]);
        assert_eq!(figures.throughput.peak, 10.0);
        assert!((figures.latency_ms.max - 5.0).abs() < 0.01);
    }

    #[test]
    fn json_puts_params_beside_the_figures() {
        #[derive(Serialize)]
        struct Params {
            concurrency: usize,
        }
        let report = Report {
            title: "t".into(),
            header: vec![],
            params: Params { concurrency: 4 },
            figures: Recorder::new().figures(ms(10)),
            sections: vec![("Baseline".into(), vec!["x".into()])],
        };
        let json = report.to_json();
        for key in [
            "concurrency",
            "total",
            "succeeded",
            "failed",
            "latency_ms",
            "throughput",
            "errors",
        ] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        let text = report.render();
        assert!(
            text.contains("Failed:    0 (0.0%)") && text.contains("Baseline:\n  x\n"),
            "{text}"
        );
    }

    #[test]
    fn numbers_print_with_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), "0.0%");
    }
}
