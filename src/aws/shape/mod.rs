//! AWS's shapes of vaultd's messages: reads an AWS request (JSON, or a query form already turned
//! into the same tree) into the typed `vault.v1` request message of the action, and writes a
//! response message back in AWS's member names.
//!
//! The mapping is the contract of api.md, applied by the descriptor: an AWS member is the field
//! in PascalCase (`ciphertext_blob` ↔ `CiphertextBlob`) unless the proto gives the field AWS's
//! irregular spelling as its `json_name` (`ARN`, `AWSAccountId`); an enum value is the value's
//! name without its type prefix, spelled as that AWS type spells its values ([`enum_style`]);
//! blobs are base64; timestamps are epoch seconds (JSON) or ISO 8601 (query). Nothing here knows
//! an action's rules: those stay behind the gRPC services the front end calls.

use std::{borrow::Cow, collections::HashMap, sync::OnceLock};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use prost_reflect::{
    DescriptorPool, DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey,
    MessageDescriptor, ReflectMessage, Value,
};
use serde_json::{Map, Value as Json, json};

use super::AwsError;

const TIMESTAMP: &str = "google.protobuf.Timestamp";

/// Members AWS SDKs send that vaultd accepts and ignores, because ignoring them never grants
/// more than the caller asked: grant tokens (vaultd has no grants, so they could only have
/// added permissions).
const IGNORED_MEMBERS: &[&str] = &["GrantTokens"];

/// The `vault.v1` descriptors, decoded once.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET)
            .expect("the embedded descriptor set is valid")
    })
}

/// How a protocol writes timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timestamps {
    /// awsJson: seconds since the epoch, a JSON number.
    EpochSeconds,
    /// awsQuery: ISO 8601 text (`2026-11-27T03:18:22.123Z`).
    Iso8601,
}

/// How a protocol writes scalars in requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalars {
    /// awsJson: typed JSON values.
    Typed,
    /// awsQuery: every value is text.
    Text,
}

/// The AWS member name of a field.
pub fn member_name(field: &FieldDescriptor) -> Cow<'_, str> {
    let json = field.json_name();
    if json != lower_camel(field.name()) {
        return Cow::Borrowed(json);
    }
    Cow::Owned(pascal(field.name()))
}

fn lower_camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// How an AWS enum type spells its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    /// `SYMMETRIC_DEFAULT`, as the value name (most KMS types).
    Screaming,
    /// `PendingDeletion`.
    Pascal,
    /// `Intelligent-Tiering`.
    PascalHyphen,
    /// `explicitDeny`.
    LowerCamel,
    /// `tag-key`.
    Kebab,
}

fn enum_style(enum_type: &EnumDescriptor) -> Style {
    match enum_type.name() {
        "KeyState" | "StatusType" | "ParameterType" | "LookupAttributeKey" => Style::Pascal,
        "ParameterTier" => Style::PascalHyphen,
        "PolicyEvaluationDecisionType" => Style::LowerCamel,
        "FilterNameStringType" | "SortOrderType" | "SortByType" => Style::Kebab,
        _ => Style::Screaming,
    }
}

/// The AWS spelling of an enum value (`KEY_STATE_PENDING_DELETION` → `PendingDeletion`); `None`
/// for the unspecified value, which stands for "absent".
pub fn enum_value_name(enum_type: &EnumDescriptor, number: i32) -> Option<String> {
    if number == 0 {
        return None;
    }
    let value = enum_type.get_value(number)?;
    let prefix = screaming(enum_type.name()) + "_";
    let bare = value.name().strip_prefix(&prefix).unwrap_or(value.name());
    let words = bare.split('_').map(str::to_ascii_lowercase);
    let capital = |w: String| {
        let mut chars = w.chars();
        match chars.next() {
            Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
            None => String::new(),
        }
    };
    Some(match enum_style(enum_type) {
        Style::Screaming => bare.to_string(),
        Style::Pascal => words.map(capital).collect(),
        Style::PascalHyphen => words.map(capital).collect::<Vec<_>>().join("-"),
        Style::LowerCamel => {
            let mut words = words;
            let first = words.next().unwrap_or_default();
            first + &words.map(capital).collect::<String>()
        }
        Style::Kebab => words.collect::<Vec<_>>().join("-"),
    })
}

