//! kv: per-app JSON values with optional TTL. Synchronous functions on a connection;
//! `handle.rs` routes them to the reader pool or the write queue.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::connection::Db;
use super::error::{Result, StorageError};
use super::limits::KV_TTL_MAX_MS;
use super::schema::{KV_DELETE, KV_GET, KV_LIST, KV_SWEEP, KV_UPSERT};

/// One entry of `kv.list`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KvEntry {
    pub key: String,
    pub value: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// The TTL argument of `kv.set(key, value, ttlMs)` as JavaScript passed it: `null`
/// (or absent) for no expiry, else a whole number of milliseconds from 1 to
/// [`KV_TTL_MAX_MS`]. Anything else (negative, zero, fractional, NaN, too large, not a
/// number) is refused: upstream fazt truncated it and stored an entry that was expired
/// at once, and this engine used to store it without expiry; both lose silently.
pub fn ttl_ms(ttl: &Value) -> Result<Option<u64>> {
    let invalid = || {
        StorageError::InvalidArgument(format!(
            "ttlMs must be a whole number of milliseconds from 1 to {KV_TTL_MAX_MS}, or omitted for no expiry; got {ttl}"
        ))
    };
    match ttl {
        Value::Null => Ok(None),
        Value::Number(number) => {
            let ms = match number.as_u64() {
                Some(ms) => ms,
                None => match number.as_f64() {
                    Some(ms) if ms.fract() == 0.0 && ms >= 1.0 && ms <= KV_TTL_MAX_MS as f64 => {
                        ms as u64
                    }
                    _ => return Err(invalid()),
                },
            };
            check_ttl_ms(ms).map_err(|_| invalid()).map(Some)
        }
        _ => Err(invalid()),
    }
}

/// Refuses a TTL of 0 or over [`KV_TTL_MAX_MS`].
pub fn check_ttl_ms(ms: u64) -> Result<u64> {
    if (1..=KV_TTL_MAX_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(StorageError::InvalidArgument(format!(
            "ttlMs must be from 1 to {KV_TTL_MAX_MS} milliseconds; got {ms}"
        )))
    }
}

/// The value at `key`, unless missing or expired at `now_ms`.
pub fn get(db: &mut Db, app: &str, key: &str, now_ms: i64) -> Result<Option<Value>> {
    db.count_statement();
    let text: Option<String> = db
        .conn()
        .prepare_cached(KV_GET)?
        .query_row(params![app, key, now_ms], |row| row.get(0))
        .optional()?;
    text.map(|text| Ok(serde_json::from_str(&text)?))
        .transpose()
}

/// Entries whose key starts with `prefix`, by key, unexpired at `now_ms`. More than
/// `max` entries is an error rather than a silently cut list.
pub fn list(db: &mut Db, app: &str, prefix: &str, now_ms: i64, max: usize) -> Result<Vec<KvEntry>> {
    db.count_statement();
    let upper = prefix_upper_bound(prefix);
    let mut statement = db.conn().prepare_cached(KV_LIST)?;
    let rows = statement.query_map(params![app, prefix, upper, now_ms, max as i64 + 1], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, Option<i64>>(2)?,
        ))
    })?;
    let mut entries = Vec::new();
    for row in rows {
        let (key, value, expires_at) = row?;
        entries.push(KvEntry {
            key,
            value: serde_json::from_str(&value)?,
            expires_at,
        });
    }
    if entries.len() > max {
        return Err(StorageError::InvalidArgument(format!(
            "more than {max} keys match prefix {prefix:?}; use a longer prefix"
        )));
    }
    Ok(entries)
}

/// Inserts or replaces `key` (value already encoded as JSON text).
pub fn set(
    db: &mut Db,
    app: &str,
    key: &str,
    value_json: &str,
    expires_at: Option<i64>,
    now_ms: i64,
) -> Result<()> {
    db.count_statement();
    db.conn()
        .prepare_cached(KV_UPSERT)?
        .execute(params![app, key, value_json, expires_at, now_ms])?;
    Ok(())
}

/// Deletes `key`; true when it existed (expired or not).
pub fn delete(db: &mut Db, app: &str, key: &str) -> Result<bool> {
    db.count_statement();
    let changed = db
        .conn()
        .prepare_cached(KV_DELETE)?
        .execute(params![app, key])?;
    Ok(changed > 0)
}

/// Deletes up to `batch` entries expired at `now_ms`; returns how many.
pub fn sweep(db: &mut Db, now_ms: i64, batch: u64) -> Result<u64> {
    db.count_statement();
    let changed = db
        .conn()
        .prepare_cached(KV_SWEEP)?
        .execute(params![now_ms, batch as i64])?;
    Ok(changed as u64)
}

/// The smallest string greater than every string that starts with `prefix`, if one
/// exists. With SQLite's BINARY collation (byte order of UTF-8, which is code point
/// order) the keys with that prefix are exactly `prefix <= key < bound`: a range scan on
/// the primary key, with no LIKE and so nothing in the prefix to escape.
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_positive_bounded_ttls_pass() {
        use serde_json::json;
        assert_eq!(ttl_ms(&Value::Null).unwrap(), None);
        assert_eq!(ttl_ms(&json!(1500)).unwrap(), Some(1500));
        assert_eq!(ttl_ms(&json!(1500.0)).unwrap(), Some(1500));
        assert_eq!(ttl_ms(&json!(KV_TTL_MAX_MS)).unwrap(), Some(KV_TTL_MAX_MS));
        for bad in [
            json!(-5),
            json!(0.5),
            json!(0),
            json!(-0.0),
            json!(1e300),
            json!(KV_TTL_MAX_MS + 1),
            json!("1000"),
            json!(true),
        ] {
            let error = ttl_ms(&bad).unwrap_err();
            assert_eq!(error.kind(), "InvalidArgument", "{bad}: {error}");
        }
    }

    #[test]
    fn upper_bound_covers_exactly_the_prefix() {
        assert_eq!(prefix_upper_bound("ab"), Some("ac".into()));
        assert_eq!(prefix_upper_bound("a%"), Some("a&".into()));
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("a\u{10FFFF}"), Some("b".into()));
        assert_eq!(prefix_upper_bound("\u{D7FF}"), Some("\u{E000}".into()));
        let bound = prefix_upper_bound("user:").unwrap();
        for key in ["user:", "user:1", "user:\u{10FFFF}"] {
            assert!(key >= "user:" && key < bound.as_str());
        }
        assert!("user;" >= bound.as_str());
    }
}
