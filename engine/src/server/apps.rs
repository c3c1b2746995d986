//! The app registry: every deployed app's files and handler code, cached in memory.
//!
//! The database is the truth (apps survive restarts and deploys are atomic there); the
//! cache is built from it at start and replaced, app by app, after each deploy commits.
//! Static files are prepared once per deploy: ETag from the content hash, gzip for
//! compressible types, so serving a file is a map lookup.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde::Serialize;

use super::mime;
use crate::env::{run_blocking, Deadline, Env, Work};
use crate::runtime::AppCode;
use crate::storage::{SiteFile, Storage, StorageError};

/// Files smaller than this are not worth gzipping.
const GZIP_BYTES_MIN: usize = 512;

/// One static file, ready to serve.
#[derive(Clone, Debug)]
pub struct StaticFile {
    pub data: Bytes,
    /// The gzip encoding, when the type compresses and it is smaller.
    pub gzip: Option<Bytes>,
    pub mime: String,
    /// Quoted strong validator (a prefix of the sha256).
    pub etag: String,
}

/// A deployed app as the server serves it.
#[derive(Clone, Debug)]
pub struct App {
    pub id: String,
    /// Static files by path; `api/` is never served as a file.
    pub files: BTreeMap<String, StaticFile>,
    /// The handler's code (`api/**.js`), when the app has `api/main.js`.
    pub code: Option<Arc<AppCode>>,
    /// Path → sha256 of every file, to skip redeploying an unchanged folder.
    pub hashes: BTreeMap<String, String>,
    /// Serve paths with a segment starting with `.` (`/.env`, `/.git/config`,
    /// `/.well-known/...`). Off unless the app's `manifest.json` says
    /// `"serveDotfiles": true`: such files are usually deployed by mistake.
    pub serve_dotfiles: bool,
}

impl App {
    /// Prepares `files` (CPU work: hashing was done by the caller, gzip here).
    pub fn build(id: &str, files: &[SiteFile]) -> App {
        let mut statics = BTreeMap::new();
        let mut sources = BTreeMap::new();
        for file in files {
            if file.path.starts_with("api/") {
                if file.path.ends_with(".js") {
                    let source = String::from_utf8_lossy(&file.data).into_owned();
                    sources.insert(file.path.clone(), source);
                }
                continue;
            }
            let gzip = (mime::compressible(&file.mime) && file.data.len() >= GZIP_BYTES_MIN)
                .then(|| gzip(&file.data))
                .filter(|packed| packed.len() < file.data.len())
                .map(Bytes::from);
            let etag = format!("\"{}\"", &file.hash[..file.hash.len().min(20)]);
            let file_ready = StaticFile {
                data: Bytes::from(file.data.clone()),
                gzip,
                mime: file.mime.clone(),
                etag,
            };
            statics.insert(file.path.clone(), file_ready);
        }
        let code = sources.contains_key(AppCode::MAIN).then(|| {
            Arc::new(AppCode {
                id: id.to_owned(),
                name: id.to_owned(),
                files: sources,
                env: BTreeMap::new(),
            })
        });
        App {
            id: id.to_owned(),
            files: statics,
            serve_dotfiles: serves_dotfiles(files),
            code,
            hashes: files
                .iter()
                .map(|file| (file.path.clone(), file.hash.clone()))
                .collect(),
        }
    }
}

impl App {
    /// The app with `env` as what `fazt.env` answers its handler.
    fn with_env(mut self, env: BTreeMap<String, String>) -> App {
        if let Some(code) = &mut self.code {
            Arc::make_mut(code).env = env;
        }
        self
    }
}

/// The app's manifest, where it opts in to features (fazt keeps an app's settings,
/// such as `spa`, in the same file).
const MANIFEST: &str = "manifest.json";

/// True when `manifest.json` is a JSON object with `"serveDotfiles": true`. A missing
/// or unreadable manifest means the default, off.
fn serves_dotfiles(files: &[SiteFile]) -> bool {
    files
        .iter()
        .find(|file| file.path == MANIFEST)
        .and_then(|file| serde_json::from_slice::<serde_json::Value>(&file.data).ok())
        .is_some_and(|manifest| manifest["serveDotfiles"] == true)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// What a deploy did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployed {
    pub site: String,
    pub files: usize,
    pub bytes: u64,
    /// True when the files were identical to the deployed ones, so nothing was written.
    pub unchanged: bool,
}

/// Every app, by id.
pub struct AppRegistry {
    apps: RwLock<BTreeMap<String, Arc<App>>>,
    /// Deploys one at a time, so the cache always ends with the last committed version.
    deploys: tokio::sync::Mutex<()>,
}