/// `KeySpec` → `KEY_SPEC`.
fn screaming(pascal: &str) -> String {
    let mut out = String::with_capacity(pascal.len() + 4);
    for (i, c) in pascal.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Reads `json` (an object, or null for an empty request) as a message of type `desc`.
pub fn decode(
    desc: &MessageDescriptor,
    json: &Json,
    scalars: Scalars,
) -> Result<DynamicMessage, AwsError> {
    let mut reader = Reader { scalars };
    reader.message(desc, json, "")
}

struct Reader {
    scalars: Scalars,
}

fn serialization(message: String) -> AwsError {
    AwsError::serialization(message)
}

fn validation(message: String) -> AwsError {
    AwsError::validation(message)
}

impl Reader {
    fn message(
        &mut self,
        desc: &MessageDescriptor,
        json: &Json,
        path: &str,
    ) -> Result<DynamicMessage, AwsError> {
        let mut message = DynamicMessage::new(desc.clone());
        let members = match json {
            Json::Null => return Ok(message),
            Json::Object(members) => members,
            _ => {
                return Err(serialization(format!(
                    "{} must be a structure.",
                    display_path(path)
                )));
            }
        };
        for (name, value) in members {
            if value.is_null() {
                continue;
            }
            let member_path = join(path, &shorten(name));
            let Some(field) = desc.fields().find(|f| member_name(f) == name.as_str()) else {
                if IGNORED_MEMBERS.contains(&name.as_str()) {
                    continue;
                }
                // Fail closed: a parameter vaultd would silently drop (a key policy, a dry
                // run) could change what the caller believes happened.
                return Err(validation(format!(
                    "vaultd does not support the parameter {member_path}."
                )));
            };
            let value = if field.is_map() {
                self.map(&field, value, &member_path)?
            } else if field.is_list() {
                let Json::Array(items) = value else {
                    return Err(serialization(format!("{member_path} must be a list.")));
                };
                let kind = field.kind();
                Value::List(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| {
                            self.single(&kind, item, &format!("{member_path}.{}", i + 1))
                        })
                        .collect::<Result<_, _>>()?,
                )
            } else {
                self.single(&field.kind(), value, &member_path)?
            };
            message.set_field(&field, value);
        }
        Ok(message)
    }

    fn map(&mut self, field: &FieldDescriptor, json: &Json, path: &str) -> Result<Value, AwsError> {
        let Json::Object(entries) = json else {
            return Err(serialization(format!("{path} must be a map.")));
        };
        let Kind::Message(entry) = field.kind() else {
            return Err(AwsError::internal("a map field without its entry type"));
        };
        let value_kind = entry.map_entry_value_field().kind();
        let mut map = HashMap::with_capacity(entries.len());
        for (key, value) in entries {
            let path = format!("{path}.{key}");
            let value = match list_wrapper(&value_kind) {
                Some((wrapper, list)) => {
                    let wrapped = Json::Object(Map::from_iter([(
                        member_name(&list).into_owned(),
                        value.clone(),
                    )]));
                    Value::Message(self.message(&wrapper, &wrapped, &path)?)
                }
                None => self.single(&value_kind, value, &path)?,
            };
            map.insert(MapKey::String(key.clone()), value);
        }
        Ok(Value::Map(map))
    }

    fn single(&mut self, kind: &Kind, json: &Json, path: &str) -> Result<Value, AwsError> {
        let text = match (self.scalars, json) {
            (Scalars::Text, Json::String(s)) => Some(s.as_str()),
            _ => None,
        };
        let wrong = |what: &str| serialization(format!("{path} must be {what}."));
        Ok(match kind {
            Kind::String => {
                Value::String(json.as_str().ok_or_else(|| wrong("a string"))?.to_string())
            }
            Kind::Bytes => {
                let text = json.as_str().ok_or_else(|| wrong("a base64 string"))?;
                Value::Bytes(
                    BASE64
                        .decode(text)
                        .map_err(|_| wrong("valid base64"))?
                        .into(),
                )
            }
            Kind::Bool => Value::Bool(match text {
                Some("true") => true,
                Some("false") => false,
                Some(_) => return Err(wrong("true or false")),
                None => json.as_bool().ok_or_else(|| wrong("a boolean"))?,
            }),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                let n = self
                    .integer(json, text)
                    .ok_or_else(|| wrong("an integer"))?;
                Value::I32(
                    i32::try_from(n).map_err(|_| validation(format!("{path} is out of range.")))?,
                )
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(
                self.integer(json, text)
                    .ok_or_else(|| wrong("an integer"))?,
            ),
            Kind::Uint32 | Kind::Fixed32 => {
                let n = self
                    .integer(json, text)
                    .ok_or_else(|| wrong("an integer"))?;
                Value::U32(
                    u32::try_from(n).map_err(|_| validation(format!("{path} is out of range.")))?,
                )
            }
            Kind::Uint64 | Kind::Fixed64 => {
                let n = self
                    .integer(json, text)
                    .ok_or_else(|| wrong("an integer"))?;
                Value::U64(
                    u64::try_from(n).map_err(|_| validation(format!("{path} is out of range.")))?,
                )
            }
            Kind::Double | Kind::Float => {
                let n = match text {
                    Some(t) => t.parse::<f64>().ok(),
                    None => json.as_f64(),
                }
                .ok_or_else(|| wrong("a number"))?;
                if matches!(kind, Kind::Float) {
                    Value::F32(n as f32)
                } else {
                    Value::F64(n)
                }
            }
            Kind::Enum(enum_type) => {
                let name = json.as_str().ok_or_else(|| wrong("a string"))?;
                let number = enum_type
                    .values()
                    .find(|v| enum_value_name(enum_type, v.number()).as_deref() == Some(name))
                    .map(|v| v.number())
                    .ok_or_else(|| {
                        let allowed: Vec<String> = enum_type
                            .values()
                            .filter_map(|v| enum_value_name(enum_type, v.number()))
                            .collect();
                        validation(format!(
                            "Value '{}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                            shorten(name),
                            path,
                            allowed.join(", ")
                        ))
                    })?;
                Value::EnumNumber(number)
            }
            Kind::Message(desc) if desc.full_name() == TIMESTAMP => {
                Value::Message(timestamp_message(desc, json, path)?)
            }
            Kind::Message(desc) => Value::Message(self.message(desc, json, path)?),
        })
    }

    fn integer(&self, json: &Json, text: Option<&str>) -> Option<i64> {
        match text {
            Some(t) => t.parse().ok(),
            None => json.as_i64(),
        }
    }
}

