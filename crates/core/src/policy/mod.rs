//! The policy language (`docs/policy.md`): a small boolean expression over the verified token's
//! groups, scopes, `token_use`, client, issuer and claims.
//!
//! A [`Policy`] is a syntax tree. It is written as text (`"group:admin and scope:api/read"`,
//! parsed with [`str::parse`]) or with builders ([`Policy::group`], [`Policy::and`], …); both
//! produce the same tree, and [`Display`](std::fmt::Display) prints the canonical text back.
//! Before a policy decides anything it is compiled ([`Policy::compile`] or
//! [`PolicySet::compile`]): `policy:NAME` references are inlined, cycles and unknown names are
//! rejected, and the result ([`CompiledPolicy`]) evaluates a [`VerifiedToken`](crate::VerifiedToken)
//! without allocating.
//!
//! Grammar (`and` binds tighter than `or`; `not` binds tightest):
//!
//! ```text
//! expr  := or
//! or    := and ("or" and)*
//! and   := unary ("and" unary)*
//! unary := "not" unary | "(" expr ")" | atom
//! atom  := "public" | "authenticated" | "cedar" | "group:" NAME | "scope:" NAME
//!        | "token_use:" ("id" | "access") | "client:" ID | "issuer:" NAME
//!        | "claim:" NAME | "claim:" NAME "=" VALUE | "policy:" NAME
//! ```
//!
//! Names are written bare (`group:admin`, `claim:custom:tenant=acme`) or quoted after the prefix
//! (`group:"team blue"`, `claim:custom:team="blue green"`); inside quotes `\"` and `\\` escape.
//! A bare name runs to the next space or parenthesis (a bare claim name also stops at `=`).
//!
//! `public` means "skip verification": it must be a policy's whole expression (directly or
//! through `policy:` references). Combining it with other atoms is a compile error, because
//! `public or group:x` would otherwise mean two different things.
//!
//! ```
//! use cognito_authz_core::{Policy, TokenUse};
//! let parsed: Policy = "group:admin and (scope:api/read or token_use:id)".parse()?;
//! let built = Policy::group("admin")
//!     .and(Policy::scope("api/read").or(Policy::token_use(TokenUse::Id)));
//! assert_eq!(parsed, built);
//! assert_eq!(built.to_string(), "group:admin and (scope:api/read or token_use:id)");
//! # Ok::<(), cognito_authz_core::PolicyParseError>(())
//! ```

mod eval;
pub(crate) mod file;
pub(crate) mod guard;
pub(crate) mod openapi;
mod parse;
pub(crate) mod paths;
pub(crate) mod routes;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use crate::verify::claims::TokenUse;

pub use eval::{CompiledPolicy, Evaluation, Explanation, PolicyError, PolicySet};
pub use parse::PolicyParseError;

/// A policy expression, as a syntax tree.
///
/// Built from text with [`str::parse`] or with the builder functions; `and`/`or` chains are
/// flattened so both ways give equal trees. [`Policy::default`] denies every request: it is
/// `deny`.
///
/// # Example
///
/// ```
/// use cognito_authz_core::Policy;
/// let policy: Policy = r#"group:"team blue" or claim:custom:team="blue green""#.parse()?;
/// assert_eq!(
///     policy,
///     Policy::any([
///         Policy::group("team blue"),
///         Policy::claim_equals("custom:team", "blue green"),
///     ])
/// );
/// // Parse → print → parse is the identity:
/// assert_eq!(policy.to_string().parse::<Policy>()?, policy);
/// assert_eq!(Policy::default().to_string(), "deny");
/// # Ok::<(), cognito_authz_core::PolicyParseError>(())
/// ```
///
/// Equality and hashing compare the trees only: a parsed policy also remembers where each of
/// its atoms was written, so that compile errors can point at them, but two policies that
/// read the same are equal however they were spaced or built.
#[derive(Clone)]
pub struct Policy {
    pub(crate) node: Node,
    /// The 1-based column (in characters) of each atom of `node`, in the order the atoms are
    /// met walking the tree depth-first left to right (the order they were written in). Only
    /// a policy parsed from text has them; one built in code, or combined from others, has
    /// none.
    pub(crate) columns: Option<Arc<[usize]>>,
}

