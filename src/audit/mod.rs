//! The audit trail: one event per authenticated request, allowed or denied, hash-chained and
//! written to the store off the request path. This module owns admission, the chain (sequence
//! numbers and hashes) and the writer thread; the store only keeps what it is given.
//!
//! A front end calls [`AuditLog::admit`] before serving a request and finishes the returned
//! [`AuditSlot`] with the outcome. What that guarantees:
//!
//! - **Fail closed.** Admission is refused (`Unavailable`, which clients retry with backoff) when
//!   the queue is full or the writer cannot write, so no request is served that could not be
//!   recorded.
//! - **An admitted event is not dropped.** A slot dropped unfinished (the client went away) is
//!   recorded with error code `RequestCancelled`. A batch the store refuses is kept and retried
//!   (50 ms doubling to 1 s) until it is written; meanwhile new requests are refused.
//! - **Durable once flushed.** Events are written in batches, one store transaction each; after a
//!   successful [`AuditLog::flush`] every event finished before it is on disk. While requests keep
//!   coming the writer commits at most once per [`AuditConfig::commit_interval`] (5 ms), so a
//!   batch is one fsync however many events it holds; a quiet log writes an event at once.
//! - **No gaps, no forks.** Sequence numbers run 1, 2, 3… across restarts (the writer continues
//!   from the store's newest event), and each body names the SHA-256 of the previous one.
//!
//! What is not guaranteed: events finished but not yet written live in memory only, and a crash
//! (`kill -9`, power loss) loses them; the chain then simply continues from the last stored event.
//! A graceful [`AuditLog::shutdown`] waits for them. An event holds no plaintext, key material,
//! secret or parameter value, nor signature: [`AuditEvent`] has no field that could carry one.
//!
//! The hot path (`admit`, `finish`) is a few atomic operations and a channel send; bodies and
//! hashes are computed on the writer thread. std threads only, no tokio.

mod chain;
mod writer;

#[cfg(test)]
mod tests;

use std::{
    fmt,
    sync::{
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst},
        mpsc,
    },
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime},
};

pub use self::chain::{BrokenLink, ChainHead, ChainLink, event_body, verify};
use crate::{
    error::{Error, Result},
    model::{AuditQuery, AuditRecord},
    store::Store,
};

/// What a front end knows about one request. No field can hold a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub time: SystemTime,
    pub request_id: String,
    pub user_name: String,
    pub user_id: String,
    pub user_arn: String,
    pub access_key_id: String,
    /// Session (temporary) credentials rather than a long-term access key.
    pub session: bool,
    /// `service:Operation`, e.g. `kms:Encrypt`.
    pub action: String,
}

/// The error code recorded for a request whose slot was dropped without being finished.
pub const REQUEST_CANCELLED: &str = "RequestCancelled";

#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// Events admitted and not yet written, at most; admission is refused beyond.
    pub queue_capacity: usize,
    /// Events written in one store transaction, at most.
    pub max_batch: usize,
    /// While events keep coming, the writer commits at most once per interval and takes what
    /// arrived meanwhile in the same transaction (each commit is an fsync and rewrites the same
    /// pages, whatever its size). An event after a quiet interval is written at once, and a
    /// flush or shutdown cuts the wait short. Zero: commit whenever the previous commit ends.
    pub commit_interval: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            max_batch: 1_024,
            commit_interval: Duration::from_millis(5),
        }
    }
}

/// How long dropping an [`AuditLog`] waits for pending events.
const SHUTDOWN_ON_DROP: Duration = Duration::from_secs(5);

/// The audit trail of one daemon: admission, the writer thread and lookups.
pub struct AuditLog {
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// What the front ends, the slots and the writer share.
struct Shared {
    queue_capacity: usize,
    sender: mpsc::Sender<Message>,
    /// Places taken: events admitted and not yet durably written. A refused admission takes one
    /// and gives it back.
    depth: AtomicUsize,
    /// Events handed to the writer since start, counted before they are sent.
    sent: AtomicU64,
    /// The writer's last write succeeded.
    healthy: AtomicBool,
    /// Admission is open (until shutdown).
    open: AtomicBool,
    progress: Mutex<Progress>,
    /// Notified when `progress` changes or `depth` drops.
    progressed: Condvar,
    /// A flush is waiting: the writer commits without waiting for the rest of its interval.
    flush_wanted: AtomicBool,
    /// The writer thread, to unpark it for a flush.
    writer_thread: std::sync::OnceLock<std::thread::Thread>,
}

#[derive(Debug, Default)]
struct Progress {
    /// Events durably written since start.
    written: u64,
    /// Set by shutdown: when the writer gives up retrying a failing store.
    stop_deadline: Option<Instant>,
    /// The writer thread has ended.
    stopped: bool,
}

#[expect(
    clippy::large_enum_variant,
    reason = "events travel inline in the channel's blocks, without an allocation each; Stop is sent once"
)]
enum Message {
    Event(Finished),
    Stop,
}

