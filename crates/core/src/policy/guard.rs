//! Per-handler policy guards: a policy expression named by a type, compiled once, and the
//! error of a guard or per-route policy that cannot be used.
//!
//! Both adapters declare guards with the same `policy_guard!` macro, which implements
//! [`PolicyGuard`] here and the framework's extractor trait there.

use std::fmt;
use std::sync::OnceLock;

use crate::policy::{CompiledPolicy, Policy, PolicyError, PolicyParseError};

/// A policy expression named by a type, for one handler: declared with the adapters'
/// `policy_guard!` macro and taken as an extractor argument.
///
/// The expression has no `policy:` references (a guard has no policy file). It is compiled
/// once; check every guard of an app when it is built with [`PolicyGuard::validate`] (the
/// adapters' `validate_guards!` does it for a list), so a typo is a start-up error.
pub trait PolicyGuard: 'static {
    /// The policy expression.
    const EXPRESSION: &'static str;

    /// The cell that holds the compiled policy (made by the macro).
    #[doc(hidden)]
    fn cell() -> &'static GuardCell;

    /// The compiled policy, or why the expression cannot be used.
    ///
    /// # Errors
    /// The expression does not parse or compile.
    fn policy() -> Result<&'static CompiledPolicy, &'static GuardError> {
        Self::cell().get_or_compile(std::any::type_name::<Self>(), Self::EXPRESSION)
    }

    /// Checks the guard's expression: call it when the app is built.
    ///
    /// # Errors
    /// The expression does not parse or compile.
    fn validate() -> Result<(), GuardError> {
        Self::policy().map(|_| ()).map_err(Clone::clone)
    }
}

/// Where a [`PolicyGuard`] keeps its compiled policy: a `static` made by the guard macro.
#[doc(hidden)]
pub struct GuardCell(OnceLock<Result<CompiledPolicy, GuardError>>);

impl GuardCell {
    /// An empty cell.
    pub const fn new() -> Self {
        Self(OnceLock::new())
    }

    /// The compiled policy of `expression`, compiled on the first call.
    ///
    /// # Errors
    /// The expression does not parse or compile.
    pub fn get_or_compile(
        &self,
        guard: &'static str,
        expression: &'static str,
    ) -> Result<&CompiledPolicy, &GuardError> {
        self.0
            .get_or_init(|| compile(expression).map_err(|error| error.for_guard(guard)))
            .as_ref()
    }
}

impl Default for GuardCell {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for GuardCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GuardCell").field(&self.0.get()).finish()
    }
}

/// Compiles a guard's expression on its own (no named policies).
///
/// # Errors
/// The expression does not parse or compile (e.g. it has a `policy:` reference).
pub fn compile(expression: &str) -> Result<CompiledPolicy, GuardError> {
    let policy: Policy = expression
        .parse()
        .map_err(|error| GuardError::parse(expression, error))?;
    policy
        .compile()
        .map_err(|error| GuardError::compile(expression.to_owned(), error))
}

/// The first mistake in a guard's expression that can be found while compiling the program:
/// bad syntax, an unknown atom, a `token_use:` other than `id`/`access`, or a `policy:`
/// reference (a guard has no policy file). `None` when none is found; what this does not check
/// (e.g. `public` combined with other atoms, a scope with a character no scope may have) is
/// still refused when the guard is first used or validated.
///
/// The guard macros evaluate it in a `const`, so a typo in a guard fails the build. It reads
/// the expression as the policy parser does and never refuses an expression that parses and
/// compiles; an expression with non-ASCII characters is left to the parser.
#[doc(hidden)]
#[must_use]
pub const fn syntax_error(expression: &str) -> Option<&'static str> {
    let bytes = expression.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if !bytes[index].is_ascii() {
            return None;
        }
        index += 1;
    }
    let start = skip_whitespace(bytes, 0);
    if start == bytes.len() {
        return Some("expected a policy expression");
    }
    match or(bytes, start, 0) {
        Err(message) => Some(message),
        Ok(end) if skip_whitespace(bytes, end) == bytes.len() => None,
        Ok(_) => Some("expected 'and', 'or' or the end of the expression"),
    }
}

/// Same limit as the policy parser's.
const MAX_DEPTH: usize = 64;

const fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

