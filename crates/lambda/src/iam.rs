//! IAM policies for REST API authorizers: the `methodArn` grammar, the one-request policy, and
//! the cache-safe policy compiled from the whole route table for one principal.
//!
//! API Gateway evaluates the returned policy against the `methodArn` of the request, and with
//! the authorizer cache on, against the `methodArn` of every later request carrying the same
//! identity, until the cache entry expires. Resource ARNs match with IAM's wildcards: `*` any
//! run of characters (`/` included), `?` one character; an explicit `Deny` wins over any
//! `Allow`; no matching `Allow` is a denial.
//!
//! The cache-safe compiler walks the route table: one representative path for every way a
//! path can meet the table's patterns (each static segment a pattern names at that depth, and
//! one segment no pattern names), asks the route table and the principal's token what the
//! in-process layer decides for each, per method, and turns the answers into `Allow`
//! resources plus the `Deny` resources that cut back what an `Allow` wildcard covers too
//! widely. Where a table cannot be written exactly with IAM wildcards (a `*` cannot stop at
//! `/`), the compiler drops the `Allow` that would grant too much: the cached policy may then
//! refuse a request the layer allows, never the other way round, and it says so in the log.

use std::collections::BTreeSet;

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

/// A segment of a route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Text that must appear as is.
    Static(String),
    /// `{name}`: one non-empty segment; or text around a parameter, one segment too.
    Param,
    /// `{*name}`: one or more segments.
    CatchAll,
}

fn segments(pattern: &str) -> Vec<Segment> {
    pattern
        .split('/')
        .skip(1)
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            if segment.starts_with("{*") && segment.ends_with('}') {
                Segment::CatchAll
            } else if segment.contains('{') {
                Segment::Param
            } else {
                Segment::Static(segment.to_owned())
            }
        })
        .collect()
}

/// One token of a representative path: a static name, or a segment no pattern names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Name(String),
    Other,
}

/// Representative paths: every way a path can meet the table's patterns, as tokens.
fn representatives(patterns: &[Vec<Segment>]) -> BTreeSet<Vec<Token>> {
    let max_depth = patterns.iter().map(Vec::len).max().unwrap_or(0) + 2;
    let mut out = BTreeSet::new();
    out.insert(Vec::new());
    let alive: Vec<usize> = (0..patterns.len()).collect();
    let mut prefix = Vec::new();
    walk(patterns, &alive, &mut prefix, max_depth, &mut out);
    out
}

fn walk(
    patterns: &[Vec<Segment>],
    alive: &[usize],
    prefix: &mut Vec<Token>,
    max_depth: usize,
    out: &mut BTreeSet<Vec<Token>>,
) {
    let depth = prefix.len();
    if depth >= max_depth {
        return;
    }
    let mut choices: BTreeSet<Token> = BTreeSet::new();
    choices.insert(Token::Other);
    for &index in alive {
        if let Some(Segment::Static(name)) = patterns[index].get(depth) {
            choices.insert(Token::Name(name.clone()));
        }
    }
    for choice in choices {
        let next: Vec<usize> = alive
            .iter()
            .copied()
            .filter(|&index| {
                let pattern = &patterns[index];
                let caught = pattern[..depth.min(pattern.len())].contains(&Segment::CatchAll);
                caught
                    || match pattern.get(depth) {
                        Some(Segment::Static(name)) => choice == Token::Name(name.clone()),
                        Some(Segment::Param | Segment::CatchAll) => true,
                        None => false,
                    }
            })
            .collect();
        prefix.push(choice);
        out.insert(prefix.clone());
        if next.is_empty() {
            let mut deeper = prefix.clone();
            deeper.push(Token::Other);
            out.insert(deeper);
        } else {
            walk(patterns, &next, prefix, max_depth, out);
        }
        prefix.pop();
    }
}

