//! App environment variables (upstream fazt's `env_vars` table): set and deleted
//! through the admin API, read by the server into the app's code so that
//! `fazt.env.get` answers them to that app alone. Values are secrets: nothing here
//! logs or traces them.

use std::collections::BTreeMap;

use rusqlite::params;

use super::connection::Db;
use super::error::Result;

/// One variable as the admin list shows it: never its value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EnvVarName {
    pub id: i64,
    pub name: String,
}

const LIST: &str = "SELECT id, name, value FROM app_env WHERE app_id = ?1 ORDER BY name";
const SET: &str = "INSERT INTO app_env (app_id, name, value) VALUES (?1, ?2, ?3)
    ON CONFLICT (app_id, name) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM app_env WHERE id = ?1";
const OWNER: &str = "SELECT app_id FROM app_env WHERE id = ?1";

/// `app`'s variables: ids and names, and the values by name.
pub fn list(db: &mut Db, app: &str) -> Result<(Vec<EnvVarName>, BTreeMap<String, String>)> {
    db.count_statement();
    let mut statement = db.conn().prepare_cached(LIST)?;
    let rows = statement.query_map([app], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    let (mut names, mut values) = (Vec::new(), BTreeMap::new());
    for row in rows {
        let (id, name, value) = row?;
        names.push(EnvVarName {
            id,
            name: name.clone(),
        });
        values.insert(name, value);
    }
    Ok((names, values))
}

/// The app a variable belongs to (None: no such variable).
pub fn owner(db: &mut Db, id: i64) -> Result<Option<String>> {
    db.count_statement();
    let mut statement = db.conn().prepare_cached(OWNER)?;
    let mut rows = statement.query([id])?;
    Ok(match rows.next()? {
        Some(row) => Some(row.get(0)?),
        None => None,
    })
}

pub fn set(db: &mut Db, app: &str, name: &str, value: &str) -> Result<()> {
    db.count_statement();
    db.conn()
        .prepare_cached(SET)?
        .execute(params![app, name, value])?;
    Ok(())
}

/// Deletes variable `id`; whether it existed.
pub fn delete(db: &mut Db, id: i64) -> Result<bool> {
    db.count_statement();
    Ok(db.conn().prepare_cached(DELETE)?.execute([id])? > 0)
}
