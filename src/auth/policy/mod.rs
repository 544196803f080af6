//! IAM-style identity policies (auth.md, Authorization): parsing, validation and evaluation.
//!
//! A document is parsed once into a [`Policy`] whose patterns are precompiled, so that
//! [`evaluate`], which runs on every request, only walks precompiled data and allocates nothing
//! but its answer. Semantics follow AWS IAM:
//!
//! - An explicit Deny wins, then an Allow; anything else is an implicit deny.
//! - Actions match case-insensitively, resources case-sensitively, both with `*` and `?`.
//! - Condition operators are ANDed, keys within an operator are ANDed, values of a key are ORed.
//! - With `"Version": "2012-10-17"`, `${key}` policy variables are substituted from the request
//!   context in Resource/NotResource and in string condition values (`${key, 'default'}` gives a
//!   default; `${*}`, `${?}`, `${$}` are literal characters). A variable that cannot be resolved
//!   makes its statement not apply, as AWS documents. Without that version they are plain text.
//!
//! Error messages name the problem and the statement (1-based, in document order) but never echo
//! values from the document, which may be large or sensitive; only short member names appear.

use std::collections::HashMap;

use serde_json::{Map, Value};

const VERSION_2012: &str = "2012-10-17";
const VERSION_2008: &str = "2008-10-17";

/// A parsed, validated identity policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// Why a policy document was rejected: a human message saying what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// Values of condition keys for one request.
///
/// Keys are stored normalized (see [`normalize_key`]), so that lookups from precompiled
/// conditions are plain hash lookups.
#[derive(Clone, Debug, Default)]
pub struct ConditionContext {
    values: HashMap<String, Vec<String>>,
}

/// What is being asked.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `service:Operation`, e.g. `kms:Encrypt`.
    pub action: &'a str,
    /// The ARN acted on, or `*` for requests on no single resource.
    pub resource: &'a str,
    pub context: &'a ConditionContext,
}

/// The outcome of [`evaluate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

/// A statement that decided (or contributed to) the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchedStatement {
    /// The name the policy was given to [`evaluate`].
    pub policy: String,
    /// 0-based position in the policy's `Statement`.
    pub index: usize,
    pub sid: Option<String>,
}

/// A decision and the statements behind it (none for an implicit deny).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    pub matched: Vec<MatchedStatement>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Debug, PartialEq)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    /// Action or NotAction.
    actions: Element,
    /// Resource or NotResource.
    resources: Element,
    conditions: Vec<Condition>,
    /// Normalized keys of the policy variables (without a default) the statement uses: when one
    /// cannot be resolved, the whole statement does not apply (AWS).
    required_variables: Vec<Box<str>>,
}

/// The patterns of an Action/NotAction or Resource/NotResource element.
#[derive(Clone, Debug, PartialEq)]
struct Element {
    patterns: Vec<Pattern>,
    /// A Not… element matches everything its patterns do not.
    negated: bool,
}