const fn is_delimiter(byte: u8) -> bool {
    is_whitespace(byte) || byte == b'(' || byte == b')'
}

const fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && is_whitespace(bytes[at]) {
        at += 1;
    }
    at
}

/// Whether `bytes[start..end]` is `text`.
const fn is(bytes: &[u8], start: usize, end: usize, text: &str) -> bool {
    let text = text.as_bytes();
    if end - start != text.len() {
        return false;
    }
    let mut index = 0;
    while index < text.len() {
        if bytes[start + index] != text[index] {
            return false;
        }
        index += 1;
    }
    true
}

/// Whether the keyword `word` stands at `at`, followed by a delimiter or the end.
const fn at_keyword(bytes: &[u8], at: usize, word: &str) -> bool {
    let end = at + word.len();
    end <= bytes.len()
        && is(bytes, at, end, word)
        && (end == bytes.len() || is_delimiter(bytes[end]))
}

const fn or(bytes: &[u8], at: usize, depth: usize) -> Result<usize, &'static str> {
    let mut end = match and(bytes, at, depth) {
        Ok(end) => end,
        Err(message) => return Err(message),
    };
    loop {
        let next = skip_whitespace(bytes, end);
        if !at_keyword(bytes, next, "or") {
            return Ok(end);
        }
        end = match and(bytes, next + 2, depth) {
            Ok(end) => end,
            Err(message) => return Err(message),
        };
    }
}

const fn and(bytes: &[u8], at: usize, depth: usize) -> Result<usize, &'static str> {
    let mut end = match unary(bytes, at, depth) {
        Ok(end) => end,
        Err(message) => return Err(message),
    };
    loop {
        let next = skip_whitespace(bytes, end);
        if !at_keyword(bytes, next, "and") {
            return Ok(end);
        }
        end = match unary(bytes, next + 3, depth) {
            Ok(end) => end,
            Err(message) => return Err(message),
        };
    }
}

const fn unary(bytes: &[u8], at: usize, depth: usize) -> Result<usize, &'static str> {
    let at = skip_whitespace(bytes, at);
    if at == bytes.len() || bytes[at] == b')' {
        return Err("expected an atom");
    }
    if depth >= MAX_DEPTH {
        return Err("the expression nests too deep");
    }
    if at_keyword(bytes, at, "not") {
        return unary(bytes, at + 3, depth + 1);
    }
    if bytes[at] == b'(' {
        let inner = match or(bytes, at + 1, depth + 1) {
            Ok(end) => skip_whitespace(bytes, end),
            Err(message) => return Err(message),
        };
        if inner < bytes.len() && bytes[inner] == b')' {
            return Ok(inner + 1);
        }
        return Err("expected 'and', 'or' or ')' to close a '('");
    }
    if at_keyword(bytes, at, "and") || at_keyword(bytes, at, "or") {
        return Err("expected an atom, found an operator");
    }
    atom(bytes, at)
}

const fn atom(bytes: &[u8], at: usize) -> Result<usize, &'static str> {
    let mut word_end = at;
    while word_end < bytes.len()
        && (bytes[word_end].is_ascii_alphabetic() || bytes[word_end] == b'_')
    {
        word_end += 1;
    }
    if word_end == bytes.len() || bytes[word_end] != b':' {
        let alone = word_end == bytes.len() || is_delimiter(bytes[word_end]);
        if alone
            && (is(bytes, at, word_end, "public")
                || is(bytes, at, word_end, "deny")
                || is(bytes, at, word_end, "authenticated"))
        {
            return Ok(word_end);
        }
        return Err(
            "expected an atom (public, deny, authenticated, group:, scope:, token_use:, client:, issuer: or claim:)",
        );
    }
    let after_prefix = word_end + 1;
    let end = if is(bytes, at, word_end, "group")
        || is(bytes, at, word_end, "scope")
        || is(bytes, at, word_end, "client")
        || is(bytes, at, word_end, "issuer")
    {
        match value(bytes, after_prefix, false) {
            Ok((end, empty, _)) if !empty => end,
            Ok(_) => return Err("expected a name after the atom's prefix"),
            Err(message) => return Err(message),
        }
    } else if is(bytes, at, word_end, "token_use") {
        match value(bytes, after_prefix, false) {
            Ok((end, _, quoted)) => {
                let (start, stop) = if quoted {
                    (after_prefix + 1, end - 1)
                } else {
                    (after_prefix, end)
                };
                if !is(bytes, start, stop, "id") && !is(bytes, start, stop, "access") {
                    return Err("expected 'id' or 'access' after 'token_use:'");
                }
                end
            }
            Err(message) => return Err(message),
        }
    } else if is(bytes, at, word_end, "claim") {
        let end = match value(bytes, after_prefix, true) {
            Ok((end, empty, _)) if !empty => end,
            Ok(_) => return Err("expected a claim name after 'claim:'"),
            Err(message) => return Err(message),
        };
        if end < bytes.len() && bytes[end] == b'=' {
            match value(bytes, end + 1, false) {
                Ok((end, empty, quoted)) if !empty || quoted => end,
                Ok(_) => return Err("expected a value after '=' (write \"\" for an empty string)"),
                Err(message) => return Err(message),
            }
        } else {
            end
        }
    } else if is(bytes, at, word_end, "policy") {
        return Err("a guard cannot use policy: references (it has no policy file)");
    } else {
        return Err(
            "unknown atom (expected group:, scope:, token_use:, client:, issuer: or claim:)",
        );
    };
    if end < bytes.len() && !is_delimiter(bytes[end]) {
        return Err("expected a space, ')' or the end after an atom");
    }
    Ok(end)
}

