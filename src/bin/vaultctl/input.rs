//! Flag values the way the AWS CLI reads them: binary values from `fileb://PATH`, `file://PATH`,
//! `-` (stdin) or the command line; encryption contexts, tags and simulation context entries in
//! shorthand (`k1=v1,k2=v2`, `TagKey=k,TagValue=v`) or JSON; policy documents as JSON text or
//! `file://PATH`; times in RFC 3339 or Unix seconds. Every failure is a message naming the flag.
//!
//! A literal or `file://` plaintext is taken as its UTF-8 bytes by default, as AWS CLI v1 and
//! AWS CLI v2 with `--cli-binary-format raw-in-base64-out` read it; `--cli-binary-format base64`
//! (AWS CLI v2's default) decodes it from base64 first. A ciphertext literal is always base64.

use std::{
    collections::HashMap,
    io::{IsTerminal, Read},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Map, Value};
use vaultd::pb;
use zeroize::Zeroizing;

/// How a literal or `file://` binary value is read: the AWS CLI's `--cli-binary-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BinaryFormat {
    /// The text's UTF-8 bytes (AWS CLI v1 behaviour).
    #[value(name = "raw-in-base64-out")]
    RawInBase64Out,
    /// The bytes the text encodes in base64 (AWS CLI v2's default).
    #[value(name = "base64")]
    Base64,
}

/// A plaintext: `fileb://PATH` (the file's bytes), `-` (stdin), `file://PATH` (its text) or a
/// literal; the text is taken as its UTF-8 bytes, or decoded from base64 with
/// [`BinaryFormat::Base64`]. Absent, it is read from stdin unless stdin is a terminal.
pub fn plaintext(flag: &str, value: Option<&str>, format: BinaryFormat) -> Result<Vec<u8>, String> {
    let text_bytes = |text: &str| match format {
        BinaryFormat::RawInBase64Out => Ok(text.as_bytes().to_vec()),
        BinaryFormat::Base64 => base64(flag, text).map_err(|e| {
            format!(
                "{e}; --cli-binary-format base64 is in effect (give \
                 --cli-binary-format raw-in-base64-out to pass text as is)"
            )
        }),
    };
    let bytes = match value {
        Some(value) => match source(value) {
            Source::Binary(path) => read_file(flag, path)?,
            Source::Text(path) => text_bytes(&read_text_file(flag, path)?)?,
            Source::Stdin => read_stdin(flag)?,
            Source::Literal(text) => text_bytes(text)?,
        },
        None if std::io::stdin().is_terminal() => {
            return Err(format!(
                "{flag} is missing: give a value, fileb://PATH, file://PATH or -, or pipe the \
                 plaintext on stdin"
            ));
        }
        None => read_stdin(flag)?,
    };
    non_empty(flag, bytes)
}

/// A binary value vaultctl itself prints in base64 (a ciphertext blob, a signature, a MAC, an
/// import token, wrapped key material): `fileb://PATH` (raw bytes), `-` (raw bytes on stdin),
/// `file://PATH` (base64 text) or a base64 literal, as `--query CiphertextBlob --output text`
/// prints it.
pub fn blob(flag: &str, value: &str) -> Result<Vec<u8>, String> {
    let bytes = match source(value) {
        Source::Binary(path) => read_file(flag, path)?,
        Source::Stdin => read_stdin(flag)?,
        Source::Text(path) => base64(flag, &read_text_file(flag, path)?)?,
        Source::Literal(text) => base64(flag, text)?,
    };
    non_empty(flag, bytes)
}

/// A public key, DER SubjectPublicKeyInfo: as [`blob`] (`fileb://PATH`, `-`, `file://PATH` of
/// base64, a base64 literal), or PEM (`-----BEGIN PUBLIC KEY-----`, as `openssl pkey -pubout` and
/// `get-public-key --output pem` write it) from any of them.
pub fn public_key(flag: &str, value: &str) -> Result<Vec<u8>, String> {
    let (bytes, is_text) = match source(value) {
        Source::Binary(path) => (read_file(flag, path)?, false),
        Source::Stdin => (read_stdin(flag)?, false),
        Source::Text(path) => (read_text_file(flag, path)?.into_bytes(), true),
        Source::Literal(text) => (text.as_bytes().to_vec(), true),
    };
    // DER starts with a SEQUENCE tag (0x30), never with a dash: the PEM armor decides.
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| format!("{flag}: the PEM is not ASCII text"))?;
        return non_empty(flag, pem_body(flag, text, "PUBLIC KEY")?);
    }
    if is_text {
        let text = std::str::from_utf8(&bytes).map_err(|_| format!("{flag}: not base64 text"))?;
        return non_empty(flag, base64(flag, text)?);
    }
    non_empty(flag, bytes)
}