/// A rejected enum value is echoed back, but never at length.
fn shorten(value: &str) -> Cow<'_, str> {
    if value.len() <= 64 {
        return Cow::Borrowed(value);
    }
    let mut end = 64;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &value[..end]))
}

fn timestamp_message(
    desc: &MessageDescriptor,
    json: &Json,
    path: &str,
) -> Result<DynamicMessage, AwsError> {
    let (seconds, nanos) = match json {
        Json::Number(n) => {
            let secs = n.as_f64().unwrap_or(f64::NAN);
            if !secs.is_finite() {
                return Err(serialization(format!("{path} must be a timestamp.")));
            }
            let whole = secs.floor();
            (
                whole as i64,
                ((secs - whole) * 1e9).round().min(999_999_999.0) as i32,
            )
        }
        // The query protocol sends ISO 8601 text (or epoch seconds as text).
        Json::String(text) => match crate::clock::parse_rfc3339_parts(text) {
            Some(parts) => parts,
            None => {
                return timestamp_message(
                    desc,
                    &text
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Json::Number)
                        .ok_or_else(|| serialization(format!("{path} must be a timestamp.")))?,
                    path,
                );
            }
        },
        _ => return Err(serialization(format!("{path} must be a timestamp."))),
    };
    let mut message = DynamicMessage::new(desc.clone());
    message.set_field_by_name("seconds", Value::I64(seconds));
    message.set_field_by_name("nanos", Value::I32(nanos));
    Ok(message)
}

