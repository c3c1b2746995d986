//! `fazt bench storage`: kv, ds or s3 operations against the storage engine, through
//! its public async API ([`Storage`], [`fazt_engine::storage::Scope`]), on the real
//! environment.
//!
//! The data model, so that reads always hit: entry number `n` is
//! - kv: key `k<n>` with a small JSON object;
//! - ds: a document in collection `bench` with `session: "s<n / 10>"` (ten documents per
//!   session; `session` equality is index-backed);
//! - s3: blob `blobs/<n>`, [`BLOB_BYTES`] bytes.
//!
//! Entries `0..P` are preloaded before the timed part (P = `--preload`, default
//! [`PRELOAD_DEFAULT`] for mixes with reads, [`PRELOAD_DEFAULT_S3`] for s3, 0 for pure
//! writes). A timed write creates entry `P + sequence`; a timed read picks `n` uniformly
//! in `0..P`: kv_get of `k<n>`, ds_find of `{session: "s<n / 10>"}` with limit
//! [`FIND_LIMIT`], s3_get of `blobs/<n>`. A read that finds nothing is a failure of kind
//! `NotFound`. Every operation gets a fresh [`OP_BUDGET`] deadline.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use serde::Serialize;
use serde_json::{json, Value};

use super::baseline::{self, BaselineRun, BASELINE_TIME_MAX};
use super::load::{self, format_duration, ErrorKind, Length, Measurement, Workload};
use super::report::{thousands, Report};
use fazt_engine::env::{Clock, Env, Rng};
use fazt_engine::storage::{
    Durability, FindOptions, Scope, Storage, StorageConfig, StorageError, StoragePolicy, WritePath,
};

/// Deadline of every operation, preloading included.
pub const OP_BUDGET: Duration = Duration::from_secs(5);
/// Entries preloaded for kv and ds when the mix reads and `--preload` is not given.
pub const PRELOAD_DEFAULT: u64 = 10_000;
/// Blobs preloaded for s3 (1 KiB each) when the mix reads and `--preload` is not given.
pub const PRELOAD_DEFAULT_S3: u64 = 1_000;
/// Tasks that write the preloaded entries.
pub const PRELOAD_CONCURRENCY: usize = 64;
/// Documents that share one `session` value.
pub const DOCS_PER_SESSION: u64 = 10;
/// `limit` of every ds_find.
pub const FIND_LIMIT: u64 = 10;
/// Size of every blob.
pub const BLOB_BYTES: usize = 1024;

const APP: &str = "bench";
const COLLECTION: &str = "bench";

/// Which API the benchmark exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKind {
    Kv,
    Ds,
    S3,
}

impl StorageKind {
    pub fn name(self) -> &'static str {
        match self {
            StorageKind::Kv => "kv",
            StorageKind::Ds => "ds",
            StorageKind::S3 => "s3",
        }
    }

    fn description(self) -> &'static str {
        match self {
            StorageKind::Kv => "key-value",
            StorageKind::Ds => "document store",
            StorageKind::S3 => "blob store",
        }
    }

    fn entries(self) -> &'static str {
        match self {
            StorageKind::Kv => "keys",
            StorageKind::Ds => "documents",
            StorageKind::S3 => "blobs of 1 KiB",
        }
    }
}

/// The share of reads among operations, in whole percent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    read_percent: u64,
}

impl Mix {
    pub const WRITE: Mix = Mix { read_percent: 0 };
    pub const READ: Mix = Mix { read_percent: 100 };

    /// Parses `write`, `read`, or `R/W`: read and write percentages summing to 100
    /// (`80/20` is 80% reads).
    pub fn parse(text: &str) -> Result<Mix, String> {
        match text {
            "write" => return Ok(Mix::WRITE),
            "read" => return Ok(Mix::READ),
            _ => {}
        }
        let hint = "expected write, read, or reads/writes in percent such as 80/20";
        let Some((reads, writes)) = text.split_once('/') else {
            return Err(format!("invalid mix {text:?}: {hint}"));
        };
        let percent = |part: &str| part.parse::<u64>().ok().filter(|p| *p <= 100);
        match (percent(reads), percent(writes)) {
            (Some(reads), Some(writes)) if reads + writes == 100 => Ok(Mix {
                read_percent: reads,
            }),
            (Some(reads), Some(writes)) => Err(format!(
                "invalid mix {text:?}: reads and writes must add up to 100, not {}",
                reads + writes
            )),
            _ => Err(format!("invalid mix {text:?}: {hint}")),
        }
    }

