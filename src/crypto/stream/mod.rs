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

use std::io::{self, Read};

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{AeadInOut, KeyInit, Tag, inout::InOutBuf},
};
use hkdf::Hkdf;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::context::EncryptionContext;

mod file;
mod streaming;
pub use file::FileEncryptor;
pub use streaming::{Decryptor, Encryptor};

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
    Ok(FrameCipher::new(&k_data, raw_header, header.frame_len))
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

/// AES-256-GCM under a stream's frame key: the `aes-gcm` crate, or AWS-LC under the `aws-lc`
/// feature. The same bytes either way (the fixed vectors in the tests hold for both builds).
// One per stream, used in place: boxing the expanded `aes-gcm` key would only add an indirection.
#[cfg_attr(feature = "aws-lc", allow(clippy::large_enum_variant))]
enum FrameKey {
    RustCrypto(Aes256Gcm),
    #[cfg(feature = "aws-lc")]
    AwsLc(aws_lc_rs::aead::LessSafeKey),
}

impl FrameKey {
    /// The build's implementation: AWS-LC under the `aws-lc` feature, else the `aes-gcm` crate.
    fn new(k_data: &[u8; 32]) -> Self {
        #[cfg(feature = "aws-lc")]
        if let Ok(key) =
            aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, k_data.as_slice())
        {
            return FrameKey::AwsLc(aws_lc_rs::aead::LessSafeKey::new(key));
        }
        FrameKey::RustCrypto(Aes256Gcm::new(k_data.into()))
    }

    /// Encrypts `frame` into `sealed` (as long) and its tag into `tag`.
    fn seal(
        &self,
        nonce: [u8; 12],
        aad: &[u8; 32],
        frame: &[u8],
        sealed: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), StreamError> {
        const FAILED: StreamError = StreamError::Invalid("a frame could not be encrypted");
        match self {
            FrameKey::RustCrypto(cipher) => {
                let computed = cipher
                    .encrypt_inout_detached(
                        &Nonce::from(nonce),
                        aad,
                        InOutBuf::new(frame, sealed).expect("equal lengths"),
                    )
                    .map_err(|_| FAILED)?;
                tag.copy_from_slice(&computed);
            }
            #[cfg(feature = "aws-lc")]
            FrameKey::AwsLc(key) => {
                use aws_lc_rs::aead::{Aad, Nonce};
                key.seal_out_of_place_scatter(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    frame,
                    sealed,
                    &[],
                    tag,
                )
                .map_err(|_| FAILED)?;
            }
        }
        Ok(())
    }

    /// Decrypts `sealed` into `frame` (as long) if `tag` authenticates it.
    fn open(
        &self,
        nonce: [u8; 12],
        aad: &[u8; 32],
        sealed: &[u8],
        tag: &[u8],
        frame: &mut [u8],
    ) -> Result<(), StreamError> {
        match self {
            FrameKey::RustCrypto(cipher) => cipher
                .decrypt_inout_detached(
                    &Nonce::from(nonce),
                    aad,
                    InOutBuf::new(sealed, frame).expect("equal lengths"),
                    &Tag::<Aes256Gcm>::try_from(tag).expect("16 bytes"),
                )
                .map_err(|_| StreamError::Tampered),
            #[cfg(feature = "aws-lc")]
            FrameKey::AwsLc(key) => {
                use aws_lc_rs::aead::{Aad, Nonce};
                key.open_separate_gather(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    sealed,
                    tag,
                    frame,
                )
                .map_err(|_| StreamError::Tampered)
            }
        }
    }
}

/// The frame key and AAD of one stream; shared by the caller and its workers.
struct FrameCipher {
    key: FrameKey,
    aad: [u8; 32],
    frame_len: usize,
}

impl FrameCipher {
    /// The cipher of the frames of a stream with header `raw_header`, under K_data.
    fn new(k_data: &[u8; 32], raw_header: &[u8], frame_len: u32) -> Self {
        FrameCipher {
            key: FrameKey::new(k_data),
            aad: Sha256::digest(raw_header).into(),
            frame_len: frame_len as usize,
        }
    }

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
            let nonce = nonce(index, ends_stream && i + 1 == count);
            match direction {
                Direction::Seal => {
                    let (sealed, rest) = output[at..].split_at_mut(frame.len());
                    self.key
                        .seal(nonce, &self.aad, frame, sealed, &mut rest[..TAG_LEN])?;
                    at += frame.len() + TAG_LEN;
                }
                Direction::Open => {
                    let Some(split) = frame.len().checked_sub(TAG_LEN) else {
                        return Err(StreamError::Tampered);
                    };
                    let (sealed, tag) = frame.split_at(split);
                    self.key
                        .open(nonce, &self.aad, sealed, tag, &mut output[at..at + split])?;
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

#[cfg(test)]
mod tests;