/// A name no pattern uses, standing for "any other segment" when asking the route table.
fn other_name(patterns: &[Vec<Segment>]) -> String {
    let used: BTreeSet<&str> = patterns
        .iter()
        .flatten()
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

/// The IAM glob of a representative: each "other" segment becomes `*`.
fn glob(tokens: &[Token]) -> String {
    render(tokens, "*")
}

/// Spellings the in-process layer reads in several ways (percent-encoding, empty segments,
/// a trailing `/`, dot segments): the cache-safe policy refuses them outright.
/// (`?*/` ends in `/` after at least one more character, so the root `/` stays itself.)
pub(crate) const ODD_SPELLINGS: [&str; 7] =
    ["*%*", "*//*", "?*/", "*/./*", "*/../*", "*/.", "*/.."];

/// The result of compiling a route table for one principal.
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled {
    pub(crate) document: PolicyDocument,
    /// Representative requests (method, path) the layer allows but the policy refuses,
    /// because IAM wildcards cannot express the table exactly.
    pub(crate) narrowed: Vec<(Method, String)>,
}

/// Compiles the route table for the principal holding `token` (or none) into a policy that
/// decides every request of the API as the in-process layer would, within `arn`'s API and
/// stage.
pub(crate) fn compile(
    routes: &RouteTable,
    token: Option<&VerifiedToken>,
    arn: &MethodArn,
) -> Compiled {
    let patterns: Vec<Vec<Segment>> = routes
        .routes()
        .iter()
        .map(|route| segments(route.pattern()))
        .collect();
    let reps = representatives(&patterns);
    let other = other_name(&patterns);
    let mut compiled = Compiled::default();
    for method in &METHODS {
        let decided: Vec<(String, String, bool)> = reps
            .iter()
            .map(|tokens| {
                let path = render(tokens, &other);
                let allowed = layer_allows(routes, token, method, &path);
                (path, glob(tokens), allowed)
            })
            .collect();
        let mut allow: Vec<String> = Vec::new();
        for (_, glob, allowed) in &decided {
            if *allowed && !allow.contains(glob) {
                allow.push(glob.clone());
            }
        }
        // A Deny is kept only when it refuses no allowed representative.
        let mut deny: Vec<String> = ODD_SPELLINGS.iter().map(|s| (*s).to_owned()).collect();
        for (_, glob, allowed) in &decided {
            if !allowed
                && !deny.contains(glob)
                && !decided
                    .iter()
                    .any(|(path, _, ok)| *ok && glob_matches(glob, path))
            {
                deny.push(glob.clone());
            }
        }
        // A denied representative still let through by an Allow: drop those Allows.
        for (path, _, allowed) in &decided {
            if !allowed && !deny.iter().any(|glob| glob_matches(glob, path)) {
                allow.retain(|glob| !glob_matches(glob, path));
            }
        }
        for (path, _, allowed) in &decided {
            if *allowed && !allow.iter().any(|glob| glob_matches(glob, path)) {
                compiled.narrowed.push((method.clone(), path.clone()));
            }
        }
        // Denies that cut nothing out of an Allow are dead weight.
        deny.retain(|glob| {
            ODD_SPELLINGS.contains(&glob.as_str())
                || decided.iter().any(|(path, _, _)| {
                    glob_matches(glob, path) && allow.iter().any(|a| glob_matches(a, path))
                })
        });
        if allow.is_empty() {
            continue;
        }
        let name = method.as_str();
        compiled
            .document
            .allow
            .extend(allow.iter().map(|glob| arn.resource(name, glob)));
        compiled
            .document
            .deny
            .extend(deny.iter().map(|glob| arn.resource(name, glob)));
    }
    compiled
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

    #[test]
    fn an_empty_document_denies_everything_explicitly() {
        let json = PolicyDocument::default().to_json();
        assert_eq!(json["Statement"][0]["Effect"], "Deny");
        assert_eq!(json["Statement"][0]["Resource"][0], "*");
    }
}
