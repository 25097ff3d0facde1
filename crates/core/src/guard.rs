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
        if let Some(guard) = self.guard {
            write!(f, "policy guard {guard}: ")?;
        }
        write!(
            f,
            "invalid policy `{}`: {}",
            self.expression,
            self.message()
        )
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
    fn a_guard_cell_compiles_once_and_names_the_guard() {
        static CELL: GuardCell = GuardCell::new();
        let error = CELL
            .get_or_compile("Broken", "(group:x")
            .expect_err("unbalanced");
        assert_eq!(error.guard(), Some("Broken"));
        assert!(
            error
                .to_string()
                .starts_with("policy guard Broken: invalid policy `(group:x`")
        );
        assert!(std::ptr::eq(
            CELL.get_or_compile("Broken", "(group:x")
                .expect_err("cached"),
            error
        ));
    }
}
