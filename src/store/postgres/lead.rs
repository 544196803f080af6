//! The fleet's lead: a session-level advisory lock on a dedicated connection. PostgreSQL releases
//! it when that session ends (the process died, or its connection was lost or terminated), so
//! another replica's next [`Lead::hold`] takes it.
//!
//! If the network between this process and the server is cut without either side seeing a
//! reset, the server would keep the session (and the lock) until its TCP keepalives notice, by
//! default after hours: so the lead session sets its own server-side keepalives (a probe after
//! 5 s idle, every 2 s, 3 missed: the lock is freed about 11 s after the cut). This side notices
//! within a check's timeout and stops leading.

use std::{sync::Mutex, time::Duration};

use postgres::{Client, Config, NoTls};

use super::{connect_error, rows::col, tx::storage_error};
use crate::store::{Error, Result};

/// The lock's key: "vaultd:L" read as a big-endian integer. Advisory locks are per database, so
/// vaults in different databases of one server do not share a lead.
const LEAD_LOCK: i64 = i64::from_be_bytes(*b"vaultd:L");

/// How long the liveness check of a held lead may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The lead connection's `application_name`.
pub(super) const LEAD_APPLICATION_NAME: &str = "vaultd-lead";

pub(super) struct Lead {
    config: Config,
    session: Mutex<Option<Session>>,
}

struct Session {
    client: Client,
    /// Whether this session holds the lock (taken once, never stacked).
    held: bool,
}

impl Lead {
    pub(super) fn new(mut config: Config) -> Self {
        config
            .application_name(LEAD_APPLICATION_NAME)
            .tcp_user_timeout(Duration::from_secs(5));
        Self {
            config,
            session: Mutex::new(None),
        }
    }

    /// Whether this process holds the lead, taking it if it is free.
    pub(super) fn hold(&self) -> Result<bool> {
        let mut slot = self
            .session
            .lock()
            .map_err(|_| Error::Unavailable("a previous lead check panicked".into()))?;
        if let Some(session) = slot.as_mut() {
            match Self::check(session) {
                Ok(held) => return Ok(held),
                // The session is gone, and the lock with it: start over on a new one.
                Err(err) => {
                    tracing::warn!(error = %err, "the connection holding the fleet's lead failed");
                    *slot = None;
                }
            }
        }
        let mut client = self.config.connect(NoTls).map_err(|e| connect_error(&e))?;
        client
            .batch_execute(
                "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; \
                 SET tcp_keepalives_count = 3",
            )
            .map_err(|e| storage_error(&e))?;
        let mut session = Session {
            client,
            held: false,
        };
        let held = Self::check(&mut session)?;
        *slot = Some(session);
        Ok(held)
    }

    /// A held lock: the session still alive. Otherwise: one attempt to take it.
    fn check(session: &mut Session) -> Result<bool> {
        if session.held {
            session
                .client
                .is_valid(CHECK_TIMEOUT)
                .map_err(|e| storage_error(&e))?;
            return Ok(true);
        }
        let row = session
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LEAD_LOCK])
            .map_err(|e| storage_error(&e))?;
        session.held = col(&row, 0)?;
        Ok(session.held)
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        let session = self
            .session
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        super::close_elsewhere(session);
    }
}
