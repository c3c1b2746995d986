//! s3: per-app blobs with mime type, size and sha256.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::connection::Db;
use super::error::{Result, StorageError};
use super::kv::prefix_upper_bound;
use super::schema::{BLOB_DELETE, BLOB_GET, BLOB_LIST, BLOB_UPSERT};

/// The mime type of a blob stored without one.
pub const DEFAULT_MIME: &str = "application/octet-stream";

/// A stored blob, as `s3.get` returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    pub data: Vec<u8>,
    pub mime: String,
    pub size: u64,
    /// Lowercase hex sha256 of `data`.
    pub hash: String,
}

/// One entry of `s3.list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobMeta {
    pub path: String,
    pub mime: String,
    pub size: u64,
    pub updated_at: i64,
}

/// Lowercase hex sha256.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A blob ready to store: hash computed outside the writer.
pub struct NewBlob {
    pub data: Vec<u8>,
    pub mime: String,
    pub hash: String,
}

impl NewBlob {
    pub fn new(data: Vec<u8>, mime: Option<&str>) -> NewBlob {
        NewBlob {
            hash: sha256_hex(&data),
            mime: mime
                .filter(|m| !m.is_empty())
                .unwrap_or(DEFAULT_MIME)
                .to_owned(),
            data,
        }
    }
}

pub fn put(db: &mut Db, app: &str, path: &str, blob: &NewBlob, now_ms: i64) -> Result<()> {
    db.count_statement();
    db.conn().prepare_cached(BLOB_UPSERT)?.execute(params![
        app,
        path,
        blob.data,
        blob.mime,
        blob.data.len() as i64,
        blob.hash,
        now_ms
    ])?;
    Ok(())
}

pub fn get(db: &mut Db, app: &str, path: &str) -> Result<Option<Blob>> {
    db.count_statement();
    Ok(db
        .conn()
        .prepare_cached(BLOB_GET)?
        .query_row(params![app, path], |row| {
            Ok(Blob {
                data: row.get(0)?,
                mime: row.get(1)?,
                size: row.get::<_, i64>(2)? as u64,
                hash: row.get(3)?,
            })
        })
        .optional()?)
}

pub fn delete(db: &mut Db, app: &str, path: &str) -> Result<bool> {
    db.count_statement();
    Ok(db
        .conn()
        .prepare_cached(BLOB_DELETE)?
        .execute(params![app, path])?
        > 0)
}

/// Blobs whose path starts with `prefix`, by path. More than `max` is an error rather
/// than a silently cut list.
pub fn list(db: &mut Db, app: &str, prefix: &str, max: usize) -> Result<Vec<BlobMeta>> {
    db.count_statement();
    let upper = prefix_upper_bound(prefix);
    let mut statement = db.conn().prepare_cached(BLOB_LIST)?;
    let rows = statement.query_map(params![app, prefix, upper, max as i64 + 1], |row| {
        Ok(BlobMeta {
            path: row.get(0)?,
            mime: row.get(1)?,
            size: row.get::<_, i64>(2)? as u64,
            updated_at: row.get(3)?,
        })
    })?;
    let blobs: Vec<BlobMeta> = rows.collect::<rusqlite::Result<_>>()?;
    if blobs.len() > max {
        return Err(StorageError::InvalidArgument(format!(
            "more than {max} blobs match prefix {prefix:?}; use a longer prefix"
        )));
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(NewBlob::new(vec![], None).mime, DEFAULT_MIME);
    }
}
