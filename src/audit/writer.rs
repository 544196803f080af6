//! The writer thread: drains the queue in batches, chains each event to the previous one and
//! appends each batch in one store transaction. The only code that assigns sequence numbers.
//!
//! A batch the store refuses is kept, with its sequence numbers, and retried with capped backoff
//! until it is written; meanwhile the log is marked unhealthy so admission is refused. Only at
//! shutdown, once its deadline has passed, does the writer give up (and says how many events it
//! could not write).
//!
//! Replicas sharing a store append to one chain: when another one has appended since (the
//! sequence numbers are taken), the batch is chained again after the new head and written
//! there, so the chain stays one, gap-free, whoever wrote each event.

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
    model::{AuditQuery, AuditRecord},
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
            let written = loop {
                let records = self.chain(&batch);
                match self.write(&records) {
                    Outcome::Written => {
                        let last = records.last().expect("a batch is not empty");
                        self.next_sequence = last.sequence + 1;
                        self.previous_hash = last.hash;
                        break true;
                    }
                    Outcome::Moved(head) => {
                        self.next_sequence = head.sequence + 1;
                        self.previous_hash = head.hash;
                    }
                    Outcome::GaveUp => break false,
                }
            };
            let count = batch.len();
            batch.clear();
            if !written {
                let mut lost = count;
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

    /// The batch as records chained after the head the writer knows.
    fn chain(&self, batch: &[Finished]) -> Vec<AuditRecord> {
        let mut sequence = self.next_sequence;
        let mut previous_hash = self.previous_hash;
        batch
            .iter()
            .map(|finished| {
                let Finished {
                    event,
                    resources,
                    error_code,
                } = finished;
                let body = event_body(
                    sequence,
                    &previous_hash,
                    event,
                    resources,
                    error_code.as_deref(),
                );
                let hash = sha256(body.as_bytes());
                let record = AuditRecord {
                    sequence,
                    // As stored: whole milliseconds.
                    time: from_millis(to_millis(event.time)),
                    user_name: event.user_name.clone(),
                    access_key_id: event.access_key_id.clone(),
                    event_name: event.action.clone(),
                    resources: resources.clone(),
                    body,
                    hash,
                };
                sequence += 1;
                previous_hash = hash;
                record
            })
            .collect()
    }

    /// Appends the records, retrying until the store takes them, or until it turns out that
    /// another replica appended first (the batch must then be chained after the new head).
    fn write(&self, records: &[AuditRecord]) -> Outcome {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let result = self.store.append_audit_events(records);
            match result {
                Ok(()) => break,
                Err(store::Error::Conflict(err)) => match self.head_after_conflict(records) {
                    Some(Head::Ours) => break,
                    Some(Head::Moved(head)) => {
                        tracing::debug!(
                            head = head.sequence,
                            "another replica appended audit events; chaining after them"
                        );
                        return Outcome::Moved(head);
                    }
                    None => {
                        if let Some(outcome) =
                            self.back_off(&store::Error::Conflict(err), records, &mut backoff)
                        {
                            return outcome;
                        }
                    }
                },
                Err(err) => {
                    if let Some(outcome) = self.back_off(&err, records, &mut backoff) {
                        return outcome;
                    }
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
        Outcome::Written
    }

    /// After a failed write: marks the log unhealthy and waits (doubling `backoff`). `Some`
    /// when shutdown's deadline has passed and the writer must give up.
    fn back_off(
        &self,
        err: &store::Error,
        records: &[AuditRecord],
        backoff: &mut Duration,
    ) -> Option<Outcome> {
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
            None => *backoff,
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => (*backoff).min(left),
                _ => return Some(Outcome::GaveUp),
            },
        };
        // Shutdown unparks the thread to cut the wait short.
        thread::park_timeout(wait);
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
        None
    }

    /// Why a write was refused as a conflict: it was committed after all (an earlier attempt
    /// reported an error once its commit had reached the disk: retrying would only collide with
    /// itself), or another replica has appended since. `None` if the head cannot be read or
    /// explains nothing.
    fn head_after_conflict(&self, records: &[AuditRecord]) -> Option<Head> {
        let first = records.first()?;
        // A batch is one transaction: if its first event is there, all of it is.
        let stored = self
            .store
            .audit_events(&AuditQuery {
                ascending: true,
                after_sequence: first.sequence.checked_sub(1),
                limit: 1,
                ..AuditQuery::default()
            })
            .ok()?;
        match stored.first() {
            Some(event) if event.sequence == first.sequence && event.hash == first.hash => {
                Some(Head::Ours)
            }
            Some(event) if event.sequence == first.sequence => {
                Some(Head::Moved(self.store.last_audit_event().ok()??))
            }
            _ => None,
        }
    }
}

/// How a batch's write ended.
enum Outcome {
    Written,
    /// Another replica appended: chain the batch after this head and write it again.
    Moved(AuditRecord),
    /// Shutdown's deadline passed first.
    GaveUp,
}

/// What the chain's head says about a write refused as a conflict.
enum Head {
    Ours,
    Moved(AuditRecord),
}
