//! Field-level encryption of JSON documents (crypto.md §4): values at RFC 6901 JSON Pointer paths
//! become `"vfe1:" + base64url(body)` strings, in random mode (a per-document data key) or
//! deterministic mode (a per-path key derived from the KMS key's material, for equality search),
//! and the document gains a `_vfe` member naming the key, the wrapped data key, the encryption
//! context, the encrypted paths and a MAC over all of them, checked before anything is decrypted.
//!
//! ```text
//! random:        0x01 || json type || iv (12) || ct || tag
//! deterministic: 0x02 || json type || material version (u32 BE) || iv (12) || ct || tag
//! json type:     1 string, 2 number, 3 bool, 4 null, 5 object, 6 array
//! ```
//!
//! Pure: the data key, its wrapping and the key material come from the caller (the KMS domain, or
//! vaultctl offline with an RSA public key). Error messages name paths, never values, which may be
//! secrets. Fixed vectors come from Python `cryptography` (`tests/interop/fields_vector.py`).

use std::collections::HashSet;

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use hkdf::Hkdf;
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::context::EncryptionContext;

mod json;

use json::*;
pub use json::{canonical_json, parse_document};

/// The prefix of an encrypted value.
pub const PREFIX: &str = "vfe1:";
/// The reserved member that carries the metadata.
pub const META: &str = "_vfe";
/// The most paths one call encrypts.
pub const MAX_PATHS: usize = 256;

/// Why a document does not encrypt or decrypt. Messages name paths, never values.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    /// The request or the document's structure is invalid (reported as a validation error).
    #[error("{0}")]
    Invalid(String),
    /// A MAC, a value or a data key does not authenticate, or a value is not where the MAC says.
    /// Deliberately uninformative.
    #[error("the document's encrypted fields do not verify")]
    InvalidCiphertext,
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
}

/// How the per-document data key is wrapped (`_vfe.wrap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrap {
    /// `"kms"`: a §1 ciphertext blob under a symmetric key, bound to the context.
    Kms,
    /// `"rsa-oaep-sha256"`: RSAES-OAEP-SHA-256 under an RSA key's public key (public-key mode).
    RsaOaepSha256,
}

impl Wrap {
    /// The name `_vfe.wrap` carries.
    pub fn as_str(self) -> &'static str {
        match self {
            Wrap::Kms => "kms",
            Wrap::RsaOaepSha256 => "rsa-oaep-sha256",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "kms" => Some(Wrap::Kms),
            "rsa-oaep-sha256" => Some(Wrap::RsaOaepSha256),
            _ => None,
        }
    }
}

/// One path to encrypt and its mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    pub path: String,
    pub deterministic: bool,
}

/// The `_vfe` member of an encrypted document, parsed and checked for shape (not yet
/// authenticated: its MAC is checked by [`decrypt_document`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The key ARN that wraps the data key.
    pub key: String,
    pub wrap: Wrap,
    /// The wrapped data key.
    pub dk: Vec<u8>,
    pub context: EncryptionContext,
    /// The encrypted paths, sorted by their UTF-8 bytes.
    pub paths: Vec<String>,
    pub mac: [u8; 32],
}

/// The material of one version of the KMS key, for deterministic mode: `(version, material)`.
pub type Material = (u32, Zeroizing<[u8; 32]>);

const MODE_RANDOM: u8 = 0x01;
const MODE_DETERMINISTIC: u8 = 0x02;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;
const INFO_RANDOM: &[u8] = b"vaultd/v1/fle/rnd";
const INFO_DETERMINISTIC: &[u8] = b"vaultd/v1/fle/det";
const INFO_MAC: &[u8] = b"vaultd/v1/fle/mac";
const AAD_MAGIC: &[u8] = b"vfe1";

/// The OAEP label of public-key mode: `"vfe1" || canonical(context)`, so that the wrapped data key
/// opens only for this context and only through DecryptFields (plain RSA Decrypt uses no label).
pub fn oaep_label(context: &EncryptionContext) -> Result<Vec<u8>, FieldError> {
    let canonical = context.canonical().map_err(|_| {
        FieldError::Invalid("the encryption context is larger than 8192 bytes".into())
    })?;
    Ok([b"vfe1".as_slice(), &canonical].concat())
}

