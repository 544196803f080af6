//! Envelope-encrypted files and streams (crypto.md §3), in constant memory: a header naming the
//! wrapped data keys and committing to the data key, then frames of AES-256-GCM in the STREAM
//! construction (big-endian 32-bit counter and a last-frame flag in the nonce), so truncation,
//! reordering and appended data are all detected.
//!
//! ```text
//! "VLTE" || version 1 || suite 1 || message id (32) || frame length u32
//! || canonical encryption context || wrapped key count u16 (1..16)
//! || per key: u16 len || key ARN || u16 len || blob (§1) || commitment (32)
//! ```
//!
//! (K_data || K_commit) = HKDF-SHA512(data key, salt = message id, info = "vaultd/v1/stream" ||
//! suite); the commitment is K_commit, checked in constant time before any frame. Frame i is
//! AES-256-GCM(K_data, nonce = 7 zero bytes || u32 i || last flag, AAD = SHA-256(header)) of
//! frame-length bytes of plaintext; the last frame may be shorter or empty.
//!
//! This module is pure: the data key comes from the caller (one GenerateDataKey), and the
//! wrapped blobs are opaque here. Fixed vectors come from Python `cryptography`.

use std::io::{self, Read, Write};

use std::{
    fs::File,
    os::unix::fs::FileExt,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{Receiver, SyncSender},
    },
    thread::JoinHandle,
};

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{AeadInOut, KeyInit, Tag, inout::InOutBuf},
};
use hkdf::Hkdf;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::context::EncryptionContext;

pub const MAGIC: &[u8; 4] = b"VLTE";
pub const VERSION: u8 = 1;
pub const SUITE: u8 = 1;
pub const DEFAULT_FRAME_LEN: u32 = 65_536;
/// Frames are at least this long, so the tag overhead stays small, and at most 16 MiB, so memory
/// stays bounded.
pub const FRAME_LEN: std::ops::RangeInclusive<u32> = 16..=(16 << 20);
pub const MAX_WRAPPED_KEYS: usize = 16;
const TAG_LEN: usize = 16;

/// One wrapping of the data key: the KMS key that made it and its ciphertext blob (§1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    pub key_arn: String,
    pub blob: Vec<u8>,
}

/// A stream's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub message_id: [u8; 32],
    pub frame_len: u32,
    pub context: EncryptionContext,
    /// The canonical encoding of `context`, as it appears in the header.
    pub canonical_context: Vec<u8>,
    pub wrapped_keys: Vec<WrappedKey>,
    pub commitment: [u8; 32],
}

/// Why a stream does not decrypt. Deliberately coarse: what was tampered with is not said.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamError {
    #[error("not a vaultd encrypted stream")]
    NotAStream,
    #[error("unknown format version {0}")]
    UnknownVersion(u8),
    #[error("the data key does not open this stream (wrong key, or the header was altered)")]
    WrongKey,
    #[error("the stream was altered, reordered, truncated or extended")]
    Tampered,
    #[error("{0}")]
    Io(String),
    /// The input file could not be read at an offset (files at offsets only).
    #[error("cannot read the input: {0}")]
    Read(String),
    /// The output file could not be written at an offset (files at offsets only).
    #[error("cannot write the output: {0}")]
    Write(String),
    #[error("{0}")]
    Invalid(&'static str),
}

impl From<io::Error> for StreamError {
    fn from(err: io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::UnexpectedEof => StreamError::Tampered,
            _ => StreamError::Io(err.to_string()),
        }
    }
}

