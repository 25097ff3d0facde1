//! Named policies, compilation (inlining `policy:` references) and evaluation against a
//! verified token, with the `insufficient_scope` / `forbidden` rule (see [`ErrorKind::InsufficientScope`](crate::ErrorKind::InsufficientScope)).

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde_json::Value;

use super::{Node, Policy, write_atom};
use crate::error::ErrorKind;
use crate::verify::claims::{TokenUse, VerifiedToken};

/// Deepest compiled tree accepted (after inlining), so evaluation recursion stays bounded.
const MAX_COMPILED_DEPTH: usize = 256;
/// Most nodes a compiled policy may have, so diamond-shaped references cannot explode.
const MAX_COMPILED_NODES: usize = 10_000;

/// Why a policy (or a set of named policies) cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// `policy:NAME` names no policy of the set.
    #[error("unknown policy {name:?} (referenced as policy:{name})")]
    UnknownPolicy {
        /// The missing name.
        name: String,
        /// Where the reference stands in its expression (see [`PolicyError::column`]).
        column: Option<usize>,
    },
    /// Named policies refer to each other in a loop.
    #[error("policies refer to each other in a cycle: {}", path.join(" -> "))]
    Cycle {
        /// The names along the loop, the first repeated at the end.
        path: Vec<String>,
        /// Where the reference that closes the loop stands in its expression (see
        /// [`PolicyError::column`]).
        column: Option<usize>,
    },
    /// The same name was given to two policies.
    #[error("policy {name:?} is defined twice")]
    Duplicate {
        /// The repeated name.
        name: String,
    },
    /// `public` appears inside a larger expression.
    #[error(
        "`public` must be the whole policy (a public route skips verification), not combined with other atoms"
    )]
    PublicCombined,
    /// A `scope:` atom names something no token can carry (scopes are split on spaces).
    #[error(
        "scope:{scope:?} is not a valid OAuth scope (printable ASCII without spaces, '\"' or '\\')"
    )]
    InvalidScope {
        /// The scope as written.
        scope: String,
    },
    /// `issuer:NAME` names no configured issuer (such an atom could never hold, so
    /// `not issuer:NAME` would admit every issuer).
    #[error("issuer:{name} names no configured issuer (configured: {configured})")]
    UnknownIssuer {
        /// The name as written.
        name: String,
        /// The configured issuer names, comma-separated.
        configured: String,
        /// Where the atom stands in its expression (see [`PolicyError::column`]).
        column: Option<usize>,
    },
    /// `cedar` appears under `not`: a Cedar denial (or an erroring Cedar policy) would then
    /// allow the request.
    #[error("`cedar` may not appear under `not` (a Cedar denial or error must never allow)")]
    CedarNegated,
    /// Inlining produced a tree too deep or too large to evaluate safely.
    #[error(
        "policy is too large after inlining policy: references (limit {MAX_COMPILED_NODES} atoms, {MAX_COMPILED_DEPTH} levels)"
    )]
    TooLarge,
    /// An error inside the named policy `name`.
    #[error("in policy {name:?}: {source}")]
    InNamed {
        /// The named policy whose expression has the problem.
        name: String,
        /// The problem.
        source: Box<PolicyError>,
    },
}

impl PolicyError {
    /// Attributes an error to the named policy whose body it came from (innermost wins).
    fn in_named(self, name: &str) -> Self {
        match self {
            already @ PolicyError::InNamed { .. } => already,
            other => PolicyError::InNamed {
                name: name.to_owned(),
                source: Box::new(other),
            },
        }
    }

    /// The 1-based column (in characters) of the reference this error is about, in the
    /// expression that holds it: for an unknown `policy:`/`issuer:` name, or the `policy:`
    /// reference that closes a cycle.
    ///
    /// `None` for a policy built in code (it has no text), for errors about no single atom,
    /// and for [`PolicyError::InNamed`], whose source has the column inside that named
    /// policy's expression.
    ///
    /// ```
    /// use cognito_authz_core::{Policy, PolicyError};
    /// let error = "group:a or policy:admin".parse::<Policy>()?.compile().unwrap_err();
    /// assert_eq!(error.column(), Some(12));
    /// assert_eq!(Policy::named("admin").compile().unwrap_err().column(), None);
    /// # Ok::<(), cognito_authz_core::PolicyParseError>(())
    /// ```
    pub fn column(&self) -> Option<usize> {
        match self {
            PolicyError::UnknownPolicy { column, .. }
            | PolicyError::Cycle { column, .. }
            | PolicyError::UnknownIssuer { column, .. } => *column,
            _ => None,
        }
    }

    /// The named policy an error belongs to, if any.
    pub fn policy_name(&self) -> Option<&str> {
        match self {
            PolicyError::InNamed { name, .. } => Some(name),
            PolicyError::Duplicate { name } => Some(name),
            _ => None,
        }
    }
}

