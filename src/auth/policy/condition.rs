//! Condition blocks: condition keys, the operators (`String…`, `Bool`, `Null`, with `IfExists`
//! and the `ForAnyValue:`/`ForAllValues:` set prefixes), their parsing and their evaluation.

use serde_json::{Map, Value};

use super::{
    ConditionContext,
    parse::describe_name,
    pattern::{Pattern, compile},
};

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Condition {
    /// Normalized condition key.
    key: Box<str>,
    set: SetOperator,
    if_exists: bool,
    /// StringNot…: the test is the positive one, inverted per value.
    negated: bool,
    pub(super) test: Test,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetOperator {
    /// No prefix.
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StringComparison {
    Equals,
    EqualsIgnoreCase,
    Like,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Test {
    /// A request value passes when it matches one of the policy values.
    String {
        comparison: StringComparison,
        values: Vec<Pattern>,
    },
    Bool {
        accept_true: bool,
        accept_false: bool,
    },
    /// Tests presence, not values: which states of the key satisfy the condition.
    Null {
        when_absent: bool,
        when_present: bool,
    },
}

/// A parsed condition operator name.
struct Operator {
    set: SetOperator,
    if_exists: bool,
    negated: bool,
    base: BaseOperator,
}

enum BaseOperator {
    String(StringComparison),
    Bool,
    Null,
}

/// `service:name`: a service of ASCII letters, digits and `-`, and a non-empty rest (encryption
/// context keys may hold any characters).
pub(super) fn valid_condition_key(key: &str) -> bool {
    let Some((service, name)) = key.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.is_empty()
}

/// Condition keys are case-insensitive up to and including their second colon-separated segment
/// (`kms:EncryptionContext:`), while what follows (an encryption context key) is case-sensitive,
/// as in AWS. Both the policy's keys and the request's are stored in this form.
pub(super) fn normalize_key(key: &str) -> String {
    let end = key.match_indices(':').nth(1).map_or(key.len(), |(i, _)| i);
    let mut normalized = key.to_owned();
    normalized[..end].make_ascii_lowercase();
    normalized
}

impl Operator {
    fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (SetOperator::ForAnyValue, rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (SetOperator::ForAllValues, rest)
        } else {
            (SetOperator::Single, name)
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let (negated, base) = match base {
            "StringEquals" => (false, BaseOperator::String(StringComparison::Equals)),
            "StringNotEquals" => (true, BaseOperator::String(StringComparison::Equals)),
            "StringEqualsIgnoreCase" => (
                false,
                BaseOperator::String(StringComparison::EqualsIgnoreCase),
            ),
            "StringNotEqualsIgnoreCase" => (
                true,
                BaseOperator::String(StringComparison::EqualsIgnoreCase),
            ),
            "StringLike" => (false, BaseOperator::String(StringComparison::Like)),
            "StringNotLike" => (true, BaseOperator::String(StringComparison::Like)),
            "Bool" => (false, BaseOperator::Bool),
            // Null tests presence, so neither IfExists nor a set prefix means anything for it.
            "Null" if set == SetOperator::Single && !if_exists => (false, BaseOperator::Null),
            _ => return None,
        };
        Some(Operator {
            set,
            if_exists,
            negated,
            base,
        })
    }
}

pub(super) fn parse_conditions(value: &Value, variables: bool) -> Result<Vec<Condition>, String> {
    let Value::Object(operators) = value else {
        return Err("Condition must be an object".to_owned());
    };
    let mut conditions = Vec::new();
    for (operator_name, block) in operators {
        let operator = Operator::parse(operator_name).ok_or_else(|| {
            format!(
                "Condition operator{} is not supported",
                describe_name(operator_name)
            )
        })?;
        // From here on the operator name is a known one, so it may appear in messages.
        let keys: &Map<String, Value> = match block {
            Value::Object(keys) if !keys.is_empty() => keys,
            _ => {
                return Err(format!(
                    "Condition operator \"{operator_name}\" must map one or more condition keys \
                     to values"
                ));
            }
        };
        for (key, values) in keys {
            if !valid_condition_key(key) {
                return Err(format!(
                    "Condition keys under \"{operator_name}\" must have the form service:name"
                ));
            }
            let values = condition_values(values).ok_or_else(|| {
                format!(
                    "Condition values under \"{operator_name}\" must be a string, boolean or \
                     number, or a non-empty array of them"
                )
            })?;
            let test = match operator.base {
                BaseOperator::String(comparison) => {
                    let wildcards = comparison == StringComparison::Like;
                    let values = values
                        .iter()
                        .map(|v| compile(v, wildcards, variables))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|m| format!("a Condition value under \"{operator_name}\" {m}"))?;
                    Test::String { comparison, values }
                }
                BaseOperator::Bool => {
                    let (accept_true, accept_false) = boolean_values(&values).ok_or_else(|| {
                        format!("Condition values under \"{operator_name}\" must be true or false")
                    })?;
                    Test::Bool {
                        accept_true,
                        accept_false,
                    }
                }
                BaseOperator::Null => {
                    let (when_absent, when_present) = boolean_values(&values).ok_or_else(|| {
                        "Condition values under \"Null\" must be true or false".to_owned()
                    })?;
                    Test::Null {
                        when_absent,
                        when_present,
                    }
                }
            };
            conditions.push(Condition {
                key: normalize_key(key).into_boxed_str(),
                set: operator.set,
                if_exists: operator.if_exists,
                negated: operator.negated,
                test,
            });
        }
    }
    Ok(conditions)
}

/// A condition's values as strings: AWS accepts JSON booleans and numbers and compares their text.
fn condition_values(value: &Value) -> Option<Vec<String>> {
    fn scalar(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(scalar).collect(),
        Value::Array(_) => None,
        other => scalar(other).map(|s| vec![s]),
    }
}

/// Which of `true` and `false` the values name; `None` if one is neither.
fn boolean_values(values: &[String]) -> Option<(bool, bool)> {
    let mut seen = (false, false);
    for value in values {
        match parse_bool(value)? {
            true => seen.0 = true,
            false => seen.1 = true,
        }
    }
    Some(seen)
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl Condition {
    pub(super) fn holds(&self, context: &ConditionContext) -> bool {
        let values = context.values(&self.key);
        if let Test::Null {
            when_absent,
            when_present,
        } = self.test
        {
            return if values.is_some() {
                when_present
            } else {
                when_absent
            };
        }
        let Some(values) = values else {
            // AWS: IfExists ignores an absent key; otherwise a positive test fails, a negated one
            // passes, ForAllValues passes vacuously and ForAnyValue fails.
            return self.if_exists
                || match self.set {
                    SetOperator::Single => self.negated,
                    SetOperator::ForAnyValue => false,
                    SetOperator::ForAllValues => true,
                };
        };
        let hit = |value: &String| self.test.accepts(value, context);
        match self.set {
            // Without a set prefix a multi-valued key behaves as ForAnyValue for positive tests,
            // and a negated test passes only if no value matches.
            SetOperator::Single => values.iter().any(hit) != self.negated,
            SetOperator::ForAnyValue => values.iter().any(|v| hit(v) != self.negated),
            SetOperator::ForAllValues => values.iter().all(|v| hit(v) != self.negated),
        }
    }
}

impl Test {
    /// Whether one request value passes the positive form of the test.
    fn accepts(&self, value: &str, context: &ConditionContext) -> bool {
        match self {
            Test::String { comparison, values } => {
                let ignore_case = *comparison == StringComparison::EqualsIgnoreCase;
                values
                    .iter()
                    .any(|p| p.matches(value, ignore_case, context))
            }
            Test::Bool {
                accept_true,
                accept_false,
            } => match parse_bool(value) {
                Some(true) => *accept_true,
                Some(false) => *accept_false,
                None => false,
            },
            // Handled by `Condition::holds`, which looks at presence only.
            Test::Null { .. } => false,
        }
    }
}