/// A name or value at `at`: `(end, empty, quoted)`.
const fn value(
    bytes: &[u8],
    at: usize,
    stop_at_equals: bool,
) -> Result<(usize, bool, bool), &'static str> {
    if at < bytes.len() && bytes[at] == b'"' {
        let mut index = at + 1;
        let mut empty = true;
        while index < bytes.len() {
            match bytes[index] {
                b'"' => return Ok((index + 1, empty, true)),
                b'\\' => {
                    if index + 1 < bytes.len()
                        && (bytes[index + 1] == b'"' || bytes[index + 1] == b'\\')
                    {
                        index += 2;
                        empty = false;
                        continue;
                    }
                    return Err("unknown escape: inside quotes only \\\" and \\\\ are escapes");
                }
                _ => {
                    index += 1;
                    empty = false;
                }
            }
        }
        return Err("unterminated quoted string");
    }
    let mut index = at;
    while index < bytes.len()
        && !is_delimiter(bytes[index])
        && !(stop_at_equals && bytes[index] == b'=')
    {
        if bytes[index] == b'"' || bytes[index] == b'\\' {
            return Err("unexpected '\"' or '\\' inside a name: quote the whole name");
        }
        index += 1;
    }
    Ok((index, index == at, false))
}

/// A policy expression that cannot be used for a guard, a per-route layer or a per-scope
/// middleware: it does not parse (with the column) or does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardError {
    kind: GuardErrorKind,
    guard: Option<&'static str>,
    expression: String,
    source: Source,
}

/// Why a [`GuardError`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GuardErrorKind {
    /// The expression is not valid policy syntax.
    Parse,
    /// The expression parses but does not compile (an unknown `policy:` name, `public` mixed
    /// with other atoms, …).
    Compile,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Parse(PolicyParseError),
    Compile(PolicyError),
}

impl GuardError {
    pub(crate) fn parse(expression: &str, error: PolicyParseError) -> Self {
        Self {
            kind: GuardErrorKind::Parse,
            guard: None,
            expression: expression.to_owned(),
            source: Source::Parse(error),
        }
    }

    pub(crate) fn compile(expression: String, error: PolicyError) -> Self {
        Self {
            kind: GuardErrorKind::Compile,
            guard: None,
            expression,
            source: Source::Compile(error),
        }
    }

    /// The same error about the expression as the user wrote it.
    #[must_use]
    pub(crate) fn for_expression(mut self, expression: &str) -> Self {
        expression.clone_into(&mut self.expression);
        self
    }

    #[must_use]
    fn for_guard(mut self, guard: &'static str) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Whether the expression does not parse or does not compile.
    pub fn kind(&self) -> GuardErrorKind {
        self.kind
    }

    /// The guard type's name, for an error of a per-handler guard.
    pub fn guard(&self) -> Option<&'static str> {
        self.guard
    }

