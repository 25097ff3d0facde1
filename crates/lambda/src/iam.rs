//! IAM policies for REST API authorizers: the `methodArn` grammar, the one-request policy, and
//! the cache-safe policy compiled from the whole route table for one principal.
//!
//! The table is compiled for a principal apart from any request ([`compile_table`]: the slow
//! part, kept by the caller) and written out for each request's API, stage and `methodArn`
//! ([`document`]).
//!
//! API Gateway evaluates the returned policy against the `methodArn` of the request, and with
//! the authorizer cache on, against the `methodArn` of every later request carrying the same
//! identity, until the cache entry expires. Resource ARNs match with IAM's wildcards: `*` any
//! run of characters (`/` included), `?` one character; an explicit `Deny` wins over any
//! `Allow`; no matching `Allow` is a denial; no escape makes `*` or `?` literal.
//!
//! The cache-safe compiler never grants a request the in-process layer refuses:
//!
//! - It models the route table as classes of paths the table decides alike (each segment
//!   either a static name some pattern gives at that depth, or any other segment) and asks
//!   the route table and the principal's token what the layer decides for one path of each
//!   class, per method.
//! - Candidate `Allow` resources are the classes the layer allows, each other segment written
//!   `*`; candidate `Deny` resources are the classes it refuses, and each candidate `Allow`
//!   with one `*` doubled (`GET/*/settings` gives `GET/*/*/settings`: what cuts a `*` back to
//!   one segment).
//! - Every candidate is checked against every path, with IAM's own reading: a `*` spans one
//!   segment or several (and at the root, none), a path may be as deep as it likes. A `Deny`
//!   is kept only when it refuses no path the layer may allow; an `Allow` only when every path
//!   it grants and no kept `Deny` refuses is one the layer allows. The check walks the
//!   route-table model and the candidates together, one state per distinct position, so it is
//!   exact, and bounded: past its bound it answers the cautious way.
//! - Segments the model cannot read exactly — a parameter with text around it
//!   (`v{version}`, `@{handle}`), a name holding `*`, `?`, `$` (a policy variable), braces or
//!   `%` — are read as the parameter (or catch-all) matching at least as much, and every path
//!   such a pattern could then match is granted by no resource: the layer's answer there is
//!   not known from one sample path, and such a name is never written into a resource.
//! - Paths the layer reads in several ways (percent-encoding, empty or dot segments, a
//!   trailing `/`) are refused by explicit `Deny` resources.
//! - The request the policy is returned for, when the layer allows it and its path holds no
//!   `*`, `?` or `$` and no odd spelling, is granted by its exact ARN if no resource already
//!   grants it: a narrowed policy never refuses the request it answers.
//!
//! Where a table cannot be written exactly (a `*` cannot stop at `/`; a segment matched by
//! some names and not others), the policy refuses requests the layer allows, never the other
//! way round, and the compiler reports sample requests so refused for the log.

use std::collections::{BTreeSet, HashSet, VecDeque};

use cognito_authz_core::{Evaluation, RequestTarget, RouteTable, VerifiedToken};
use http::Method;
use serde_json::{Value, json};

/// The IAM action API Gateway checks.
pub(crate) const INVOKE: &str = "execute-api:Invoke";

/// The methods API Gateway REST APIs route (`ANY` expands to these).
pub(crate) const METHODS: [Method; 7] = [
    Method::DELETE,
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::POST,
    Method::PUT,
];

/// A parsed `methodArn`: `arn:{partition}:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MethodArn {
    /// Everything up to and including `{stage}/`.
    prefix: String,
    method: String,
    path: String,
}

impl MethodArn {
    /// Parses a `methodArn` (or an HTTP API `routeArn`); `None` for anything else.
    pub(crate) fn parse(arn: &str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (scheme, partition, service, region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if scheme != "arn"
            || partition.is_empty()
            || service != "execute-api"
            || region.is_empty()
            || account.is_empty()
        {
            return None;
        }
        let mut pieces = resource.splitn(4, '/');
        let (api, stage, method) = (pieces.next()?, pieces.next()?, pieces.next()?);
        if api.is_empty() || stage.is_empty() || method.is_empty() {
            return None;
        }
        let rest = pieces.next().unwrap_or("");
        let prefix_len = arn.len() - resource.len() + api.len() + 1 + stage.len() + 1;
        Some(Self {
            prefix: arn[..prefix_len].to_owned(),
            method: method.to_owned(),
            path: format!("/{rest}"),
        })
    }

    /// The request method named in the ARN.
    pub(crate) fn method(&self) -> &str {
        &self.method
    }

    /// The request path named in the ARN (`/` for the root).
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The ARN of `method` and `path_glob` in the same API and stage.
    pub(crate) fn resource(&self, method: &str, path_glob: &str) -> String {
        format!("{}{method}{path_glob}", self.prefix)
    }

    /// The ARN itself.
    pub(crate) fn arn(&self) -> String {
        self.resource(&self.method, &self.path)
    }
}

/// The longest resource ARN, in characters, API Gateway accepts in a statement of the policy
/// a Lambda authorizer returns.
pub(crate) const MAX_RESOURCE_CHARS: usize = 512;

/// An IAM policy document with at most one `Allow` and one `Deny` statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PolicyDocument {
    pub(crate) allow: Vec<String>,
    pub(crate) deny: Vec<String>,
}

