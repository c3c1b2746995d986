//! Deployed apps: their files (static files and handler code) live in the database and
//! are replaced all at once by a deploy.

use rusqlite::params;
use serde::Serialize;

use super::connection::Db;
use super::error::Result;
use super::s3::sha256_hex;
use super::schema::{SITE_FILES, SITE_FILES_CLEAR, SITE_FILE_INSERT, SITE_LIST, SITE_UPSERT};

/// One file of a deployed app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteFile {
    /// Relative path, `/`-separated (`index.html`, `api/main.js`).
    pub path: String,
    pub data: Vec<u8>,
    pub mime: String,
    /// Lowercase hex sha256 of `data`.
    pub hash: String,
}

impl SiteFile {
    pub fn new(path: impl Into<String>, data: Vec<u8>, mime: impl Into<String>) -> SiteFile {
        SiteFile {
            path: path.into(),
            hash: sha256_hex(&data),
            data,
            mime: mime.into(),
        }
    }
}

/// A deployed app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Site {
    pub app_id: String,
    /// 1 for the first deploy, one more for each.
    pub version: i64,
    pub deployed_at: i64,
}

/// Replaces every file of `app` with `files` (inside the writer's transaction, so a
/// failed deploy leaves the old version in place).
pub fn deploy(db: &mut Db, app: &str, files: &[SiteFile], now_ms: i64) -> Result<()> {
    db.count_statement();
    db.conn()
        .prepare_cached(SITE_UPSERT)?
        .execute(params![app, now_ms])?;
    db.count_statement();
    db.conn().prepare_cached(SITE_FILES_CLEAR)?.execute([app])?;
    let mut insert = db.conn().prepare_cached(SITE_FILE_INSERT)?;
    for file in files {
        insert.execute(params![app, file.path, file.data, file.mime, file.hash])?;
    }
    drop(insert);
    db.count_statements(files.len() as u64);
    Ok(())
}

pub fn list(db: &mut Db) -> Result<Vec<Site>> {
    db.count_statement();
    let mut statement = db.conn().prepare_cached(SITE_LIST)?;
    let rows = statement.query_map([], |row| {
        Ok(Site {
            app_id: row.get(0)?,
            version: row.get(1)?,
            deployed_at: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn files(db: &mut Db, app: &str) -> Result<Vec<SiteFile>> {
    db.count_statement();
    let mut statement = db.conn().prepare_cached(SITE_FILES)?;
    let rows = statement.query_map([app], |row| {
        Ok(SiteFile {
            path: row.get(0)?,
            data: row.get(1)?,
            mime: row.get(2)?,
            hash: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
