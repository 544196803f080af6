//! Whole tables as engine-neutral rows, to copy a vault between engines (`vaultctl admin migrate`):
//! BIGINT as [`Value::Integer`], TEXT as [`Value::Text`], BYTEA as [`Value::Blob`].

use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::{
    PostgresStore,
    rows::col,
    tx::{SNAPSHOT_ONCE, Tx, TxResult},
};
use crate::store::{Error, Result, TABLES, Value};

/// `table` if it is one of the schema's (so it may be formatted into SQL).
fn known(table: &str) -> Result<&'static str> {
    TABLES
        .iter()
        .find(|t| **t == table)
        .copied()
        .ok_or_else(|| Error::Corrupt(format!("no table {table:?}")))
}

/// The columns of `table` as the database has them, in order, with their types.
fn columns_of(tx: &mut Tx<'_>, table: &str) -> TxResult<Vec<(String, String)>> {
    let rows = tx.query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        &[&table],
    )?;
    Ok(rows
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect::<Result<Vec<_>>>()?)
}

/// The primary key's columns of `table`, in key order.
fn primary_key_of(tx: &mut Tx<'_>, table: &str) -> TxResult<Vec<String>> {
    let rows = tx.query(
        "SELECT k.column_name::text FROM information_schema.table_constraints c \
         JOIN information_schema.key_column_usage k ON k.constraint_schema = c.constraint_schema \
         AND k.constraint_name = c.constraint_name AND k.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND c.table_name = $1 \
         AND c.constraint_type = 'PRIMARY KEY' ORDER BY k.ordinal_position",
        &[&table],
    )?;
    Ok(rows
        .iter()
        .map(|r| col(r, 0))
        .collect::<Result<Vec<String>>>()?)
}

pub(super) fn dump(
    store: &PostgresStore,
    table: &str,
    columns: &mut dyn FnMut(&[String]) -> Result<()>,
    row: &mut dyn FnMut(Vec<Value>) -> Result<()>,
) -> Result<()> {
    let table = known(table)?;
    // One repeatable-read transaction: one moment, and writes go on. Never run twice, as the
    // callbacks have seen rows by then.
    store.run(SNAPSHOT_ONCE, |tx| {
        let have = columns_of(tx, table)?;
        let names: Vec<String> = have.iter().map(|(name, _)| name.clone()).collect();
        columns(&names)?;
        let order = primary_key_of(tx, table)?.join(", ");
        let sql = format!("SELECT {} FROM {table} ORDER BY {order}", names.join(", "));
        tx.for_each_row(&sql, &mut |r| {
            let values = have
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| {
                    Ok(match kind.as_str() {
                        "bigint" => col::<Option<i64>>(&r, i)?.map_or(Value::Null, Value::Integer),
                        "text" => col::<Option<String>>(&r, i)?.map_or(Value::Null, Value::Text),
                        "bytea" => col::<Option<Vec<u8>>>(&r, i)?.map_or(Value::Null, Value::Blob),
                        other => {
                            return Err(Error::Corrupt(format!(
                                "{table}: a column of type {other}"
                            )));
                        }
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            row(values)
        })
    })
}

/// A [`Value`] as a statement parameter of its column's type; a value of another kind is refused
/// (never written as bytes the column would misread).
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Text(t), &Type::TEXT) => t.to_sql(ty, out),
            (Value::Blob(b), &Type::BYTEA) => b.to_sql(ty, out),
            (value, ty) => Err(format!("{value:?} for a column of type {ty}").into()),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT8 | Type::TEXT | Type::BYTEA)
    }

    to_sql_checked!();
}

pub(super) fn load(
    store: &PostgresStore,
    table: &str,
    columns: &[String],
    rows: &[Vec<Value>],
) -> Result<()> {
    let table = known(table)?;
    if rows.iter().any(|values| values.len() != columns.len()) {
        return Err(Error::Corrupt(format!("{table}: a row of the wrong width")));
    }
    // The meta row of the same name (the new store's own database id) gives way to the copied one.
    let on_conflict = if table == "meta" {
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
    } else {
        ""
    };
    store.write(|tx| {
        let have = columns_of(tx, table)?;
        if let Some(unknown) = columns.iter().find(|c| !have.iter().any(|(h, _)| h == *c)) {
            return Err(Error::Corrupt(format!("{table} has no column {unknown:?}")).into());
        }
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({}){on_conflict}",
            columns.join(", "),
            (1..=columns.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for values in rows {
            let params: Vec<Param<'_>> = values.iter().map(Param).collect();
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            tx.execute(&sql, &refs)?;
        }
        Ok(())
    })
}
