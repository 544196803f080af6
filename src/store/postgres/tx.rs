//! Transactions: the isolation each kind of call runs at, automatic retries of serialization
//! failures and deadlocks, and the error mapping.
//!
//! Several processes (replicas) write one database at once, so a write that reads before it
//! writes (a per-user maximum, a version number, a stage move) runs at `SERIALIZABLE` and is run
//! again, whole, when PostgreSQL reports that it could not be serialized. Closures given to
//! [`PostgresStore::write`] must therefore do nothing outside the transaction.

use std::time::Duration;

use postgres::{IsolationLevel, Row, Statement, Transaction, types::ToSql};

use super::PostgresStore;
use crate::store::{Error, Result};

/// How many times a write is tried when it keeps failing to serialize.
const ATTEMPTS: u32 = 10;

/// The channel of the change feed (see `feed.rs`).
pub(super) const CHANNEL: &str = "vaultd_changes";

/// Why a transaction's body failed: PostgreSQL said no (the retry loop looks at the code), or the
/// store itself refused (a decode error, a rule such as "the user still has access keys").
pub(super) enum Failure {
    Pg(postgres::Error),
    Store(Error),
}

impl From<postgres::Error> for Failure {
    fn from(err: postgres::Error) -> Self {
        Failure::Pg(err)
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Store(err)
    }
}

pub(super) type TxResult<T> = std::result::Result<T, Failure>;

/// Whether `err` means the connection is gone (or cannot be trusted): closed, an I/O error, a
/// timeout, or the server telling us it is shutting the session down.
pub(super) fn is_connection_error(err: &postgres::Error) -> bool {
    if let Some(db) = err.as_db_error() {
        let code = db.code().code();
        return code.starts_with("08") || code.starts_with("57P");
    }
    if err.is_closed() {
        return true;
    }
    if std::error::Error::source(err).is_some_and(|s| s.is::<std::io::Error>()) {
        return true;
    }
    // The client library's error kinds are private; these are its texts for connection-level
    // failures (none of them quotes the connection string).
    let text = err.to_string();
    [
        "error communicating with the server",
        "error connecting to server",
        "timeout waiting for server",
        "connection closed",
        "unexpected message from server",
        "error parsing response from server",
    ]
    .iter()
    .any(|prefix| text.starts_with(prefix))
}

/// The SQLSTATE of a server error.
pub(super) fn sqlstate(err: &postgres::Error) -> Option<&str> {
    err.as_db_error().map(|db| db.code().code())
}

/// Maps a PostgreSQL error onto the store's: constraint violations (class 23) are conflicts;
/// lost connections, shutdowns, exhausted resources and a read-only server (a standby after
/// failover) are unavailability; anything else is reported as corruption. The text is the
/// server's message and code only: never its DETAIL (which quotes row values) nor anything of the
/// connection string.
pub(super) fn storage_error(err: &postgres::Error) -> Error {
    if let Some(db) = err.as_db_error() {
        let code = db.code().code();
        let text = format!("{}: {} ({code})", db.severity(), db.message());
        // 40001/40P01 reach here only when retries ran out; 25006: the server is a read-only
        // standby (a failover in progress).
        return if code.starts_with("23") {
            Error::Conflict(text)
        } else if ["08", "53", "57", "58"].contains(&&code[..2])
            || ["40001", "40P01", "25006"].contains(&code)
        {
            Error::Unavailable(text)
        } else {
            Error::Corrupt(text)
        };
    }
    if is_connection_error(err) {
        return Error::Unavailable(format!("PostgreSQL: {err}"));
    }
    Error::Corrupt(format!("PostgreSQL: {err}"))
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Failure::Pg(err) => storage_error(&err),
            Failure::Store(err) => err,
        }
    }
}

/// An open transaction (or, for single-statement reads, the bare connection) with the
/// connection's statement cache and this store's origin for change notifications.
pub(super) struct Tx<'a> {
    handle: Handle<'a>,
    statements: &'a mut std::collections::HashMap<String, Statement>,
    origin: &'a str,
}

