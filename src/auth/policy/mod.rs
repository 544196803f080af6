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

mod condition;
mod parse;
mod pattern;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use condition::{Condition, normalize_key};
use pattern::Pattern;

pub use pattern::wildcard_match;

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
/// Keys are stored normalized (see `normalize_key`), so that lookups from precompiled
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

impl Policy {
    /// Parses and validates a policy document (JSON text).
    pub fn parse(document: &str) -> Result<Policy, PolicyError> {
        parse::parse_document(document)
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
