//! Envelope encryption of files and streams for applications (crypto.md §3): one GenerateDataKey
//! per message (or per cached data key), plus one Encrypt per additional key, and one successful
//! Decrypt to read it back, frames sealed and checked in constant memory by
//! [`crate::crypto::stream`].
//!
//! Several keys may wrap the data key, as the AWS Encryption SDK's multi-keyring does: the first
//! makes it with GenerateDataKey, each other one wraps the same key with Encrypt, and any one of
//! them decrypts. Decryption tries the wrapped keys in order (or the keys the caller allows) until
//! one Decrypt succeeds.
//!
//! A data key may be reused for several messages through a cache with limits on age, messages and
//! bytes, as the AWS Encryption SDK's caching cryptographic materials manager does: every message
//! still gets its own random message id, hence its own frame key and commitment.
//!
//! This module owns the KMS calls around a stream; the stream format itself (header, frames,
//! commitment) belongs to [`crate::crypto::stream`] and is used through its public API only.
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
//!
//! Regular files go faster at offsets, every core reading, sealing (or opening) and writing its
//! own batches of frames:
//!
//! ```no_run
//! # async fn demo(envelope: vaultd::client::envelope::Envelope, request: vaultd::client::envelope::EncryptRequest) -> Result<(), Box<dyn std::error::Error>> {
//! use std::fs::File;
//! use vaultd::client::envelope::DecryptRequest;
//! let (input, output) = (File::open("dump.sql")?, File::create("dump.sql.vlte")?);
//! let encryptor = envelope.file_encryptor(input.metadata()?.len(), &request).await?;
//! encryptor.encrypt_file(&input, &output, &mut |_done| {})?;
//!
//! let (input, output) = (File::open("dump.sql.vlte")?, File::create("restored.tmp")?);
//! let (_header, decryptor) = envelope.decryptor(&input, &DecryptRequest::default()).await?;
//! decryptor.decrypt_file(&input, &output, &mut |_done| {})?; // trust the file only if Ok
//! # Ok(()) }
//! ```

use std::{
    collections::{BTreeMap, HashMap},
    io::{self, Read, Write},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime},
};

use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{Client, ClientError};
use crate::{
    clock::Clock,
    crypto::{
        context::EncryptionContext,
        stream::{self, Decryptor, Encryptor, FileEncryptor, Header, StreamError, WrappedKey},
    },
    pb,
};

/// A data key's plaintext: AES-256, zeroized on drop.
type DataKey = Zeroizing<[u8; 32]>;

/// The AWS Encryption SDK's ceiling on messages per cached data key.
const MAX_MESSAGES_CEILING: u64 = 1 << 32;

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