impl From<StreamError> for io::Error {
    fn from(err: StreamError) -> Self {
        match err {
            StreamError::Io(message) | StreamError::Read(message) | StreamError::Write(message) => {
                io::Error::other(message)
            }
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// K_data and the commitment of a data key for a message.
fn derive(data_key: &[u8], message_id: &[u8; 32]) -> (Zeroizing<[u8; 32]>, [u8; 32]) {
    let mut okm = Zeroizing::new([0u8; 64]);
    Hkdf::<Sha512>::new(Some(message_id), data_key)
        .expand_multi_info(&[b"vaultd/v1/stream", &[SUITE]], okm.as_mut())
        .expect("64 bytes is a valid HKDF-SHA512 output length");
    let mut k_data = Zeroizing::new([0u8; 32]);
    k_data.copy_from_slice(&okm[..32]);
    let mut commitment = [0u8; 32];
    commitment.copy_from_slice(&okm[32..]);
    (k_data, commitment)
}

fn nonce(index: u32, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[7..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

/// A random message id for a new stream.
fn new_message_id() -> Result<[u8; 32], StreamError> {
    super::random_array::<32>().map_err(|_| StreamError::Io("no randomness".into()))
}

/// The cipher of the frames of a stream whose header was read, if `data_key` is the one its
/// commitment commits to ([`StreamError::WrongKey`] otherwise).
fn opening(
    header: &Header,
    raw_header: &[u8],
    data_key: &[u8; 32],
) -> Result<FrameCipher, StreamError> {
    let (k_data, commitment) = derive(data_key, &header.message_id);
    if !bool::from(commitment.ct_eq(&header.commitment)) {
        return Err(StreamError::WrongKey);
    }
    Ok(FrameCipher {
        cipher: Aes256Gcm::new((&*k_data).into()),
        aad: Sha256::digest(raw_header).into(),
        frame_len: header.frame_len as usize,
    })
}

impl Header {
    fn encode(&self) -> Result<Vec<u8>, StreamError> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[VERSION, SUITE]);
        out.extend_from_slice(&self.message_id);
        out.extend_from_slice(&self.frame_len.to_be_bytes());
        out.extend_from_slice(&self.canonical_context);
        out.extend_from_slice(&(self.wrapped_keys.len() as u16).to_be_bytes());
        for key in &self.wrapped_keys {
            for part in [key.key_arn.as_bytes(), key.blob.as_slice()] {
                let len = u16::try_from(part.len())
                    .map_err(|_| StreamError::Invalid("a wrapped key is too long"))?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(part);
            }
        }
        out.extend_from_slice(&self.commitment);
        Ok(out)
    }

    /// Reads a header from the start of a stream; returns it with its exact bytes (the frames'
    /// AAD is their hash).
    pub fn read(input: &mut impl Read) -> Result<(Header, Vec<u8>), StreamError> {
        let mut raw = Vec::with_capacity(256);
        let mut take = |n: usize, raw: &mut Vec<u8>| -> Result<Vec<u8>, StreamError> {
            let mut buf = vec![0u8; n];
            input.read_exact(&mut buf).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => StreamError::NotAStream,
                _ => StreamError::Io(e.to_string()),
            })?;
            raw.extend_from_slice(&buf);
            Ok(buf)
        };
        let u16_at = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]) as usize;
        if take(4, &mut raw)? != MAGIC {
            return Err(StreamError::NotAStream);
        }
        let version = take(2, &mut raw)?;
        if version[0] != VERSION {
            return Err(StreamError::UnknownVersion(version[0]));
        }
        if version[1] != SUITE {
            return Err(StreamError::Invalid("unknown algorithm suite"));
        }
        let message_id: [u8; 32] = take(32, &mut raw)?.try_into().expect("32 bytes");
        let frame_len = u32::from_be_bytes(take(4, &mut raw)?.try_into().expect("4 bytes"));
        if !FRAME_LEN.contains(&frame_len) {
            return Err(StreamError::Invalid("the frame length is out of range"));
        }
        let start = raw.len();
        let pairs = u16_at(&take(2, &mut raw)?);
        let mut context = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            let mut pair = Vec::with_capacity(2);
            for _ in 0..2 {
                // No context longer than an encryption context may be is read in full.
                if raw.len() - start > EncryptionContext::MAX_ENCODED_LEN {
                    return Err(StreamError::Invalid("the encryption context is too large"));
                }
                let len = u16_at(&take(2, &mut raw)?);
                let text = String::from_utf8(take(len, &mut raw)?)
                    .map_err(|_| StreamError::Invalid("the encryption context is not UTF-8"))?;
                pair.push(text);
            }
            let value = pair.pop().expect("two parts");
            context.push((pair.pop().expect("two parts"), value));
        }
        let canonical_context = raw[start..].to_vec();
        let context: EncryptionContext = context.into_iter().collect();
        if context
            .canonical()
            .map_err(|_| StreamError::Invalid("the encryption context is too large"))?
            != canonical_context
        {
            // Not in canonical order (or repeated keys): not a header vaultd wrote.
            return Err(StreamError::Invalid(
                "the encryption context is not canonical",
            ));
        }
        let count = u16_at(&take(2, &mut raw)?);
        if !(1..=MAX_WRAPPED_KEYS).contains(&count) {
            return Err(StreamError::Invalid(
                "the wrapped key count is out of range",
            ));
        }
        let mut wrapped_keys = Vec::with_capacity(count);
        for _ in 0..count {
            let len = u16_at(&take(2, &mut raw)?);
            let key_arn = String::from_utf8(take(len, &mut raw)?)
                .map_err(|_| StreamError::Invalid("a key ARN is not UTF-8"))?;
            let len = u16_at(&take(2, &mut raw)?);
            wrapped_keys.push(WrappedKey {
                key_arn,
                blob: take(len, &mut raw)?,
            });
        }
        let commitment: [u8; 32] = take(32, &mut raw)?.try_into().expect("32 bytes");
        Ok((
            Header {
                message_id,
                frame_len,
                context,
                canonical_context,
                wrapped_keys,
                commitment,
            },
            raw,
        ))
    }
}

/// Plaintext bytes per batch of frames (whole frames, at least one): the unit handed to a worker
/// thread.
const BATCH_BYTES: usize = 1 << 20;
/// Batches sealed or opened on the caller's thread before workers start: short streams (most
/// messages) are not worth a thread.
const INLINE_BATCHES: u64 = 2;
/// Batches in flight per worker: enough to keep it busy while the caller does I/O.
const DEPTH: usize = 2;
/// The most batch memory (inputs and outputs) the workers hold at once.
const IN_FLIGHT_BYTES: usize = 32 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Seal,
    Open,
}

/// A run of consecutive frames: plaintext in and sealed frames out (sealing), or the reverse.
/// Both buffers hold plaintext at some point: zeroized on drop.
#[derive(Default)]
struct Batch {
    input: Zeroizing<Vec<u8>>,
    output: Zeroizing<Vec<u8>>,
    first_index: u32,
    /// Whether the batch's final frame is the stream's last.
    ends_stream: bool,
}

/// The frame key and AAD of one stream; shared by the caller and its workers.
struct FrameCipher {
    cipher: Aes256Gcm,
    aad: [u8; 32],
    frame_len: usize,
}

impl FrameCipher {
    /// Seals or opens every frame of `batch` into its output. Opening fails (as a whole) if any
    /// frame does not authenticate.
    fn run(&self, direction: Direction, batch: &mut Batch) -> Result<(), StreamError> {
        let len = self.output_len(direction, batch.input.len())?;
        let output = &mut batch.output;
        output.clear();
        output.resize(len, 0);
        self.run_into(
            direction,
            &batch.input,
            output,
            batch.first_index,
            batch.ends_stream,
        )
    }

    /// The bytes `input` seals or opens to (`Tampered` for a sealed input whose final frame
    /// cannot even hold a tag).
    fn output_len(&self, direction: Direction, input: usize) -> Result<usize, StreamError> {
        match direction {
            Direction::Seal => Ok(input + self.frames_in(input) * TAG_LEN),
            Direction::Open => {
                // Every frame, the final one too, holds at least its tag.
                let sealed = self.frame_len + TAG_LEN;
                let frames = input.div_ceil(sealed);
                match frames.checked_sub(1).map(|full| input - full * sealed) {
                    Some(last) if last >= TAG_LEN => Ok(input - frames * TAG_LEN),
                    _ => Err(StreamError::Tampered),
                }
            }
        }
    }