enum Handle<'a> {
    Client(&'a mut postgres::Client),
    Tx(Transaction<'a>),
}

pub(super) type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl Tx<'_> {
    /// The prepared statement for `sql`, prepared on first use on this connection.
    pub(super) fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = match &mut self.handle {
            Handle::Client(c) => c.prepare(sql)?,
            Handle::Tx(t) => t.prepare(sql)?,
        };
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    pub(super) fn query(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        let stmt = self.statement(sql)?;
        match &mut self.handle {
            Handle::Client(c) => c.query(&stmt, params),
            Handle::Tx(t) => t.query(&stmt, params),
        }
    }

    pub(super) fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, postgres::Error> {
        let stmt = self.statement(sql)?;
        match &mut self.handle {
            Handle::Client(c) => c.query_opt(&stmt, params),
            Handle::Tx(t) => t.query_opt(&stmt, params),
        }
    }

    pub(super) fn query_one(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Row, postgres::Error> {
        let stmt = self.statement(sql)?;
        match &mut self.handle {
            Handle::Client(c) => c.query_one(&stmt, params),
            Handle::Tx(t) => t.query_one(&stmt, params),
        }
    }

    pub(super) fn execute(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<u64, postgres::Error> {
        let stmt = self.statement(sql)?;
        match &mut self.handle {
            Handle::Client(c) => c.execute(&stmt, params),
            Handle::Tx(t) => t.execute(&stmt, params),
        }
    }

    /// Streams the rows of a query without parameters to `each`, stopping at its first error.
    pub(super) fn for_each_row(
        &mut self,
        sql: &str,
        each: &mut dyn FnMut(Row) -> Result<()>,
    ) -> TxResult<()> {
        use postgres::fallible_iterator::FallibleIterator;
        let stmt = self.statement(sql)?;
        let none: [&(dyn ToSql + Sync); 0] = [];
        let mut rows = match &mut self.handle {
            Handle::Client(c) => c.query_raw(&stmt, none)?,
            Handle::Tx(t) => t.query_raw(&stmt, none)?,
        };
        while let Some(row) = rows.next()? {
            each(row)?;
        }
        Ok(())
    }

    /// Tells the other processes sharing the database what this transaction changed (delivered
    /// when, and only if, it commits). `kind` and `id` as `feed.rs` decodes them.
    pub(super) fn notify(&mut self, kind: char, id: &str) -> Result<(), postgres::Error> {
        let payload = format!("{}|{kind}|{id}", self.origin);
        self.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
            .map(drop)
    }
}

/// How a call runs.
#[derive(Clone, Copy)]
pub(super) struct Mode {
    /// `None`: no transaction (one statement, atomic by itself).
    isolation: Option<IsolationLevel>,
    read_only: bool,
    /// Whether the body may run again (on a serialization failure, or on a stale connection).
    retry: bool,
}

/// Read-check-write sequences, safe against concurrent writers in other processes.
pub(super) const SERIALIZABLE: Mode = Mode {
    isolation: Some(IsolationLevel::Serializable),
    read_only: false,
    retry: true,
};
/// Writes that read nothing they depend on (appends that a unique key protects).
pub(super) const READ_COMMITTED: Mode = Mode {
    isolation: Some(IsolationLevel::ReadCommitted),
    read_only: false,
    retry: true,
};
/// Several reads that must see one moment.
pub(super) const SNAPSHOT: Mode = Mode {
    isolation: Some(IsolationLevel::RepeatableRead),
    read_only: true,
    retry: true,
};
/// [`SNAPSHOT`] for a body with effects outside the transaction (a dump handing rows to a
/// callback): never run twice.
pub(super) const SNAPSHOT_ONCE: Mode = Mode {
    retry: false,
    ..SNAPSHOT
};
/// One statement.
pub(super) const SINGLE: Mode = Mode {
    isolation: None,
    read_only: true,
    retry: true,
};

/// Where a failure happened: only one at COMMIT leaves the outcome unknown.
#[derive(PartialEq)]
enum Stage {
    Body,
    Commit,
}

/// A short random pause before trying again, growing with the attempt, so that two writers that
/// collided do not collide again in lockstep.
fn backoff(attempt: u32) {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    let max_ms = 2 + 4 * u64::from(attempt);
    std::thread::sleep(Duration::from_millis(1 + u64::from(byte[0]) % max_ms));
}

impl PostgresStore {
    /// Runs `body` in one transaction of `mode` on a pooled connection and commits it.
    pub(super) fn run<T>(
        &self,
        mode: Mode,
        body: impl FnMut(&mut Tx<'_>) -> TxResult<T>,
    ) -> Result<T> {
        self.run_on(&self.pool, mode, body)
    }

    /// [`PostgresStore::run`] on a connection of `pool`.
    pub(super) fn run_on<T>(
        &self,
        pool: &super::pool::Pool,
        mode: Mode,
        mut body: impl FnMut(&mut Tx<'_>) -> TxResult<T>,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut lease = pool.get()?;
            let reused = lease.reused;
            let conn = lease.conn();
            let outcome = (|| {
                let handle = match mode.isolation {
                    None => Handle::Client(&mut conn.client),
                    Some(level) => Handle::Tx(
                        conn.client
                            .build_transaction()
                            .isolation_level(level)
                            .read_only(mode.read_only)
                            .start()
                            .map_err(|e| (Stage::Body, Failure::Pg(e)))?,
                    ),
                };
                let mut tx = Tx {
                    handle,
                    statements: &mut conn.statements,
                    origin: &self.origin,
                };
                let out = body(&mut tx).map_err(|f| (Stage::Body, f))?;
                if let Handle::Tx(t) = tx.handle {
                    t.commit().map_err(|e| (Stage::Commit, Failure::Pg(e)))?;
                }
                Ok(out)
            })();
            let (stage, failure) = match outcome {
                Ok(out) => return Ok(out),
                Err(failed) => failed,
            };
            let Failure::Pg(err) = &failure else {
                return Err(failure.into_error());
            };
            if is_connection_error(err) {
                lease.discard();
                if stage == Stage::Commit && mode.isolation.is_some() && !mode.read_only {
                    return Err(Error::Unavailable(format!(
                        "the connection to PostgreSQL was lost while committing; the write may or \
                         may not have been made ({})",
                        storage_error(err)
                    )));
                }
                // A connection that sat idle may have died unnoticed (a server restart): once,
                // try again on a fresh one.
                if reused && mode.retry && attempt == 1 {
                    continue;
                }
                return Err(failure.into_error());
            }
            let retryable = matches!(sqlstate(err), Some("40001" | "40P01"));
            if retryable && mode.retry && attempt < ATTEMPTS {
                drop(lease);
                backoff(attempt);
                continue;
            }
            return Err(failure.into_error());
        }
    }

    /// Runs a read-check-write `body` at `SERIALIZABLE`, retried when it does not serialize.
    pub(super) fn write<T>(&self, body: impl FnMut(&mut Tx<'_>) -> TxResult<T>) -> Result<T> {
        self.run(SERIALIZABLE, body)
    }

    /// One read statement, its rows decoded by `decode`.
    pub(super) fn query<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        decode: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.run(SINGLE, |tx| {
            let rows = tx.query(sql, params)?;
            Ok(rows.iter().map(&decode).collect::<Result<Vec<T>>>()?)
        })
    }

    /// One read statement expected to return at most one row.
    pub(super) fn query_opt<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        decode: impl Fn(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        self.run(SINGLE, |tx| {
            Ok(match tx.query_opt(sql, params)? {
                Some(row) => Some(decode(&row)?),
                None => None,
            })
        })
    }
}
