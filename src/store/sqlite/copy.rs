//! Whole tables as engine-neutral rows, to copy a vault between engines (`vaultctl admin migrate`).

use rusqlite::{params_from_iter, types::ValueRef};

use super::{SqliteStore, storage_error};
use crate::store::{Error, Result, TABLES, Value};

/// `table` if it is one of the schema's (so it may be formatted into SQL).
pub(super) fn known(table: &str) -> Result<&'static str> {
    TABLES
        .iter()
        .find(|t| **t == table)
        .copied()
        .ok_or_else(|| Error::Corrupt(format!("no table {table:?}")))
}

/// A column name of `table` as the database has it (so it may be formatted into SQL).
fn columns_of(conn: &rusqlite::Connection, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .map_err(storage_error)?;
    stmt.query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(storage_error)
}

pub(super) fn dump(
    store: &SqliteStore,
    table: &str,
    columns: &mut dyn FnMut(&[String]) -> Result<()>,
    row: &mut dyn FnMut(Vec<Value>) -> Result<()>,
) -> Result<()> {
    let table = known(table)?;
    // One read transaction on the read-only connection: one moment, and writes go on.
    let mut conn = store.reader()?;
    let tx = conn.transaction().map_err(storage_error)?;
    let names = columns_of(&tx, table)?;
    columns(&names)?;
    // Primary-key order: the rowid, or for a table without one, its primary key's index.
    let order = if table == "audit_event_resources" {
        "arn, sequence"
    } else {
        "rowid"
    };
    let mut stmt = tx
        .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
        .map_err(storage_error)?;
    let mut rows = stmt.query([]).map_err(storage_error)?;
    while let Some(r) = rows.next().map_err(storage_error)? {
        let values = (0..names.len())
            .map(|i| {
                Ok(match r.get_ref(i).map_err(storage_error)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Integer(i),
                    ValueRef::Text(t) => Value::Text(
                        std::str::from_utf8(t)
                            .map_err(|_| Error::Corrupt(format!("{table}: text not UTF-8")))?
                            .to_owned(),
                    ),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                    ValueRef::Real(_) => {
                        return Err(Error::Corrupt(format!("{table}: a real number")));
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        row(values)?;
    }
    Ok(())
}

pub(super) fn load(
    store: &SqliteStore,
    table: &str,
    columns: &[String],
    rows: &[Vec<Value>],
) -> Result<()> {
    let table = known(table)?;
    let mut conn = store.conn()?;
    let tx = conn.transaction().map_err(storage_error)?;
    let have = columns_of(&tx, table)?;
    if let Some(unknown) = columns.iter().find(|c| !have.contains(c)) {
        return Err(Error::Corrupt(format!("{table} has no column {unknown:?}")));
    }
    let verb = if table == "meta" {
        "INSERT OR REPLACE"
    } else {
        "INSERT"
    };
    let sql = format!(
        "{verb} INTO {table} ({}) VALUES ({})",
        columns.join(", "),
        (1..=columns.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    {
        let mut stmt = tx.prepare(&sql).map_err(storage_error)?;
        for values in rows {
            if values.len() != columns.len() {
                return Err(Error::Corrupt(format!("{table}: a row of the wrong width")));
            }
            stmt.execute(params_from_iter(values.iter().map(|v| match v {
                Value::Null => rusqlite::types::Value::Null,
                Value::Integer(i) => rusqlite::types::Value::Integer(*i),
                Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
                Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
            })))
            .map_err(storage_error)?;
        }
    }
    tx.commit().map_err(storage_error)
}
