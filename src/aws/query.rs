//! The awsQuery protocol (STS, IAM): a form of `Action`, `Version` and the members flattened to
//! dotted names (`Tags.member.1.Key`, `Attributes.entry.1.value`), answered in XML
//! (`<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…`). [`read_form`] turns
//! the form into the same JSON tree the awsJson protocol carries (every scalar as text), and
//! [`write_response`] turns the JSON tree of an answer into XML, lists as `<member>` elements.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::{AwsError, Problem};

/// Bounds on a form, far above what any STS or IAM request needs: its parameters, a name's
/// length and a name's depth (`Tags.member.1.Key` is 4 deep).
const MAX_PAIRS: usize = 1000;
const MAX_NAME: usize = 256;
const MAX_DEPTH: usize = 12;

/// A request form: its action, its API version and its members.
#[derive(Debug)]
pub struct Form {
    pub action: String,
    pub version: Option<String>,
    pub members: Json,
}

fn malformed(message: impl Into<String>) -> AwsError {
    AwsError::new(Problem::MalformedQueryString, message)
}

/// Reads a form (`a=1&b=2`, percent-encoded) into its action, version and members. In a form body
/// `+` is a space (`plus_is_space`); in a query string, as SigV4 signs it, it is itself.
pub fn read_form(form: &[u8], plus_is_space: bool) -> Result<Form, AwsError> {
    let mut action = None;
    let mut version = None;
    let mut root = Node::Struct(BTreeMap::new());
    for (n, pair) in form
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        if n == MAX_PAIRS {
            return Err(malformed(format!(
                "The request has more than {MAX_PAIRS} parameters."
            )));
        }
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let not_encoded = || malformed("The request's form is not valid UTF-8 percent-encoding.");
        let name = decode_component(name, plus_is_space).ok_or_else(not_encoded)?;
        let value = decode_component(value, plus_is_space).ok_or_else(not_encoded)?;
        if name.len() > MAX_NAME {
            return Err(malformed(format!(
                "A parameter name is longer than {MAX_NAME} bytes."
            )));
        }
        match name.as_str() {
            "Action" => action = Some(value),
            "Version" => version = Some(value),
            _ => {
                let path: Vec<&str> = name.split('.').collect();
                if path.len() > MAX_DEPTH {
                    return Err(malformed(format!(
                        "A parameter name is nested more than {MAX_DEPTH} deep."
                    )));
                }
                root.insert(&path, value)?;
            }
        }
    }
    let action = action.filter(|a| !a.is_empty()).ok_or_else(|| {
        AwsError::new(
            Problem::MissingParameter,
            "The request must contain the parameter Action.",
        )
    })?;
    Ok(Form {
        action,
        version,
        members: root.into_json()?,
    })
}

/// A form value as the tree is built: structures by member name, lists and maps by their
/// 1-based position.
enum Node {
    Leaf(String),
    Struct(BTreeMap<String, Node>),
    List(BTreeMap<u32, Node>),
    Map(BTreeMap<u32, Node>),
}

fn conflicting(path: &[&str]) -> AwsError {
    malformed(format!(
        "The parameter {} is given twice or in two shapes.",
        shorten(&path.join("."))
    ))
}

/// A name echoed in an error, never at length.
fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}

impl Node {
    fn insert(&mut self, path: &[&str], value: String) -> Result<(), AwsError> {
        let Some((first, rest)) = path.split_first() else {
            return Err(conflicting(path));
        };
        let Node::Struct(members) = self else {
            return Err(conflicting(path));
        };
        // `Name.member.N…` is a list, `Name.entry.N…` a map.
        let child = match rest {
            [] => {
                if members
                    .insert(first.to_string(), Node::Leaf(value))
                    .is_some()
                {
                    return Err(conflicting(path));
                }
                return Ok(());
            }
            [kind @ ("member" | "entry"), index, tail @ ..] => {
                let position: u32 = index.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    malformed(format!(
                        "{} is not a list position.",
                        shorten(&path.join("."))
                    ))
                })?;
                let node = members.entry(first.to_string()).or_insert_with(|| {
                    if *kind == "member" {
                        Node::List(BTreeMap::new())
                    } else {
                        Node::Map(BTreeMap::new())
                    }
                });
                let (Node::List(items) | Node::Map(items)) = node else {
                    return Err(conflicting(path));
                };
                if tail.is_empty() {
                    if items.insert(position, Node::Leaf(value)).is_some() {
                        return Err(conflicting(path));
                    }
                    return Ok(());
                }
                let item = items
                    .entry(position)
                    .or_insert_with(|| Node::Struct(BTreeMap::new()));
                return item.insert(tail, value);
            }
            _ => members
                .entry(first.to_string())
                .or_insert_with(|| Node::Struct(BTreeMap::new())),
        };
        child.insert(rest, value)
    }

    /// The tree as JSON. A map entry must have exactly a `key` and a `value`, and a key may
    /// come once.
    fn into_json(self) -> Result<Json, AwsError> {
        Ok(match self {
            Node::Leaf(text) => Json::String(text),
            Node::Struct(members) => Json::Object(
                members
                    .into_iter()
                    .map(|(k, v)| Ok((k, v.into_json()?)))
                    .collect::<Result<_, AwsError>>()?,
            ),
            Node::List(items) => Json::Array(
                items
                    .into_values()
                    .map(Node::into_json)
                    .collect::<Result<_, _>>()?,
            ),
            Node::Map(entries) => {
                let mut map = Map::new();
                for entry in entries.into_values() {
                    let Json::Object(mut pair) = entry.into_json()? else {
                        return Err(malformed("A map entry must have a key and a value."));
                    };
                    let (Some(Json::String(key)), Some(value), true) =
                        (pair.remove("key"), pair.remove("value"), pair.is_empty())
                    else {
                        return Err(malformed("A map entry must have a key and a value."));
                    };
                    if map.insert(key, value).is_some() {
                        return Err(malformed("A map key is given twice."));
                    }
                }
                Json::Object(map)
            }
        })
    }
}