    pub fn read_percent(self) -> u64 {
        self.read_percent
    }

    pub fn has_reads(self) -> bool {
        self.read_percent > 0
    }

    pub fn has_writes(self) -> bool {
        self.read_percent < 100
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.read_percent {
            0 => f.write_str("write"),
            100 => f.write_str("read"),
            reads => write!(f, "{reads}/{}", 100 - reads),
        }
    }
}

/// Options of one `fazt bench storage` run.
#[derive(Clone, Debug)]
pub struct StorageBench {
    pub kind: StorageKind,
    pub mix: Mix,
    pub length: Length,
    /// Tasks issuing operations back to back (at least 1).
    pub concurrency: usize,
    /// `WritePath::GroupCommit { batch_max }`; 1 commits every write on its own.
    pub batch_max: usize,
    /// The database file; `None` makes a temporary one, deleted after.
    pub db: Option<PathBuf>,
    /// Entries written before the timed part; `None` picks the default for the mix.
    pub preload: Option<u64>,
    /// Also time raw single-row SQLite commits (only when the mix writes).
    pub baseline: bool,
    /// When a group commit is synced.
    pub durability: Durability,
}

impl StorageBench {
    /// Entries to preload.
    pub fn preload_count(&self) -> u64 {
        match (self.preload, self.mix.has_reads(), self.kind) {
            (Some(n), _, _) => n,
            (None, false, _) => 0,
            (None, true, StorageKind::S3) => PRELOAD_DEFAULT_S3,
            (None, true, _) => PRELOAD_DEFAULT,
        }
    }

    /// The command that runs this benchmark again with the same `seed`.
    pub fn command_line(&self, seed: u64) -> String {
        let mut command = format!(
            "fazt bench storage --type {} --mix {}",
            self.kind.name(),
            self.mix
        );
        match self.length {
            Length::Ops(n) => command.push_str(&format!(" --ops {n}")),
            Length::Duration(d) => command.push_str(&format!(" --duration {}", format_duration(d))),
        }
        command.push_str(&format!(
            " --concurrency {} --batch-max {}",
            self.concurrency, self.batch_max
        ));
        if let Some(n) = self.preload {
            command.push_str(&format!(" --preload {n}"));
        }
        if let Some(db) = &self.db {
            command.push_str(&format!(" --db {}", db.display()));
        }
        if !self.baseline && self.mix.has_writes() {
            command.push_str(" --no-baseline");
        }
        command.push_str(&format!(" --durability {}", self.durability.name()));
        command.push_str(&format!(" --seed {seed}"));
        command
    }
}

/// The parameters of a storage run, as they appear in the JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct StorageParams {
    pub benchmark: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub mix: String,
    pub concurrency: usize,
    pub ops: Option<u64>,
    pub duration_ms: Option<u64>,
    pub batch_max: usize,
    pub seed: u64,
    pub db: String,
    pub preloaded: u64,
    pub cpus: usize,
    /// `null` when skipped or when the mix has no writes.
    pub baseline: Option<Baseline>,
}

/// Engine writes against raw single-row SQLite commits, measured in the same run.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    pub raw_commits_per_sec: f64,
    pub raw_commits: u64,
    /// Succeeded writes of the timed run ÷ its elapsed time.
    pub engine_writes_per_sec: f64,
    /// `engine_writes_per_sec ÷ raw_commits_per_sec`.
    pub ratio: f64,
}

