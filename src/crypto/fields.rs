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

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt::{self, Write as _};

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use hkdf::Hkdf;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::context::EncryptionContext;

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

// ---------------------------------------------------------------------------------------------
// Strict parsing

/// One step of the path to the value being parsed, kept as a linked list on the stack so that a
/// path is only built when an error names it.
struct Step<'a> {
    parent: Option<&'a Step<'a>>,
    token: Token<'a>,
}

#[derive(Clone, Copy)]
enum Token<'a> {
    Key(&'a str),
    Index(usize),
}

fn step_pointer(step: Option<&Step<'_>>) -> String {
    let mut tokens = Vec::new();
    let mut at = step;
    while let Some(step) = at {
        tokens.push(step.token);
        at = step.parent;
    }
    tokens.reverse();
    pointer_of(&tokens)
}

/// The JSON Pointer of a sequence of tokens.
fn pointer_of(tokens: &[Token<'_>]) -> String {
    let mut out = String::new();
    for token in tokens {
        out.push('/');
        match token {
            Token::Key(key) => escape_token(key, &mut out),
            Token::Index(i) => {
                let _ = write!(out, "{i}");
            }
        }
    }
    out
}

fn escape_token(token: &str, out: &mut String) {
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// Builds a `Value` like serde_json's own, but refuses a member name an object already has and
/// records where, so that the error can name the path (and never the value).
struct Strict<'a> {
    at: Option<&'a Step<'a>>,
    repeated: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never hands over a non-finite number.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let step = Step {
                parent: self.at,
                token: Token::Index(items.len()),
            };
            let seed = Strict {
                at: Some(&step),
                repeated: self.repeated,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let step = Step {
                parent: self.at,
                token: Token::Key(&key),
            };
            if map.contains_key(&key) {
                *self.repeated.borrow_mut() = Some(step_pointer(Some(&step)));
                return Err(de::Error::custom("a repeated member name"));
            }
            let value = access.next_value_seed(Strict {
                at: Some(&step),
                repeated: self.repeated,
            })?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// Parses one JSON value strictly (no repeated member names, nothing after it).
fn parse_strict(text: &str) -> Result<Value, FieldError> {
    let repeated = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = Strict {
        at: None,
        repeated: &repeated,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    parsed.map_err(|err| match repeated.into_inner() {
        Some(path) => {
            FieldError::Invalid(format!("the document repeats the member name at {path}"))
        }
        None => FieldError::Invalid(syntax_message(&err)),
    })
}

/// A parse error's message: serde_json's syntax messages are fixed texts that never quote the
/// input, so they are kept; anything else is reduced to the position.
fn syntax_message(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let position = format!("line {}, column {}", err.line(), err.column());
    if matches!(err.classify(), Category::Syntax | Category::Eof) {
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        let text = err.to_string();
        if let Some(detail) = text.strip_suffix(&suffix) {
            return format!("the document is not valid JSON: {detail} ({position})");
        }
    }
    format!("the document is not valid JSON ({position})")
}

/// The OAEP label of public-key mode: `"vfe1" || canonical(context)`, so that the wrapped data key
/// opens only for this context and only through DecryptFields (plain RSA Decrypt uses no label).
pub fn oaep_label(context: &EncryptionContext) -> Result<Vec<u8>, FieldError> {
    let canonical = context.canonical().map_err(|_| {
        FieldError::Invalid("the encryption context is larger than 8192 bytes".into())
    })?;
    Ok([b"vfe1".as_slice(), &canonical].concat())
}

/// Parses a document as strict JSON: duplicate member names (at any depth) are refused, and the
/// top level must be an object.
pub fn parse_document(text: &str) -> Result<Value, FieldError> {
    let value = parse_strict(text)?;
    refuse_wide_integers(text)?;
    if !value.is_object() {
        return Err(FieldError::Invalid(
            "the document must be a JSON object".into(),
        ));
    }
    Ok(value)
}

/// Refuses integer literals beyond the 64-bit range, wherever they are: a JSON parser (this one
/// included) would turn them into doubles and silently change them, in fields that are encrypted
/// and in those that are not. Decimal fractions and exponents are doubles by nature and are kept
/// as the nearest double. Runs on text that already parsed as JSON.
fn refuse_wide_integers(text: &str) -> Result<(), FieldError> {
    let bytes = text.as_bytes();
    let (mut i, mut line, mut line_start) = (0, 1, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'\n' => {
                line += 1;
                i += 1;
                line_start = i;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let token = &text[start..i];
                let integer = !token.contains(['.', 'e', 'E']);
                if integer && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    return Err(FieldError::Invalid(format!(
                        "the document holds an integer beyond the 64-bit range (line {line}, column \
                         {}): JSON parsers round such numbers to doubles; send it as a string",
                        start - line_start + 1
                    )));
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Canonical JSON

/// RFC 8785 (JCS) canonical JSON text of `value`.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // JCS sorts by UTF-16 code units, which differs from UTF-8 byte order above U+FFFF.
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                write_canonical(member, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_number(n: &Number, out: &mut String) {
    // Integers are written with their exact decimal digits. Up to 2^53 this is what JCS writes
    // (ECMAScript prints integers below 1e21 in full). Beyond 2^53 JCS would first round to the
    // nearest double and so silently change a 64-bit id; we deliberately keep the exact value
    // instead, so that decrypting returns the integer that was encrypted.
    if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else {
        write_f64(
            n.as_f64()
                .expect("a JSON number is a u64, an i64 or an f64"),
            out,
        );
    }
}

/// ECMAScript's Number.prototype.toString for a finite double (ECMA-262 Number::toString, as JCS
/// requires).
fn write_f64(f: f64, out: &mut String) {
    if f == 0.0 {
        // Both +0 and -0.
        out.push('0');
        return;
    }
    if f.is_sign_negative() {
        out.push('-');
    }
    let x = f.abs();
    // Rust's `{:e}` gives the shortest digits that round-trip, the closest such when there is a
    // choice, as ECMAScript requires; but when the double lies exactly halfway between the two
    // closest, it rounds up where ECMAScript takes the even one (1424953923781206.25 must print
    // as ...206.2, not ...206.3). Rust's fixed-precision formatting rounds the exact value
    // half-to-even: at the same length it gives ECMAScript's choice, if that one round-trips.
    let shortest = format!("{x:e}");
    let length = shortest
        .split_once('e')
        .map_or(0, |(m, _)| m.len() - usize::from(m.contains('.')));
    let closest = format!("{x:.*e}", length.saturating_sub(1));
    let scientific = if closest != shortest && closest.parse::<f64>() == Ok(x) {
        closest
    } else {
        shortest
    };
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("{:e} always writes an exponent");
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    let k = digits.len() as i32;
    // x = 0.digits × 10^n
    let n = exponent
        .parse::<i32>()
        .expect("{:e} writes a decimal exponent")
        + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{}", if e < 0 { '-' } else { '+' }, e.abs());
    }
}

// ---------------------------------------------------------------------------------------------
// JSON Pointers

/// The tokens of an RFC 6901 pointer; the empty pointer (the whole document) is refused.
fn parse_pointer(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Err("the empty path names the whole document, which cannot be encrypted".into());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!(
            "the path {path} is not a JSON Pointer: it must start with /"
        ));
    };
    rest.split('/')
        .map(|raw| {
            let mut token = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                match c {
                    '~' => match chars.next() {
                        Some('0') => token.push('~'),
                        Some('1') => token.push('/'),
                        _ => {
                            return Err(format!(
                                "the path {path} is not a JSON Pointer: ~ must be followed by 0 or 1"
                            ));
                        }
                    },
                    c => token.push(c),
                }
            }
            Ok(token)
        })
        .collect()
}

/// An array index as RFC 6901 writes it: decimal, no leading zero, no sign, not `-`.
fn array_index(token: &str) -> Option<usize> {
    let well_formed = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    if !well_formed {
        return None;
    }
    // Too large for usize: it names no element either way.
    Some(token.parse().unwrap_or(usize::MAX))
}

enum Found<T> {
    Value(T),
    Missing,
    /// A token under an array is not a well-formed index.
    BadIndex,
}

fn lookup<'v>(document: &'v Value, tokens: &[String]) -> Found<&'v Value> {
    let mut at = document;
    for token in tokens {
        let next = match at {
            Value::Object(map) => map.get(token),
            Value::Array(items) => match array_index(token) {
                Some(i) => items.get(i),
                None => return Found::BadIndex,
            },
            _ => None,
        };
        match next {
            Some(value) => at = value,
            None => return Found::Missing,
        }
    }
    Found::Value(at)
}

fn lookup_mut<'v>(document: &'v mut Value, tokens: &[String]) -> Option<&'v mut Value> {
    let mut at = document;
    for token in tokens {
        at = match at {
            Value::Object(map) => map.get_mut(token)?,
            Value::Array(items) => items.get_mut(array_index(token)?)?,
            _ => return None,
        };
    }
    Some(at)
}

