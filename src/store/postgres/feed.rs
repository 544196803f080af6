//! The change feed: what other processes changed, from PostgreSQL's `LISTEN`/`NOTIFY`.
//!
//! Writes to what the domain caches send `"<origin>|<kind>|<id>"` on [`CHANNEL`] inside their
//! transaction (delivered at commit, and only then). A listener thread with its own connection
//! decodes them and tells the sinks, this store's own changes included: a write whose commit was
//! reported failed (the connection was lost during COMMIT) may have landed, and its writer's
//! caches must learn of it too; dropping what the writer has just cached costs one reload. It confirms the feed
//! healthy with every notification and with a heartbeat query every [`HEARTBEAT`]; a watchdog
//! thread reports [`Change::All`] every [`TICK`] while the feed has not been confirmed for
//! [`STALE`] (a dead or hung connection, a reconnect in progress), so that no cache is stale for
//! longer than about a second even when the listener hangs on a black-holed TCP connection. After
//! a reconnect the listener reports `All` too, as notifications sent meanwhile are lost.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use postgres::{Client, Config, NoTls, fallible_iterator::FallibleIterator};
use uuid::Uuid;

use super::tx::CHANNEL;
use crate::store::{Change, ChangeSink, Error, Result};

/// How long the listener waits for a notification before it looks at anything else.
const POLL: Duration = Duration::from_millis(100);
/// How often the listener proves its connection alive when nothing arrives.
const HEARTBEAT: Duration = Duration::from_millis(250);
/// How long a heartbeat may take before the connection is given up.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long the feed may go unconfirmed before caches are told to drop everything.
const STALE: Duration = Duration::from_millis(500);
/// How often the watchdog looks.
const TICK: Duration = Duration::from_millis(100);
/// The longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// The listener's `application_name` (so operators, and tests, can tell its connection apart).
pub(super) const LISTEN_APPLICATION_NAME: &str = "vaultd-listen";

/// The feed of one store: started by the first [`Feed::watch`], stopped when the store drops.
pub(super) struct Feed {
    shared: Arc<Shared>,
    config: Config,
    started: Mutex<bool>,
}

/// What the listener and watchdog threads share with the store (never the store itself, so
/// that dropping the store ends them).
struct Shared {
    sinks: Mutex<Vec<ChangeSink>>,
    stop: AtomicBool,
    epoch: Instant,
    /// Milliseconds since `epoch` when the feed was last confirmed healthy.
    confirmed: AtomicU64,
}

impl Shared {
    fn confirm(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.confirmed.store(now, Ordering::Relaxed);
    }

