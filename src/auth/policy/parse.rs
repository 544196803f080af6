//! Document and statement validation: JSON text to a [`Policy`] of compiled statements, with
//! error messages that never echo values from the document.

use serde_json::Value;

use super::{
    Effect, Element, Policy, PolicyError, Statement,
    condition::{Test, parse_conditions},
    pattern::compile,
};

const VERSION_2012: &str = "2012-10-17";
const VERSION_2008: &str = "2008-10-17";

/// Parses and validates a policy document (JSON text): the body of [`Policy::parse`].
pub(super) fn parse_document(document: &str) -> Result<Policy, PolicyError> {
    // serde_json's syntax errors describe the grammar, not the input, but position is all a
    // caller needs; keep the message to that.
    let value: Value = serde_json::from_str(document).map_err(|e| {
        PolicyError(format!(
            "policy document is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(document) = value else {
        return Err(error("policy document must be a JSON object"));
    };
    let mut version = None;
    let mut statement = None;
    for (name, value) in &document {
        match name.as_str() {
            "Version" => version = Some(value),
            "Id" => {
                if !value.is_string() {
                    return Err(error("Id must be a string"));
                }
            }
            "Statement" => statement = Some(value),
            other => {
                return Err(PolicyError(format!(
                    "policy document has an unknown member{}",
                    describe_name(other)
                )));
            }
        }
    }
    // AWS: without a Version the 2008 language applies, which has no policy variables.
    let variables = match version {
        None => false,
        Some(Value::String(v)) if v == VERSION_2012 => true,
        Some(Value::String(v)) if v == VERSION_2008 => false,
        Some(_) => {
            return Err(error("Version must be \"2012-10-17\" or \"2008-10-17\""));
        }
    };
    let items: Vec<&Value> = match statement {
        None => return Err(error("Statement is required")),
        Some(item @ Value::Object(_)) => vec![item],
        Some(Value::Array(items)) if !items.is_empty() => items.iter().collect(),
        Some(Value::Array(_)) => return Err(error("Statement must not be an empty array")),
        Some(_) => {
            return Err(error(
                "Statement must be an object or a non-empty array of objects",
            ));
        }
    };
    let mut statements: Vec<Statement> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let number = i + 1;
        let parsed = parse_statement(item, variables)
            .map_err(|message| PolicyError(format!("Statement {number}: {message}")))?;
        if let Some(sid) = &parsed.sid
            && let Some(earlier) = statements
                .iter()
                .position(|s| s.sid.as_deref() == Some(sid.as_str()))
        {
            return Err(PolicyError(format!(
                "Statement {number}: Sid must be unique within the policy (statement {} has \
                 the same)",
                earlier + 1
            )));
        }
        statements.push(parsed);
    }
    Ok(Policy { statements })
}

fn error(message: &str) -> PolicyError {
    PolicyError(message.to_owned())
}

/// A member name for an error message: quoted when short and printable, else left out, so that
/// messages never carry arbitrary document text.
pub(super) fn describe_name(name: &str) -> String {
    if !name.is_empty() && name.len() <= 40 && name.bytes().all(|b| b.is_ascii_graphic()) {
        format!(" \"{name}\"")
    } else {
        String::new()
    }
}

fn parse_statement(value: &Value, variables: bool) -> Result<Statement, String> {
    let Value::Object(members) = value else {
        return Err("must be a JSON object".to_owned());
    };
    let mut sid = None;
    let mut effect = None;
    let mut action: Option<(&str, &Value)> = None;
    let mut resource: Option<(&str, &Value)> = None;
    let mut condition = None;
    for (name, value) in members {
        match name.as_str() {
            "Sid" => {
                let Value::String(text) = value else {
                    return Err("Sid must be a string".to_owned());
                };
                if !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err("Sid must contain only ASCII letters and digits".to_owned());
                }
                // An empty Sid is accepted (policy generators emit it) and means none.
                sid = (!text.is_empty()).then(|| text.clone());
            }
            "Effect" => effect = Some(value),
            "Action" | "NotAction" => {
                if action.is_some() {
                    return Err("must have exactly one of Action and NotAction".to_owned());
                }
                action = Some((name.as_str(), value));
            }
            "Resource" | "NotResource" => {
                if resource.is_some() {
                    return Err("must have exactly one of Resource and NotResource".to_owned());
                }
                resource = Some((name.as_str(), value));
            }
            "Condition" => condition = Some(value),
            "Principal" | "NotPrincipal" => {
                return Err("identity policies must not name a principal".to_owned());
            }
            other => return Err(format!("unknown member{}", describe_name(other))),
        }
    }

    let effect = match effect {
        None => return Err("Effect is required".to_owned()),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(_) => return Err("Effect must be \"Allow\" or \"Deny\"".to_owned()),
    };

    let Some((action_member, action_value)) = action else {
        return Err("must have exactly one of Action and NotAction".to_owned());
    };
    let mut patterns = Vec::new();
    for (label, text) in string_list(action_member, action_value)? {
        if !valid_action(text) {
            return Err(format!(
                "{label} must be \"*\" or \"service:Name\" (service prefix of letters, digits \
                 and '-'; name of letters and digits, with * or ? wildcards)"
            ));
        }
        patterns.push(compile(text, true, false).map_err(|m| format!("{label} {m}"))?);
    }
    let actions = Element {
        patterns,
        negated: action_member == "NotAction",
    };

    let Some((resource_member, resource_value)) = resource else {
        return Err("must have exactly one of Resource and NotResource".to_owned());
    };
    let mut patterns = Vec::new();
    for (label, text) in string_list(resource_member, resource_value)? {
        if text != "*" && !text.starts_with("arn:") {
            return Err(format!(
                "{label} must be \"*\" or an ARN starting with \"arn:\""
            ));
        }
        patterns.push(compile(text, true, variables).map_err(|m| format!("{label} {m}"))?);
    }
    let resources = Element {
        patterns,
        negated: resource_member == "NotResource",
    };

    let conditions = match condition {
        Some(value) => parse_conditions(value, variables)?,
        None => Vec::new(),
    };

    let mut required_variables = Vec::new();
    let condition_patterns = conditions.iter().flat_map(|c| match &c.test {
        Test::String { values, .. } => values.as_slice(),
        Test::Bool { .. } | Test::Null { .. } => &[],
    });
    for pattern in resources.patterns.iter().chain(condition_patterns) {
        pattern.collect_required_variables(&mut required_variables);
    }

    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        conditions,
        required_variables,
    })
}

/// The strings of an Action/Resource-like member (a string or a non-empty array of strings), each
/// with a label for error messages.
fn string_list<'a>(member: &str, value: &'a Value) -> Result<Vec<(String, &'a str)>, String> {
    let shape_error = || format!("{member} must be a string or a non-empty array of strings");
    match value {
        Value::String(text) => Ok(vec![(member.to_owned(), text.as_str())]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .map(|text| (format!("{member} entry {}", i + 1), text))
                    .ok_or_else(shape_error)
            })
            .collect(),
        _ => Err(shape_error()),
    }
}

/// `*`, or `service:Name` with a `[A-Za-z0-9-]+` service prefix (matched case-insensitively, as
/// the whole action is) and a name of ASCII letters and digits with optional `*`/`?` wildcards.
fn valid_action(action: &str) -> bool {
    if action == "*" {
        return true;
    }
    let Some((service, name)) = action.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
}