/// A set of named policies (`[policies]` in the policy file), validated as a whole: every
/// reference resolves and no policy refers back to itself.
///
/// # Example
///
/// ```
/// use cognito_authz_core::{Policy, PolicyError, PolicySet};
/// let set = PolicySet::from_policies([
///     ("admin", "group:admin".parse()?),
///     ("reader", "scope:api/read or policy:admin".parse()?),
/// ])?;
/// let compiled = set.compile(&Policy::named("reader"))?;
/// assert_eq!(compiled.required_scopes(), ["api/read"]);
///
/// let cycle = PolicySet::from_policies([
///     ("a", Policy::named("b")),
///     ("b", Policy::named("a")),
/// ]);
/// assert!(matches!(cycle, Err(PolicyError::InNamed { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: Vec<(String, Policy)>,
    index: HashMap<String, usize>,
    /// The configured issuer names `issuer:` atoms are checked against; `None` until the
    /// issuers are known (a route table built before its authorizer).
    issuers: Option<Arc<[String]>>,
}

impl PolicySet {
    /// An empty set: compiling against it rejects every `policy:` reference.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds and validates a set from `(name, policy)` pairs.
    ///
    /// # Errors
    /// A duplicate name, or a policy that does not compile (unknown reference, cycle, `public`
    /// combined with other atoms, invalid scope) — wrapped in [`PolicyError::InNamed`].
    pub fn from_policies<N, I>(policies: I) -> Result<Self, PolicyError>
    where
        N: Into<String>,
        I: IntoIterator<Item = (N, Policy)>,
    {
        let mut set = Self::new();
        for (name, policy) in policies {
            let name = name.into();
            if set.index.contains_key(&name) {
                return Err(PolicyError::Duplicate { name });
            }
            set.index.insert(name.clone(), set.policies.len());
            set.policies.push((name, policy));
        }
        for (name, _) in &set.policies {
            set.compile(&Policy::named(name.clone()))?;
        }
        Ok(set)
    }

    /// Checks `issuer:` atoms against `names` from now on: compiling a policy (this set's own
    /// included) that names another issuer fails with [`PolicyError::UnknownIssuer`].
    ///
    /// # Errors
    /// A named policy of the set names an unknown issuer.
    pub fn with_issuers<N: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = N>,
    ) -> Result<Self, PolicyError> {
        self.issuers = Some(names.into_iter().map(Into::into).collect());
        for (name, _) in &self.policies {
            self.compile(&Policy::named(name.clone()))?;
        }
        Ok(self)
    }

    /// The issuer names `issuer:` atoms are checked against, once known.
    pub fn issuer_names(&self) -> Option<&[String]> {
        self.issuers.as_deref()
    }

    /// The named policy, if defined.
    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.index.get(name).map(|&index| &self.policies[index].1)
    }

    /// The names, in definition order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.policies.iter().map(|(name, _)| name.as_str())
    }

    /// Number of named policies.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Compiles `policy`, inlining its `policy:` references from this set.
    ///
    /// # Errors
    /// See [`PolicyError`].
    pub fn compile(&self, policy: &Policy) -> Result<CompiledPolicy, PolicyError> {
        let text: Arc<str> = Arc::from(policy.to_string());
        match self.resolves_to_whole(&policy.node) {
            Some(Node::Public) => {
                return Ok(CompiledPolicy {
                    inner: Arc::new(Compiled {
                        root: CNode::True,
                        public: true,
                        deny: false,
                        cedar: false,
                        text,
                        scopes: Arc::from(Vec::new()),
                    }),
                });
            }
            Some(Node::Deny) => {
                return Ok(CompiledPolicy {
                    inner: Arc::new(Compiled {
                        root: CNode::False,
                        public: false,
                        deny: true,
                        cedar: false,
                        text,
                        scopes: Arc::from(Vec::new()),
                    }),
                });
            }
            _ => {}
        }
        let mut lowering = Lowering {
            set: self,
            columns: policy.columns.as_deref(),
            atom: 0,
            stack: Vec::new(),
            scopes: Vec::new(),
            nodes: 0,
            cedar: false,
        };
        let root = lowering.lower(&policy.node, true, 0)?;
        let cedar = lowering.cedar;
        Ok(CompiledPolicy {
            inner: Arc::new(Compiled {
                root,
                public: false,
                deny: false,
                cedar,
                text,
                scopes: Arc::from(lowering.scopes),
            }),
        })
    }

    /// `public` or `deny` when `node` is one of them, directly or through a chain of
    /// `policy:` references. Unknown names and cycles answer `None`; lowering reports them
    /// with their context.
    fn resolves_to_whole<'a>(&'a self, mut node: &'a Node) -> Option<&'a Node> {
        for _ in 0..=self.policies.len() {
            match node {
                Node::Public | Node::Deny => return Some(node),
                Node::Named(name) => node = &self.get(name)?.node,
                _ => return None,
            }
        }
        None
    }
}

struct Lowering<'a> {
    set: &'a PolicySet,
    /// The atom columns of the policy whose tree is being lowered (`None`: built in code).
    columns: Option<&'a [usize]>,
    /// How many of that policy's atoms were met so far: the index of the next one's column.
    atom: usize,
    stack: Vec<&'a str>,
    scopes: Vec<String>,
    nodes: usize,
    /// A `cedar` atom was lowered.
    cedar: bool,
}

