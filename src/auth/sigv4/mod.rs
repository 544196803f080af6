//! AWS Signature Version 4, as the AWS SDKs and CLI sign requests to non-S3 services: parsing the
//! `Authorization` header, building the canonical request and string to sign, deriving the signing
//! key, and checking a signature in constant time. Also a signer, for tests of the AWS-protocol
//! front end.
//!
//! ```text
//! Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEKEY234567/20261127/us-east-1/kms/aws4_request,
//!                SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=<64 lowercase hex>
//! ```
//!
//! The reference is botocore's `SigV4Auth` (what boto3 and the AWS CLI run), checked against AWS's
//! published examples. Pure functions over what the front end read off the wire: this module owns
//! no clock, no key lookup and no HTTP parsing. The front end checks the rest itself: that the
//! access key exists, that the scope's region and service are the ones it serves, that
//! `X-Amz-Date` is within the allowed skew, and it hashes the body it received (never trusting a
//! client's `X-Amz-Content-SHA256`).
//!
//! Canonicalization, exactly as botocore does it for services other than S3:
//! - URI: dot segments removed *and empty segments dropped* (`//a//` → `/a/`), then every byte but
//!   the unreserved ones and `/` percent-encoded, so an already-encoded path is encoded twice
//!   (`/a%20b` → `/a%2520b`); an empty path is `/`.
//! - Query: split on `&`, each name and value percent-decoded and re-encoded (RFC 3986, only
//!   unreserved characters kept), a parameter without `=` given an empty value, sorted by encoded
//!   name then value.
//! - Headers: the signed ones only, lowercase names in sorted order, values trimmed with inner runs
//!   of whitespace collapsed to one space, repeated headers joined with `,`.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{
    clock::parse_basic_iso8601,
    crypto::{hmac_sha256, sha256},
};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The last element of every credential scope.
pub const TERMINATOR: &str = "aws4_request";
pub const AUTHORIZATION_HEADER: &str = "authorization";
pub const DATE_HEADER: &str = "x-amz-date";
pub const SECURITY_TOKEN_HEADER: &str = "x-amz-security-token";

/// A request whose signature cannot even be checked: the front end answers
/// IncompleteSignatureException (or InvalidSignatureException for a date mismatch) with this
/// message, worded as AWS words it where AWS's wording is known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(String);

impl Malformed {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

/// The parsed `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    /// `YYYYMMDD`, from the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lowercased, in the order the client listed them.
    pub signed_headers: Vec<String>,
    /// Private so that an `Authorization` only comes from parsing; read by [`verify`].
    signature: [u8; 32],
}

impl Authorization {
    /// The credential scope: `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        scope(&self.date, &self.region, &self.service)
    }
}

// auth.md: signatures are never logged, and `Debug` output ends up in logs.
impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("access_key_id", &self.access_key_id)
            .field("date", &self.date)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signed_headers", &self.signed_headers)
            .finish_non_exhaustive()
    }
}

fn scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/{TERMINATOR}")
}