    /// Seals or opens the frames of `input` (the first one frame `first_index`) into `output`,
    /// exactly [`FrameCipher::output_len`] long.
    fn run_into(
        &self,
        direction: Direction,
        input: &[u8],
        output: &mut [u8],
        first_index: u32,
        ends_stream: bool,
    ) -> Result<(), StreamError> {
        let in_len = match direction {
            Direction::Seal => self.frame_len,
            Direction::Open => self.frame_len + TAG_LEN,
        };
        let mut frames: Vec<&[u8]> = input.chunks(in_len).collect();
        if frames.is_empty() {
            frames.push(&[]);
        }
        let count = frames.len();
        let mut at = 0;
        for (i, frame) in frames.into_iter().enumerate() {
            let index = u32::try_from(i)
                .ok()
                .and_then(|i| first_index.checked_add(i))
                .ok_or(StreamError::Invalid("the stream has too many frames"))?;
            let nonce = Nonce::from(nonce(index, ends_stream && i + 1 == count));
            match direction {
                Direction::Seal => {
                    let (sealed, rest) = output[at..].split_at_mut(frame.len());
                    let tag = self
                        .cipher
                        .encrypt_inout_detached(
                            &nonce,
                            &self.aad,
                            InOutBuf::new(frame, sealed).expect("equal lengths"),
                        )
                        .map_err(|_| StreamError::Invalid("a frame could not be encrypted"))?;
                    rest[..TAG_LEN].copy_from_slice(&tag);
                    at += frame.len() + TAG_LEN;
                }
                Direction::Open => {
                    let Some(split) = frame.len().checked_sub(TAG_LEN) else {
                        return Err(StreamError::Tampered);
                    };
                    let (sealed, tag) = frame.split_at(split);
                    self.cipher
                        .decrypt_inout_detached(
                            &nonce,
                            &self.aad,
                            InOutBuf::new(sealed, &mut output[at..at + split])
                                .expect("equal lengths"),
                            &Tag::<Aes256Gcm>::try_from(tag).expect("16 bytes"),
                        )
                        .map_err(|_| StreamError::Tampered)?;
                    at += split;
                }
            }
        }
        Ok(())
    }