impl PolicyDocument {
    /// `Allow` or `Deny` for exactly one ARN.
    pub(crate) fn single(arn: String, allow: bool) -> Self {
        if allow {
            Self {
                allow: vec![arn],
                deny: Vec::new(),
            }
        } else {
            Self {
                allow: Vec::new(),
                deny: vec![arn],
            }
        }
    }

    /// Whether every resource is short enough for API Gateway to read
    /// ([`MAX_RESOURCE_CHARS`]).
    pub(crate) fn resources_fit(&self) -> bool {
        self.allow
            .iter()
            .chain(&self.deny)
            .all(|resource| resource.chars().count() <= MAX_RESOURCE_CHARS)
    }

    /// The JSON API Gateway reads (`policyDocument`). A document with no statement at all
    /// denies everything, which IAM expresses with an explicit statement.
    pub(crate) fn to_json(&self) -> Value {
        let mut statements = Vec::new();
        for (effect, resources) in [("Allow", &self.allow), ("Deny", &self.deny)] {
            if !resources.is_empty() {
                statements.push(json!({
                    "Action": INVOKE,
                    "Effect": effect,
                    "Resource": resources,
                }));
            }
        }
        if statements.is_empty() {
            statements.push(json!({"Action": INVOKE, "Effect": "Deny", "Resource": ["*"]}));
        }
        json!({"Version": "2012-10-17", "Statement": statements})
    }
}

/// IAM's ARN wildcard match: `*` any run of characters (none included), `?` exactly one.
pub(crate) fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// What the in-process layer decides for a request on a path without dot segments when the
/// principal holds `token` (or none): the same route lookup and the same policy evaluation
/// as `Authorizer::authorize`, allow meaning every guarding route allows.
pub(crate) fn layer_allows(
    routes: &RouteTable,
    token: Option<&VerifiedToken>,
    method: &Method,
    path: &str,
) -> bool {
    let target = RequestTarget::new(path);
    if target.has_dot_segments() {
        return false;
    }
    let guards = routes.matches(method, target);
    if guards.iter().any(|found| found.policy().is_deny()) {
        return false;
    }
    if guards.iter().all(|found| found.policy().is_public()) {
        return true;
    }
    let Some(token) = token else { return false };
    guards
        .iter()
        .all(|found| matches!(found.policy().evaluate(token), Evaluation::Allow))
}

/// Spellings the in-process layer reads in several ways (percent-encoding, empty segments,
/// a trailing `/`, dot segments), and those a URL parser reads otherwise than as written (a
/// `\` it takes for `/`, a `#` that ends the path, a trailing blank it trims), as globs over a
/// path: the cache-safe policy refuses them outright. (`?*/` ends in `/` after at least one
/// more character, so the root `/` stays itself.)
pub(crate) const ODD_SPELLINGS: [&str; 10] = [
    "*%*", "*//*", "?*/", "*/./*", "*/../*", "*/.", "*/..", "*\\*", "*#*", "* ",
];

/// [`ODD_SPELLINGS`] as globs over `{METHOD}{path}`, so that one resource refuses them for
/// every method: the leading `*` spans the method, which holds none of `%`, `/` or `.`, and
/// the trailing-`/` spelling asks for a `/`, one character or more, and a final `/` (the
/// root `/` has one `/` only; `//` is refused as an empty segment).
pub(crate) const ODD_SPELLINGS_ANY_METHOD: [&str; 10] = [
    "*%*", "*//*", "*/?*/", "*/./*", "*/../*", "*/.", "*/..", "*\\*", "*#*", "* ",
];

/// The most nodes the compiler's model of a route table may have; a larger table gets a
/// policy for the current request only.
const NODE_LIMIT: usize = 10_000;

/// The most segments a pattern of a compiled table may have (the model is built to one
/// more); a deeper table gets a policy for the current request only.
const DEPTH_LIMIT: usize = 64;

/// The most states one check of candidate resources may visit; past it, the check answers
/// the cautious way (an `Allow` dropped, a `Deny` not relied on).
const STATE_LIMIT: usize = 100_000;

/// Above this many resources of one kind for one method, those covered by another are kept
/// rather than looked for (the comparison costs the square of the count).
const WIDEST_LIMIT: usize = 512;

/// The result of compiling a route table for one principal and one request.
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled {
    pub(crate) document: PolicyDocument,
    /// Representative requests (method, path) the layer allows but the policy refuses,
    /// because IAM wildcards cannot express the table exactly.
    pub(crate) narrowed: Vec<(Method, String)>,
}

/// A segment of a route pattern, as the compiler reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// A name that must appear as is, and that a resource ARN can spell as is.
    Static(String),
    /// One non-empty segment.
    Param,
    /// One or more segments (and the bare prefix before it).
    CatchAll,
}

/// A route pattern as segments. `widened` when some segment could not be read exactly (a
/// parameter with text around it, a name holding an IAM wildcard or `$`, braces) and was
/// read as the parameter or catch-all that matches at least everything it matches.
#[derive(Debug, Clone)]
struct Pattern {
    segments: Vec<Segment>,
    widened: bool,
}

/// Whether `name` can stand in a resource ARN as itself and names a segment of a path the
/// cached policy may grant: not empty, not `.` or `..`, and none of IAM's `*` and `?`, the
/// `$` of a policy variable, braces, or `%`.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['*', '?', '$', '{', '}', '%'])
}

