//! The app's final storage, read from the run's database file once the simulation is
//! over, as plain JSON for the invariants: read-only by construction (a copy).

use std::path::Path;

use fazt_engine::storage::Db;
use serde_json::{json, Map, Value};

/// `{kv: {key: value}, ds: {collection: [doc]}, s3: {path: {data, mime, size}}}` of
/// `app`; empty when the file cannot be opened (a run whose server never started).
pub fn read(db: &Path, app: &str) -> Value {
    let Ok(db) = Db::open(db) else {
        return json!({"kv": {}, "ds": {}, "s3": {}});
    };
    let conn = db.conn();
    let mut kv = Map::new();
    let mut ds = Map::new();
    let mut s3 = Map::new();
    let rows = |sql: &str, f: &mut dyn FnMut(&rusqlite::Row) -> Option<()>| {
        let Ok(mut statement) = conn.prepare(sql) else {
            return;
        };
        let Ok(mut rows) = statement.query([app]) else {
            return;
        };
        while let Ok(Some(row)) = rows.next() {
            f(row);
        }
    };
    rows(
        "SELECT key, value FROM app_kv WHERE app_id = ?1 ORDER BY key",
        &mut |row| {
            let value: String = row.get(1).ok()?;
            kv.insert(row.get(0).ok()?, parse(&value));
            Some(())
        },
    );
    rows(
        "SELECT collection, id, data, created_at, updated_at FROM app_docs \
         WHERE app_id = ?1 ORDER BY collection, seq",
        &mut |row| {
            let collection: String = row.get(0).ok()?;
            let data: String = row.get(2).ok()?;
            let mut doc = parse(&data);
            if let Some(fields) = doc.as_object_mut() {
                fields.insert("id".into(), Value::from(row.get::<_, String>(1).ok()?));
                fields.insert("_createdAt".into(), Value::from(row.get::<_, i64>(3).ok()?));
                fields.insert("_updatedAt".into(), Value::from(row.get::<_, i64>(4).ok()?));
            }
            let docs = ds
                .entry(collection)
                .or_insert_with(|| Value::Array(Vec::new()));
            docs.as_array_mut()?.push(doc);
            Some(())
        },
    );
    rows(
        "SELECT path, data, mime_type, size_bytes FROM app_blobs WHERE app_id = ?1 ORDER BY path",
        &mut |row| {
            let data: Vec<u8> = row.get(1).ok()?;
            let blob = json!({
                "data": String::from_utf8_lossy(&data),
                "mime": row.get::<_, String>(2).ok()?,
                "size": row.get::<_, i64>(3).ok()?,
            });
            s3.insert(row.get(0).ok()?, blob);
            Some(())
        },
    );
    json!({"kv": kv, "ds": ds, "s3": s3})
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::from(text))
}