impl CacheLimits {
    /// Refuses limits the AWS Encryption SDK refuses: a zero age, zero or more than 2^32
    /// messages, zero bytes, an empty cache.
    fn validate(&self) -> Result<(), EnvelopeError> {
        let invalid = |what: &str| Err(EnvelopeError::Invalid(format!("cache limits: {what}")));
        if self.max_age.is_zero() {
            return invalid("max_age must be more than zero");
        }
        if !(1..=MAX_MESSAGES_CEILING).contains(&self.max_messages) {
            return invalid("max_messages must be between 1 and 2^32");
        }
        if self.max_bytes == 0 {
            return invalid("max_bytes must be at least 1");
        }
        if self.capacity == 0 {
            return invalid("capacity must be at least 1");
        }
        Ok(())
    }
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
    /// limit must hold for the whole message (the AWS Encryption SDK's rule). The encryptor holds
    /// the caller to it: writing more, or finishing with less, fails.
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
///
/// As the AWS Encryption SDK's caching materials manager: an encryption entry, keyed by the key
/// ids as given and the canonical context, serves a message while it is younger than `max_age`,
/// has served fewer than `max_messages` messages, and this message's declared length still fits
/// in `max_bytes`; otherwise it is dropped and a fresh data key takes its place. A message of
/// unknown length, or longer than `max_bytes` alone, gets a fresh data key that is not cached.
/// A decryption entry, keyed by the header's context and wrapped keys and by the key ids the
/// caller allowed, serves while younger than `max_age`. Both kinds share `capacity`, least
/// recently used first out.
pub struct MaterialsCache {
    limits: CacheLimits,
    clock: Arc<dyn Clock>,
    state: Mutex<CacheState>,
}

impl std::fmt::Debug for MaterialsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaterialsCache")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// What an entry is for, and what finds it.
#[derive(Clone, PartialEq, Eq, Hash)]
enum CacheKey {
    /// The key ids exactly as the caller gave them, and the canonical context.
    Encrypt {
        key_ids: Vec<String>,
        context: Vec<u8>,
    },
    /// The key ids the caller allowed (a cached data key must not widen them), and SHA-256 over
    /// the header's canonical context and wrapped keys.
    Decrypt {
        key_ids: Vec<String>,
        materials: [u8; 32],
    },
}

/// A cached data key. No `Debug`: it holds key material.
struct Entry {
    data_key: DataKey,
    /// Empty for decryption entries.
    wrapped_keys: Vec<WrappedKey>,
    created: SystemTime,
    messages: u64,
    bytes: u64,
}

struct Slot {
    /// When it was last used, in [`CacheState::tick`]s.
    tick: u64,
    entry: Entry,
}

#[derive(Default)]
struct CacheState {
    entries: HashMap<CacheKey, Slot>,
    /// The entries by last use, least recent first.
    recency: BTreeMap<u64, CacheKey>,
    tick: u64,
}

impl CacheState {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The entry under `key`, marked as the most recently used.
    fn touch(&mut self, key: &CacheKey) -> Option<&mut Entry> {
        let tick = self.next_tick();
        let slot = self.entries.get_mut(key)?;
        self.recency.remove(&slot.tick);
        slot.tick = tick;
        self.recency.insert(tick, key.clone());
        Some(&mut slot.entry)
    }

    fn remove(&mut self, key: &CacheKey) {
        if let Some(slot) = self.entries.remove(key) {
            self.recency.remove(&slot.tick);
        }
    }

