//! The server's own storage calls: deployed sites and their files, app environment
//! variables, and the usage check of tests and invariants.

use std::collections::BTreeMap;

use super::env_vars::{self, EnvVarName};
use super::error::Result;
use super::handle::Storage;
use super::site::{self, Site, SiteFile};
use super::usage::{self, UsageMismatch};
use super::write::{Write, WriteOutput};
use crate::env::Deadline;

impl Storage {
    /// Replaces every file of `app_id` with `files` in one transaction: a failed deploy
    /// leaves the previous version serving.
    pub async fn deploy_site(
        &self,
        app_id: &str,
        files: Vec<SiteFile>,
        deadline: Deadline,
    ) -> Result<()> {
        let limits = &self.shared.config.limits;
        for file in &files {
            limits.check_key("file path", &file.path)?;
        }
        let write = Write::SiteDeploy {
            app: app_id.to_owned(),
            files,
            now_ms: self.shared.env.clock.wall_ms(),
        };
        self.write(write, deadline).await.map(drop)
    }

    /// Every deployed app.
    pub async fn sites(&self, deadline: Deadline) -> Result<Vec<Site>> {
        self.read(deadline, site::list).await
    }

    /// The files of `app_id`.
    pub async fn site_files(&self, app_id: &str, deadline: Deadline) -> Result<Vec<SiteFile>> {
        let app = app_id.to_owned();
        self.read(deadline, move |db| site::files(db, &app)).await
    }

    /// App `app_id`'s environment variables: ids and names, and values by name.
    pub async fn env_vars(
        &self,
        app_id: &str,
        deadline: Deadline,
    ) -> Result<(Vec<EnvVarName>, BTreeMap<String, String>)> {
        let app = app_id.to_owned();
        self.read(deadline, move |db| env_vars::list(db, &app))
            .await
    }

    /// The app environment variable `id` belongs to.
    pub async fn env_var_owner(&self, id: i64, deadline: Deadline) -> Result<Option<String>> {
        self.read(deadline, move |db| env_vars::owner(db, id)).await
    }

    /// Sets app `app`'s environment variable `name` (names are checked by the caller).
    pub async fn env_set(
        &self,
        app: &str,
        name: &str,
        value: &str,
        deadline: Deadline,
    ) -> Result<()> {
        let (app, name, value) = (app.to_owned(), name.to_owned(), value.to_owned());
        let write = Write::EnvSet { app, name, value };
        self.write(write, deadline).await.map(drop)
    }

    /// Deletes environment variable `id`; whether it existed.
    pub async fn env_delete(&self, id: i64, deadline: Deadline) -> Result<bool> {
        let deleted = self.write(Write::EnvDelete { id }, deadline).await?;
        Ok(deleted == WriteOutput::Existed(true))
    }

    /// Apps whose recorded storage usage differs from what their data adds up to: empty
    /// unless the usage triggers have a bug. A full scan, for tests and invariants.
    pub async fn usage_mismatches(&self, deadline: Deadline) -> Result<Vec<UsageMismatch>> {
        self.read(deadline, usage::mismatches).await
    }
}