/// The DER inside the one PEM block labelled `label`.
fn pem_body(flag: &str, text: &str, label: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text
        .trim()
        .strip_prefix(&begin)
        .and_then(|rest| rest.trim_end().strip_suffix(&end))
        .ok_or_else(|| format!("{flag}: expected one PEM block {begin} ... {end}"))?;
    base64(flag, body)
}

/// An encryption context: shorthand `k1=v1,k2=v2`, a JSON object, or `file://PATH` holding either.
/// Absent, it is empty.
pub fn encryption_context(
    flag: &str,
    value: Option<&str>,
) -> Result<HashMap<String, String>, String> {
    let Some(value) = value else {
        return Ok(HashMap::new());
    };
    let text = text_argument(flag, value)?;
    let text = text.trim();
    if text.starts_with('{') {
        let map = match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(format!("{flag}: expected a JSON object of strings")),
            Err(e) => return Err(format!("{flag}: invalid JSON object: {e}")),
        };
        return map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k, v)),
                other => Err(format!(
                    "{flag}: the value of {k:?} must be a string, not {other}"
                )),
            })
            .collect();
    }
    let pairs = shorthand(flag, text)?;
    let mut context = HashMap::new();
    for (k, v) in pairs {
        if context.insert(k.clone(), v).is_some() {
            return Err(format!("{flag}: the key {k:?} is given twice"));
        }
    }
    Ok(context)
}

/// Repeated `KEY=VALUE` flags (`encrypt`, `decrypt`, `fields`): an encryption context, each key
/// once, split at the first `=`, small enough to encode.
pub fn context_pairs(
    flag: &str,
    values: &[String],
) -> Result<vaultd::crypto::context::EncryptionContext, String> {
    use vaultd::crypto::context::EncryptionContext;
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(values.len());
    for value in values {
        let (key, pair_value) = value
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| format!("{flag}: expected KEY=VALUE, got {value:?}"))?;
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(format!("{flag}: the key {key:?} is given twice"));
        }
        pairs.push((key, pair_value));
    }
    let context: EncryptionContext = pairs.into_iter().collect();
    context.canonical().map_err(|_| {
        format!(
            "{flag}: the encryption context is too large (at most {} bytes encoded)",
            EncryptionContext::MAX_ENCODED_LEN
        )
    })?;
    Ok(context)
}

/// Tags: each value is shorthand `TagKey=k,TagValue=v`, a JSON list
/// `[{"TagKey":"k","TagValue":"v"}]`, or `file://PATH` holding either.
pub fn tags(flag: &str, values: &[String]) -> Result<Vec<pb::Tag>, String> {
    let pairs = key_value_list(flag, values, ("TagKey", "TagValue"))?;
    Ok(pairs
        .into_iter()
        .map(|(tag_key, tag_value)| pb::Tag { tag_key, tag_value })
        .collect())
}

/// Tags as SSM spells them: each value is shorthand `Key=k,Value=v`, a JSON list
/// `[{"Key":"k","Value":"v"}]`, or `file://PATH` holding either.
pub fn resource_tags(flag: &str, values: &[String]) -> Result<Vec<pb::ResourceTag>, String> {
    let pairs = key_value_list(flag, values, ("Key", "Value"))?;
    Ok(pairs
        .into_iter()
        .map(|(key, value)| pb::ResourceTag { key, value })
        .collect())
}

/// Key-value structures named `names` (`("TagKey", "TagValue")`): each value is shorthand
/// `TagKey=k,TagValue=v`, a JSON list of such objects, or `file://PATH` holding either.
fn key_value_list(
    flag: &str,
    values: &[String],
    names: (&str, &str),
) -> Result<Vec<(String, String)>, String> {
    let (key_name, value_name) = names;
    let mut pairs = Vec::new();
    for value in values {
        let text = text_argument(flag, value)?;
        let text = text.trim();
        if text.starts_with('[') {
            let json: Vec<HashMap<String, String>> = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| serde_json::from_value(v).ok())
                .ok_or_else(|| {
                    format!(
                        "{flag}: expected a JSON list like \
                         [{{\"{key_name}\":\"k\",\"{value_name}\":\"v\"}}]"
                    )
                })?;
            for object in json {
                pairs.push(key_value(flag, object.into_iter().collect(), names)?);
            }
        } else {
            pairs.push(key_value(flag, shorthand(flag, text)?, names)?);
        }
    }
    Ok(pairs)
}

/// Tag keys: plain words, or a JSON list of strings.
pub fn tag_keys(flag: &str, values: &[String]) -> Result<Vec<String>, String> {
    let keys = string_list(flag, values)?;
    if keys.is_empty() {
        return Err(format!("{flag}: give at least one tag key"));
    }
    Ok(keys)
}

