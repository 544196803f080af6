//! Write serialization across replicas ([`Store::serialize_writes`](crate::store::Store)): a
//! session-level advisory lock per scope, taken on a connection kept for that scope (the domain's
//! own mutex already lets one sequence per scope run in this process, so one connection each is
//! enough) and released when the guard is dropped. If the connection dies meanwhile, PostgreSQL
//! releases the lock with the session; the guard then closes it instead of keeping it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use postgres::{Client, Config, NoTls};

use super::{close_elsewhere, connect_error, tx::storage_error};
use crate::store::{Error, Result, WriteGuard};

/// The writes connections' `application_name`.
pub(super) const WRITES_APPLICATION_NAME: &str = "vaultd-writes";

/// How long a sequence waits for another replica's of the same scope before giving up (the
/// request is then answered UNAVAILABLE, and clients retry).
const LOCK_TIMEOUT: &str = "10s";

type Slot = Arc<Mutex<Option<Client>>>;

pub(super) struct WriteLocks {
    config: Config,
    slots: Mutex<HashMap<&'static str, Slot>>,
}

/// The lock's key: "vaultdW" and the first byte of the scope's SHA-256, as a big-endian integer.
fn lock_key(scope: &str) -> i64 {
    let digest = crate::crypto::sha256(scope.as_bytes());
    let mut key = *b"vaultdW\0";
    key[7] = digest[0];
    i64::from_be_bytes(key)
}

impl WriteLocks {
    pub(super) fn new(mut config: Config) -> Self {
        config
            .application_name(WRITES_APPLICATION_NAME)
            .tcp_user_timeout(Duration::from_secs(5));
        Self {
            config,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn lock(&self, scope: &'static str) -> Result<WriteGuard> {
        let poisoned = || Error::Unavailable("a previous write lock panicked".into());
        let slot = self
            .slots
            .lock()
            .map_err(|_| poisoned())?
            .entry(scope)
            .or_default()
            .clone();
        let kept = slot.lock().map_err(|_| poisoned())?.take();
        let mut client = match kept {
            Some(client) if !client.is_closed() => client,
            other => {
                close_elsewhere(other);
                let mut client = self.config.connect(NoTls).map_err(|e| connect_error(&e))?;
                client
                    .batch_execute(&format!("SET lock_timeout = '{LOCK_TIMEOUT}'"))
                    .map_err(|e| storage_error(&e))?;
                client
            }
        };
        let key = lock_key(scope);
        if let Err(err) = client.execute("SELECT pg_advisory_lock($1)", &[&key]) {
            close_elsewhere(client);
            return Err(match storage_error(&err) {
                // lock_timeout: another replica's sequence held it too long.
                Error::Corrupt(message) => Error::Unavailable(message),
                other => other,
            });
        }
        Ok(WriteGuard::new(Box::new(Held {
            slot,
            client: Some(client),
            key,
        })))
    }
}

impl Drop for WriteLocks {
    fn drop(&mut self) {
        let slots = std::mem::take(self.slots.get_mut().unwrap_or_else(|e| e.into_inner()));
        let clients: Vec<Client> = slots
            .into_values()
            .filter_map(|slot| slot.lock().unwrap_or_else(|e| e.into_inner()).take())
            .collect();
        close_elsewhere(clients);
    }
}

/// A held lock and its connection.
struct Held {
    slot: Slot,
    client: Option<Client>,
    key: i64,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(mut client) = self.client.take() else {
            return;
        };
        match client.execute("SELECT pg_advisory_unlock($1)", &[&self.key]) {
            Ok(_) => {
                if let Ok(mut slot) = self.slot.lock() {
                    *slot = Some(client);
                    return;
                }
                close_elsewhere(client);
            }
            // The session is gone, and the lock with it.
            Err(_) => close_elsewhere(client),
        }
    }
}
