//! The ds query language, compiled to SQL with every value and field path bound as a
//! parameter.
//!
//! A query is a JSON object of conditions, all ANDed: `{field: value}` is equality,
//! `{field: {$op: value, ...}}` applies operators `$eq $ne $gt $gte $lt $lte $in $nin
//! $contains`. Fields are dotted paths (`a.b.c`); `id`, `_createdAt` and `_updatedAt`
//! address the document's columns, and `session` equality uses the indexed column.
//!
//! Comparison follows SQLite's rules on `json_extract`, as upstream fazt does: booleans
//! compare as 1 and 0; across types NULL < numbers < text; objects and arrays compare as
//! their JSON text; a comparison with a missing field is false, except that `$eq: null`
//! matches missing or null fields and `$ne`/`$nin` also match missing fields.
//! `$contains` matches an array with an element equal to the value, or a string that
//! contains the value as a substring.
//!
//! Field paths are dotted segments of any characters but `"` and control characters
//! (upstream fazt accepts `first-name`), quoted in the JSON path when they are not
//! identifiers. A path is bound as a parameter, and appears as a SQL literal only for a
//! field with an expression index (the planner matches index expressions textually),
//! which only identifier paths may have ([`FieldPath::is_plain`]).

use std::collections::BTreeSet;

use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use super::error::{Result, StorageError};
use super::limits::Limits;

/// The longest segment of a field path, in bytes: a bound on what a query names,
/// far above any real field name (upstream fazt has none).
pub const FIELD_SEGMENT_MAX: usize = 64;