/// The members of a message type in AWS terms, for [`super::model`].
pub fn describe(desc: &MessageDescriptor) -> Json {
    describe_message(desc, 0)
}

fn describe_message(desc: &MessageDescriptor, depth: usize) -> Json {
    Json::Object(
        desc.fields()
            .map(|field| {
                let single = describe_kind(&field.kind(), depth);
                let described = if field.is_map() {
                    let Kind::Message(entry) = field.kind() else {
                        unreachable!()
                    };
                    let value = entry.map_entry_value_field().kind();
                    let value = match list_wrapper(&value) {
                        Some((_, list)) => {
                            json!({"type": "list", "member": describe_kind(&list.kind(), depth)})
                        }
                        None => describe_kind(&value, depth),
                    };
                    json!({"type": "map", "value": value})
                } else if field.is_list() {
                    json!({"type": "list", "member": single})
                } else {
                    single
                };
                (member_name(&field).into_owned(), described)
            })
            .collect(),
    )
}

fn describe_kind(kind: &Kind, depth: usize) -> Json {
    match kind {
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "blob"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => {
            json!({"type": "integer"})
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            json!({"type": "long"})
        }
        Kind::Double | Kind::Float => json!({"type": "double"}),
        Kind::Enum(e) => json!({
            "type": "enum",
            "values": e.values().filter_map(|v| enum_value_name(e, v.number())).collect::<Vec<_>>(),
        }),
        Kind::Message(m) if m.full_name() == TIMESTAMP => json!({"type": "timestamp"}),
        // Deep enough for every vault.v1 message; a cycle stops here.
        Kind::Message(_) if depth > 8 => json!({"type": "structure", "members": {}}),
        Kind::Message(m) => json!({"type": "structure", "members": describe_message(m, depth + 1)}),
    }
}

/// A map value of a message holding one repeated field stands for a list (a map cannot hold
/// lists in protobuf): `VersionIdsToStages: {"id": ["AWSCURRENT"]}`. Its type and that field.
fn list_wrapper(kind: &Kind) -> Option<(MessageDescriptor, FieldDescriptor)> {
    let Kind::Message(desc) = kind else {
        return None;
    };
    let mut fields = desc.fields();
    match (fields.next(), fields.next()) {
        (Some(only), None) if only.is_list() => Some((desc.clone(), only)),
        _ => None,
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "The request" } else { path }
}

/// Writes a response message in AWS's member names. Lists and maps of the outermost message are
/// written even when empty (`"Keys": []`), as AWS does; a field that is absent, unspecified or
/// empty is left out, except booleans, whose `false` is an answer.
pub fn encode(message: &DynamicMessage, timestamps: Timestamps) -> Json {
    Json::Object(write_message(message, timestamps, true))
}

