//! The JavaScript runtime through its public API, in the real environment: fazt's
//! handler contract (fazt-reference.md §2), error kinds, pool recovery, timeouts under
//! load, isolation between executions sharing a VM, and VMs never crossing apps. One
//! binary: the fixture and helpers here, the areas in the modules below.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use fazt_engine::env::{Deadline, Env};
use fazt_engine::runtime::{
    AppCode, ErrorKind, Executed, Execution, ExecutionError, HandlerRequest, LogEntry, LogLevel,
    Runtime, RuntimeConfig,
};
use fazt_engine::storage::Storage;
use serde_json::{json, Value};
use tokio::task::{spawn_local, LocalSet};

/// Generous budget for executions that are expected to finish.
const BUDGET: Duration = Duration::from_secs(10);

struct Fixture {
    _dir: tempfile::TempDir,
    env: Env,
    storage: Storage,
    runtime: Rc<Runtime>,
}

impl Fixture {
    async fn new() -> Fixture {
        Fixture::with(RuntimeConfig::default()).await
    }

    /// A runtime with a single VM, so consecutive executions share it.
    async fn one_vm() -> Fixture {
        Fixture::with(RuntimeConfig {
            pool_size: 1,
            ..RuntimeConfig::default()
        })
        .await
    }

    async fn with(config: RuntimeConfig) -> Fixture {
        let env = Env::real();
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(&dir.path().join("fazt.db"), env.clone(), Default::default())
            .await
            .unwrap();
        let runtime = Runtime::new(env.clone(), Some(storage.clone()), config).unwrap();
        Fixture {
            _dir: dir,
            env,
            storage,
            runtime: Rc::new(runtime),
        }
    }

    fn deadline(&self, budget: Duration) -> Deadline {
        self.env.clock.deadline_in(budget)
    }

    async fn run_with(
        &self,
        app: &Arc<AppCode>,
        request: &HandlerRequest,
        budget: Duration,
    ) -> Execution {
        self.runtime
            .execute(app, request, self.deadline(budget))
            .await
    }

    async fn run(&self, app: &Arc<AppCode>) -> Execution {
        self.run_with(app, &get("/api"), BUDGET).await
    }

    async fn ok(&self, app: &Arc<AppCode>) -> Executed {
        match self.run(app).await.outcome {
            Ok(executed) => executed,
            Err(error) => panic!("app {:?} failed: {error} ({error:?})", app.id),
        }
    }

    async fn err(&self, app: &Arc<AppCode>) -> ExecutionError {
        match self.run(app).await.outcome {
            Ok(executed) => panic!("app {:?} succeeded: {executed:?}", app.id),
            Err(error) => error,
        }
    }

    /// The body of a successful execution of `source` as app `t`.
    async fn body(&self, source: &str) -> Value {
        self.ok(&app("t", source)).await.response.body
    }
}

/// Runs `future` in a `LocalSet` (a `Runtime` is not `Send`; `spawn_local` needs one).
async fn local<F: Future>(future: F) -> F::Output {
    LocalSet::new().run_until(future).await
}

fn app(id: &str, main: &str) -> Arc<AppCode> {
    app_files(id, &[("api/main.js", main)])
}

fn app_files(id: &str, files: &[(&str, &str)]) -> Arc<AppCode> {
    Arc::new(AppCode {
        id: id.into(),
        name: format!("App {id}"),
        files: files
            .iter()
            .map(|(path, source)| ((*path).to_owned(), (*source).to_owned()))
            .collect(),
        env: BTreeMap::new(),
    })
}

fn get(path: &str) -> HandlerRequest {
    HandlerRequest {
        method: "GET".into(),
        path: path.into(),
        ..HandlerRequest::default()
    }
}

fn log(level: LogLevel, message: &str) -> LogEntry {
    LogEntry {
        level,
        message: message.into(),
    }
}

fn script(name: &str) -> ErrorKind {
    ErrorKind::Script { name: name.into() }
}

#[path = "runtime/responses.rs"]
mod responses;

#[path = "runtime/request.rs"]
mod request;

#[path = "runtime/console.rs"]
mod console;

#[path = "runtime/require.rs"]
mod require;

#[path = "runtime/error_kinds.rs"]
mod error_kinds;

#[path = "runtime/pool_recovery.rs"]
mod pool_recovery;

#[path = "runtime/short_deadlines.rs"]
mod short_deadlines;

#[path = "runtime/shared_vm.rs"]
mod shared_vm;

#[path = "runtime/time_and_random.rs"]
mod time_and_random;

#[path = "runtime/storage.rs"]
mod storage;

#[path = "runtime/compiled_once.rs"]
mod compiled_once;

#[path = "runtime/isolation.rs"]
mod isolation;
