//! The engine's server, unchanged, as a turmoil host: simulated Clock, Rng, executor and
//! network, the fixture apps deployed at start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fazt_engine::config::Config;
use fazt_engine::env::Deadline;
use fazt_engine::server::{read_apps_dir, serve, DeployLimits, ServerConfig};
use fazt_engine::{Engine, EngineConfig, ExecutionThreads};

use crate::capture::Capture;
use crate::disk::SimDisk;
use crate::env::{sim_env_on, CostModel};
use crate::net::SimListener;

/// The domain the simulated server answers for.
pub const DOMAIN: &str = "fazt.test";
/// The port it listens on.
pub const PORT: u16 = 80;
/// The admin token of simulated servers.
pub const ADMIN_TOKEN: &str = "sim-admin-token";

/// Where the fixture apps live (the workspace's `fixtures/apps`).
pub fn fixture_apps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/apps")
}

/// Where the hostile apps live (`fixtures/adversarial/apps`): deployed only by the
/// scenarios that play a hostile tenant, never by the README's quick start.
pub fn adversarial_apps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/adversarial/apps")
}

/// Attempts at deploying each fixture app at start.
const DEPLOY_ATTEMPTS: u32 = 20;

/// What a server host needs.
#[derive(Clone)]
pub struct ServerHost {
    pub config: Config,
    pub seed: u64,
    /// The server machine's CPU costs.
    pub cost: CostModel,
    pub db: PathBuf,
    /// The simulated disk `db` lives on; `None`: the OS's files.
    pub disk: Option<SimDisk>,
    pub capture: Capture,
    /// Directories of apps deployed at start, each subdirectory one app (by default
    /// [`fixture_apps`] alone).
    pub apps: Vec<PathBuf>,
}

impl ServerHost {
    /// What [`Engine::build`] assembles: one execution worker on the sim thread.
    fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            db: self.db.clone(),
            profile: self.config.clone(),
            server: ServerConfig::new(DOMAIN, ADMIN_TOKEN),
            threads: ExecutionThreads::Local,
        }
    }

    /// Runs the server until the simulation ends.
    pub async fn run(self) -> turmoil::Result {
        let env = self.capture.attach(
            sim_env_on(self.seed, self.cost, self.disk.clone()).for_component("server-host"),
        );
        // A fault schedule may fail the start-up's reads too: retry, as an operator would.
        let config = self.engine_config();
        let mut attempt = 1;
        let server = loop {
            match Engine::build(&env, &config).await {
                Err(_) if attempt < DEPLOY_ATTEMPTS => attempt += 1,
                started => break started?,
            }
            env.clock.sleep(Duration::from_millis(1)).await;
        };
        let mut apps = Vec::new();
        for dir in &self.apps {
            apps.extend(read_apps_dir(dir, &DeployLimits::default())?);
        }
        for (name, files) in apps {
            // A fault schedule may hit these first writes: retry, as an operator would
            // restart a server whose start-up deploy failed.
            let mut attempt = 1;
            while let Err(error) = server.deploy(&name, files.clone(), Deadline::NONE).await {
                if attempt == DEPLOY_ATTEMPTS {
                    return Err(error.into());
                }
                attempt += 1;
                env.clock.sleep(Duration::from_millis(1)).await;
            }
        }
        let listener = SimListener(turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?);
        serve(listener, Arc::clone(&server), std::future::pending()).await;
        Ok(())
    }
}

impl ServerHost {
    /// A host running `profile` with its database `db_file` on `disk`, deploying
    /// `apps` at start: what every checked run (the property search, `fazt-sim test`)
    /// builds.
    pub fn on_disk(
        profile: &crate::profile::Profile,
        seed: u64,
        disk: &SimDisk,
        db_file: &str,
        capture: &Capture,
        apps: Vec<PathBuf>,
    ) -> ServerHost {
        ServerHost {
            config: profile.config.clone(),
            seed,
            cost: profile.cost(),
            db: disk.path(db_file),
            disk: Some(disk.clone()),
            capture: capture.clone(),
            apps,
        }
    }
}