fn write_message(
    message: &DynamicMessage,
    timestamps: Timestamps,
    outermost: bool,
) -> Map<String, Json> {
    let mut out = Map::new();
    for field in message.descriptor().fields() {
        let value = message.get_field(&field);
        let written = if field.is_map() {
            match value.as_ref() {
                Value::Map(map) if !map.is_empty() || outermost => {
                    let Kind::Message(entry) = field.kind() else {
                        continue;
                    };
                    let value_kind = entry.map_entry_value_field().kind();
                    let wrapper = list_wrapper(&value_kind);
                    let mut entries: Vec<(String, Json)> = map
                        .iter()
                        .filter_map(|(k, v)| {
                            let MapKey::String(k) = k else { return None };
                            let written = match (&wrapper, v) {
                                (Some((_, list)), Value::Message(m)) => {
                                    match m.get_field(list).as_ref() {
                                        Value::List(items) => Some(Json::Array(
                                            items
                                                .iter()
                                                .filter_map(|i| {
                                                    write_single(&list.kind(), i, timestamps)
                                                })
                                                .collect(),
                                        )),
                                        _ => None,
                                    }
                                }
                                _ => write_single(&value_kind, v, timestamps),
                            };
                            Some((k.clone(), written.unwrap_or(Json::Null)))
                        })
                        .collect();
                    entries.sort_by(|a, b| a.0.cmp(&b.0));
                    Some(Json::Object(entries.into_iter().collect()))
                }
                _ => None,
            }
        } else if field.is_list() {
            match value.as_ref() {
                Value::List(items) if !items.is_empty() || outermost => {
                    let kind = field.kind();
                    Some(Json::Array(
                        items
                            .iter()
                            .filter_map(|v| write_single(&kind, v, timestamps))
                            .collect(),
                    ))
                }
                _ => None,
            }
        } else if field.supports_presence() {
            if message.has_field(&field) {
                write_single(&field.kind(), &value, timestamps)
            } else {
                None
            }
        } else if matches!(field.kind(), Kind::Bool) {
            write_single(&field.kind(), &value, timestamps)
        } else if value.is_default(&field.kind()) {
            None
        } else {
            write_single(&field.kind(), &value, timestamps)
        };
        if let Some(json) = written {
            out.insert(member_name(&field).into_owned(), json);
        }
    }
    out
}

fn write_single(kind: &Kind, value: &Value, timestamps: Timestamps) -> Option<Json> {
    Some(match (kind, value) {
        (_, Value::String(s)) => Json::String(s.clone()),
        (_, Value::Bytes(b)) => Json::String(BASE64.encode(b)),
        (_, Value::Bool(b)) => Json::Bool(*b),
        (_, Value::I32(n)) => Json::from(*n),
        (_, Value::I64(n)) => Json::from(*n),
        (_, Value::U32(n)) => Json::from(*n),
        (_, Value::U64(n)) => Json::from(*n),
        (_, Value::F32(n)) => Json::from(f64::from(*n)),
        (_, Value::F64(n)) => Json::from(*n),
        (Kind::Enum(enum_type), Value::EnumNumber(n)) => {
            Json::String(enum_value_name(enum_type, *n)?)
        }
        (Kind::Message(desc), Value::Message(m)) if desc.full_name() == TIMESTAMP => {
            write_timestamp(m, timestamps)
        }
        (_, Value::Message(m)) => Json::Object(write_message(m, timestamps, false)),
        _ => return None,
    })
}

fn write_timestamp(message: &DynamicMessage, timestamps: Timestamps) -> Json {
    let seconds = message
        .get_field_by_name("seconds")
        .and_then(|v| v.as_i64())
        .unwrap_or_default();
    let nanos = message
        .get_field_by_name("nanos")
        .and_then(|v| v.as_i32())
        .unwrap_or_default()
        .clamp(0, 999_999_999);
    match timestamps {
        Timestamps::EpochSeconds if nanos == 0 => Json::from(seconds),
        // Milliseconds, as AWS writes them.
        Timestamps::EpochSeconds => {
            Json::from((seconds * 1000 + i64::from(nanos / 1_000_000)) as f64 / 1000.0)
        }
        Timestamps::Iso8601 => Json::String(crate::clock::format_iso8601_millis(seconds, nanos)),
    }
}

#[cfg(test)]
mod tests;