/// A list flag (`--action-names a b`): plain words, or a JSON list of strings.
pub fn string_list(flag: &str, values: &[String]) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    for value in values {
        if value.trim_start().starts_with('[') {
            let list: Vec<String> = serde_json::from_str::<Value>(value)
                .ok()
                .and_then(|v| serde_json::from_value(v).ok())
                .ok_or_else(|| format!("{flag}: expected a JSON list of strings"))?;
            items.extend(list);
        } else {
            items.push(value.clone());
        }
    }
    Ok(items)
}

/// A JSON document such as a policy: the text itself or `file://PATH`. It must be a JSON object;
/// it is sent as written.
pub fn json_document(flag: &str, value: &str) -> Result<String, String> {
    let text = text_argument(flag, value)?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(_)) => Ok(text),
        Ok(_) => Err(format!("{flag}: expected a JSON object")),
        Err(e) => Err(format!(
            "{flag}: invalid JSON ({e}); give the document as JSON text or file://PATH"
        )),
    }
}

/// Context entries of a policy simulation: each value is shorthand
/// `ContextKeyName=aws:username,ContextKeyValues=alice,bob,ContextKeyType=stringList` (words
/// after ContextKeyValues= without a `NAME=` of their own are more values), a JSON list of
/// `{"ContextKeyName", "ContextKeyValues", "ContextKeyType"}`, or `file://PATH` holding either.
pub fn context_entries(flag: &str, values: &[String]) -> Result<Vec<pb::ContextEntry>, String> {
    const FIELDS: [&str; 3] = ["ContextKeyName", "ContextKeyValues", "ContextKeyType"];
    let shape = || {
        format!(
            "{flag}: an entry is ContextKeyName=KEY,ContextKeyValues=V1,V2,ContextKeyType=TYPE \
             or a JSON list of such objects"
        )
    };
    let mut entries = Vec::new();
    for value in values {
        let text = text_argument(flag, value)?;
        let text = text.trim();
        if text.starts_with('[') {
            let list: Vec<Map<String, Value>> = serde_json::from_str(text).map_err(|_| shape())?;
            for object in list {
                let mut entry = pb::ContextEntry::default();
                for (name, value) in object {
                    match (name.as_str(), value) {
                        ("ContextKeyName", Value::String(v)) => entry.context_key_name = v,
                        ("ContextKeyType", Value::String(v)) => entry.context_key_type = v,
                        ("ContextKeyValues", v) => {
                            entry.context_key_values =
                                serde_json::from_value(v).map_err(|_| shape())?;
                        }
                        _ => return Err(shape()),
                    }
                }
                entries.push(entry);
            }
            continue;
        }
        let parsed = list_shorthand(text, &FIELDS, "ContextKeyValues").ok_or_else(shape)?;
        let mut entry = pb::ContextEntry {
            context_key_values: parsed.list,
            ..Default::default()
        };
        for (name, value) in parsed.fields {
            match name {
                "ContextKeyName" => entry.context_key_name = value,
                _ => entry.context_key_type = value,
            }
        }
        entries.push(entry);
    }
    if let Some(entry) = entries.iter().find(|e| e.context_key_name.is_empty()) {
        return Err(format!(
            "{flag}: an entry has no ContextKeyName (values {:?})",
            entry.context_key_values
        ));
    }
    Ok(entries)
}

/// Parameter filters (SSM's `ParameterStringFilter`): each value is shorthand
/// `Key=Type,Option=Equals,Values=SecureString,String` (words after `Values=` without a `NAME=` of
/// their own are more values, as are those of `Values=[a,b]`; `Option` may be left out), a JSON
/// list of `{"Key", "Option", "Values"}`, or `file://PATH` holding either.
pub fn parameter_filters(
    flag: &str,
    values: &[String],
) -> Result<Vec<pb::ParameterStringFilter>, String> {
    let shape = || {
        format!(
            "{flag}: a filter is Key=KEY,Option=OPTION,Values=V1,V2 or a JSON list of \
             {{\"Key\", \"Option\", \"Values\"}} objects"
        )
    };
    let mut filters = Vec::new();
    for value in values {
        let text = text_argument(flag, value)?;
        let text = text.trim();
        if text.starts_with('[') {
            let list: Vec<Map<String, Value>> = serde_json::from_str(text).map_err(|_| shape())?;
            for object in list {
                let mut filter = pb::ParameterStringFilter::default();
                for (name, value) in object {
                    match (name.as_str(), value) {
                        ("Key", Value::String(v)) => filter.key = v,
                        ("Option", Value::String(v)) => filter.option = v,
                        ("Values", v) => {
                            filter.values = serde_json::from_value(v).map_err(|_| shape())?;
                        }
                        _ => return Err(shape()),
                    }
                }
                filters.push(filter);
            }
            continue;
        }
        let parsed =
            list_shorthand(text, &["Key", "Option", "Values"], "Values").ok_or_else(shape)?;
        let mut filter = pb::ParameterStringFilter {
            values: parsed.list,
            ..Default::default()
        };
        for (name, value) in parsed.fields {
            match name {
                "Key" => filter.key = value,
                _ => filter.option = value,
            }
        }
        filters.push(filter);
    }
    if filters.iter().any(|f| f.key.is_empty()) {
        return Err(format!("{flag}: every filter needs a Key"));
    }
    Ok(filters)
}

