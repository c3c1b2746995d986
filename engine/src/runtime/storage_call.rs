//! Storage calls from JavaScript, performed by the driver: arguments as JSON values in
//! (parsed here when they came as `JSON.stringify` text), a JSON answer out, so large
//! parsing and serializing happen off the coroutine's stack.

use serde_json::Value;

use super::json_read::FromJs;
use crate::storage::{FindOptions, Scope, StorageError};

fn invalid(message: impl Into<String>) -> StorageError {
    StorageError::InvalidArgument(message.into())
}

fn string(arguments: &[Value], index: usize, what: &str) -> Result<String, StorageError> {
    match arguments.get(index) {
        Some(Value::String(text)) => Ok(text.clone()),
        _ => Err(invalid(format!("{what} must be a string"))),
    }
}

fn optional(arguments: &[Value], index: usize) -> Value {
    arguments.get(index).cloned().unwrap_or(Value::Null)
}

fn json(value: impl serde::Serialize) -> Result<Option<String>, StorageError> {
    Ok(Some(serde_json::to_string(&value)?))
}

/// True for the operations that change stored data.
pub fn is_write(operation: &str) -> bool {
    matches!(
        operation,
        "kv.set"
            | "kv.delete"
            | "ds.insert"
            | "ds.update"
            | "ds.delete"
            | "ds.deleteOldest"
            | "s3.put"
            | "s3.delete"
    )
}

/// Performs `operation` (`kv.get`, `ds.find`, ...) with `arguments` on `scope`.
pub async fn perform(
    scope: &Scope,
    operation: &str,
    arguments: FromJs,
) -> Result<Option<String>, StorageError> {
    let arguments: Vec<Value> = match arguments.into_value() {
        Ok(Value::Array(arguments)) => arguments,
        Ok(other) => {
            serde_json::from_value(other).map_err(|e| invalid(format!("arguments: {e}")))?
        }
        Err(e) => return Err(invalid(format!("arguments: {e}"))),
    };
    let args = arguments.as_slice();
    match operation {
        "kv.get" => match scope.kv_get(&string(args, 0, "key")?).await? {
            Some(value) => json(value),
            None => Ok(None),
        },
        "kv.set" => {
            let ttl = crate::storage::kv_ttl_ms(&optional(args, 2))?;
            scope
                .kv_set(&string(args, 0, "key")?, &optional(args, 1), ttl)
                .await?;
            Ok(None)
        }
        "kv.delete" => json(scope.kv_delete(&string(args, 0, "key")?).await?),
        "kv.list" => {
            let prefix = match optional(args, 0) {
                Value::Null => String::new(),
                Value::String(prefix) => prefix,
                _ => return Err(invalid("prefix must be a string")),
            };
            json(scope.kv_list(&prefix).await?)
        }
        "ds.insert" => json(
            scope
                .ds_insert(&string(args, 0, "collection")?, &optional(args, 1))
                .await?,
        ),
        "ds.find" => {
            let options = FindOptions::parse(&optional(args, 2))?;
            json(
                scope
                    .ds_find(
                        &string(args, 0, "collection")?,
                        &optional(args, 1),
                        &options,
                    )
                    .await?,
            )
        }
        "ds.findOne" => json(
            scope
                .ds_find_one(&string(args, 0, "collection")?, &optional(args, 1))
                .await?,
        ),
        "ds.count" => json(
            scope
                .ds_count(&string(args, 0, "collection")?, &optional(args, 1))
                .await?,
        ),
        "ds.update" => {
            let collection = string(args, 0, "collection")?;
            json(
                scope
                    .ds_update(&collection, &optional(args, 1), &optional(args, 2))
                    .await?,
            )
        }
        "ds.delete" => json(
            scope
                .ds_delete(&string(args, 0, "collection")?, &optional(args, 1))
                .await?,
        ),
        "ds.deleteOldest" => {
            let keep = optional(args, 1)
                .as_u64()
                .ok_or_else(|| invalid("keep must be a non-negative integer"))?;
            json(
                scope
                    .ds_delete_oldest(&string(args, 0, "collection")?, keep)
                    .await?,
            )
        }
        "s3.put" => {
            let data = match optional(args, 1) {
                Value::String(text) => text.into_bytes(),
                Value::Null => return Err(invalid("data is required")),
                other => other.to_string().into_bytes(),
            };
            let mime = match optional(args, 2) {
                Value::String(mime) => Some(mime),
                _ => None,
            };
            scope
                .s3_put(&string(args, 0, "path")?, data, mime.as_deref())
                .await?;
            Ok(None)
        }
        "s3.get" => match scope.s3_get(&string(args, 0, "path")?).await? {
            Some(blob) => json(serde_json::json!({
                "data": String::from_utf8_lossy(&blob.data),
                "mime": blob.mime,
                "size": blob.size,
                "hash": blob.hash,
            })),
            None => json(Value::Null),
        },
        "s3.delete" => json(scope.s3_delete(&string(args, 0, "path")?).await?),
        "s3.list" => {
            let prefix = optional(args, 0).as_str().unwrap_or_default().to_owned();
            json(scope.s3_list(&prefix).await?)
        }
        other => Err(invalid(format!("unknown storage operation {other:?}"))),
    }
}