/// Whether `segment` is `{name}` (or `{*name}` when `catch_all`) and nothing else.
fn is_whole_parameter(segment: &str, catch_all: bool) -> bool {
    let Some(inner) = segment
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
    else {
        return false;
    };
    let name = if catch_all {
        match inner.strip_prefix('*') {
            Some(name) => name,
            None => return false,
        }
    } else {
        inner
    };
    !name.contains(['{', '}', '*'])
}

fn read_pattern(pattern: &str) -> Pattern {
    let mut widened = false;
    let segments = pattern
        .split('/')
        .skip(1)
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            if is_whole_parameter(segment, true) {
                Segment::CatchAll
            } else if segment.contains("{*") {
                widened = true;
                Segment::CatchAll
            } else if is_whole_parameter(segment, false) {
                Segment::Param
            } else if is_plain_name(segment) {
                Segment::Static(segment.to_owned())
            } else {
                widened = true;
                Segment::Param
            }
        })
        .collect();
    Pattern { segments, widened }
}

impl Pattern {
    /// Whether the pattern matches the paths of `tokens` (a catch-all its bare prefix too).
    fn covers(&self, tokens: &[Token]) -> bool {
        for (index, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::CatchAll => return tokens.len() >= index,
                Segment::Param if index >= tokens.len() => return false,
                Segment::Param => {}
                Segment::Static(name) => match tokens.get(index) {
                    Some(Token::Name(found)) if found == name => {}
                    _ => return false,
                },
            }
        }
        tokens.len() == self.segments.len()
    }

    /// Whether the pattern may match a path going on below `depth` segments whose segment at
    /// `depth` is `choice`.
    fn continues(&self, depth: usize, choice: &Token) -> bool {
        let caught = self.segments[..depth.min(self.segments.len())].contains(&Segment::CatchAll);
        caught
            || match self.segments.get(depth) {
                Some(Segment::Static(name)) => *choice == Token::Name(name.clone()),
                Some(Segment::Param | Segment::CatchAll) => true,
                None => false,
            }
    }
}

/// One token of a path class or of a resource glob: a static name, or a segment no pattern
/// names there (in a glob, IAM's `*`: one segment or more).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Token {
    Name(String),
    Other,
}

/// A class of paths the route table decides alike: the segments so far, each a name some
/// pattern gives at that depth or any other segment.
#[derive(Debug)]
struct Node {
    tokens: Vec<Token>,
    /// The class below for a segment equal to each name (sorted by name).
    names: Vec<(String, usize)>,
    /// The class below for any other segment; the node itself when every path below is
    /// decided as the node is.
    other: usize,
    /// Some widened pattern matches the node's paths: the layer's answer for them is not
    /// known from one sample.
    widened: bool,
}

/// The route table as an automaton over path segments: every path without odd spellings
/// ends in exactly one node, and the table decides every path of a node alike.
#[derive(Debug)]
struct Model {
    nodes: Vec<Node>,
}

impl Model {
    /// The model of `patterns`, or `None` past [`NODE_LIMIT`] nodes or [`DEPTH_LIMIT`]
    /// segments.
    fn build(patterns: &[Pattern]) -> Option<Self> {
        let deepest = patterns
            .iter()
            .map(|pattern| pattern.segments.len())
            .max()
            .unwrap_or(0);
        if deepest > DEPTH_LIMIT {
            return None;
        }
        // Below a depth no pattern reaches, only catch-alls match, and they match every
        // longer path as they match its prefix.
        let max_depth = deepest + 1;
        let mut model = Self { nodes: Vec::new() };
        let alive: Vec<usize> = (0..patterns.len()).collect();
        model.add(patterns, &[], &alive, max_depth)?;
        Some(model)
    }

    fn add(
        &mut self,
        patterns: &[Pattern],
        tokens: &[Token],
        alive: &[usize],
        max_depth: usize,
    ) -> Option<usize> {
        if self.nodes.len() >= NODE_LIMIT {
            return None;
        }
        let index = self.nodes.len();
        let widened = patterns
            .iter()
            .any(|pattern| pattern.widened && pattern.covers(tokens));
        let depth = tokens.len();
        let terminal = alive.is_empty() || depth >= max_depth;
        self.nodes.push(Node {
            tokens: tokens.to_vec(),
            names: Vec::new(),
            other: index,
            widened,
        });
        if terminal {
            return Some(index);
        }
        let mut choices: BTreeSet<Token> = alive
            .iter()
            .filter_map(|&p| match patterns[p].segments.get(depth) {
                Some(Segment::Static(name)) => Some(Token::Name(name.clone())),
                _ => None,
            })
            .collect();
        choices.insert(Token::Other);
        let mut names = Vec::new();
        let mut other = index;
        for choice in choices {
            let next: Vec<usize> = alive
                .iter()
                .copied()
                .filter(|&p| patterns[p].continues(depth, &choice))
                .collect();
            let mut below = tokens.to_vec();
            below.push(choice.clone());
            let child = self.add(patterns, &below, &next, max_depth)?;
            match choice {
                Token::Name(name) => names.push((name, child)),
                Token::Other => other = child,
            }
        }
        let node = &mut self.nodes[index];
        node.names = names;
        node.other = other;
        Some(index)
    }

    /// The node a path of `node` goes to with one more segment (`None`: a segment equal to
    /// no name of the table).
    fn next(&self, node: usize, segment: Option<&str>) -> usize {
        let node = &self.nodes[node];
        segment
            .and_then(|segment| {
                node.names
                    .binary_search_by(|(name, _)| name.as_str().cmp(segment))
                    .ok()
            })
            .map_or(node.other, |found| node.names[found].1)
    }
}