/// Runs the benchmark on `env` (whose Rng seed is the run's seed) on the current
/// multi-thread tokio runtime. Progress goes to stderr; the report is returned.
pub async fn run(options: &StorageBench, env: Env) -> anyhow::Result<Report<StorageParams>> {
    anyhow::ensure!(options.concurrency >= 1, "--concurrency must be at least 1");
    anyhow::ensure!(options.batch_max >= 1, "--batch-max must be at least 1");
    let preload = options.preload_count();
    anyhow::ensure!(
        preload > 0 || !options.mix.has_reads(),
        "a mix with reads needs preloaded entries to read: --preload must be above 0"
    );
    let temp = match &options.db {
        None => tempfile::Builder::new().prefix("fazt-bench-").tempdir()?,
        // The baseline's file sits beside the engine's, on the same disk.
        Some(db) => {
            let parent = db
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            tempfile::Builder::new()
                .prefix("fazt-bench-")
                .tempdir_in(parent)?
        }
    };
    let db_path = options
        .db
        .clone()
        .unwrap_or_else(|| temp.path().join("bench.db"));
    let config = StorageConfig {
        policy: StoragePolicy {
            write_path: WritePath::group_commit(options.batch_max),
            durability: options.durability,
            ..StoragePolicy::default()
        },
        ..StorageConfig::default()
    };
    let storage = Storage::open(&db_path, env.clone(), config)
        .await
        .map_err(|error| anyhow::anyhow!("cannot open {}: {error}", db_path.display()))?;
    let clock = env.clock.clone();

    let mut preload_time = Duration::ZERO;
    if preload > 0 {
        eprintln!(
            "Preloading {} {}...",
            thousands(preload),
            options.kind.entries()
        );
        let writer = StorageWorkload::new(
            &storage,
            &env,
            "bench-preload",
            options.kind,
            Mix::WRITE,
            0,
            PRELOAD_CONCURRENCY,
        );
        let measured = load::run(
            clock.clone(),
            Arc::new(writer),
            PRELOAD_CONCURRENCY,
            Length::Ops(preload),
        )
        .await;
        let figures = measured.recorder.figures(measured.elapsed);
        anyhow::ensure!(
            figures.failed == 0,
            "preloading failed: {} of {} writes failed ({:?})",
            figures.failed,
            figures.total,
            figures.errors
        );
        preload_time = measured.elapsed;
    }

    eprintln!(
        "Running {} {} for {}...",
        options.kind.name(),
        options.mix,
        options.length
    );
    let workload = Arc::new(StorageWorkload::new(
        &storage,
        &env,
        "bench-worker",
        options.kind,
        options.mix,
        preload,
        options.concurrency,
    ));
    let Measurement { recorder, elapsed } = load::run(
        clock.clone(),
        workload.clone(),
        options.concurrency,
        options.length,
    )
    .await;
    storage.shutdown().await;
    let writes_per_sec =
        workload.writes_succeeded.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64().max(1e-9);

    let baseline_run = if options.baseline && options.mix.has_writes() {
        eprintln!("Timing raw single-row SQLite commits...");
        let (dir, clock, kind, length) = (
            temp.path().to_owned(),
            clock.clone(),
            options.kind,
            options.length,
        );
        let run = tokio::task::spawn_blocking(move || {
            baseline::raw_commits(&dir, clock.as_ref(), length, |n| raw_value(kind, n))
        })
        .await??;
        Some(run)
    } else {
        None
    };

    let seed = env.rng.seed();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let baseline = baseline_run.map(|run| Baseline {
        raw_commits_per_sec: round(run.commits_per_sec(), 1),
        raw_commits: run.commits,
        engine_writes_per_sec: round(writes_per_sec, 1),
        ratio: round(writes_per_sec / run.commits_per_sec().max(1e-9), 3),
    });
    let db_shown = match &options.db {
        Some(db) => db.display().to_string(),
        None => format!("{} (temporary, deleted after)", db_path.display()),
    };
    let mut header = vec![
        format!(
            "Mix: {} | {}: {} | Concurrency: {} | Batch max: {}",
            options.mix,
            match options.length {
                Length::Ops(_) => "Ops",
                Length::Duration(_) => "Duration",
            },
            match options.length {
                Length::Ops(n) => thousands(n),
                Length::Duration(d) => format_duration(d),
            },
            options.concurrency,
            options.batch_max
        ),
        format!("Database: {db_shown} | CPUs: {cpus} | Seed: {seed}"),
    ];
    if preload > 0 {
        let mut line = format!(
            "Preloaded: {} {} in {:.3} s",
            thousands(preload),
            options.kind.entries(),
            preload_time.as_secs_f64()
        );
        if options.preload.is_none() && options.kind == StorageKind::S3 {
            line.push_str(&format!(
                " (fewer than kv/ds's {}; --preload to change)",
                thousands(PRELOAD_DEFAULT)
            ));
        }
        header.push(line);
    }
    header.push(format!("Replay: {}", options.command_line(seed)));

    let sections = vec![baseline_section(options, baseline_run, writes_per_sec)];
    let figures = recorder.figures(elapsed);
    Ok(Report {
        title: format!(
            "Storage Benchmark: {} ({})",
            options.kind.name(),
            options.kind.description()
        ),
        header,
        params: StorageParams {
            benchmark: "storage",
            kind: options.kind.name(),
            mix: options.mix.to_string(),
            concurrency: options.concurrency,
            ops: match options.length {
                Length::Ops(n) => Some(n),
                Length::Duration(_) => None,
            },
            duration_ms: match options.length {
                Length::Ops(_) => None,
                Length::Duration(d) => Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            },
            batch_max: options.batch_max,
            seed,
            db: options
                .db
                .as_ref()
                .map_or_else(|| "(temporary)".into(), |db| db.display().to_string()),
            preloaded: preload,
            cpus,
            baseline,
        },
        figures,
        sections,
    })
}