impl<'a> Lowering<'a> {
    fn lower(
        &mut self,
        node: &'a Node,
        positive: bool,
        depth: usize,
    ) -> Result<CNode, PolicyError> {
        self.nodes += 1;
        if depth > MAX_COMPILED_DEPTH || self.nodes > MAX_COMPILED_NODES {
            return Err(PolicyError::TooLarge);
        }
        let boxed = |text: &str| -> Box<str> { Box::from(text) };
        let column = if matches!(node, Node::Not(_) | Node::And(_) | Node::Or(_)) {
            None
        } else {
            let column = self
                .columns
                .and_then(|columns| columns.get(self.atom).copied());
            self.atom += 1;
            column
        };
        Ok(match node {
            Node::Public => return Err(PolicyError::PublicCombined),
            Node::Deny => CNode::False,
            Node::Authenticated => CNode::True,
            Node::Cedar => {
                if !positive {
                    return Err(PolicyError::CedarNegated);
                }
                self.cedar = true;
                CNode::Cedar
            }
            Node::Group(name) => CNode::Group(boxed(name)),
            Node::Scope(name) => {
                if !is_scope_token(name) {
                    return Err(PolicyError::InvalidScope {
                        scope: name.clone(),
                    });
                }
                if positive && !self.scopes.contains(name) {
                    self.scopes.push(name.clone());
                }
                CNode::Scope {
                    name: boxed(name),
                    positive,
                }
            }
            Node::TokenUse(token_use) => CNode::TokenUse(*token_use),
            Node::Client(id) => CNode::Client(boxed(id)),
            Node::Issuer(name) => {
                if let Some(issuers) = &self.set.issuers
                    && !issuers.iter().any(|issuer| issuer == name)
                {
                    return Err(PolicyError::UnknownIssuer {
                        name: name.clone(),
                        configured: issuers.join(", "),
                        column,
                    });
                }
                CNode::Issuer(boxed(name))
            }
            Node::ClaimPresent(name) => CNode::ClaimPresent(boxed(name)),
            Node::ClaimEquals(name, value) => CNode::ClaimEquals(boxed(name), boxed(value)),
            Node::Named(name) => {
                if let Some(at) = self.stack.iter().position(|seen| *seen == name) {
                    let mut path: Vec<String> =
                        self.stack[at..].iter().map(|s| (*s).to_owned()).collect();
                    path.push(name.clone());
                    return Err(PolicyError::Cycle { path, column });
                }
                let target = self
                    .set
                    .get(name)
                    .ok_or_else(|| PolicyError::UnknownPolicy {
                        name: name.clone(),
                        column,
                    })?;
                if matches!(self.set.resolves_to_whole(&target.node), Some(Node::Public)) {
                    // The fault is the reference (public inside a larger expression), not
                    // the named policy, which is fine on its own.
                    return Err(PolicyError::PublicCombined);
                }
                // The body's atoms are counted against the body's own text.
                let outer = (self.columns, self.atom);
                (self.columns, self.atom) = (target.columns.as_deref(), 0);
                self.stack.push(name);
                let lowered = self.lower(&target.node, positive, depth + 1);
                self.stack.pop();
                (self.columns, self.atom) = outer;
                lowered.map_err(|error| error.in_named(name))?
            }
            Node::Not(inner) => CNode::Not(Box::new(self.lower(inner, !positive, depth + 1)?)),
            Node::And(items) => CNode::And(self.lower_all(items, positive, depth)?),
            Node::Or(items) => CNode::Or(self.lower_all(items, positive, depth)?),
        })
    }

    fn lower_all(
        &mut self,
        items: &'a [Node],
        positive: bool,
        depth: usize,
    ) -> Result<Box<[CNode]>, PolicyError> {
        items
            .iter()
            .map(|item| self.lower(item, positive, depth + 1))
            .collect()
    }
}

/// RFC 6749 §3.3 `scope-token`: `%x21 / %x23-5B / %x5D-7E`, at least one.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A policy ready to evaluate: references inlined, required scopes precomputed. Cheap to clone.
///
/// # Example
///
/// ```
/// use cognito_authz_core::Policy;
/// let compiled = "scope:api/read and not scope:api/banned".parse::<Policy>()?.compile()?;
/// assert!(!compiled.is_public());
/// assert_eq!(compiled.required_scopes(), ["api/read"]);
/// assert_eq!(compiled.text(), "scope:api/read and not scope:api/banned");
/// assert!(Policy::public().compile()?.is_public());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CompiledPolicy {
    inner: Arc<Compiled>,
}

struct Compiled {
    root: CNode,
    public: bool,
    /// The whole policy is `deny` (through references): refused before any token is read.
    deny: bool,
    /// The policy has a `cedar` atom (always in positive position).
    cedar: bool,
    text: Arc<str>,
    /// Positive scope atoms, deduplicated, in order of appearance.
    scopes: Arc<[String]>,
}