/// A precompiled string pattern. The common shapes get fast paths; the rest is a token list.
#[derive(Clone, Debug, PartialEq)]
enum Pattern {
    /// `*`.
    Any,
    /// No wildcards nor variables.
    Exact(Box<str>),
    /// A literal followed by a single trailing `*`, e.g. `kms:*`.
    Prefix(Box<str>),
    Glob(Box<[Token]>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Lit(Box<str>),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
    /// A policy variable, matched literally once substituted (a value containing `*` must not
    /// widen the pattern).
    Var(Variable),
}

#[derive(Clone, Debug, PartialEq)]
struct Variable {
    /// Normalized condition key.
    key: Box<str>,
    default: Option<Box<str>>,
}

#[derive(Clone, Debug, PartialEq)]
struct Condition {
    /// Normalized condition key.
    key: Box<str>,
    set: SetOperator,
    if_exists: bool,
    /// StringNot…: the test is the positive one, inverted per value.
    negated: bool,
    test: Test,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetOperator {
    /// No prefix.
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StringComparison {
    Equals,
    EqualsIgnoreCase,
    Like,
}

#[derive(Clone, Debug, PartialEq)]
enum Test {
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

impl Policy {
    /// Parses and validates a policy document (JSON text).
    pub fn parse(document: &str) -> Result<Policy, PolicyError> {
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

    /// Number of statements.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// Whether there are no statements (never, for a parsed policy: an empty Statement is invalid).
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}

impl ConditionContext {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value to a key (multi-valued keys get several calls), e.g.
    /// `("aws:username", "alice")`, `("kms:EncryptionContext:app", "billing")`,
    /// `("kms:EncryptionContextKeys", "app")`.
    pub fn insert(&mut self, key: &str, value: &str) {
        self.values
            .entry(normalize_key(key))
            .or_default()
            .push(value.to_owned());
    }

    /// A context naming the caller: `aws:username`, `aws:userid` and `aws:PrincipalArn`.
    pub fn for_user(user_name: &str, user_id: &str, user_arn: &str) -> Self {
        let mut context = Self::new();
        context.insert("aws:username", user_name);
        context.insert("aws:userid", user_id);
        context.insert("aws:PrincipalArn", user_arn);
        context
    }

    /// Adds `kms:EncryptionContext:<k>` = v for each pair, and `kms:EncryptionContextKeys` = k for
    /// each key.
    pub fn with_encryption_context<'a>(
        mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        for (key, value) in pairs {
            // Only the prefix is normalized: encryption context keys are case-sensitive.
            self.insert(&format!("kms:EncryptionContext:{key}"), value);
            self.insert("kms:EncryptionContextKeys", key);
        }
        self
    }

    /// The values of a normalized key; `None` when absent (a present key has at least one value).
    fn values(&self, normalized_key: &str) -> Option<&[String]> {
        self.values.get(normalized_key).map(Vec::as_slice)
    }

    /// The value of a single-valued key, for policy variables (AWS cannot substitute a
    /// multi-valued key).
    fn single(&self, normalized_key: &str) -> Option<&str> {
        match self.values(normalized_key)? {
            [value] => Some(value),
            _ => None,
        }
    }
}

/// Evaluates a request against named policies, AWS-style: any matching Deny gives
/// [`Decision::ExplicitDeny`] with every matching Deny statement; otherwise any matching Allow
/// gives [`Decision::Allowed`] with every matching Allow statement; otherwise
/// [`Decision::ImplicitDeny`] with no statements.
pub fn evaluate(policies: &[(&str, &Policy)], request: &Request<'_>) -> Evaluation {
    // Positions first, names later: a later Deny makes any Allow found so far irrelevant.
    let mut denies: Vec<(usize, usize)> = Vec::new();
    let mut allows: Vec<(usize, usize)> = Vec::new();
    for (p, (_, policy)) in policies.iter().enumerate() {
        for (s, statement) in policy.statements.iter().enumerate() {
            // Once something denies, no Allow can change the answer: skip evaluating them.
            if statement.effect == Effect::Allow && !denies.is_empty() {
                continue;
            }
            if statement.applies(request) {
                match statement.effect {
                    Effect::Deny => denies.push((p, s)),
                    Effect::Allow => allows.push((p, s)),
                }
            }
        }
    }
    let (decision, hits) = if !denies.is_empty() {
        (Decision::ExplicitDeny, denies)
    } else if !allows.is_empty() {
        (Decision::Allowed, allows)
    } else {
        (Decision::ImplicitDeny, Vec::new())
    };
    let matched = hits
        .into_iter()
        .map(|(p, s)| {
            let (name, policy) = policies[p];
            MatchedStatement {
                policy: name.to_owned(),
                index: s,
                sid: policy.statements[s].sid.clone(),
            }
        })
        .collect();
    Evaluation { decision, matched }
}

/// `*` (any sequence, possibly empty, including `:` and `/`) and `?` (exactly one character)
/// wildcard match. Allocation-free.
pub fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    glob(StrPieces(pattern), value, ignore_case)
}

// ---------------------------------------------------------------------------------------------
// Parsing

fn error(message: &str) -> PolicyError {
    PolicyError(message.to_owned())
}

/// A member name for an error message: quoted when short and printable, else left out, so that
/// messages never carry arbitrary document text.
fn describe_name(name: &str) -> String {
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

/// `service:name`: a service of ASCII letters, digits and `-`, and a non-empty rest (encryption
/// context keys may hold any characters).
fn valid_condition_key(key: &str) -> bool {
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
fn normalize_key(key: &str) -> String {
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

fn parse_conditions(value: &Value, variables: bool) -> Result<Vec<Condition>, String> {
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

/// Compiles a pattern. `wildcards`: `*` and `?` are special (Action, Resource, StringLike).
/// `variables`: `${…}` is substituted (2012-10-17 documents). Errors complete a sentence about
/// the value ("Resource entry 2 has …").
fn compile(text: &str, wildcards: bool, variables: bool) -> Result<Pattern, &'static str> {
    fn flush(literal: &mut String, tokens: &mut Vec<Token>) {
        if !literal.is_empty() {
            tokens.push(Token::Lit(std::mem::take(literal).into_boxed_str()));
        }
    }
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if variables && rest.starts_with("${") {
            let end = rest
                .find('}')
                .ok_or("has an unterminated policy variable")?;
            let inner = &rest[2..end];
            rest = &rest[end + 1..];
            match inner {
                // Escapes for characters that would otherwise be special.
                "*" | "?" | "$" => literal.push_str(inner),
                _ => {
                    let variable =
                        parse_variable(inner).ok_or("has a malformed policy variable")?;
                    flush(&mut literal, &mut tokens);
                    tokens.push(Token::Var(variable));
                }
            }
            continue;
        }
        rest = &rest[c.len_utf8()..];
        match c {
            '*' if wildcards => {
                flush(&mut literal, &mut tokens);
                // `**` means the same as `*`; one token keeps backtracking linear in the value.
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
            }
            '?' if wildcards => {
                flush(&mut literal, &mut tokens);
                tokens.push(Token::One);
            }
            _ => literal.push(c),
        }
    }
    flush(&mut literal, &mut tokens);
    Ok(match tokens.as_slice() {
        [] => Pattern::Exact("".into()),
        [Token::Star] => Pattern::Any,
        [Token::Lit(text)] => Pattern::Exact(text.clone()),
        [Token::Lit(text), Token::Star] => Pattern::Prefix(text.clone()),
        _ => Pattern::Glob(tokens.into_boxed_slice()),
    })
}

/// `key` or `key, 'default'` (AWS trims spaces around both parts).
fn parse_variable(inner: &str) -> Option<Variable> {
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let default = default.trim().strip_prefix('\'')?.strip_suffix('\'')?;
            (key.trim(), Some(default))
        }
        None => (inner.trim(), None),
    };
    valid_condition_key(key).then(|| Variable {
        key: normalize_key(key).into_boxed_str(),
        default: default.map(Into::into),
    })
}

// ---------------------------------------------------------------------------------------------
// Evaluation

impl Statement {
    fn applies(&self, request: &Request<'_>) -> bool {
        let context = request.context;
        // Cheapest and most selective first.
        self.actions.matches(request.action, true, context)
            && self
                .required_variables
                .iter()
                .all(|key| context.single(key).is_some())
            && self.resources.matches(request.resource, false, context)
            && self.conditions.iter().all(|c| c.holds(context))
    }
}

impl Element {
    fn matches(&self, value: &str, ignore_case: bool, context: &ConditionContext) -> bool {
        let hit = self
            .patterns
            .iter()
            .any(|p| p.matches(value, ignore_case, context));
        hit != self.negated
    }
}

impl Pattern {
    fn matches(&self, value: &str, ignore_case: bool, context: &ConditionContext) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(text) => {
                strip_prefix(value, text, ignore_case).is_some_and(str::is_empty)
            }
            Pattern::Prefix(text) => strip_prefix(value, text, ignore_case).is_some(),
            Pattern::Glob(tokens) => glob(
                tokens.iter().map(move |t| t.piece(context)),
                value,
                ignore_case,
            ),
        }
    }