    /// The expression as given.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// What is wrong with it (with the column, for parse errors).
    pub fn message(&self) -> String {
        match &self.source {
            Source::Parse(error) => error.to_string(),
            Source::Compile(error) => error.to_string(),
        }
    }
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.guard {
            Some(guard) => write!(
                f,
                "invalid policy guard {guard}: `{}`: {}",
                self.expression,
                self.message()
            ),
            None => write!(
                f,
                "invalid policy `{}`: {}",
                self.expression,
                self.message()
            ),
        }
    }
}

impl std::error::Error for GuardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.source {
            Source::Parse(error) => Some(error),
            Source::Compile(error) => Some(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_expressions_compile_or_say_where_they_are_wrong() {
        let policy = compile("group:admin and token_use:id").expect("valid");
        assert_eq!(policy.text(), "group:admin and token_use:id");
        let error = compile("group:admin and").expect_err("incomplete");
        assert_eq!(error.kind(), GuardErrorKind::Parse);
        assert_eq!(error.expression(), "group:admin and");
        assert_eq!(error.message(), "column 16: expected an atom after 'and'");
        assert!(std::error::Error::source(&error).is_some());
        assert_eq!(
            compile("policy:admin").map(|_| ()).map_err(|e| e.kind()),
            Err(GuardErrorKind::Compile)
        );
        assert!(compile("public or group:x").is_err());
    }

    #[test]
    fn the_build_time_check_refuses_only_what_the_parser_refuses() {
        let valid = [
            "public",
            "deny",
            "authenticated",
            "group:admin and token_use:id",
            "scope:api/read or (group:admin and not client:abc)",
            "claim:custom:tenant=acme and not group:banned",
            r#"group:"team blue" or claim:email or claim:x="" or token_use:"access""#,
            r#"claim:"a\"b"="c\\d""#,
            "not not (((group:a)))",
            "issuer:main or group:x\tor\ngroup:y",
            "scope:api/write and scope:api/read",
        ];
        for expression in valid {
            assert_eq!(syntax_error(expression), None, "{expression}");
            compile(expression).unwrap_or_else(|error| panic!("{expression}: {error}"));
        }
        let invalid = [
            "",
            "   ",
            "group:admin and",
            "group:a or",
            "not",
            "(",
            "(group:a",
            "group:a)",
            "group:",
            "token_use:both",
            "claim:",
            "claim:x=",
            "policy:admin",
            "grup:admin",
            "admin",
            "group:a && group:b",
            "group:a AND group:b",
            r#"group:"unterminated"#,
            r#"group:"bad\escape""#,
            r#"group:a"b"#,
            "group:a(b)",
            "and group:a",
        ];
        for expression in invalid {
            assert!(syntax_error(expression).is_some(), "{expression}");
            assert!(compile(expression).is_err(), "{expression}");
        }
        let deep = format!("{}group:a{}", "(".repeat(70), ")".repeat(70));
        assert!(syntax_error(&deep).is_some());
        assert!(compile(&deep).is_err());
        // Non-ASCII text is left to the parser.
        assert_eq!(syntax_error("group:é"), None);
    }

    #[test]
    fn the_build_time_check_never_refuses_what_compiles() {
        let fragments = [
            "group:a",
            "(",
            ")",
            " ",
            "and",
            "or",
            "not",
            "token_use:id",
            "claim:x=",
            "\"",
            "public",
            "policy:p",
            "=",
            "scope:b",
            "\\",
            "claim:y",
        ];
        let mut checked = 0;
        for a in fragments {
            for b in fragments {
                for c in fragments {
                    for d in fragments {
                        let expression = format!("{a}{b} {c}{d}");
                        if syntax_error(&expression).is_some() {
                            assert!(compile(&expression).is_err(), "{expression}");
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, fragments.len().pow(4));
    }

    #[test]
    fn a_guard_cell_compiles_once_and_names_the_guard() {
        static CELL: GuardCell = GuardCell::new();
        let error = CELL
            .get_or_compile("Broken", "(group:x")
            .expect_err("unbalanced");
        assert_eq!(error.guard(), Some("Broken"));
        assert!(
            error
                .to_string()
                .starts_with("invalid policy guard Broken: `(group:x`")
        );
        assert!(std::ptr::eq(
            CELL.get_or_compile("Broken", "(group:x")
                .expect_err("cached"),
            error
        ));
    }
}
