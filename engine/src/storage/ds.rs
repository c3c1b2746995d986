//! ds: per-app document collections. Synchronous functions on a connection; queries
//! come compiled from `query.rs`, updates from `changes.rs`.

use std::collections::BTreeSet;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::changes::Changes;
use super::connection::Db;
use super::error::{Result, StorageError};
use super::limits::Limits;
use super::query::{FieldPath, Filter};
use super::schema::{
    DOC_DELETE_OLDEST, DOC_DELETE_SEQ, DOC_INDEX_REGISTER, DOC_INSERT, DOC_UPDATE,
};

/// Result order, by insertion. Default newest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

/// `find` options: `{limit, offset, order}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindOptions {
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    #[serde(default)]
    pub order: Order,
}

impl FindOptions {
    /// Parses JS-style options (`null`/missing means defaults); unknown keys are errors.
    pub fn parse(options: &Value) -> Result<FindOptions> {
        if options.is_null() {
            return Ok(FindOptions::default());
        }
        serde_json::from_value(options.clone())
            .map_err(|error| StorageError::InvalidArgument(format!("find options: {error}")))
    }
}

/// One page of a cursor-paginated scan.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub documents: Vec<Value>,
    /// Pass back to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A document as stored: body without the reserved fields, plus its columns.
pub struct NewDocument {
    pub id: String,
    pub body: String,
    pub session: Option<String>,
}

impl NewDocument {
    /// Splits a client document into id and body. A non-empty string `id` is the
    /// document's id, as upstream fazt uses it; without `id` (or with `id: null`)
    /// `generate_id` makes one. Any other `id` (a number, `""`, an object) is refused:
    /// upstream replaced it with a fresh id without a word.
    pub fn from_client(
        document: &Value,
        limits: &Limits,
        generate_id: impl FnOnce() -> String,
    ) -> Result<NewDocument> {
        let Value::Object(fields) = document else {
            return Err(StorageError::InvalidArgument(
                "a document must be an object".into(),
            ));
        };
        let mut body = fields.clone();
        let id = match body.remove("id") {
            None | Some(Value::Null) => generate_id(),
            Some(Value::String(id)) if !id.is_empty() => id,
            Some(other) => {
                return Err(StorageError::InvalidArgument(format!(
                    "document id must be a non-empty string (or left out for a generated one), not {other}"
                )))
            }
        };
        limits.check_key("document id", &id)?;
        body.remove("_createdAt");
        body.remove("_updatedAt");
        let session = body
            .get("session")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let body = limits.encode_value("document", &Value::Object(body))?;
        Ok(NewDocument { id, body, session })
    }
}

pub fn insert(
    db: &mut Db,
    app: &str,
    collection: &str,
    document: &NewDocument,
    now_ms: i64,
) -> Result<()> {
    db.count_statement();
    let inserted = db.conn().prepare_cached(DOC_INSERT)?.execute(params![
        app,
        collection,
        document.id,
        document.body,
        document.session,
        now_ms
    ]);
    match inserted {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(error, _))
            if error.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            Err(StorageError::DuplicateId {
                collection: collection.to_owned(),
                id: document.id.clone(),
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// Where the scan of one query starts: the app, collection and filter.
pub struct Selection<'a> {
    pub app: &'a str,
    pub collection: &'a str,
    pub filter: &'a Filter,
    pub indexed: &'a BTreeSet<String>,
}

impl Selection<'_> {
    /// `WHERE` clause and parameters; `?1` app, `?2` collection, then the filter's.
    fn where_clause(&self) -> (String, Vec<SqlValue>) {
        let compiled = self.filter.compile(self.indexed, 3);
        let mut params = vec![
            SqlValue::Text(self.app.to_owned()),
            SqlValue::Text(self.collection.to_owned()),
        ];
        params.extend(compiled.params);
        (
            format!("app_id = ?1 AND collection = ?2 AND {}", compiled.sql),
            params,
        )
    }
}

/// Documents matching the selection. Without a `limit`, more than `max` matches is an
/// error pointing to pagination.
pub fn find(
    db: &mut Db,
    selection: &Selection,
    options: &FindOptions,
    max: usize,
) -> Result<Vec<Value>> {
    let limit = options.limit.unwrap_or(max as u64 + 1).min(max as u64 + 1);
    let (clause, mut params) = selection.where_clause();
    let order = match options.order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    };
    params.push(SqlValue::Integer(limit as i64));
    params.push(SqlValue::Integer(options.offset.unwrap_or(0) as i64));
    let n = params.len();
    let sql = format!(
        "SELECT id, data, created_at, updated_at, seq FROM app_docs WHERE {clause}
         ORDER BY seq {order} LIMIT ?{} OFFSET ?{n}",
        n - 1
    );
    let documents = query_documents(db, &sql, params)?;
    if documents.len() > max {
        return Err(StorageError::InvalidArgument(format!(
            "more than {max} documents match; pass a limit or use cursor pagination"
        )));
    }
    Ok(documents
        .into_iter()
        .map(|(_, document)| document)
        .collect())
}