/// The syntax tree. `And`/`Or` hold at least two operands, none of the same kind (flattened).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Node {
    Public,
    Deny,
    Authenticated,
    /// `cedar`: the route's Cedar policies allow the request.
    Cedar,
    Group(String),
    Scope(String),
    TokenUse(TokenUse),
    Client(String),
    Issuer(String),
    ClaimPresent(String),
    ClaimEquals(String, String),
    Named(String),
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node
    }
}

impl Eq for Policy {}

impl Hash for Policy {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.node.hash(state);
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy").field("node", &self.node).finish()
    }
}

impl Policy {
    /// A policy built in code (no text, so no atom columns).
    pub(crate) fn from_node(node: Node) -> Self {
        Self {
            node,
            columns: None,
        }
    }

    /// `public`: the route skips verification (a valid token, if sent, is still offered).
    #[must_use]
    pub fn public() -> Self {
        Self::from_node(Node::Public)
    }

    /// `deny`: refuses every request with 403 `forbidden`, without reading a token. The
    /// default for requests no route matches.
    #[must_use]
    pub fn deny() -> Self {
        Self::from_node(Node::Deny)
    }

    /// `authenticated`: any verified token.
    #[must_use]
    pub fn authenticated() -> Self {
        Self::from_node(Node::Authenticated)
    }

    /// `cedar`: the route's Cedar policies must allow the request (see the `cedar` feature).
    /// It may not appear under `not`: an erroring or denying Cedar decision never allows.
    #[must_use]
    pub fn cedar() -> Self {
        Self::from_node(Node::Cedar)
    }

    /// `group:NAME`: `cognito:groups` contains `name`.
    #[must_use]
    pub fn group(name: impl Into<String>) -> Self {
        Self::from_node(Node::Group(name.into()))
    }

    /// `scope:NAME`: the token's `scope` (split on spaces) contains `name`, case-sensitively.
    #[must_use]
    pub fn scope(name: impl Into<String>) -> Self {
        Self::from_node(Node::Scope(name.into()))
    }

    /// `token_use:id` or `token_use:access`.
    #[must_use]
    pub fn token_use(token_use: TokenUse) -> Self {
        Self::from_node(Node::TokenUse(token_use))
    }

    /// `client:ID`: the token's client (`aud` of id tokens, `client_id` of access tokens).
    #[must_use]
    pub fn client(id: impl Into<String>) -> Self {
        Self::from_node(Node::Client(id.into()))
    }

    /// `issuer:NAME`: the configured name of the issuer that accepted the token.
    #[must_use]
    pub fn issuer(name: impl Into<String>) -> Self {
        Self::from_node(Node::Issuer(name.into()))
    }

    /// `claim:NAME`: the claim exists and is not `null`.
    #[must_use]
    pub fn claim_present(name: impl Into<String>) -> Self {
        Self::from_node(Node::ClaimPresent(name.into()))
    }

    /// `claim:NAME=VALUE`: a string claim equals `value`, a number or boolean claim prints as
    /// `value` (JSON text), or an array claim has such an element.
    #[must_use]
    pub fn claim_equals(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::from_node(Node::ClaimEquals(name.into(), value.into()))
    }

    /// `policy:NAME`: a named policy, inlined when compiled with a [`PolicySet`].
    #[must_use]
    pub fn named(name: impl Into<String>) -> Self {
        Self::from_node(Node::Named(name.into()))
    }

    /// `self and other`.
    #[must_use]
    pub fn and(self, other: Policy) -> Self {
        Self::all([self, other])
    }

    /// `self or other`.
    #[must_use]
    pub fn or(self, other: Policy) -> Self {
        Self::any([self, other])
    }

    /// `not self` (also available as `!policy`).
    #[must_use]
    #[allow(clippy::should_implement_trait)] // it is implemented too; this saves an import
    pub fn not(self) -> Self {
        Self::from_node(Node::Not(Box::new(self.node)))
    }

