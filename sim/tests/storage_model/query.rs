//! The query language, from its documentation.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::model::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueryOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Nin,
    Contains,
}

pub(crate) fn query_op(name: &str) -> Result<QueryOp, &'static str> {
    Ok(match name {
        "$eq" => QueryOp::Eq,
        "$ne" => QueryOp::Ne,
        "$gt" => QueryOp::Gt,
        "$gte" => QueryOp::Gte,
        "$lt" => QueryOp::Lt,
        "$lte" => QueryOp::Lte,
        "$in" => QueryOp::In,
        "$nin" => QueryOp::Nin,
        "$contains" => QueryOp::Contains,
        _ => return Err(INVALID_QUERY),
    })
}

#[derive(Debug)]
pub(crate) enum Target {
    Id,
    CreatedAt,
    UpdatedAt,
    Field(Vec<String>),
}

#[derive(Debug)]
pub(crate) struct Condition {
    pub(crate) target: Target,
    pub(crate) op: QueryOp,
    pub(crate) operand: Value,
}

/// A dotted path of `[A-Za-z_][A-Za-z0-9_]*` segments (at most 64 bytes each, at most 8).
pub(crate) fn field_path(text: &str) -> Result<Vec<String>, &'static str> {
    let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
    // Any name upstream accepts: non-empty segments of at most 64 bytes, without `"`
    // or control characters (they are quoted as JSON paths, never spliced into SQL).
    let valid = |segment: &String| {
        !segment.is_empty()
            && segment.len() <= 64
            && !segment.chars().any(|c| c == '"' || c.is_control())
    };
    if segments.len() > 8 || !segments.iter().all(valid) {
        return Err(INVALID_QUERY);
    }
    Ok(segments)
}

pub(crate) fn parse_query(query: &Value) -> Result<Vec<Condition>, &'static str> {
    let object = match query {
        Value::Null => return Ok(Vec::new()),
        Value::Object(object) => object,
        _ => return Err(INVALID_QUERY),
    };
    let mut conditions = Vec::new();
    for (key, value) in object {
        if key.starts_with('$') {
            return Err(INVALID_QUERY);
        }
        let operators: Vec<(QueryOp, Value)> = match value {
            Value::Object(map) if map.keys().any(|k| k.starts_with('$')) => {
                if !map.keys().all(|k| k.starts_with('$')) {
                    return Err(INVALID_QUERY);
                }
                map.iter()
                    .map(|(op, operand)| Ok((query_op(op)?, operand.clone())))
                    .collect::<Result<_, &'static str>>()?
            }
            plain => vec![(QueryOp::Eq, plain.clone())],
        };
        for (op, operand) in operators {
            let scalar = matches!(
                operand,
                Value::Bool(_) | Value::Number(_) | Value::String(_)
            );
            let valid = match op {
                QueryOp::In | QueryOp::Nin => operand.is_array(),
                QueryOp::Gt | QueryOp::Gte | QueryOp::Lt | QueryOp::Lte | QueryOp::Contains => {
                    scalar
                }
                QueryOp::Eq | QueryOp::Ne => true,
            };
            if !valid {
                return Err(INVALID_QUERY);
            }
            let target = match key.as_str() {
                "id" => Target::Id,
                "_createdAt" => Target::CreatedAt,
                "_updatedAt" => Target::UpdatedAt,
                // `session` equality uses an indexed column in the engine; by the
                // documentation that is an optimisation with the same meaning.
                field => Target::Field(field_path(field)?),
            };
            conditions.push(Condition {
                target,
                op,
                operand,
            });
        }
    }
    if conditions.len() > 64 {
        return Err(INVALID_QUERY);
    }
    Ok(conditions)
}

/// A value as SQLite sees `json_extract` of it: JSON null and missing fields are NULL,
/// booleans 1/0, numbers integer or real, strings text, arrays and objects their JSON
/// text.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Sql {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

pub(crate) fn sql(value: Option<&Value>) -> Sql {
    match value {
        None | Some(Value::Null) => Sql::Null,
        Some(Value::Bool(b)) => Sql::Integer(i64::from(*b)),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Sql::Integer(i),
            None => Sql::Real(n.as_f64().expect("finite")),
        },
        Some(Value::String(s)) => Sql::Text(s.clone()),
        Some(composite) => Sql::Text(composite.to_string()),
    }
}

/// SQLite's comparison: NULL compares to nothing; numbers < text; numbers by value;
/// text by bytes.
pub(crate) fn compare(a: &Sql, b: &Sql) -> Option<Ordering> {
    match (a, b) {
        (Sql::Null, _) | (_, Sql::Null) => None,
        (Sql::Integer(x), Sql::Integer(y)) => Some(x.cmp(y)),
        (Sql::Integer(x), Sql::Real(y)) => (*x as f64).partial_cmp(y),
        (Sql::Real(x), Sql::Integer(y)) => x.partial_cmp(&(*y as f64)),
        (Sql::Real(x), Sql::Real(y)) => x.partial_cmp(y),
        (Sql::Text(x), Sql::Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Sql::Text(_), _) => Some(Ordering::Greater),
        (_, Sql::Text(_)) => Some(Ordering::Less),
    }
}

pub(crate) fn lookup<'a>(body: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = body.get(first)?;
    for segment in rest {
        value = value.as_object()?.get(segment)?;
    }
    Some(value)
}

impl Condition {
    pub(crate) fn matches(&self, doc: &Doc) -> bool {
        let raw = match &self.target {
            Target::Id => Some(Value::String(doc.id.clone())),
            Target::CreatedAt => Some(Value::from(doc.created_at)),
            Target::UpdatedAt => Some(Value::from(doc.updated_at)),
            Target::Field(path) => lookup(&doc.body, path).cloned(),
        };
        let field = sql(raw.as_ref());
        let operand = &self.operand;
        let order = compare(&field, &sql(Some(operand)));
        match self.op {
            QueryOp::Eq if operand.is_null() => field == Sql::Null,
            QueryOp::Eq => order == Some(Ordering::Equal),
            QueryOp::Ne if operand.is_null() => field != Sql::Null,
            QueryOp::Ne => field == Sql::Null || order != Some(Ordering::Equal),
            QueryOp::Gt => order == Some(Ordering::Greater),
            QueryOp::Gte => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
            QueryOp::Lt => order == Some(Ordering::Less),
            QueryOp::Lte => matches!(order, Some(Ordering::Less | Ordering::Equal)),
            QueryOp::In | QueryOp::Nin => {
                let items = operand.as_array().expect("checked at parse");
                let has_null = items.iter().any(Value::is_null);
                let member = items
                    .iter()
                    .any(|item| compare(&field, &sql(Some(item))) == Some(Ordering::Equal));
                let in_list = member || (has_null && field == Sql::Null);
                if self.op == QueryOp::In {
                    in_list
                } else {
                    !in_list
                }
            }
            QueryOp::Contains => match raw {
                Some(Value::Array(items)) => items.iter().any(|item| {
                    compare(&sql(Some(item)), &sql(Some(operand))) == Some(Ordering::Equal)
                }),
                Some(Value::String(text)) => {
                    operand.as_str().is_some_and(|needle| text.contains(needle))
                }
                _ => false,
            },
        }
    }
}
