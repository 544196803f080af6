//! Printing a response: `--query` narrows it, then `--output json` prints it as the AWS CLI does
//! (4-space indented JSON) or `--output text` as the AWS CLI's text format (tab-separated; a
//! dictionary's scalars on one line in key order, each nested list or dictionary on following
//! lines led by its field name in UPPERCASE; a bare string on its own, unquoted).
//!
//! This is the one formatter: it knows nothing of KMS, only of `serde_json::Value`. [`Printer`]
//! writes what it renders to stdout.

use std::io::Write;

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::CliError;

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

/// The values of `--output`: a [`Format`], or `pem`, which only `kms get-public-key` takes (its
/// module prints the key with [`pem`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Json,
    Text,
    Pem,
}

impl OutputFormat {
    /// The format of the printer; `None` for `pem`, which the printer does not render.
    pub fn format(self) -> Option<Format> {
        match self {
            Self::Json => Some(Format::Json),
            Self::Text => Some(Format::Text),
            Self::Pem => None,
        }
    }
}

/// DER bytes as a PEM block (RFC 7468): `-----BEGIN {label}-----`, the base64 in lines of 64
/// characters, `-----END {label}-----`, each line ending in a newline.
pub fn pem(label: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        // Base64 is ASCII, so every chunk is a str.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A `--query`: a subset of JMESPath. Steps are fields (`KeyMetadata.KeyId`), indexes (`Keys[0]`,
/// `Keys[-1]`) and projections over a list (`Aliases[].AliasName`, `Keys[*]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Query(Vec<Step>);

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Project,
}

impl Query {
    /// Parses a query; a syntax error explains what is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || {
            format!(
                "invalid query {text:?}: use field names joined by '.', with [N] to pick a list \
                 item or [] to take a field of every item (e.g. Aliases[].AliasName)"
            )
        };
        let mut steps = Vec::new();
        for (i, segment) in text.split('.').enumerate() {
            let (name, mut rest) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
            if !name.is_empty() {
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(invalid());
                }
                steps.push(Step::Field(name.to_string()));
            } else if i > 0 || rest.is_empty() {
                return Err(invalid());
            }
            while !rest.is_empty() {
                let inner_end = rest.find(']').ok_or_else(invalid)?;
                let inner = rest.strip_prefix('[').ok_or_else(invalid)?;
                let inner = &inner[..inner_end - 1];
                steps.push(match inner.trim() {
                    "" | "*" => Step::Project,
                    n => Step::Index(n.parse().map_err(|_| invalid())?),
                });
                rest = &rest[inner_end + 1..];
            }
        }
        Ok(Self(steps))
    }

    /// The part of `value` the query selects; `null` when it selects nothing.
    pub fn apply(&self, value: &Value) -> Value {
        select(value, &self.0)
    }
}

fn select(value: &Value, steps: &[Step]) -> Value {
    let Some((step, rest)) = steps.split_first() else {
        return value.clone();
    };
    match step {
        Step::Field(name) => match value.get(name) {
            Some(inner) => select(inner, rest),
            None => Value::Null,
        },
        Step::Index(i) => {
            let Value::Array(items) = value else {
                return Value::Null;
            };
            let len = items.len() as i64;
            let index = if *i < 0 { len + i } else { *i };
            match usize::try_from(index).ok().and_then(|i| items.get(i)) {
                Some(item) => select(item, rest),
                None => Value::Null,
            }
        }
        Step::Project => match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| select(item, rest))
                    .filter(|v| !v.is_null())
                    .collect(),
            ),
            _ => Value::Null,
        },
    }
}

/// Where a command's answer goes: stdout, shaped by `--query` and `--output`.
pub struct Printer {
    query: Option<Query>,
    format: Option<Format>,
}

impl Printer {
    /// `format` is `None` when `--output` was not given.
    pub fn new(query: Option<Query>, format: Option<Format>) -> Self {
        Self { query, format }
    }

    /// Prints a response: narrowed by `--query`, as JSON unless `--output text`. Returns whether
    /// stdout is still open (see [`Printer::write`]).
    pub fn value(&self, value: &Value) -> Result<bool, CliError> {
        let format = self.format.unwrap_or(Format::Json);
        self.write(&render(value, self.query.as_ref(), format))
    }

