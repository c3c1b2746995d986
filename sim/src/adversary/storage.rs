//! Each app's rows of the final database file (kv values, documents, blobs), as texts
//! for the isolation check.

use std::path::Path;

use fazt_engine::storage::Db;

/// One stored row: the app it belongs to, what it is (`kv a`, `ds registers/b`,
/// `s3 flood/3`) and its bytes.
pub struct Row {
    pub app: String,
    pub what: String,
    pub text: Vec<u8>,
}

/// Every kv value, document and blob of every app, or why the file could not be read.
pub fn rows(path: &Path) -> Result<Vec<Row>, String> {
    let db = Db::open(path).map_err(|error| format!("cannot open the database: {error}"))?;
    let mut rows = Vec::new();
    for (space, sql) in [
        (
            "kv",
            "SELECT app_id, key, CAST(value AS BLOB) FROM app_kv ORDER BY app_id, key",
        ),
        (
            "ds",
            "SELECT app_id, collection || '/' || id, CAST(data AS BLOB) FROM app_docs ORDER BY seq",
        ),
        (
            "s3",
            "SELECT app_id, path, data FROM app_blobs ORDER BY app_id, path",
        ),
    ] {
        let mut statement = db
            .conn()
            .prepare(sql)
            .map_err(|error| format!("{space}: {error}"))?;
        let found = statement
            .query_map([], |row| {
                Ok(Row {
                    app: row.get(0)?,
                    what: format!("{space} {}", row.get::<_, String>(1)?),
                    text: row.get(2)?,
                })
            })
            .map_err(|error| format!("{space}: {error}"))?;
        for row in found {
            rows.push(row.map_err(|error| format!("{space}: {error}"))?);
        }
    }
    Ok(rows)
}

/// Bytes stored by `app` (values, documents and blobs).
pub fn stored_bytes(rows: &[Row], app: &str) -> u64 {
    rows.iter()
        .filter(|row| row.app == app)
        .map(|row| row.text.len() as u64)
        .sum()
}
