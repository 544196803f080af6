//! Copying a whole vault from one store to another (SQLite to PostgreSQL and back): every table,
//! row by row, as stored. Sealed values stay sealed: the copy never sees plaintext, and the
//! database id (the barrier's salt) travels with the keyring, so the same root key opens the copy.

use super::{Error, Result, Store, TABLES, Value};

/// Rows copied at once (one transaction on the target).
const BATCH: usize = 500;

/// How many rows of each table were copied, in [`TABLES`] order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, u64)>,
}

impl CopyReport {
    pub fn rows(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }
}

/// Whether a dumped row is the sealed keyring (`meta`'s `keyring` row), which a copy installs
/// last.
pub fn is_keyring_row(table: &str, row: &[Value]) -> bool {
    table == "meta" && row.first() == Some(&Value::Text("keyring".into()))
}

/// Copies every row of `from` into `to`, which must hold no vault yet (no keyring, no rows but
/// its own database id), except the sealed keyring, which is returned: the caller installs it
/// ([`Store::init_keyring`]) once it has checked the copy, so that a copy that failed half-way
/// never opens as a vault. `from` should not change meanwhile (stop the daemons that use it).
pub fn copy_store(from: &dyn Store, to: &dyn Store) -> Result<(CopyReport, Vec<u8>)> {
    let keyring = from
        .sealed_keyring()?
        .ok_or_else(|| Error::Corrupt("the source holds no vault (no keyring)".into()))?;
    if to.sealed_keyring()?.is_some() {
        return Err(Error::Conflict(
            "the target already holds a vault; copy into an empty database".into(),
        ));
    }
    for table in TABLES.iter().filter(|t| **t != "meta") {
        let mut any = false;
        to.dump_table(table, &mut |_| Ok(()), &mut |_| {
            any = true;
            Err(Error::Conflict(String::new()))
        })
        .or_else(|e| if any { Ok(()) } else { Err(e) })?;
        if any {
            return Err(Error::Conflict(format!(
                "the target's {table} table is not empty; copy into an empty database"
            )));
        }
    }
    let mut report = CopyReport::default();
    for table in TABLES {
        let columns = std::cell::RefCell::new(Vec::new());
        let mut batch: Vec<Vec<Value>> = Vec::with_capacity(BATCH);
        let mut copied = 0u64;
        from.dump_table(
            table,
            &mut |names| {
                *columns.borrow_mut() = names.to_vec();
                Ok(())
            },
            &mut |row| {
                if is_keyring_row(table, &row) {
                    return Ok(());
                }
                batch.push(row);
                if batch.len() == BATCH {
                    to.load_rows(table, &columns.borrow(), &batch)?;
                    copied += batch.len() as u64;
                    batch.clear();
                }
                Ok(())
            },
        )?;
        if !batch.is_empty() {
            to.load_rows(table, &columns.borrow(), &batch)?;
            copied += batch.len() as u64;
        }
        report.tables.push((table, copied));
    }
    Ok((report, keyring))
}