    /// Whether a command that has a line format of its own (the audit trail) should print it
    /// rather than [`Printer::value`]: unless `--output json` or `--query` was given.
    pub fn wants_lines(&self) -> bool {
        self.query.is_none() && self.format != Some(Format::Json)
    }

    /// Writes text to stdout. A closed pipe (`| head`) is not an error: it returns `false`, so
    /// that a command that goes on printing can stop.
    pub fn write(&self, text: &str) -> Result<bool, CliError> {
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(CliError::Other(format!("cannot write the output: {e}"))),
        }
    }
}

/// Renders a response. A response without fields prints nothing (the AWS CLI's behaviour for
/// operations such as EnableKey) unless a query asks for something. The buffer is zeroized on
/// drop: it may hold a plaintext.
pub fn render(value: &Value, query: Option<&Query>, format: Format) -> Zeroizing<String> {
    let selected;
    let value = match query {
        Some(query) => {
            selected = query.apply(value);
            &selected
        }
        None if value.as_object().is_some_and(Map::is_empty) => {
            return Zeroizing::new(String::new());
        }
        None => value,
    };
    let mut out = Zeroizing::new(String::new());
    match format {
        Format::Json => {
            json(value, 0, &mut out);
            out.push('\n');
        }
        Format::Text => text(value, None, None, &mut out),
    }
    out
}

/// JSON indented by 4 spaces, as the AWS CLI prints it (Python's `json.dumps(indent=4)`).
fn json(value: &Value, depth: usize, out: &mut String) {
    const INDENT: &str = "    ";
    let (open, close, len) = match value {
        Value::Object(map) => ('{', '}', map.len()),
        Value::Array(items) => ('[', ']', items.len()),
        scalar => {
            out.push_str(&scalar.to_string());
            return;
        }
    };
    out.push(open);
    if len > 0 {
        let inner = INDENT.repeat(depth + 1);
        let mut first = true;
        let mut item = |key: Option<&String>, value: &Value, out: &mut String| {
            out.push_str(if first { "\n" } else { ",\n" });
            first = false;
            out.push_str(&inner);
            if let Some(key) = key {
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
            }
            json(value, depth + 1, out);
        };
        match value {
            Value::Object(map) => map.iter().for_each(|(k, v)| item(Some(k), v, out)),
            Value::Array(items) => items.iter().for_each(|v| item(None, v, out)),
            _ => unreachable!("scalars returned above"),
        }
        out.push('\n');
        out.push_str(&INDENT.repeat(depth));
    }
    out.push(close);
}

/// The AWS CLI's text format (awscli/formatter.py and text.py).
fn text(value: &Value, identifier: Option<&str>, scalar_keys: Option<&[String]>, out: &mut String) {
    match value {
        Value::Object(map) => text_object(map, identifier, scalar_keys, out),
        Value::Array(items) => text_list(items, identifier, out),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn text_object(
    map: &Map<String, Value>,
    identifier: Option<&str>,
    scalar_keys: Option<&[String]>,
    out: &mut String,
) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let is_nested = |v: &Value| v.is_object() || v.is_array();
    let (scalars, nested): (Vec<String>, Vec<(&str, &Value)>) = match scalar_keys {
        // In a list of dictionaries every row has the columns of all rows.
        Some(columns) => (
            columns
                .iter()
                .map(|k| map.get(k).map_or_else(String::new, scalar_text))
                .collect(),
            keys.iter()
                .filter(|k| !columns.contains(k))
                .map(|k| (k.as_str(), &map[k.as_str()]))
                .collect(),
        ),
        None => (
            keys.iter()
                .filter(|k| !is_nested(&map[k.as_str()]))
                .map(|k| scalar_text(&map[k.as_str()]))
                .collect(),
            keys.iter()
                .filter(|k| is_nested(&map[k.as_str()]))
                .map(|k| (k.as_str(), &map[k.as_str()]))
                .collect(),
        ),
    };
    if !scalars.is_empty() {
        let mut row = Vec::with_capacity(scalars.len() + 1);
        if let Some(identifier) = identifier {
            row.push(identifier.to_uppercase());
        }
        row.extend(scalars);
        out.push_str(&row.join("\t"));
        out.push('\n');
    }
    for (name, value) in nested {
        text(value, Some(name), None, out);
    }
}

fn text_list(items: &[Value], identifier: Option<&str>, out: &mut String) {
    if items.iter().any(Value::is_object) {
        let mut columns: Vec<String> = items
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|map| {
                map.iter()
                    .filter(|(_, v)| !v.is_object() && !v.is_array())
                    .map(|(k, _)| k.clone())
            })
            .collect();
        columns.sort();
        columns.dedup();
        for item in items {
            text(item, identifier, Some(&columns), out);
        }
        return;
    }
    let (scalars, nested): (Vec<&Value>, Vec<&Value>) = items.iter().partition(|v| !v.is_array());
    if !scalars.is_empty() {
        match identifier {
            Some(identifier) => {
                for item in &scalars {
                    out.push_str(&format!(
                        "{}\t{}\n",
                        identifier.to_uppercase(),
                        scalar_text(item)
                    ));
                }
            }
            None => {
                let row: Vec<String> = scalars.iter().map(|v| scalar_text(v)).collect();
                out.push_str(&row.join("\t"));
                out.push('\n');
            }
        }
    }
    for item in nested {
        text(item, identifier, None, out);
    }
}