fn baseline_section(
    options: &StorageBench,
    run: Option<BaselineRun>,
    writes_per_sec: f64,
) -> (String, Vec<String>) {
    let heading = "Baseline (raw SQLite: one INSERT per autocommit transaction, 1 thread, WAL, synchronous=NORMAL)";
    let Some(run) = run else {
        let why = if options.mix.has_writes() {
            "skipped (--no-baseline)"
        } else {
            "none: the mix has no writes"
        };
        return ("Baseline".into(), vec![why.into()]);
    };
    let raw = run.commits_per_sec();
    let mut lines = vec![
        format!(
            "Raw commits:   {} commits/sec ({} commits in {:.3} s)",
            thousands(raw.round() as u64),
            thousands(run.commits),
            run.elapsed.as_secs_f64()
        ),
        format!(
            "Engine writes: {} writes/sec{}",
            thousands(writes_per_sec.round() as u64),
            if options.mix.has_reads() {
                format!(
                    " (writes are {}% of this mix)",
                    100 - options.mix.read_percent()
                )
            } else {
                String::new()
            }
        ),
        format!(
            "Ratio:         {:.2} (engine writes/s ÷ raw single-row commits/s)",
            writes_per_sec / raw.max(1e-9)
        ),
    ];
    let capped = match options.length {
        Length::Ops(n) => run.commits < n,
        Length::Duration(d) => d > BASELINE_TIME_MAX,
    };
    if capped {
        lines.push(format!(
            "(the baseline stops after {}s)",
            BASELINE_TIME_MAX.as_secs()
        ));
    }
    (heading.into(), lines)
}

/// What a baseline row holds: the same payload as the engine's write of entry `n`.
fn raw_value(kind: StorageKind, n: u64) -> SqlValue {
    match kind {
        StorageKind::Kv => SqlValue::Text(kv_value(n).to_string()),
        StorageKind::Ds => SqlValue::Text(document(n).to_string()),
        StorageKind::S3 => SqlValue::Blob(blob(n)),
    }
}

fn kv_value(n: u64) -> Value {
    json!({ "n": n, "name": format!("entry {n}"), "tags": ["bench", "kv"] })
}

fn document(n: u64) -> Value {
    json!({ "session": session(n / DOCS_PER_SESSION), "n": n, "text": format!("document {n}") })
}

fn session(index: u64) -> String {
    format!("s{index}")
}

fn blob(n: u64) -> Vec<u8> {
    (0..BLOB_BYTES)
        .map(|i| (n as u8).wrapping_add(i as u8))
        .collect()
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// The operations of one run; entry numbering as in the module doc.
struct StorageWorkload {
    storage: Storage,
    clock: Arc<dyn Clock>,
    kind: StorageKind,
    mix: Mix,
    /// Entries `0..preloaded` exist; writes create `preloaded + sequence`.
    preloaded: u64,
    /// One stream per task, so that tasks do not contend on one lock.
    rngs: Vec<Rng>,
    writes_succeeded: AtomicU64,
}

impl StorageWorkload {
    /// The tasks draw from the Rng streams `<stream>-<task>`.
    fn new(
        storage: &Storage,
        env: &Env,
        stream: &str,
        kind: StorageKind,
        mix: Mix,
        preloaded: u64,
        tasks: usize,
    ) -> Self {
        StorageWorkload {
            storage: storage.clone(),
            clock: env.clock.clone(),
            kind,
            mix,
            preloaded,
            rngs: (0..tasks.max(1))
                .map(|i| env.rng.split(&format!("{stream}-{i}")))
                .collect(),
            writes_succeeded: AtomicU64::new(0),
        }
    }

    /// True when entry `n` was found.
    async fn read(&self, scope: Scope, n: u64) -> Result<bool, StorageError> {
        let found = match self.kind {
            StorageKind::Kv => scope.kv_get(&format!("k{n}")).await?.is_some(),
            StorageKind::Ds => {
                let query = json!({ "session": session(n / DOCS_PER_SESSION) });
                let options = FindOptions {
                    limit: Some(FIND_LIMIT),
                    ..FindOptions::default()
                };
                !scope
                    .ds_find(COLLECTION, &query, &options)
                    .await?
                    .is_empty()
            }
            StorageKind::S3 => scope.s3_get(&format!("blobs/{n}")).await?.is_some(),
        };
        Ok(found)
    }

    async fn write(&self, scope: Scope, n: u64) -> Result<(), StorageError> {
        match self.kind {
            StorageKind::Kv => scope.kv_set(&format!("k{n}"), &kv_value(n), None).await,
            StorageKind::Ds => scope.ds_insert(COLLECTION, &document(n)).await.map(drop),
            StorageKind::S3 => {
                scope
                    .s3_put(
                        &format!("blobs/{n}"),
                        blob(n),
                        Some("application/octet-stream"),
                    )
                    .await
            }
        }
    }
}

impl Workload for StorageWorkload {
    async fn operate(&self, worker: usize, sequence: u64) -> Result<(), ErrorKind> {
        let rng = &self.rngs[worker % self.rngs.len()];
        let reads = match self.mix.read_percent {
            0 => false,
            100 => true,
            percent => rng.chance(percent, 100),
        };
        let scope = self.storage.scope(APP, self.clock.deadline_in(OP_BUDGET));
        if reads {
            let n = rng.below(self.preloaded);
            match self.read(scope, n).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ErrorKind::Borrowed("NotFound")),
                Err(error) => Err(kind(error)),
            }
        } else {
            self.write(scope, self.preloaded + sequence)
                .await
                .map_err(kind)?;
            self.writes_succeeded.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }
}