// ---------------------------------------------------------------------------------------------
// Values

fn json_type(value: &Value) -> u8 {
    match value {
        Value::String(_) => 1,
        Value::Number(_) => 2,
        Value::Bool(_) => 3,
        Value::Null => 4,
        Value::Object(_) => 5,
        Value::Array(_) => 6,
    }
}

/// What is encrypted for a value: a string's UTF-8 bytes, anything else its canonical JSON.
fn plaintext_of(value: &Value) -> Zeroizing<Vec<u8>> {
    match value {
        Value::String(s) => Zeroizing::new(s.as_bytes().to_vec()),
        other => Zeroizing::new(canonical_json(other).into_bytes()),
    }
}

/// Best effort: wipes the strings (member names too) of a value that was replaced by its
/// ciphertext. Numbers cannot be reached inside `serde_json::Number`.
fn wipe(value: Value) {
    match value {
        Value::String(mut s) => s.zeroize(),
        Value::Array(items) => items.into_iter().for_each(wipe),
        Value::Object(map) => {
            for (mut name, member) in map {
                name.zeroize();
                wipe(member);
            }
        }
        _ => {}
    }
}

fn random_key(data_key: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    super::hkdf_sha256(data_key, &[], &[INFO_RANDOM])
}

/// K_enc || K_siv of a path under one version of the key material.
fn deterministic_keys(
    material: &[u8; 32],
    path: &str,
) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
    let mut okm = Zeroizing::new([0u8; 64]);
    Hkdf::<Sha256>::new(Some(&[]), material)
        .expand_multi_info(&[INFO_DETERMINISTIC, path.as_bytes()], okm.as_mut())
        .expect("64 bytes is a valid HKDF-SHA256 output length");
    let mut k_enc = Zeroizing::new([0u8; 32]);
    let mut k_siv = Zeroizing::new([0u8; 32]);
    k_enc.copy_from_slice(&okm[..32]);
    k_siv.copy_from_slice(&okm[32..]);
    (k_enc, k_siv)
}

fn random_aad(json_type: u8, path: &str, context_hash: &[u8; 32]) -> Vec<u8> {
    [
        AAD_MAGIC,
        &[MODE_RANDOM, json_type],
        path.as_bytes(),
        context_hash,
    ]
    .concat()
}

fn deterministic_aad(json_type: u8, path: &str) -> Vec<u8> {
    [AAD_MAGIC, &[MODE_DETERMINISTIC, json_type], path.as_bytes()].concat()
}