    fn unconfirmed_for(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.confirmed.load(Ordering::Relaxed)))
    }

    fn tell(&self, change: &Change) {
        let sinks = match self.sinks.lock() {
            Ok(sinks) => sinks.clone(),
            Err(_) => return,
        };
        for sink in sinks {
            sink(change);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps `pause` in short steps, returning early (false) when the store is dropped.
    fn sleep(&self, pause: Duration) -> bool {
        let until = Instant::now() + pause;
        while !self.stopped() {
            let now = Instant::now();
            if now >= until {
                return true;
            }
            thread::sleep((until - now).min(TICK));
        }
        false
    }

    /// Decodes one notification payload and tells the sinks, unless it is this store's own.
    fn handle(&self, payload: &str) {
        let mut parts = payload.splitn(3, '|');
        // The origin (the writing store) is for operators reading the channel: every change is
        // applied, this store's own too.
        let (Some(_origin), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            tracing::warn!("ignoring a change notification that does not decode");
            return;
        };
        let change = match kind {
            "k" => match Uuid::parse_str(id) {
                Ok(id) => Change::Key(id),
                Err(_) => {
                    tracing::warn!(kind, "ignoring a change notification that does not decode");
                    return;
                }
            },
            "a" => Change::Alias(id.to_owned()),
            "u" => Change::User(id.to_owned()),
            "x" => Change::AccessKey(id.to_owned()),
            _ => {
                tracing::warn!(kind, "ignoring a change notification of an unknown kind");
                return;
            }
        };
        self.tell(&change);
    }
}

impl Feed {
    pub(super) fn new(mut config: Config) -> Self {
        // A heartbeat that goes unanswered (a black-holed connection) fails within seconds
        // instead of hanging the listener on TCP's retransmissions.
        config
            .application_name(LISTEN_APPLICATION_NAME)
            .tcp_user_timeout(Duration::from_secs(2));
        Self {
            shared: Arc::new(Shared {
                sinks: Mutex::new(Vec::new()),
                stop: AtomicBool::new(false),
                epoch: Instant::now(),
                confirmed: AtomicU64::new(0),
            }),
            config,
            started: Mutex::new(false),
        }
    }

    /// Adds `sink`, and starts the listener and the watchdog on the first call.
    pub(super) fn watch(&self, sink: ChangeSink) -> Result<()> {
        let poisoned = || Error::Unavailable("a previous change feed call panicked".into());
        self.shared.sinks.lock().map_err(|_| poisoned())?.push(sink);
        let mut started = self.started.lock().map_err(|_| poisoned())?;
        if *started {
            return Ok(());
        }
        // Unconfirmed until the listener's first LISTEN: the watchdog reports `All` meanwhile.
        self.shared.confirm();
        let shared = self.shared.clone();
        let config = self.config.clone();
        thread::Builder::new()
            .name("vaultd-pg-listen".into())
            .spawn(move || listen(&shared, &config))
            .map_err(|e| Error::Unavailable(format!("cannot start the change feed: {e}")))?;
        let shared = self.shared.clone();
        thread::Builder::new()
            .name("vaultd-pg-watchdog".into())
            .spawn(move || watchdog(&shared))
            .map_err(|e| Error::Unavailable(format!("cannot start the change feed: {e}")))?;
        *started = true;
        Ok(())
    }

    /// Ends the threads (within about [`TICK`], or a connection attempt's timeout).
    pub(super) fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// Connects and listens, over and over, until the store is dropped.
fn listen(shared: &Shared, config: &Config) {
    let mut backoff = Duration::from_millis(50);
    while !shared.stopped() {
        let mut client = match config.connect(NoTls) {
            Ok(client) => client,
            Err(err) => {
                tracing::warn!(error = %super::connect_error(&err), "the change feed cannot connect");
                shared.sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        if let Err(err) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
            tracing::warn!(error = %super::tx::storage_error(&err), "the change feed cannot LISTEN");
            shared.sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        }
        shared.confirm();
        backoff = Duration::from_millis(50);
        // Whatever was sent while we were not listening is lost: after a reconnection, and also
        // the first time (caches may have been filled between the store's opening and now).
        shared.tell(&Change::All);
        receive(shared, &mut client);
    }
}

/// Hands notifications to the sinks and heartbeats until the connection fails or the store is
/// dropped.
fn receive(shared: &Shared, client: &mut Client) {
    let mut last_beat = Instant::now();
    while !shared.stopped() {
        match client.notifications().timeout_iter(POLL).next() {
            Ok(Some(notification)) => {
                shared.confirm();
                shared.handle(notification.payload());
                continue;
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %super::tx::storage_error(&err), "the change feed lost its connection");
                return;
            }
        }
        if client.is_closed() {
            tracing::warn!("the change feed lost its connection");
            return;
        }
        if last_beat.elapsed() >= HEARTBEAT {
            if let Err(err) = client.is_valid(HEARTBEAT_TIMEOUT) {
                tracing::warn!(error = %super::tx::storage_error(&err), "the change feed's heartbeat failed");
                return;
            }
            last_beat = Instant::now();
            shared.confirm();
        }
    }
}

/// Reports [`Change::All`] every tick while the feed is unconfirmed for longer than [`STALE`].
fn watchdog(shared: &Shared) {
    while shared.sleep(TICK) {
        if shared.unconfirmed_for() > STALE {
            shared.tell(&Change::All);
        }
    }
}
