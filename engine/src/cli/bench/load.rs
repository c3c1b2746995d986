//! The closed-loop load driver: `concurrency` tokio tasks, each issuing operations back
//! to back (the next starts when the previous one is answered), until a number of
//! operations or a duration is reached.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::report::Recorder;
use fazt_engine::env::Clock;

/// Why an operation failed: a short stable name such as `StorageError::kind()`.
pub type ErrorKind = Cow<'static, str>;

/// How long a run lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// This many operations in all, shared by the tasks.
    Ops(u64),
    /// Operations start until this much time has passed; those in flight then finish
    /// and are counted.
    Duration(Duration),
}

impl fmt::Display for Length {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Length::Ops(n) => write!(f, "{} ops", super::report::thousands(*n)),
            Length::Duration(d) => f.write_str(&format_duration(*d)),
        }
    }
}

/// Parses `500ms`, `10s`, `1m` or `2h` (a whole, positive number and a unit).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const HINT: &str = "expected a whole number followed by ms, s, m or h (e.g. 500ms, 10s, 1m)";
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: {HINT}"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        _ => return Err(format!("invalid duration {text:?}: {HINT}")),
    };
    if duration.is_zero() {
        return Err(format!(
            "invalid duration {text:?}: must be longer than zero"
        ));
    }
    Ok(duration)
}

/// The shortest of `parse_duration`'s spellings for `duration` (milliseconds otherwise).
pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms % 3_600_000 == 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// What a benchmark does, one operation at a time.
pub trait Workload: Send + Sync + 'static {
    /// Performs operation number `sequence` (0, 1, 2, ... across all tasks) on behalf of
    /// task `worker` (0..concurrency).
    fn operate(
        &self,
        worker: usize,
        sequence: u64,
    ) -> impl Future<Output = Result<(), ErrorKind>> + Send;
}

/// What [`run`] measured.
pub struct Measurement {
    pub recorder: Recorder,
    /// From the first operation's start to the last one's end.
    pub elapsed: Duration,
}

/// Drives `workload` with `concurrency` tasks (at least one) on the current tokio runtime
/// until `length` is reached. Each operation's latency runs from just before
/// [`Workload::operate`] to its answer, on `clock`.
pub async fn run<W: Workload>(
    clock: Arc<dyn Clock>,
    workload: Arc<W>,
    concurrency: usize,
    length: Length,
) -> Measurement {
    let started = clock.now();
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|worker| {
            let (clock, workload, next) = (clock.clone(), workload.clone(), next.clone());
            tokio::spawn(async move {
                let mut recorder = Recorder::new();
                loop {
                    let sequence = match length {
                        Length::Ops(total) => {
                            let sequence = next.fetch_add(1, Ordering::Relaxed);
                            if sequence >= total {
                                break;
                            }
                            sequence
                        }
                        Length::Duration(duration) => {
                            if clock.now().saturating_duration_since(started) >= duration {
                                break;
                            }
                            next.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                    let began = clock.now();
                    let outcome = workload.operate(worker, sequence).await;
                    let ended = clock.now();
                    recorder.record(
                        ended.saturating_duration_since(started),
                        ended.saturating_duration_since(began),
                        outcome,
                    );
                }
                recorder
            })
        })
        .collect();
    let mut recorder = Recorder::new();
    for task in tasks {
        // A panicking operation is a bug in the benchmark: let it surface.
        recorder.merge(task.await.expect("a benchmark task panicked"));
    }
    Measurement {
        recorder,
        elapsed: clock.now().saturating_duration_since(started),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fazt_engine::env::RealClock;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["", "10", "s", "1.5s", "-1s", "10 s", "10sec", "0s"] {
            let error = parse_duration(bad).unwrap_err();
            assert!(error.contains("invalid duration"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn durations_print_in_their_shortest_unit() {
        for text in ["500ms", "10s", "1m", "2h", "1500ms", "90s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }

    struct Counting;

    impl Workload for Counting {
        async fn operate(&self, _worker: usize, sequence: u64) -> Result<(), ErrorKind> {
            tokio::task::yield_now().await;
            if sequence % 10 == 0 {
                Err("Tenth".into())
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_exactly_the_requested_operations() {
        let clock: Arc<dyn Clock> = Arc::new(RealClock::new());
        let measured = run(clock, Arc::new(Counting), 7, Length::Ops(1000)).await;
        let figures = measured.recorder.figures(measured.elapsed);
        assert_eq!(figures.total, 1000);
        assert_eq!(figures.failed, 100);
        assert_eq!(figures.errors.get("Tenth"), Some(&100));
    }
}
