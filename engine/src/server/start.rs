//! `fazt server start` in the real environment: build the engine ([`Engine::build`]:
//! the database, one execution worker per core, the server), load `--apps`, bind TCP,
//! serve until SIGTERM/SIGINT, shut down cleanly. The simulator does not come here: it
//! builds through the same [`Engine::build`] and calls [`serve`] with its own listener
//! and shutdown.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;

use super::admin_token::generate_token;
use super::config::ServerConfig;
use super::journal::JournalConfig;
use super::lifecycle::serve;
use super::site_dir::read_apps_dir;
use crate::config::Config;
use crate::engine::{Engine, EngineConfig, ExecutionThreads};
use crate::env::{Deadline, Env};
use crate::storage::Durability;

/// What `fazt server start` was asked for.
#[derive(Clone, Debug)]
pub struct StartOptions {
    /// Address to listen on. The CLI's default is 127.0.0.1; `0.0.0.0` to serve others.
    pub bind: IpAddr,
    /// 0 picks a free port (printed at start).
    pub port: u16,
    pub db: PathBuf,
    pub domain: String,
    /// Deploy every `DIR/<name>/` at start.
    pub apps: Option<PathBuf>,
    /// A profile name of [`crate::config::PROFILES`] (`hardened` by default).
    pub profile: String,
    /// The admin token; generated (and printed once) when absent.
    pub admin_token: Option<String>,
    /// Requests per second per client address; 0 turns the limit off.
    pub rate_limit: Option<u64>,
    /// Execution workers (threads, each with its own VM pool); default one per core.
    pub workers: Option<usize>,
    /// Requests of one app executing at once ([`ServerConfig::app_concurrency`]).
    pub app_concurrency: Option<usize>,
    /// Connections open at once per client address; `None` for no cap
    /// ([`ServerConfig::connections_per_address_max`]).
    pub connections_per_address_max: Option<usize>,
    /// Bytes each app may store; the profile's (256 MiB) when absent.
    pub app_quota_bytes: Option<u64>,
    /// When a write is synced before it is acknowledged; the profile's when absent.
    pub durability: Option<Durability>,
    /// Journal requests (`--journal DIR`, `--journal-apps`, `--journal-max-bytes`).
    pub journal: Option<JournalConfig>,
}

/// Runs the server until SIGTERM or SIGINT, then shuts down gracefully.
pub async fn run(options: StartOptions, env: Env) -> anyhow::Result<()> {
    let token = match options
        .admin_token
        .clone()
        .filter(|token| !token.trim().is_empty())
    {
        Some(token) => token,
        None => {
            let token = generate_token();
            println!("admin token (generated; set FAZT_ADMIN_TOKEN or --admin-token to choose one): {token}");
            token
        }
    };
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut engine = Config::preset(&options.profile, u32::try_from(cpus).unwrap_or(u32::MAX))
        .map_err(anyhow::Error::msg)?;
    if let Some(quota) = options.app_quota_bytes {
        engine.storage.limits.app_quota_bytes = quota;
    }
    if let Some(durability) = options.durability {
        engine.storage.policy.durability = durability;
    }
    let mut server = ServerConfig::new(&options.domain, token);
    server.app_concurrency = options.app_concurrency;
    server.connections_per_address_max = options.connections_per_address_max;
    server.journal = options.journal.clone();
    if let Some(per_second) = options.rate_limit {
        server.rate_limit.per_second = per_second;
        server.rate_limit.burst = per_second.saturating_mul(2);
    }
    let config = EngineConfig {
        db: options.db.clone(),
        profile: engine.clone(),
        server,
        threads: ExecutionThreads::Threads(options.workers.unwrap_or(cpus)),
    };
    let server = Engine::build(&env, &config).await?;
    if let Some(dir) = &options.apps {
        let apps = read_apps_dir(dir, &server.config().deploy)
            .with_context(|| format!("reading the apps in {}", dir.display()))?;
        for (name, files) in apps {
            server
                .deploy(&name, files, Deadline::NONE)
                .await
                .with_context(|| format!("deploying {name} from {}", dir.display()))?;
        }
    }
    let address = SocketAddr::new(options.bind, options.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    let local = listener.local_addr()?;
    println!(
        "fazt {} listening on http://{local} (profile {}, seed {}): apps at http://<app>.{}:{}, admin at http://admin.{}:{}; apps: {}",
        env!("CARGO_PKG_VERSION"),
        engine.profile,
        env.rng.seed(),
        options.domain,
        local.port(),
        options.domain,
        local.port(),
        server.app_ids().join(", "),
    );
    let report = serve(listener, server.clone(), termination_signal()).await;
    if let Some(journal) = server.journal() {
        journal.flush();
        let counts = journal.counts();
        tracing::info!(
            written = counts.written.load(std::sync::atomic::Ordering::Relaxed),
            dropped_queue_full = counts
                .dropped_full
                .load(std::sync::atomic::Ordering::Relaxed),
            dropped_write_error = counts
                .dropped_error
                .load(std::sync::atomic::Ordering::Relaxed),
            "journal closed"
        );
    }
    tracing::info!(
        connections = report.connections,
        drained = report.drained,
        "server stopped"
    );
    Ok(())
}

/// Completes at the first SIGTERM or SIGINT (Ctrl-C).
pub async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("termination signal received");
}