/// Parses `AWS4-HMAC-SHA256 Credential=<id>/<date>/<region>/<service>/aws4_request,
/// SignedHeaders=<a;b;c>, Signature=<64 lowercase hex>`. The parameters may come in any order,
/// separated by `,` with or without spaces (AWS accepts both); each must appear exactly once.
pub fn parse_authorization(value: &str) -> Result<Authorization, Malformed> {
    let params = value
        .strip_prefix(ALGORITHM)
        .filter(|rest| rest.starts_with(' '))
        .ok_or_else(|| {
            Malformed::new(format!(
                "Authorization header must start with '{ALGORITHM} ' followed by its parameters."
            ))
        })?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in params.split(',') {
        let part = part.trim_matches(' ');
        let Some((name, value)) = part.split_once('=') else {
            return Err(Malformed::new(format!(
                "Authorization header parameter '{part}' is not of the form name=value."
            )));
        };
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(Malformed::new(format!(
                    "Authorization header has an unknown parameter '{name}'."
                )));
            }
        };
        if slot.replace(value).is_some() {
            return Err(Malformed::new(format!(
                "Authorization header has the '{name}' parameter more than once."
            )));
        }
    }
    // AWS names every missing parameter at once.
    let missing: Vec<String> = [
        ("Credential", credential.is_none()),
        ("Signature", signature.is_none()),
        ("SignedHeaders", signed_headers.is_none()),
    ]
    .into_iter()
    .filter(|(_, absent)| *absent)
    .map(|(name, _)| format!("Authorization header requires '{name}' parameter."))
    .collect();
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(Malformed::new(missing.join(" ")));
    };

    let elements: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = elements[..] else {
        return Err(Malformed::new(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if access_key_id.is_empty()
        || access_key_id.len() > 128
        || !access_key_id.bytes().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(Malformed::new("Credential has an invalid access key id."));
    }
    if date.len() != 8 || !date.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Malformed::new(format!(
            "Credential should be scoped to a valid date (YYYYMMDD), not '{date}'."
        )));
    }
    let is_name = |s: &str| {
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
    };
    if !is_name(region) {
        return Err(Malformed::new(
            "Credential should be scoped to a valid region.",
        ));
    }
    if !is_name(service) {
        return Err(Malformed::new(
            "Credential should be scoped to a valid service.",
        ));
    }
    if terminator != TERMINATOR {
        return Err(Malformed::new(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not \
             '{terminator}'."
        )));
    }

    let signed_headers: Vec<String> = signed_headers
        .split(';')
        .map(str::to_ascii_lowercase)
        .collect();
    if signed_headers
        .iter()
        .any(|name| name.is_empty() || !name.bytes().all(is_token_char))
    {
        return Err(Malformed::new(
            "SignedHeaders must be header names separated by ';'.",
        ));
    }

    let mut bytes = [0u8; 32];
    let lowercase_hex = signature.len() == 64
        && signature
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    if !lowercase_hex || hex::decode_to_slice(signature, &mut bytes).is_err() {
        return Err(Malformed::new(
            "Signature must be 64 lowercase hexadecimal characters.",
        ));
    }

    Ok(Authorization {
        access_key_id: access_key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature: bytes,
    })
}

/// An HTTP header name's characters (RFC 9110 `tchar`).
fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Everything of the HTTP request that the signature covers. No `Debug`: the headers hold the
/// session token.
#[derive(Clone, Copy)]
pub struct CanonicalInput<'a> {
    pub method: &'a str,
    /// The raw path as on the request line, without the query.
    pub path: &'a str,
    /// The raw query string, without `?`; may be empty.
    pub query: &'a str,
    /// Every header as received, names in any case; repeated names allowed.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// Lowercase hex SHA-256 of the body as received.
    pub payload_sha256_hex: &'a str,
}