/// Secrets Manager filters (ListSecrets, BatchGetSecretValue): each value is shorthand
/// `Key=name,Values=app/,db` (words after `Values=` without a `NAME=` of their own are more values,
/// as are those of `Values=[a,b]`), a JSON list of `{"Key", "Values"}`, or `file://PATH` holding
/// either. Keys as AWS spells them: description, name, tag-key, tag-value, primary-region,
/// owning-service, all.
pub fn secret_filters(flag: &str, values: &[String]) -> Result<Vec<pb::Filter>, String> {
    use crate::enums::AwsEnum;
    let shape = || {
        format!(
            "{flag}: a filter is Key=KEY,Values=V1,V2 or a JSON list of {{\"Key\", \"Values\"}} \
             objects"
        )
    };
    let key = |name: &str| {
        pb::FilterNameStringType::from_aws(name)
            .map(i32::from)
            .ok_or_else(|| {
                let known: Vec<String> = pb::FilterNameStringType::values()
                    .into_iter()
                    .filter_map(AwsEnum::aws_name)
                    .collect();
                format!(
                    "{flag}: unknown filter key {name:?}; use one of {}",
                    known.join(", ")
                )
            })
    };
    let mut filters = Vec::new();
    for value in values {
        let text = text_argument(flag, value)?;
        let text = text.trim();
        if text.starts_with('[') {
            let list: Vec<Map<String, Value>> = serde_json::from_str(text).map_err(|_| shape())?;
            for object in list {
                let mut filter = pb::Filter::default();
                let mut has_key = false;
                for (name, value) in object {
                    match (name.as_str(), value) {
                        ("Key", Value::String(v)) => {
                            filter.key = key(&v)?;
                            has_key = true;
                        }
                        ("Values", v) => {
                            filter.values = serde_json::from_value(v).map_err(|_| shape())?;
                        }
                        _ => return Err(shape()),
                    }
                }
                if !has_key {
                    return Err(format!("{flag}: every filter needs a Key"));
                }
                filters.push(filter);
            }
            continue;
        }
        let parsed = list_shorthand(text, &["Key", "Values"], "Values").ok_or_else(shape)?;
        let Some((_, name)) = parsed.fields.first() else {
            return Err(format!("{flag}: every filter needs a Key"));
        };
        filters.push(pb::Filter {
            key: key(name)?,
            values: parsed.list,
        });
    }
    Ok(filters)
}

/// A binary secret value, as the AWS CLI reads a blob: `fileb://PATH` (the file's bytes), `-`
/// (stdin's bytes), `file://PATH` (base64 text) or a base64 literal. The value is a secret: no
/// message quotes any of it (not even the character base64 decoding stopped at).
pub fn secret_binary(flag: &str, value: &str) -> Result<Vec<u8>, String> {
    let decode = |text: &str| {
        let compact: Zeroizing<String> =
            Zeroizing::new(text.chars().filter(|c| !c.is_ascii_whitespace()).collect());
        STANDARD.decode(compact.as_bytes()).map_err(|_| {
            format!(
                "{flag}: not valid base64; give fileb://PATH for a file of raw bytes, or the \
                 value in base64"
            )
        })
    };
    let bytes = match source(value) {
        Source::Binary(path) => read_file(flag, path)?,
        Source::Stdin => read_stdin(flag)?,
        Source::Text(path) => decode(&Zeroizing::new(read_text_file(flag, path)?))?,
        Source::Literal(text) => decode(text)?,
    };
    non_empty(flag, bytes)
}