/// Where a set of globs may be after some segments: (glob, tokens consumed). A `*` token
/// consumes one segment or more.
type Positions = Vec<(usize, usize)>;

fn starts(globs: &[Vec<Token>]) -> Positions {
    (0..globs.len()).map(|glob| (glob, 0)).collect()
}

fn advance(globs: &[Vec<Token>], from: &Positions, segment: Option<&str>) -> Positions {
    let mut out = Vec::new();
    for &(glob, at) in from {
        let tokens = &globs[glob];
        if at > 0 && tokens[at - 1] == Token::Other {
            out.push((glob, at));
        }
        match tokens.get(at) {
            Some(Token::Other) => out.push((glob, at + 1)),
            Some(Token::Name(name)) if segment == Some(name.as_str()) => out.push((glob, at + 1)),
            _ => {}
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The globs of `at` matching the path read so far. At the root (`/`, no segment), the glob
/// `/` matches, and so does `/*`: IAM's `*` there may match nothing.
fn accepting(globs: &[Vec<Token>], at: &Positions, root: bool) -> Vec<usize> {
    let mut out: Vec<usize> = at
        .iter()
        .filter(|&&(glob, consumed)| {
            consumed == globs[glob].len() || (root && globs[glob] == [Token::Other])
        })
        .map(|&(glob, _)| glob)
        .collect();
    out.dedup();
    out
}

/// Past [`STATE_LIMIT`] states.
#[derive(Debug)]
struct TooLarge;

/// Walks every path without odd spellings, through the model and two lists of globs at
/// once, one state per distinct (node, positions), and settles each glob of the `first`
/// list that matches the paths of a state where `decisive(node, globs of second matching)`
/// holds: the answer is which globs of `first` were settled. A settled glob is followed no
/// further; a state is left only while some glob of `first` (and, when `needs_second`, of
/// `second`) may still match below it.
fn explore(
    model: &Model,
    first: &[Vec<Token>],
    second: &[Vec<Token>],
    needs_second: bool,
    decisive: impl Fn(usize, &[usize]) -> bool,
) -> Result<Vec<bool>, TooLarge> {
    type State = (usize, bool, Positions, Positions);
    let mut settled = vec![false; first.len()];
    let start: State = (0, true, starts(first), starts(second));
    let mut seen: HashSet<State> = HashSet::new();
    let mut queue: VecDeque<State> = VecDeque::new();
    seen.insert(start.clone());
    queue.push_back(start);
    while let Some((node, root, a, b)) = queue.pop_front() {
        if decisive(node, &accepting(second, &b, root)) {
            for glob in accepting(first, &a, root) {
                settled[glob] = true;
            }
        }
        let a: Positions = a.into_iter().filter(|&(glob, _)| !settled[glob]).collect();
        if a.is_empty() || (needs_second && b.is_empty()) {
            continue;
        }
        // The segments that tell the state's successors apart: the names the model or a
        // glob expects next, and one segment equal to none of them.
        let mut segments: BTreeSet<&str> = model.nodes[node]
            .names
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        for (globs, at) in [(first, &a), (second, &b)] {
            for &(glob, consumed) in at {
                if let Some(Token::Name(name)) = globs[glob].get(consumed) {
                    segments.insert(name);
                }
            }
        }
        for segment in segments.into_iter().map(Some).chain([None]) {
            let state: State = (
                model.next(node, segment),
                false,
                advance(first, &a, segment),
                advance(second, &b, segment),
            );
            if !seen.contains(&state) {
                if seen.len() >= STATE_LIMIT {
                    return Err(TooLarge);
                }
                seen.insert(state.clone());
                queue.push_back(state);
            }
        }
    }
    Ok(settled)
}

/// A name no pattern uses, standing for "any other segment" when asking the route table.
fn other_name(patterns: &[Pattern]) -> String {
    let used: BTreeSet<&str> = patterns
        .iter()
        .flat_map(|pattern| &pattern.segments)
        .filter_map(|segment| match segment {
            Segment::Static(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    (0..)
        .map(|n| format!("x{n}"))
        .find(|name| !used.contains(name.as_str()))
        .unwrap_or_default()
}

fn render(tokens: &[Token], other: &str) -> String {
    if tokens.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::new();
    for token in tokens {
        out.push('/');
        match token {
            Token::Name(name) => out.push_str(name),
            Token::Other => out.push_str(other),
        }
    }
    out
}

/// The IAM glob of a list of tokens: each "other" segment becomes `*`.
fn glob(tokens: &[Token]) -> String {
    render(tokens, "*")
}

/// Keeps the globs no other kept glob covers (IAM's `*` in the covering glob matching the
/// covered glob's text, its `*` included).
fn keep_widest(globs: Vec<Vec<Token>>) -> Vec<Vec<Token>> {
    if globs.len() > WIDEST_LIMIT {
        return globs;
    }
    let texts: Vec<String> = globs.iter().map(|tokens| glob(tokens)).collect();
    globs
        .into_iter()
        .enumerate()
        .filter(|(index, _)| {
            !texts
                .iter()
                .enumerate()
                .any(|(other, text)| other != *index && glob_matches(text, &texts[*index]))
        })
        .map(|(_, tokens)| tokens)
        .collect()
}

fn unique(globs: impl IntoIterator<Item = Vec<Token>>) -> Vec<Vec<Token>> {
    let mut seen = HashSet::new();
    globs
        .into_iter()
        .filter(|tokens| seen.insert(tokens.clone()))
        .collect()
}

/// Whether a path is granted by `allow` globs and refused by no `deny` glob.
fn granted(allow: &[String], deny: &[String], path: &str) -> bool {
    allow.iter().any(|glob| glob_matches(glob, path))
        && !deny.iter().any(|glob| glob_matches(glob, path))
}

/// For each node, whether its sample path (each other segment a name no pattern uses) is
/// granted by `allows` and refused by no `denies`: the globs are followed down the model,
/// one segment a step.
fn granted_samples(model: &Model, allows: &[Vec<Token>], denies: &[Vec<Token>]) -> Vec<bool> {
    let count = model.nodes.len();
    let mut at: Vec<Option<(Positions, Positions)>> = vec![None; count];
    at[0] = Some((starts(allows), starts(denies)));
    let mut out = vec![false; count];
    for index in 0..count {
        let Some((a, d)) = at[index].take() else {
            continue;
        };
        let root = index == 0;
        out[index] =
            !accepting(allows, &a, root).is_empty() && accepting(denies, &d, root).is_empty();
        let node = &model.nodes[index];
        let children = node
            .names
            .iter()
            .map(|(name, child)| (Some(name.as_str()), *child))
            .chain((node.other != index).then_some((None, node.other)));
        for (segment, child) in children {
            if let Some(slot) = at.get_mut(child) {
                *slot = Some((advance(allows, &a, segment), advance(denies, &d, segment)));
            }
        }
    }
    out
}

/// The request of `arn`, when its own policy may grant it exactly: a method API Gateway
/// routes, a path with no IAM wildcard or `$` and no odd spelling, that the layer allows.
fn exact_request(
    routes: &RouteTable,
    token: Option<&VerifiedToken>,
    arn: &MethodArn,
) -> Option<(Method, String)> {
    let method = METHODS
        .iter()
        .find(|method| method.as_str() == arn.method())?;
    let path = arn.path();
    let writable =
        !path.contains(['*', '?', '$']) && !ODD_SPELLINGS.iter().any(|odd| glob_matches(odd, path));
    (writable && layer_allows(routes, token, method, path))
        .then(|| (method.clone(), path.to_owned()))
}

/// The `Allow` and `Deny` path globs of one method, and the nodes the layer allows whose
/// sample path they refuse.
#[derive(Debug, Default)]
struct MethodPolicy {
    allow: Vec<String>,
    deny: Vec<String>,
    narrowed: Vec<usize>,
}

/// Compiles one method: candidate globs from the model's nodes, each checked against every
/// path without odd spellings.
fn compile_method(model: &Model, allowed: &[bool]) -> MethodPolicy {
    let nodes = &model.nodes;
    // Grantable: the layer allows every path of the node. Refusable: the layer refuses
    // every path of the node (a widened node is neither).
    let grantable = |node: usize| allowed[node] && !nodes[node].widened;
    let refusable = |node: usize| !allowed[node] && !nodes[node].widened;
    let allow_candidates = unique(
        (0..nodes.len())
            .filter(|&node| grantable(node))
            .map(|node| nodes[node].tokens.clone()),
    );
    // Denies: the glob of every node not grantable, and each allow candidate with one of its
    // `*` made to span two segments or more (what cuts a `*` back to one segment).
    let mut deny_candidates: Vec<Vec<Token>> = (0..nodes.len())
        .filter(|&node| !grantable(node))
        .map(|node| nodes[node].tokens.clone())
        .collect();
    for tokens in &allow_candidates {
        for (index, token) in tokens.iter().enumerate() {
            if *token == Token::Other {
                let mut deeper = tokens.clone();
                deeper.insert(index, Token::Other);
                deny_candidates.push(deeper);
            }
        }
    }
    let deny_candidates = unique(deny_candidates);

    // A Deny is relied on only when it refuses no path the layer may allow.
    let deny_wrong = explore(model, &deny_candidates, &[], false, |node, _| {
        !refusable(node)
    })
    .unwrap_or_else(|TooLarge| vec![true; deny_candidates.len()]);
    let denies: Vec<Vec<Token>> = deny_candidates
        .into_iter()
        .zip(deny_wrong)
        .filter_map(|(tokens, wrong)| (!wrong).then_some(tokens))
        .collect();

    // An Allow is kept only when every path it grants and no Deny refuses is grantable.
    let allow_wrong = explore(model, &allow_candidates, &denies, false, |node, denied| {
        !grantable(node) && denied.is_empty()
    })
    .unwrap_or_else(|TooLarge| vec![true; allow_candidates.len()]);
    let allows = keep_widest(
        allow_candidates
            .into_iter()
            .zip(allow_wrong)
            .filter_map(|(tokens, wrong)| (!wrong).then_some(tokens))
            .collect(),
    );

    // Denies that refuse nothing an Allow grants are dead weight.
    let deny_used = explore(model, &denies, &allows, true, |_, granting| {
        !granting.is_empty()
    })
    .unwrap_or_else(|TooLarge| vec![true; denies.len()]);
    let denies = keep_widest(
        denies
            .into_iter()
            .zip(deny_used)
            .filter_map(|(tokens, used)| used.then_some(tokens))
            .collect(),
    );
    let samples = granted_samples(model, &allows, &denies);
    MethodPolicy {
        allow: allows.iter().map(|tokens| glob(tokens)).collect(),
        deny: denies.iter().map(|tokens| glob(tokens)).collect(),
        narrowed: (0..nodes.len())
            .filter(|&node| allowed[node] && !samples[node])
            .collect(),
    }
}

/// The `Allow` and `Deny` path globs of one method, without the ARN prefix: what the
/// compiled table grants and refuses for that method.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MethodGlobs {
    pub(crate) allow: Vec<String>,
    pub(crate) deny: Vec<String>,
}

/// The route table compiled for one principal, apart from anything of the request: the same
/// for every request of that principal to any API and stage, so it can be kept and reused.
/// [`document`] writes it out for one request's `methodArn`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TablePolicy {
    /// The globs of each method of [`METHODS`], in that order (all empty when the table is
    /// too large or too deep to model: then only the request answered is granted).
    methods: Vec<MethodGlobs>,
    /// Representative requests (method, path) the layer allows but the globs refuse,
    /// because IAM wildcards cannot express the table exactly.
    pub(crate) narrowed: Vec<(Method, String)>,
}

impl TablePolicy {
    /// The globs of `method` (none for a method API Gateway does not route).
    fn globs(&self, method: &Method) -> Option<&MethodGlobs> {
        METHODS
            .iter()
            .position(|known| known == method)
            .and_then(|index| self.methods.get(index))
    }

    /// The bytes the policy holds on the heap, for the bound of a cache keeping it.
    pub(crate) fn heap_bytes(&self) -> usize {
        let string = std::mem::size_of::<String>();
        let globs: usize = self
            .methods
            .iter()
            .flat_map(|globs| globs.allow.iter().chain(&globs.deny))
            .map(|glob| glob.capacity() + string)
            .sum();
        let narrowed: usize = self
            .narrowed
            .iter()
            .map(|(_, path)| path.capacity() + std::mem::size_of::<(Method, String)>())
            .sum();
        globs + narrowed + self.methods.len() * std::mem::size_of::<MethodGlobs>()
    }
}

/// Compiles the route table for the principal holding `token` (or none) into globs that
/// decide every request of the API as the in-process layer would, wherever IAM wildcards can
/// say so; elsewhere they refuse. What it costs grows with the table (a large table takes
/// a good part of a second), so callers keep the result.
pub(crate) fn compile_table(routes: &RouteTable, token: Option<&VerifiedToken>) -> TablePolicy {
    let patterns: Vec<Pattern> = routes
        .routes()
        .iter()
        .map(|route| read_pattern(route.pattern()))
        .collect();
    let Some(model) = Model::build(&patterns) else {
        tracing::warn!(
            routes = patterns.len(),
            node_limit = NODE_LIMIT,
            depth_limit = DEPTH_LIMIT,
            "the route table is too large or too deep to compile into a cache-safe IAM policy: the cached policy grants only the request that filled the cache"
        );
        return TablePolicy {
            methods: vec![MethodGlobs::default(); METHODS.len()],
            narrowed: Vec::new(),
        };
    };
    let other = other_name(&patterns);
    let paths: Vec<String> = model
        .nodes
        .iter()
        .map(|node| render(&node.tokens, &other))
        .collect();
    let mut table = TablePolicy::default();
    for method in &METHODS {
        let allowed: Vec<bool> = paths
            .iter()
            .map(|path| layer_allows(routes, token, method, path))
            .collect();
        let MethodPolicy {
            allow,
            deny,
            narrowed,
        } = compile_method(&model, &allowed);
        table.narrowed.extend(
            narrowed
                .into_iter()
                .map(|node| (method.clone(), paths[node].clone())),
        );
        table.methods.push(MethodGlobs { allow, deny });
    }
    table
}

/// Writes compiled tables out as the policy document of the request of `arn`, within its API
/// and stage, for `methods` only: each method's globs come from the table `table_for` gives
/// for it, together with the token that table was compiled for. The request of `arn` itself,
/// when the layer allows it (for that token) and its path can be written, is granted by its
/// exact ARN if no glob grants it. A method whose table grants nothing is left out whole; the
/// odd spellings are refused once for every method (when anything is granted).
pub(crate) fn document<'a>(
    routes: &RouteTable,
    arn: &MethodArn,
    methods: &[Method],
    mut table_for: impl FnMut(&Method) -> (&'a TablePolicy, Option<&'a VerifiedToken>),
) -> PolicyDocument {
    let mut document = PolicyDocument::default();
    for method in methods {
        let (table, token) = table_for(method);
        let empty = MethodGlobs::default();
        let globs = table.globs(method).unwrap_or(&empty);
        let mut allow = globs.allow.clone();
        // An ARN longer than API Gateway reads is not named: this one request is then
        // refused, as the others IAM cannot write are, and the rest of the policy stands.
        if method.as_str() == arn.method()
            && let Some((_, path)) = exact_request(routes, token, arn)
            && !granted(&allow, &globs.deny, &path)
            && arn.resource(method.as_str(), &path).chars().count() <= MAX_RESOURCE_CHARS
        {
            allow.push(path);
        }
        if allow.is_empty() {
            continue;
        }
        let name = method.as_str();
        document
            .allow
            .extend(allow.iter().map(|glob| arn.resource(name, glob)));
        document
            .deny
            .extend(globs.deny.iter().map(|glob| arn.resource(name, glob)));
    }
    if !document.allow.is_empty() {
        let odd = ODD_SPELLINGS_ANY_METHOD
            .iter()
            .map(|odd| arn.resource("", odd));
        document.deny.splice(0..0, odd);
    }
    document
}

/// Compiles the route table for the principal holding `token` (or none) and writes it out for
/// the request of `arn`, every method included: [`compile_table`] then [`document`].
#[cfg(test)]
pub(crate) fn compile(
    routes: &RouteTable,
    token: Option<&VerifiedToken>,
    arn: &MethodArn,
) -> Compiled {
    let table = compile_table(routes, token);
    let document = document(routes, arn, &METHODS, |_| (&table, token));
    let exact = exact_request(routes, token, arn);
    let narrowed = table
        .narrowed
        .into_iter()
        .filter(|request| exact.as_ref() != Some(request))
        .collect();
    Compiled { document, narrowed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_arns_parse_into_prefix_method_and_path() {
        let arn = MethodArn::parse(
            "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/GET/request",
        )
        .expect("a REST methodArn");
        assert_eq!(arn.method(), "GET");
        assert_eq!(arn.path(), "/request");
        assert_eq!(
            arn.resource("POST", "/a/*"),
            "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/POST/a/*"
        );
        let root = MethodArn::parse("arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/")
            .expect("the root methodArn");
        assert_eq!(root.path(), "/");
        assert_eq!(
            root.arn(),
            "arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/"
        );
        let gov = MethodArn::parse(
            "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:api/prod/PUT/a/b:c",
        )
        .expect("a GovCloud methodArn");
        assert_eq!(gov.path(), "/a/b:c");
        for bad in [
            "",
            "arn:aws:lambda:us-east-1:1:fn",
            "arn:aws:execute-api:us-east-1:1:api",
            "arn:aws:execute-api:us-east-1:1:api/stage",
            "arn:aws:execute-api::1:api/stage/GET/x",
            "nope:aws:execute-api:us-east-1:1:api/stage/GET/x",
        ] {
            assert_eq!(MethodArn::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn globs_follow_iam_wildcards() {
        let cases = [
            ("a/*", "a/b/c", true),
            ("a/*", "a/", true),
            ("a/*", "a", false),
            ("a/?", "a/b", true),
            ("a/?", "a/bc", false),
            ("*", "", true),
            ("*/x", "a/b/x", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("GET/r/*", "GET/r/1", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob_matches(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    /// Every path of up to four segments over `names`.
    fn paths(names: &[&str]) -> Vec<Vec<String>> {
        let mut out = vec![Vec::new()];
        let mut layer = vec![Vec::new()];
        for _ in 0..4 {
            layer = layer
                .iter()
                .flat_map(|path: &Vec<String>| {
                    names.iter().map(move |name| {
                        let mut longer = path.clone();
                        longer.push((*name).to_owned());
                        longer
                    })
                })
                .collect();
            out.extend(layer.iter().cloned());
        }
        out
    }

    #[test]
    fn globs_read_segment_by_segment_agree_with_iam_on_paths_without_odd_spellings() {
        let name = |text: &str| Token::Name(text.to_owned());
        let globs = vec![
            vec![],
            vec![Token::Other],
            vec![Token::Other, Token::Other],
            vec![Token::Other, name("a")],
            vec![name("a"), Token::Other],
            vec![name("a"), Token::Other, name("b")],
            vec![Token::Other, name("b"), Token::Other],
            vec![name("b")],
        ];
        for path in paths(&["a", "b", "x"]) {
            let mut at = starts(&globs);
            for segment in &path {
                let known = ["a", "b"].contains(&segment.as_str());
                at = advance(&globs, &at, known.then_some(segment.as_str()));
            }
            let matching = accepting(&globs, &at, path.is_empty());
            let text: String = if path.is_empty() {
                "/".to_owned()
            } else {
                path.iter().map(|segment| format!("/{segment}")).collect()
            };
            for (index, tokens) in globs.iter().enumerate() {
                assert_eq!(
                    matching.contains(&index),
                    glob_matches(&glob(tokens), &text),
                    "{} ~ {text}",
                    glob(tokens)
                );
            }
        }
    }

    #[test]
    fn segments_iam_cannot_write_are_read_as_wider_ones() {
        let cases = [
            ("/a/{id}/{*rest}", false, "a {} {*}"),
            ("/files/v{version}", true, "files {}"),
            ("/users/@{handle}", true, "users {}"),
            ("/export/all*", true, "export {}"),
            ("/export/any?", true, "export {}"),
            ("/pay/$x", true, "pay {}"),
            ("/lit/{{x}}", true, "lit {}"),
            ("/files/x{*rest}", true, "files {*}"),
            ("/a%2Fb", true, "{}"),
            ("/", false, ""),
        ];
        for (pattern, widened, expected) in cases {
            let read = read_pattern(pattern);
            let shown: Vec<String> = read
                .segments
                .iter()
                .map(|segment| match segment {
                    Segment::Static(name) => name.clone(),
                    Segment::Param => "{}".to_owned(),
                    Segment::CatchAll => "{*}".to_owned(),
                })
                .collect();
            assert_eq!(shown.join(" "), expected, "{pattern}");
            assert_eq!(read.widened, widened, "{pattern}");
        }
    }

    fn table(routes: &[(&str, &str)], unmatched: &str) -> RouteTable {
        let mut builder = RouteTable::builder().unmatched(unmatched.parse().expect("policy"));
        for (pattern, policy) in routes {
            builder = builder.route(*pattern, policy.parse().expect("policy"));
        }
        builder.build().expect("table")
    }

    fn arn(method_and_path: &str) -> MethodArn {
        MethodArn::parse(&format!(
            "arn:aws:execute-api:us-east-1:1:api/stage/{method_and_path}"
        ))
        .expect("arn")
    }

    /// Whether the compiled policy grants `method_and_path`, as IAM reads it.
    fn grants(compiled: &Compiled, method_and_path: &str) -> bool {
        let arn = arn(method_and_path).arn();
        let document = &compiled.document;
        document.allow.iter().any(|glob| glob_matches(glob, &arn))
            && !document.deny.iter().any(|glob| glob_matches(glob, &arn))
    }

    #[test]
    fn a_star_before_a_static_name_is_cut_back_to_one_segment() {
        let routes = table(&[("/{tenant}/settings", "public")], "deny");
        let compiled = compile(&routes, None, &arn("GET/acme/settings"));
        let prefix = "arn:aws:execute-api:us-east-1:1:api/stage/GET";
        assert!(
            compiled
                .document
                .allow
                .contains(&format!("{prefix}/*/settings"))
        );
        assert!(
            compiled
                .document
                .deny
                .contains(&format!("{prefix}/*/*/settings"))
        );
        assert!(grants(&compiled, "GET/other/settings"));
        for refused in ["GET/a/b/settings", "GET/settings", "GET/a/settings/x"] {
            assert!(!grants(&compiled, refused), "{refused}");
        }
        assert!(compiled.narrowed.is_empty(), "{:?}", compiled.narrowed);
    }

    #[test]
    fn a_request_no_resource_can_grant_is_granted_by_its_exact_arn() {
        let routes = table(
            &[
                ("/a/{x}/c/{*rest}", "group:admin"),
                ("/a/{x}", "authenticated"),
                ("/{*rest}", "public"),
            ],
            "public",
        );
        let compiled = compile(&routes, None, &arn("GET/z"));
        assert!(grants(&compiled, "GET/z"));
        for refused in ["GET/y", "GET/a/1", "GET/a/1/c/d", "POST/z"] {
            assert!(!grants(&compiled, refused), "{refused}");
        }
        assert!(!compiled.narrowed.is_empty());
        // A path holding an IAM wildcard, or spelled oddly, is not granted even so.
        for request in ["GET/z*", "GET/z?", "GET/z/", "GET/z%41"] {
            let compiled = compile(&routes, None, &arn(request));
            assert!(!grants(&compiled, request), "{request}");
        }
    }

    #[test]
    fn paths_a_widened_pattern_could_match_are_granted_by_no_glob() {
        let routes = table(
            &[
                ("/files/{*rest}", "public"),
                ("/files/v{version}", "deny"),
                ("/export/all*", "public"),
            ],
            "deny",
        );
        let compiled = compile(&routes, None, &arn("GET/files/a/b"));
        assert!(grants(&compiled, "GET/files/a/b"));
        assert!(grants(&compiled, "GET/files/x/y/z"));
        for refused in [
            "GET/files/v2",
            "GET/files/other",
            "GET/export/all*",
            "GET/export/all-users",
            "GET/export/all/x",
        ] {
            assert!(!grants(&compiled, refused), "{refused}");
        }
        for resource in compiled
            .document
            .allow
            .iter()
            .chain(&compiled.document.deny)
        {
            assert!(!resource.contains("all"), "{resource}");
        }
    }

    #[test]
    fn a_table_too_deep_to_model_grants_only_the_request_answered() {
        let deep: String = (0..=DEPTH_LIMIT).map(|n| format!("/s{n}")).collect();
        let routes = table(&[(&deep, "public"), ("/{*rest}", "public")], "deny");
        let compiled = compile(&routes, None, &arn("GET/a/b"));
        assert!(grants(&compiled, "GET/a/b"));
        assert!(!grants(&compiled, "GET/a/c"));
        assert_eq!(compiled.document.allow.len(), 1);
    }

    #[test]
    fn odd_spellings_refused_for_any_method_are_those_refused_per_method() {
        let paths = [
            "/",
            "/a",
            "/a/",
            "//",
            "/a//b",
            "/%41",
            "/a/%2F",
            "/.",
            "/..",
            "/a/.",
            "/a/..",
            "/./a",
            "/a/../b",
            "/a.b",
            "/.well-known/x",
            "/a/b/",
            "/..a",
            "/a.",
            "/a\\b",
            "/a#b",
            "/a ",
            "/a b",
        ];
        for method in &METHODS {
            for path in paths {
                let text = format!("{method}{path}");
                let per_method = ODD_SPELLINGS
                    .iter()
                    .any(|odd| glob_matches(&format!("{method}{odd}"), &text));
                let any_method = ODD_SPELLINGS_ANY_METHOD
                    .iter()
                    .any(|odd| glob_matches(odd, &text));
                assert_eq!(any_method, per_method, "{text}");
            }
        }
    }

    #[test]
    fn an_empty_document_denies_everything_explicitly() {
        let json = PolicyDocument::default().to_json();
        assert_eq!(json["Statement"][0]["Effect"], "Deny");
        assert_eq!(json["Statement"][0]["Resource"][0], "*");
    }
}
