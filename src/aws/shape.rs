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
mod tests {
    use prost_reflect::ReflectMessage;

    use super::*;
    use crate::{aws::Problem, pb};

    fn message(name: &str) -> MessageDescriptor {
        pool().get_message_by_name(name).unwrap()
    }

    fn read<T: prost::Message + Default>(json: Json) -> Result<T, AwsError> {
        let desc = message(&format!(
            "vault.v1.{}",
            std::any::type_name::<T>().rsplit("::").next().unwrap()
        ));
        Ok(decode(&desc, &json, Scalars::Typed)?
            .transcode_to()
            .unwrap())
    }

    #[test]
    fn members_are_the_fields_in_pascal_case_or_the_aws_spelling_the_proto_gives() {
        let names = |m: &str| -> Vec<String> {
            message(m)
                .fields()
                .map(|f| member_name(&f).into_owned())
                .collect()
        };
        let key_metadata = names("vault.v1.KeyMetadata");
        assert!(key_metadata.contains(&"AWSAccountId".to_string()));
        assert!(key_metadata.contains(&"Arn".to_string()));
        assert!(key_metadata.contains(&"PendingDeletionWindowInDays".to_string()));
        let describe = names("vault.v1.DescribeSecretResponse");
        assert!(describe.contains(&"ARN".to_string()));
        assert!(describe.contains(&"RotationLambdaARN".to_string()));
        assert!(describe.contains(&"VersionIdsToStages".to_string()));
        assert_eq!(names("vault.v1.DecryptRequest")[0], "CiphertextBlob");
    }

    #[test]
    fn enum_values_are_spelled_as_each_aws_type_spells_them() {
        let cases = [
            ("KeySpec", pb::KeySpec::Rsa2048 as i32, "RSA_2048"),
            ("KeySpec", pb::KeySpec::EccNistP256 as i32, "ECC_NIST_P256"),
            (
                "KeyState",
                pb::KeyState::PendingDeletion as i32,
                "PendingDeletion",
            ),
            (
                "ParameterType",
                pb::ParameterType::SecureString as i32,
                "SecureString",
            ),
            (
                "ParameterTier",
                pb::ParameterTier::IntelligentTiering as i32,
                "Intelligent-Tiering",
            ),
            (
                "PolicyEvaluationDecisionType",
                pb::PolicyEvaluationDecisionType::ExplicitDeny as i32,
                "explicitDeny",
            ),
            (
                "FilterNameStringType",
                pb::FilterNameStringType::TagKey as i32,
                "tag-key",
            ),
            (
                "SortByType",
                pb::SortByType::LastChangedDate as i32,
                "last-changed-date",
            ),
            ("StatusType", pb::StatusType::Inactive as i32, "Inactive"),
        ];
        for (enum_name, number, aws) in cases {
            let e = pool()
                .get_enum_by_name(&format!("vault.v1.{enum_name}"))
                .unwrap();
            assert_eq!(
                enum_value_name(&e, number).as_deref(),
                Some(aws),
                "{enum_name}"
            );
        }
        let e = pool().get_enum_by_name("vault.v1.KeySpec").unwrap();
        assert_eq!(enum_value_name(&e, 0), None, "unspecified is absent");
    }

    #[test]
    fn a_json_request_becomes_the_typed_request_of_its_action() {
        let request: pb::GenerateDataKeyRequest = read(json!({
            "KeyId": "alias/app",
            "KeySpec": "AES_256",
            "EncryptionContext": {"tenant": "a", "purpose": "b"},
            "GrantTokens": ["ignored"],
        }))
        .unwrap();
        assert_eq!(request.key_id, "alias/app");
        assert_eq!(request.key_spec, pb::DataKeySpec::Aes256 as i32);
        assert_eq!(request.number_of_bytes, None);
        assert_eq!(request.encryption_context.len(), 2);
        assert_eq!(request.encryption_context["tenant"], "a");

        let request: pb::DecryptRequest = read(json!({"CiphertextBlob": "AAEC/w=="})).unwrap();
        assert_eq!(request.ciphertext_blob, [0, 1, 2, 255]);

        let request: pb::ListSecretsRequest = read(json!({
            "MaxResults": 2,
            "Filters": [{"Key": "tag-key", "Values": ["team"]}],
            "SortOrder": "desc",
        }))
        .unwrap();
        assert_eq!(request.max_results, Some(2));
        assert_eq!(
            request.filters[0].key,
            pb::FilterNameStringType::TagKey as i32
        );
        assert_eq!(request.filters[0].values, ["team"]);
        assert_eq!(request.sort_order, pb::SortOrderType::Desc as i32);
    }