/// A scalar as Python's `str` prints it, as the AWS CLI does.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_select_fields_items_and_projections() {
        let value = json!({"Keys": [{"KeyId": "a"}, {"KeyId": "b"}], "M": {"Id": "x"}});
        let q = |text: &str| Query::parse(text).unwrap().apply(&value);
        assert_eq!(q("M.Id"), json!("x"));
        assert_eq!(q("Keys[1].KeyId"), json!("b"));
        assert_eq!(q("Keys[-1].KeyId"), json!("b"));
        assert_eq!(q("Keys[].KeyId"), json!(["a", "b"]));
        assert_eq!(q("Missing"), Value::Null);
        for bad in ["", "a..b", "Keys[x]", "Keys[0", "a b", "Keys]"] {
            assert!(Query::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pem_wraps_base64_at_64_characters() {
        let der: Vec<u8> = (0..=99).collect();
        let block = pem("PUBLIC KEY", &der);
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[lines.len() - 1], "-----END PUBLIC KEY-----");
        let body = &lines[1..lines.len() - 1];
        assert_eq!(
            body.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [64, 64, 8]
        );
        assert_eq!(STANDARD.decode(body.concat()).unwrap(), der);
        assert!(block.ends_with("-----\n"));
        assert_eq!(
            pem("X", &[0; 48]).lines().nth(1).map(str::len),
            Some(64),
            "exactly one full line"
        );
        assert_eq!(pem("X", &[0; 48]).lines().count(), 3);
    }

    #[test]
    fn text_output_is_the_aws_cli_text_format() {
        let value = json!({
            "Keys": [{"KeyId": "a", "KeyArn": "arn-a"}, {"KeyId": "b", "KeyArn": "arn-b"}],
            "Truncated": false,
        });
        assert_eq!(
            *render(&value, None, Format::Text),
            "False\nKEYS\tarn-a\ta\nKEYS\tarn-b\tb\n"
        );
        let metadata =
            json!({"KeyMetadata": {"KeyId": "a", "Enabled": true, "Algorithms": ["X", "Y"]}});
        assert_eq!(
            *render(&metadata, None, Format::Text),
            "KEYMETADATA\tTrue\ta\nALGORITHMS\tX\nALGORITHMS\tY\n"
        );
        let query = Query::parse("KeyMetadata.KeyId").unwrap();
        assert_eq!(*render(&metadata, Some(&query), Format::Text), "a\n");
        assert_eq!(*render(&metadata, Some(&query), Format::Json), "\"a\"\n");
        assert_eq!(*render(&json!({}), None, Format::Json), "");
        assert_eq!(
            *render(&json!({"A": [1, {"B": "x"}], "C": []}), None, Format::Json),
            "{\n    \"A\": [\n        1,\n        {\n            \"B\": \"x\"\n        }\n    ],\n    \"C\": []\n}\n"
        );
    }
}
