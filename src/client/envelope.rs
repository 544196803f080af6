//! Envelope encryption of files and streams for applications (crypto.md §3): one GenerateDataKey
//! per message (or per cached data key), one Decrypt to read it back, frames sealed and checked in
//! constant memory by [`crate::crypto::stream`].
//!
//! A data key may be reused for several messages through a cache with limits on age, messages and
//! bytes, as the AWS Encryption SDK's caching cryptographic materials manager does: every message
//! still gets its own random message id, hence its own frame key and commitment.
//!
//! ```no_run
//! # async fn demo(client: vaultd::client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use std::io::{Read, Write};
//! use vaultd::{client::envelope::{Envelope, EncryptRequest, DecryptRequest}, crypto::context::EncryptionContext};
//! let envelope = Envelope::new(client);
//! let context: EncryptionContext = [("app", "backup")].into_iter().collect();
//! let request = EncryptRequest::new(["alias/backup"], context);
//! let mut encryptor = envelope.encryptor(Vec::new(), &request).await?;
//! encryptor.write_all(b"a large dump")?;
//! let sealed = encryptor.finish()?;
//!
//! let (_header, mut decryptor) = envelope.decryptor(sealed.as_slice(), &DecryptRequest::default()).await?;
//! let mut plaintext = Vec::new();
//! decryptor.read_to_end(&mut plaintext)?; // trust it only once this returned Ok
//! # Ok(()) }
//! ```

use std::{
    io::{Read, Write},
    sync::Arc,
    time::Duration,
};

use zeroize::Zeroizing;

use super::{Client, ClientError};
use crate::{
    clock::Clock,
    crypto::{
        context::EncryptionContext,
        stream::{self, Decryptor, Encryptor, Header, StreamError},
    },
};

/// Limits on reusing one data key, as the AWS Encryption SDK's caching materials manager has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLimits {
    /// How long a data key is used after GenerateDataKey returned it (for decryption too).
    pub max_age: Duration,
    /// How many messages one data key encrypts at most.
    pub max_messages: u64,
    /// How many plaintext bytes one data key encrypts at most, over all its messages.
    pub max_bytes: u64,
    /// How many data keys the cache holds (least recently used ones leave first).
    pub capacity: usize,
}

/// What to encrypt under.
#[derive(Clone, Debug, Default)]
pub struct EncryptRequest {
    /// 1 to 16 symmetric keys (id, ARN, alias or alias ARN): the first makes the data key
    /// (GenerateDataKey), each other one wraps it as well (Encrypt); any one of them decrypts.
    pub key_ids: Vec<String>,
    /// Stored in the header and bound to every wrapped key and frame.
    pub context: EncryptionContext,
    /// The plaintext's length when known. A cached data key is used only when it is: its byte
    /// limit must hold for the whole message (the AWS Encryption SDK's rule).
    pub plaintext_len: Option<u64>,
    /// Bytes of plaintext per frame; `None` for [`stream::DEFAULT_FRAME_LEN`].
    pub frame_len: Option<u32>,
}

impl EncryptRequest {
    pub fn new<K: Into<String>>(
        key_ids: impl IntoIterator<Item = K>,
        context: EncryptionContext,
    ) -> Self {
        Self {
            key_ids: key_ids.into_iter().map(Into::into).collect(),
            context,
            ..Self::default()
        }
    }
}

/// What a decryption accepts.
#[derive(Clone, Debug, Default)]
pub struct DecryptRequest {
    /// When not empty, only these keys may open the data key (each tried with Decrypt's KeyId, so
    /// aliases work); none of them wrapping it is [`EnvelopeError::WrongKey`]. When empty, the
    /// keys the header names are tried in order.
    pub key_ids: Vec<String>,
    /// Pairs the header's context must contain (it may hold more), checked before any call:
    /// [`EnvelopeError::ContextMismatch`] otherwise.
    pub required_context: EncryptionContext,
}

/// Why an envelope operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The stream itself: not a vaultd stream, an unknown version, or it does not verify
    /// (tampered, truncated, reordered, extended, or a header that does not match its data key).
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The header's encryption context lacks a required pair or holds another value for it.
    #[error("the encryption context does not match: {0}")]
    ContextMismatch(String),
    /// None of the keys the caller allowed wraps this stream's data key.
    #[error("none of the given keys can decrypt this stream (it was encrypted under {0})")]
    WrongKey(String),
    /// vaultd answered an operation with an error (access denied, key disabled, unreachable...).
    #[error("{operation}: {error}")]
    Service {
        operation: &'static str,
        error: ClientError,
    },
    /// The request cannot be made: no key, too many keys, a bad frame length.
    #[error("{0}")]
    Invalid(String),
}

/// Encrypts and decrypts envelope streams through a vaultd client, with an optional data key cache.
#[derive(Clone, Debug)]
pub struct Envelope {
    client: Client,
    cache: Option<Arc<MaterialsCache>>,
}

/// Cached data keys (encryption and decryption), with their use counts. Holds key material:
/// zeroized on drop, `Debug` redacted.
pub struct MaterialsCache {
    limits: CacheLimits,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MaterialsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaterialsCache")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Envelope {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            cache: None,
        }
    }

    /// Reuses data keys within `limits`; `clock` tells their age (tests pass a manual clock).
    pub fn with_cache(self, limits: CacheLimits, clock: Arc<dyn Clock>) -> Result<Self, EnvelopeError> {
        let _ = (limits, clock);
        todo!()
    }

    /// Starts a message: gets a data key (from the cache or vaultd), writes the header to
    /// `output`, and returns the encryptor to write the plaintext into; call
    /// [`Encryptor::finish`] at the end.
    pub async fn encryptor<W: Write>(
        &self,
        output: W,
        request: &EncryptRequest,
    ) -> Result<Encryptor<W>, EnvelopeError> {
        let _ = (output, request, &self.client, &self.cache);
        todo!()
    }

    /// Reads the header from `input` (a few hundred bytes, read synchronously), checks it against
    /// `request`, opens the data key (from the cache or with one Decrypt) and returns the
    /// decryptor. Its output is trustworthy only once `read` returned 0 without error.
    pub async fn decryptor<R: Read>(
        &self,
        input: R,
        request: &DecryptRequest,
    ) -> Result<(Header, Decryptor<R>), EnvelopeError> {
        let _ = (input, request);
        todo!()
    }

    /// Encrypts a whole message in memory.
    pub async fn encrypt(
        &self,
        plaintext: &[u8],
        request: &EncryptRequest,
    ) -> Result<Vec<u8>, EnvelopeError> {
        let _ = (plaintext, request);
        todo!()
    }

    /// Decrypts a whole message in memory; nothing is returned unless all of it verifies.
    pub async fn decrypt(
        &self,
        message: &[u8],
        request: &DecryptRequest,
    ) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        let _ = (message, request);
        todo!()
    }
}