/// Percent-decodes one form component (`+` is a space if `plus_is_space`); `None` if it is
/// not UTF-8 or an escape is not two hex digits.
fn decode_component(raw: &[u8], plus_is_space: bool) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let (high, low) = (bytes.next()?, bytes.next()?);
                let digit = |c: &u8| (*c as char).to_digit(16);
                out.push((digit(high)? * 16 + digit(low)?) as u8);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// An action's answer in XML. `tree` is the response message in AWS's member names.
pub fn write_response(
    action: &str,
    namespace: &str,
    service: &str,
    tree: &Json,
    request_id: &str,
) -> String {
    let mut xml = String::with_capacity(512);
    xml.push_str(&format!("<{action}Response xmlns=\"{namespace}\">"));
    if let Json::Object(members) = tree
        && !members.is_empty()
    {
        xml.push_str(&format!("<{action}Result>"));
        write_members(&mut xml, members, service);
        xml.push_str(&format!("</{action}Result>"));
    }
    xml.push_str("<ResponseMetadata><RequestId>");
    escape_into(&mut xml, request_id);
    xml.push_str(&format!(
        "</RequestId></ResponseMetadata></{action}Response>"
    ));
    xml
}

fn write_members(xml: &mut String, members: &Map<String, Json>, service: &str) {
    for (name, value) in members {
        // IAM answers policy documents URL-encoded (SDKs decode them).
        if service == "iam"
            && name == "PolicyDocument"
            && let Json::String(document) = value
        {
            xml.push_str("<PolicyDocument>");
            escape_into(xml, &percent_encode(document));
            xml.push_str("</PolicyDocument>");
            continue;
        }
        write_element(xml, name, value, service);
    }
}

fn write_element(xml: &mut String, name: &str, value: &Json, service: &str) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    match value {
        Json::Null => {}
        Json::Bool(b) => xml.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => xml.push_str(&n.to_string()),
        Json::String(s) => escape_into(xml, s),
        Json::Array(items) => {
            for item in items {
                write_element(xml, "member", item, service);
            }
        }
        Json::Object(members) => write_members(xml, members, service),
    }
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

