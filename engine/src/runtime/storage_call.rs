//! Storage calls from JavaScript, performed by the driver: arguments as JSON values in
//! (parsed here when they came as `JSON.stringify` text), a JSON answer out, so large
//! parsing and serializing happen off the coroutine's stack.

use serde_json::Value;

use super::json_read::FromJs;
use super::operation::Operation;
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

/// How many arguments each operation needs, and upstream fazt's message when fewer
/// are given (`internal/storage/bindings.go`: it counts arguments, so an explicit
/// `undefined` counts). A call short of arguments changes nothing.
fn arity(operation: Operation) -> (usize, &'static str) {
    use Operation::*;
    match operation {
        KvSet => (2, "kv.set requires key and value"),
        KvGet => (1, "kv.get requires a key"),
        KvDelete => (1, "kv.delete requires a key"),
        DsInsert => (2, "ds.insert requires collection and document"),
        DsFind => (1, "ds.find requires collection"),
        DsFindOne => (2, "ds.findOne requires collection and query"),
        DsCount => (1, "ds.count requires collection"),
        DsUpdate => (3, "ds.update requires collection, query, and changes"),
        DsDelete => (2, "ds.delete requires collection and query"),
        DsDeleteOldest => (2, "ds.deleteOldest requires collection and keepCount"),
        S3Put | S3PutBytes => (2, "s3.put requires path and data"),
        S3Get => (1, "s3.get requires a path"),
        S3Delete => (1, "s3.delete requires a path"),
        KvList | S3List => (0, ""),
    }
}

/// The argument at `index`, which must be an object (upstream: `null` and `undefined`
/// are not); `message` is upstream's refusal.
fn object(arguments: &[Value], index: usize, message: &str) -> Result<Value, StorageError> {
    match arguments.get(index) {
        Some(value @ Value::Object(_)) => Ok(value.clone()),
        _ => Err(invalid(message)),
    }
}

/// A blob path as upstream stores it: no leading `/`, no `//` (`normalizePath` in
/// upstream's `internal/storage/s3.go`).
fn blob_path(arguments: &[Value], index: usize, what: &str) -> Result<String, StorageError> {
    Ok(normalize(string(arguments, index, what)?))
}

fn normalize(path: String) -> String {
    let mut path = match path.strip_prefix('/') {
        Some(rest) => rest.to_owned(),
        None => path,
    };
    while path.contains("//") {
        path = path.replace("//", "/");
    }
    path
}

/// An optional string argument (a prefix): absent or null is empty.
fn prefix(arguments: &[Value], index: usize) -> Result<String, StorageError> {
    match optional(arguments, index) {
        Value::Null => Ok(String::new()),
        Value::String(prefix) => Ok(prefix),
        _ => Err(invalid("prefix must be a string")),
    }
}

/// Performs `operation` (`kv.get`, `ds.find`, ...) with `arguments` on `scope`.
pub async fn perform(
    scope: &Scope,
    operation: Operation,
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
    let (needed, message) = arity(operation);
    if args.len() < needed {
        return Err(invalid(message));
    }
    use Operation::*;
    match operation {
        KvGet => match scope.kv_get(&string(args, 0, "key")?).await? {
            Some(value) => json(value),
            None => Ok(None),
        },
        KvSet => {
            let ttl = crate::storage::kv_ttl_ms(&optional(args, 2))?;
            scope
                .kv_set(&string(args, 0, "key")?, &optional(args, 1), ttl)
                .await?;
            Ok(None)
        }
        KvDelete => json(scope.kv_delete(&string(args, 0, "key")?).await?),
        KvList => json(scope.kv_list(&prefix(args, 0)?).await?),
        DsInsert => {
            let document = object(args, 1, "ds.insert requires a document object")?;
            json(
                scope
                    .ds_insert(&string(args, 0, "collection")?, &document)
                    .await?,
            )
        }
        DsFind => {
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
        DsFindOne => {
            let selector = match optional(args, 1) {
                id @ Value::String(_) => id,
                _ => object(args, 1, "ds.findOne requires query object or string ID")?,
            };
            json(
                scope
                    .ds_find_one(&string(args, 0, "collection")?, &selector)
                    .await?,
            )
        }
        DsCount => json(
            scope
                .ds_count(&string(args, 0, "collection")?, &optional(args, 1))
                .await?,
        ),
        DsUpdate => {
            let collection = string(args, 0, "collection")?;
            let query = object(args, 1, "ds.update requires a query object")?;
            let changes = object(args, 2, "ds.update requires a changes object")?;
            json(scope.ds_update(&collection, &query, &changes).await?)
        }
        DsDelete => {
            let query = object(args, 1, "ds.delete requires a query object")?;
            json(
                scope
                    .ds_delete(&string(args, 0, "collection")?, &query)
                    .await?,
            )
        }
        DsDeleteOldest => {
            let keep = optional(args, 1)
                .as_u64()
                .ok_or_else(|| invalid("keep must be a non-negative integer"))?;
            json(
                scope
                    .ds_delete_oldest(&string(args, 0, "collection")?, keep)
                    .await?,
            )
        }
        S3Put | S3PutBytes => {
            let data = match (operation, optional(args, 1)) {
                // One character per byte (prelude.js).
                (S3PutBytes, Value::String(text)) => text
                    .chars()
                    .map(|c| u8::try_from(c).map_err(|_| invalid("s3.put: malformed bytes")))
                    .collect::<Result<Vec<u8>, _>>()?,
                (_, Value::String(text)) => text.into_bytes(),
                _ => return Err(invalid("s3.put data must be string or ArrayBuffer")),
            };
            let mime = match optional(args, 2) {
                Value::String(mime) => Some(mime),
                _ => None,
            };
            scope
                .s3_put(&blob_path(args, 0, "path")?, data, mime.as_deref())
                .await?;
            Ok(None)
        }
        S3Get => match scope.s3_get(&blob_path(args, 0, "path")?).await? {
            Some(blob) => json(blob_answer(blob)),
            None => json(Value::Null),
        },
        S3Delete => json(scope.s3_delete(&blob_path(args, 0, "path")?).await?),
        S3List => json(scope.s3_list(&normalize(prefix(args, 0)?)).await?),
    }
}

/// What `s3.get` answers: `{data, mime, size, hash}` as upstream, `data` as text when
/// the blob is UTF-8 and otherwise base64 (standard alphabet, padded, as upstream
/// encodes every blob), with `encoding: "base64"` saying so.
fn blob_answer(blob: crate::storage::Blob) -> Value {
    let mut answer = serde_json::json!({"mime": blob.mime, "size": blob.size, "hash": blob.hash});
    match String::from_utf8(blob.data) {
        Ok(text) => answer["data"] = Value::String(text),
        Err(binary) => {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(binary.as_bytes());
            answer["data"] = Value::String(encoded);
            answer["encoding"] = Value::from("base64");
        }
    }
    answer
}