/// The canonical request over the headers named in `signed_headers`. Fails if one of them is
/// absent from the request or has a value that is not UTF-8, or if `host` is not signed: AWS
/// requires it, and without it a request could be replayed against another endpoint.
pub fn canonical_request(
    input: &CanonicalInput<'_>,
    signed_headers: &[String],
) -> Result<String, Malformed> {
    // Sorted as the canonical form needs them; a signer lists them sorted anyway.
    let mut names: Vec<String> = signed_headers
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    if !names.iter().any(|n| n == "host") {
        return Err(Malformed::new(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }

    let mut out = String::with_capacity(256);
    out.push_str(input.method);
    out.push('\n');
    out.push_str(&canonical_uri(input.path));
    out.push('\n');
    out.push_str(&canonical_query(input.query));
    out.push('\n');
    for name in &names {
        out.push_str(name);
        out.push(':');
        let mut found = false;
        for (_, value) in input
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            let value = std::str::from_utf8(value).map_err(|_| {
                Malformed::new(format!(
                    "Signed header '{name}' has a value that is not UTF-8."
                ))
            })?;
            if found {
                out.push(',');
            }
            found = true;
            push_trimmed(&mut out, value);
        }
        if !found {
            return Err(Malformed::new(format!(
                "Signed header '{name}' is not present in the request."
            )));
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(input.payload_sha256_hex);
    Ok(out)
}

/// botocore's path normalization (`remove_dot_segments`), then each byte but the unreserved ones
/// and `/` percent-encoded. Unlike RFC 3986 it also drops empty segments, and a trailing `..`
/// leaves no trailing slash (`/a/b/..` → `/a`): a verifier that followed the RFC would refuse
/// what boto3 signed.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    let mut normalized = String::with_capacity(path.len());
    if path.starts_with('/') {
        normalized.push('/');
    }
    normalized.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        normalized.push('/');
    }
    let mut out = String::with_capacity(normalized.len());
    uri_encode(&mut out, normalized.as_bytes(), true);
    out
}

/// Names and values decoded and re-encoded, so that any encoding of the same query gives one
/// canonical form; sorted by encoded name, then encoded value.
fn canonical_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let mut encoded = (String::new(), String::new());
            uri_encode(&mut encoded.0, &percent_decode(name), false);
            uri_encode(&mut encoded.1, &percent_decode(value), false);
            encoded
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(query.len() + 16);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// RFC 3986 encoding: unreserved characters (and `/` when `keep_slash`) as they are, every other
/// byte as `%XX` with uppercase hex.
fn uri_encode(out: &mut String, bytes: &[u8], keep_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// `%XX` to its byte; a `%` not followed by two hex digits stays as it is, and `+` stays `+`
/// (it means a space only in form bodies, not in SigV4's query).
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_digit = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        match (bytes[i], hex_digit(i + 1), hex_digit(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The value trimmed, inner runs of whitespace collapsed to one space. "Whitespace" as botocore's
/// Python `str.split()` sees it: Unicode White_Space plus the ASCII separators U+001C–U+001F.
fn push_trimmed(out: &mut String, value: &str) {
    let is_space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
    for (i, word) in value.split(is_space).filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex SHA-256 of the canonical request>`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let hash = hex::encode(sha256(canonical_request.as_bytes()));
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{hash}")
}

/// The HMAC chain `"AWS4" + secret` → date → region → service → `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Zeroizing<[u8; 32]> {
    let mut seed = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret.as_bytes());
    let k_date = Zeroizing::new(hmac_sha256(&seed, date.as_bytes()));
    let k_region = Zeroizing::new(hmac_sha256(k_date.as_ref(), region.as_bytes()));
    let k_service = Zeroizing::new(hmac_sha256(k_region.as_ref(), service.as_bytes()));
    Zeroizing::new(hmac_sha256(k_service.as_ref(), TERMINATOR.as_bytes()))
}

/// The date must be `YYYYMMDDTHHMMSSZ` and the day AWS signed under, as AWS requires.
fn check_date(amz_date: &str, scope_date: &str) -> Result<(), Malformed> {
    if parse_basic_iso8601(amz_date).is_none() {
        return Err(Malformed::new(format!(
            "Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
        )));
    }
    if amz_date[..8] != *scope_date {
        return Err(Malformed::new(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{scope_date}' != '{}', from '{amz_date}'.",
            &amz_date[..8]
        )));
    }
    Ok(())
}

/// Checks the signature in constant time: `Ok(false)` for a well-formed request whose signature
/// does not match (wrong secret, or anything signed changed), `Err` when it cannot be checked.
/// `amz_date` is the request's `X-Amz-Date`.
pub fn verify(
    secret: &str,
    auth: &Authorization,
    amz_date: &str,
    input: &CanonicalInput<'_>,
) -> Result<bool, Malformed> {
    check_date(amz_date, &auth.date)?;
    let canonical = canonical_request(input, &auth.signed_headers)?;
    let to_sign = string_to_sign(amz_date, &auth.scope(), &canonical);
    let key = signing_key(secret, &auth.date, &auth.region, &auth.service);
    let expected = hmac_sha256(key.as_ref(), to_sign.as_bytes());
    Ok(expected.ct_eq(&auth.signature).into())
}

/// The `Authorization` header value for a request, signed over `signed_headers` (listed lowercase
/// and sorted, as botocore lists them). For tests of the AWS-protocol front end.
pub fn sign(
    access_key_id: &str,
    secret: &str,
    amz_date: &str,
    region: &str,
    service: &str,
    signed_headers: &[&str],
    input: &CanonicalInput<'_>,
) -> Result<String, Malformed> {
    let date = amz_date.get(..8).unwrap_or_default();
    check_date(amz_date, date)?;
    let mut names: Vec<String> = signed_headers
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    let canonical = canonical_request(input, &names)?;
    let scope = scope(date, region, service);
    let to_sign = string_to_sign(amz_date, &scope, &canonical);
    let key = signing_key(secret, date, region, service);
    let signature = hex::encode(hmac_sha256(key.as_ref(), to_sign.as_bytes()));
    Ok(format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={signature}",
        names.join(";")
    ))
}

#[cfg(test)]
mod tests;