    fn collect_required_variables(&self, out: &mut Vec<Box<str>>) {
        let Pattern::Glob(tokens) = self else {
            return;
        };
        for token in tokens {
            if let Token::Var(Variable { key, default: None }) = token
                && !out.contains(key)
            {
                out.push(key.clone());
            }
        }
    }
}

impl Token {
    fn piece<'a>(&'a self, context: &'a ConditionContext) -> Piece<'a> {
        match self {
            Token::Lit(text) => Piece::Lit(text),
            Token::Star => Piece::Star,
            Token::One => Piece::One,
            Token::Var(variable) => context
                .single(&variable.key)
                .or(variable.default.as_deref())
                .map_or(Piece::Never, Piece::Lit),
        }
    }
}

impl Condition {
    fn holds(&self, context: &ConditionContext) -> bool {
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

// ---------------------------------------------------------------------------------------------
// Matching

/// One unit of a pattern, as the matcher sees it.
#[derive(Clone, Copy)]
enum Piece<'a> {
    Star,
    One,
    Lit(&'a str),
    /// An unresolvable variable: matches nothing.
    Never,
}

/// The pieces of an uncompiled pattern string, produced lazily so that [`wildcard_match`]
/// needs no allocation.
#[derive(Clone)]
struct StrPieces<'a>(&'a str);

impl<'a> Iterator for StrPieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let text = self.0;
        let piece = match text.as_bytes().first()? {
            b'*' => {
                self.0 = &text[1..];
                Piece::Star
            }
            b'?' => {
                self.0 = &text[1..];
                Piece::One
            }
            _ => {
                let end = text.find(['*', '?']).unwrap_or(text.len());
                self.0 = &text[end..];
                Piece::Lit(&text[..end])
            }
        };
        Some(piece)
    }
}

/// Wildcard matching by greedy scanning with backtracking to the last `*` only: when a later
/// piece fails, letting an earlier `*` absorb more cannot help that the last one could not, so
/// the work is O(pattern × value) at worst, with no allocation.
fn glob<'a, I>(pieces: I, value: &str, ignore_case: bool) -> bool
where
    I: Iterator<Item = Piece<'a>> + Clone,
{
    let mut pattern = pieces;
    let mut rest = value;
    // After the last `*` seen: the pieces following it and the value it has not absorbed.
    let mut last_star: Option<(I, &str)> = None;
    loop {
        let advanced = match pattern.next() {
            Some(Piece::Star) => {
                if pattern.clone().next().is_none() {
                    // A trailing `*` absorbs whatever is left.
                    return true;
                }
                last_star = Some((pattern.clone(), rest));
                continue;
            }
            Some(Piece::One) => {
                let mut chars = rest.chars();
                chars.next().map(|_| rest = chars.as_str()).is_some()
            }
            Some(Piece::Lit(text)) => strip_prefix(rest, text, ignore_case)
                .map(|after| rest = after)
                .is_some(),
            Some(Piece::Never) => false,
            None if rest.is_empty() => return true,
            None => false,
        };
        if advanced {
            continue;
        }
        // Mismatch: let the last `*` absorb one more character and retry from just after it.
        let Some((after_star, absorbed_to)) = &mut last_star else {
            return false;
        };
        let mut chars = absorbed_to.chars();
        if chars.next().is_none() {
            return false;
        }
        *absorbed_to = chars.as_str();
        pattern = after_star.clone();
        rest = absorbed_to;
    }
}

/// `value` without the leading `prefix`, comparing character by character (case-folded when
/// asked); `None` if it does not start with it.
fn strip_prefix<'v>(value: &'v str, prefix: &str, ignore_case: bool) -> Option<&'v str> {
    if !ignore_case {
        return value.strip_prefix(prefix);
    }
    let mut chars = value.chars();
    for expected in prefix.chars() {
        let actual = chars.next()?;
        if !chars_equal_ignoring_case(expected, actual) {
            return None;
        }
    }
    Some(chars.as_str())
}