    /// Frames in a batch of `bytes` plaintext (sealing) or sealed bytes (opening).
    fn frames_in(&self, bytes: usize) -> usize {
        bytes.div_ceil(self.frame_len).max(1)
    }
}

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
    fn start(mut inner: W, message: FileEncryptor) -> Result<Self, StreamError> {
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

impl<R: Read> Decryptor<R> {
    /// Decrypts the frames of `input`, the regular file whose start is the header this decryptor
    /// was made from, into `output` from its start; returns the bytes of plaintext. Batches of
    /// frames are read, opened and written at their offsets by every core at once (see
    /// [`FileEncryptor`]); `progress` is called now and then with the bytes of `input` done.
    /// Nothing may have been read from the decryptor. As with [`Decryptor::write_to`], the
    /// output is trustworthy only if this returns `Ok`; it is written out of order, so a failure
    /// can leave verified plaintext anywhere in it: write to a temporary file.
    pub fn decrypt_file(
        self,
        input: &File,
        output: &File,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, StreamError> {
        if self.next_index != 0 || self.failed.is_some() {
            return Err(StreamError::Invalid(
                "a decryptor already read from cannot decrypt a file",
            ));
        }
        let len = file_len(input)?;
        let run = FileRun {
            cipher: &self.engine.cipher,
            direction: Direction::Open,
            input,
            input_start: self.header_len,
            // A file shorter than its header is not the one the header was read from.
            input_len: len
                .checked_sub(self.header_len)
                .ok_or(StreamError::Tampered)?,
            output,
            output_start: 0,
        };
        let written = run.run(progress)?;
        unchanged(input, len)?;
        set_len(output, written)?;
        Ok(written)
    }
}

/// Encrypts a regular file into another, both from their start: the header, then the frames,
/// exactly what an [`Encryptor`] writes. Batches of frames are read, sealed and written at their
/// offsets by every core at once, each thread doing all three for its batch, so that the reads,
/// the AEAD and the writes of different batches overlap with nothing handed between threads;
/// memory stays at two batch buffers per thread. (It is also how an [`Encryptor`] starts: a new
/// message's header and frame key.)
pub struct FileEncryptor {
    header: Vec<u8>,
    cipher: FrameCipher,
    declared: Option<u64>,
}

impl FileEncryptor {
    /// A new stream under `data_key` (the plaintext of one GenerateDataKey), with a random
    /// message id.
    pub fn new(
        data_key: &[u8; 32],
        context: &EncryptionContext,
        wrapped_keys: Vec<WrappedKey>,
        frame_len: u32,
    ) -> Result<Self, StreamError> {
        Self::with_message_id(
            data_key,
            context,
            wrapped_keys,
            frame_len,
            new_message_id()?,
        )
    }

    fn with_message_id(
        data_key: &[u8; 32],
        context: &EncryptionContext,
        wrapped_keys: Vec<WrappedKey>,
        frame_len: u32,
        message_id: [u8; 32],
    ) -> Result<Self, StreamError> {
        if !FRAME_LEN.contains(&frame_len) {
            return Err(StreamError::Invalid("the frame length is out of range"));
        }
        if !(1..=MAX_WRAPPED_KEYS).contains(&wrapped_keys.len()) {
            return Err(StreamError::Invalid("a stream needs 1 to 16 wrapped keys"));
        }
        let (k_data, commitment) = derive(data_key, &message_id);
        let header = Header {
            message_id,
            frame_len,
            canonical_context: context
                .canonical()
                .map_err(|_| StreamError::Invalid("the encryption context is too large"))?,
            context: context.clone(),
            wrapped_keys,
            commitment,
        }
        .encode()?;
        let cipher = FrameCipher {
            cipher: Aes256Gcm::new((&*k_data).into()),
            aad: Sha256::digest(&header).into(),
            frame_len: frame_len as usize,
        };
        Ok(Self {
            header,
            cipher,
            declared: None,
        })
    }

    /// Declares the length the file must have (as [`Encryptor::declare_plaintext_len`]).
    pub fn declare_plaintext_len(&mut self, len: u64) {
        self.declared = Some(len);
    }

    /// Encrypts `input` into `output`; returns the bytes of plaintext. `progress` is called now
    /// and then with the bytes of `input` done. A failure leaves `output` incomplete.
    pub fn encrypt_file(
        self,
        input: &File,
        output: &File,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, StreamError> {
        let len = file_len(input)?;
        if let Some(declared) = self.declared
            && declared != len
        {
            // Declared from the file's size a moment before, most likely.
            return Err(StreamError::Read(format!(
                "it is {len} bytes long, not the {declared} declared"
            )));
        }
        output
            .write_all_at(&self.header, 0)
            .map_err(|e| StreamError::Write(e.to_string()))?;
        let run = FileRun {
            cipher: &self.cipher,
            direction: Direction::Seal,
            input,
            input_start: 0,
            input_len: len,
            output,
            output_start: self.header.len() as u64,
        };
        let written = run.run(progress)?;
        unchanged(input, len)?;
        set_len(output, self.header.len() as u64 + written)?;
        Ok(len)
    }
}

/// Why a file was not read whole: its size changed during the run, or it never held what its
/// size said (special files such as those of /proc say 0).
const NOT_ITS_SIZE: &str = "it changed size while it was read, or its size is not its length";

fn file_len(input: &File) -> Result<u64, StreamError> {
    Ok(input
        .metadata()
        .map_err(|e| StreamError::Read(e.to_string()))?
        .len())
}

/// Fails unless `input` is still `len` bytes long and ends there: what was read is then all of
/// it (not a file being appended to, nor one whose size is not its length).
fn unchanged(input: &File, len: u64) -> Result<(), StreamError> {
    let more = loop {
        match input.read_at(&mut [0u8; 1], len) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => break other.map_err(|e| StreamError::Read(e.to_string()))?,
        }
    };
    if more != 0 || file_len(input)? != len {
        return Err(StreamError::Read(NOT_ITS_SIZE.into()));
    }
    Ok(())
}

/// Cuts `output` at `len`: a file that held more before ends where the message does.
fn set_len(output: &File, len: u64) -> Result<(), StreamError> {
    output
        .set_len(len)
        .map_err(|e| StreamError::Write(e.to_string()))
}

/// One file sealed or opened at offsets: its batches are claimed in turn by up to one thread per
/// core, the caller's among them.
struct FileRun<'a> {
    cipher: &'a FrameCipher,
    direction: Direction,
    input: &'a File,
    /// Where the input's frames (or plaintext) start, and how many bytes follow.
    input_start: u64,
    input_len: u64,
    output: &'a File,
    output_start: u64,
}

/// Stops the other threads of a run when this one panics (the panic then reaches the caller when
/// the scope ends).
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// What the threads of a [`FileRun`] share.
#[derive(Default)]
struct FileProgress {
    next_batch: AtomicU64,
    input_done: AtomicU64,
    written: AtomicU64,
    stop: AtomicBool,
    failure: Mutex<Option<StreamError>>,
}

impl FileRun<'_> {
    /// Bytes of input and of output of a full batch, and its frames.
    fn batch_sizes(&self) -> (usize, usize, usize) {
        let frame_len = self.cipher.frame_len;
        let frames = (BATCH_BYTES / frame_len).max(1);
        let (plain, sealed) = (frames * frame_len, frames * (frame_len + TAG_LEN));
        match self.direction {
            Direction::Seal => (plain, sealed, frames),
            Direction::Open => (sealed, plain, frames),
        }
    }

    /// Runs every batch; returns the bytes written.
    fn run(&self, progress: &mut dyn FnMut(u64)) -> Result<u64, StreamError> {
        let (batch_in, batch_out, _) = self.batch_sizes();
        // As many frames as a stream may have (their count is a u32, as the streaming path
        // counts it), and at least one: even an empty stream has its (empty) last frame.
        let frames = match self.direction {
            Direction::Seal => self.input_len.div_ceil(self.cipher.frame_len as u64).max(1),
            Direction::Open => self
                .input_len
                .div_ceil((self.cipher.frame_len + TAG_LEN) as u64),
        };
        if frames == 0 || frames > u64::from(u32::MAX) {
            return Err(match self.direction {
                Direction::Seal => StreamError::Invalid("the stream has too many frames"),
                Direction::Open => StreamError::Tampered,
            });
        }
        let batches = self.input_len.div_ceil(batch_in as u64).max(1);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let by_memory = (IN_FLIGHT_BYTES / (batch_in + batch_out)).max(1);
        let threads = cores
            .clamp(1, 8)
            .min(by_memory)
            .min(usize::try_from(batches).unwrap_or(usize::MAX));
        let shared = FileProgress::default();
        std::thread::scope(|scope| {
            for _ in 1..threads {
                // A thread that cannot start leaves its share to the others.
                let _ = std::thread::Builder::new()
                    .name("vaultd-stream".into())
                    .spawn_scoped(scope, || self.work(batches, &shared, &mut |_| {}));
            }
            self.work(batches, &shared, progress);
        });
        // The other threads may have done the last batches.
        progress(shared.input_done.load(Ordering::Relaxed));
        let failure = shared
            .failure
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match failure {
            Some(err) => Err(err),
            None => Ok(shared.written.into_inner()),
        }
    }

    /// Claims and runs batches until none is left or one failed.
    fn work(&self, batches: u64, shared: &FileProgress, progress: &mut dyn FnMut(u64)) {
        let (batch_in, _, _) = self.batch_sizes();
        // Buffers as large as this file's batches get, allocated once (never grown, which would
        // leave a copy of plaintext behind) and zeroized on drop.
        let in_cap = usize::try_from(self.input_len).map_or(batch_in, |len| len.min(batch_in));
        let out_cap = match self.direction {
            Direction::Seal => in_cap + self.cipher.frames_in(in_cap) * TAG_LEN,
            Direction::Open => in_cap,
        };
        let mut input = Zeroizing::new(vec![0u8; in_cap]);
        let mut output = Zeroizing::new(vec![0u8; out_cap]);
        let _stop_on_panic = StopOnPanic(&shared.stop);
        while !shared.stop.load(Ordering::Relaxed) {
            let index = shared.next_batch.fetch_add(1, Ordering::Relaxed);
            if index >= batches {
                break;
            }
            match self.batch(index, index + 1 == batches, &mut input, &mut output) {
                Ok((read, written)) => {
                    shared.written.fetch_add(written as u64, Ordering::Relaxed);
                    let done = shared.input_done.fetch_add(read as u64, Ordering::Relaxed);
                    progress(done + read as u64);
                }
                Err(err) => {
                    shared.stop.store(true, Ordering::Relaxed);
                    let mut failure = shared
                        .failure
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    failure.get_or_insert(err);
                    break;
                }
            }
        }
    }

    /// Reads, runs and writes batch `index`; returns the bytes read and written.
    fn batch(
        &self,
        index: u64,
        last: bool,
        input: &mut [u8],
        output: &mut [u8],
    ) -> Result<(usize, usize), StreamError> {
        let (batch_in, batch_out, frames) = self.batch_sizes();
        let offset = index * batch_in as u64;
        let len = (self.input_len - offset).min(batch_in as u64) as usize;
        let input = &mut input[..len];
        self.input
            .read_exact_at(input, self.input_start + offset)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => StreamError::Read(NOT_ITS_SIZE.into()),
                _ => StreamError::Read(e.to_string()),
            })?;
        let out_len = self.cipher.output_len(self.direction, len)?;
        let first_index =
            u32::try_from(index * frames as u64).map_err(|_| match self.direction {
                Direction::Seal => StreamError::Invalid("the stream has too many frames"),
                Direction::Open => StreamError::Tampered,
            })?;
        let output = &mut output[..out_len];
        self.cipher
            .run_into(self.direction, input, output, first_index, last)?;
        self.output
            .write_all_at(output, self.output_start + index * batch_out as u64)
            .map_err(|e| StreamError::Write(e.to_string()))?;
        Ok((len, out_len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    const PLAINTEXT: &[u8] = b"The quick brown fox jumps over the lazy dog.";

    fn key() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    fn encrypt(plaintext: &[u8], frame_len: u32, message_id: [u8; 32]) -> Vec<u8> {
        let context: EncryptionContext = [("tenant", "42")].into_iter().collect();
        let wrapped = vec![WrappedKey {
            key_arn: ARN.into(),
            blob: vec![0xb0; 10],
        }];
        let message =
            FileEncryptor::with_message_id(&key(), &context, wrapped, frame_len, message_id)
                .unwrap();
        let mut encryptor = Encryptor::start(Vec::new(), message).unwrap();
        // Odd-sized writes: framing must not depend on how the input arrives.
        for chunk in plaintext.chunks(7) {
            encryptor.write_all(chunk).unwrap();
        }
        encryptor.finish().unwrap()
    }

    fn decrypt(stream: &[u8], data_key: &[u8; 32]) -> Result<Vec<u8>, StreamError> {
        let mut input = stream;
        let (header, raw) = Header::read(&mut input)?;
        let mut decryptor = Decryptor::new(input, &header, &raw, data_key)?;
        let mut out = Vec::new();
        decryptor.read_to_end(&mut out).map_err(|e| {
            match e
                .into_inner()
                .and_then(|e| e.downcast::<StreamError>().ok())
            {
                Some(e) => *e,
                None => StreamError::Tampered,
            }
        })?;
        Ok(out)
    }

    fn message_id() -> [u8; 32] {
        std::array::from_fn(|i| 0x40 + i as u8)
    }

    /// From Python `cryptography` (HKDF-SHA512, AESGCM), written independently from crypto.md §3.
    const VECTOR: &str = "564c54450101404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f000000100001000674656e616e74000234320001004b61726e3a6177733a6b6d733a75732d656173742d313a3030303030303030303030303a6b65792f30663165326433632d346235612d363937382d383739362d613562346333643265316630000ab0b0b0b0b0b0b0b0b0b00dc955d92f2c1e7e2167f9992e62ee28653e403375b3aba355559a5dd1fd49bad304a8c2530366854404e4e7462a115f293317635117c93cdfb3174c56ed179f0dd1792b7e4703cfa9ce9a7fb8bd05a6e3d676e09196038bbff91b328b4b260ed642f507e640ccc8d26920fb924a25cee67ac2a6587726522543e4e3";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn matches_the_fixed_vector_and_decrypts() {
        let stream = encrypt(PLAINTEXT, 16, message_id());
        assert_eq!(hex(&stream), VECTOR);
        assert_eq!(decrypt(&stream, &key()).unwrap(), PLAINTEXT);
        let (header, _) = Header::read(&mut stream.as_slice()).unwrap();
        assert_eq!(header.wrapped_keys[0].key_arn, ARN);
        assert_eq!(header.frame_len, 16);
    }

    #[test]
    fn every_length_round_trips_including_empty_and_exact_multiples() {
        for len in [0, 1, 15, 16, 17, 32, 33, 100] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let stream = encrypt(&plaintext, 16, message_id());
            assert_eq!(decrypt(&stream, &key()).unwrap(), plaintext, "{len}");
        }
    }

    #[test]
    fn truncation_reordering_extension_and_tampering_are_detected() {
        let stream = encrypt(PLAINTEXT, 16, message_id());
        let header_len = stream.len() - (16 + 16) * 2 - (12 + 16);
        let frame = |i: usize| header_len + i * 32;
        // Dropping the last frame: the one before is not marked last.
        assert_eq!(
            decrypt(&stream[..frame(2)], &key()),
            Err(StreamError::Tampered)
        );
        // Cutting into a frame.
        assert_eq!(
            decrypt(&stream[..stream.len() - 1], &key()),
            Err(StreamError::Tampered)
        );
        // Swapping the first two frames.
        let mut swapped = stream.clone();
        swapped[frame(0)..frame(2)]
            .copy_from_slice(&[&stream[frame(1)..frame(2)], &stream[frame(0)..frame(1)]].concat());
        assert_eq!(decrypt(&swapped, &key()), Err(StreamError::Tampered));
        // Appending data.
        let mut longer = stream.clone();
        longer.extend_from_slice(&[0; 20]);
        assert_eq!(decrypt(&longer, &key()), Err(StreamError::Tampered));
        // A flipped bit in a frame, or in the header (the AAD covers it).
        let mut flipped = stream.clone();
        flipped[frame(1) + 3] ^= 1;
        assert_eq!(decrypt(&flipped, &key()), Err(StreamError::Tampered));
        let mut header = stream.clone();
        let at = header_len - 40; // inside the wrapped blob
        header[at] ^= 1;
        assert_eq!(decrypt(&header, &key()), Err(StreamError::Tampered));
        // Another data key fails on the commitment, before any frame.
        let mut other = key();
        other[0] ^= 1;
        assert_eq!(decrypt(&stream, &other), Err(StreamError::WrongKey));
    }

    #[test]
    fn headers_that_vaultd_did_not_write_are_refused() {
        let stream = encrypt(PLAINTEXT, 16, message_id());
        assert_eq!(
            Header::read(&mut &b"nope"[..]).unwrap_err(),
            StreamError::NotAStream
        );
        let mut version = stream.clone();
        version[4] = 2;
        assert_eq!(
            Header::read(&mut version.as_slice()).unwrap_err(),
            StreamError::UnknownVersion(2)
        );
        assert_eq!(
            Header::read(&mut &stream[..30]).unwrap_err(),
            StreamError::NotAStream
        );
        let mut frame_len = stream.clone();
        frame_len[41] = 1; // 16 → a length below the minimum after the change
        frame_len[38..42].copy_from_slice(&1u32.to_be_bytes());
        assert!(matches!(
            Header::read(&mut frame_len.as_slice()),
            Err(StreamError::Invalid(_))
        ));
    }

    #[test]
    fn long_streams_go_through_the_workers_and_still_detect_tampering() {
        // Several batches beyond the inline ones, with an odd tail; frames of 4 KiB.
        let plaintext: Vec<u8> = (0..(5 << 20) + 12_345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let stream = encrypt(&plaintext, 4096, message_id());
        assert_eq!(decrypt(&stream, &key()).unwrap(), plaintext);
        let header_len = Header::read(&mut stream.as_slice()).unwrap().1.len();
        let sealed = 4096 + 16;
        // A flipped bit in a frame that a worker opens.
        let mut flipped = stream.clone();
        flipped[header_len + 1000 * sealed + 5] ^= 0x80;
        assert_eq!(decrypt(&flipped, &key()), Err(StreamError::Tampered));
        // Truncated exactly at a frame boundary inside the worker range, and at a batch boundary.
        for frames in [1000, 4 * 256] {
            let cut = &stream[..header_len + frames * sealed];
            assert_eq!(decrypt(cut, &key()), Err(StreamError::Tampered), "{frames}");
        }
        // An extra full frame's worth appended.
        let mut longer = stream.clone();
        longer.extend_from_slice(&stream[header_len..header_len + sealed]);
        assert_eq!(decrypt(&longer, &key()), Err(StreamError::Tampered));
    }

    #[test]
    fn a_failed_stream_stays_failed() {
        let plaintext = vec![1u8; 100];
        let stream = encrypt(&plaintext, 16, message_id());
        let mut input = &stream[..stream.len() - 1];
        let (header, raw) = Header::read(&mut input).unwrap();
        let mut decryptor = Decryptor::new(input, &header, &raw, &key()).unwrap();
        let mut out = Vec::new();
        assert!(decryptor.read_to_end(&mut out).is_err());
        assert!(decryptor.read(&mut [0u8; 16]).is_err());
    }

    /// A writer that fails once `budget` bytes have gone through.
    struct Failing {
        budget: usize,
    }

    impl Write for Failing {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            if data.len() > self.budget {
                return Err(io::Error::other("disk full"));
            }
            self.budget -= data.len();
            Ok(data.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn encryptor<W: Write>(inner: W) -> Encryptor<W> {
        let wrapped = vec![WrappedKey {
            key_arn: ARN.into(),
            blob: vec![0xb0; 10],
        }];
        Encryptor::new(inner, &key(), &EncryptionContext::new(), wrapped, 4096).unwrap()
    }

    #[test]
    fn an_encryptor_that_lost_a_batch_never_finishes() {
        // The header and the first inline batch fit; the second batch's write fails.
        let mut encryptor = encryptor(Failing {
            budget: (1 << 20) + 100_000,
        });
        let chunk = vec![5u8; 1 << 20];
        let mut failed = false;
        for _ in 0..4 {
            failed |= encryptor.write_all(&chunk).is_err();
        }
        assert!(failed, "the write error is reported");
        assert!(encryptor.write_all(b"more").is_err(), "and stays");
        assert!(
            encryptor.finish().is_err(),
            "finish never seals a stream with a gap"
        );
    }

    #[test]
    fn a_declared_plaintext_length_must_hold() {
        let mut exact = encryptor(Vec::new());
        exact.declare_plaintext_len(10);
        exact.write_all(&[1; 10]).unwrap();
        assert!(exact.finish().is_ok());

        let mut longer = encryptor(Vec::new());
        longer.declare_plaintext_len(10);
        longer.write_all(&[1; 6]).unwrap();
        assert!(longer.write_all(&[1; 6]).is_err());
        assert!(longer.finish().is_err());

        let mut shorter = encryptor(Vec::new());
        shorter.declare_plaintext_len(10);
        shorter.write_all(&[1; 6]).unwrap();
        assert!(shorter.finish().is_err());
    }

    #[test]
    fn a_header_with_a_huge_context_is_refused_without_reading_it_all() {
        let mut header = Vec::new();
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&[VERSION, SUITE]);
        header.extend_from_slice(&[0u8; 32]);
        header.extend_from_slice(&4096u32.to_be_bytes());
        header.extend_from_slice(&u16::MAX.to_be_bytes());
        // Pairs of 64 KiB strings, as many as the count says: gigabytes if read in full.
        let pair = [&u16::MAX.to_be_bytes()[..], &[b'k'; 65_535][..]].concat();
        for _ in 0..4 {
            header.extend_from_slice(&pair);
        }
        assert_eq!(
            Header::read(&mut header.as_slice()).unwrap_err(),
            StreamError::Invalid("the encryption context is too large")
        );
    }

    #[test]
    fn write_from_and_write_to_make_and_read_the_same_bytes() {
        for len in [
            0,
            1,
            4096,
            1 << 20,
            (1 << 20) + 1,
            (2 << 20) + 5,
            (5 << 20) + 3,
        ] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let expected = encrypt_with(&plaintext, 4096, |encryptor, data| {
                encryptor.write_all(data).unwrap();
            });
            // Reads of odd sizes, as a pipe gives them.
            let sealed = encrypt_with(&plaintext, 4096, |encryptor, data| {
                let mut reader = Chunked { data, at: 0 };
                assert_eq!(
                    encryptor.write_from(&mut reader).unwrap(),
                    data.len() as u64
                );
            });
            assert!(sealed == expected, "{len}");
            let mut input = sealed.as_slice();
            let (header, raw) = Header::read(&mut input).unwrap();
            let mut decryptor = Decryptor::new(input, &header, &raw, &key()).unwrap();
            let mut out = Vec::new();
            assert_eq!(decryptor.write_to(&mut out).unwrap(), len as u64);
            assert!(out == plaintext, "{len}");
        }
    }

    /// A reader that hands out at most 100,000 bytes per read.
    struct Chunked<'a> {
        data: &'a [u8],
        at: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(100_000).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn encrypt_with(
        plaintext: &[u8],
        frame_len: u32,
        feed: impl FnOnce(&mut Encryptor<Vec<u8>>, &[u8]),
    ) -> Vec<u8> {
        let wrapped = vec![WrappedKey {
            key_arn: ARN.into(),
            blob: vec![1],
        }];
        let message = FileEncryptor::with_message_id(
            &key(),
            &EncryptionContext::new(),
            wrapped,
            frame_len,
            message_id(),
        )
        .unwrap();
        let mut encryptor = Encryptor::start(Vec::new(), message).unwrap();
        feed(&mut encryptor, plaintext);
        encryptor.finish().unwrap()
    }

    /// A file holding `bytes`, read back from the start.
    fn file_with(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> File {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        File::open(path).unwrap()
    }

    /// Encrypts `plaintext` file to file with [`FileEncryptor`] (the fixed message id).
    fn encrypt_file(plaintext: &[u8], frame_len: u32) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let input = file_with(&dir, "plain", plaintext);
        let context: EncryptionContext = [("tenant", "42")].into_iter().collect();
        let wrapped = vec![WrappedKey {
            key_arn: ARN.into(),
            blob: vec![0xb0; 10],
        }];
        let out_path = dir.path().join("sealed");
        let encryptor =
            FileEncryptor::with_message_id(&key(), &context, wrapped, frame_len, message_id())
                .unwrap();
        let mut seen = 0;
        let len = encryptor
            .encrypt_file(&input, &File::create(&out_path).unwrap(), &mut |done| {
                assert!(done >= seen, "progress never goes back");
                seen = done;
            })
            .unwrap();
        assert_eq!(len, plaintext.len() as u64);
        assert_eq!(seen, len, "progress ends at the input's length");
        std::fs::read(out_path).unwrap()
    }

    /// Decrypts `stream` file to file with [`Decryptor::decrypt_file`].
    fn decrypt_file(stream: &[u8], data_key: &[u8; 32]) -> Result<Vec<u8>, StreamError> {
        let dir = tempfile::tempdir().unwrap();
        let input = file_with(&dir, "sealed", stream);
        let (header, raw) = Header::read(&mut &input)?;
        let decryptor = Decryptor::new(io::empty(), &header, &raw, data_key)?;
        let out_path = dir.path().join("plain");
        let written =
            decryptor.decrypt_file(&input, &File::create(&out_path).unwrap(), &mut |_| {})?;
        let plaintext = std::fs::read(out_path).unwrap();
        assert_eq!(written, plaintext.len() as u64);
        Ok(plaintext)
    }

    #[test]
    fn files_at_offsets_are_the_streams_byte_for_byte() {
        // Across frame and batch boundaries (a batch is 1 MiB of plaintext), with frames of 16
        // bytes (the fixed vector's), of 4 KiB, and of several MiB (one frame per batch).
        let cases: &[(u32, &[usize])] = &[
            (16, &[0, 1, 15, 16, 17, 44, 100]),
            (
                4096,
                &[4095, 4096, 4097, (1 << 20) - 1, 1 << 20, (1 << 20) + 1],
            ),
            (4096, &[(3 << 20) + 12_345]),
            // Frames that do not divide a batch: batches of 1,048 and of 15 frames.
            (1000, &[(2 << 20) + 7]),
            (65_537, &[(2 << 20) + 65_537]),
            (3 << 20, &[(3 << 20) + 1, 7 << 20]),
            // The largest frames: one per batch, one thread.
            (16 << 20, &[(16 << 20) + 5]),
        ];
        for &(frame_len, lengths) in cases {
            for &len in lengths {
                let plaintext: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
                let by_stream = encrypt(&plaintext, frame_len, message_id());
                let by_file = encrypt_file(&plaintext, frame_len);
                assert!(by_file == by_stream, "{frame_len}/{len}: same bytes");
                let opened = decrypt_file(&by_stream, &key()).unwrap();
                assert!(opened == plaintext, "{frame_len}/{len}: round trip");
            }
        }
        assert_eq!(hex(&encrypt_file(PLAINTEXT, 16)), VECTOR);
    }

    #[test]
    fn files_at_offsets_detect_every_kind_of_tampering() {
        let plaintext: Vec<u8> = (0..(3 << 20) + 12_345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let stream = encrypt(&plaintext, 4096, message_id());
        let header_len = Header::read(&mut stream.as_slice()).unwrap().1.len();
        let sealed = 4096 + 16;
        let frame = |i: usize| header_len + i * sealed;
        let frames = (stream.len() - header_len).div_ceil(sealed);
        let tampered = |bytes: &[u8], what: &str| {
            assert_eq!(
                decrypt_file(bytes, &key()),
                Err(StreamError::Tampered),
                "{what}"
            );
        };
        for at in [
            frame(0) + 3,
            frame(300) - 1,
            frame(700) + 9,
            stream.len() - 1,
        ] {
            let mut flipped = stream.clone();
            flipped[at] ^= 0x01;
            tampered(&flipped, &format!("a bit flipped at {at}"));
        }
        // Truncated at frame boundaries (in the first batch, at a batch boundary, before the
        // last frame), inside a frame, and into the tag of the last frame.
        for cut in [frame(1), frame(256), frame(512), frame(frames - 1)] {
            tampered(&stream[..cut], &format!("cut at {cut}"));
        }
        // A stub shorter than a tag right after a batch boundary, too.
        for cut in [
            frame(3) + 100,
            frame(256) + 5,
            stream.len() - 1,
            frame(frames - 1) + 15,
        ] {
            tampered(&stream[..cut], &format!("cut at {cut}"));
        }
        tampered(&stream[..header_len], "no frame at all");
        // Two frames of different batches swapped; a frame repeated; a frame appended.
        let mut swapped = stream.clone();
        swapped[frame(10)..frame(11)].copy_from_slice(&stream[frame(300)..frame(301)]);
        swapped[frame(300)..frame(301)].copy_from_slice(&stream[frame(10)..frame(11)]);
        tampered(&swapped, "frames swapped");
        let mut repeated = stream[..frame(5)].to_vec();
        repeated.extend_from_slice(&stream[frame(4)..]);
        tampered(&repeated, "a frame repeated");
        let mut longer = stream.clone();
        longer.extend_from_slice(&stream[frame(0)..frame(1)]);
        tampered(&longer, "a frame appended");
        // A header altered where the commitment does not cover it (a wrapped blob): its hash is
        // every frame's AAD.
        let mut header_altered = stream.clone();
        header_altered[header_len - 33] ^= 0x01;
        tampered(&header_altered, "the header altered");
        // A wrong data key fails at the commitment, before any frame.
        let mut other = key();
        other[0] ^= 1;
        assert_eq!(decrypt_file(&stream, &other), Err(StreamError::WrongKey));
    }

    #[test]
    fn a_file_must_be_as_long_as_declared_and_a_decryptor_unread() {
        let dir = tempfile::tempdir().unwrap();
        let input = file_with(&dir, "plain", &[5u8; 1000]);
        let out = File::create(dir.path().join("out")).unwrap();
        for declared in [999, 1001] {
            let wrapped = vec![WrappedKey {
                key_arn: ARN.into(),
                blob: vec![1],
            }];
            let mut encryptor =
                FileEncryptor::new(&key(), &EncryptionContext::new(), wrapped, 4096).unwrap();
            encryptor.declare_plaintext_len(declared);
            assert_eq!(
                encryptor.encrypt_file(&input, &out, &mut |_| {}),
                Err(StreamError::Read(format!(
                    "it is 1000 bytes long, not the {declared} declared"
                )))
            );
        }
        // A decryptor that already handed out plaintext does not start over from a file.
        let stream = encrypt(&[5u8; 10_000], 4096, message_id());
        let mut reader = stream.as_slice();
        let (header, raw) = Header::read(&mut reader).unwrap();
        let mut decryptor = Decryptor::new(reader, &header, &raw, &key()).unwrap();
        decryptor.read_exact(&mut [0u8; 10]).unwrap();
        let sealed = file_with(&dir, "sealed", &stream);
        assert!(matches!(
            decryptor.decrypt_file(&sealed, &out, &mut |_| {}),
            Err(StreamError::Invalid(_))
        ));
    }

    #[test]
    fn an_input_file_that_changes_size_while_it_is_read_fails() {
        // The caller's thread reports progress after each batch it did: the file is changed
        // from there, in the middle of the run.
        let plaintext = vec![9u8; (4 << 20) + 100];
        // The length the file is given: one byte more, or a quarter.
        for (what, new_len) in [("grown", plaintext.len() + 1), ("shrunk", 1 << 20)] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("plain");
            std::fs::write(&path, &plaintext).unwrap();
            let input = File::open(&path).unwrap();
            let writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            let out = File::create(dir.path().join("out")).unwrap();
            let wrapped = vec![WrappedKey {
                key_arn: ARN.into(),
                blob: vec![1],
            }];
            let encryptor =
                FileEncryptor::new(&key(), &EncryptionContext::new(), wrapped, 4096).unwrap();
            let mut changed = false;
            let result = encryptor.encrypt_file(&input, &out, &mut |_| {
                if !changed {
                    writer.set_len(new_len as u64).unwrap();
                    changed = true;
                }
            });
            assert_eq!(
                result,
                Err(StreamError::Read(NOT_ITS_SIZE.into())),
                "{what}"
            );
        }
    }

    #[test]
    fn more_frames_than_a_stream_may_have_are_refused_before_anything_is_read() {
        // Sparse files: 2^32 frames of 16 bytes, one more than the u32 frame count allows (the
        // streaming path refuses them too).
        let dir = tempfile::tempdir().unwrap();
        let plain = File::create(dir.path().join("plain")).unwrap();
        plain.set_len((1 << 32) * 16).unwrap();
        let out = File::create(dir.path().join("out")).unwrap();
        let wrapped = vec![WrappedKey {
            key_arn: ARN.into(),
            blob: vec![1],
        }];
        let encryptor = FileEncryptor::new(&key(), &EncryptionContext::new(), wrapped, 16).unwrap();
        assert_eq!(
            encryptor.encrypt_file(
                &File::open(dir.path().join("plain")).unwrap(),
                &out,
                &mut |_| {}
            ),
            Err(StreamError::Invalid("the stream has too many frames"))
        );
        let stream = encrypt(b"", 16, message_id());
        let sealed_path = dir.path().join("sealed");
        std::fs::write(&sealed_path, &stream).unwrap();
        let sealed = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&sealed_path)
            .unwrap();
        let (header, raw) = Header::read(&mut &sealed).unwrap();
        sealed.set_len(raw.len() as u64 + (1 << 32) * 32).unwrap();
        let decryptor = Decryptor::new(io::empty(), &header, &raw, &key()).unwrap();
        assert_eq!(
            decryptor.decrypt_file(&sealed, &out, &mut |_| {}),
            Err(StreamError::Tampered)
        );
    }

    #[test]
    fn a_file_whose_size_is_not_its_length_is_refused() {
        // /proc's files say 0 bytes whatever they hold.
        let dir = tempfile::tempdir().unwrap();
        let out = File::create(dir.path().join("out")).unwrap();
        let wrapped = vec![WrappedKey {
            key_arn: ARN.into(),
            blob: vec![1],
        }];
        let encryptor =
            FileEncryptor::new(&key(), &EncryptionContext::new(), wrapped, 4096).unwrap();
        let proc_file = File::open("/proc/self/status").unwrap();
        assert_eq!(proc_file.metadata().unwrap().len(), 0);
        assert_eq!(
            encryptor.encrypt_file(&proc_file, &out, &mut |_| {}),
            Err(StreamError::Read(NOT_ITS_SIZE.into()))
        );
        // A stream that grows while it is decrypted.
        let stream = encrypt(&vec![3u8; 3 << 20], 4096, message_id());
        let sealed_path = dir.path().join("sealed");
        std::fs::write(&sealed_path, &stream).unwrap();
        let sealed = File::open(&sealed_path).unwrap();
        let appender = std::fs::OpenOptions::new()
            .append(true)
            .open(&sealed_path)
            .unwrap();
        let (header, raw) = Header::read(&mut &sealed).unwrap();
        let decryptor = Decryptor::new(io::empty(), &header, &raw, &key()).unwrap();
        let mut grown = false;
        let result = decryptor.decrypt_file(&sealed, &out, &mut |_| {
            if !grown {
                (&appender).write_all(b"more").unwrap();
                grown = true;
            }
        });
        assert_eq!(result, Err(StreamError::Read(NOT_ITS_SIZE.into())));
    }

    #[test]
    fn an_output_file_that_was_longer_ends_where_the_message_does() {
        let dir = tempfile::tempdir().unwrap();
        let plaintext = vec![4u8; 100_000];
        let input = file_with(&dir, "plain", &plaintext);
        let out_path = dir.path().join("out");
        std::fs::write(&out_path, vec![0xee; 1 << 20]).unwrap();
        let out = std::fs::OpenOptions::new()
            .write(true)
            .open(&out_path)
            .unwrap();
        let message = FileEncryptor::with_message_id(
            &key(),
            &EncryptionContext::new(),
            vec![WrappedKey {
                key_arn: ARN.into(),
                blob: vec![1],
            }],
            4096,
            message_id(),
        )
        .unwrap();
        message.encrypt_file(&input, &out, &mut |_| {}).unwrap();
        let sealed = std::fs::read(&out_path).unwrap();
        assert_eq!(decrypt(&sealed, &key()).unwrap(), plaintext);

        std::fs::write(&out_path, vec![0xee; 1 << 20]).unwrap();
        let sealed_file = file_with(&dir, "sealed", &sealed);
        let (header, raw) = Header::read(&mut &sealed_file).unwrap();
        let decryptor = Decryptor::new(io::empty(), &header, &raw, &key()).unwrap();
        decryptor
            .decrypt_file(&sealed_file, &out, &mut |_| {})
            .unwrap();
        assert!(std::fs::read(&out_path).unwrap() == plaintext);
    }
}
