//! Execution workers: each owns a [`Runtime`] (VMs and stacks) and takes work from a
//! channel, so callers only hold `Send` handles.
//!
//! - [`Workers::start`] (the real environment): one thread per core, each with a
//!   current-thread tokio runtime and a `LocalSet`, so executions run in parallel and a
//!   suspended execution never changes threads.
//! - [`Workers::local`] (the simulator): one worker on the current `LocalSet`, so every
//!   execution runs on the sim thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{
    AppCode, Execution, ExecutionError, HandlerRequest, PoolMetrics, Runtime, RuntimeConfig,
};
use crate::env::{Deadline, Env};
use crate::storage::Storage;

/// A request for one worker.
enum Command {
    Execute {
        app: Arc<AppCode>,
        request: HandlerRequest,
        deadline: Deadline,
        reply: oneshot::Sender<Execution>,
    },
    Metrics(oneshot::Sender<PoolMetrics>),
}

/// Execution threads, fed round-robin.
pub struct Workers {
    queues: Vec<mpsc::UnboundedSender<Command>>,
    next: AtomicUsize,
}

impl Workers {
    /// Starts `threads` workers (at least one), each with a runtime made from `config`.
    pub fn start(
        env: &Env,
        storage: Option<Storage>,
        config: &RuntimeConfig,
        threads: usize,
    ) -> Result<Workers, ExecutionError> {
        let mut queues = Vec::new();
        for index in 0..threads.max(1) {
            let (queue, work) = mpsc::unbounded_channel();
            let (started, ready) = std::sync::mpsc::channel();
            let (env, storage, config) = (
                env.for_component(&format!("worker-{index}")),
                storage.clone(),
                config.clone(),
            );
            std::thread::Builder::new()
                .name(format!("fazt-js-{index}"))
                .spawn(move || serve(env, storage, config, work, started))
                .expect("spawn an execution worker");
            ready.recv().expect("a worker reports its start")?;
            queues.push(queue);
        }
        Ok(Workers {
            queues,
            next: AtomicUsize::new(0),
        })
    }

    /// One worker running on the current `LocalSet` (call from inside one).
    pub fn local(
        env: &Env,
        storage: Option<Storage>,
        config: &RuntimeConfig,
    ) -> Result<Workers, ExecutionError> {
        let runtime = Runtime::new(env.for_component("worker-0"), storage, config.clone())?;
        let (queue, work) = mpsc::unbounded_channel();
        tokio::task::spawn_local(serve_loop(std::rc::Rc::new(runtime), work));
        Ok(Workers {
            queues: vec![queue],
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `app`'s handler for `request` on the next worker.
    pub async fn execute(
        &self,
        app: Arc<AppCode>,
        request: HandlerRequest,
        deadline: Deadline,
    ) -> Execution {
        let (reply, answer) = oneshot::channel();
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        let work = Command::Execute {
            app,
            request,
            deadline,
            reply,
        };
        self.queues[index]
            .send(work)
            .expect("workers live as long as `Workers`");
        answer.await.expect("a worker answers every execution")
    }

    /// Pool metrics summed over the workers.
    pub async fn metrics(&self) -> PoolMetrics {
        let mut total = PoolMetrics::default();
        for queue in &self.queues {
            let (reply, answer) = oneshot::channel();
            queue
                .send(Command::Metrics(reply))
                .expect("workers live as long as `Workers`");
            total += &answer.await.expect("a worker answers");
        }
        total
    }
}

fn serve(
    env: Env,
    storage: Option<Storage>,
    config: RuntimeConfig,
    work: mpsc::UnboundedReceiver<Command>,
    started: std::sync::mpsc::Sender<Result<(), ExecutionError>>,
) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&tokio, async move {
        let runtime = match Runtime::new(env, storage, config) {
            Ok(runtime) => std::rc::Rc::new(runtime),
            Err(error) => {
                let _ = started.send(Err(error));
                return;
            }
        };
        let _ = started.send(Ok(()));
        serve_loop(runtime, work).await;
    });
}

async fn serve_loop(runtime: std::rc::Rc<Runtime>, mut work: mpsc::UnboundedReceiver<Command>) {
    while let Some(item) = work.recv().await {
        match item {
            Command::Execute {
                app,
                request,
                deadline,
                reply,
            } => {
                let runtime = runtime.clone();
                tokio::task::spawn_local(async move {
                    let execution = runtime.execute(&app, &request, deadline).await;
                    let _ = reply.send(execution);
                });
            }
            Command::Metrics(reply) => {
                let _ = reply.send(runtime.metrics());
            }
        }
    }
}