fn is_identifier(segment: &str) -> bool {
    let mut bytes = segment.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A validated dotted field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldPath {
    segments: Vec<String>,
}

impl FieldPath {
    pub fn parse(text: &str, limits: &Limits) -> Result<FieldPath> {
        let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
        if segments.len() > limits.path_depth_max {
            return Err(StorageError::InvalidQuery(format!(
                "field path {text:?} is deeper than {} segments",
                limits.path_depth_max
            )));
        }
        let valid_segment = |segment: &String| {
            !segment.is_empty()
                && segment.len() <= FIELD_SEGMENT_MAX
                && !segment.chars().any(|c| c == '"' || c.is_control())
        };
        if !segments.iter().all(valid_segment) {
            return Err(StorageError::InvalidQuery(format!(
                "malformed field name {text:?}: use dotted segments, each 1 to \
                 {FIELD_SEGMENT_MAX} bytes without '\"' or control characters"
            )));
        }
        Ok(FieldPath { segments })
    }

    /// True when every segment is an identifier (`[A-Za-z_][A-Za-z0-9_]*`): only such
    /// paths may be indexed, since an index's name and SQL text are made from them.
    pub fn is_plain(&self) -> bool {
        self.segments.iter().all(|segment| is_identifier(segment))
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The dotted form, `a.b`.
    pub fn dotted(&self) -> String {
        self.segments.join(".")
    }

    /// The SQLite JSON path: `$.a.b`, with a segment that is no identifier quoted
    /// (`$."first-name"`; segments hold no `"`). Bound as a parameter unless the path
    /// [`is_plain`](Self::is_plain), when it is also safe as a SQL string literal.
    pub fn json_path(&self) -> String {
        let mut path = String::from("$");
        for segment in &self.segments {
            match is_identifier(segment) {
                true => path.push_str(&format!(".{segment}")),
                false => path.push_str(&format!(".\"{segment}\"")),
            }
        }
        path
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
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

impl Op {
    fn parse(name: &str) -> Result<Op> {
        Ok(match name {
            "$eq" => Op::Eq,
            "$ne" => Op::Ne,
            "$gt" => Op::Gt,
            "$gte" => Op::Gte,
            "$lt" => Op::Lt,
            "$lte" => Op::Lte,
            "$in" => Op::In,
            "$nin" => Op::Nin,
            "$contains" => Op::Contains,
            other => {
                return Err(StorageError::InvalidQuery(format!(
                "unknown operator {other:?}; known: $eq $ne $gt $gte $lt $lte $in $nin $contains"
            )))
            }
        })
    }
}

/// What a condition looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Id,
    CreatedAt,
    UpdatedAt,
    /// The indexed `session_id` column (string equality on `session` only).
    SessionColumn,
    Field(FieldPath),
}

/// One `target op value` condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub target: Target,
    pub op: Op,
    pub value: Value,
}

impl Condition {
    /// At most how many SQL parameters the condition binds when compiled: its field
    /// path (bound unless indexed) and each operand value (each non-null list element).
    fn values_bound(&self) -> usize {
        let path = usize::from(matches!(self.target, Target::Field(_)));
        let operands = match &self.value {
            Value::Array(items) if matches!(self.op, Op::In | Op::Nin) => {
                items.iter().filter(|item| !item.is_null()).count()
            }
            _ => 1,
        };
        path + operands
    }
}

/// A parsed query: conditions ANDed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub conditions: Vec<Condition>,
}

/// SQL for a filter: a WHERE fragment and its parameters, numbered from a given start.
#[derive(Debug)]
pub struct CompiledFilter {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

impl Filter {
    /// Parses a query object (`null` or `{}` match everything).
    pub fn parse(query: &Value, limits: &Limits) -> Result<Filter> {
        let object = match query {
            Value::Null => return Ok(Filter::default()),
            Value::Object(object) => object,
            other => {
                return Err(StorageError::InvalidQuery(format!(
                    "a query must be an object, not {}",
                    json_kind(other)
                )))
            }
        };
        let mut conditions = Vec::new();
        for (key, value) in object {
            if key.starts_with('$') {
                return Err(StorageError::InvalidQuery(format!(
                    "unknown operator {key:?} at the top level of a query; operators go inside a field: {{field: {{$op: value}}}}"
                )));
            }
            let operators = match value {
                Value::Object(map) if map.keys().any(|k| k.starts_with('$')) => {
                    if !map.keys().all(|k| k.starts_with('$')) {
                        return Err(StorageError::InvalidQuery(format!(
                            "field {key:?} mixes operators and plain keys"
                        )));
                    }
                    map.iter()
                        .map(|(op, operand)| Ok((Op::parse(op)?, operand.clone())))
                        .collect::<Result<Vec<_>>>()?
                }
                plain => vec![(Op::Eq, plain.clone())],
            };
            for (op, operand) in operators {
                check_operand(key, op, &operand, limits)?;
                conditions.push(Condition {
                    target: target_for(key, op, &operand, limits)?,
                    op,
                    value: operand,
                });
            }
        }
        if conditions.len() > limits.query_conditions_max {
            return Err(StorageError::InvalidQuery(format!(
                "query has {} conditions, over the limit of {}",
                conditions.len(),
                limits.query_conditions_max
            )));
        }
        let values: usize = conditions.iter().map(Condition::values_bound).sum();
        if values > limits.query_values_max {
            return Err(StorageError::InvalidQuery(format!(
                "query compares against {values} values in all, over the limit of {}; \
                 use shorter $in/$nin lists or fewer conditions",
                limits.query_values_max
            )));
        }
        Ok(Filter { conditions })
    }

    /// Compiles to SQL over `app_docs` (columns `id`, `data`, `session_id`, ...).
    /// `indexed` holds the dotted paths that have an expression index; `first_param` is
    /// the number of the first `?N` placeholder to use.
    pub fn compile(&self, indexed: &BTreeSet<String>, first_param: usize) -> CompiledFilter {
        let mut out = CompiledFilter {
            sql: String::new(),
            params: Vec::new(),
        };
        let mut clauses = Vec::new();
        for condition in &self.conditions {
            clauses.push(compile_condition(
                condition,
                indexed,
                first_param,
                &mut out.params,
            ));
        }
        out.sql = if clauses.is_empty() {
            "1".to_owned()
        } else {
            clauses.join(" AND ")
        };
        out
    }
}

fn check_operand(key: &str, op: Op, operand: &Value, limits: &Limits) -> Result<()> {
    let scalar = matches!(
        operand,
        Value::Bool(_) | Value::Number(_) | Value::String(_)
    );
    match op {
        Op::In | Op::Nin => match operand {
            Value::Array(items) if items.len() <= limits.in_list_max => Ok(()),
            Value::Array(items) => Err(StorageError::InvalidQuery(format!(
                "{key:?}: list of {} values is over the limit of {}",
                items.len(),
                limits.in_list_max
            ))),
            _ => Err(StorageError::InvalidQuery(format!(
                "{key:?}: $in and $nin take an array"
            ))),
        },
        Op::Gt | Op::Gte | Op::Lt | Op::Lte | Op::Contains if !scalar => {
            Err(StorageError::InvalidQuery(format!(
                "{key:?}: {op:?} takes a number, string or boolean"
            )))
        }
        _ => Ok(()),
    }
}

fn target_for(key: &str, op: Op, operand: &Value, limits: &Limits) -> Result<Target> {
    Ok(match key {
        "id" => Target::Id,
        "_createdAt" => Target::CreatedAt,
        "_updatedAt" => Target::UpdatedAt,
        "session" if session_column_applies(op, operand) => Target::SessionColumn,
        _ => Target::Field(FieldPath::parse(key, limits)?),
    })
}

/// Whether a `session` condition can use the indexed `session_id` column, which holds
/// string sessions only. A non-string `session` (array or object) compares as its JSON
/// text, which starts with '[' or '{': such an operand must look at the document.
fn session_column_applies(op: Op, operand: &Value) -> bool {
    op == Op::Eq && operand.as_str().is_some_and(|s| !s.starts_with(['[', '{']))
}

/// What a document column holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Text,
    Integer,
}

/// A column as a comparison operand. SQLite converts a value compared with a column to
/// the column's affinity (`id = 5` would match `'5'`), unlike `json_extract` values, so
/// when an operand is not of the column's type the column is written `+column`, which has
/// no affinity: the comparison then follows the type order like every other field. A
/// matching operand keeps the bare column, and with it the index.
fn column(name: &str, holds: ColumnType, operand: &Value) -> String {
    let fits = |value: &Value| {
        matches!(
            (holds, value),
            (_, Value::Null)
                | (ColumnType::Text, Value::String(_))
                | (ColumnType::Integer, Value::Number(_) | Value::Bool(_))
        )
    };
    let all_fit = match operand {
        Value::Array(items) => items.iter().all(fits),
        other => fits(other),
    };
    if all_fit {
        name.to_owned()
    } else {
        format!("+{name}")
    }
}

/// The SQL parameter for a JSON operand, matching what `json_extract` returns.
pub fn sql_value(value: &Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Array(_) | Value::Object(_) => SqlValue::Text(value.to_string()),
    }
}