/// A request's event with its outcome, on its way to the writer.
struct Finished {
    event: AuditEvent,
    resources: Vec<String>,
    error_code: Option<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded state stays consistent: no code panics while holding these locks.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Gives back a place reserved by [`AuditLog::admit`] that will not reach the writer.
    fn unreserve(&self) {
        self.depth.fetch_sub(1, SeqCst);
        if !self.open.load(SeqCst) {
            // Shutdown may be waiting for the queue to empty.
            let _guard = lock(&self.progress);
            self.progressed.notify_all();
        }
    }

    fn send(&self, finished: Finished) {
        // Counted before sending, so a flush that starts after this send returns also waits
        // for this event (the channel is FIFO).
        self.sent.fetch_add(1, SeqCst);
        if self.sender.send(Message::Event(finished)).is_err() {
            // The writer has stopped: shutdown gave up waiting for this request.
            self.sent.fetch_sub(1, SeqCst);
            self.unreserve();
            tracing::error!("an audit event finished after shutdown could not be recorded");
        }
    }

    fn writer_stopped(&self) -> bool {
        lock(&self.progress).stopped
    }
}

impl AuditLog {
    /// Reads the chain's head from the store and starts the writer thread.
    pub fn start(store: Arc<dyn Store>, config: AuditConfig) -> Result<AuditLog> {
        let (next_sequence, previous_hash) = match store.last_audit_event()? {
            None => (1, [0; 32]),
            Some(head) => (
                head.sequence.checked_add(1).ok_or_else(|| {
                    Error::internal("The audit trail has no sequence numbers left.")
                })?,
                head.hash,
            ),
        };
        let (sender, receiver) = mpsc::channel();
        let shared = Arc::new(Shared {
            queue_capacity: config.queue_capacity,
            sender,
            depth: AtomicUsize::new(0),
            sent: AtomicU64::new(0),
            healthy: AtomicBool::new(true),
            open: AtomicBool::new(true),
            progress: Mutex::new(Progress::default()),
            progressed: Condvar::new(),
            flush_wanted: AtomicBool::new(false),
            writer_thread: std::sync::OnceLock::new(),
        });
        let writer = writer::Writer::new(
            receiver,
            Arc::clone(&shared),
            Arc::clone(&store),
            config.max_batch.max(1),
            config.commit_interval,
            next_sequence,
            previous_hash,
        );
        let handle = std::thread::Builder::new()
            .name("vaultd-audit".into())
            .spawn(move || writer.run())
            .map_err(|err| {
                tracing::error!(error = %err, "cannot start the audit writer thread");
                Error::unavailable("The audit trail cannot be started.")
            })?;
        let _ = shared.writer_thread.set(handle.thread().clone());
        Ok(AuditLog {
            shared,
            store,
            writer: Mutex::new(Some(handle)),
        })
    }

    /// Reserves a place for the event of a request about to be served. Refused with
    /// `Unavailable` when the queue is full, the store cannot be written, or after shutdown.
    pub fn admit(&self, event: AuditEvent) -> Result<AuditSlot> {
        let shared = &self.shared;
        if !shared.healthy.load(SeqCst) {
            return Err(Error::unavailable(
                "The audit trail cannot be written; the request was refused. Retry later.",
            ));
        }
        // Reserve first and check `open` after, so shutdown either sees the reservation or the
        // reservation sees the shutdown.
        if shared.depth.fetch_add(1, SeqCst) >= shared.queue_capacity {
            shared.unreserve();
            return Err(Error::unavailable(
                "The audit trail is falling behind; the request was refused. Retry later.",
            ));
        }
        if !shared.open.load(SeqCst) {
            shared.unreserve();
            return Err(Error::unavailable(
                "The audit trail is shut down; the request was refused.",
            ));
        }
        Ok(AuditSlot {
            shared: Arc::clone(shared),
            event: Some(event),
        })
    }