/// Rotation rules: shorthand `AutomaticallyAfterDays=30,Duration=2h,ScheduleExpression=rate(10
/// days)` (a word without a `NAME=` of its own continues the value before it, so
/// `ScheduleExpression=cron(0 16 1,15 * ? *)` needs no quotes), a JSON object of those fields, or
/// `file://PATH` holding either.
pub fn rotation_rules(flag: &str, value: &str) -> Result<pb::RotationRulesType, String> {
    const FIELDS: [&str; 3] = ["AutomaticallyAfterDays", "Duration", "ScheduleExpression"];
    let shape = || {
        format!(
            "{flag}: rotation rules are AutomaticallyAfterDays=DAYS,Duration=WINDOW,\
             ScheduleExpression=EXPRESSION (any of them) or a JSON object of those fields"
        )
    };
    let text = text_argument(flag, value)?;
    let text = text.trim();
    let mut fields: Vec<(String, Value)> = Vec::new();
    if text.starts_with('{') {
        let object: Map<String, Value> = serde_json::from_str(text).map_err(|_| shape())?;
        fields.extend(object);
    } else {
        for token in text.split(',') {
            let named = token
                .split_once('=')
                .filter(|(name, _)| FIELDS.contains(&name.trim()));
            match (named, fields.last_mut()) {
                (Some((name, value)), _) => {
                    fields.push((name.trim().to_string(), Value::from(value)));
                }
                (None, Some((_, Value::String(previous)))) => {
                    previous.push(',');
                    previous.push_str(token);
                }
                (None, _) => return Err(shape()),
            }
        }
    }
    let mut rules = pb::RotationRulesType::default();
    for (name, value) in fields {
        match (name.as_str(), value) {
            ("AutomaticallyAfterDays", Value::Number(n)) => {
                rules.automatically_after_days = Some(n.as_i64().ok_or_else(shape)?);
            }
            ("AutomaticallyAfterDays", Value::String(n)) => {
                let days = n.trim().parse().map_err(|_| {
                    format!("{flag}: AutomaticallyAfterDays must be a number of days, not {n:?}")
                })?;
                rules.automatically_after_days = Some(days);
            }
            ("Duration", Value::String(v)) => rules.duration = unquote(&v),
            ("ScheduleExpression", Value::String(v)) => rules.schedule_expression = unquote(&v),
            _ => return Err(shape()),
        }
    }
    Ok(rules)
}

/// A shorthand value without the quotes around it, if any (`"cron(0 16 1,15 * ? *)"`).
fn unquote(value: &str) -> String {
    let value = value.trim();
    ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
        .unwrap_or(value)
        .to_string()
}

/// A text value such as a parameter's: `file://PATH` (the file's text, exactly, final newline
/// included, as the AWS CLI reads it), `fileb://PATH` (the same; it must be UTF-8 text), or the
/// literal itself.
pub fn text_value(flag: &str, value: &str) -> Result<String, String> {
    match source(value) {
        Source::Text(path) => read_text_file(flag, path),
        Source::Binary(path) => String::from_utf8(read_file(flag, path)?)
            .map_err(|_| format!("{flag}: {path} is not UTF-8 text; the value must be text")),
        Source::Stdin | Source::Literal(_) => Ok(value.to_string()),
    }
}

/// A structure in the AWS shorthand whose one list field takes the words after it.
struct ListShorthand<'f> {
    /// The other fields, in order.
    fields: Vec<(&'f str, String)>,
    /// The values of the list field.
    list: Vec<String>,
}

/// Parses `A=x,L=v1,v2,B=y`, where `fields` are the names allowed and `list_field` (one of them)
/// the one that takes the words following it: a word that is not `NAME=...` of an allowed name
/// continues the list, and `L=[v1,v2]` is the same list. `None` when the text has another shape.
fn list_shorthand<'f>(
    text: &str,
    fields: &[&'f str],
    list_field: &str,
) -> Option<ListShorthand<'f>> {
    let mut parsed = ListShorthand {
        fields: Vec::new(),
        list: Vec::new(),
    };
    let mut in_list = false;
    for token in text.split(',') {
        let named = token.split_once('=').and_then(|(name, value)| {
            let name = name.trim();
            fields.iter().find(|f| **f == name).map(|f| (*f, value))
        });
        match named {
            Some((name, value)) if name == list_field => {
                parsed.list.push(value.to_string());
                in_list = true;
            }
            Some((name, value)) => {
                parsed.fields.push((name, value.to_string()));
                in_list = false;
            }
            None if in_list => parsed.list.push(token.to_string()),
            None => return None,
        }
    }
    // The AWS shorthand for a list: L=[a,b].
    if let Some(first) = parsed.list.first_mut() {
        *first = first.strip_prefix('[').unwrap_or(first).to_string();
    }
    if let Some(last) = parsed.list.last_mut() {
        *last = last.strip_suffix(']').unwrap_or(last).to_string();
    }
    Some(parsed)
}

/// A point in time (a clap value parser): RFC 3339 (`2024-05-01T12:00:00Z`,
/// `2024-05-01T14:00:00.5+02:00`) or Unix seconds (`1714564800`).
pub fn timestamp(text: &str) -> Result<prost_types::Timestamp, String> {
    let invalid = || {
        format!(
            "{text:?} is not a time: give RFC 3339 (2024-05-01T12:00:00Z, \
             2024-05-01T14:00:00+02:00) or Unix seconds"
        )
    };
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = text.parse().map_err(|_| invalid())?;
        return Ok(prost_types::Timestamp { seconds, nanos: 0 });
    }
    let (seconds, nanos) = vaultd::clock::parse_rfc3339_parts(text).ok_or_else(invalid)?;
    Ok(prost_types::Timestamp { seconds, nanos })
}

