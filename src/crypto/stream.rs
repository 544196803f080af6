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

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit, Payload},
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
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
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
            StreamError::Io(message) => io::Error::other(message),
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

/// Encrypts a stream: writes the header at once, then a frame each time `frame_len` bytes are
/// buffered and more follow; [`Encryptor::finish`] seals the last frame.
pub struct Encryptor<W: Write> {
    inner: W,
    cipher: Aes256Gcm,
    aad: [u8; 32],
    frame_len: usize,
    buffer: Zeroizing<Vec<u8>>,
    index: u32,
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
        let message_id =
            super::random_array::<32>().map_err(|_| StreamError::Io("no randomness".into()))?;
        Self::with_message_id(
            inner,
            data_key,
            context,
            wrapped_keys,
            frame_len,
            message_id,
        )
    }

    fn with_message_id(
        mut inner: W,
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
        };
        let encoded = header.encode()?;
        inner.write_all(&encoded)?;
        Ok(Self {
            inner,
            cipher: Aes256Gcm::new((&*k_data).into()),
            aad: Sha256::digest(&encoded).into(),
            frame_len: frame_len as usize,
            buffer: Zeroizing::new(Vec::with_capacity(frame_len as usize)),
            index: 0,
        })
    }

    fn seal(&mut self, len: usize, last: bool) -> io::Result<()> {
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce(self.index, last)),
                Payload {
                    msg: &self.buffer[..len],
                    aad: &self.aad,
                },
            )
            .map_err(|_| io::Error::other("a frame could not be encrypted"))?;
        self.inner.write_all(&sealed)?;
        self.buffer.drain(..len);
        self.index = self
            .index
            .checked_add(1)
            .ok_or_else(|| io::Error::other("the stream has too many frames"))?;
        Ok(())
    }

    /// Seals the last frame and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let len = self.buffer.len();
        self.seal(len, true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        // A full frame is sealed only once more data follows it: the last frame must carry the
        // last flag, and only finish knows which one that is.
        while self.buffer.len() > self.frame_len {
            self.seal(self.frame_len, false)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypts a stream frame by frame. Plaintext comes out as each frame verifies; the stream as
/// a whole is trustworthy only once [`Read::read`] has returned 0 (end) without error: until
/// then, a truncated or extended stream has not been ruled out.
pub struct Decryptor<R: Read> {
    inner: R,
    cipher: Aes256Gcm,
    aad: [u8; 32],
    frame_len: usize,
    /// Decrypted bytes not yet read out.
    plain: Zeroizing<Vec<u8>>,
    offset: usize,
    index: u32,
    /// One byte read ahead, to tell the last frame from the others.
    peeked: Option<u8>,
    done: bool,
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
        let (k_data, commitment) = derive(data_key, &header.message_id);
        if !bool::from(commitment.ct_eq(&header.commitment)) {
            return Err(StreamError::WrongKey);
        }
        Ok(Self {
            inner,
            cipher: Aes256Gcm::new((&*k_data).into()),
            aad: Sha256::digest(raw_header).into(),
            frame_len: header.frame_len as usize,
            plain: Zeroizing::new(Vec::new()),
            offset: 0,
            index: 0,
            peeked: None,
            done: false,
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

    fn next_frame(&mut self) -> Result<(), StreamError> {
        let full = self.frame_len + TAG_LEN;
        let mut sealed = vec![0u8; full];
        let n = self.fill(&mut sealed)?;
        sealed.truncate(n);
        // A full frame followed by more data is not the last; anything else must be.
        let last = if n == full {
            let mut next = [0u8; 1];
            match self.fill(&mut next)? {
                0 => true,
                _ => {
                    self.peeked = Some(next[0]);
                    false
                }
            }
        } else {
            true
        };
        if n < TAG_LEN {
            return Err(StreamError::Tampered);
        }
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce(self.index, last)),
                Payload {
                    msg: &sealed,
                    aad: &self.aad,
                },
            )
            .map_err(|_| StreamError::Tampered)?;
        self.plain = Zeroizing::new(plain);
        self.offset = 0;
        self.index = self.index.checked_add(1).ok_or(StreamError::Tampered)?;
        self.done = last;
        Ok(())
    }
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.offset == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_frame()?;
        }
        let n = buf.len().min(self.plain.len() - self.offset);
        buf[..n].copy_from_slice(&self.plain[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
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
        let mut encryptor = Encryptor::with_message_id(
            Vec::new(),
            &key(),
            &context,
            wrapped,
            frame_len,
            message_id,
        )
        .unwrap();
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
}
