//! A small blocking connection pool: at most `max` connections, opened when first needed, each
//! with its own cache of prepared statements. A connection that is closed, or whose last error
//! was a connection error, is dropped instead of returned, so the next checkout opens a fresh
//! one (after a server restart or failover every stale connection goes this way).

use std::{
    collections::HashMap,
    sync::{Condvar, Mutex},
    time::{Duration, Instant},
};

use postgres::{Client, Config, NoTls, Statement};

use super::connect_error;
use crate::store::{Error, Result};

/// How long a checkout waits for a connection before the store reports itself unavailable.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection and the statements prepared on it (prepared once per connection, by SQL text).
pub(super) struct Connection {
    pub(super) client: Client,
    pub(super) statements: HashMap<String, Statement>,
}

pub(super) struct Pool {
    config: Config,
    max: usize,
    state: Mutex<State>,
    freed: Condvar,
}

struct State {
    idle: Vec<Connection>,
    /// Connections idle, checked out or being opened.
    open: usize,
}

/// A checked-out connection, returned to the pool when dropped (unless discarded).
pub(super) struct Lease<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
    discard: bool,
    /// Whether the connection was used before (so it may have died since, unnoticed).
    pub(super) reused: bool,
}

impl Pool {
    pub(super) fn new(config: Config, max: usize) -> Self {
        Self {
            config,
            max: max.max(1),
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| Error::Unavailable("a previous storage operation panicked".into()))
    }

    /// An idle connection, a new one if fewer than `max` are open, or the first one freed within
    /// [`CHECKOUT_TIMEOUT`].
    pub(super) fn get(&self) -> Result<Lease<'_>> {
        let deadline = Instant::now() + CHECKOUT_TIMEOUT;
        let mut state = self.state()?;
        loop {
            while let Some(conn) = state.idle.pop() {
                if conn.client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(Lease {
                    pool: self,
                    conn: Some(conn),
                    discard: false,
                    reused: true,
                });
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                // Connected outside the lock: a slow connect must not hold up checkouts of idle
                // connections.
                return match self.config.connect(NoTls) {
                    Ok(client) => Ok(Lease {
                        pool: self,
                        conn: Some(Connection {
                            client,
                            statements: HashMap::new(),
                        }),
                        discard: false,
                        reused: false,
                    }),
                    Err(err) => {
                        self.state()?.open -= 1;
                        self.freed.notify_one();
                        Err(connect_error(&err))
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Unavailable(format!(
                    "no PostgreSQL connection became free within {} s (all {} in use)",
                    CHECKOUT_TIMEOUT.as_secs(),
                    self.max
                )));
            }
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .map_err(|_| Error::Unavailable("a previous storage operation panicked".into()))?
                .0;
        }
    }
}

impl Lease<'_> {
    pub(super) fn conn(&mut self) -> &mut Connection {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }

    /// Closes the connection instead of returning it (it failed in a way that may leave it
    /// unusable).
    pub(super) fn discard(&mut self) {
        self.discard = true;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let keep = !self.discard && !conn.client.is_closed();
        let Ok(mut state) = self.pool.state.lock() else {
            return;
        };
        if keep {
            state.idle.push(conn);
        } else {
            state.open -= 1;
            drop(state);
            drop(conn);
        }
        self.pool.freed.notify_one();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let idle =
            std::mem::take(&mut self.state.get_mut().unwrap_or_else(|e| e.into_inner()).idle);
        super::close_elsewhere(idle);
    }
}