fn key_value(
    flag: &str,
    fields: Vec<(String, String)>,
    (key_name, value_name): (&str, &str),
) -> Result<(String, String), String> {
    let (mut key, mut value) = (None, None);
    for (name, text) in fields {
        match name.as_str() {
            n if n == key_name && key.is_none() => key = Some(text),
            n if n == value_name && value.is_none() => value = Some(text),
            _ => {
                return Err(format!(
                    "{flag}: unexpected {name:?}; a tag is {key_name}=KEY,{value_name}=VALUE"
                ));
            }
        }
    }
    match (key, value) {
        (Some(key), Some(value)) => Ok((key, value)),
        _ => Err(format!(
            "{flag}: a tag is {key_name}=KEY,{value_name}=VALUE"
        )),
    }
}

/// `k1=v1,k2=v2` → pairs, in order. A value may be empty and may contain `=`.
fn shorthand(flag: &str, text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!(
                "{flag}: expected KEY=VALUE pairs separated by commas, or JSON; got {pair:?}"
            )),
        })
        .collect()
}

enum Source<'a> {
    Binary(&'a str),
    Text(&'a str),
    Stdin,
    Literal(&'a str),
}

fn source(value: &str) -> Source<'_> {
    if let Some(path) = value.strip_prefix("fileb://") {
        Source::Binary(path)
    } else if let Some(path) = value.strip_prefix("file://") {
        Source::Text(path)
    } else if value == "-" {
        Source::Stdin
    } else {
        Source::Literal(value)
    }
}

/// A structured flag's text: the file's for `file://PATH`, else the value itself.
fn text_argument(flag: &str, value: &str) -> Result<String, String> {
    match value.strip_prefix("file://") {
        Some(path) => read_text_file(flag, path),
        None => Ok(value.to_string()),
    }
}

fn read_file(flag: &str, path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{flag}: cannot read {path}: {e}"))
}

fn read_text_file(flag: &str, path: &str) -> Result<String, String> {
    String::from_utf8(read_file(flag, path)?).map_err(|_| {
        format!("{flag}: {path} is not UTF-8 text; use fileb://{path} for binary data")
    })
}

fn read_stdin(flag: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{flag}: cannot read stdin: {e}"))?;
    Ok(bytes)
}

fn base64(flag: &str, text: &str) -> Result<Vec<u8>, String> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map_err(|e| {
        format!("{flag}: not valid base64 ({e}); use fileb://PATH for a file of raw bytes")
    })
}