fn synthetic_iv(k_siv: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> [u8; IV_LEN] {
    let mut message = Zeroizing::new(Vec::with_capacity(aad.len() + plaintext.len()));
    message.extend_from_slice(aad);
    message.extend_from_slice(plaintext);
    let mac = super::hmac_sha256(k_siv, &message);
    mac[..IV_LEN].try_into().expect("12 bytes")
}

fn seal(
    key: &[u8; 32],
    iv: [u8; IV_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, FieldError> {
    Aes256Gcm::new(key.into())
        .encrypt(
            &Nonce::from(iv),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| FieldError::Invalid("a value is too large to encrypt".into()))
}

fn open(
    key: &[u8; 32],
    iv: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, FieldError> {
    let iv: [u8; IV_LEN] = iv.try_into().map_err(|_| FieldError::InvalidCiphertext)?;
    Aes256Gcm::new(key.into())
        .decrypt(&Nonce::from(iv), Payload { msg: sealed, aad })
        .map(Zeroizing::new)
        .map_err(|_| FieldError::InvalidCiphertext)
}

fn encode_value(body: &[u8]) -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(body))
}

/// The value a decrypted plaintext stands for, which must be of the type its byte names.
fn value_of(json_type: u8, plaintext: &[u8]) -> Result<Value, FieldError> {
    let text = std::str::from_utf8(plaintext).map_err(|_| FieldError::InvalidCiphertext)?;
    let value = if json_type == 1 {
        Value::String(text.to_owned())
    } else {
        parse_strict(text).map_err(|_| FieldError::InvalidCiphertext)?
    };
    if self::json_type(&value) != json_type {
        return Err(FieldError::InvalidCiphertext);
    }
    Ok(value)
}

// ---------------------------------------------------------------------------------------------
// Metadata and MAC

/// `_vfe` without its MAC, members in the order the document shows them.
fn metadata_without_mac(
    key_arn: &str,
    wrap: Wrap,
    dk: &[u8],
    context: &EncryptionContext,
    paths: &[String],
) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert("v".into(), Value::from(1u64));
    meta.insert("key".into(), Value::from(key_arn));
    meta.insert("wrap".into(), Value::from(wrap.as_str()));
    meta.insert("dk".into(), Value::from(STANDARD.encode(dk)));
    meta.insert(
        "ctx".into(),
        Value::Object(
            context
                .iter()
                .map(|(k, v)| (k.to_owned(), Value::from(v)))
                .collect(),
        ),
    );
    meta.insert(
        "paths".into(),
        Value::Array(paths.iter().map(|p| Value::from(p.as_str())).collect()),
    );
    meta
}

/// HMAC over canonical(`_vfe` without "mac") and every (path, encrypted value) in path order.
fn document_mac(
    data_key: &[u8; 32],
    meta_without_mac: &Map<String, Value>,
    entries: &[(&str, &str)],
) -> [u8; 32] {
    let mac_key = super::hkdf_sha256(data_key, &[], &[INFO_MAC]);
    let mut message = canonical_json(&Value::Object(meta_without_mac.clone())).into_bytes();
    for (path, value) in entries {
        for part in [path.as_bytes(), value.as_bytes()] {
            message.extend_from_slice(&(part.len() as u32).to_be_bytes());
            message.extend_from_slice(part);
        }
    }
    super::hmac_sha256(mac_key.as_ref(), &message)
}

fn context_hash(context: &EncryptionContext) -> Result<[u8; 32], super::Error> {
    Ok(super::sha256(&context.canonical()?))
}

// ---------------------------------------------------------------------------------------------
// Encryption

/// Encrypts the values at `fields` in `document` under `data_key` (random mode) or the current
/// key material `deterministic` returns (deterministic mode, asked for only when a field needs
/// it), and adds `_vfe`. `dk` is `data_key` wrapped as `wrap` says, by the caller.
#[allow(clippy::too_many_arguments)]
pub fn encrypt_document(
    document: Value,
    fields: &[FieldSpec],
    data_key: &[u8; 32],
    key_arn: &str,
    wrap: Wrap,
    dk: &[u8],
    context: &EncryptionContext,
    deterministic: &dyn Fn() -> Result<Material, FieldError>,
) -> Result<Value, FieldError> {
    let mut random_iv = || super::random_array::<IV_LEN>().map_err(|_| FieldError::Rng);
    encrypt_with(
        document,
        fields,
        data_key,
        key_arn,
        wrap,
        dk,
        context,
        deterministic,
        &mut random_iv,
    )
}

/// [`encrypt_document`] with the random-mode ivs drawn from `next_iv` (one per random-mode path,
/// in path order): for test vectors only.
#[allow(clippy::too_many_arguments)]
fn encrypt_with(
    mut document: Value,
    fields: &[FieldSpec],
    data_key: &[u8; 32],
    key_arn: &str,
    wrap: Wrap,
    dk: &[u8],
    context: &EncryptionContext,
    deterministic: &dyn Fn() -> Result<Material, FieldError>,
    next_iv: &mut dyn FnMut() -> Result<[u8; IV_LEN], FieldError>,
) -> Result<Value, FieldError> {
    let invalid = |message: String| FieldError::Invalid(message);
    let Value::Object(top) = &document else {
        return Err(invalid("the document must be a JSON object".into()));
    };
    if top.contains_key(META) {
        return Err(invalid("the document is already field-encrypted".into()));
    }
    if fields.is_empty() {
        return Err(invalid("no paths to encrypt".into()));
    }
    if fields.len() > MAX_PATHS {
        return Err(invalid(format!("more than {MAX_PATHS} paths to encrypt")));
    }

    // (path, tokens, deterministic), sorted by path bytes: the order of `_vfe.paths`, of the MAC
    // and of drawing ivs.
    let mut specs = Vec::with_capacity(fields.len());
    for field in fields {
        let tokens = parse_pointer(&field.path).map_err(invalid)?;
        if tokens[0] == META {
            return Err(invalid(format!(
                "the path {} is inside the reserved member {META}",
                field.path
            )));
        }
        if field.deterministic && wrap == Wrap::RsaOaepSha256 {
            return Err(invalid(
                "deterministic mode needs the key's material inside vaultd; public-key mode is \
                 random only"
                    .into(),
            ));
        }
        specs.push((field.path.as_str(), tokens, field.deterministic));
    }
    specs.sort_by(|a, b| a.0.cmp(b.0));
    // Every pointer has one spelling, so equal locations are equal strings. An ancestor sorts
    // before its descendants by tokens, and everything between them shares it: comparing
    // neighbours in token order finds every pair.
    let mut by_tokens: Vec<&(&str, Vec<String>, bool)> = specs.iter().collect();
    by_tokens.sort_by(|a, b| a.1.cmp(&b.1));
    for pair in by_tokens.windows(2) {
        let (outer, inner) = (pair[0], pair[1]);
        if outer.1 == inner.1 {
            return Err(invalid(format!("the path {} is listed twice", outer.0)));
        }
        if inner.1.starts_with(&outer.1) {
            return Err(invalid(format!(
                "the path {} is inside {}, which is encrypted whole",
                inner.0, outer.0
            )));
        }
    }

    let mut skip = HashSet::with_capacity(specs.len());
    for (path, tokens, _) in &specs {
        match lookup(&document, tokens) {
            Found::Value(value) => {
                skip.insert(std::ptr::from_ref(value));
            }
            Found::Missing => return Err(invalid(format!("no value at {path}"))),
            Found::BadIndex => {
                return Err(invalid(format!(
                    "the path {path} does not name an array element: indexes are decimal numbers \
                     without leading zeros"
                )));
            }
        }
    }
    // Decryption refuses such a string (it could be an encrypted value copied out of its path),
    // so the document would never decrypt.
    if let Some(path) = find_prefixed(&document, &skip) {
        return Err(invalid(format!(
            "the string at {path} starts with the reserved prefix {PREFIX}"
        )));
    }
    drop(skip);

    let context_hash = context_hash(context).map_err(|e| invalid(e.to_string()))?;
    let material = if specs.iter().any(|(_, _, det)| *det) {
        Some(deterministic()?)
    } else {
        None
    };
    let k_random = random_key(data_key);

    let mut encrypted = Vec::with_capacity(specs.len());
    for (path, tokens, det) in &specs {
        let slot = lookup_mut(&mut document, tokens).expect("the path was found above");
        let json_type = json_type(slot);
        let plaintext = plaintext_of(slot);
        let mut body = vec![
            if *det {
                MODE_DETERMINISTIC
            } else {
                MODE_RANDOM
            },
            json_type,
        ];
        match (&material, det) {
            (Some((version, material)), true) => {
                let (k_enc, k_siv) = deterministic_keys(material, path);
                let aad = deterministic_aad(json_type, path);
                let iv = synthetic_iv(&k_siv, &aad, &plaintext);
                body.extend_from_slice(&version.to_be_bytes());
                body.extend_from_slice(&iv);
                body.extend_from_slice(&seal(&k_enc, iv, &aad, &plaintext)?);
            }
            _ => {
                let iv = next_iv()?;
                let aad = random_aad(json_type, path, &context_hash);
                body.extend_from_slice(&iv);
                body.extend_from_slice(&seal(&k_random, iv, &aad, &plaintext)?);
            }
        }
        let value = encode_value(&body);
        wipe(std::mem::replace(slot, Value::String(value.clone())));
        encrypted.push((*path, value));
    }

    let paths: Vec<String> = specs.iter().map(|(p, _, _)| (*p).to_owned()).collect();
    let mut meta = metadata_without_mac(key_arn, wrap, dk, context, &paths);
    let entries: Vec<(&str, &str)> = encrypted.iter().map(|(p, v)| (*p, v.as_str())).collect();
    let mac = document_mac(data_key, &meta, &entries);
    meta.insert("mac".into(), Value::from(STANDARD.encode(mac)));
    document
        .as_object_mut()
        .expect("checked above")
        .insert(META.into(), Value::Object(meta));
    Ok(document)
}

// ---------------------------------------------------------------------------------------------
// Decryption

/// Reads and checks the shape of `document`'s `_vfe` member.
pub fn read_metadata(document: &Value) -> Result<Metadata, FieldError> {
    let invalid = |message: &str| FieldError::Invalid(message.to_owned());
    let Value::Object(top) = document else {
        return Err(invalid("the document must be a JSON object"));
    };
    let Some(meta) = top.get(META) else {
        return Err(invalid(
            "the document has no _vfe member: it is not field-encrypted",
        ));
    };
    let Value::Object(meta) = meta else {
        return Err(invalid("the document's _vfe member is not an object"));
    };
    const MEMBERS: [&str; 7] = ["v", "key", "wrap", "dk", "ctx", "paths", "mac"];
    if let Some(name) = meta.keys().find(|name| !MEMBERS.contains(&name.as_str())) {
        let mut path = String::from("/_vfe/");
        escape_token(name, &mut path);
        return Err(FieldError::Invalid(format!(
            "the _vfe member has an unknown member at {path}"
        )));
    }
    if let Some(name) = MEMBERS.iter().find(|name| !meta.contains_key(**name)) {
        return Err(FieldError::Invalid(format!(
            "the _vfe member lacks its \"{name}\" member"
        )));
    }

    if meta["v"].as_u64() != Some(1) {
        return Err(invalid(
            "the _vfe member's v is not 1: an unknown format version",
        ));
    }
    let key = match &meta["key"] {
        Value::String(key) if !key.is_empty() => key.clone(),
        _ => return Err(invalid("the _vfe member's key must be a non-empty string")),
    };
    let wrap = meta["wrap"]
        .as_str()
        .and_then(Wrap::from_name)
        .ok_or_else(|| invalid("the _vfe member's wrap must be \"kms\" or \"rsa-oaep-sha256\""))?;
    let dk = meta["dk"]
        .as_str()
        .and_then(|dk| STANDARD.decode(dk).ok())
        .filter(|dk| !dk.is_empty())
        .ok_or_else(|| invalid("the _vfe member's dk must be base64 (standard, padded)"))?;
    let Value::Object(ctx) = &meta["ctx"] else {
        return Err(invalid(
            "the _vfe member's ctx must be an object of strings",
        ));
    };
    let mut pairs = Vec::with_capacity(ctx.len());
    for (name, value) in ctx {
        let Value::String(value) = value else {
            return Err(invalid(
                "the _vfe member's ctx must be an object of strings",
            ));
        };
        pairs.push((name.as_str(), value.as_str()));
    }
    let context: EncryptionContext = pairs.into_iter().collect();
    context
        .canonical()
        .map_err(|e| FieldError::Invalid(format!("the _vfe member's ctx: {e}")))?;

    let paths = match &meta["paths"] {
        Value::Array(items) if !items.is_empty() && items.len() <= MAX_PATHS => items
            .iter()
            .map(|p| p.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>(),
        _ => None,
    }
    .ok_or_else(|| {
        FieldError::Invalid(format!(
            "the _vfe member's paths must be a non-empty array of at most {MAX_PATHS} strings"
        ))
    })?;
    for path in &paths {
        let tokens = parse_pointer(path)
            .map_err(|e| FieldError::Invalid(format!("the _vfe member's paths: {e}")))?;
        if tokens[0] == META {
            return Err(FieldError::Invalid(format!(
                "the _vfe member's paths: the path {path} is inside the reserved member {META}"
            )));
        }
    }
    if !paths.windows(2).all(|pair| pair[0] < pair[1]) {
        return Err(invalid(
            "the _vfe member's paths must be sorted by their UTF-8 bytes, each once",
        ));
    }

    let mac = meta["mac"]
        .as_str()
        .and_then(|mac| STANDARD.decode(mac).ok())
        .and_then(|mac| <[u8; 32]>::try_from(mac).ok())
        .ok_or_else(|| invalid("the _vfe member's mac must be base64 of 32 bytes"))?;

    Ok(Metadata {
        key,
        wrap,
        dk,
        context,
        paths,
        mac,
    })
}

/// Checks the MAC, then decrypts every path `metadata` lists and removes `_vfe`. `data_key` is the
/// unwrapped `metadata.dk`; `deterministic` returns the key material of a version.
pub fn decrypt_document(
    mut document: Value,
    metadata: &Metadata,
    data_key: &[u8; 32],
    deterministic: &dyn Fn(u32) -> Result<Zeroizing<[u8; 32]>, FieldError>,
) -> Result<Value, FieldError> {
    if !document.is_object() {
        return Err(FieldError::Invalid(
            "the document must be a JSON object".into(),
        ));
    }
    let mut tokens = Vec::with_capacity(metadata.paths.len());
    for path in &metadata.paths {
        tokens.push(parse_pointer(path).map_err(|_| FieldError::InvalidCiphertext)?);
    }

    // The MAC first: nothing is decrypted from a document whose fields were moved, removed,
    // duplicated or rolled back, or whose metadata was altered.
    let mut entries = Vec::with_capacity(tokens.len());
    let mut skip = HashSet::with_capacity(tokens.len() + 1);
    for (path, tokens) in metadata.paths.iter().zip(&tokens) {
        match lookup(&document, tokens) {
            Found::Value(value @ Value::String(s)) => {
                skip.insert(std::ptr::from_ref(value));
                entries.push((path.as_str(), s.as_str()));
            }
            _ => return Err(FieldError::InvalidCiphertext),
        }
    }
    let meta = metadata_without_mac(
        &metadata.key,
        metadata.wrap,
        &metadata.dk,
        &metadata.context,
        &metadata.paths,
    );
    let mac = document_mac(data_key, &meta, &entries);
    if !bool::from(mac.ct_eq(&metadata.mac)) {
        return Err(FieldError::InvalidCiphertext);
    }
    // An encrypted value outside the listed paths is a copy the MAC does not cover.
    if let Some(own) = document.get(META) {
        skip.insert(std::ptr::from_ref(own));
    }
    if find_prefixed(&document, &skip).is_some() {
        return Err(FieldError::InvalidCiphertext);
    }
    drop(skip);
    drop(entries);

    let context_hash =
        context_hash(&metadata.context).map_err(|_| FieldError::InvalidCiphertext)?;
    let k_random = random_key(data_key);
    let mut materials: Vec<Material> = Vec::new();
    for (path, tokens) in metadata.paths.iter().zip(&tokens) {
        let slot = lookup_mut(&mut document, tokens).expect("found when checking the MAC");
        let body = slot
            .as_str()
            .and_then(|s| s.strip_prefix(PREFIX))
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .ok_or(FieldError::InvalidCiphertext)?;
        let Some((&[mode, json_type], rest)) = body.split_first_chunk::<2>() else {
            return Err(FieldError::InvalidCiphertext);
        };
        let plaintext = match mode {
            MODE_RANDOM => {
                if rest.len() < IV_LEN + TAG_LEN {
                    return Err(FieldError::InvalidCiphertext);
                }
                let (iv, sealed) = rest.split_at(IV_LEN);
                let aad = random_aad(json_type, path, &context_hash);
                open(&k_random, iv, &aad, sealed)?
            }
            MODE_DETERMINISTIC => {
                // Public-key mode cannot make deterministic values: one here was not made by
                // the holder of the data key.
                if metadata.wrap == Wrap::RsaOaepSha256 || rest.len() < 4 + IV_LEN + TAG_LEN {
                    return Err(FieldError::InvalidCiphertext);
                }
                let (version, rest) = rest.split_at(4);
                let version = u32::from_be_bytes(version.try_into().expect("4 bytes"));
                let (iv, sealed) = rest.split_at(IV_LEN);
                let material = match materials.iter().find(|(v, _)| *v == version) {
                    Some((_, material)) => material,
                    None => {
                        materials.push((version, deterministic(version)?));
                        &materials.last().expect("just pushed").1
                    }
                };
                let (k_enc, k_siv) = deterministic_keys(material, path);
                let aad = deterministic_aad(json_type, path);
                let plaintext = open(&k_enc, iv, &aad, sealed)?;
                let expected = synthetic_iv(&k_siv, &aad, &plaintext);
                if !bool::from(expected.as_slice().ct_eq(iv)) {
                    return Err(FieldError::InvalidCiphertext);
                }
                plaintext
            }
            _ => return Err(FieldError::InvalidCiphertext),
        };
        *slot = value_of(json_type, &plaintext)?;
    }
    document
        .as_object_mut()
        .expect("checked above")
        .shift_remove(META);
    Ok(document)
}

#[cfg(test)]
mod tests;
