//! Regular files at offsets: every core reads, seals or opens, and writes its own batches of
//! frames (`pread` / `pwrite`), byte for byte what the streaming path writes.

use std::{
    fs::File,
    io::{self, Read},
    os::unix::fs::FileExt,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use zeroize::Zeroizing;

use super::{
    BATCH_BYTES, Decryptor, Direction, FRAME_LEN, FrameCipher, Header, IN_FLIGHT_BYTES,
    MAX_WRAPPED_KEYS, StreamError, TAG_LEN, WrappedKey, derive, new_message_id,
};
use crate::crypto::context::EncryptionContext;

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
        let (cipher, header_len) = self.unread_parts()?;
        let len = file_len(input)?;
        let run = FileRun {
            cipher,
            direction: Direction::Open,
            input,
            input_start: header_len,
            // A file shorter than its header is not the one the header was read from.
            input_len: len.checked_sub(header_len).ok_or(StreamError::Tampered)?,
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
/// exactly what an [`Encryptor`](super::Encryptor) writes. Batches of frames are read, sealed and written at their
/// offsets by every core at once, each thread doing all three for its batch, so that the reads,
/// the AEAD and the writes of different batches overlap with nothing handed between threads;
/// memory stays at two batch buffers per thread. (It is also how an [`Encryptor`](super::Encryptor) starts: a new
/// message's header and frame key.)
pub struct FileEncryptor {
    pub(super) header: Vec<u8>,
    pub(super) cipher: FrameCipher,
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

    pub(super) fn with_message_id(
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
        let cipher = FrameCipher::new(&k_data, &header, frame_len);
        Ok(Self {
            header,
            cipher,
            declared: None,
        })
    }

    /// Declares the length the file must have (as [`Encryptor::declare_plaintext_len`](super::Encryptor::declare_plaintext_len)).
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
pub(super) const NOT_ITS_SIZE: &str =
    "it changed size while it was read, or its size is not its length";

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