/// The compiled tree: atoms with their names boxed, `authenticated` as `True`, references
/// inlined, and each scope atom marked positive (under an even number of `not`s) or not.
enum CNode {
    True,
    False,
    Cedar,
    Group(Box<str>),
    Scope { name: Box<str>, positive: bool },
    TokenUse(TokenUse),
    Client(Box<str>),
    Issuer(Box<str>),
    ClaimPresent(Box<str>),
    ClaimEquals(Box<str>, Box<str>),
    Not(Box<CNode>),
    And(Box<[CNode]>),
    Or(Box<[CNode]>),
}

/// The outcome of evaluating a policy against a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluation {
    /// The policy allows the request.
    Allow,
    /// Denied, but granting these scopes would allow it (403 `insufficient_scope`); the list is
    /// every positive `scope:` atom of the policy, deduplicated, in order of appearance.
    InsufficientScope(Arc<[String]>),
    /// Denied for another reason: a group, client, claim, … (403 `forbidden`).
    Forbidden,
}

impl Evaluation {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Evaluation::Allow)
    }

    /// The denial code: `InsufficientScope`, `Forbidden`, or `None` when allowed.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        match self {
            Evaluation::Allow => None,
            Evaluation::InsufficientScope(_) => Some(ErrorKind::InsufficientScope),
            Evaluation::Forbidden => Some(ErrorKind::Forbidden),
        }
    }

    /// The scopes for the `scope` challenge parameter (empty unless `InsufficientScope`).
    pub fn scopes(&self) -> &[String] {
        match self {
            Evaluation::InsufficientScope(scopes) => scopes,
            _ => &[],
        }
    }
}

/// Which atoms of a policy went against the request, for logs and the CLI.
///
/// An atom "failed" when it was false where the policy wanted it true, or true under a `not`
/// (listed as `not ATOM`). Every atom is examined, not only those evaluation reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Whether the policy allows the token.
    pub allowed: bool,
    /// The failed atoms, in order of appearance (references inlined).
    pub failed: Vec<String>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.allowed { "allowed" } else { "denied" })?;
        if !self.failed.is_empty() {
            write!(f, "; failed: {}", self.failed.join(", "))?;
        }
        Ok(())
    }
}

impl CompiledPolicy {
    /// Whether the policy is `public` (the route skips verification).
    pub fn is_public(&self) -> bool {
        self.inner.public
    }

    /// The names of the issuers its `issuer:` atoms name (references inlined).
    pub fn issuer_names(&self) -> impl Iterator<Item = &str> {
        let mut names = Vec::new();
        self.inner.root.collect_issuers(&mut names);
        names.into_iter()
    }

    /// Whether some token from issuer `issuer` of kind `token_use` (`None`: a token without
    /// `token_use`, as generic OIDC issuers sign) could satisfy the policy, every other atom
    /// taken as free. An id token carries no `scope`, so `scope:` atoms fail on it. An
    /// over-approximation (an atom and its negation both count as possible), so `false` means
    /// no such token can be let in.
    pub fn satisfiable_by(&self, issuer: &str, token_use: Option<TokenUse>) -> bool {
        let inner = &*self.inner;
        if inner.public {
            return true;
        }
        inner.root.possible(issuer, token_use).0
    }

    /// Whether the policy is `deny` (the request is refused before any token is read).
    pub fn is_deny(&self) -> bool {
        self.inner.deny
    }

    /// The policy as written, in canonical form (references not inlined).
    pub fn text(&self) -> &str {
        &self.inner.text
    }

    /// The policy with every `policy:` reference inlined, in canonical form: what is actually
    /// evaluated (`policy lint` shows it).
    pub fn effective(&self) -> String {
        if self.inner.public {
            return Policy::public().to_string();
        }
        Policy::from_node(self.inner.root.to_node()).to_string()
    }

    pub(crate) fn shared_text(&self) -> Arc<str> {
        Arc::clone(&self.inner.text)
    }

    /// The positive `scope:` atoms (under an even number of `not`s, through references),
    /// deduplicated, in order of appearance.
    pub fn required_scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// Decides for a verified token: allow, `insufficient_scope` (scopes alone would fix it) or
    /// `forbidden`. Allocation-free when the policy allows.
    ///
    /// A public policy allows every token.
    pub fn evaluate(&self, token: &VerifiedToken) -> Evaluation {
        self.evaluate_with_cedar(token, false)
    }

    /// Whether the policy has a `cedar` atom: the route's Cedar policies take part in the
    /// decision.
    pub fn uses_cedar(&self) -> bool {
        self.inner.cedar
    }

    /// [`CompiledPolicy::evaluate`] with the `cedar` atom taken as `cedar` (the Cedar
    /// decision for the request). [`CompiledPolicy::evaluate`] takes it as denied.
    pub fn evaluate_with_cedar(&self, token: &VerifiedToken, cedar: bool) -> Evaluation {
        let inner = &*self.inner;
        if inner.public || inner.root.eval(token, false, cedar) {
            Evaluation::Allow
        } else if !inner.scopes.is_empty() && inner.root.eval(token, true, cedar) {
            Evaluation::InsufficientScope(Arc::clone(&inner.scopes))
        } else {
            Evaluation::Forbidden
        }
    }