impl AppRegistry {
    /// Loads every deployed app from `storage`.
    pub async fn load(env: &Env, storage: &Storage) -> Result<AppRegistry, StorageError> {
        let mut apps = BTreeMap::new();
        for site in storage.sites(Deadline::NONE).await? {
            let files = storage.site_files(&site.app_id, Deadline::NONE).await?;
            let (_, vars) = storage.env_vars(&site.app_id, Deadline::NONE).await?;
            let id = site.app_id.clone();
            let app = run_blocking(env.executor.as_ref(), move || {
                (App::build(&id, &files), Work::default())
            })
            .await;
            apps.insert(site.app_id, Arc::new(app.with_env(vars)));
        }
        Ok(AppRegistry {
            apps: RwLock::new(apps),
            deploys: tokio::sync::Mutex::new(()),
        })
    }

    pub fn get(&self, id: &str) -> Option<Arc<App>> {
        self.apps.read().expect("app registry").get(id).cloned()
    }

    /// Ids of every app, in order.
    pub fn ids(&self) -> Vec<String> {
        self.apps
            .read()
            .expect("app registry")
            .keys()
            .cloned()
            .collect()
    }

    /// Replaces `id`'s files with `files` in the database (atomically), then in the
    /// cache. A failed deploy changes neither.
    pub async fn deploy(
        &self,
        env: &Env,
        storage: &Storage,
        id: &str,
        files: Vec<SiteFile>,
        deadline: Deadline,
    ) -> Result<Deployed, StorageError> {
        let _one_at_a_time = self.deploys.lock().await;
        let deployed = Deployed {
            site: id.to_owned(),
            files: files.len(),
            bytes: files.iter().map(|file| file.data.len() as u64).sum(),
            unchanged: false,
        };
        let hashes: BTreeMap<String, String> = files
            .iter()
            .map(|file| (file.path.clone(), file.hash.clone()))
            .collect();
        if self.get(id).is_some_and(|app| app.hashes == hashes) {
            return Ok(Deployed {
                unchanged: true,
                ..deployed
            });
        }
        let (app_id, files) = (id.to_owned(), Arc::new(files));
        let prepared = files.clone();
        let (_, vars) = storage.env_vars(id, deadline).await?;
        let app = run_blocking(env.executor.as_ref(), move || {
            (App::build(&app_id, &prepared), Work::default())
        })
        .await
        .with_env(vars);
        let files = Arc::try_unwrap(files).expect("the build job has finished");
        if let Err(error) = storage.deploy_site(id, files, deadline).await {
            if matches!(error, StorageError::OutcomeUnknown) {
                // It may have committed: let the cache follow the database, whichever way.
                if let Err(reload) = self.reload(env, storage, id).await {
                    tracing::warn!(app = id, error = %reload, "could not reload the app after an unknown deploy outcome");
                }
            }
            return Err(error);
        }
        self.apps
            .write()
            .expect("app registry")
            .insert(id.to_owned(), Arc::new(app));
        Ok(deployed)
    }

    /// Gives app `id`'s handler its environment variables as the database now holds
    /// them (after the admin API changed one). Deploys wait, so neither undoes the other.
    pub async fn refresh_env(&self, storage: &Storage, id: &str) -> Result<(), StorageError> {
        let _one_at_a_time = self.deploys.lock().await;
        let (_, vars) = storage.env_vars(id, Deadline::NONE).await?;
        let mut cache = self.apps.write().expect("app registry");
        if let Some(app) = cache.get(id) {
            let app = App::clone(app).with_env(vars);
            cache.insert(id.to_owned(), Arc::new(app));
        }
        Ok(())
    }

    /// Rebuilds `id`'s cache entry from the database.
    async fn reload(&self, env: &Env, storage: &Storage, id: &str) -> Result<(), StorageError> {
        let files = storage.site_files(id, Deadline::NONE).await?;
        let (_, vars) = storage.env_vars(id, Deadline::NONE).await?;
        let app_id = id.to_owned();
        let app = run_blocking(env.executor.as_ref(), move || {
            let app = (!files.is_empty()).then(|| App::build(&app_id, &files).with_env(vars));
            (app, Work::default())
        })
        .await;
        let mut cache = self.apps.write().expect("app registry");
        match app {
            Some(app) => cache.insert(id.to_owned(), Arc::new(app)),
            None => cache.remove(id),
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_separates_code_from_static_files() {
        let html = "<p>hello</p>".repeat(100);
        let files = vec![
            SiteFile::new(
                "index.html",
                html.clone().into_bytes(),
                mime::for_path("index.html"),
            ),
            SiteFile::new("api/main.js", b"respond(1)".to_vec(), "text/javascript"),
            SiteFile::new(
                "api/lib.js",
                b"module.exports = 1".to_vec(),
                "text/javascript",
            ),
            SiteFile::new("logo.png", vec![1; 2000], "image/png"),
        ];
        let app = App::build("demo", &files);
        assert_eq!(
            app.files.keys().collect::<Vec<_>>(),
            ["index.html", "logo.png"]
        );
        let code = app.code.as_ref().unwrap();
        assert_eq!(code.files.len(), 2);
        assert!(app.files["index.html"].gzip.as_ref().unwrap().len() < html.len());
        assert!(app.files["logo.png"].gzip.is_none());
        assert!(app.files["index.html"].etag.starts_with('"'));
        let static_only = App::build("site", &files[..1]);
        assert!(static_only.code.is_none());
    }
}