    /// Every policy must allow. `all([])` is `authenticated` (the neutral element for a
    /// verified token); `all([p])` is `p`.
    #[must_use]
    pub fn all(policies: impl IntoIterator<Item = Policy>) -> Self {
        let mut items = Vec::new();
        for policy in policies {
            match policy.node {
                Node::And(inner) => items.extend(inner),
                other => items.push(other),
            }
        }
        match items.len() {
            0 => Self::authenticated(),
            1 => Self::from_node(items.pop().unwrap_or(Node::Authenticated)),
            _ => Self::from_node(Node::And(items)),
        }
    }

    /// At least one policy must allow. `any([])` denies everything (`not authenticated`);
    /// `any([p])` is `p`.
    #[must_use]
    pub fn any(policies: impl IntoIterator<Item = Policy>) -> Self {
        let mut items = Vec::new();
        for policy in policies {
            match policy.node {
                Node::Or(inner) => items.extend(inner),
                other => items.push(other),
            }
        }
        match items.len() {
            0 => Self::authenticated().not(),
            1 => Self::from_node(items.pop().unwrap_or(Node::Authenticated)),
            _ => Self::from_node(Node::Or(items)),
        }
    }

    /// Whether the policy is exactly `public` (without resolving `policy:` references; see
    /// [`CompiledPolicy::is_public`] for the resolved answer).
    pub fn is_public(&self) -> bool {
        matches!(self.node, Node::Public)
    }

    /// Compiles a policy that has no `policy:` references.
    ///
    /// # Errors
    /// A `policy:` reference, `public` combined with other atoms, or an invalid scope name.
    pub fn compile(&self) -> Result<CompiledPolicy, PolicyError> {
        PolicySet::new().compile(self)
    }
}

impl Default for Policy {
    /// Denies every request (`deny`), so a forgotten policy fails closed.
    fn default() -> Self {
        Self::deny()
    }
}

impl std::ops::Not for Policy {
    type Output = Policy;

    fn not(self) -> Policy {
        Policy::not(self)
    }
}

impl FromStr for Policy {
    type Err = PolicyParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (node, columns) = parse::parse(text)?;
        Ok(Self {
            node,
            columns: Some(columns.into()),
        })
    }
}

impl TryFrom<&str> for Policy {
    type Error = PolicyParseError;

    fn try_from(text: &str) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(f, &self.node, Context::Top)
    }
}

/// Where a node is printed, to decide on parentheses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Context {
    Top,
    AndOperand,
    NotOperand,
}

fn write_node(f: &mut fmt::Formatter<'_>, node: &Node, context: Context) -> fmt::Result {
    match node {
        Node::Or(items) => write_chain(f, items, " or ", context >= Context::AndOperand),
        Node::And(items) => write_chain(f, items, " and ", context >= Context::NotOperand),
        Node::Not(inner) => {
            f.write_str("not ")?;
            write_node(f, inner, Context::NotOperand)
        }
        atom => write_atom(f, atom),
    }
}

fn write_chain(
    f: &mut fmt::Formatter<'_>,
    items: &[Node],
    separator: &str,
    parenthesize: bool,
) -> fmt::Result {
    if parenthesize {
        f.write_str("(")?;
    }
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            f.write_str(separator)?;
        }
        write_node(f, item, Context::AndOperand)?;
    }
    if parenthesize {
        f.write_str(")")?;
    }
    Ok(())
}

/// Prints one atom in canonical form (shared with the compiled form's explanations).
pub(crate) fn write_atom(f: &mut impl fmt::Write, node: &Node) -> fmt::Result {
    match node {
        Node::Public => f.write_str("public"),
        Node::Deny => f.write_str("deny"),
        Node::Authenticated => f.write_str("authenticated"),
        Node::Cedar => f.write_str("cedar"),
        Node::Group(name) => write_prefixed(f, "group:", name),
        Node::Scope(name) => write_prefixed(f, "scope:", name),
        Node::TokenUse(token_use) => write!(f, "token_use:{token_use}"),
        Node::Client(id) => write_prefixed(f, "client:", id),
        Node::Issuer(name) => write_prefixed(f, "issuer:", name),
        Node::Named(name) => write_prefixed(f, "policy:", name),
        Node::ClaimPresent(name) => {
            f.write_str("claim:")?;
            write_name(f, name, true)
        }
        Node::ClaimEquals(name, value) => {
            f.write_str("claim:")?;
            write_name(f, name, true)?;
            f.write_str("=")?;
            write_name(f, value, false)
        }
        Node::Not(_) | Node::And(_) | Node::Or(_) => Ok(()),
    }
}