/// The first string, outside the values at `skip` (by address), that starts with [`PREFIX`]: its
/// path.
fn find_prefixed(value: &Value, skip: &HashSet<*const Value>) -> Option<String> {
    fn walk<'v>(
        value: &'v Value,
        skip: &HashSet<*const Value>,
        path: &mut Vec<Token<'v>>,
    ) -> Option<String> {
        if skip.contains(&std::ptr::from_ref(value)) {
            return None;
        }
        match value {
            Value::String(s) if s.starts_with(PREFIX) => Some(pointer_of(path)),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                path.push(Token::Index(i));
                let found = walk(item, skip, path);
                path.pop();
                found
            }),
            Value::Object(map) => map.iter().find_map(|(name, member)| {
                path.push(Token::Key(name));
                let found = walk(member, skip, path);
                path.pop();
                found
            }),
            _ => None,
        }
    }
    walk(value, skip, &mut Vec::new())
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
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    const VERSION: u32 = 3;

    fn data_key() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    /// Version 3 is bytes 0x20..0x3f (as in the vector); other versions differ.
    fn material(version: u32) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(std::array::from_fn(|i| {
            (0x20 + i as u8) ^ (version as u8).wrapping_sub(VERSION as u8)
        }))
    }

    fn current() -> Result<Material, FieldError> {
        Ok((VERSION, material(VERSION)))
    }

    fn by_version(version: u32) -> Result<Zeroizing<[u8; 32]>, FieldError> {
        Ok(material(version))
    }

    fn context() -> EncryptionContext {
        [("tenant", "42"), ("app", "billing")].into_iter().collect()
    }

    fn specs(fields: &[(&str, bool)]) -> Vec<FieldSpec> {
        fields
            .iter()
            .map(|(path, deterministic)| FieldSpec {
                path: (*path).into(),
                deterministic: *deterministic,
            })
            .collect()
    }

    fn encrypt_full(
        text: &str,
        fields: &[(&str, bool)],
        key: &[u8; 32],
        wrap: Wrap,
        context: &EncryptionContext,
    ) -> Result<Value, FieldError> {
        encrypt_document(
            parse_document(text).unwrap(),
            &specs(fields),
            key,
            ARN,
            wrap,
            b"wrapped data key",
            context,
            &current,
        )
    }

    fn encrypt(text: &str, fields: &[(&str, bool)]) -> Result<Value, FieldError> {
        encrypt_full(text, fields, &data_key(), Wrap::Kms, &context())
    }

    fn decrypt_with(document: Value, key: &[u8; 32]) -> Result<Value, FieldError> {
        let metadata = read_metadata(&document)?;
        decrypt_document(document, &metadata, key, &by_version)
    }

    fn decrypt(document: Value) -> Result<Value, FieldError> {
        decrypt_with(document, &data_key())
    }

    fn invalid(result: Result<Value, FieldError>) -> String {
        match result {
            Err(FieldError::Invalid(message)) => message,
            other => panic!("expected FieldError::Invalid, got {other:?}"),
        }
    }

    fn text(value: &Value) -> String {
        serde_json::to_string(value).unwrap()
    }

    /// Recomputes `_vfe.mac` with the data key, as only its holder can: shows that the checks
    /// behind the MAC hold on their own.
    fn remac(document: &mut Value) {
        let metadata = read_metadata(document).unwrap();
        let meta = metadata_without_mac(
            &metadata.key,
            metadata.wrap,
            &metadata.dk,
            &metadata.context,
            &metadata.paths,
        );
        let values: Vec<String> = metadata
            .paths
            .iter()
            .map(|p| document.pointer(p).unwrap().as_str().unwrap().to_owned())
            .collect();
        let entries: Vec<(&str, &str)> = metadata
            .paths
            .iter()
            .zip(&values)
            .map(|(p, v)| (p.as_str(), v.as_str()))
            .collect();
        let mac = document_mac(&data_key(), &meta, &entries);
        document[META]["mac"] = STANDARD.encode(mac).into();
    }

    // -- the fixed vector ----------------------------------------------------------------------

    const DOCUMENT: &str = r#"{"name":"Ada Lovelace","ssn":"078-05-1120","amount":1234.5,"address":{"zip":"W1","city":"London"},"tags":["a",1,true,null],"phones":["+44 20 7946 0000","+44 20 7946 0001"],"x/y":true,"spouse":null,"email":"ada@example.com"}"#;

    /// Printed by `tests/interop/fields_vector.py` (Python `cryptography`: HKDF-SHA256, AESGCM,
    /// HMAC), written independently from crypto.md §4, with the same fixed inputs as below.
    const VECTOR: &str = r#"{"name":"Ada Lovelace","ssn":"vfe1:AQFAQUJDREVGR0hJSk8xm0jlCJFRQHMvX7G5oYx06hdYpwmKDbcZnaw","amount":"vfe1:AQJAQUJDREVGR0hJSkx6e64QJ_QYz1R8vOAcYr3fxuBqVaRv","address":"vfe1:AQVAQUJDREVGR0hJSktIMmgx2gKcOkXy6-TU6WYGGMNA73PaH_LML6aOJOEHVveAmtO_iFV8YzyJDQ","tags":"vfe1:AQZAQUJDREVGR0hJSlAbSwBWsvvL0oRK3FjoGLyVlU42UEKgEZelqVaiyCcfRe4","phones":["+44 20 7946 0000","vfe1:AQFAQUJDREVGR0hJSk3UMAsRH0rwkBleZg-HfBuUTw8t1Izd9zfSA6QAf9cdUQ"],"x/y":"vfe1:AQNAQUJDREVGR0hJSlGTfQ2vD3oHmAii466H7XmDrqntvA","spouse":"vfe1:AQRAQUJDREVGR0hJSk7kUFAJJ9TldoljnRVB-Z-6yEaRjQ","email":"vfe1:AgEAAAAD6OcNPRZST9Ska1G0NzonM8OH0iAZXrVpVbCcDk8sr0scPi4xApzndPpSQQ","_vfe":{"v":1,"key":"arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","wrap":"kms","dk":"gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaX","ctx":{"app":"billing","tenant":"42"},"paths":["/address","/amount","/email","/phones/1","/spouse","/ssn","/tags","/x~1y"],"mac":"YAycPHQKVsqmUEeA6dae09BZoXHfVf0/MYs/l48Jh68="}}"#;

    #[test]
    fn matches_the_fixed_vector_and_decrypts() {
        let fields = specs(&[
            ("/ssn", false),
            ("/amount", false),
            ("/address", false),
            ("/tags", false),
            ("/phones/1", false),
            ("/x~1y", false),
            ("/spouse", false),
            ("/email", true),
        ]);
        let wrapped: Vec<u8> = (0x80..0x98).collect();
        // The n-th random-mode iv, in path order: 0x40..0x4a, then 0x4b + n.
        let mut n = 0u8;
        let mut next_iv = || {
            let mut iv: [u8; IV_LEN] = std::array::from_fn(|i| 0x40 + i as u8);
            iv[11] += n;
            n += 1;
            Ok(iv)
        };
        let encrypted = encrypt_with(
            parse_document(DOCUMENT).unwrap(),
            &fields,
            &data_key(),
            ARN,
            Wrap::Kms,
            &wrapped,
            &context(),
            &current,
            &mut next_iv,
        )
        .unwrap();
        assert_eq!(text(&encrypted), VECTOR);

        let metadata = read_metadata(&encrypted).unwrap();
        assert_eq!(metadata.dk, wrapped);
        assert_eq!(metadata.context, context());
        let decrypted = decrypt(parse_document(VECTOR).unwrap()).unwrap();
        // Members keep their order, except inside an encrypted object, which comes back in
        // canonical (sorted) order.
        assert_eq!(
            text(&decrypted),
            DOCUMENT.replace(
                r#"{"zip":"W1","city":"London"}"#,
                r#"{"city":"London","zip":"W1"}"#
            )
        );
    }

    // -- round trips ---------------------------------------------------------------------------

    #[test]
    fn every_json_type_round_trips_in_both_modes() {
        let values = [
            r#""plain""#,
            r#""""#,
            r#""ünïcödé € 😀 \"quoted\" \\ \n\t\u0001 /""#,
            r#""vfe1:not really encrypted""#,
            "0",
            "-17",
            "18446744073709551615",
            "-9223372036854775808",
            "9007199254740993",
            "1234.5",
            "-0.000001",
            "1e300",
            "true",
            "false",
            "null",
            r#"{}"#,
            r#"{"b":[1,{"c":null}],"a":"x","é":true}"#,
            "[]",
            r#"[1,"two",[3.5],{"four":4},null,false]"#,
        ];
        for deterministic in [false, true] {
            for value in values {
                let original =
                    parse_document(&format!(r#"{{"keep":1,"v":{value},"z":2}}"#)).unwrap();
                let encrypted = encrypt_document(
                    original.clone(),
                    &specs(&[("/v", deterministic)]),
                    &data_key(),
                    ARN,
                    Wrap::Kms,
                    b"dk",
                    &context(),
                    &current,
                )
                .unwrap();
                let stored = encrypted["v"].as_str().unwrap();
                assert!(stored.starts_with(PREFIX), "{value}");
                assert!(!stored.contains(value.trim_matches('"')) || value.len() < 3);
                let decrypted = decrypt(encrypted).unwrap();
                assert_eq!(decrypted, original, "{value}");
                assert_eq!(
                    canonical_json(&decrypted["v"]),
                    canonical_json(&original["v"])
                );
                let keys: Vec<&String> = decrypted.as_object().unwrap().keys().collect();
                assert_eq!(keys, ["keep", "v", "z"]);
            }
        }
    }

    #[test]
    fn paths_through_arrays_and_escaped_names_round_trip() {
        let original = r#"{"a/b":{"m~n":"x"},"list":[{"id":1},{"id":2,"s":"y"}],"":"empty name"}"#;
        let encrypted = encrypt(
            original,
            &[("/a~1b/m~0n", false), ("/list/1/s", true), ("/", false)],
        )
        .unwrap();
        assert_eq!(
            read_metadata(&encrypted).unwrap().paths,
            ["/", "/a~1b/m~0n", "/list/1/s"]
        );
        assert_eq!(text(&decrypt(encrypted).unwrap()), original);
    }

    #[test]
    fn random_mode_differs_each_time_and_public_key_mode_round_trips() {
        let doc = r#"{"ssn":"078-05-1120"}"#;
        let a = encrypt(doc, &[("/ssn", false)]).unwrap();
        let b = encrypt(doc, &[("/ssn", false)]).unwrap();
        assert_ne!(a["ssn"], b["ssn"]);
        let rsa = encrypt_full(
            doc,
            &[("/ssn", false)],
            &data_key(),
            Wrap::RsaOaepSha256,
            &context(),
        )
        .unwrap();
        assert_eq!(rsa[META]["wrap"], "rsa-oaep-sha256");
        assert_eq!(read_metadata(&rsa).unwrap().wrap, Wrap::RsaOaepSha256);
        assert_eq!(text(&decrypt(rsa).unwrap()), doc);
    }

    #[test]
    fn the_material_callback_is_asked_only_for_deterministic_fields() {
        let never = || -> Result<Material, FieldError> { panic!("material asked for") };
        let doc = parse_document(r#"{"a":1}"#).unwrap();
        let fields = specs(&[("/a", false)]);
        encrypt_document(
            doc.clone(),
            &fields,
            &data_key(),
            ARN,
            Wrap::Kms,
            b"dk",
            &context(),
            &never,
        )
        .unwrap();
        // Its error is the caller's to choose, and comes back as is.
        let failing = || -> Result<Material, FieldError> { Err(FieldError::Rng) };
        let fields = specs(&[("/a", true)]);
        assert_eq!(
            encrypt_document(
                doc,
                &fields,
                &data_key(),
                ARN,
                Wrap::Kms,
                b"dk",
                &context(),
                &failing
            ),
            Err(FieldError::Rng)
        );
    }

    // -- tampering -----------------------------------------------------------------------------

    const RECORD: &str = r#"{"id":7,"ssn":"078-05-1120","card":"4111111111111111","notes":["n"]}"#;

    fn record() -> Value {
        encrypt(RECORD, &[("/ssn", false), ("/card", false)]).unwrap()
    }

    #[test]
    fn the_untouched_record_decrypts() {
        assert_eq!(text(&decrypt(record()).unwrap()), RECORD);
    }

    #[test]
    fn a_swapped_pair_of_values_fails() {
        let mut doc = record();
        let ssn = doc["ssn"].take();
        doc["ssn"] = doc["card"].take();
        doc["card"] = ssn;
        assert_eq!(decrypt(doc.clone()), Err(FieldError::InvalidCiphertext));
        // Even with a MAC made for the swap, each value is bound to its path.
        remac(&mut doc);
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
    }

    #[test]
    fn a_value_moved_to_another_path_fails() {
        let mut doc = record();
        let moved = doc["ssn"].take();
        doc.as_object_mut().unwrap().shift_remove("ssn");
        doc["tax_id"] = moved;
        assert_eq!(decrypt(doc.clone()), Err(FieldError::InvalidCiphertext));
        // Listed under its new path, with a fresh MAC: the AAD still names /ssn.
        doc[META]["paths"] = serde_json::json!(["/card", "/tax_id"]);
        remac(&mut doc);
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
    }

    #[test]
    fn a_value_copied_into_a_document_with_another_context_fails() {
        let other: EncryptionContext = [("tenant", "43"), ("app", "billing")].into_iter().collect();
        let source = record();
        let mut target = encrypt_full(
            RECORD,
            &[("/ssn", false), ("/card", false)],
            &data_key(),
            Wrap::Kms,
            &other,
        )
        .unwrap();
        target["ssn"] = source["ssn"].clone();
        assert_eq!(decrypt(target.clone()), Err(FieldError::InvalidCiphertext));
        // Even under the same data key and a recomputed MAC: the AAD holds the context's hash.
        remac(&mut target);
        assert_eq!(decrypt(target), Err(FieldError::InvalidCiphertext));
    }

    #[test]
    fn a_deleted_field_fails() {
        let mut doc = record();
        doc.as_object_mut().unwrap().shift_remove("card");
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
        let mut doc = record();
        doc["card"] = Value::Null;
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
    }

    #[test]
    fn a_duplicated_field_fails() {
        // The MAC still verifies (it covers the listed paths); the copy is refused on its own.
        let mut doc = record();
        doc["backup"] = doc["ssn"].clone();
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
        let mut doc = record();
        doc["notes"][0] = doc["card"].clone();
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
    }

    #[test]
    fn changed_metadata_fails() {
        let changes: [(&str, Value); 6] = [
            ("ctx", serde_json::json!({"app": "billing", "tenant": "43"})),
            ("ctx", serde_json::json!({})),
            ("paths", serde_json::json!(["/card"])),
            ("key", Value::from(ARN.replace("0f1e", "1f1e"))),
            ("dk", Value::from(STANDARD.encode(b"another wrapped key"))),
            ("wrap", Value::from("rsa-oaep-sha256")),
        ];
        for (member, value) in changes {
            let mut doc = record();
            doc[META][member] = value;
            read_metadata(&doc).unwrap();
            assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext), "{member}");
        }
        let mut doc = record();
        let mut mac = read_metadata(&doc).unwrap().mac;
        mac[0] ^= 1;
        doc[META]["mac"] = STANDARD.encode(mac).into();
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
    }

    #[test]
    fn another_data_key_fails() {
        let mut other = data_key();
        other[31] ^= 1;
        assert_eq!(
            decrypt_with(record(), &other),
            Err(FieldError::InvalidCiphertext)
        );
    }

    #[test]
    fn a_rolled_back_value_fails() {
        // Two encryptions of the same document under the same data key and wrapping: the older
        // value of a field does not fit the newer MAC.
        let old = encrypt(RECORD, &[("/ssn", false), ("/card", false)]).unwrap();
        let newer = RECORD.replace("078-05-1120", "219-09-9999");
        let mut doc = encrypt(&newer, &[("/ssn", false), ("/card", false)]).unwrap();
        assert_eq!(text(&decrypt(doc.clone()).unwrap()), newer);
        doc["ssn"] = old["ssn"].clone();
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
    }

    #[test]
    fn a_malformed_value_behind_a_valid_mac_fails() {
        let body_of = |doc: &Value| {
            URL_SAFE_NO_PAD
                .decode(&doc["ssn"].as_str().unwrap()[5..])
                .unwrap()
        };
        let rebuilt = |body: &[u8]| {
            let mut doc = record();
            doc["ssn"] = encode_value(body).into();
            remac(&mut doc);
            decrypt(doc)
        };
        let body = body_of(&record());
        for mode in [0u8, 3, 0xff] {
            let mut changed = body.clone();
            changed[0] = mode;
            assert_eq!(
                rebuilt(&changed),
                Err(FieldError::InvalidCiphertext),
                "mode {mode}"
            );
        }
        for json_type in [0u8, 2, 5, 7] {
            let mut changed = body.clone();
            changed[1] = json_type;
            assert_eq!(
                rebuilt(&changed),
                Err(FieldError::InvalidCiphertext),
                "type {json_type}"
            );
        }
        let mut flipped = body.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(rebuilt(&flipped), Err(FieldError::InvalidCiphertext));
        assert_eq!(rebuilt(&body[..20]), Err(FieldError::InvalidCiphertext));
        assert_eq!(rebuilt(&[]), Err(FieldError::InvalidCiphertext));
        // Not base64url, or not the prefix.
        let mut doc = record();
        doc["ssn"] = "vfe1:***".into();
        remac(&mut doc);
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
        // A type byte that does not match what the plaintext decodes to.
        assert_eq!(value_of(2, b"\"text\""), Err(FieldError::InvalidCiphertext));
        assert_eq!(value_of(5, b"[1]"), Err(FieldError::InvalidCiphertext));
        assert_eq!(value_of(3, b"true").unwrap(), Value::Bool(true));
        assert_eq!(value_of(1, b"\"text\"").unwrap(), Value::from("\"text\""));
    }

    // -- deterministic mode --------------------------------------------------------------------

    fn deterministic_doc(
        text: &str,
        paths: &[&str],
        key: &[u8; 32],
        context: &EncryptionContext,
        version: u32,
    ) -> Value {
        let fields: Vec<(&str, bool)> = paths.iter().map(|p| (*p, true)).collect();
        encrypt_document(
            parse_document(text).unwrap(),
            &specs(&fields),
            key,
            ARN,
            Wrap::Kms,
            b"dk",
            context,
            &|| Ok((version, material(version))),
        )
        .unwrap()
    }

    #[test]
    fn deterministic_values_are_equal_across_documents_at_the_same_path_and_version() {
        let other_key = [9u8; 32];
        let other_context: EncryptionContext = [("tenant", "7")].into_iter().collect();
        let a = deterministic_doc(
            r#"{"email":"a@x.org","n":1}"#,
            &["/email"],
            &data_key(),
            &context(),
            3,
        );
        let b = deterministic_doc(
            r#"{"z":0,"email":"a@x.org"}"#,
            &["/email"],
            &other_key,
            &other_context,
            3,
        );
        assert_eq!(a["email"], b["email"]);
        // Other value, other path, other version: other ciphertexts.
        let c = deterministic_doc(
            r#"{"email":"b@x.org"}"#,
            &["/email"],
            &data_key(),
            &context(),
            3,
        );
        let d = deterministic_doc(
            r#"{"mail":"a@x.org"}"#,
            &["/mail"],
            &data_key(),
            &context(),
            3,
        );
        let e = deterministic_doc(
            r#"{"email":"a@x.org"}"#,
            &["/email"],
            &data_key(),
            &context(),
            4,
        );
        assert_ne!(a["email"], c["email"]);
        assert_ne!(a["email"], d["mail"]);
        assert_ne!(a["email"], e["email"]);
        // Equal values at two paths of one document differ too.
        let f = deterministic_doc(
            r#"{"p":"same","q":"same"}"#,
            &["/p", "/q"],
            &data_key(),
            &context(),
            3,
        );
        assert_ne!(f["p"], f["q"]);
        // Each decrypts, with the material of the version its body names.
        let asked = std::cell::Cell::new(0);
        for (doc, key) in [(a, data_key()), (b, other_key), (e, data_key())] {
            let metadata = read_metadata(&doc).unwrap();
            let callback = |v: u32| {
                asked.set(v);
                by_version(v)
            };
            let plain = decrypt_document(doc, &metadata, &key, &callback).unwrap();
            assert_eq!(plain["email"], "a@x.org");
        }
        assert_eq!(asked.get(), 4);
    }

    #[test]
    fn deterministic_values_fail_under_other_material() {
        let doc = deterministic_doc(
            r#"{"email":"a@x.org"}"#,
            &["/email"],
            &data_key(),
            &context(),
            3,
        );
        let metadata = read_metadata(&doc).unwrap();
        let wrong = |_: u32| Ok(material(5));
        assert_eq!(
            decrypt_document(doc.clone(), &metadata, &data_key(), &wrong),
            Err(FieldError::InvalidCiphertext)
        );
        let gone = |_: u32| Err(FieldError::InvalidCiphertext);
        assert_eq!(
            decrypt_document(doc, &metadata, &data_key(), &gone),
            Err(FieldError::InvalidCiphertext)
        );
    }

    #[test]
    fn a_deterministic_value_whose_iv_does_not_match_fails() {
        // A value sealed under the right key with a chosen iv (not the synthetic one) opens, but
        // is refused: the iv must be HMAC(K_siv, AAD || plaintext).
        let mut doc = deterministic_doc(
            r#"{"email":"a@x.org"}"#,
            &["/email"],
            &data_key(),
            &context(),
            3,
        );
        let (k_enc, _) = deterministic_keys(&material(3), "/email");
        let aad = deterministic_aad(1, "/email");
        let iv = [7u8; IV_LEN];
        let mut body = vec![MODE_DETERMINISTIC, 1];
        body.extend_from_slice(&3u32.to_be_bytes());
        body.extend_from_slice(&iv);
        body.extend_from_slice(&seal(&k_enc, iv, &aad, b"a@x.org").unwrap());
        doc["email"] = encode_value(&body).into();
        remac(&mut doc);
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
    }

    #[test]
    fn public_key_mode_refuses_deterministic_paths() {
        let message = invalid(encrypt_full(
            r#"{"email":"a@x.org"}"#,
            &[("/email", true)],
            &data_key(),
            Wrap::RsaOaepSha256,
            &context(),
        ));
        assert_eq!(
            message,
            "deterministic mode needs the key's material inside vaultd; public-key mode is random only"
        );
        // And a deterministic value in an rsa-oaep-sha256 document does not decrypt, even with a
        // valid MAC.
        let mut doc = deterministic_doc(
            r#"{"email":"a@x.org"}"#,
            &["/email"],
            &data_key(),
            &context(),
            3,
        );
        doc[META]["wrap"] = "rsa-oaep-sha256".into();
        remac(&mut doc);
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
    }

    // -- refusals when encrypting --------------------------------------------------------------

    #[test]
    fn encryption_refuses_bad_paths() {
        let doc = r#"{"a":{"b":1},"ssn":"x","list":[1,2],"0":"zero"}"#;
        let cases: &[(&[&str], &str)] = &[
            (&[], "no paths to encrypt"),
            (
                &[""],
                "the empty path names the whole document, which cannot be encrypted",
            ),
            (
                &["ssn"],
                "the path ssn is not a JSON Pointer: it must start with /",
            ),
            (
                &["/a~2"],
                "the path /a~2 is not a JSON Pointer: ~ must be followed by 0 or 1",
            ),
            (
                &["/a~"],
                "the path /a~ is not a JSON Pointer: ~ must be followed by 0 or 1",
            ),
            (
                &["/_vfe"],
                "the path /_vfe is inside the reserved member _vfe",
            ),
            (
                &["/_vfe/key"],
                "the path /_vfe/key is inside the reserved member _vfe",
            ),
            (&["/nope"], "no value at /nope"),
            (&["/a/c"], "no value at /a/c"),
            (&["/ssn/x"], "no value at /ssn/x"),
            (&["/list/2"], "no value at /list/2"),
            (&["/ssn", "/ssn"], "the path /ssn is listed twice"),
            (
                &["/a/b", "/a"],
                "the path /a/b is inside /a, which is encrypted whole",
            ),
            (
                &["/a", "/ssn", "/a/b"],
                "the path /a/b is inside /a, which is encrypted whole",
            ),
        ];
        for (paths, expected) in cases {
            let fields: Vec<(&str, bool)> = paths.iter().map(|p| (*p, false)).collect();
            assert_eq!(invalid(encrypt(doc, &fields)), *expected, "{paths:?}");
        }
        for bad in ["/list/01", "/list/-", "/list/+1", "/list/"] {
            assert!(
                invalid(encrypt(doc, &[(bad, false)])).contains("does not name an array element"),
                "{bad}"
            );
        }
        // "01" and "-" are ordinary member names in an object.
        let doc2 = r#"{"01":"x","-":"y"}"#;
        assert_eq!(
            text(&decrypt(encrypt(doc2, &[("/01", false), ("/-", false)]).unwrap()).unwrap()),
            doc2
        );
        // Not an ancestor: a name that merely starts with the same characters.
        let doc3 = r#"{"a":"x","ab":"y","a/b":"z"}"#;
        let fields = [("/a", false), ("/ab", false), ("/a~1b", false)];
        assert_eq!(
            text(&decrypt(encrypt(doc3, &fields).unwrap()).unwrap()),
            doc3
        );
    }

    #[test]
    fn encryption_refuses_too_many_paths() {
        let members: Vec<String> = (0..=MAX_PATHS).map(|i| format!(r#""f{i}":{i}"#)).collect();
        let doc = format!("{{{}}}", members.join(","));
        let paths: Vec<String> = (0..=MAX_PATHS).map(|i| format!("/f{i}")).collect();
        let fields: Vec<(&str, bool)> = paths.iter().map(|p| (p.as_str(), false)).collect();
        assert_eq!(
            invalid(encrypt(&doc, &fields)),
            "more than 256 paths to encrypt"
        );
        let encrypted = encrypt(&doc, &fields[..MAX_PATHS]).unwrap();
        assert_eq!(text(&decrypt(encrypted).unwrap()), doc);
    }

    #[test]
    fn encryption_refuses_an_encrypted_document_and_reserved_strings() {
        let encrypted = record();
        assert_eq!(
            invalid(encrypt(&text(&encrypted), &[("/id", false)])),
            "the document is already field-encrypted"
        );
        let message = invalid(encrypt(
            r#"{"ssn":"x","notes":["ok","vfe1:copied from elsewhere"]}"#,
            &[("/ssn", false)],
        ));
        assert_eq!(
            message,
            "the string at /notes/1 starts with the reserved prefix vfe1:"
        );
        assert!(!message.contains("copied"));
        // At an encrypted path, or inside an encrypted value, it is just data.
        let doc = r#"{"ssn":"vfe1:x","o":{"s":"vfe1:y"}}"#;
        let encrypted = encrypt(doc, &[("/ssn", false), ("/o", false)]).unwrap();
        assert_eq!(text(&decrypt(encrypted).unwrap()), doc);
        // The document must be an object.
        let fields = specs(&[("/0", false)]);
        let array = serde_json::json!(["x"]);
        assert_eq!(
            encrypt_document(
                array,
                &fields,
                &data_key(),
                ARN,
                Wrap::Kms,
                b"dk",
                &context(),
                &current
            ),
            Err(FieldError::Invalid(
                "the document must be a JSON object".into()
            ))
        );
    }

    #[test]
    fn an_oversized_context_is_refused() {
        let big = "x".repeat(9000);
        let large: EncryptionContext = [("k", big.as_str())].into_iter().collect();
        let result = encrypt_full(
            r#"{"a":1}"#,
            &[("/a", false)],
            &data_key(),
            Wrap::Kms,
            &large,
        );
        assert!(invalid(result).contains("8192"));
    }

    // -- parsing -------------------------------------------------------------------------------

    #[test]
    fn parse_document_refuses_repeated_member_names_at_any_depth() {
        assert_eq!(
            parse_document(r#"{"a":"secret-1","a":"secret-2"}"#),
            Err(FieldError::Invalid(
                "the document repeats the member name at /a".into()
            ))
        );
        assert_eq!(
            parse_document(r#"{"x":1,"a":{"l":[0,{"b/~":1,"c":2,"b/~":3}]}}"#),
            Err(FieldError::Invalid(
                "the document repeats the member name at /a/l/1/b~1~0".into()
            ))
        );
        // Equal names in different objects are fine.
        parse_document(r#"{"a":{"a":1},"b":{"a":2}}"#).unwrap();
    }

    #[test]
    fn parse_document_is_strict_and_never_quotes_the_input() {
        let message = invalid(parse_document(
            "{\n  \"a\": \"secret\",\n  \"b\": secret\n}",
        ));
        assert!(
            message.starts_with("the document is not valid JSON"),
            "{message}"
        );
        assert!(message.ends_with("(line 3, column 8)"), "{message}");
        assert!(!message.contains("secret"), "{message}");
        for bad in [
            "",
            "{",
            r#"{"a":1,}"#,
            r#"{"a":1} {}"#,
            r#"{"a":01}"#,
            r#"{"a":NaN}"#,
            r#"{"a":1e999}"#,
            r#"{'a':1}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":"\ud800"}"#,
        ] {
            assert!(
                invalid(parse_document(bad)).starts_with("the document is not valid JSON"),
                "{bad}"
            );
        }
        for not_object in ["[]", "1", "\"s\"", "null"] {
            assert_eq!(
                invalid(parse_document(not_object)),
                "the document must be a JSON object"
            );
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(invalid(parse_document(&deep)).contains("recursion limit"));
    }

    #[test]
    fn parse_document_keeps_member_order_and_numbers() {
        let doc = r#"{"z":1,"a":-2,"m":1.5,"big":18446744073709551615,"neg":-9223372036854775808}"#;
        let value = parse_document(doc).unwrap();
        assert_eq!(text(&value), doc);
        assert!(value["big"].is_u64());
        assert!(value["neg"].is_i64());
    }

    // -- metadata ------------------------------------------------------------------------------

    #[test]
    fn read_metadata_checks_the_shape_of_vfe() {
        let good = record();
        let metadata = read_metadata(&good).unwrap();
        assert_eq!(metadata.key, ARN);
        assert_eq!(metadata.wrap, Wrap::Kms);
        assert_eq!(metadata.dk, b"wrapped data key");
        assert_eq!(metadata.paths, ["/card", "/ssn"]);
        assert_eq!(
            read_metadata(&serde_json::json!({"a": 1})),
            Err(FieldError::Invalid(
                "the document has no _vfe member: it is not field-encrypted".into()
            ))
        );
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "",
                Value::from("x"),
                "the document's _vfe member is not an object",
            ),
            (
                "v",
                Value::from(2),
                "the _vfe member's v is not 1: an unknown format version",
            ),
            (
                "v",
                Value::from(1.0),
                "the _vfe member's v is not 1: an unknown format version",
            ),
            (
                "v",
                Value::from("1"),
                "the _vfe member's v is not 1: an unknown format version",
            ),
            (
                "key",
                Value::from(""),
                "the _vfe member's key must be a non-empty string",
            ),
            (
                "key",
                Value::from(5),
                "the _vfe member's key must be a non-empty string",
            ),
            (
                "wrap",
                Value::from("aes"),
                "the _vfe member's wrap must be \"kms\" or \"rsa-oaep-sha256\"",
            ),
            (
                "dk",
                Value::from("not base64!"),
                "the _vfe member's dk must be base64 (standard, padded)",
            ),
            (
                "dk",
                Value::from("AAA"),
                "the _vfe member's dk must be base64 (standard, padded)",
            ),
            (
                "dk",
                Value::from(""),
                "the _vfe member's dk must be base64 (standard, padded)",
            ),
            (
                "ctx",
                serde_json::json!({"a": 1}),
                "the _vfe member's ctx must be an object of strings",
            ),
            (
                "ctx",
                serde_json::json!(["a"]),
                "the _vfe member's ctx must be an object of strings",
            ),
            (
                "paths",
                serde_json::json!([]),
                "the _vfe member's paths must be a non-empty array of at most 256 strings",
            ),
            (
                "paths",
                serde_json::json!(["/a", 1]),
                "the _vfe member's paths must be a non-empty array of at most 256 strings",
            ),
            (
                "paths",
                serde_json::json!("/a"),
                "the _vfe member's paths must be a non-empty array of at most 256 strings",
            ),
            (
                "paths",
                serde_json::json!(["/ssn", "/card"]),
                "the _vfe member's paths must be sorted by their UTF-8 bytes, each once",
            ),
            (
                "paths",
                serde_json::json!(["/card", "/card"]),
                "the _vfe member's paths must be sorted by their UTF-8 bytes, each once",
            ),
            (
                "paths",
                serde_json::json!(["card"]),
                "the _vfe member's paths: the path card is not a JSON Pointer: it must start with /",
            ),
            (
                "paths",
                serde_json::json!([""]),
                "the _vfe member's paths: the empty path names the whole document, which cannot be encrypted",
            ),
            (
                "paths",
                serde_json::json!(["/_vfe/mac"]),
                "the _vfe member's paths: the path /_vfe/mac is inside the reserved member _vfe",
            ),
            (
                "mac",
                Value::from(STANDARD.encode([0u8; 31])),
                "the _vfe member's mac must be base64 of 32 bytes",
            ),
            (
                "mac",
                Value::from(1),
                "the _vfe member's mac must be base64 of 32 bytes",
            ),
            (
                "extra",
                Value::from(1),
                "the _vfe member has an unknown member at /_vfe/extra",
            ),
        ];
        for (member, value, expected) in cases {
            let mut doc = good.clone();
            if member.is_empty() {
                doc[META] = value;
            } else {
                doc[META][member] = value;
            }
            assert_eq!(
                read_metadata(&doc),
                Err(FieldError::Invalid(expected.into())),
                "{member}"
            );
        }
        for member in ["v", "key", "wrap", "dk", "ctx", "paths", "mac"] {
            let mut doc = good.clone();
            doc[META].as_object_mut().unwrap().shift_remove(member);
            assert_eq!(
                read_metadata(&doc),
                Err(FieldError::Invalid(format!(
                    "the _vfe member lacks its \"{member}\" member"
                )))
            );
        }
    }

    // -- canonical JSON ------------------------------------------------------------------------

    fn number(f: f64) -> String {
        canonical_json(&Value::from(f))
    }

    #[test]
    // RFC 8785's inputs as the RFC writes them, more digits than a double holds included.
    #[allow(clippy::excessive_precision)]
    fn canonical_numbers_follow_rfc_8785() {
        // RFC 8785 §3.2.2 and Appendix B (IEEE 754 bit patterns and their JCS text).
        let vectors: [(u64, &str); 24] = [
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            // Exactly halfway between ...206.2 and ...206.3: ECMAScript takes the even digit.
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (bits, expected) in vectors {
            assert_eq!(number(f64::from_bits(bits)), expected, "{bits:#018x}");
        }
        let examples = [
            (333333333.33333329, "333333333.3333333"),
            (1E30, "1e+30"),
            (4.50, "4.5"),
            (2e-3, "0.002"),
            (0.000000000000000000000000001, "1e-27"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (-0.0, "0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (-1e-6, "-0.000001"),
            (123.0, "123"),
            (0.1, "0.1"),
        ];
        for (f, expected) in examples {
            assert_eq!(number(f), expected, "{f:e}");
        }
    }

    #[test]
    fn canonical_integers_keep_their_exact_digits() {
        assert_eq!(canonical_json(&Value::from(0u64)), "0");
        assert_eq!(canonical_json(&Value::from(-42i64)), "-42");
        assert_eq!(
            canonical_json(&Value::from(9007199254740992u64)),
            "9007199254740992"
        );
        // Beyond 2^53 JCS would round through a double (9007199254740993 → ...992); we keep the
        // exact value on purpose.
        assert_eq!(
            canonical_json(&Value::from(9007199254740993u64)),
            "9007199254740993"
        );
        assert_eq!(
            canonical_json(&Value::from(u64::MAX)),
            "18446744073709551615"
        );
        assert_eq!(
            canonical_json(&Value::from(i64::MIN)),
            "-9223372036854775808"
        );
        // What serde_json parses as a double (a fraction, an exponent, -0) is a double.
        let parsed = parse_document(r#"{"a":-0,"b":1E2,"c":4.50,"d":2e-3,"e":1e21}"#).unwrap();
        assert_eq!(
            canonical_json(&parsed),
            r#"{"a":0,"b":100,"c":4.5,"d":0.002,"e":1e+21}"#
        );
    }

    /// serde_json parses decimals to the nearest double only with its `float_roundtrip` feature;
    /// without it about a third of shortest-digit texts come back one ulp off, so a number
    /// (encrypted or not) can change between EncryptFields and DecryptFields. Cargo.toml enables
    /// it; this test fails if it goes.
    #[test]
    fn numbers_parse_to_the_nearest_double_and_round_trip() {
        let parsed =
            parse_document(r#"{"a":333333333.33333329,"b":9.999999999999997e+22}"#).unwrap();
        assert_eq!(
            canonical_json(&parsed),
            r#"{"a":333333333.3333333,"b":9.999999999999997e+22}"#
        );
        let mut x: u64 = 0x0123_4567_89ab_cdef;
        for _ in 0..200 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if !f.is_finite() {
                continue;
            }
            let doc = format!(r#"{{"v":{},"w":{}}}"#, number(f), number(f));
            let decrypted = decrypt(encrypt(&doc, &[("/v", false)]).unwrap()).unwrap();
            assert_eq!(decrypted["v"].as_f64(), Some(f), "{f:e}");
            assert_eq!(decrypted["w"].as_f64(), Some(f), "{f:e}");
        }
    }

    #[test]
    fn canonical_strings_and_sorting_follow_rfc_8785() {
        // RFC 8785 §3.2.2 (the number examples are checked above from their doubles).
        let input = r#"{"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}"#;
        assert_eq!(
            canonical_json(&parse_document(input).unwrap()),
            r#"{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
        // RFC 8785 §3.2.3: names sorted by UTF-16 code units (the emoji's surrogates sort before
        // U+FB33, unlike its UTF-8 bytes).
        let input = r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#;
        assert_eq!(
            canonical_json(&parse_document(input).unwrap()),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
        assert_eq!(
            canonical_json(&Value::from("\u{8}\u{c}\t\r\n\u{0}\u{1f}\u{7f}/")),
            r#""\b\f\t\r\n\u0000\u001f/""#.replace("/\"", "\u{7f}/\"")
        );
        assert_eq!(
            canonical_json(&serde_json::json!({"b": [], "a": {}})),
            r#"{"a":{},"b":[]}"#
        );
    }

    #[test]
    fn errors_and_debug_output_hold_no_secret() {
        let secret = "078-05-1120";
        let doc = parse_document(&format!(r#"{{"ssn":"{secret}","n":"vfe1:{secret}"}}"#)).unwrap();
        let err = encrypt_document(
            doc,
            &specs(&[("/ssn", false)]),
            &data_key(),
            ARN,
            Wrap::Kms,
            b"dk",
            &context(),
            &current,
        )
        .unwrap_err();
        assert!(!err.to_string().contains(secret));
        assert!(!format!("{err:?}").contains(secret));
        let err = parse_document(&format!(r#"{{"ssn":"{secret}","ssn":1}}"#)).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(secret));
        let metadata = read_metadata(&record()).unwrap();
        assert!(!format!("{metadata:?}").contains(secret));
    }

    #[test]
    fn integers_beyond_64_bits_are_refused_not_rounded() {
        for text in [
            r#"{"id": 123456789012345678901234567890}"#,
            r#"{"a": {"b": [1, 18446744073709551616]}}"#,
            r#"{"n": -9223372036854775809}"#,
        ] {
            let err = parse_document(text).unwrap_err().to_string();
            assert!(err.contains("64-bit"), "{err}");
            assert!(!err.contains("1234567890123"), "{err}");
        }
        // The 64-bit range itself, decimals, exponents, and digits inside strings are fine.
        let ok = r#"{"a": 18446744073709551615, "b": -9223372036854775808, "c": 1.5e300,
                     "d": "123456789012345678901234567890", "e\"": 0.1}"#;
        let value = parse_document(ok).unwrap();
        assert_eq!(value["a"].as_u64(), Some(u64::MAX));
        assert_eq!(value["b"].as_i64(), Some(i64::MIN));
    }
}
