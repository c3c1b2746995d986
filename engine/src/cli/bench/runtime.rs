//! `fazt bench runtime`: one handler script, executed back to back by C tasks on the
//! real environment's execution workers (one per core), with storage on a temporary
//! database.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::load::{self, format_duration, ErrorKind, Length, Workload};
use super::report::Report;
use fazt_engine::env::{Clock, Env};
use fazt_engine::runtime::{AppCode, HandlerRequest, RuntimeConfig, Workers};
use fazt_engine::storage::{Storage, StorageConfig};

/// Options of one `fazt bench runtime` run.
#[derive(Clone, Debug)]
pub struct RuntimeBench {
    /// The handler, run as the app's `api/main.js`.
    pub script: PathBuf,
    pub length: Length,
    /// Tasks issuing executions back to back (at least 1).
    pub concurrency: usize,
    /// Execution workers (threads); `None` is one per core.
    pub threads: Option<usize>,
}

/// The parameters of a runtime run, as they appear in the JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct RuntimeParams {
    pub benchmark: &'static str,
    pub script: String,
    pub concurrency: usize,
    pub ops: Option<u64>,
    pub duration_ms: Option<u64>,
    pub threads: usize,
    pub seed: u64,
    pub cpus: usize,
}

/// Each operation: one execution of the script for a POST with a small JSON body.
struct Executions {
    workers: Workers,
    app: Arc<AppCode>,
    clock: Arc<dyn Clock>,
}

/// The budget of one execution.
const EXECUTION_BUDGET: Duration = Duration::from_secs(5);

impl Workload for Executions {
    async fn operate(&self, worker: usize, sequence: u64) -> Result<(), ErrorKind> {
        let request = HandlerRequest {
            method: "POST".into(),
            path: "/api/bench".into(),
            body: json!({ "worker": worker, "n": sequence, "session": format!("s{}", worker) }),
            ..HandlerRequest::default()
        };
        let deadline = self.clock.deadline_in(EXECUTION_BUDGET);
        let execution = self
            .workers
            .execute(self.app.clone(), request, deadline)
            .await;
        match execution.outcome {
            Ok(executed) if executed.response.status < 500 => Ok(()),
            Ok(executed) => Err(format!("HTTP {}", executed.response.status).into()),
            Err(error) => Err(error.kind.name().to_owned().into()),
        }
    }
}

/// Runs the benchmark on `env` on the current multi-thread tokio runtime.
pub async fn run(options: &RuntimeBench, env: Env) -> anyhow::Result<Report<RuntimeParams>> {
    anyhow::ensure!(options.concurrency >= 1, "--concurrency must be at least 1");
    let source = std::fs::read_to_string(&options.script).map_err(|error| {
        anyhow::anyhow!(
            "cannot read the script {}: {error}",
            options.script.display()
        )
    })?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = options.threads.unwrap_or(cpus).max(1);
    let temp = tempfile::Builder::new().prefix("fazt-bench-").tempdir()?;
    let storage = Storage::open(
        &temp.path().join("bench.db"),
        env.clone(),
        StorageConfig::default(),
    )
    .await?;
    // Enough VMs per worker that the tasks never wait for one.
    let config = RuntimeConfig {
        pool_size: options.concurrency.div_ceil(threads).max(1),
        ..RuntimeConfig::default()
    };
    let workers = Workers::start(&env, Some(storage.clone()), &config, threads)
        .map_err(|error| anyhow::anyhow!("cannot start the execution workers: {error}"))?;
    let mut app = AppCode {
        id: "bench".into(),
        name: "bench".into(),
        ..AppCode::default()
    };
    app.files.insert(AppCode::MAIN.into(), source);
    let workload = Arc::new(Executions {
        workers,
        app: Arc::new(app),
        clock: env.clock.clone(),
    });
    let measured = load::run(
        env.clock.clone(),
        workload.clone(),
        options.concurrency,
        options.length,
    )
    .await;
    let metrics = workload.workers.metrics().await;
    storage.shutdown().await;

    let seed = env.rng.seed();
    let (ops, duration_ms) = match options.length {
        Length::Ops(n) => (Some(n), None),
        Length::Duration(d) => (None, Some(d.as_millis() as u64)),
    };
    let length = match options.length {
        Length::Ops(n) => format!("--ops {n}"),
        Length::Duration(d) => format!("--duration {}", format_duration(d)),
    };
    Ok(Report {
        title: format!("Runtime Benchmark: {}", options.script.display()),
        header: vec![
            format!(
                "Concurrency: {} | {} | Workers: {threads} ({cpus} cores)",
                options.concurrency, options.length
            ),
            format!(
                "Replay: fazt bench runtime --script {} --concurrency {} {length} --threads {threads} --seed {seed}",
                options.script.display(),
                options.concurrency
            ),
        ],
        params: RuntimeParams {
            benchmark: "runtime",
            script: options.script.display().to_string(),
            concurrency: options.concurrency,
            ops,
            duration_ms,
            threads,
            seed,
            cpus,
        },
        figures: measured.recorder.figures(measured.elapsed),
        sections: vec![(
            "VM pool".into(),
            vec![format!(
                "VMs created {}, executions {}, timeouts {}, discarded {}",
                metrics.created, metrics.executions, metrics.timeouts, metrics.discarded
            )],
        )],
    })
}
