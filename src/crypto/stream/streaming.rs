//! Streams in order, in constant memory: the caller reads and writes, batches of frames are
//! sealed or opened inline at first, then on worker threads.

use std::{
    io::{self, Read, Write},
    sync::{
        Arc,
        mpsc::{Receiver, SyncSender},
    },
    thread::JoinHandle,
};

use zeroize::Zeroizing;

use super::{
    BATCH_BYTES, Batch, DEPTH, Direction, FileEncryptor, FrameCipher, Header, IN_FLIGHT_BYTES,
    INLINE_BATCHES, StreamError, TAG_LEN, WrappedKey, opening,
};
use crate::crypto::context::EncryptionContext;

/// Worker threads that seal or open batches off the caller's thread, so that the caller's reads
/// and writes overlap the AEAD. Batches go round-robin to the workers and come back in order.
struct Workers {
    lanes: Vec<Lane>,
    sent: usize,
    received: usize,
}

struct Lane {
    jobs: SyncSender<Batch>,
    done: Receiver<Result<Batch, StreamError>>,
    thread: Option<JoinHandle<()>>,
}

impl Workers {
    /// One worker per core but the caller's (at least one), with no more than 32 MiB in flight
    /// (each batch in flight holds its input and its output). `None` when even one worker would
    /// hold more (frames of several MiB, which a stream's header may ask for) or no thread can be
    /// started: the caller then does the work itself.
    fn start(cipher: &Arc<FrameCipher>, direction: Direction, batch_bytes: usize) -> Option<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let by_memory = IN_FLIGHT_BYTES / (2 * DEPTH * (batch_bytes + batch_bytes / 16 + TAG_LEN));
        if by_memory == 0 {
            return None;
        }
        let count = cores.saturating_sub(1).clamp(1, 8).min(by_memory);
        let mut lanes = Vec::with_capacity(count);
        for _ in 0..count {
            let (jobs, job_rx) = std::sync::mpsc::sync_channel::<Batch>(DEPTH);
            let (done_tx, done) = std::sync::mpsc::sync_channel(DEPTH);
            let cipher = Arc::clone(cipher);
            let thread = std::thread::Builder::new()
                .name("vaultd-stream".into())
                .spawn(move || {
                    for mut batch in job_rx {
                        let result = cipher.run(direction, &mut batch).map(|()| batch);
                        if done_tx.send(result).is_err() {
                            break;
                        }
                    }
                })
                .ok()?;
            lanes.push(Lane {
                jobs,
                done,
                thread: Some(thread),
            });
        }
        Some(Self {
            lanes,
            sent: 0,
            received: 0,
        })
    }

    fn in_flight(&self) -> usize {
        self.sent - self.received
    }

    fn is_full(&self) -> bool {
        self.in_flight() >= self.lanes.len() * DEPTH
    }

    fn send(&mut self, batch: Batch) -> Result<(), StreamError> {
        let lane = &self.lanes[self.sent % self.lanes.len()];
        lane.jobs
            .send(batch)
            .map_err(|_| StreamError::Io("a stream worker thread stopped".into()))?;
        self.sent += 1;
        Ok(())
    }

    /// The oldest batch in flight, done.
    fn recv(&mut self) -> Result<Batch, StreamError> {
        let lane = &self.lanes[self.received % self.lanes.len()];
        let result = lane
            .done
            .recv()
            .map_err(|_| StreamError::Io("a stream worker thread stopped".into()))?;
        self.received += 1;
        result
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Closing the job channels ends the workers; a worker blocked on a full `done` channel
        // is freed by dropping that channel's receiver first.
        for lane in &mut self.lanes {
            let (closed, _) = std::sync::mpsc::sync_channel(0);
            drop(std::mem::replace(&mut lane.jobs, closed));
            let (_, closed) = std::sync::mpsc::sync_channel(0);
            drop(std::mem::replace(&mut lane.done, closed));
        }
        for lane in &mut self.lanes {
            if let Some(thread) = lane.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Sealing or opening batches: inline for the first few, then on workers when they start.
struct Engine {
    cipher: Arc<FrameCipher>,
    direction: Direction,
    batch_bytes: usize,
    batches: u64,
    workers: Option<Workers>,
    /// Buffers of finished batches, reused (allocating a fresh MiB per batch costs page faults).
    pool: Vec<Zeroizing<Vec<u8>>>,
}

impl Engine {
    fn new(cipher: FrameCipher, direction: Direction) -> Self {
        let frames_per_batch = (BATCH_BYTES / cipher.frame_len).max(1);
        Self {
            batch_bytes: frames_per_batch * cipher.frame_len,
            cipher: Arc::new(cipher),
            direction,
            batches: 0,
            workers: None,
            pool: Vec::new(),
        }
    }

    /// Bytes of a batch of sealed frames: the largest any buffer gets.
    fn batch_sealed(&self) -> usize {
        self.batch_bytes / self.cipher.frame_len * (self.cipher.frame_len + TAG_LEN)
    }

    /// A buffer that never has to grow for a batch (growing would free the old block, plaintext
    /// and all, without zeroizing it): a batch of sealed frames and the byte read past it.
    fn buffer(&mut self) -> Zeroizing<Vec<u8>> {
        let capacity = self.batch_sealed() + 1;
        match self.pool.pop() {
            Some(mut buffer) if buffer.capacity() >= capacity => {
                buffer.clear();
                buffer
            }
            // A buffer too small is dropped, and so zeroized.
            _ => Zeroizing::new(Vec::with_capacity(capacity)),
        }
    }

    fn recycle(&mut self, batch: Batch) {
        self.reuse(batch.input);
        self.reuse(batch.output);
    }

    /// Keeps a buffer for a later batch, if it is big enough to serve one (else it is dropped,
    /// and so zeroized).
    fn reuse(&mut self, buffer: Zeroizing<Vec<u8>>) {
        if self.pool.len() < 16 && buffer.capacity() > self.batch_sealed() {
            self.pool.push(buffer);
        }
    }

    /// A batch over `input` starting at frame `first_index`.
    fn batch(&mut self, input: Zeroizing<Vec<u8>>, first_index: u32, ends_stream: bool) -> Batch {
        Batch {
            input,
            output: self.buffer(),
            first_index,
            ends_stream,
        }
    }

    /// Whether the next batch should go to the workers (starting them if needed).
    fn use_workers(&mut self) -> bool {
        self.batches += 1;
        if self.workers.is_none() && self.batches > INLINE_BATCHES {
            self.workers = Workers::start(&self.cipher, self.direction, self.batch_bytes);
            // Without threads, everything stays inline.
            self.batches = if self.workers.is_none() {
                0
            } else {
                self.batches
            };
        }
        self.workers.is_some()
    }
}

/// Encrypts a stream: writes the header at once, then the frames as plaintext comes in (in
/// batches, sealed on worker threads once the stream is long enough);
/// [`Encryptor::finish`] seals the last frame. Memory stays bounded whatever the length.
pub struct Encryptor<W: Write> {
    inner: W,
    engine: Engine,
    /// Plaintext not yet sealed: at most one batch, never empty once anything was written (the
    /// last frame is sealed only by `finish`).
    pending: Zeroizing<Vec<u8>>,
    next_index: u32,
    /// The first failure: a stream that failed once (a batch lost to a write error) must never
    /// finish as if whole.
    failed: Option<StreamError>,
    limit: Option<PlaintextLimit>,
}

/// A plaintext length declared up front (see [`Encryptor::declare_plaintext_len`]).
#[derive(Clone, Copy)]
struct PlaintextLimit {
    declared: u64,
    written: u64,
}

impl<W: Write> Encryptor<W> {
    /// A new stream under `data_key` (the plaintext of one GenerateDataKey), with a random
    /// message id.
    pub fn new(
        inner: W,
        data_key: &[u8; 32],
        context: &EncryptionContext,
        wrapped_keys: Vec<WrappedKey>,
        frame_len: u32,
    ) -> Result<Self, StreamError> {
        let message = FileEncryptor::new(data_key, context, wrapped_keys, frame_len)?;
        Self::start(inner, message)
    }

    /// Writes the header of `message` and takes its frame cipher.
    pub(super) fn start(mut inner: W, message: FileEncryptor) -> Result<Self, StreamError> {
        inner.write_all(&message.header)?;
        let mut engine = Engine::new(message.cipher, Direction::Seal);
        Ok(Self {
            inner,
            pending: engine.buffer(),
            engine,
            next_index: 0,
            failed: None,
            limit: None,
        })
    }

    /// Declares how much plaintext the stream will hold: a write beyond it, or a finish short of
    /// it, fails (and the stream with it). A data key cache counts bytes per data key by the
    /// declared length, so the declaration must hold, as in the AWS Encryption SDK.
    pub fn declare_plaintext_len(&mut self, len: u64) {
        self.limit = Some(PlaintextLimit {
            declared: len,
            written: 0,
        });
    }

    /// Counts `n` more bytes of plaintext against a declared length.
    fn count(&mut self, n: usize) -> Result<(), StreamError> {
        if let Some(limit) = &mut self.limit {
            if n as u64 > limit.declared - limit.written {
                let err = StreamError::Invalid("more plaintext than declared");
                self.failed = Some(err.clone());
                return Err(err);
            }
            limit.written += n as u64;
        }
        Ok(())
    }

    /// Encrypts everything `input` holds, reading it straight into the frames' buffer (a copy
    /// fewer than [`std::io::copy`] into [`Write::write`]); returns the bytes read. Call
    /// [`Encryptor::finish`] after.
    pub fn write_from(&mut self, input: &mut impl Read) -> io::Result<u64> {
        let batch_bytes = self.engine.batch_bytes;
        let mut total = 0u64;
        loop {
            if let Some(err) = &self.failed {
                return Err(err.clone().into());
            }
            if self.pending.len() == batch_bytes {
                // A full batch is sealed (as not the last) only once more data shows up.
                let mut next = self.engine.buffer();
                next.resize(batch_bytes, 0);
                let n = read_some(input, &mut next)?;
                if n == 0 {
                    return Ok(total);
                }
                next.truncate(n);
                self.count(n)?;
                total += n as u64;
                let full = std::mem::replace(&mut self.pending, next);
                self.dispatch_batch(full, false)?;
                continue;
            }
            let len = self.pending.len();
            self.pending.resize(batch_bytes, 0);
            let read = read_some(input, &mut self.pending[len..]);
            let n = *read.as_ref().unwrap_or(&0);
            self.pending.truncate(len + n);
            if read? == 0 {
                return Ok(total);
            }
            self.count(n)?;
            total += n as u64;
        }
    }

    /// Seals the pending plaintext as a batch; `ends_stream` marks its final frame last.
    fn dispatch(&mut self, ends_stream: bool) -> Result<(), StreamError> {
        let fresh = self.engine.buffer();
        let input = std::mem::replace(&mut self.pending, fresh);
        self.dispatch_batch(input, ends_stream)
    }

    /// Seals `input` as the next batch. Any failure is remembered: a batch is lost with it, so
    /// the stream must never finish.
    fn dispatch_batch(
        &mut self,
        input: Zeroizing<Vec<u8>>,
        ends_stream: bool,
    ) -> Result<(), StreamError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.try_dispatch(input, ends_stream);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    fn try_dispatch(
        &mut self,
        input: Zeroizing<Vec<u8>>,
        ends_stream: bool,
    ) -> Result<(), StreamError> {
        let frames = self.engine.cipher.frames_in(input.len());
        let next_index = u32::try_from(frames)
            .ok()
            .and_then(|n| self.next_index.checked_add(n))
            .ok_or(StreamError::Invalid("the stream has too many frames"))?;
        let batch = self.engine.batch(input, self.next_index, ends_stream);
        self.next_index = next_index;
        if self.engine.use_workers() {
            let workers = self.engine.workers.as_mut().expect("started");
            if workers.is_full() {
                let done = workers.recv()?;
                self.write_out(done)?;
            }
            self.engine.workers.as_mut().expect("started").send(batch)
        } else {
            let mut batch = batch;
            self.engine.cipher.run(Direction::Seal, &mut batch)?;
            self.write_out(batch)
        }
    }

    fn write_out(&mut self, batch: Batch) -> Result<(), StreamError> {
        self.inner.write_all(&batch.output)?;
        self.engine.recycle(batch);
        Ok(())
    }

    /// Seals the last frame, writes everything out and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(limit) = self.limit
            && limit.written < limit.declared
        {
            return Err(StreamError::Invalid("less plaintext than declared").into());
        }
        self.dispatch(true)?;
        while let Some(workers) = self.engine.workers.as_mut()
            && workers.in_flight() > 0
        {
            let done = workers.recv();
            if let Err(err) = done.and_then(|done| self.write_out(done)) {
                self.failed = Some(err.clone());
                return Err(err.into());
            }
        }
        self.engine.workers = None;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        if let Some(err) = &self.failed {
            return Err(err.clone().into());
        }
        let total = data.len();
        self.count(total)?;
        while !data.is_empty() {
            let room = self.engine.batch_bytes - self.pending.len();
            if room == 0 {
                // A full batch followed by more data: none of its frames is the last.
                self.dispatch(false)?;
                continue;
            }
            let n = room.min(data.len());
            self.pending.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One read, retried on interruption.
fn read_some(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Decrypts a stream batch by batch (on worker threads once it is long enough). Plaintext comes
/// out as its frames verify; the stream as a whole is trustworthy only once [`Read::read`] has
/// returned 0 (end) without error: until then, a truncated or extended stream has not been ruled
/// out.
pub struct Decryptor<R: Read> {
    inner: R,
    /// The bytes of the header, where the frames start.
    header_len: u64,
    engine: Engine,
    /// Sealed bytes per batch.
    batch_sealed: usize,
    next_index: u32,
    /// One byte read ahead, to tell the last frame from the others.
    peeked: Option<u8>,
    /// The batch holding the last frame has been read.
    input_done: bool,
    /// Decrypted bytes not yet read out.
    plain: Zeroizing<Vec<u8>>,
    offset: usize,
    /// The last frame has verified and been handed out.
    done: bool,
    failed: Option<StreamError>,
}

impl<R: Read> Decryptor<R> {
    /// Opens a stream whose header was read with [`Header::read`], under the data key one of its
    /// wrapped keys decrypted to. A wrong key fails here, before any frame.
    pub fn new(
        inner: R,
        header: &Header,
        raw_header: &[u8],
        data_key: &[u8; 32],
    ) -> Result<Self, StreamError> {
        let frame_len = header.frame_len as usize;
        let engine = Engine::new(opening(header, raw_header, data_key)?, Direction::Open);
        Ok(Self {
            inner,
            header_len: raw_header.len() as u64,
            batch_sealed: engine.batch_bytes / frame_len * (frame_len + TAG_LEN),
            engine,
            next_index: 0,
            peeked: None,
            input_done: false,
            plain: Zeroizing::new(Vec::new()),
            offset: 0,
            done: false,
            failed: None,
        })
    }

    /// The frame cipher and header length of a decryptor nothing was read from, for
    /// [`Decryptor::decrypt_file`].
    pub(super) fn unread_parts(&self) -> Result<(&FrameCipher, u64), StreamError> {
        if self.next_index != 0 || self.failed.is_some() {
            return Err(StreamError::Invalid(
                "a decryptor already read from cannot decrypt a file",
            ));
        }
        Ok((&self.engine.cipher, self.header_len))
    }

    /// Reads up to `buf.len()` bytes, fewer only at the end of the input.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        if let Some(byte) = self.peeked.take()
            && !buf.is_empty()
        {
            buf[0] = byte;
            filled = 1;
        }
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }

    /// Reads the next batch of sealed frames. A full batch followed by more data does not hold
    /// the last frame; anything else does.
    fn read_batch(&mut self) -> Result<Batch, StreamError> {
        // One byte more than a batch, read in the same calls: whether it comes tells the last
        // frame from the others (and it starts the next batch).
        let mut input = self.engine.buffer();
        input.resize(self.batch_sealed + 1, 0);
        let mut n = self.fill(&mut input)?;
        let ends_stream = n <= self.batch_sealed;
        if !ends_stream {
            self.peeked = Some(input[self.batch_sealed]);
            n = self.batch_sealed;
        }
        input.truncate(n);
        if n == 0 {
            // No frame at all: even an empty stream has its (empty) last frame.
            return Err(StreamError::Tampered);
        }
        self.input_done = ends_stream;
        let frames = n.div_ceil(self.engine.cipher.frame_len + TAG_LEN);
        let first_index = self.next_index;
        self.next_index = u32::try_from(frames)
            .ok()
            .and_then(|f| self.next_index.checked_add(f))
            .ok_or(StreamError::Tampered)?;
        Ok(self.engine.batch(input, first_index, ends_stream))
    }

    /// The next batch of plaintext, verified.
    fn next_batch(&mut self) -> Result<Batch, StreamError> {
        if !self.engine.use_workers() {
            let mut batch = self.read_batch()?;
            self.engine.cipher.run(Direction::Open, &mut batch)?;
            return Ok(batch);
        }
        while !self.input_done && !self.engine.workers.as_ref().expect("started").is_full() {
            let batch = self.read_batch()?;
            self.engine.workers.as_mut().expect("started").send(batch)?;
        }
        self.engine.workers.as_mut().expect("started").recv()
    }
}

impl<R: Read> Decryptor<R> {
    /// Moves on to the next verified batch of plaintext.
    fn advance(&mut self) -> io::Result<()> {
        if let Some(err) = &self.failed {
            return Err(err.clone().into());
        }
        match self.next_batch() {
            Ok(mut batch) => {
                std::mem::swap(&mut self.plain, &mut batch.output);
                self.offset = 0;
                self.done = batch.ends_stream;
                self.engine.recycle(batch);
                Ok(())
            }
            Err(err) => {
                // Nothing more comes out of a stream that failed once.
                self.engine.workers = None;
                self.failed = Some(err.clone());
                Err(err.into())
            }
        }
    }

    /// Writes the rest of the plaintext to `output`, each batch as soon as it verifies (without
    /// a copy through a caller's buffer); returns the bytes written. As with `read`, the whole is
    /// trustworthy only if this returns `Ok`.
    pub fn write_to(&mut self, output: &mut impl Write) -> io::Result<u64> {
        let mut total = 0u64;
        loop {
            if self.offset < self.plain.len() {
                output.write_all(&self.plain[self.offset..])?;
                total += (self.plain.len() - self.offset) as u64;
                self.offset = self.plain.len();
            }
            if self.done {
                return Ok(total);
            }
            self.advance()?;
        }
    }
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.offset < self.plain.len() {
                let n = buf.len().min(self.plain.len() - self.offset);
                buf[..n].copy_from_slice(&self.plain[self.offset..self.offset + n]);
                self.offset += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            self.advance()?;
        }
    }
}
