//! [`Server`]: the state every connection shares: the environment, storage, the
//! JavaScript workers, the app cache, and the server's own bookkeeping.

use std::sync::Arc;

use super::admission::{default_app_max, Admission};
use super::apps::{AppRegistry, Deployed};
use super::config::ServerConfig;
use super::journal::Journal;
use super::metrics::Metrics;
use super::rate_limit::RateLimiter;
use super::traces::TraceRing;
use crate::env::{Deadline, Env, Instant, Rng};
use crate::runtime::Workers;
use crate::storage::{SiteFile, Storage, StorageError};

/// Why a server could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid server configuration: {0}")]
    InvalidConfig(String),
    #[error("could not load the deployed apps: {0}")]
    Storage(#[from] StorageError),
}

/// One server's shared state. Built once, then handed (in an `Arc`) to
/// [`super::serve`]; both the real server and the simulator build it through
/// [`crate::Engine::build`].
pub struct Server {
    pub(super) env: Env,
    pub(super) config: ServerConfig,
    pub(super) storage: Storage,
    pub(super) workers: Workers,
    pub(super) apps: AppRegistry,
    pub(super) limiter: RateLimiter,
    pub(super) admission: Admission,
    pub(super) traces: TraceRing,
    pub(super) metrics: Metrics,
    /// Draws request ids.
    pub(super) request_ids: Rng,
    pub(super) started: Instant,
    /// The request journal of `--journal`, when on.
    pub(super) journal: Option<Journal>,
}

impl Server {
    /// Builds the server on an open `storage` and started `workers`, and loads every
    /// deployed app into the cache. The admission gate gets one slot per VM,
    /// at most [`ServerConfig::app_concurrency`] of them per app.
    pub async fn new(
        env: Env,
        storage: Storage,
        workers: Workers,
        config: ServerConfig,
    ) -> Result<Arc<Server>, ServerError> {
        if config.admin_token.trim().is_empty() {
            return Err(ServerError::InvalidConfig(
                "the admin token is empty".into(),
            ));
        }
        if config.app_concurrency == Some(0) {
            return Err(ServerError::InvalidConfig(
                "app_concurrency must be at least 1".into(),
            ));
        }
        if config.domain.is_empty() || config.domain.starts_with('.') {
            return Err(ServerError::InvalidConfig(format!(
                "domain {:?} is not a host name",
                config.domain
            )));
        }
        let journal = match &config.journal {
            Some(journal) => Some(Journal::open(journal.clone()).map_err(|error| {
                ServerError::InvalidConfig(format!(
                    "cannot open the journal in {}: {error}",
                    journal.dir.display()
                ))
            })?),
            None => None,
        };
        let env = env.for_component("server");
        let vm_slots = workers.metrics().await.size;
        let apps = AppRegistry::load(&env, &storage).await?;
        tracing::info!(apps = apps.ids().len(), vm_slots, "server state ready");
        Ok(Arc::new(Server {
            limiter: RateLimiter::new(config.rate_limit.clone()),
            admission: Admission::new(
                vm_slots,
                config
                    .app_concurrency
                    .unwrap_or_else(|| default_app_max(vm_slots)),
                config.admission_wait,
            ),
            traces: TraceRing::new(config.traces_max),
            metrics: Metrics::default(),
            request_ids: env.rng.split("request-ids"),
            started: env.clock.now(),
            apps,
            journal,
            env,
            config,
            storage,
            workers,
        }))
    }

    /// The settings the server was built with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The storage the server serves from (for shutdown and inspection).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The request journal, when `--journal` turned it on.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Every deployed app's id, in order.
    pub fn app_ids(&self) -> Vec<String> {
        self.apps.ids()
    }

    /// Deploys `files` as app `site` (already validated: name and paths), replacing
    /// its previous version atomically. Identical files are not written again.
    pub async fn deploy(
        &self,
        site: &str,
        files: Vec<SiteFile>,
        deadline: Deadline,
    ) -> Result<Deployed, StorageError> {
        let deployed = self
            .apps
            .deploy(&self.env, &self.storage, site, files, deadline)
            .await?;
        tracing::info!(
            site,
            files = deployed.files,
            bytes = deployed.bytes,
            unchanged = deployed.unchanged,
            "deployed"
        );
        Ok(deployed)
    }
}
