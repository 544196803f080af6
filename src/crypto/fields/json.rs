//! The JSON of field-level encryption: strict parsing (no repeated member names, no integers
//! beyond 64 bits), RFC 8785 canonical JSON, and RFC 6901 JSON Pointers.

use std::{
    cell::RefCell,
    collections::HashSet,
    fmt::{self, Write as _},
};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::*;

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

pub(super) fn escape_token(token: &str, out: &mut String) {
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
pub(super) fn parse_strict(text: &str) -> Result<Value, FieldError> {
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
pub(super) fn parse_pointer(path: &str) -> Result<Vec<String>, String> {
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

pub(super) enum Found<T> {
    Value(T),
    Missing,
    /// A token under an array is not a well-formed index.
    BadIndex,
}

pub(super) fn lookup<'v>(document: &'v Value, tokens: &[String]) -> Found<&'v Value> {
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

pub(super) fn lookup_mut<'v>(document: &'v mut Value, tokens: &[String]) -> Option<&'v mut Value> {
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
pub(super) fn find_prefixed(value: &Value, skip: &HashSet<*const Value>) -> Option<String> {
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