fn chars_equal_ignoring_case(a: char, b: char) -> bool {
    if a == b {
        return true;
    }
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(&b);
    }
    a.to_lowercase().eq(b.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH_MD_EXAMPLE: &str = r#"{"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
       "Resource": "arn:aws:kms:*:*:key/*",
       "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}}},
      {"Effect": "Deny", "Action": "ssm:*", "Resource": "arn:aws:ssm:*:*:parameter/prod/*"}]}"#;

    const KEY_ARN: &str =
        "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const PROD_PARAMETER: &str = "arn:aws:ssm:us-east-1:000000000000:parameter/prod/db";

    fn parse(document: &str) -> Policy {
        Policy::parse(document).expect("the document is valid")
    }

    fn parse_error(document: &str) -> String {
        Policy::parse(document)
            .expect_err("the document is invalid")
            .0
    }

    /// A one-statement Allow policy with the given Version/Action/Resource/Condition members.
    fn allow(members: &str) -> Policy {
        parse(&format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", {members}}}}}"#
        ))
    }

    fn decide(
        policy: &Policy,
        action: &str,
        resource: &str,
        context: &ConditionContext,
    ) -> Decision {
        let request = Request {
            action,
            resource,
            context,
        };
        evaluate(&[("p", policy)], &request).decision
    }

    /// Whether a policy with one Allow statement for `kms:Encrypt` on `*` and the given Condition
    /// allows a request with the context.
    fn condition_holds(condition: &str, context: &ConditionContext) -> bool {
        let policy = allow(&format!(
            r#""Action": "kms:Encrypt", "Resource": "*", "Condition": {condition}"#
        ));
        decide(&policy, "kms:Encrypt", "*", context) == Decision::Allowed
    }

    fn context(pairs: &[(&str, &str)]) -> ConditionContext {
        let mut context = ConditionContext::new();
        for (key, value) in pairs {
            context.insert(key, value);
        }
        context
    }

    fn billing() -> ConditionContext {
        ConditionContext::new().with_encryption_context([("app", "billing")])
    }

    #[test]
    fn policy_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Policy>();
        assert_send_sync::<ConditionContext>();
    }

    #[test]
    fn auth_md_example_allows_kms_with_the_right_encryption_context() {
        let policy = parse(AUTH_MD_EXAMPLE);
        assert_eq!(policy.len(), 2);
        assert!(!policy.is_empty());
        for action in [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
        ] {
            assert_eq!(
                decide(&policy, action, KEY_ARN, &billing()),
                Decision::Allowed,
                "{action}"
            );
        }
        // Not listed, and not a key ARN.
        assert_eq!(
            decide(&policy, "kms:ReEncryptFrom", KEY_ARN, &billing()),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(
                &policy,
                "kms:Encrypt",
                "arn:aws:kms:us-east-1:000000000000:alias/app",
                &billing()
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn auth_md_example_denies_implicitly_with_wrong_or_missing_context() {
        let policy = parse(AUTH_MD_EXAMPLE);
        let wrong = ConditionContext::new().with_encryption_context([("app", "payroll")]);
        let other_key = ConditionContext::new().with_encryption_context([("team", "billing")]);
        for context in [wrong, other_key, ConditionContext::new()] {
            let request = Request {
                action: "kms:Decrypt",
                resource: KEY_ARN,
                context: &context,
            };
            let evaluation = evaluate(&[("app", &policy)], &request);
            assert_eq!(evaluation.decision, Decision::ImplicitDeny);
            assert!(evaluation.matched.is_empty());
        }
    }

    #[test]
    fn auth_md_example_deny_wins_over_another_policys_allow_all() {
        let policy = parse(AUTH_MD_EXAMPLE);
        let admin = parse(
            r#"{"Version": "2012-10-17", "Statement": {"Sid": "All", "Effect": "Allow",
               "Action": "*", "Resource": "*"}}"#,
        );
        let context = ConditionContext::new();
        let request = Request {
            action: "ssm:GetParameter",
            resource: PROD_PARAMETER,
            context: &context,
        };
        let evaluation = evaluate(&[("admin", &admin), ("app", &policy)], &request);
        assert_eq!(evaluation.decision, Decision::ExplicitDeny);
        assert_eq!(
            evaluation.matched,
            vec![MatchedStatement {
                policy: "app".to_owned(),
                index: 1,
                sid: None
            }]
        );
        // Outside prod, the admin policy's Allow decides.
        let dev = Request {
            resource: "arn:aws:ssm:us-east-1:000000000000:parameter/dev/db",
            ..request
        };
        let evaluation = evaluate(&[("admin", &admin), ("app", &policy)], &dev);
        assert_eq!(evaluation.decision, Decision::Allowed);
        assert_eq!(
            evaluation.matched,
            vec![MatchedStatement {
                policy: "admin".to_owned(),
                index: 0,
                sid: Some("All".to_owned())
            }]
        );
    }

    #[test]
    fn no_policies_is_an_implicit_deny() {
        let context = ConditionContext::new();
        let request = Request {
            action: "kms:Encrypt",
            resource: "*",
            context: &context,
        };
        assert_eq!(
            evaluate(&[], &request),
            Evaluation {
                decision: Decision::ImplicitDeny,
                matched: Vec::new()
            }
        );
    }

    #[test]
    fn matched_statements_list_every_allow_or_every_deny() {
        let first = parse(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Sid": "Keys", "Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                {"Sid": "Other", "Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
                {"Sid": "Enc", "Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}"#,
        );
        let second = parse(
            r#"{"Statement": [
                {"Effect": "Allow", "Action": "kms:Enc*", "Resource": "*"},
                {"Sid": "NoTest", "Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*",
                 "Condition": {"StringEquals": {"aws:username": "test"}}}]}"#,
        );
        let policies = [("first", &first), ("second", &second)];
        let matched = |policy: &str, index, sid: Option<&str>| MatchedStatement {
            policy: policy.to_owned(),
            index,
            sid: sid.map(str::to_owned),
        };

        let alice = context(&[("aws:username", "alice")]);
        let request = Request {
            action: "kms:Encrypt",
            resource: KEY_ARN,
            context: &alice,
        };
        assert_eq!(
            evaluate(&policies, &request),
            Evaluation {
                decision: Decision::Allowed,
                matched: vec![
                    matched("first", 0, Some("Keys")),
                    matched("first", 2, Some("Enc")),
                    matched("second", 0, None),
                ]
            }
        );

        let test_user = context(&[("aws:username", "test")]);
        let request = Request {
            context: &test_user,
            ..request
        };
        assert_eq!(
            evaluate(&policies, &request),
            Evaluation {
                decision: Decision::ExplicitDeny,
                matched: vec![matched("second", 1, Some("NoTest"))]
            }
        );
    }

    #[test]
    fn wildcard_match_semantics() {
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("*", "arn:aws:kms:x:y:key/z", false));
        assert!(wildcard_match("", "", false));
        assert!(!wildcard_match("", "a", false));
        assert!(!wildcard_match("?", "", false));
        assert!(
            wildcard_match("?", "é", false),
            "? is one character, not one byte"
        );
        assert!(!wildcard_match("?", "ab", false));
        assert!(wildcard_match("a?c", "abc", false));
        assert!(!wildcard_match("a?c", "ac", false));
        assert!(wildcard_match("a*", "a", false));
        assert!(wildcard_match("*c", "abc", false));
        assert!(!wildcard_match("*c", "abcd", false));
        assert!(wildcard_match("a*b*c", "aXbYbZc", false));
        assert!(!wildcard_match("a*b*c", "aXbYbZ", false));
        assert!(wildcard_match("*a*a*a*b", "aaaaaaaaab", false));
        assert!(!wildcard_match("*a*a*a*b", "aaaaaaaaaa", false));
        assert!(wildcard_match("a**?", "ab", false));
        assert!(wildcard_match("k*y", "k:/:y", false), "* spans ':' and '/'");
        assert!(wildcard_match("key/*", "key/", false));
        assert!(!wildcard_match("ABC", "abc", false));
        assert!(wildcard_match("ABC", "abc", true));
        assert!(wildcard_match("a?C*", "AbcDEF", true));
        assert!(wildcard_match("ÉTÉ", "été", true));
        assert!(!wildcard_match("ÉTÉ", "été", false));
        assert!(!wildcard_match("abc", "ab", true));
    }

    #[test]
    fn action_and_resource_wildcards() {
        let policy = allow(
            r#""Action": ["kms:?ncrypt", "ssm:Get*"],
               "Resource": ["arn:aws:kms:us-east-?:*:key/*", "arn:aws:ssm:*:*:parameter/app/*"]"#,
        );
        let none = ConditionContext::new();
        assert_eq!(
            decide(&policy, "kms:Encrypt", KEY_ARN, &none),
            Decision::Allowed
        );
        assert_eq!(
            decide(&policy, "kms:Decrypt", KEY_ARN, &none),
            Decision::ImplicitDeny,
            "? is exactly one character"
        );
        assert_eq!(
            decide(
                &policy,
                "kms:Encrypt",
                "arn:aws:kms:us-west-2:000000000000:key/k",
                &none
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(
                &policy,
                "kms:Encrypt",
                "arn:aws:kms:us-east-10:000000000000:key/k",
                &none
            ),
            Decision::ImplicitDeny
        );
        let parameter = "arn:aws:ssm:eu-west-1:000000000000:parameter/app/db/password";
        assert_eq!(
            decide(&policy, "ssm:GetParametersByPath", parameter, &none),
            Decision::Allowed
        );
        assert_eq!(
            decide(&policy, "ssm:PutParameter", parameter, &none),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn actions_match_case_insensitively_and_resources_case_sensitively() {
        let policy = allow(
            r#""Action": "kms:Encrypt", "Resource": "arn:aws:kms:us-east-1:000000000000:key/Abc""#,
        );
        let none = ConditionContext::new();
        let key = "arn:aws:kms:us-east-1:000000000000:key/Abc";
        assert_eq!(
            decide(&policy, "KMS:encrypt", key, &none),
            Decision::Allowed
        );
        assert_eq!(
            decide(&policy, "kms:ENCRYPT", key, &none),
            Decision::Allowed
        );
        assert_eq!(
            decide(
                &policy,
                "kms:Encrypt",
                "arn:aws:kms:us-east-1:000000000000:key/abc",
                &none
            ),
            Decision::ImplicitDeny
        );
        let uppercase_name = allow(r#""Action": "kms:ENCRYPT*", "Resource": "*""#);
        assert_eq!(
            decide(&uppercase_name, "kms:Encrypt", "*", &none),
            Decision::Allowed
        );
    }

    #[test]
    fn not_action_matches_every_other_action() {
        let policy = parse(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "NotAction": ["iam:*", "kms:Schedule*"], "Resource": "*"}]}"#,
        );
        let none = ConditionContext::new();
        assert_eq!(
            decide(&policy, "kms:Encrypt", "*", &none),
            Decision::Allowed
        );
        assert_eq!(
            decide(&policy, "ssm:GetParameter", "*", &none),
            Decision::Allowed
        );
        assert_eq!(
            decide(&policy, "iam:CreateUser", "*", &none),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(&policy, "KMS:ScheduleKeyDeletion", "*", &none),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn not_resource_matches_every_other_resource() {
        let policy = parse(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
                {"Sid": "OnlyDev", "Effect": "Deny", "Action": "ssm:*",
                 "NotResource": "arn:aws:ssm:*:*:parameter/dev/*"}]}"#,
        );
        let none = ConditionContext::new();
        let dev = "arn:aws:ssm:us-east-1:000000000000:parameter/dev/db";
        assert_eq!(
            decide(&policy, "ssm:GetParameter", dev, &none),
            Decision::Allowed
        );
        assert_eq!(
            decide(&policy, "ssm:GetParameter", PROD_PARAMETER, &none),
            Decision::ExplicitDeny
        );
        assert_eq!(
            decide(&policy, "ssm:DescribeParameters", "*", &none),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn string_equals_and_not_equals() {
        let alice = context(&[("aws:username", "alice")]);
        let bob = context(&[("aws:username", "bob")]);
        let nobody = ConditionContext::new();
        let equals = r#"{"StringEquals": {"aws:username": ["alice", "carol"]}}"#;
        assert!(condition_holds(equals, &alice));
        assert!(!condition_holds(equals, &bob));
        assert!(
            !condition_holds(equals, &nobody),
            "absent key fails a positive test"
        );
        assert!(!condition_holds(
            r#"{"StringEquals": {"aws:username": "ALICE"}}"#,
            &alice
        ));
        assert!(
            !condition_holds(r#"{"StringEquals": {"aws:username": "al*"}}"#, &alice),
            "StringEquals has no wildcards"
        );

        let not_equals = r#"{"StringNotEquals": {"aws:username": ["alice", "carol"]}}"#;
        assert!(!condition_holds(not_equals, &alice));
        assert!(condition_holds(not_equals, &bob));
        assert!(
            condition_holds(not_equals, &nobody),
            "absent key passes a negated test"
        );
    }

    #[test]
    fn string_equals_ignore_case_and_its_negation() {
        let alice = context(&[("aws:username", "Alice")]);
        let nobody = ConditionContext::new();
        let equals = r#"{"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}"#;
        assert!(condition_holds(equals, &alice));
        assert!(!condition_holds(
            equals,
            &context(&[("aws:username", "alicia")])
        ));
        assert!(!condition_holds(equals, &nobody));
        let not_equals = r#"{"StringNotEqualsIgnoreCase": {"aws:username": "aLiCe"}}"#;
        assert!(!condition_holds(not_equals, &alice));
        assert!(condition_holds(
            not_equals,
            &context(&[("aws:username", "bob")])
        ));
        assert!(condition_holds(not_equals, &nobody));
    }

    #[test]
    fn string_like_and_not_like() {
        let prod = context(&[(
            "aws:PrincipalArn",
            "arn:aws:iam::000000000000:user/prod-api",
        )]);
        let dev = context(&[("aws:PrincipalArn", "arn:aws:iam::000000000000:user/dev-api")]);
        let nobody = ConditionContext::new();
        let like = r#"{"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/prod-???"}}"#;
        assert!(condition_holds(like, &prod));
        assert!(!condition_holds(like, &dev));
        assert!(!condition_holds(like, &nobody));
        assert!(
            !condition_holds(
                r#"{"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/PROD-*"}}"#,
                &prod
            ),
            "StringLike is case-sensitive"
        );
        let not_like = r#"{"StringNotLike": {"aws:PrincipalArn": "*:user/prod-*"}}"#;
        assert!(!condition_holds(not_like, &prod));
        assert!(condition_holds(not_like, &dev));
        assert!(condition_holds(not_like, &nobody));
    }

    #[test]
    fn if_exists_ignores_an_absent_key_but_tests_a_present_one() {
        let nobody = ConditionContext::new();
        let alice = context(&[("aws:username", "alice")]);
        let bob = context(&[("aws:username", "bob")]);
        for (operator, alice_passes) in [
            ("StringEqualsIfExists", true),
            ("StringEqualsIgnoreCaseIfExists", true),
            ("StringLikeIfExists", true),
            ("StringNotEqualsIfExists", false),
            ("StringNotEqualsIgnoreCaseIfExists", false),
            ("StringNotLikeIfExists", false),
        ] {
            let condition = format!(r#"{{"{operator}": {{"aws:username": "alice"}}}}"#);
            assert!(condition_holds(&condition, &nobody), "{operator} absent");
            assert_eq!(
                condition_holds(&condition, &alice),
                alice_passes,
                "{operator}"
            );
            assert_eq!(
                condition_holds(&condition, &bob),
                !alice_passes,
                "{operator}"
            );
        }
        let bool_if_exists = r#"{"BoolIfExists": {"aws:SecureTransport": "true"}}"#;
        assert!(condition_holds(bool_if_exists, &nobody));
        assert!(!condition_holds(
            bool_if_exists,
            &context(&[("aws:SecureTransport", "false")])
        ));
    }

    #[test]
    fn for_any_value_and_for_all_values() {
        let app_only = ConditionContext::new().with_encryption_context([("app", "billing")]);
        let app_and_team = ConditionContext::new()
            .with_encryption_context([("app", "billing"), ("team", "finance")]);
        let team_only = ConditionContext::new().with_encryption_context([("team", "finance")]);
        let no_context = ConditionContext::new();

        let any = r#"{"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "app"}}"#;
        assert!(condition_holds(any, &app_only));
        assert!(condition_holds(any, &app_and_team));
        assert!(!condition_holds(any, &team_only));
        assert!(
            !condition_holds(any, &no_context),
            "ForAnyValue fails on an absent key"
        );

        let all = r#"{"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["app", "env"]}}"#;
        assert!(condition_holds(all, &app_only));
        assert!(!condition_holds(all, &app_and_team));
        assert!(
            condition_holds(all, &no_context),
            "ForAllValues passes on an absent key"
        );

        // Negated set tests: ForAnyValue needs one value outside the list, ForAllValues all.
        let any_not = r#"{"ForAnyValue:StringNotEquals": {"kms:EncryptionContextKeys": "app"}}"#;
        assert!(condition_holds(any_not, &app_and_team));
        assert!(!condition_holds(any_not, &app_only));
        assert!(!condition_holds(any_not, &no_context));
        let all_not = r#"{"ForAllValues:StringNotLike": {"kms:EncryptionContextKeys": "a*"}}"#;
        assert!(condition_holds(all_not, &team_only));
        assert!(!condition_holds(all_not, &app_and_team));
        assert!(condition_holds(all_not, &no_context));

        let any_if_exists =
            r#"{"ForAnyValue:StringLikeIfExists": {"kms:EncryptionContextKeys": "te*"}}"#;
        assert!(condition_holds(any_if_exists, &no_context));
        assert!(condition_holds(any_if_exists, &app_and_team));
        assert!(!condition_holds(any_if_exists, &app_only));
    }

    #[test]
    fn multi_valued_keys_without_a_set_prefix() {
        let both = ConditionContext::new()
            .with_encryption_context([("app", "billing"), ("team", "finance")]);
        let team_only = ConditionContext::new().with_encryption_context([("team", "finance")]);
        // Positive: any value matching suffices.
        let equals = r#"{"StringEquals": {"kms:EncryptionContextKeys": "app"}}"#;
        assert!(condition_holds(equals, &both));
        assert!(!condition_holds(equals, &team_only));
        // Negated: passes only if no value matches.
        let not_equals = r#"{"StringNotEquals": {"kms:EncryptionContextKeys": "app"}}"#;
        assert!(!condition_holds(not_equals, &both));
        assert!(condition_holds(not_equals, &team_only));
    }

    #[test]
    fn null_tests_presence() {
        let with_context = billing();
        let without = ConditionContext::new();
        let must_be_absent = r#"{"Null": {"kms:EncryptionContextKeys": "true"}}"#;
        assert!(condition_holds(must_be_absent, &without));
        assert!(!condition_holds(must_be_absent, &with_context));
        let must_be_present = r#"{"Null": {"kms:EncryptionContextKeys": false}}"#;
        assert!(!condition_holds(must_be_present, &without));
        assert!(condition_holds(must_be_present, &with_context));
    }

    #[test]
    fn bool_compares_booleans() {
        let secure = context(&[("aws:SecureTransport", "true")]);
        let insecure = context(&[("aws:SecureTransport", "false")]);
        let nobody = ConditionContext::new();
        for condition in [
            r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
            r#"{"Bool": {"aws:SecureTransport": true}}"#,
            r#"{"Bool": {"aws:SecureTransport": "TRUE"}}"#,
        ] {
            assert!(condition_holds(condition, &secure), "{condition}");
            assert!(!condition_holds(condition, &insecure), "{condition}");
            assert!(!condition_holds(condition, &nobody), "{condition}");
        }
        assert!(condition_holds(
            r#"{"Bool": {"aws:SecureTransport": "false"}}"#,
            &insecure
        ));
        assert!(!condition_holds(
            r#"{"Bool": {"aws:SecureTransport": "false"}}"#,
            &secure
        ));
        assert!(!condition_holds(
            r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
            &context(&[("aws:SecureTransport", "yes")])
        ));
    }

    #[test]
    fn numbers_in_condition_values_compare_as_text() {
        let port = context(&[("vault:Port", "8200")]);
        assert!(condition_holds(
            r#"{"StringEquals": {"vault:Port": 8200}}"#,
            &port
        ));
        assert!(!condition_holds(
            r#"{"StringEquals": {"vault:Port": [8201, 1]}}"#,
            &port
        ));
    }

    #[test]
    fn conditions_combine_and_across_operators_and_keys_or_across_values() {
        let condition = r#"{
            "StringEquals": {"kms:EncryptionContext:app": ["billing", "payroll"],
                             "aws:username": "alice"},
            "StringLike": {"kms:EncryptionContext:env": "prod-*"}}"#;
        let full = |app: &'static str, user: &str, env: &'static str| {
            let mut c = context(&[("aws:username", user)]);
            c = c.with_encryption_context([("app", app), ("env", env)]);
            c
        };
        assert!(condition_holds(
            condition,
            &full("billing", "alice", "prod-eu")
        ));
        assert!(condition_holds(
            condition,
            &full("payroll", "alice", "prod-us")
        ));
        assert!(!condition_holds(condition, &full("hr", "alice", "prod-eu")));
        assert!(!condition_holds(
            condition,
            &full("billing", "bob", "prod-eu")
        ));
        assert!(!condition_holds(
            condition,
            &full("billing", "alice", "dev")
        ));
    }

    #[test]
    fn condition_key_prefix_is_case_insensitive_but_encryption_context_key_is_not() {
        let ctx = billing();
        assert!(condition_holds(
            r#"{"StringEquals": {"KMS:encryptioncontext:app": "billing"}}"#,
            &ctx
        ));
        assert!(!condition_holds(
            r#"{"StringEquals": {"kms:EncryptionContext:App": "billing"}}"#,
            &ctx
        ));
        let user = context(&[("AWS:UserName", "alice")]);
        assert!(condition_holds(
            r#"{"StringEquals": {"aws:username": "alice"}}"#,
            &user
        ));
    }

    #[test]
    fn username_variable_is_substituted_in_resources() {
        let policy = allow(
            r#""Action": "ssm:*",
               "Resource": "arn:aws:ssm:*:*:parameter/home/${aws:username}/*""#,
        );
        let alice = ConditionContext::for_user(
            "alice",
            "AIDAEXAMPLE",
            "arn:aws:iam::000000000000:user/alice",
        );
        let own = "arn:aws:ssm:us-east-1:000000000000:parameter/home/alice/token";
        let other = "arn:aws:ssm:us-east-1:000000000000:parameter/home/bob/token";
        assert_eq!(
            decide(&policy, "ssm:GetParameter", own, &alice),
            Decision::Allowed
        );
        assert_eq!(
            decide(&policy, "ssm:GetParameter", other, &alice),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(&policy, "ssm:GetParameter", own, &ConditionContext::new()),
            Decision::ImplicitDeny,
            "an unresolvable variable makes the statement not apply"
        );
        // A substituted value is literal: a name with wildcards must not widen the pattern.
        let star = context(&[("aws:username", "*")]);
        assert_eq!(
            decide(&policy, "ssm:GetParameter", other, &star),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn unresolvable_variable_disables_a_not_resource_statement_too() {
        let policy = parse(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "ssm:*",
                 "NotResource": "arn:aws:ssm:*:*:parameter/home/${aws:username}/*"}]}"#,
        );
        let bob = context(&[("aws:username", "bob")]);
        let alice_parameter = "arn:aws:ssm:us-east-1:000000000000:parameter/home/alice/x";
        let bob_parameter = "arn:aws:ssm:us-east-1:000000000000:parameter/home/bob/x";
        assert_eq!(
            decide(&policy, "ssm:GetParameter", alice_parameter, &bob),
            Decision::ExplicitDeny
        );
        assert_eq!(
            decide(&policy, "ssm:GetParameter", bob_parameter, &bob),
            Decision::Allowed
        );
        assert_eq!(
            decide(
                &policy,
                "ssm:GetParameter",
                alice_parameter,
                &ConditionContext::new()
            ),
            Decision::Allowed
        );
    }

    #[test]
    fn variable_defaults_escapes_and_conditions() {
        let with_default = allow(
            r#""Action": "ssm:*",
               "Resource": "arn:aws:ssm:*:*:parameter/home/${aws:username, 'shared'}/*""#,
        );
        let shared = "arn:aws:ssm:us-east-1:000000000000:parameter/home/shared/x";
        assert_eq!(
            decide(
                &with_default,
                "ssm:GetParameter",
                shared,
                &ConditionContext::new()
            ),
            Decision::Allowed
        );
        assert_eq!(
            decide(
                &with_default,
                "ssm:GetParameter",
                shared,
                &context(&[("aws:username", "alice")])
            ),
            Decision::ImplicitDeny
        );

        let escapes =
            allow(r#""Action": "ssm:*", "Resource": "arn:aws:ssm:*:*:parameter/a${*}b${?}${$}""#);
        let none = ConditionContext::new();
        assert_eq!(
            decide(
                &escapes,
                "ssm:GetParameter",
                "arn:aws:ssm:r:1:parameter/a*b?$",
                &none
            ),
            Decision::Allowed
        );
        assert_eq!(
            decide(
                &escapes,
                "ssm:GetParameter",
                "arn:aws:ssm:r:1:parameter/aXXbY$",
                &none
            ),
            Decision::ImplicitDeny,
            "escaped wildcards are literal"
        );

        let in_condition =
            r#"{"StringLike": {"kms:EncryptionContext:owner": "${aws:username}-*"}}"#;
        let mut alice = context(&[("aws:username", "alice")]);
        alice = alice.with_encryption_context([("owner", "alice-team")]);
        assert!(condition_holds(in_condition, &alice));
        let bob =
            context(&[("aws:username", "bob")]).with_encryption_context([("owner", "alice-team")]);
        assert!(!condition_holds(in_condition, &bob));
    }

    #[test]
    fn variables_are_literal_text_before_version_2012() {
        let policy = parse(
            r#"{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "ssm:*",
               "Resource": "arn:aws:ssm:*:*:parameter/${aws:username}"}}"#,
        );
        let alice = context(&[("aws:username", "alice")]);
        assert_eq!(
            decide(
                &policy,
                "ssm:GetParameter",
                "arn:aws:ssm:r:1:parameter/alice",
                &alice
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(
                &policy,
                "ssm:GetParameter",
                "arn:aws:ssm:r:1:parameter/${aws:username}",
                &alice
            ),
            Decision::Allowed
        );
        // No Version means the 2008 language as well.
        let unversioned = parse(
            r#"{"Statement": {"Effect": "Allow", "Action": "ssm:*",
               "Resource": "arn:aws:ssm:*:*:parameter/${aws:username}"}}"#,
        );
        assert_eq!(
            decide(
                &unversioned,
                "ssm:GetParameter",
                "arn:aws:ssm:r:1:parameter/alice",
                &alice
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn single_object_statement_is_accepted() {
        let policy = parse(
            r#"{"Version": "2012-10-17", "Id": "MyPolicy",
                "Statement": {"Sid": "S1", "Effect": "Deny", "Action": "kms:*", "Resource": "*"}}"#,
        );
        assert_eq!(policy.len(), 1);
        let context = ConditionContext::new();
        let request = Request {
            action: "kms:Decrypt",
            resource: KEY_ARN,
            context: &context,
        };
        assert_eq!(
            evaluate(&[("solo", &policy)], &request).matched,
            vec![MatchedStatement {
                policy: "solo".to_owned(),
                index: 0,
                sid: Some("S1".to_owned())
            }]
        );
    }

    #[test]
    fn malformed_documents_are_rejected_with_a_reason() {
        let statement = |members: &str| {
            parse_error(&format!(
                r#"{{"Version": "2012-10-17", "Statement": [
                    {{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}},
                    {{{members}}}]}}"#
            ))
        };
        let cases: Vec<(String, &str)> = vec![
            (parse_error("{not json"), "not valid JSON"),
            (parse_error("[]"), "must be a JSON object"),
            (
                parse_error(r#"{"Version": "2012-10-17"}"#),
                "Statement is required",
            ),
            (
                parse_error(r#"{"Version": "2012-10-17", "Statement": []}"#),
                "Statement must not be an empty array",
            ),
            (
                parse_error(r#"{"Version": "2012-10-17", "Statement": "x"}"#),
                "Statement must be an object",
            ),
            (
                parse_error(r#"{"Version": "2012-10-18", "Statement": {}}"#),
                "Version must be",
            ),
            (
                parse_error(r#"{"Version": 2012, "Statement": {}}"#),
                "Version must be",
            ),
            (
                parse_error(r#"{"Statement": {}, "Extra": 1}"#),
                "unknown member \"Extra\"",
            ),
            (
                parse_error(r#"{"Statement": {}, "Id": 7}"#),
                "Id must be a string",
            ),
            (
                statement(r#""Action": "kms:Encrypt", "Resource": "*""#),
                "Statement 2: Effect is required",
            ),
            (
                statement(r#""Effect": "allow", "Action": "kms:Encrypt", "Resource": "*""#),
                "Statement 2: Effect must be \"Allow\" or \"Deny\"",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*""#,
                ),
                "Statement 2: identity policies must not name a principal",
            ),
            (
                statement(
                    r#""Effect": "Allow", "NotPrincipal": {"AWS": "x"}, "Action": "kms:Encrypt", "Resource": "*""#,
                ),
                "identity policies must not name a principal",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "NotAction": "kms:Decrypt", "Resource": "*""#,
                ),
                "exactly one of Action and NotAction",
            ),
            (
                statement(r#""Effect": "Allow", "Resource": "*""#),
                "exactly one of Action and NotAction",
            ),
            (
                statement(r#""Effect": "Allow", "Action": "kms:Encrypt""#),
                "exactly one of Resource and NotResource",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "NotResource": "*""#,
                ),
                "exactly one of Resource and NotResource",
            ),
            (
                statement(r#""Effect": "Allow", "Action": "kms", "Resource": "*""#),
                "Action must be \"*\" or \"service:Name\"",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": ["kms:Encrypt", "km_s:Decrypt"], "Resource": "*""#,
                ),
                "Action entry 2 must be",
            ),
            (
                statement(r#""Effect": "Allow", "Action": "kms:", "Resource": "*""#),
                "Action must be",
            ),
            (
                statement(r#""Effect": "Allow", "Action": ":Encrypt", "Resource": "*""#),
                "Action must be",
            ),
            (
                statement(r#""Effect": "Allow", "Action": "kms:Enc rypt", "Resource": "*""#),
                "Action must be",
            ),
            (
                statement(r#""Effect": "Allow", "Action": [], "Resource": "*""#),
                "Action must be a string or a non-empty array of strings",
            ),
            (
                statement(r#""Effect": "Allow", "Action": ["kms:Encrypt", 3], "Resource": "*""#),
                "Action must be a string or a non-empty array of strings",
            ),
            (
                statement(r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "key/1""#),
                "Resource must be \"*\" or an ARN",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "arn:x:${aws:username""#,
                ),
                "Resource has an unterminated policy variable",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "arn:x:${username}""#,
                ),
                "Resource has a malformed policy variable",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"StringEqualz": {"aws:username": "a"}}"#,
                ),
                "Condition operator \"StringEqualz\" is not supported",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"NullIfExists": {"aws:username": "true"}}"#,
                ),
                "is not supported",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"Null": {"aws:username": "maybe"}}"#,
                ),
                "must be true or false",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "yes"}}"#,
                ),
                "must be true or false",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"StringEquals": {"username": "a"}}"#,
                ),
                "must have the form service:name",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"StringEquals": {"aws:username": []}}"#,
                ),
                "non-empty array",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"StringEquals": {}}"#,
                ),
                "must map one or more condition keys",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": []"#,
                ),
                "Condition must be an object",
            ),
            (
                statement(
                    r#""Sid": "not ok", "Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*""#,
                ),
                "Sid must contain only ASCII letters and digits",
            ),
            (
                statement(
                    r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Effects": "Deny""#,
                ),
                "Statement 2: unknown member \"Effects\"",
            ),
        ];
        for (message, expected) in cases {
            assert!(
                message.contains(expected),
                "{message:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn duplicate_sids_are_rejected() {
        let message = parse_error(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Sid": "A", "Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"},
                {"Sid": "A", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}]}"#,
        );
        assert!(
            message.starts_with("Statement 2: Sid must be unique"),
            "{message}"
        );
    }

    #[test]
    fn errors_never_echo_document_values() {
        let secret = "s3cr3tV4lue";
        let documents = [
            format!(
                r#"{{"Statement": {{"Effect": "{secret}", "Action": "kms:Encrypt", "Resource": "*"}}}}"#
            ),
            format!(
                r#"{{"Statement": {{"Effect": "Allow", "Action": "{secret}", "Resource": "*"}}}}"#
            ),
            format!(
                r#"{{"Statement": {{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "{secret}"}}}}"#
            ),
            format!(r#"{{"Version": "{secret}", "Statement": {{}}}}"#),
            format!(
                r#"{{"Statement": {{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {{"Null": {{"aws:x": "{secret}"}}}}}}}}"#
            ),
            format!(r#"{{"Statement": {{"Sid": "{secret}!", "Effect": "Allow"}}}}"#),
            format!(r#"{{"Statement": "{secret}"#),
            // An overlong member name is left out rather than quoted.
            format!(r#"{{"Statement": {{}}, "{}": 1}}"#, secret.repeat(10)),
        ];
        for document in documents {
            let message = parse_error(&document);
            assert!(!message.contains(secret), "{message}");
        }
    }
}