    /// Lists which atoms failed for `token`.
    pub fn explain(&self, token: &VerifiedToken) -> Explanation {
        self.explain_with_cedar(token, false)
    }

    /// [`CompiledPolicy::explain`] with the `cedar` atom taken as `cedar`.
    pub fn explain_with_cedar(&self, token: &VerifiedToken, cedar: bool) -> Explanation {
        let mut failed = Vec::new();
        if !self.inner.public {
            self.inner
                .root
                .collect_failed(token, true, cedar, &mut failed);
        }
        Explanation {
            allowed: self.evaluate_with_cedar(token, cedar).is_allowed(),
            failed,
        }
    }
}

impl fmt::Display for CompiledPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.text)
    }
}

impl fmt::Debug for CompiledPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledPolicy")
            .field("text", &self.inner.text)
            .field("public", &self.inner.public)
            .field("required_scopes", &self.inner.scopes)
            .finish()
    }
}

impl CNode {
    /// Back to a syntax tree (references are already inlined), for printing an atom or the
    /// whole effective policy.
    fn to_node(&self) -> Node {
        let text = |name: &str| name.to_owned();
        match self {
            CNode::True => Node::Authenticated,
            CNode::False => Node::Deny,
            CNode::Cedar => Node::Cedar,
            CNode::Group(name) => Node::Group(text(name)),
            CNode::Scope { name, .. } => Node::Scope(text(name)),
            CNode::TokenUse(token_use) => Node::TokenUse(*token_use),
            CNode::Client(id) => Node::Client(text(id)),
            CNode::Issuer(name) => Node::Issuer(text(name)),
            CNode::ClaimPresent(name) => Node::ClaimPresent(text(name)),
            CNode::ClaimEquals(name, value) => Node::ClaimEquals(text(name), text(value)),
            CNode::Not(inner) => Node::Not(Box::new(inner.to_node())),
            CNode::And(items) => Node::And(items.iter().map(CNode::to_node).collect()),
            CNode::Or(items) => Node::Or(items.iter().map(CNode::to_node).collect()),
        }
    }

    /// (could be true, could be false) for a token of `issuer` and `token_use`.
    fn possible(&self, issuer: &str, token_use: Option<TokenUse>) -> (bool, bool) {
        let known = |value: bool| (value, !value);
        match self {
            CNode::True => known(true),
            CNode::False => known(false),
            CNode::TokenUse(wanted) => known(token_use == Some(*wanted)),
            CNode::Issuer(name) => known(&**name == issuer),
            CNode::Scope { .. } if token_use == Some(TokenUse::Id) => known(false),
            CNode::Not(inner) => {
                let (can_true, can_false) = inner.possible(issuer, token_use);
                (can_false, can_true)
            }
            CNode::And(items) => items.iter().fold((true, false), |(t, f), item| {
                let (item_t, item_f) = item.possible(issuer, token_use);
                (t && item_t, f || item_f)
            }),
            CNode::Or(items) => items.iter().fold((false, true), |(t, f), item| {
                let (item_t, item_f) = item.possible(issuer, token_use);
                (t || item_t, f && item_f)
            }),
            _ => (true, true),
        }
    }

    fn collect_issuers<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            CNode::Issuer(name) => out.push(name),
            CNode::Not(inner) => inner.collect_issuers(out),
            CNode::And(items) | CNode::Or(items) => {
                for item in items {
                    item.collect_issuers(out);
                }
            }
            _ => {}
        }
    }

    /// Evaluates; with `assume_scopes`, every positive scope atom counts as satisfied.
    fn eval(&self, token: &VerifiedToken, assume_scopes: bool, cedar: bool) -> bool {
        match self {
            CNode::Not(inner) => !inner.eval(token, assume_scopes, cedar),
            CNode::And(items) => items
                .iter()
                .all(|item| item.eval(token, assume_scopes, cedar)),
            CNode::Or(items) => items
                .iter()
                .any(|item| item.eval(token, assume_scopes, cedar)),
            CNode::Scope { positive: true, .. } if assume_scopes => true,
            atom => atom.atom_holds(token, cedar),
        }
    }

    fn atom_holds(&self, token: &VerifiedToken, cedar: bool) -> bool {
        match self {
            CNode::True => true,
            CNode::Cedar => cedar,
            CNode::False => false,
            CNode::Group(name) => token.in_group(name),
            CNode::Scope { name, .. } => token.has_scope(name),
            CNode::TokenUse(token_use) => token.token_use() == Some(*token_use),
            CNode::Client(id) => token.client_id() == Some(&**id),
            CNode::Issuer(name) => token.issuer_name() == &**name,
            CNode::ClaimPresent(name) => token.claim(name).is_some_and(|value| !value.is_null()),
            CNode::ClaimEquals(name, expected) => token
                .claim(name)
                .is_some_and(|value| claim_matches(&value, expected)),
            CNode::Not(_) | CNode::And(_) | CNode::Or(_) => false,
        }
    }

    fn collect_failed(
        &self,
        token: &VerifiedToken,
        positive: bool,
        cedar: bool,
        out: &mut Vec<String>,
    ) {
        match self {
            CNode::Not(inner) => inner.collect_failed(token, !positive, cedar, out),
            CNode::And(items) | CNode::Or(items) => {
                for item in items {
                    item.collect_failed(token, positive, cedar, out);
                }
            }
            atom => {
                if atom.atom_holds(token, cedar) != positive {
                    let mut text = String::new();
                    if !positive {
                        text.push_str("not ");
                    }
                    // Writing to a String cannot fail.
                    let _ = write_atom(&mut text, &atom.to_node());
                    out.push(text);
                }
            }
        }
    }
}