    /// The writer's last write succeeded and admission is open.
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy.load(SeqCst) && self.shared.open.load(SeqCst)
    }

    /// Events admitted but not yet durably written.
    pub fn queue_depth(&self) -> usize {
        self.shared.depth.load(SeqCst)
    }

    /// Waits (up to `timeout`) until every event finished before this call is durably stored.
    /// `false` on timeout, or if the writer has stopped with events unwritten.
    pub fn flush(&self, timeout: Duration) -> bool {
        let target = self.shared.sent.load(SeqCst);
        let progress = lock(&self.shared.progress);
        if progress.written < target {
            // Wake the writer if it is waiting out its commit interval.
            self.shared.flush_wanted.store(true, SeqCst);
            if let Some(writer) = self.shared.writer_thread.get() {
                writer.unpark();
            }
        }
        let (progress, _) = self
            .shared
            .progressed
            .wait_timeout_while(progress, timeout, |p| p.written < target && !p.stopped)
            .unwrap_or_else(PoisonError::into_inner);
        progress.written >= target
    }

    /// Stored events matching the query (reads the store; the caller decides whether to flush
    /// first).
    pub fn lookup(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        Ok(self.store.audit_events(query)?)
    }

    /// Refuses new requests, waits (up to `timeout`) for the admitted ones to finish and their
    /// events to be written, and stops the writer thread. Idempotent. Also done on drop.
    pub fn shutdown(&self, timeout: Duration) {
        let Some(handle) = lock(&self.writer).take() else {
            return;
        };
        let shared = &self.shared;
        shared.open.store(false, SeqCst);
        // A writer waiting out its commit interval writes what it has now.
        handle.thread().unpark();
        let deadline = Instant::now() + timeout;
        {
            let progress = lock(&shared.progress);
            let (mut progress, _) = shared
                .progressed
                .wait_timeout_while(progress, timeout, |p| {
                    shared.depth.load(SeqCst) > 0 && !p.stopped
                })
                .unwrap_or_else(PoisonError::into_inner);
            progress.stop_deadline = Some(deadline);
        }
        let pending = shared.depth.load(SeqCst);
        if pending > 0 && !shared.writer_stopped() {
            tracing::warn!(
                pending,
                "audit shutdown timed out with requests or events pending"
            );
        }
        let _ = shared.sender.send(Message::Stop);
        // Cut short a retry backoff or a commit interval.
        handle.thread().unpark();
        if handle.join().is_err() {
            tracing::error!("the audit writer thread panicked");
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.shutdown(SHUTDOWN_ON_DROP);
    }
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("healthy", &self.is_healthy())
            .field("queue_depth", &self.queue_depth())
            .finish_non_exhaustive()
    }
}

/// A reserved place in the queue for one request's event. Finish it with the outcome; dropping it
/// unfinished records the request as cancelled.
pub struct AuditSlot {
    shared: Arc<Shared>,
    /// `None` once finished.
    event: Option<AuditEvent>,
}

impl AuditSlot {
    /// Records the outcome: the resources the request acted on (ARNs, or "*") and `None` for
    /// success or the AWS error name (e.g. "AccessDeniedException").
    pub fn finish(mut self, resources: Vec<String>, error_code: Option<&str>) {
        if let Some(event) = self.event.take() {
            self.shared.send(Finished {
                event,
                resources,
                error_code: error_code.map(str::to_owned),
            });
        }
    }
}

impl Drop for AuditSlot {
    fn drop(&mut self) {
        if let Some(event) = self.event.take() {
            self.shared.send(Finished {
                event,
                resources: Vec::new(),
                error_code: Some(REQUEST_CANCELLED.to_owned()),
            });
        }
    }
}

impl fmt::Debug for AuditSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let event = self.event.as_ref();
        f.debug_struct("AuditSlot")
            .field("request_id", &event.map(|e| &e.request_id))
            .field("action", &event.map(|e| &e.action))
            .finish_non_exhaustive()
    }
}