    #[test]
    fn bad_members_get_aws_errors_naming_them() {
        let err = read::<pb::GenerateDataKeyRequest>(json!({"KeyId": "k", "KeySpec": "AES_512"}))
            .unwrap_err();
        assert_eq!(
            err.problem,
            Problem::Domain(crate::error::ErrorKind::Validation)
        );
        assert!(
            err.message.contains("'KeySpec'") && err.message.contains("AES_256"),
            "{}",
            err.message
        );

        let err = read::<pb::GenerateDataKeyRequest>(json!({"KeyId": 7})).unwrap_err();
        assert_eq!(
            (err.problem, err.message.as_str()),
            (Problem::Serialization, "KeyId must be a string.")
        );

        let err = read::<pb::DecryptRequest>(json!({"CiphertextBlob": "not base64!"})).unwrap_err();
        assert_eq!(err.problem, Problem::Serialization);

        let err = read::<pb::GenerateDataKeyRequest>(json!({"KeyId": "k", "NumberOfBytes": 1.5}))
            .unwrap_err();
        assert_eq!(err.problem, Problem::Serialization);

        let err =
            read::<pb::GenerateDataKeyRequest>(json!({"KeyId": "k", "NumberOfBytes": 1_u64 << 40}))
                .unwrap_err();
        assert_eq!(
            err.problem,
            Problem::Domain(crate::error::ErrorKind::Validation)
        );

        // A member vaultd would drop could change what the caller believes happened.
        let err = read::<pb::CreateKeyRequest>(json!({"Policy": "{}"})).unwrap_err();
        assert_eq!(
            err.problem,
            Problem::Domain(crate::error::ErrorKind::Validation)
        );
        assert!(err.message.contains("Policy"), "{}", err.message);

        let err = read::<pb::CreateKeyRequest>(json!(["not", "an", "object"])).unwrap_err();
        assert_eq!(err.problem, Problem::Serialization);
    }

    #[test]
    fn a_response_takes_aws_names_blobs_in_base64_and_times_in_epoch_seconds() {
        let response = pb::CreateKeyResponse {
            key_metadata: Some(pb::KeyMetadata {
                aws_account_id: "000000000000".into(),
                key_id: "k".into(),
                creation_date: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 250_000_000,
                }),
                enabled: false,
                key_state: pb::KeyState::PendingDeletion as i32,
                encryption_algorithms: vec![pb::EncryptionAlgorithmSpec::SymmetricDefault as i32],
                ..Default::default()
            }),
        };
        let mut dynamic = DynamicMessage::new(message("vault.v1.CreateKeyResponse"));
        dynamic.transcode_from(&response).unwrap();
        let json = encode(&dynamic, Timestamps::EpochSeconds);
        let metadata = &json["KeyMetadata"];
        assert_eq!(metadata["AWSAccountId"], "000000000000");
        assert_eq!(metadata["CreationDate"], 1_700_000_000.25);
        assert_eq!(metadata["Enabled"], false, "false is an answer");
        assert_eq!(metadata["KeyState"], "PendingDeletion");
        assert_eq!(
            metadata["EncryptionAlgorithms"],
            json!(["SYMMETRIC_DEFAULT"])
        );
        assert!(
            metadata.get("Description").is_none(),
            "empty strings are absent"
        );
        assert!(
            metadata.get("KeyUsage").is_none(),
            "unspecified enums are absent"
        );
        assert!(
            metadata.get("SigningAlgorithms").is_none(),
            "nested empty lists are absent"
        );
        assert!(
            metadata.get("PendingDeletionWindowInDays").is_none(),
            "unset optionals are absent"
        );

        let dynamic = DynamicMessage::new(message("vault.v1.ListKeysResponse"));
        assert_eq!(
            encode(&dynamic, Timestamps::EpochSeconds),
            json!({"Keys": [], "Truncated": false})
        );

        let mut dynamic = DynamicMessage::new(message("vault.v1.GenerateRandomResponse"));
        dynamic
            .transcode_from(&pb::GenerateRandomResponse {
                plaintext: vec![0, 1, 2, 255],
            })
            .unwrap();
        assert_eq!(
            encode(&dynamic, Timestamps::EpochSeconds),
            json!({"Plaintext": "AAEC/w=="})
        );
    }

    #[test]
    fn a_map_of_lists_is_a_map_of_lists_on_the_wire() {
        let mut dynamic = DynamicMessage::new(message("vault.v1.DescribeSecretResponse"));
        dynamic
            .transcode_from(&pb::DescribeSecretResponse {
                version_ids_to_stages: [(
                    "v1".to_string(),
                    pb::VersionStages {
                        stages: vec!["AWSCURRENT".into(), "mine".into()],
                    },
                )]
                .into(),
                ..Default::default()
            })
            .unwrap();
        let json = encode(&dynamic, Timestamps::EpochSeconds);
        assert_eq!(
            json["VersionIdsToStages"],
            json!({"v1": ["AWSCURRENT", "mine"]})
        );
        let back: pb::DescribeSecretResponse = decode(&dynamic.descriptor(), &json, Scalars::Typed)
            .unwrap()
            .transcode_to()
            .unwrap();
        assert_eq!(
            back.version_ids_to_stages["v1"].stages,
            ["AWSCURRENT", "mine"]
        );
    }

    #[test]
    fn the_query_protocol_reads_text_scalars_and_writes_iso_8601_times() {
        let desc = message("vault.v1.GetSessionTokenRequest");
        let request: pb::GetSessionTokenRequest =
            decode(&desc, &json!({"DurationSeconds": "900"}), Scalars::Text)
                .unwrap()
                .transcode_to()
                .unwrap();
        assert_eq!(request.duration_seconds, Some(900));
        let err = decode(&desc, &json!({"DurationSeconds": "soon"}), Scalars::Text).unwrap_err();
        assert_eq!(err.problem, Problem::Serialization);

        let mut dynamic = DynamicMessage::new(message("vault.v1.Credentials"));
        dynamic
            .transcode_from(&pb::Credentials {
                expiration: Some(prost_types::Timestamp {
                    seconds: 1_795_000_000,
                    nanos: 7_000_000,
                }),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            encode(&dynamic, Timestamps::Iso8601)["Expiration"],
            "2026-11-18T11:06:40.007Z"
        );
        assert_eq!(dynamic.descriptor().full_name(), "vault.v1.Credentials");
    }
}
