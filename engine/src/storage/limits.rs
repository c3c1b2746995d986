//! Bounds on everything a client can make the storage layer hold or do.

use super::error::{Result, StorageError};

/// Size and shape limits. Every limit gives a clear [`StorageError`] when exceeded.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Serialized document or kv value, in bytes. Default 1 MiB.
    pub value_bytes_max: usize,
    /// Blob body, in bytes. Default 10 MiB.
    pub blob_bytes_max: usize,
    /// kv key, s3 path, document id, in bytes. Default 512.
    pub key_bytes_max: usize,
    /// Segments in a dotted field path (`a.b.c` is 3). Default 8.
    pub path_depth_max: usize,
    /// Conditions in one query (operators included). Default 64.
    pub query_conditions_max: usize,
    /// Values in one `$in`/`$nin` list. Default 1000.
    pub in_list_max: usize,
    /// Documents a `find` may return without a smaller `limit`; more is an error
    /// pointing to cursor pagination, never silent truncation. Default 10,000.
    pub find_results_max: usize,
    /// Nesting depth of stored JSON values. Default 32.
    pub json_depth_max: usize,
    /// Values one query binds as SQL parameters: every operand, every `$in`/`$nin`
    /// element, every field path. SQLite refuses a statement past
    /// [`SQLITE_VARIABLES_MAX`]; this bound refuses the query first, with
    /// `InvalidQuery`, and keeps one query's planning and per-row comparisons small.
    /// Default 2,048 (one full `$in` list and room for the rest).
    pub query_values_max: usize,
    /// Bytes one app may store: kv keys and values, documents (collection, id and JSON
    /// body) and blobs (path and data), as stored. A write that would take the app over
    /// it fails with `QuotaExceeded` and writes nothing; writes that shrink usage always
    /// pass. Bounds what one tenant can make the shared database (and every other app's
    /// writes and checkpoints) carry. Default 256 MiB.
    pub app_quota_bytes: u64,
}

/// SQLite's bound on the parameters of one statement (`SQLITE_MAX_VARIABLE_NUMBER`, its
/// default since 3.32). [`Limits::query_values_max`] plus the parameters a query adds
/// around its filter ([`QUERY_FIXED_VALUES`]) must stay below it.
pub const SQLITE_VARIABLES_MAX: usize = 32_766;

/// Parameters a ds statement binds besides its filter's: app, collection, and limit and
/// offset (or cursor and page size).
pub const QUERY_FIXED_VALUES: usize = 4;

/// The longest kv TTL, in milliseconds: 10 years. Longer is refused rather than
/// saturated into a date no one meant.
pub const KV_TTL_MAX_MS: u64 = 10 * 365 * 24 * 60 * 60 * 1000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            value_bytes_max: 1 << 20,
            blob_bytes_max: 10 << 20,
            key_bytes_max: 512,
            path_depth_max: 8,
            query_conditions_max: 64,
            in_list_max: 1000,
            find_results_max: 10_000,
            json_depth_max: 32,
            query_values_max: 2048,
            app_quota_bytes: 256 << 20,
        }
    }
}

impl Limits {
    /// Refuses limits the engine cannot honour (checked when storage opens).
    pub fn validate(&self) -> Result<()> {
        if self.query_values_max + QUERY_FIXED_VALUES > SQLITE_VARIABLES_MAX {
            return Err(StorageError::InvalidArgument(format!(
                "query_values_max {} leaves no room under SQLite's {SQLITE_VARIABLES_MAX} parameters",
                self.query_values_max
            )));
        }
        Ok(())
    }

    /// Checks a key-like string (kv key, blob path, document id).
    pub fn check_key(&self, what: &'static str, key: &str) -> Result<()> {
        if key.is_empty() {
            return Err(StorageError::InvalidArgument(format!("{what} is empty")));
        }
        if key.contains('\0') {
            return Err(StorageError::InvalidArgument(format!(
                "{what} contains a NUL character"
            )));
        }
        self.check_size(what, key.len(), self.key_bytes_max)
    }

    pub fn check_size(&self, what: &'static str, actual: usize, limit: usize) -> Result<()> {
        if actual > limit {
            return Err(StorageError::TooLarge {
                what,
                actual,
                limit,
            });
        }
        Ok(())
    }

    /// Serializes a JSON value for storage, enforcing the size and depth limits.
    pub fn encode_value(&self, what: &'static str, value: &serde_json::Value) -> Result<String> {
        if json_depth(value) > self.json_depth_max {
            return Err(StorageError::InvalidArgument(format!(
                "{what} nests deeper than {} levels",
                self.json_depth_max
            )));
        }
        let text = serde_json::to_string(value)?;
        self.check_size(what, text.len(), self.value_bytes_max)?;
        Ok(text)
    }
}

fn json_depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Collection names: 1–64 of `[A-Za-z0-9_-]`.
pub fn check_collection(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(StorageError::InvalidArgument(format!(
            "collection name {name:?} must be 1-64 characters of letters, digits, '_' or '-'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn oversize_value_is_refused_with_sizes() {
        let limits = Limits {
            value_bytes_max: 10,
            ..Limits::default()
        };
        let error = limits
            .encode_value("document", &json!({"text": "far too long"}))
            .unwrap_err();
        assert!(
            matches!(error, StorageError::TooLarge { limit: 10, .. }),
            "{error}"
        );
    }

    #[test]
    fn deep_value_is_refused() {
        let mut value = json!(1);
        for _ in 0..40 {
            value = json!([value]);
        }
        assert!(Limits::default().encode_value("value", &value).is_err());
    }

    #[test]
    fn keys_and_collections_are_checked() {
        let limits = Limits::default();
        assert!(limits.check_key("key", "").is_err());
        assert!(limits.check_key("key", "a\0b").is_err());
        assert!(limits.check_key("key", &"k".repeat(513)).is_err());
        assert!(limits.check_key("key", "ok/key %_").is_ok());
        assert!(check_collection("tasks_2-x").is_ok());
        assert!(check_collection("tasks; DROP").is_err());
        assert!(check_collection("").is_err());
    }
}