fn non_empty(flag: &str, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if bytes.is_empty() {
        Err(format!("{flag}: the value is empty"))
    } else {
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_context_shorthand_and_json_agree() {
        let short = encryption_context("--ec", Some("app=billing,env=prod")).unwrap();
        let json =
            encryption_context("--ec", Some(r#"{"env": "prod", "app": "billing"}"#)).unwrap();
        assert_eq!(short, json);
        assert_eq!(short["app"], "billing");
        assert!(encryption_context("--ec", Some("app")).is_err());
        assert!(encryption_context("--ec", Some("a=1,a=2")).is_err());
        assert!(encryption_context("--ec", Some(r#"{"a": 1}"#)).is_err());
    }

    #[test]
    fn tags_in_shorthand_and_json() {
        let tags = tags(
            "--tags",
            &[
                "TagKey=team,TagValue=".into(),
                r#"[{"TagKey":"env","TagValue":"a=b"}]"#.into(),
            ],
        )
        .unwrap();
        assert_eq!(
            tags.iter()
                .map(|t| (t.tag_key.as_str(), t.tag_value.as_str()))
                .collect::<Vec<_>>(),
            [("team", ""), ("env", "a=b")]
        );
        assert!(super::tags("--tags", &["Key=team,Value=x".into()]).is_err());
        assert!(super::tags("--tags", &["TagKey=team".into()]).is_err());
    }

    #[test]
    fn ssm_tags_are_key_and_value() {
        let tags = resource_tags(
            "--tags",
            &[
                "Key=team,Value=a=b".into(),
                r#"[{"Key":"env","Value":"prod"}]"#.into(),
            ],
        )
        .unwrap();
        assert_eq!(
            tags.iter()
                .map(|t| (t.key.as_str(), t.value.as_str()))
                .collect::<Vec<_>>(),
            [("team", "a=b"), ("env", "prod")]
        );
        let err = resource_tags("--tags", &["TagKey=team,TagValue=x".into()]).unwrap_err();
        assert!(err.contains("Key=KEY,Value=VALUE"), "{err}");
        assert!(resource_tags("--tags", &["Key=team".into()]).is_err());
    }

    #[test]
    fn parameter_filters_in_shorthand_and_json_agree() {
        let short = parameter_filters(
            "--parameter-filters",
            &["Key=Type,Option=Equals,Values=SecureString,String".into()],
        )
        .unwrap();
        let json = parameter_filters(
            "--parameter-filters",
            &[
                r#"[{"Key": "Type", "Option": "Equals", "Values": ["SecureString", "String"]}]"#
                    .into(),
            ],
        )
        .unwrap();
        assert_eq!(short, json);
        assert_eq!(short[0].values, ["SecureString", "String"]);
        let two = parameter_filters(
            "--pf",
            &[
                "Key=Name,Option=BeginsWith,Values=[/app,/b=c]".into(),
                "Values=x,Key=Label".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            (two[0].key.as_str(), two[0].option.as_str()),
            ("Name", "BeginsWith")
        );
        assert_eq!(two[0].values, ["/app", "/b=c"]);
        assert_eq!((two[1].key.as_str(), two[1].option.as_str()), ("Label", ""));
        assert_eq!(two[1].values, ["x"]);
        assert!(parameter_filters("--pf", &["Option=Equals,Values=a".into()]).is_err());
        assert!(parameter_filters("--pf", &["Type".into()]).is_err());
        assert!(parameter_filters("--pf", &[r#"[{"Key": 1}]"#.into()]).is_err());
    }

    #[test]
    fn secret_filters_in_shorthand_and_json_agree() {
        let short = secret_filters(
            "--filters",
            &[
                "Key=name,Values=app/,db".into(),
                "Key=tag-key,Values=[team]".into(),
            ],
        )
        .unwrap();
        let json = secret_filters(
            "--filters",
            &[r#"[{"Key": "name", "Values": ["app/", "db"]}, {"Key": "tag-key", "Values": ["team"]}]"#
                .into()],
        )
        .unwrap();
        assert_eq!(short, json);
        assert_eq!(short[0].key, pb::FilterNameStringType::Name as i32);
        assert_eq!(short[0].values, ["app/", "db"]);
        assert_eq!(short[1].key, pb::FilterNameStringType::TagKey as i32);
        let err = secret_filters("--filters", &["Key=colour,Values=blue".into()]).unwrap_err();
        assert!(err.contains("tag-key"), "{err}");
        assert!(secret_filters("--filters", &["Key=Name,Values=x".into()]).is_err());
        assert!(secret_filters("--filters", &["Values=x".into()]).is_err());
        assert!(secret_filters("--filters", &[r#"[{"Values": ["x"]}]"#.into()]).is_err());
    }

    #[test]
    fn secret_binaries_are_files_or_base64_and_errors_quote_none_of_them() {
        assert_eq!(
            secret_binary("--secret-binary", "AAEC/w==").unwrap(),
            [0, 1, 2, 255]
        );
        let err = secret_binary("--secret-binary", "hunter2!").unwrap_err();
        assert!(err.contains("not valid base64"), "{err}");
        assert!(!err.contains('!') && !err.contains("33"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.bin");
        std::fs::write(&path, [0xff, 0, 0x80]).unwrap();
        let raw = format!("fileb://{}", path.display());
        assert_eq!(
            secret_binary("--secret-binary", &raw).unwrap(),
            [0xff, 0, 0x80]
        );
        std::fs::write(&path, "/wCA\n").unwrap();
        let text = format!("file://{}", path.display());
        assert_eq!(
            secret_binary("--secret-binary", &text).unwrap(),
            [0xff, 0, 0x80]
        );
        assert!(secret_binary("--secret-binary", "").is_err());
    }

    #[test]
    fn rotation_rules_in_shorthand_and_json() {
        let rules = rotation_rules("--rotation-rules", "AutomaticallyAfterDays=30").unwrap();
        assert_eq!(rules.automatically_after_days, Some(30));
        assert_eq!(
            (rules.duration.as_str(), rules.schedule_expression.as_str()),
            ("", "")
        );
        let cron = rotation_rules(
            "--rotation-rules",
            "Duration=2h,ScheduleExpression=cron(0 16 1,15 * ? *)",
        )
        .unwrap();
        assert_eq!(cron.automatically_after_days, None);
        assert_eq!(cron.duration, "2h");
        assert_eq!(cron.schedule_expression, "cron(0 16 1,15 * ? *)");
        let json = rotation_rules(
            "--rotation-rules",
            r#"{"AutomaticallyAfterDays": 7, "Duration": "3h"}"#,
        )
        .unwrap();
        assert_eq!(
            (json.automatically_after_days, json.duration.as_str()),
            (Some(7), "3h")
        );
        assert!(rotation_rules("--rotation-rules", "AutomaticallyAfterDays=soon").is_err());
        assert!(rotation_rules("--rotation-rules", "Days=30").is_err());
        assert!(rotation_rules("--rotation-rules", r#"{"Days": 30}"#).is_err());
    }

    #[test]
    fn text_values_are_literals_or_files() {
        assert_eq!(text_value("--value", "a,b").unwrap(), "a,b");
        assert_eq!(text_value("--value", "-").unwrap(), "-");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value.txt");
        std::fs::write(&path, "line 1\nline 2\n").unwrap();
        for prefix in ["file://", "fileb://"] {
            let value = format!("{prefix}{}", path.display());
            assert_eq!(text_value("--value", &value).unwrap(), "line 1\nline 2\n");
        }
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        for prefix in ["file://", "fileb://"] {
            let value = format!("{prefix}{}", path.display());
            assert!(text_value("--value", &value).is_err());
        }
        let missing = format!("file://{}", dir.path().join("missing").display());
        assert!(text_value("--value", &missing).is_err());
    }

    #[test]
    fn plaintext_literals_are_bytes_or_base64_as_the_binary_format_says() {
        let raw = BinaryFormat::RawInBase64Out;
        let b64 = BinaryFormat::Base64;
        assert_eq!(plaintext("--p", Some("aGk="), raw).unwrap(), b"aGk=");
        assert_eq!(plaintext("--p", Some("aGk="), b64).unwrap(), b"hi");
        let err = plaintext("--p", Some("hi there"), b64).unwrap_err();
        assert!(err.contains("not valid base64"), "{err}");
        assert!(err.contains("raw-in-base64-out"), "{err}");
        assert!(plaintext("--p", Some(""), b64).is_err());
    }

    #[test]
    fn times_are_rfc_3339_or_unix_seconds() {
        let t = |text: &str| timestamp(text).map(|t| (t.seconds, t.nanos));
        assert_eq!(t("1714564800"), Ok((1_714_564_800, 0)));
        assert_eq!(t("2024-05-01T12:00:00Z"), Ok((1_714_564_800, 0)));
        assert_eq!(
            t("2024-05-01 14:00:00.25+02:00"),
            Ok((1_714_564_800, 250_000_000))
        );
        assert_eq!(t("2024-05-01T11:30:00-00:30"), Ok((1_714_564_800, 0)));
        for bad in [
            "",
            "yesterday",
            "2024-05-01",
            "2024-05-01T12:00:00",
            "2024-13-01T00:00:00Z",
        ] {
            assert!(timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn context_entries_in_shorthand_and_json_agree() {
        let short = context_entries(
            "--ce",
            &[
                "ContextKeyName=aws:username,ContextKeyValues=alice,bob,ContextKeyType=stringList"
                    .into(),
            ],
        )
        .unwrap();
        let json = context_entries(
            "--ce",
            &[
                r#"[{"ContextKeyName": "aws:username", "ContextKeyValues": ["alice", "bob"],
                  "ContextKeyType": "stringList"}]"#
                    .into(),
            ],
        )
        .unwrap();
        assert_eq!(short, json);
        assert_eq!(short[0].context_key_values, ["alice", "bob"]);
        let bracketed = context_entries(
            "--ce",
            &["ContextKeyName=k,ContextKeyValues=[a=1,b]".into()],
        )
        .unwrap();
        assert_eq!(bracketed[0].context_key_values, ["a=1", "b"]);
        assert!(context_entries("--ce", &["ContextKeyValues=a".into()]).is_err());
        assert!(context_entries("--ce", &["Name=k".into()]).is_err());
    }

    #[test]
    fn documents_must_be_json_objects() {
        let doc = r#"{"Version": "2012-10-17", "Statement": []}"#;
        assert_eq!(json_document("--d", doc).unwrap(), doc);
        assert!(json_document("--d", "[]").is_err());
        assert!(json_document("--d", "{not json").is_err());
    }

    #[test]
    fn blob_literals_are_base64() {
        assert_eq!(blob("--c", "aGk=").unwrap(), b"hi");
        assert!(blob("--c", "not base64!").is_err());
        assert!(blob("--c", "").is_err());
    }

    #[test]
    fn public_keys_are_base64_der_or_pem() {
        assert_eq!(public_key("--pk", "MAEC").unwrap(), [0x30, 0x01, 0x02]);
        let pem = "-----BEGIN PUBLIC KEY-----\nMAEC\n-----END PUBLIC KEY-----\n";
        assert_eq!(public_key("--pk", pem).unwrap(), [0x30, 0x01, 0x02]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peer.pem");
        std::fs::write(&path, pem).unwrap();
        for prefix in ["file://", "fileb://"] {
            let value = format!("{prefix}{}", path.display());
            assert_eq!(public_key("--pk", &value).unwrap(), [0x30, 0x01, 0x02]);
        }
        let der = dir.path().join("peer.der");
        std::fs::write(&der, [0x30, 0x01, 0x02]).unwrap();
        let value = format!("fileb://{}", der.display());
        assert_eq!(public_key("--pk", &value).unwrap(), [0x30, 0x01, 0x02]);
        let private = "-----BEGIN PRIVATE KEY-----\nMAEC\n-----END PRIVATE KEY-----";
        assert!(public_key("--pk", private).is_err());
        assert!(public_key("--pk", "-----BEGIN PUBLIC KEY-----\nMAEC").is_err());
    }
}