    fn insert(&mut self, key: CacheKey, entry: Entry, capacity: usize) {
        self.remove(&key);
        let tick = self.next_tick();
        self.recency.insert(tick, key.clone());
        self.entries.insert(key, Slot { tick, entry });
        while self.entries.len() > capacity {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }
}

impl MaterialsCache {
    fn new(limits: CacheLimits, clock: Arc<dyn Clock>) -> Result<Self, EnvelopeError> {
        limits.validate()?;
        Ok(Self {
            limits,
            clock,
            state: Mutex::new(CacheState::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, CacheState> {
        match self.state.lock() {
            Ok(state) => state,
            // A panic while the lock was held may have left counts half-updated: start empty
            // rather than reuse a key beyond its limits.
            Err(poisoned) => {
                let mut state = poisoned.into_inner();
                *state = CacheState::default();
                self.state.clear_poison();
                state
            }
        }
    }

    /// Whether an entry made at `created` may still be used. A clock that went back is not
    /// trusted to tell an age: the entry is treated as expired.
    fn fresh(&self, now: SystemTime, created: SystemTime) -> bool {
        now.duration_since(created)
            .is_ok_and(|age| age < self.limits.max_age)
    }

    /// Whether a message of `len` bytes (`None`: unknown) must get a data key of its own, as the
    /// AWS Encryption SDK decides.
    fn bypasses(&self, len: Option<u64>) -> bool {
        len.is_none_or(|len| len > self.limits.max_bytes)
    }

    /// The cached materials for one more message of `len` bytes, counted against their limits;
    /// `None` (and the entry dropped) when there are none or they have reached a limit.
    fn use_for_encryption(&self, key: &CacheKey, len: u64) -> Option<(DataKey, Vec<WrappedKey>)> {
        let now = self.clock.now();
        let mut state = self.state();
        let entry = state.touch(key)?;
        let bytes = entry.bytes.checked_add(len);
        let usable = self.fresh(now, entry.created)
            && entry.messages < self.limits.max_messages
            && bytes.is_some_and(|bytes| bytes <= self.limits.max_bytes);
        if !usable {
            state.remove(key);
            return None;
        }
        entry.messages += 1;
        entry.bytes = bytes.unwrap_or(u64::MAX);
        Some((entry.data_key.clone(), entry.wrapped_keys.clone()))
    }

    /// Caches fresh encryption materials, already used for one message of `len` bytes.
    fn put_for_encryption(
        &self,
        key: CacheKey,
        data_key: &DataKey,
        wrapped_keys: &[WrappedKey],
        len: u64,
    ) {
        self.put(
            key,
            Entry {
                data_key: data_key.clone(),
                wrapped_keys: wrapped_keys.to_vec(),
                created: self.clock.now(),
                messages: 1,
                bytes: len,
            },
        );
    }

    /// A cached data key for decryption, if one is young enough.
    fn get_for_decryption(&self, key: &CacheKey) -> Option<DataKey> {
        let now = self.clock.now();
        let mut state = self.state();
        let entry = state.touch(key)?;
        if !self.fresh(now, entry.created) {
            state.remove(key);
            return None;
        }
        Some(entry.data_key.clone())
    }

    fn put_for_decryption(&self, key: CacheKey, data_key: &DataKey) {
        self.put(
            key,
            Entry {
                data_key: data_key.clone(),
                wrapped_keys: Vec::new(),
                created: self.clock.now(),
                messages: 0,
                bytes: 0,
            },
        );
    }

    fn put(&self, key: CacheKey, entry: Entry) {
        let now = entry.created;
        let mut state = self.state();
        // Expired keys leave as soon as something is added, rather than wait to be evicted.
        let expired: Vec<CacheKey> = state
            .entries
            .iter()
            .filter(|(_, slot)| !self.fresh(now, slot.entry.created))
            .map(|(key, _)| key.clone())
            .collect();
        for key in &expired {
            state.remove(key);
        }
        state.insert(key, entry, self.limits.capacity);
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
    /// Limits outside the AWS Encryption SDK's ranges are [`EnvelopeError::Invalid`]. Clones of
    /// the returned envelope share its cache.
    pub fn with_cache(
        self,
        limits: CacheLimits,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EnvelopeError> {
        Ok(Self {
            cache: Some(Arc::new(MaterialsCache::new(limits, clock)?)),
            ..self
        })
    }

    /// Starts a message: gets a data key (from the cache or vaultd), writes the header to
    /// `output`, and returns the encryptor to write the plaintext into; call
    /// [`Encryptor::finish`] at the end.
    pub async fn encryptor<W: Write>(
        &self,
        output: W,
        request: &EncryptRequest,
    ) -> Result<Encryptor<W>, EnvelopeError> {
        let (data_key, wrapped_keys, frame_len) = self.materials(request).await?;
        let mut encryptor =
            Encryptor::new(output, &data_key, &request.context, wrapped_keys, frame_len)?;
        if let Some(len) = request.plaintext_len {
            encryptor.declare_plaintext_len(len);
        }
        Ok(encryptor)
    }

    /// Starts a message that is a regular file of `len` bytes: gets a data key (from the cache or
    /// vaultd) and returns the encryptor that writes the whole message, header and frames, with
    /// every core ([`FileEncryptor::encrypt_file`]). A `plaintext_len` in `request` must be
    /// `len`.
    pub async fn file_encryptor(
        &self,
        len: u64,
        request: &EncryptRequest,
    ) -> Result<FileEncryptor, EnvelopeError> {
        let request = with_len(request, len)?;
        let (data_key, wrapped_keys, frame_len) = self.materials(&request).await?;
        let mut encryptor =
            FileEncryptor::new(&data_key, &request.context, wrapped_keys, frame_len)?;
        encryptor.declare_plaintext_len(len);
        Ok(encryptor)
    }

    /// A message's data key (from the cache or vaultd), its wrapped copies and its frame length.
    async fn materials(
        &self,
        request: &EncryptRequest,
    ) -> Result<(DataKey, Vec<WrappedKey>, u32), EnvelopeError> {
        if !(1..=stream::MAX_WRAPPED_KEYS).contains(&request.key_ids.len()) {
            return Err(EnvelopeError::Invalid(format!(
                "a message needs 1 to {} key ids, not {}",
                stream::MAX_WRAPPED_KEYS,
                request.key_ids.len()
            )));
        }
        let frame_len = request.frame_len.unwrap_or(stream::DEFAULT_FRAME_LEN);
        if !stream::FRAME_LEN.contains(&frame_len) {
            return Err(EnvelopeError::Invalid(format!(
                "the frame length must be between {} and {} bytes, not {frame_len}",
                stream::FRAME_LEN.start(),
                stream::FRAME_LEN.end()
            )));
        }
        let context = request
            .context
            .canonical()
            .map_err(|e| EnvelopeError::Invalid(e.to_string()))?;
        let (data_key, wrapped_keys) = match &self.cache {
            Some(cache) if !cache.bypasses(request.plaintext_len) => {
                let len = request.plaintext_len.unwrap_or(u64::MAX);
                let key = CacheKey::Encrypt {
                    key_ids: request.key_ids.clone(),
                    context,
                };
                match cache.use_for_encryption(&key, len) {
                    Some(materials) => materials,
                    None => {
                        let (data_key, wrapped_keys) = self.new_data_key(request).await?;
                        cache.put_for_encryption(key, &data_key, &wrapped_keys, len);
                        (data_key, wrapped_keys)
                    }
                }
            }
            _ => self.new_data_key(request).await?,
        };
        Ok((data_key, wrapped_keys, frame_len))
    }

    /// A data key from GenerateDataKey under the first key, wrapped by Encrypt under each other
    /// one (the AWS Encryption SDK's multi-keyring).
    async fn new_data_key(
        &self,
        request: &EncryptRequest,
    ) -> Result<(DataKey, Vec<WrappedKey>), EnvelopeError> {
        let service = |operation| move |error| EnvelopeError::Service { operation, error };
        let encryption_context = request.context.to_map();
        let mut response = self
            .client
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: request.key_ids[0].clone(),
                encryption_context: encryption_context.clone(),
                number_of_bytes: None,
                key_spec: pb::DataKeySpec::Aes256 as i32,
            })
            .await
            .map_err(service("GenerateDataKey"))?;
        let plaintext = Zeroizing::new(std::mem::take(&mut response.plaintext));
        let data_key = data_key(&plaintext).ok_or_else(|| EnvelopeError::Service {
            operation: "GenerateDataKey",
            error: ClientError {
                code: tonic::Code::Internal,
                reason: None,
                message: format!(
                    "vaultd returned a data key of {} bytes, not 32",
                    plaintext.len()
                ),
                attempts: 1,
            },
        })?;
        let mut wrapped_keys = Vec::with_capacity(request.key_ids.len());
        wrapped_keys.push(WrappedKey {
            key_arn: response.key_id,
            blob: response.ciphertext_blob,
        });
        for key_id in &request.key_ids[1..] {
            // The request's copy of the data key (and the client's, made to retry) is a plain
            // Vec, not zeroized: prost messages own their bytes.
            let response = self
                .client
                .encrypt(pb::EncryptRequest {
                    key_id: key_id.clone(),
                    plaintext: data_key.to_vec(),
                    encryption_context: encryption_context.clone(),
                    ..Default::default()
                })
                .await
                .map_err(service("Encrypt"))?;
            wrapped_keys.push(WrappedKey {
                key_arn: response.key_id,
                blob: response.ciphertext_blob,
            });
        }
        Ok((data_key, wrapped_keys))
    }

    /// Reads the header from `input` (a few hundred bytes, read synchronously), checks it against
    /// `request`, opens the data key (from the cache or with one Decrypt) and returns the
    /// decryptor. Its output is trustworthy only once `read` returned 0 without error.
    pub async fn decryptor<R: Read>(
        &self,
        mut input: R,
        request: &DecryptRequest,
    ) -> Result<(Header, Decryptor<R>), EnvelopeError> {
        let (header, raw) = Header::read(&mut input)?;
        check_context(&header.context, &request.required_context)?;
        let cached = self.cache.as_ref().map(|cache| {
            let key = CacheKey::Decrypt {
                key_ids: request.key_ids.clone(),
                materials: materials_digest(&header),
            };
            let data_key = cache.get_for_decryption(&key);
            (cache, key, data_key)
        });
        let decryptor = match cached {
            Some((_, _, Some(data_key))) => Decryptor::new(input, &header, &raw, &data_key)?,
            Some((cache, key, None)) => {
                let data_key = self.open_data_key(&header, request).await?;
                let decryptor = Decryptor::new(input, &header, &raw, &data_key)?;
                // Only a data key that matched the header's commitment is worth keeping.
                cache.put_for_decryption(key, &data_key);
                decryptor
            }
            None => {
                let data_key = self.open_data_key(&header, request).await?;
                Decryptor::new(input, &header, &raw, &data_key)?
            }
        };
        Ok((header, decryptor))
    }

    /// Decrypts the data key: tries the allowed (key id, wrapped key) pairs in order until one
    /// Decrypt succeeds.
    async fn open_data_key(
        &self,
        header: &Header,
        request: &DecryptRequest,
    ) -> Result<DataKey, EnvelopeError> {
        let attempts: Vec<(&str, &WrappedKey)> = if request.key_ids.is_empty() {
            header
                .wrapped_keys
                .iter()
                .map(|wrapped| (wrapped.key_arn.as_str(), wrapped))
                .collect()
        } else {
            request
                .key_ids
                .iter()
                .flat_map(|key_id| {
                    header
                        .wrapped_keys
                        .iter()
                        .filter(|wrapped| may_name(key_id, &wrapped.key_arn))
                        .map(move |wrapped| (key_id.as_str(), wrapped))
                })
                .collect()
        };
        let encryption_context = header.context.to_map();
        let mut invalid_ciphertext = false;
        let mut first_other = None;
        for (key_id, wrapped) in attempts {
            let result = self
                .client
                .decrypt(pb::DecryptRequest {
                    ciphertext_blob: wrapped.blob.clone(),
                    encryption_context: encryption_context.clone(),
                    key_id: key_id.to_string(),
                    ..Default::default()
                })
                .await;
            match result {
                Ok(mut response) => {
                    let plaintext = Zeroizing::new(std::mem::take(&mut response.plaintext));
                    // A wrapped key that authenticates under the header's context but is no
                    // AES-256 data key was not put there by an encryptor.
                    return data_key(&plaintext).ok_or(StreamError::Tampered.into());
                }
                Err(error) => match error.reason() {
                    "IncorrectKeyException" => {}
                    // The blob does not authenticate under its key and the header's context.
                    "InvalidCiphertextException" => invalid_ciphertext = true,
                    _ => {
                        first_other.get_or_insert(error);
                    }
                },
            }
        }
        // With no keys of the caller's, every wrapped key was tried under the key its header
        // names: IncorrectKey then means the header names another key than the blob's, which
        // vaultd never writes.
        if invalid_ciphertext || (request.key_ids.is_empty() && first_other.is_none()) {
            return Err(StreamError::Tampered.into());
        }
        if let Some(error) = first_other {
            return Err(EnvelopeError::Service {
                operation: "Decrypt",
                error,
            });
        }
        let arns: Vec<&str> = header
            .wrapped_keys
            .iter()
            .map(|wrapped| wrapped.key_arn.as_str())
            .collect();
        Err(EnvelopeError::WrongKey(arns.join(", ")))
    }

    /// Encrypts a whole message in memory. Its length is known, so a cache applies; a
    /// `plaintext_len` in `request` must then be that length.
    pub async fn encrypt(
        &self,
        plaintext: &[u8],
        request: &EncryptRequest,
    ) -> Result<Vec<u8>, EnvelopeError> {
        let request = with_len(request, plaintext.len() as u64)?;
        let mut encryptor = self.encryptor(Vec::new(), &request).await?;
        encryptor.write_all(plaintext).map_err(stream_error)?;
        Ok(encryptor.finish().map_err(stream_error)?)
    }

    /// Decrypts a whole message in memory; nothing is returned unless all of it verifies.
    pub async fn decrypt(
        &self,
        message: &[u8],
        request: &DecryptRequest,
    ) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        let (_, mut decryptor) = self.decryptor(message, request).await?;
        // The plaintext is shorter than the message: with this capacity the vector never grows,
        // so no copy of plaintext is left behind unzeroized.
        let mut plaintext = Zeroizing::new(Vec::with_capacity(message.len()));
        decryptor
            .read_to_end(&mut plaintext)
            .map_err(stream_error)?;
        Ok(plaintext)
    }
}

/// `request` for a message known to be `len` bytes long (so a cache applies); a `plaintext_len`
/// in it must be that length.
fn with_len(request: &EncryptRequest, len: u64) -> Result<EncryptRequest, EnvelopeError> {
    if let Some(declared) = request.plaintext_len
        && declared != len
    {
        return Err(EnvelopeError::Invalid(format!(
            "plaintext_len says {declared} bytes but the plaintext has {len}"
        )));
    }
    Ok(EncryptRequest {
        plaintext_len: Some(len),
        ..request.clone()
    })
}

/// The data key in `plaintext`, when it is one (32 bytes).
fn data_key(plaintext: &[u8]) -> Option<DataKey> {
    let mut key = Zeroizing::new([0u8; 32]);
    (plaintext.len() == key.len()).then(|| {
        key.copy_from_slice(plaintext);
        key
    })
}

/// Checks that `header` holds every pair of `required`. The message names the key only.
fn check_context(
    header: &EncryptionContext,
    required: &EncryptionContext,
) -> Result<(), EnvelopeError> {
    for (key, value) in required.iter() {
        match header.get(key) {
            None => {
                return Err(EnvelopeError::ContextMismatch(format!(
                    "the key {key:?} is missing"
                )));
            }
            Some(found) if found != value => {
                return Err(EnvelopeError::ContextMismatch(format!(
                    "the key {key:?} has another value"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// SHA-256 over what a decryption's data key depends on: the canonical context, then the count
/// and each wrapped key's ARN and blob, length-prefixed (as in the header, so that no two headers
/// hash alike).
fn materials_digest(header: &Header) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(&header.canonical_context);
    hash.update((header.wrapped_keys.len() as u64).to_be_bytes());
    for wrapped in &header.wrapped_keys {
        for part in [wrapped.key_arn.as_bytes(), wrapped.blob.as_slice()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
    }
    hash.finalize().into()
}

/// The key UUID a key id or key ARN names; `None` for an alias (or anything else), which only
/// vaultd can resolve.
fn key_uuid(key_id: &str) -> Option<Uuid> {
    let id = match key_id.strip_prefix("arn:") {
        Some(rest) => rest.splitn(5, ':').nth(4)?.strip_prefix("key/")?,
        None => key_id,
    };
    Uuid::try_parse(id).ok()
}

/// Whether the caller's `key_id` may be the key `arn` names: false only when both name key
/// UUIDs and they differ (vaultd would answer IncorrectKeyException, or NotFound), so that no
/// call is made for a pair that cannot work.
fn may_name(key_id: &str, arn: &str) -> bool {
    match (key_uuid(key_id), key_uuid(arn)) {
        (Some(given), Some(wrapping)) => given == wrapping,
        _ => true,
    }
}

/// The [`StreamError`] inside an error from an [`Encryptor`] or a [`Decryptor`].
fn stream_error(err: io::Error) -> StreamError {
    if !err.get_ref().is_some_and(|inner| inner.is::<StreamError>()) {
        return StreamError::from(err);
    }
    match err
        .into_inner()
        .map(|inner| inner.downcast::<StreamError>())
    {
        Some(Ok(err)) => *err,
        // Checked just above; fail closed all the same.
        _ => StreamError::Tampered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    const SECOND: Duration = Duration::from_secs(1);

    fn limits() -> CacheLimits {
        CacheLimits {
            max_age: Duration::from_secs(60),
            max_messages: 10,
            max_bytes: 1000,
            capacity: 4,
        }
    }

    fn cache(limits: CacheLimits) -> (MaterialsCache, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::starting_now());
        (MaterialsCache::new(limits, clock.clone()).unwrap(), clock)
    }

    fn encrypt_key(context: &str) -> CacheKey {
        CacheKey::Encrypt {
            key_ids: vec!["alias/a".into()],
            context: context.as_bytes().to_vec(),
        }
    }

    fn wrapped() -> Vec<WrappedKey> {
        vec![WrappedKey {
            key_arn: "arn:aws:kms:us-east-1:000000000000:key/k".into(),
            blob: vec![7; 9],
        }]
    }

    fn key(byte: u8) -> DataKey {
        Zeroizing::new([byte; 32])
    }

    /// Compiles only if an envelope can be shared between tasks and its futures spawned.
    #[allow(dead_code)]
    fn envelopes_and_their_futures_are_send(
        envelope: &Envelope,
        encrypt: &EncryptRequest,
        decrypt: &DecryptRequest,
    ) {
        fn send<T: Send + Sync>(_: &T) {}
        fn send_future<T: Send>(_: T) {}
        send(envelope);
        send_future(envelope.encrypt(b"", encrypt));
        send_future(envelope.decrypt(b"", decrypt));
        send_future(envelope.encryptor(Vec::new(), encrypt));
        send_future(envelope.decryptor(&b""[..], decrypt));
    }

    #[test]
    fn limits_outside_the_sdk_ranges_are_refused() {
        assert!(limits().validate().is_ok());
        let max = CacheLimits {
            max_messages: 1 << 32,
            max_bytes: u64::MAX,
            max_age: Duration::from_nanos(1),
            capacity: 1,
        };
        assert!(max.validate().is_ok());
        for bad in [
            CacheLimits {
                max_age: Duration::ZERO,
                ..limits()
            },
            CacheLimits {
                max_messages: 0,
                ..limits()
            },
            CacheLimits {
                max_messages: (1 << 32) + 1,
                ..limits()
            },
            CacheLimits {
                max_bytes: 0,
                ..limits()
            },
            CacheLimits {
                capacity: 0,
                ..limits()
            },
        ] {
            let clock = Arc::new(ManualClock::starting_now());
            assert!(
                matches!(
                    MaterialsCache::new(bad, clock),
                    Err(EnvelopeError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_encryption_entry_serves_until_a_limit_and_is_then_dropped() {
        let (cache, clock) = cache(CacheLimits {
            max_messages: 3,
            ..limits()
        });
        let k = encrypt_key("a");
        assert!(cache.use_for_encryption(&k, 1).is_none());
        cache.put_for_encryption(k.clone(), &key(1), &wrapped(), 1);
        for _ in 0..2 {
            let (data_key, wrapped_keys) = cache.use_for_encryption(&k, 1).unwrap();
            assert_eq!(*data_key, [1; 32]);
            assert_eq!(wrapped_keys, wrapped());
        }
        // The fourth message: over max_messages, and the entry is gone for good.
        assert!(cache.use_for_encryption(&k, 1).is_none());
        assert!(cache.state().entries.is_empty());

        // Bytes: 600 + 400 fits 1000 exactly, one more byte does not.
        cache.put_for_encryption(k.clone(), &key(2), &wrapped(), 600);
        assert!(cache.use_for_encryption(&k, 400).is_some());
        assert!(cache.use_for_encryption(&k, 1).is_none());

        // Age: usable just before max_age, not at it.
        cache.put_for_encryption(k.clone(), &key(3), &wrapped(), 0);
        clock.advance(Duration::from_secs(59));
        assert!(cache.use_for_encryption(&k, 0).is_some());
        clock.advance(SECOND);
        assert!(cache.use_for_encryption(&k, 0).is_none());
    }

    #[test]
    fn unknown_or_oversized_messages_bypass_the_cache() {
        let (cache, _) = cache(limits());
        assert!(cache.bypasses(None));
        assert!(cache.bypasses(Some(1001)));
        assert!(!cache.bypasses(Some(1000)));
        assert!(!cache.bypasses(Some(0)));
    }

    #[test]
    fn the_least_recently_used_entry_leaves_first() {
        let (cache, _) = cache(CacheLimits {
            capacity: 2,
            ..limits()
        });
        cache.put_for_encryption(encrypt_key("a"), &key(1), &wrapped(), 0);
        cache.put_for_encryption(encrypt_key("b"), &key(2), &wrapped(), 0);
        // Using "a" makes "b" the least recently used one.
        assert!(cache.use_for_encryption(&encrypt_key("a"), 0).is_some());
        cache.put_for_encryption(encrypt_key("c"), &key(3), &wrapped(), 0);
        assert!(cache.use_for_encryption(&encrypt_key("b"), 0).is_none());
        assert!(cache.use_for_encryption(&encrypt_key("a"), 0).is_some());
        assert!(cache.use_for_encryption(&encrypt_key("c"), 0).is_some());
        let state = cache.state();
        assert_eq!(state.entries.len(), 2);
        assert_eq!(state.recency.len(), 2);
    }

    #[test]
    fn decryption_entries_expire_with_age_only_and_depend_on_the_allowed_keys() {
        let (cache, clock) = cache(CacheLimits {
            max_messages: 1,
            max_bytes: 1,
            ..limits()
        });
        let for_keys = |key_ids: &[&str]| CacheKey::Decrypt {
            key_ids: key_ids.iter().map(|k| k.to_string()).collect(),
            materials: [9; 32],
        };
        cache.put_for_decryption(for_keys(&[]), &key(4));
        for _ in 0..5 {
            assert_eq!(*cache.get_for_decryption(&for_keys(&[])).unwrap(), [4; 32]);
        }
        assert!(
            cache
                .get_for_decryption(&for_keys(&["alias/other"]))
                .is_none()
        );
        clock.advance(Duration::from_secs(60));
        assert!(cache.get_for_decryption(&for_keys(&[])).is_none());
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let (cache, _) = cache(limits());
        cache.put_for_encryption(encrypt_key("a"), &key(0xab), &wrapped(), 0);
        let shown = format!("{cache:?}");
        assert!(shown.contains("limits"), "{shown}");
        assert!(
            !shown.contains("171") && !shown.contains("ab, ab"),
            "{shown}"
        );
    }

    #[test]
    fn only_key_uuids_that_differ_rule_a_pair_out() {
        let id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{id}");
        let other = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555";
        assert!(may_name(id, &arn));
        assert!(may_name(&arn, &arn));
        assert!(may_name(&id.to_uppercase(), &arn));
        assert!(!may_name(id, other));
        assert!(!may_name(&arn, other));
        // Aliases are for vaultd to resolve.
        assert!(may_name("alias/app", &arn));
        assert!(may_name(
            "arn:aws:kms:us-east-1:000000000000:alias/app",
            other
        ));
    }

    #[test]
    fn a_required_context_names_the_key_and_never_the_value() {
        let header: EncryptionContext =
            [("app", "billing"), ("tenant", "42")].into_iter().collect();
        let subset: EncryptionContext = [("tenant", "42")].into_iter().collect();
        assert!(check_context(&header, &subset).is_ok());
        assert!(check_context(&header, &EncryptionContext::new()).is_ok());
        let missing: EncryptionContext = [("region", "eu")].into_iter().collect();
        let err = check_context(&header, &missing).unwrap_err().to_string();
        assert!(err.contains("\"region\" is missing"), "{err}");
        let other: EncryptionContext = [("tenant", "secret-43")].into_iter().collect();
        let err = check_context(&header, &other).unwrap_err().to_string();
        assert!(err.contains("\"tenant\" has another value"), "{err}");
        assert!(!err.contains("42") && !err.contains("secret-43"), "{err}");
    }
}
