//! The engine's one assembly: storage, then the execution workers on it, then the
//! server on both. `fazt server start` (`server/start.rs`) and the simulator's server
//! host (`sim/src/run/server_host.rs`) both build through [`Engine::build`], so the two
//! cannot drift apart in what they wire to what; they differ only in the [`Env`] and
//! the [`EngineConfig`] they hand in.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::env::Env;
use crate::runtime::{ExecutionError, Workers};
use crate::server::{Server, ServerConfig, ServerError};
use crate::storage::{Storage, StorageError};

/// Where handlers execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutionThreads {
    /// This many threads of their own (at least one), each with its own VM pool: the
    /// real server, one per core by default.
    Threads(usize),
    /// One worker on the caller's tokio `LocalSet`: the simulator, where every
    /// execution must run on the simulation's one thread.
    Local,
}

/// What to build.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The SQLite database file (created and migrated if absent).
    pub db: PathBuf,
    /// The profile: storage, runtime and the request budget.
    pub profile: Config,
    /// The HTTP settings. Its `request_timeout` is replaced by the profile's, so the
    /// budget of a request is the profile's in every assembly.
    pub server: ServerConfig,
    pub threads: ExecutionThreads,
}

/// Why the engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("opening the database {db}: {error}")]
    Storage { db: PathBuf, error: StorageError },
    #[error("starting the execution workers: {0}")]
    Workers(#[from] ExecutionError),
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// The assembled engine: a [`Server`] ready for [`crate::server::serve`].
pub struct Engine;

impl Engine {
    /// Opens the storage, starts the workers on it and builds the server (which loads
    /// the deployed apps). Call from inside a `LocalSet` for [`ExecutionThreads::Local`].
    pub async fn build(env: &Env, config: &EngineConfig) -> Result<Arc<Server>, BuildError> {
        let storage = Storage::open(&config.db, env.clone(), config.profile.storage.clone())
            .await
            .map_err(|error| BuildError::Storage {
                db: config.db.clone(),
                error,
            })?;
        let runtime = &config.profile.runtime;
        let workers = match config.threads {
            ExecutionThreads::Threads(threads) => {
                Workers::start(env, Some(storage.clone()), runtime, threads)?
            }
            ExecutionThreads::Local => Workers::local(env, Some(storage.clone()), runtime)?,
        };
        let mut server = config.server.clone();
        server.request_timeout = config.profile.request_timeout;
        Ok(Server::new(env.clone(), storage, workers, server).await?)
    }
}