fn compile_condition(
    condition: &Condition,
    indexed: &BTreeSet<String>,
    first_param: usize,
    params: &mut Vec<SqlValue>,
) -> String {
    let mut bind = |value: SqlValue| {
        params.push(value);
        format!("?{}", first_param + params.len() - 1)
    };
    // The expression under test, and (for fields) the JSON path placeholder.
    let (expr, path) = match &condition.target {
        Target::Id => (column("id", ColumnType::Text, &condition.value), None),
        Target::CreatedAt => (
            column("created_at", ColumnType::Integer, &condition.value),
            None,
        ),
        Target::UpdatedAt => (
            column("updated_at", ColumnType::Integer, &condition.value),
            None,
        ),
        Target::SessionColumn => ("session_id".to_owned(), None),
        Target::Field(path) if path.is_plain() && indexed.contains(&path.dotted()) => {
            let literal = format!("'{}'", path.json_path());
            (format!("json_extract(data, {literal})"), Some(literal))
        }
        Target::Field(path) => {
            let placeholder = bind(SqlValue::Text(path.json_path()));
            (
                format!("json_extract(data, {placeholder})"),
                Some(placeholder),
            )
        }
    };
    let value = &condition.value;
    match condition.op {
        Op::Eq if value.is_null() => format!("{expr} IS NULL"),
        Op::Eq => format!("{expr} = {}", bind(sql_value(value))),
        Op::Ne if value.is_null() => format!("{expr} IS NOT NULL"),
        Op::Ne => format!("({expr} IS NULL OR {expr} <> {})", bind(sql_value(value))),
        Op::Gt => format!("{expr} > {}", bind(sql_value(value))),
        Op::Gte => format!("{expr} >= {}", bind(sql_value(value))),
        Op::Lt => format!("{expr} < {}", bind(sql_value(value))),
        Op::Lte => format!("{expr} <= {}", bind(sql_value(value))),
        Op::In | Op::Nin => {
            let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
            let has_null = items.iter().any(Value::is_null);
            let list: Vec<String> = items
                .iter()
                .filter(|item| !item.is_null())
                .map(|item| bind(sql_value(item)))
                .collect();
            // An empty list is fine in SQLite: `x IN ()` is false for every x, NULL
            // included. It must still mention `expr`, whose path parameter is bound.
            let member = format!("{expr} IN ({})", list.join(", "));
            match (condition.op, has_null) {
                (Op::In, false) => format!("({member})"),
                (Op::In, true) => format!("({member} OR {expr} IS NULL)"),
                (_, false) => format!("(NOT ({member}) OR {expr} IS NULL)"),
                (_, true) => format!("(NOT ({member}) AND {expr} IS NOT NULL)"),
            }
        }
        Op::Contains => {
            let needle = bind(sql_value(value));
            match path {
                Some(path) => format!(
                    "(CASE json_type(data, {path}) \
                     WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(data, {path}) AS e WHERE e.value = {needle}) \
                     WHEN 'text' THEN (typeof({needle}) = 'text' AND instr({expr}, {needle}) > 0) \
                     ELSE 0 END)"
                ),
                None => format!(
                    "(typeof({expr}) = 'text' AND typeof({needle}) = 'text' AND instr({expr}, {needle}) > 0)"
                ),
            }
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(query: Value) -> Result<Filter> {
        Filter::parse(&query, &Limits::default())
    }

    #[test]
    fn unknown_operator_is_refused_by_name() {
        let error = parse(json!({"a": {"$regex": "x"}})).unwrap_err();
        assert!(error.to_string().contains("$regex"), "{error}");
        assert!(parse(json!({"$where": "1"})).is_err());
    }

    #[test]
    fn malformed_field_names_are_refused() {
        for key in ["a..b", "a\"b", "a\nb", "", "a."] {
            let error = parse(json!({ key: 1 })).unwrap_err();
            assert!(
                matches!(error, StorageError::InvalidQuery(_)),
                "{key}: {error}"
            );
        }
    }

    #[test]
    fn names_upstream_accepts_are_quoted_and_bound() {
        let filter =
            parse(json!({"first-name": "Ada", "a.b'); DROP TABLE app_docs; --": 1, "1a": 2}))
                .unwrap();
        // Indexed or not, a path that is no identifier is bound, never spliced.
        let compiled = filter.compile(&BTreeSet::from(["first-name".to_owned()]), 1);
        assert_eq!(
            compiled.params[0],
            SqlValue::Text("$.\"1a\"".into()),
            "{:?}",
            compiled.params
        );
        assert!(!compiled.sql.contains("DROP"), "{}", compiled.sql);
        assert!(compiled
            .params
            .contains(&SqlValue::Text("$.\"first-name\"".into())));
        assert!(compiled.params.contains(&SqlValue::Text(
            "$.a.\"b'); DROP TABLE app_docs; --\"".into()
        )));
    }

    #[test]
    fn paths_are_bound_unless_indexed() {
        let filter = parse(json!({"a.b": {"$gt": 3}, "session": "s1"})).unwrap();
        let plain = filter.compile(&BTreeSet::new(), 3);
        assert_eq!(plain.sql, "json_extract(data, ?3) > ?4 AND session_id = ?5");
        assert_eq!(plain.params[0], SqlValue::Text("$.a.b".into()));
        let indexed = filter.compile(&BTreeSet::from(["a.b".to_owned()]), 1);
        assert_eq!(
            indexed.sql,
            "json_extract(data, '$.a.b') > ?1 AND session_id = ?2"
        );
    }

    #[test]
    fn columns_lose_their_affinity_for_operands_of_another_type() {
        let compile = |query: Value| parse(query).unwrap().compile(&BTreeSet::new(), 1).sql;
        assert_eq!(compile(json!({"id": "a"})), "id = ?1");
        assert_eq!(compile(json!({"id": 5})), "+id = ?1");
        assert_eq!(
            compile(json!({"_createdAt": {"$gt": 5}})),
            "created_at > ?1"
        );
        assert_eq!(compile(json!({"_createdAt": "5"})), "+created_at = ?1");
        assert_eq!(
            compile(json!({"id": {"$in": ["a", 1]}})),
            "(+id IN (?1, ?2))"
        );
    }

    #[test]
    fn query_depth_and_size_are_limited() {
        let deep = ["a"; 9].join(".");
        assert!(parse(json!({ deep: 1 })).is_err());
        let many: serde_json::Map<String, Value> =
            (0..65).map(|i| (format!("f{i}"), json!(i))).collect();
        assert!(parse(Value::Object(many)).is_err());
        assert!(parse(json!({"a": {"$in": 3}})).is_err());
        assert!(parse(json!({"a": {"$gt": {"x": 1}}})).is_err());
        assert!(parse(json!({"a": {"$gt": 1, "b": 2}})).is_err());
        assert!(parse(json!([1])).is_err());
    }

    /// 40 fields, each `$nin` of 1,000 values: within the condition and list limits,
    /// but 40,040 parameters, past SQLite's own bound. Refused before SQLite sees it.
    #[test]
    fn bound_values_are_limited_in_all() {
        let list: Vec<i64> = (0..1000).collect();
        let query: serde_json::Map<String, Value> = (0..40)
            .map(|i| (format!("f{i}"), json!({ "$nin": list })))
            .collect();
        let error = parse(Value::Object(query)).unwrap_err();
        assert!(
            matches!(&error, StorageError::InvalidQuery(m) if m.contains("40040 values")),
            "{error}"
        );
        // The largest query allowed compiles to exactly as many parameters as counted.
        let fits =
            parse(json!({"a": {"$in": list}, "b": {"$nin": list}, "c": {"$gt": 1}})).unwrap();
        let counted: usize = fits.conditions.iter().map(Condition::values_bound).sum();
        assert_eq!(counted, 2004);
        assert_eq!(fits.compile(&BTreeSet::new(), 1).params.len(), counted);
        assert!(Limits::default().query_values_max >= counted);
    }
}