fn kind(error: StorageError) -> ErrorKind {
    ErrorKind::Borrowed(error.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse_and_print() {
        for (text, reads, shown) in [
            ("write", 0, "write"),
            ("read", 100, "read"),
            ("80/20", 80, "80/20"),
            ("50/50", 50, "50/50"),
            ("0/100", 0, "write"),
            ("100/0", 100, "read"),
        ] {
            let mix = Mix::parse(text).unwrap();
            assert_eq!(mix.read_percent(), reads, "{text}");
            assert_eq!(mix.to_string(), shown);
        }
        for bad in [
            "", "80", "80/30", "a/b", "80/", "-10/110", "101/-1", "reads", "50/50/0",
        ] {
            let error = Mix::parse(bad).unwrap_err();
            assert!(error.starts_with("invalid mix"), "{bad:?}: {error}");
        }
        assert!(Mix::parse("80/30")
            .unwrap_err()
            .contains("add up to 100, not 110"));
    }

    #[test]
    fn preload_defaults_follow_the_mix_and_type() {
        let mut options = StorageBench {
            kind: StorageKind::Kv,
            mix: Mix::WRITE,
            length: Length::Ops(10),
            concurrency: 1,
            batch_max: 256,
            db: None,
            preload: None,
            baseline: true,
            durability: Durability::Full,
        };
        assert_eq!(options.preload_count(), 0);
        options.mix = Mix::READ;
        assert_eq!(options.preload_count(), PRELOAD_DEFAULT);
        options.kind = StorageKind::S3;
        assert_eq!(options.preload_count(), PRELOAD_DEFAULT_S3);
        options.preload = Some(7);
        assert_eq!(options.preload_count(), 7);
        assert_eq!(
            options.command_line(42),
            "fazt bench storage --type s3 --mix read --ops 10 --concurrency 1 --batch-max 256 --preload 7 --durability full --seed 42"
        );
    }

    #[test]
    fn documents_share_sessions_in_tens() {
        assert_eq!(document(0)["session"], "s0");
        assert_eq!(document(9)["session"], "s0");
        assert_eq!(document(10)["session"], "s1");
        assert_eq!(blob(3).len(), BLOB_BYTES);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_mixed_run_reads_what_it_preloaded() {
        for kind in [StorageKind::Kv, StorageKind::Ds, StorageKind::S3] {
            let options = StorageBench {
                kind,
                mix: Mix::parse("50/50").unwrap(),
                length: Length::Ops(100),
                concurrency: 4,
                batch_max: 16,
                db: None,
                preload: Some(50),
                baseline: true,
                durability: Durability::Normal,
            };
            let env = Env {
                rng: Rng::seeded(5),
                ..Env::real()
            };
            let report = run(&options, env).await.unwrap();
            assert_eq!(
                (report.figures.total, report.figures.failed),
                (100, 0),
                "{kind:?}"
            );
            let baseline = report.params.baseline.as_ref().unwrap();
            assert_eq!(baseline.raw_commits, 100);
        }
    }
}
