//! Wildcard patterns (`*`, `?`) and policy variables (`${…}`): compiling them once, and matching
//! them without allocating, for policies and for [`wildcard_match`].

use super::{
    ConditionContext,
    condition::{normalize_key, valid_condition_key},
};

/// A precompiled string pattern. The common shapes get fast paths; the rest is a token list.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Pattern {
    /// `*`.
    Any,
    /// No wildcards nor variables.
    Exact(Box<str>),
    /// A literal followed by a single trailing `*`, e.g. `kms:*`.
    Prefix(Box<str>),
    Glob(Box<[Token]>),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Token {
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
pub(super) struct Variable {
    /// Normalized condition key.
    key: Box<str>,
    default: Option<Box<str>>,
}

/// `*` (any sequence, possibly empty, including `:` and `/`) and `?` (exactly one character)
/// wildcard match. Allocation-free.
pub fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    glob(StrPieces(pattern), value, ignore_case)
}

/// Compiles a pattern. `wildcards`: `*` and `?` are special (Action, Resource, StringLike).
/// `variables`: `${…}` is substituted (2012-10-17 documents). Errors complete a sentence about
/// the value ("Resource entry 2 has …").
pub(super) fn compile(
    text: &str,
    wildcards: bool,
    variables: bool,
) -> Result<Pattern, &'static str> {
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

impl Pattern {
    pub(super) fn matches(
        &self,
        value: &str,
        ignore_case: bool,
        context: &ConditionContext,
    ) -> bool {
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

    pub(super) fn collect_required_variables(&self, out: &mut Vec<Box<str>>) {
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
