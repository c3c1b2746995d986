//! Update operators, from their documentation.

use serde_json::{Map, Number, Value};

use crate::model::*;
use crate::query::*;

/// Sets, then unsets, then increments.
#[derive(Default)]
pub(crate) struct Changes {
    pub(crate) set: Vec<(Vec<String>, Value)>,
    pub(crate) unset: Vec<Vec<String>>,
    pub(crate) inc: Vec<(Vec<String>, Number)>,
}

/// The path a change addresses, or None for a field storage manages (ignored, as upstream).
pub(crate) fn change_path(field: &str) -> Result<Option<Vec<String>>, &'static str> {
    let path = field_path(field)?;
    Ok((!["id", "_createdAt", "_updatedAt"].contains(&path[0].as_str())).then_some(path))
}

pub(crate) fn parse_changes(changes: &Value) -> Result<Changes, &'static str> {
    let Value::Object(object) = changes else {
        return Err(INVALID_ARGUMENT);
    };
    let mut parsed = Changes::default();
    for (operator, fields) in object {
        if !operator.starts_with('$') {
            // A plain key, alone or beside operators: a shallow set.
            if let Some(path) = change_path(operator)? {
                parsed.set.push((path, fields.clone()));
            }
            continue;
        }
        let Value::Object(fields) = fields else {
            return Err(INVALID_ARGUMENT);
        };
        for (field, value) in fields {
            let Some(path) = change_path(field)? else {
                continue;
            };
            match (operator.as_str(), value) {
                ("$set", _) => parsed.set.push((path, value.clone())),
                ("$unset", _) => parsed.unset.push(path),
                ("$inc", Value::Number(amount)) => parsed.inc.push((path, amount.clone())),
                ("$inc", _) => return Err(INVALID_ARGUMENT),
                _ => return Err(INVALID_QUERY),
            }
        }
    }
    Ok(parsed)
}

/// The slot at `path`, created (with objects on the way, replacing nulls) when missing.
pub(crate) fn slot<'a>(
    body: &'a mut Map<String, Value>,
    path: &[String],
) -> Result<&'a mut Value, &'static str> {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut object = body;
    for segment in parents {
        let child = object
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if child.is_null() {
            *child = Value::Object(Map::new());
        }
        object = child.as_object_mut().ok_or(INVALID_ARGUMENT)?;
    }
    Ok(object.entry(last.clone()).or_insert(Value::Null))
}

/// Removes the field at `path`, if every object on the way is there.
pub(crate) fn remove(body: &mut Map<String, Value>, path: &[String]) {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut object = body;
    for segment in parents {
        match object.get_mut(segment).and_then(Value::as_object_mut) {
            Some(child) => object = child,
            None => return,
        }
    }
    object.remove(last);
}

impl Changes {
    pub(crate) fn apply(&self, body: &mut Map<String, Value>) -> Result<(), &'static str> {
        for (path, value) in &self.set {
            *slot(body, path)? = value.clone();
        }
        for path in &self.unset {
            remove(body, path);
        }
        for (path, amount) in &self.inc {
            let target = slot(body, path)?;
            *target = match target {
                Value::Null => Value::Number(amount.clone()),
                Value::Number(current) => {
                    let sum = match (current.as_i64(), amount.as_i64()) {
                        (Some(a), Some(b)) => a.checked_add(b).map(Number::from),
                        _ => None,
                    };
                    let sum = sum.or_else(|| {
                        Number::from_f64(
                            current.as_f64().expect("finite") + amount.as_f64().expect("finite"),
                        )
                    });
                    Value::Number(sum.ok_or(INVALID_ARGUMENT)?)
                }
                _ => return Err(INVALID_ARGUMENT),
            };
        }
        Ok(())
    }
}
