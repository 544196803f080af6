//! AWS Signature Version 4 (provisional; replaced by the reviewed module).

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

#[derive(Debug)]
pub struct Malformed(pub String);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug)]
pub struct Authorization {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    signature: [u8; 32],
}

pub struct CanonicalInput<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a [(&'a str, &'a [u8])],
    pub payload_sha256_hex: &'a str,
}

pub fn parse_authorization(value: &str) -> Result<Authorization, Malformed> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| Malformed("Unsupported signature algorithm.".into()))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let missing =
        |what: &str| Malformed(format!("Authorization header requires '{what}' parameter."));
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, "aws4_request"] = parts.as_slice() else {
        return Err(Malformed(
            "Credential must have the form KEY/DATE/REGION/SERVICE/aws4_request.".into(),
        ));
    };
    let mut sig = [0u8; 32];
    hex::decode_to_slice(signature, &mut sig)
        .map_err(|_| Malformed("Signature must be 64 hex digits.".into()))?;
    Ok(Authorization {
        access_key_id: key.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers: signed.split(';').map(str::to_string).collect(),
        signature: sig,
    })
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 0 && i + 2 <= bytes.len() - 1 {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn canonical_request(
    input: &CanonicalInput,
    signed_headers: &[String],
) -> Result<String, Malformed> {
    let path = if input.path.is_empty() {
        "/"
    } else {
        input.path
    };
    let uri: Vec<String> = path.split('/').map(|s| encode(&decode(s))).collect();
    let mut query: Vec<(String, String)> = input
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(&decode(n)), encode(&decode(v)))
        })
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(n, v)| format!("{n}={v}")).collect();
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(Malformed("'Host' must be a signed header.".into()));
    }
    let mut lines = String::new();
    for name in signed_headers {
        let values: Vec<String> = input
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| {
                std::str::from_utf8(v).map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect::<Result<_, _>>()
            .map_err(|_| Malformed("A signed header is not UTF-8.".into()))?;
        if values.is_empty() {
            return Err(Malformed(format!("The signed header {name} is missing.")));
        }
        lines.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        input.method,
        uri.join("/"),
        query.join("&"),
        lines,
        signed_headers.join(";"),
        input.payload_sha256_hex
    ))
}

pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Zeroizing<[u8; 32]> {
    let k = Zeroizing::new(format!("AWS4{secret}"));
    let k = Zeroizing::new(hmac(k.as_bytes(), date.as_bytes()));
    let k = Zeroizing::new(hmac(k.as_ref(), region.as_bytes()));
    let k = Zeroizing::new(hmac(k.as_ref(), service.as_bytes()));
    Zeroizing::new(hmac(k.as_ref(), b"aws4_request"))
}

impl Authorization {
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

pub fn verify(
    secret: &str,
    auth: &Authorization,
    amz_date: &str,
    input: &CanonicalInput,
) -> Result<bool, Malformed> {
    let canonical = canonical_request(input, &auth.signed_headers)?;
    let to_sign = string_to_sign(amz_date, &auth.scope(), &canonical);
    let key = signing_key(secret, &auth.date, &auth.region, &auth.service);
    let expected = hmac(key.as_ref(), to_sign.as_bytes());
    Ok(bool::from(expected.ct_eq(&auth.signature)))
}