/// One page of matches in insertion order, after `cursor` (an opaque token from the
/// previous page). Keyset pagination: stable however large the collection.
pub fn find_page(
    db: &mut Db,
    selection: &Selection,
    cursor: Option<&str>,
    page_size: u64,
    order: Order,
) -> Result<Page> {
    let after = cursor
        .map(|cursor| {
            cursor.parse::<i64>().map_err(|_| {
                StorageError::InvalidArgument(format!("malformed pagination cursor {cursor:?}"))
            })
        })
        .transpose()?;
    let (clause, mut params) = selection.where_clause();
    let (comparison, direction, start) = match order {
        Order::Asc => (">", "ASC", i64::MIN),
        Order::Desc => ("<", "DESC", i64::MAX),
    };
    params.push(SqlValue::Integer(after.unwrap_or(start)));
    params.push(SqlValue::Integer(page_size as i64 + 1));
    let n = params.len();
    let sql = format!(
        "SELECT id, data, created_at, updated_at, seq FROM app_docs
         WHERE {clause} AND seq {comparison} ?{} ORDER BY seq {direction} LIMIT ?{n}",
        n - 1
    );
    let mut rows = query_documents(db, &sql, params)?;
    let next_cursor = if rows.len() as u64 > page_size {
        rows.truncate(page_size as usize);
        rows.last().map(|(seq, _)| seq.to_string())
    } else {
        None
    };
    Ok(Page {
        documents: rows.into_iter().map(|(_, document)| document).collect(),
        next_cursor,
    })
}

pub fn count(db: &mut Db, selection: &Selection) -> Result<u64> {
    db.count_statement();
    let (clause, params) = selection.where_clause();
    let sql = format!("SELECT count(*) FROM app_docs WHERE {clause}");
    let n: i64 = db
        .conn()
        .prepare_cached(&sql)?
        .query_row(params_from_iter(params), |row| row.get(0))?;
    Ok(n as u64)
}

/// Applies `changes` to every match; returns how many documents changed.
pub fn update(
    db: &mut Db,
    selection: &Selection,
    changes: &Changes,
    limits: &Limits,
    now_ms: i64,
) -> Result<u64> {
    let (clause, params) = selection.where_clause();
    let sql = format!("SELECT seq, data FROM app_docs WHERE {clause} ORDER BY seq");
    db.count_statement();
    let matches: Vec<(i64, String)> = db
        .conn()
        .prepare_cached(&sql)?
        .query_map(params_from_iter(params), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (seq, data) in &matches {
        let mut body: Map<String, Value> = serde_json::from_str(data)?;
        changes.apply(&mut body)?;
        let session = body
            .get("session")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let body = limits.encode_value("document", &Value::Object(body))?;
        db.count_statement();
        db.conn()
            .prepare_cached(DOC_UPDATE)?
            .execute(params![seq, body, session, now_ms])?;
    }
    Ok(matches.len() as u64)
}

pub fn delete(db: &mut Db, selection: &Selection) -> Result<u64> {
    let (clause, params) = selection.where_clause();
    let sql = format!("SELECT seq FROM app_docs WHERE {clause}");
    db.count_statement();
    let seqs: Vec<i64> = db
        .conn()
        .prepare_cached(&sql)?
        .query_map(params_from_iter(params), |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for seq in &seqs {
        db.count_statement();
        db.conn().prepare_cached(DOC_DELETE_SEQ)?.execute([seq])?;
    }
    Ok(seqs.len() as u64)
}

/// Deletes all but the newest `keep` documents of the collection.
pub fn delete_oldest(db: &mut Db, app: &str, collection: &str, keep: u64) -> Result<u64> {
    db.count_statement();
    let changed = db
        .conn()
        .prepare_cached(DOC_DELETE_OLDEST)?
        .execute(params![app, collection, keep as i64])?;
    Ok(changed as u64)
}

/// Creates the expression index for `field` (shared by all apps and collections, with
/// app and collection leading) and records it.
pub fn create_index(db: &mut Db, field: &FieldPath) -> Result<()> {
    if !field.is_plain() {
        return Err(StorageError::InvalidArgument(format!(
            "only fields named by identifiers can be indexed, not {:?}",
            field.dotted()
        )));
    }
    let name = format!("doc_field_{}", field.segments().join("__"));
    // Both the name and the path come from identifier segments ([A-Za-z0-9_]).
    let ddl = format!(
        "CREATE INDEX IF NOT EXISTS {name} ON app_docs (app_id, collection, json_extract(data, '{}'))",
        field.json_path()
    );
    db.count_statement();
    db.conn().execute_batch(&ddl)?;
    db.conn()
        .prepare_cached(DOC_INDEX_REGISTER)?
        .execute(params![field.dotted(), name])?;
    Ok(())
}

fn query_documents(db: &mut Db, sql: &str, params: Vec<SqlValue>) -> Result<Vec<(i64, Value)>> {
    db.count_statement();
    let mut statement = db.conn().prepare_cached(sql)?;
    let rows = statement.query_map(params_from_iter(params), |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, i64>(3)?,
            row.get::<_, i64>(4)?,
        ))
    })?;
    let mut documents = Vec::new();
    for row in rows {
        let (id, data, created_at, updated_at, seq) = row?;
        let mut body: Map<String, Value> = serde_json::from_str(&data)?;
        body.insert("id".into(), Value::String(id));
        body.insert("_createdAt".into(), Value::from(created_at));
        body.insert("_updatedAt".into(), Value::from(updated_at));
        documents.push((seq, Value::Object(body)));
    }
    Ok(documents)
}
