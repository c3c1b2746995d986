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
}

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
        }
    }
}

impl Limits {
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
