//! The writer thread: drains the queue in batches, chains each event to the previous one and
//! appends each batch in one store transaction. The only code that assigns sequence numbers.
//!
//! A batch the store refuses is kept, with its sequence numbers, and retried with capped backoff
//! until it is written; meanwhile the log is marked unhealthy so admission is refused. Only at
//! shutdown, once its deadline has passed, does the writer give up (and says how many events it
//! could not write).

use std::{
    sync::{
        Arc,
        atomic::Ordering::SeqCst,
        mpsc::{Receiver, TryRecvError},
    },
    thread,
    time::{Duration, Instant},
};

use super::{Finished, Message, Shared, event_body, lock};
use crate::{
    clock::{from_millis, to_millis},
    crypto::sha256,
    model::AuditRecord,
    store::{self, Store},
};

const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

pub(super) struct Writer {
    receiver: Receiver<Message>,
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
    max_batch: usize,
    commit_interval: Duration,
    /// When the last commit began (`None` before the first).
    last_commit: Option<Instant>,
    next_sequence: u64,
    previous_hash: [u8; 32],
}

/// Marks the writer stopped however its thread ends, and the log unhealthy if by a panic, so
/// waiters wake up and admission is refused instead of filling a queue nobody drains.
struct ExitGuard(Arc<Shared>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.healthy.store(false, SeqCst);
            tracing::error!("the audit writer stopped unexpectedly; requests are refused");
        }
        lock(&self.0.progress).stopped = true;
        self.0.progressed.notify_all();
    }
}

impl Writer {
    pub(super) fn new(
        receiver: Receiver<Message>,
        shared: Arc<Shared>,
        store: Arc<dyn Store>,
        max_batch: usize,
        commit_interval: Duration,
        next_sequence: u64,
        previous_hash: [u8; 32],
    ) -> Self {
        Self {
            receiver,
            shared,
            store,
            max_batch,
            commit_interval,
            last_commit: None,
            next_sequence,
            previous_hash,
        }
    }

    pub(super) fn run(mut self) {
        let _guard = ExitGuard(Arc::clone(&self.shared));
        let mut batch = Vec::with_capacity(self.max_batch);
        let mut stopping = false;
        loop {
            if !stopping {
                // Block for the first event; the sender lives in `Shared`, so `recv` only
                // returns an error if it is gone, which means stopping too.
                match self.receiver.recv() {
                    Ok(Message::Event(event)) => batch.push(event),
                    Ok(Message::Stop) | Err(_) => stopping = true,
                }
            }
            // Then take whatever else has accumulated, and, while events keep coming, what
            // arrives until the commit interval is up.
            let due = self.last_commit.map(|last| last + self.commit_interval);
            loop {
                while batch.len() < self.max_batch {
                    match self.receiver.try_recv() {
                        Ok(Message::Event(event)) => batch.push(event),
                        Ok(Message::Stop) => stopping = true,
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                }
                match self.wait_for_more(due, stopping, batch.len()) {
                    // Parked rather than waiting on the channel, so the requests' sends wake
                    // no one; a flush or shutdown unparks.
                    Some(wait) => thread::park_timeout(wait),
                    None => break,
                }
            }
            if batch.is_empty() {
                if stopping {
                    return;
                }
                continue;
            }
            self.shared.flush_wanted.store(false, SeqCst);
            self.last_commit = Some(Instant::now());
            let records = self.chain(&mut batch);
            if !self.write(&records) {
                let mut lost = records.len();
                while let Ok(message) = self.receiver.try_recv() {
                    lost += matches!(message, Message::Event(_)) as usize;
                }
                tracing::error!(lost, "audit events could not be written before shutdown");
                return;
            }
        }
    }

    /// How much longer to gather events before committing: until `due` (the commit interval
    /// after the last commit), unless stopping, the batch is full, or a flush or shutdown is
    /// waiting.
    fn wait_for_more(&self, due: Option<Instant>, stopping: bool, len: usize) -> Option<Duration> {
        if stopping
            || len >= self.max_batch
            || self.shared.flush_wanted.load(SeqCst)
            || !self.shared.open.load(SeqCst)
        {
            return None;
        }
        due?.checked_duration_since(Instant::now())
            .filter(|wait| !wait.is_zero())
    }

    /// Turns the batch into chained records, draining it.
    fn chain(&mut self, batch: &mut Vec<Finished>) -> Vec<AuditRecord> {
        batch
            .drain(..)
            .map(|finished| {
                let Finished {
                    event,
                    resources,
                    error_code,
                } = finished;
                let sequence = self.next_sequence;
                let body = event_body(
                    sequence,
                    &self.previous_hash,
                    &event,
                    &resources,
                    error_code.as_deref(),
                );
                let hash = sha256(body.as_bytes());
                self.next_sequence += 1;
                self.previous_hash = hash;
                AuditRecord {
                    sequence,
                    // As stored: whole milliseconds.
                    time: from_millis(to_millis(event.time)),
                    user_name: event.user_name,
                    access_key_id: event.access_key_id,
                    event_name: event.action,
                    resources,
                    body,
                    hash,
                }
            })
            .collect()
    }

    /// Appends the records, retrying until the store takes them. `false` if shutdown's deadline
    /// passed first.
    fn write(&self, records: &[AuditRecord]) -> bool {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let result = self.store.append_audit_events(records);
            match result {
                Ok(()) => break,
                Err(store::Error::Conflict(_)) if self.already_stored(records) => break,
                Err(err) => {
                    self.shared.healthy.store(false, SeqCst);
                    // The error names the store's failure, never an event's contents.
                    tracing::warn!(
                        error = %err,
                        events = records.len(),
                        retry_in_ms = backoff.as_millis() as u64,
                        "audit events could not be written; refusing requests until they are"
                    );
                    let stop_deadline = lock(&self.shared.progress).stop_deadline;
                    let wait = match stop_deadline {
                        None => backoff,
                        Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                            Some(left) if !left.is_zero() => backoff.min(left),
                            _ => return false,
                        },
                    };
                    // Shutdown unparks the thread to cut the wait short.
                    thread::park_timeout(wait);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        if !self.shared.healthy.swap(true, SeqCst) {
            tracing::info!("audit events are written again; admitting requests");
        }
        let mut progress = lock(&self.shared.progress);
        progress.written += records.len() as u64;
        self.shared.depth.fetch_sub(records.len(), SeqCst);
        drop(progress);
        self.shared.progressed.notify_all();
        true
    }

    /// Whether a write refused as a conflict was committed after all (by an earlier attempt that
    /// reported an error once its commit had reached the disk): retrying would only collide
    /// with itself.
    fn already_stored(&self, records: &[AuditRecord]) -> bool {
        let Some(last) = records.last() else {
            return true;
        };
        matches!(
            self.store.last_audit_event(),
            Ok(Some(head)) if head.sequence == last.sequence && head.hash == last.hash
        )
    }
}