fn write_prefixed(f: &mut impl fmt::Write, prefix: &str, name: &str) -> fmt::Result {
    f.write_str(prefix)?;
    write_name(f, name, false)
}

/// Whether a name can be printed without quotes: the lexer would read it back unchanged.
fn is_bare(name: &str, stops_at_equals: bool) -> bool {
    !name.is_empty()
        && name.chars().all(|c| {
            !(c.is_whitespace()
                || c.is_control()
                || matches!(c, '(' | ')' | '"' | '\\')
                || (stops_at_equals && c == '='))
        })
}

fn write_name(f: &mut impl fmt::Write, name: &str, stops_at_equals: bool) -> fmt::Result {
    if is_bare(name, stops_at_equals) {
        return f.write_str(name);
    }
    f.write_char('"')?;
    for c in name.chars() {
        if matches!(c, '"' | '\\') {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn builders_and_parser_build_the_same_tree() {
        let cases: Vec<(&str, Policy)> = vec![
            ("public", Policy::public()),
            ("authenticated", Policy::authenticated()),
            ("group:admin", Policy::group("admin")),
            ("scope:api/read", Policy::scope("api/read")),
            ("token_use:id", Policy::token_use(TokenUse::Id)),
            ("token_use:access", Policy::token_use(TokenUse::Access)),
            ("client:abc123", Policy::client("abc123")),
            ("issuer:main", Policy::issuer("main")),
            ("claim:email", Policy::claim_present("email")),
            (
                "claim:custom:tenant",
                Policy::claim_present("custom:tenant"),
            ),
            (
                "claim:custom:tenant=acme",
                Policy::claim_equals("custom:tenant", "acme"),
            ),
            ("claim:x=a=b", Policy::claim_equals("x", "a=b")),
            (
                r#"claim:custom:team="blue green""#,
                Policy::claim_equals("custom:team", "blue green"),
            ),
            (r#"group:"team blue""#, Policy::group("team blue")),
            (r#"claim:"a=b"=c"#, Policy::claim_equals("a=b", "c")),
            (r#"claim:x="""#, Policy::claim_equals("x", "")),
            (r#"group:"say \"hi\"""#, Policy::group(r#"say "hi""#)),
            (r#"group:"back\\slash""#, Policy::group(r"back\slash")),
            ("policy:admin", Policy::named("admin")),
            (
                "group:a and group:b or group:c",
                Policy::group("a")
                    .and(Policy::group("b"))
                    .or(Policy::group("c")),
            ),
            (
                "group:a and (group:b or group:c)",
                Policy::group("a").and(Policy::group("b").or(Policy::group("c"))),
            ),
            (
                "group:a or group:b and group:c",
                Policy::group("a").or(Policy::group("b").and(Policy::group("c"))),
            ),
            (
                "not group:a and group:b",
                Policy::group("a").not().and(Policy::group("b")),
            ),
            (
                "not (group:a and group:b)",
                !(Policy::group("a").and(Policy::group("b"))),
            ),
            ("not not group:a", Policy::group("a").not().not()),
            (
                "group:a and (group:b and group:c)",
                Policy::all([Policy::group("a"), Policy::group("b"), Policy::group("c")]),
            ),
            (
                "((group:a))  or\tgroup:b",
                Policy::any([Policy::group("a"), Policy::group("b")]),
            ),
            (
                "(group:a)and(group:b)",
                Policy::group("a").and(Policy::group("b")),
            ),
            ("group:AND", Policy::group("AND")),
            ("group:ünï", Policy::group("ünï")),
        ];
        for (text, expected) in cases {
            let parsed: Policy = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed, expected, "{text}");
        }
    }

    #[test]
    fn display_prints_the_canonical_form() {
        let cases: Vec<(Policy, &str)> = vec![
            (Policy::group("team blue"), r#"group:"team blue""#),
            (Policy::group("a(b)"), r#"group:"a(b)""#),
            (Policy::claim_equals("a=b", "c=d"), r#"claim:"a=b"=c=d"#),
            (Policy::claim_equals("x", ""), r#"claim:x="""#),
            (
                Policy::claim_present("custom:tenant"),
                "claim:custom:tenant",
            ),
            (
                Policy::group("a")
                    .or(Policy::group("b"))
                    .and(Policy::group("c")),
                "(group:a or group:b) and group:c",
            ),
            (
                !(Policy::group("a").or(Policy::group("b"))),
                "not (group:a or group:b)",
            ),
            (
                Policy::group("a").not().or(Policy::scope("x")),
                "not group:a or scope:x",
            ),
            (Policy::all([]), "authenticated"),
            (Policy::any([]), "not authenticated"),
            (Policy::any([Policy::scope("x")]), "scope:x"),
            (Policy::token_use(TokenUse::Access), "token_use:access"),
        ];
        for (policy, text) in cases {
            assert_eq!(policy.to_string(), text);
            assert_eq!(text.parse::<Policy>().as_ref(), Ok(&policy), "{text}");
        }
    }

    #[test]
    fn where_atoms_were_written_is_not_part_of_equality() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |policy: &Policy| {
            let mut hasher = DefaultHasher::new();
            policy.hash(&mut hasher);
            hasher.finish()
        };
        let spaced: Policy = "  group:a   or ( group:b )".parse().expect("parses");
        let tight: Policy = "group:a or group:b".parse().expect("parses");
        let built = Policy::group("a").or(Policy::group("b"));
        assert_eq!(spaced.columns.as_deref(), Some(&[3, 18][..]));
        assert_eq!(built.columns, None);
        assert_eq!(spaced, tight);
        assert_eq!(spaced, built);
        assert_eq!(hash(&spaced), hash(&built));
        assert_eq!(format!("{spaced:?}"), format!("{built:?}"));
    }

    #[test]
    fn default_policy_denies() {
        assert_eq!(Policy::default(), Policy::deny());
        assert_eq!("deny".parse::<Policy>().ok(), Some(Policy::deny()));
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9_/:.-]{0,8}",
            "[ -~]{1,6}",
            "\\PC{1,4}",
            Just("and".to_owned()),
            Just("a b".to_owned()),
            Just("(x)".to_owned()),
            Just("\"q\\".to_owned()),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![name(), Just(String::new()), Just("a=b".to_owned())]
    }

    fn atom() -> impl Strategy<Value = Policy> {
        prop_oneof![
            Just(Policy::public()),
            Just(Policy::authenticated()),
            name().prop_map(Policy::group),
            name().prop_map(Policy::scope),
            Just(Policy::token_use(TokenUse::Id)),
            Just(Policy::token_use(TokenUse::Access)),
            name().prop_map(Policy::client),
            name().prop_map(Policy::issuer),
            name().prop_map(Policy::claim_present),
            (name(), value()).prop_map(|(n, v)| Policy::claim_equals(n, v)),
            name().prop_map(Policy::named),
        ]
    }

    fn policy() -> impl Strategy<Value = Policy> {
        atom().prop_recursive(5, 32, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(Policy::not),
                prop::collection::vec(inner.clone(), 0..4).prop_map(Policy::all),
                prop::collection::vec(inner, 0..4).prop_map(Policy::any),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_print_parse_is_identity(policy in policy()) {
            let text = policy.to_string();
            let reparsed: Policy = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(&reparsed, &policy);
            prop_assert_eq!(reparsed.to_string(), text);
        }

        #[test]
        fn parser_never_panics(text in "\\PC{0,40}") {
            let _ = text.parse::<Policy>();
        }
    }
}
