//! ds update operators: `$set`, `$unset`, `$inc` (any number of fields each), and plain
//! keys as a shallow set, in any mix (as upstream fazt). The fields storage manages
//! (`id`, `_createdAt`, `_updatedAt`) are ignored. Applied in Rust to the parsed
//! document, so every field of a multi-field `$inc` gets its own amount (upstream
//! mis-bound SQL parameters here) and no field name reaches SQL text.

use serde_json::{Map, Number, Value};

use super::error::{Result, StorageError};
use super::limits::Limits;
use super::query::FieldPath;

/// Fields the storage layer owns; changes to them are ignored.
const RESERVED_FIELDS: [&str; 3] = ["id", "_createdAt", "_updatedAt"];

/// A parsed update.
#[derive(Clone, Debug, PartialEq)]
pub struct Changes {
    set: Vec<(FieldPath, Value)>,
    unset: Vec<FieldPath>,
    inc: Vec<(FieldPath, Number)>,
}

impl Changes {
    pub fn parse(changes: &Value, limits: &Limits) -> Result<Changes> {
        let Value::Object(object) = changes else {
            return Err(StorageError::InvalidArgument(
                "update changes must be an object".into(),
            ));
        };
        let mut parsed = Changes {
            set: Vec::new(),
            unset: Vec::new(),
            inc: Vec::new(),
        };
        for (key, value) in object {
            if !key.starts_with('$') {
                if let Some(path) = field_path(key, limits)? {
                    parsed.set.push((path, value.clone()));
                }
                continue;
            }
            let Value::Object(fields) = value else {
                return Err(StorageError::InvalidArgument(format!(
                    "{key} takes an object of fields"
                )));
            };
            for (field, value) in fields {
                let Some(path) = field_path(field, limits)? else {
                    continue;
                };
                match key.as_str() {
                    "$set" => parsed.set.push((path, value.clone())),
                    "$unset" => parsed.unset.push(path),
                    "$inc" => match value {
                        Value::Number(amount) => parsed.inc.push((path, amount.clone())),
                        _ => {
                            return Err(StorageError::InvalidArgument(format!(
                                "$inc amount for {field:?} must be a number"
                            )))
                        }
                    },
                    other => {
                        return Err(StorageError::InvalidQuery(format!(
                            "unknown update operator {other:?}; known: $set $unset $inc"
                        )))
                    }
                }
            }
        }
        Ok(parsed)
    }

    /// Applies the changes to a stored document body (an object without the reserved
    /// fields): sets first, then unsets, then increments.
    pub fn apply(&self, document: &mut Map<String, Value>) -> Result<()> {
        for (path, value) in &self.set {
            *slot(document, path)? = value.clone();
        }
        for path in &self.unset {
            remove(document, path);
        }
        for (path, amount) in &self.inc {
            let target = slot(document, path)?;
            *target = match target {
                Value::Null => Value::Number(amount.clone()),
                Value::Number(current) => Value::Number(add(current, amount)?),
                _ => {
                    return Err(StorageError::InvalidArgument(format!(
                        "$inc on {:?}, which is not a number",
                        path.dotted()
                    )))
                }
            };
        }
        Ok(())
    }
}

/// The path a change addresses, or None for a field storage manages: a client that
/// PUTs back a document it fetched sends them, and upstream fazt ignores them too.
fn field_path(field: &str, limits: &Limits) -> Result<Option<FieldPath>> {
    let path = FieldPath::parse(field, limits)?;
    Ok((!RESERVED_FIELDS.contains(&path.segments()[0].as_str())).then_some(path))
}

/// The value at `path`, created as null (with objects on the way) when missing.
fn slot<'a>(document: &'a mut Map<String, Value>, path: &FieldPath) -> Result<&'a mut Value> {
    let (last, parents) = path.segments().split_last().expect("paths are non-empty");
    let mut object = document;
    for segment in parents {
        let child = object
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if child.is_null() {
            *child = Value::Object(Map::new());
        }
        object = child.as_object_mut().ok_or_else(|| {
            StorageError::InvalidArgument(format!(
                "cannot set {:?}: {segment:?} is not an object",
                path.dotted()
            ))
        })?;
    }
    Ok(object.entry(last.clone()).or_insert(Value::Null))
}

fn remove(document: &mut Map<String, Value>, path: &FieldPath) {
    let (last, parents) = path.segments().split_last().expect("paths are non-empty");
    let mut object = document;
    for segment in parents {
        match object.get_mut(segment).and_then(Value::as_object_mut) {
            Some(child) => object = child,
            None => return,
        }
    }
    object.remove(last);
}

fn add(current: &Number, amount: &Number) -> Result<Number> {
    if let (Some(a), Some(b)) = (current.as_i64(), amount.as_i64()) {
        if let Some(sum) = a.checked_add(b) {
            return Ok(Number::from(sum));
        }
    }
    let sum = current.as_f64().unwrap_or(0.0) + amount.as_f64().unwrap_or(0.0);
    Number::from_f64(sum)
        .ok_or_else(|| StorageError::InvalidArgument("$inc result is not a finite number".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(document: Value, changes: Value) -> Result<Value> {
        let mut map = document.as_object().unwrap().clone();
        Changes::parse(&changes, &Limits::default())?.apply(&mut map)?;
        Ok(Value::Object(map))
    }

    #[test]
    fn multi_field_inc_uses_each_amount() {
        let out = apply(
            json!({"a": 1, "b": 10}),
            json!({"$inc": {"a": 2, "b": 20, "c": 0.5}}),
        )
        .unwrap();
        assert_eq!(out, json!({"a": 3, "b": 30, "c": 0.5}));
    }

    #[test]
    fn set_unset_and_plain_fields() {
        let out = apply(
            json!({"a": {"b": 1}, "gone": true}),
            json!({"$set": {"a.c": 2, "x.y": "new"}, "$unset": {"gone": 1}}),
        )
        .unwrap();
        assert_eq!(out, json!({"a": {"b": 1, "c": 2}, "x": {"y": "new"}}));
        let plain = apply(json!({"a": {"b": 1}}), json!({"a": 5})).unwrap();
        assert_eq!(plain, json!({"a": 5}));
    }

    #[test]
    fn managed_fields_are_ignored_and_mixes_apply_both() {
        let out = apply(
            json!({"n": 1}),
            json!({"id": "x", "_createdAt": 5, "$set": {"_updatedAt": 1, "first-name": "A"}, "name": "x", "$inc": {"n": 1}}),
        )
        .unwrap();
        assert_eq!(out, json!({"n": 2, "name": "x", "first-name": "A"}));
    }

    #[test]
    fn bad_updates_are_refused() {
        assert!(apply(json!({"a": "x"}), json!({"$inc": {"a": 1}})).is_err());
        assert!(apply(json!({}), json!({"$inc": {"a": "1"}})).is_err());
        assert!(apply(json!({}), json!({"$push": {"a": 1}})).is_err());
        assert!(apply(json!({"a": 1}), json!({"$set": {"a.b": 1}})).is_err());
    }
}