/// An error in the awsQuery shape.
pub fn write_error(
    namespace: Option<&str>,
    status: http::StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> String {
    let kind = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    let mut xml = String::with_capacity(256);
    match namespace {
        Some(ns) => xml.push_str(&format!("<ErrorResponse xmlns=\"{ns}\">")),
        None => xml.push_str("<ErrorResponse>"),
    }
    xml.push_str(&format!("<Error><Type>{kind}</Type><Code>"));
    escape_into(&mut xml, code);
    xml.push_str("</Code><Message>");
    escape_into(&mut xml, message);
    xml.push_str("</Message></Error><RequestId>");
    escape_into(&mut xml, request_id);
    xml.push_str("</RequestId></ErrorResponse>");
    xml
}

fn escape_into(xml: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => xml.push_str("&lt;"),
            '>' => xml.push_str("&gt;"),
            '&' => xml.push_str("&amp;"),
            '"' => xml.push_str("&quot;"),
            '\'' => xml.push_str("&apos;"),
            '\r' => xml.push_str("&#13;"),
            // XML 1.0 cannot carry other control characters, even escaped.
            c if c.is_control() && c != '\t' && c != '\n' => xml.push('\u{fffd}'),
            c => xml.push(c),
        }
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_form_becomes_the_action_and_a_tree_of_its_members() {
        let form = read_form(
            b"Action=PutUserPolicy&Version=2010-05-08&UserName=app&PolicyName=p+1\
              &PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%7D\
              &ActionNames.member.2=kms%3ADecrypt&ActionNames.member.1=kms%3AEncrypt\
              &Tags.member.1.Key=team&Tags.member.1.Value=billing\
              &Context.entry.1.key=a&Context.entry.1.value=b",
            true,
        )
        .unwrap();
        assert_eq!(form.action, "PutUserPolicy");
        assert_eq!(form.version.as_deref(), Some("2010-05-08"));
        assert_eq!(
            form.members,
            json!({
                "UserName": "app",
                "PolicyName": "p 1",
                "PolicyDocument": "{\"Version\":\"2012-10-17\"}",
                "ActionNames": ["kms:Encrypt", "kms:Decrypt"],
                "Tags": [{"Key": "team", "Value": "billing"}],
                "Context": {"a": "b"},
            })
        );
    }

    #[test]
    fn malformed_forms_are_refused() {
        for form in [
            &b"Version=2011-06-15"[..],
            b"Action=",
            b"Action=GetCallerIdentity&A=%zz",
            b"Action=GetCallerIdentity&A=%4",
            b"Action=GetCallerIdentity&A=1&A=2",
            b"Action=GetCallerIdentity&A=1&A.member.1=2",
            b"Action=GetCallerIdentity&A.member.0=1",
            b"Action=GetCallerIdentity&A=%FF",
            b"Action=GetCallerIdentity&A=%+1",
            b"Action=GetCallerIdentity&M.entry.1.key=a",
            b"Action=GetCallerIdentity&M.entry.1.key=a&M.entry.1.value=b&M.entry.1.other=c",
            b"Action=GetCallerIdentity&M.entry.1.key=a&M.entry.1.value=b\
              &M.entry.2.key=a&M.entry.2.value=c",
        ] {
            assert!(
                read_form(form, true).is_err(),
                "{}",
                String::from_utf8_lossy(form)
            );
        }
    }

    #[test]
    fn forms_are_bounded_before_anything_is_built() {
        // Deep names once overflowed the stack: refused by length or by depth.
        let huge = format!("Action=X&{}a=1", "a.".repeat(200_000));
        let err = read_form(huge.as_bytes(), true).unwrap_err();
        assert_eq!(err.problem, Problem::MalformedQueryString);
        let deep = format!("Action=X&{}a=1", "a.".repeat(100));
        let err = read_form(deep.as_bytes(), true).unwrap_err();
        assert!(err.message.contains("nested"), "{}", err.message);
        let ok = format!("Action=X&{}a=1", "a.".repeat(MAX_DEPTH - 1));
        assert!(read_form(ok.as_bytes(), true).is_ok());

        let many: String = (0..=MAX_PAIRS).map(|i| format!("P{i}=1&")).collect();
        let err = read_form(format!("Action=X&{many}").as_bytes(), true).unwrap_err();
        assert!(err.message.contains("parameters"), "{}", err.message);

        let long = format!("Action=X&{}=1", "n".repeat(MAX_NAME + 1));
        assert!(read_form(long.as_bytes(), true).is_err());
    }

    #[test]
    fn a_plus_is_a_space_in_a_body_and_itself_in_a_query_string() {
        let body = read_form(b"Action=X&UserName=a+b", true).unwrap();
        assert_eq!(body.members["UserName"], "a b");
        let query = read_form(b"Action=X&UserName=a+b", false).unwrap();
        assert_eq!(query.members["UserName"], "a+b");
    }

    #[test]
    fn answers_and_errors_take_the_query_xml_shape() {
        let xml = write_response(
            "GetCallerIdentity",
            "https://sts.amazonaws.com/doc/2011-06-15/",
            "sts",
            &json!({"UserId": "u<1>", "Account": "000000000000", "Arn": "arn:aws:iam::000000000000:user/root"}),
            "req-1",
        );
        assert_eq!(
            xml,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><UserId>u&lt;1&gt;</UserId><Account>000000000000</Account>\
             <Arn>arn:aws:iam::000000000000:user/root</Arn></GetCallerIdentityResult>\
             <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>\
             </GetCallerIdentityResponse>"
        );
        let xml = write_response(
            "ListUserPolicies",
            "ns",
            "iam",
            &json!({"PolicyNames": ["a", "b"], "IsTruncated": false, "PolicyDocument": "{\"x\": 1}"}),
            "r",
        );
        assert!(
            xml.contains("<PolicyNames><member>a</member><member>b</member></PolicyNames>"),
            "{xml}"
        );
        assert!(xml.contains("<IsTruncated>false</IsTruncated>"), "{xml}");
        assert!(
            xml.contains("<PolicyDocument>%7B%22x%22%3A%201%7D</PolicyDocument>"),
            "{xml}"
        );

        let empty = write_response("DeleteUser", "ns", "iam", &json!({}), "r");
        assert_eq!(
            empty,
            "<DeleteUserResponse xmlns=\"ns\"><ResponseMetadata><RequestId>r</RequestId>\
             </ResponseMetadata></DeleteUserResponse>"
        );

        assert_eq!(
            write_error(
                Some("ns"),
                http::StatusCode::BAD_REQUEST,
                "ValidationError",
                "1 < 2 & \"so\"\u{1}",
                "r"
            ),
            "<ErrorResponse xmlns=\"ns\"><Error><Type>Sender</Type><Code>ValidationError</Code>\
             <Message>1 &lt; 2 &amp; &quot;so&quot;\u{fffd}</Message></Error><RequestId>r</RequestId>\
             </ErrorResponse>"
        );
    }
}