/// `claim:NAME=VALUE` on a present claim: scalars compare as text, arrays by any element.
fn claim_matches(value: &Value, expected: &str) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|item| scalar_matches(item, expected)),
        scalar => scalar_matches(scalar, expected),
    }
}

fn scalar_matches(value: &Value, expected: &str) -> bool {
    match value {
        Value::String(text) => text == expected,
        Value::Bool(flag) => expected == if *flag { "true" } else { "false" },
        Value::Number(number) => prints_as(number, expected),
        Value::Null | Value::Array(_) | Value::Object(_) => false,
    }
}

/// Whether `value` prints (as serde_json prints it) exactly as `expected`, without allocating.
fn prints_as(value: &impl fmt::Display, expected: &str) -> bool {
    struct Compare<'a> {
        rest: &'a str,
    }
    impl fmt::Write for Compare<'_> {
        fn write_str(&mut self, piece: &str) -> fmt::Result {
            match self.rest.strip_prefix(piece) {
                Some(rest) => {
                    self.rest = rest;
                    Ok(())
                }
                None => Err(fmt::Error),
            }
        }
    }
    let mut compare = Compare { rest: expected };
    write!(compare, "{value}").is_ok() && compare.rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(payload: Value) -> VerifiedToken {
        let Value::Object(map) = payload else {
            panic!("payload must be an object")
        };
        let json = Value::Object(map).to_string();
        VerifiedToken::from_payload(Arc::from("main"), "kid", &json)
    }

    fn access(scope: &str, groups: &[&str]) -> VerifiedToken {
        token(json!({
            "token_use": "access",
            "client_id": "client-a",
            "scope": scope,
            "cognito:groups": groups,
            "custom:tenant": "acme",
            "custom:teams": ["blue green", "red"],
            "custom:level": 42,
            "custom:ratio": 1.5,
            "custom:admin": true,
            "custom:nothing": null,
            "custom:object": {"a": "b"},
            "custom:mixed": [1, "x", null, {"y": 1}, [2]],
            "exp": 2_000_000_000,
        }))
    }

    fn id_token(groups: &[&str]) -> VerifiedToken {
        token(json!({
            "token_use": "id",
            "aud": "client-b",
            "cognito:groups": groups,
            "email": "a@example.com",
            "exp": 2_000_000_000,
        }))
    }

    fn eval(policy: &str, token: &VerifiedToken) -> Evaluation {
        policy
            .parse::<Policy>()
            .unwrap_or_else(|e| panic!("{policy}: {e}"))
            .compile()
            .unwrap_or_else(|e| panic!("{policy}: {e}"))
            .evaluate(token)
    }

    #[test]
    fn every_atom_evaluates_as_documented() {
        let user = access("api/read openid", &["staff", "team blue"]);
        let id = id_token(&["admin"]);
        // (policy, token, allowed)
        let cases: Vec<(&str, &VerifiedToken, bool)> = vec![
            ("authenticated", &user, true),
            ("public", &user, true),
            ("group:staff", &user, true),
            ("group:admin", &user, false),
            ("group:Staff", &user, false),
            (r#"group:"team blue""#, &user, true),
            ("group:admin", &id, true),
            ("scope:api/read", &user, true),
            ("scope:openid", &user, true),
            ("scope:api/write", &user, false),
            ("scope:api/READ", &user, false),
            ("scope:api/read", &id, false),
            ("token_use:access", &user, true),
            ("token_use:id", &user, false),
            ("token_use:id", &id, true),
            ("client:client-a", &user, true),
            ("client:client-b", &user, false),
            ("client:client-b", &id, true),
            ("issuer:main", &user, true),
            ("issuer:other", &user, false),
            ("claim:custom:tenant", &user, true),
            ("claim:custom:missing", &user, false),
            ("claim:custom:nothing", &user, false),
            ("claim:custom:object", &user, true),
            ("claim:custom:tenant=acme", &user, true),
            ("claim:custom:tenant=Acme", &user, false),
            (r#"claim:custom:teams="blue green""#, &user, true),
            ("claim:custom:teams=red", &user, true),
            ("claim:custom:teams=blue", &user, false),
            ("claim:custom:level=42", &user, true),
            ("claim:custom:level=42.0", &user, false),
            ("claim:custom:ratio=1.5", &user, true),
            ("claim:custom:admin=true", &user, true),
            ("claim:custom:admin=false", &user, false),
            ("claim:custom:nothing=null", &user, false),
            ("claim:custom:object=x", &user, false),
            ("claim:custom:mixed=1", &user, true),
            ("claim:custom:mixed=x", &user, true),
            ("claim:custom:mixed=2", &user, false),
            ("claim:custom:mixed=null", &user, false),
            ("claim:custom:missing=x", &user, false),
            ("claim:email=a@example.com", &id, true),
            ("claim:exp=2000000000", &user, true),
        ];
        for (policy, token, allowed) in cases {
            assert_eq!(eval(policy, token).is_allowed(), allowed, "{policy}");
        }
    }

    #[test]
    fn operators_follow_precedence_and_not() {
        let user = access("api/read", &["staff"]);
        let cases = [
            ("group:staff and scope:api/read", true),
            ("group:staff and scope:api/write", false),
            ("group:admin or scope:api/read", true),
            // and binds tighter: group:admin or (group:staff and scope:api/read)
            ("group:admin or group:staff and scope:api/read", true),
            ("(group:admin or group:staff) and scope:api/write", false),
            ("group:staff or group:admin and scope:api/write", true),
            ("not group:admin", true),
            ("not group:staff", false),
            ("not not group:staff", true),
            ("not group:staff or scope:api/read", true),
            ("not (group:staff or scope:api/write)", false),
            ("not authenticated", false),
        ];
        for (policy, allowed) in cases {
            assert_eq!(eval(policy, &user).is_allowed(), allowed, "{policy}");
        }
    }

    #[test]
    fn effective_policy_inlines_references() {
        let set = PolicySet::from_policies([
            ("admin", Policy::group("admin")),
            (
                "reader",
                "scope:api/read or policy:admin".parse().expect("parses"),
            ),
        ])
        .expect("valid set");
        let cases = [
            (
                "policy:reader and token_use:id",
                "(scope:api/read or group:admin) and token_use:id",
            ),
            ("not policy:admin", "not group:admin"),
            ("authenticated", "authenticated"),
            ("public", "public"),
            (
                r#"claim:custom:team="blue green""#,
                r#"claim:custom:team="blue green""#,
            ),
        ];
        for (text, expected) in cases {
            let compiled = set
                .compile(&text.parse().expect("parses"))
                .expect("compiles");
            assert_eq!(compiled.effective(), expected, "{text}");
            assert_eq!(
                compiled.text(),
                text.parse::<Policy>().expect("parses").to_string()
            );
        }
    }

    #[test]
    fn denials_are_insufficient_scope_only_when_scopes_would_fix_them() {
        let user = access("openid", &["staff"]);
        let admin = access("openid", &["admin"]);
        let id = id_token(&["staff"]);
        let set = PolicySet::from_policies([
            ("admin", Policy::group("admin")),
            (
                "reader",
                "scope:api/read or policy:admin".parse().expect("parses"),
            ),
            ("no_banned", "not scope:api/banned".parse().expect("parses")),
            (
                "negated_reader",
                "not policy:reader".parse().expect("parses"),
            ),
        ])
        .expect("valid set");
        let scopes = |list: &[&str]| -> Evaluation {
            Evaluation::InsufficientScope(list.iter().map(|s| (*s).to_owned()).collect())
        };
        // (policy, token, expected)
        let cases: Vec<(&str, &VerifiedToken, Evaluation)> = vec![
            ("scope:api/read", &user, scopes(&["api/read"])),
            ("scope:api/read", &id, scopes(&["api/read"])),
            (
                "scope:api/read or policy:admin",
                &user,
                scopes(&["api/read"]),
            ),
            ("scope:api/read or policy:admin", &admin, Evaluation::Allow),
            ("policy:reader", &user, scopes(&["api/read"])),
            (
                "scope:a and scope:b or scope:a and scope:c",
                &user,
                scopes(&["a", "b", "c"]),
            ),
            (
                "scope:api/read and group:admin",
                &user,
                Evaluation::Forbidden,
            ),
            (
                "scope:api/read and group:staff",
                &user,
                scopes(&["api/read"]),
            ),
            ("group:admin", &user, Evaluation::Forbidden),
            ("not scope:openid", &user, Evaluation::Forbidden),
            (
                "policy:no_banned and scope:openid",
                &user,
                Evaluation::Allow,
            ),
            ("not (not scope:api/read)", &user, scopes(&["api/read"])),
            // a scope under one `not` (through a reference) is negative: no insufficient_scope
            (
                "policy:negated_reader and scope:x",
                &admin,
                Evaluation::Forbidden,
            ),
            ("token_use:access and scope:x", &id, Evaluation::Forbidden),
            ("authenticated and scope:x", &id, scopes(&["x"])),
        ];
        for (policy, token, expected) in cases {
            let compiled = set
                .compile(&policy.parse::<Policy>().expect("parses"))
                .expect("compiles");
            assert_eq!(compiled.evaluate(token), expected, "{policy}");
            assert_eq!(
                compiled.evaluate(token).error_kind(),
                expected.error_kind(),
                "{policy}"
            );
        }
    }

    #[test]
    fn named_policies_resolve_and_errors_are_attributed() {
        let parse = |text: &str| text.parse::<Policy>().expect("parses");
        // (policies, expected error)
        let cases: Vec<(Vec<(&str, Policy)>, PolicyError)> = vec![
            (
                vec![("a", parse("policy:b"))],
                PolicyError::InNamed {
                    name: "a".into(),
                    source: Box::new(PolicyError::UnknownPolicy {
                        name: "b".into(),
                        column: Some(1),
                    }),
                },
            ),
            (
                vec![("a", parse("policy:a"))],
                PolicyError::InNamed {
                    name: "a".into(),
                    source: Box::new(PolicyError::Cycle {
                        path: vec!["a".into(), "a".into()],
                        column: Some(1),
                    }),
                },
            ),
            (
                vec![
                    ("a", parse("group:x or policy:b")),
                    ("b", parse("not policy:c")),
                    ("c", parse("group:y and policy:a")),
                ],
                PolicyError::InNamed {
                    name: "c".into(),
                    source: Box::new(PolicyError::Cycle {
                        path: vec!["a".into(), "b".into(), "c".into(), "a".into()],
                        column: Some(13),
                    }),
                },
            ),
            (
                vec![("a", parse("group:x")), ("a", parse("group:y"))],
                PolicyError::Duplicate { name: "a".into() },
            ),
            (
                vec![("a", parse("public or group:x"))],
                PolicyError::InNamed {
                    name: "a".into(),
                    source: Box::new(PolicyError::PublicCombined),
                },
            ),
            (
                vec![
                    ("open", parse("public")),
                    ("a", parse("policy:open and group:x")),
                ],
                PolicyError::InNamed {
                    name: "a".into(),
                    source: Box::new(PolicyError::PublicCombined),
                },
            ),
            (
                vec![("a", parse(r#"scope:"a b""#))],
                PolicyError::InNamed {
                    name: "a".into(),
                    source: Box::new(PolicyError::InvalidScope {
                        scope: "a b".into(),
                    }),
                },
            ),
        ];
        for (policies, expected) in cases {
            let description = format!("{policies:?}");
            assert_eq!(
                PolicySet::from_policies(policies).expect_err(&description),
                expected,
                "{description}"
            );
        }
    }

    #[test]
    fn public_resolves_through_references() {
        let set = PolicySet::from_policies([
            ("open", Policy::public()),
            ("also_open", Policy::named("open")),
        ])
        .expect("valid");
        assert!(
            set.compile(&Policy::named("also_open"))
                .expect("ok")
                .is_public()
        );
        assert_eq!(
            set.compile(&Policy::named("open").or(Policy::group("x")))
                .expect_err("combined"),
            PolicyError::PublicCombined
        );
        assert_eq!(
            Policy::named("x").compile().expect_err("no set"),
            PolicyError::UnknownPolicy {
                name: "x".into(),
                column: None
            }
        );
    }

    #[test]
    fn diamond_references_cannot_explode() {
        let mut policies = vec![("p0".to_owned(), Policy::group("x"))];
        for level in 1..40 {
            let below = format!("p{}", level - 1);
            policies.push((
                format!("p{level}"),
                Policy::named(below.clone()).and(Policy::named(below)),
            ));
        }
        let error = PolicySet::from_policies(policies).expect_err("too large");
        assert!(
            matches!(
                error,
                PolicyError::InNamed { ref source, .. } if **source == PolicyError::TooLarge
            ),
            "{error}"
        );
    }

    #[test]
    fn explain_lists_the_failed_atoms() {
        let user = access("openid", &["staff"]);
        let cases = [
            (
                "group:admin and scope:openid",
                "denied; failed: group:admin",
            ),
            (
                "group:staff and not scope:openid",
                "denied; failed: not scope:openid",
            ),
            ("group:staff or group:admin", "allowed; failed: group:admin"),
            ("authenticated", "allowed"),
            (
                r#"claim:custom:team="blue green""#,
                r#"denied; failed: claim:custom:team="blue green""#,
            ),
        ];
        for (policy, expected) in cases {
            let compiled = policy
                .parse::<Policy>()
                .expect("parses")
                .compile()
                .expect("ok");
            assert_eq!(compiled.explain(&user).to_string(), expected, "{policy}");
        }
    }

    #[test]
    fn numbers_compare_as_serde_json_prints_them() {
        let cases = [
            (json!(42), "42", true),
            (json!(-7), "-7", true),
            (json!(1.5), "1.5", true),
            (json!(100.0), "100.0", true),
            (json!(100.0), "100", false),
            (json!(1e300), "1e+300", true),
            (json!(1e300), "1e300", false),
            (json!(42), "4", false),
            (json!(42), "421", false),
        ];
        for (value, text, expected) in cases {
            assert_eq!(claim_matches(&value, text), expected, "{value} vs {text}");
        }
    }
}
