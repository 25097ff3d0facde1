//! OpenAPI 3.1 security from the route table: the security scheme of each issuer and each
//! operation's security requirement, so API docs say which route needs what.
//!
//! A route's requirement lists the scopes its policy asks for (its `scope:` atoms, as
//! alternatives where the policy says `or`); what OpenAPI cannot express — groups, clients,
//! claims, `token_use`, negations — is noted in the operation's `x-cognito-authz-policy`
//! extension, with the policy itself. No protected operation is documented as open: a `deny`
//! route, or one no token can satisfy, lists a token of any issuer as its requirement. Operations are looked up in the route table the way
//! requests are, so a document generated elsewhere (e.g. by `utoipa`) gets the requirement
//! of the route that guards each of its operations.
//!
//! ```
//! use cognito_authz_core::{OpenApiSecurity, PolicyFile};
//! let file = PolicyFile::parse(r#"
//!     [[issuer]]
//!     name = "main"
//!     user_pool_id = "us-east-1_Example1"
//!     client_ids = ["1example23456789"]
//!     token_use = "access"
//!
//!     [[route]]
//!     path = "/reports/{id}"
//!     methods = ["GET"]
//!     require = "scope:reports/read"
//! "#, ".", "policy.toml")?;
//! let document = OpenApiSecurity::new(file.issuers(), file.routes()).document("Reports", "1.0");
//! assert_eq!(
//!     document["paths"]["/reports/{id}"]["get"]["security"],
//!     serde_json::json!([{ "main": ["reports/read"] }])
//! );
//! assert_eq!(
//!     document["components"]["securitySchemes"]["main"]["openIdConnectUrl"],
//!     "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1/.well-known/openid-configuration"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use http::Method;
use serde_json::{Map, Value, json};

use crate::policy::routes::RouteTable;
use crate::policy::{Node, Policy};
use crate::verify::config::IssuerConfig;

/// The extension holding what a requirement cannot say (groups, claims, the policy itself).
pub const POLICY_EXTENSION: &str = "x-cognito-authz-policy";

/// The most alternative scope sets listed for one operation; a policy with more is documented
/// as "any token of the issuer" and its scopes are left to the extension.
const MAX_ALTERNATIVES: usize = 16;

/// The operations OpenAPI 3.1 names (a route without `methods` gets all of them).
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// How tokens are presented in the document's security schemes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SchemeStyle {
    /// OpenID Connect discovery at the issuer's `/.well-known/openid-configuration` (Cognito
    /// serves it for every pool). The default.
    #[default]
    OpenIdConnect,
    /// OAuth 2.0 flows at a Cognito domain (`https://<prefix>.auth.<region>.amazoncognito.com`
    /// or a custom domain): authorization code and client credentials, with every scope the
    /// routes name.
    OAuth2 {
        /// The domain's base URL, without a trailing slash.
        domain: String,
    },
    /// An HTTP bearer token in JWT format, with no discovery.
    Bearer,
}

/// Builds OpenAPI security from issuers and a route table (see the module docs).
#[derive(Debug, Clone)]
pub struct OpenApiSecurity {
    schemes: Vec<(String, String, Value)>,
    routes: RouteTable,
    style: SchemeStyle,
}

impl OpenApiSecurity {
    /// Security for these issuers (one scheme each, named after the issuer) and routes.
    pub fn new<'a>(
        issuers: impl IntoIterator<Item = &'a IssuerConfig>,
        routes: &RouteTable,
    ) -> Self {
        let mut schemes: Vec<(String, String, Value)> = Vec::new();
        for issuer in issuers {
            let iss = issuer.issuers().into_iter().next().unwrap_or_default();
            // Names that sanitize alike ("main pool", "main_pool") must stay two schemes, or
            // one issuer's discovery URL would stand for the other's tokens.
            let base = scheme_name(issuer.name());
            let mut name = base.clone();
            let mut suffix = 2;
            while schemes.iter().any(|(taken, _, _)| *taken == name) {
                name = format!("{base}_{suffix}");
                suffix += 1;
            }
            schemes.push((name, issuer.name().to_owned(), Value::String(iss)));
        }
        Self {
            schemes,
            routes: routes.clone(),
            style: SchemeStyle::default(),
        }
    }

    /// The security of an authorizer's current issuers and routes.
    pub fn from_authorizer(authorizer: &crate::Authorizer) -> Self {
        let verifier = authorizer.verifier();
        Self::new(verifier.issuers(), &authorizer.routes())
    }

    /// How tokens are presented (default [`SchemeStyle::OpenIdConnect`]).
    #[must_use]
    pub fn style(mut self, style: SchemeStyle) -> Self {
        self.style = style;
        self
    }

    /// A whole OpenAPI 3.1 document: one path per route (catch-alls as a single `{name}`
    /// parameter), its operations, and their security.
    pub fn document(&self, title: &str, version: &str) -> Value {
        let mut paths = Map::new();
        for route in self.routes.routes() {
            let (mut path, mut parameters) = openapi_path(route.pattern());
            // OpenAPI forbids two paths that differ only in parameter names (`/files/{id}` and a
            // catch-all's `/files/{rest}`, routes with other methods): the later route's
            // operations join the path already listed, under its parameter names.
            if let Some(listed) = paths
                .keys()
                .find(|listed| *listed != &path && same_template(listed, &path))
                .cloned()
            {
                for (parameter, name) in parameters.iter_mut().zip(parameter_names(&listed)) {
                    parameter["name"] = Value::String(name);
                }
                path = listed;
            }
            let item = paths
                .entry(path.clone())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .map(std::mem::take)
                .unwrap_or_default();
            let mut item = item;
            let (standard, other): (Vec<String>, Vec<String>) = match route.methods() {
                None => (
                    METHODS.iter().map(|m| (*m).to_owned()).collect(),
                    Vec::new(),
                ),
                Some(methods) => methods
                    .iter()
                    .map(|method| method.as_str().to_ascii_lowercase())
                    .partition(|method| METHODS.contains(&method.as_str())),
            };
            for method in standard {
                let mut operation = Map::new();
                if !parameters.is_empty() {
                    operation.insert("parameters".to_owned(), Value::Array(parameters.clone()));
                }
                operation.insert(
                    "responses".to_owned(),
                    json!({ "default": { "description": "The handler's answer" } }),
                );
                item.entry(method).or_insert(Value::Object(operation));
            }
            if !other.is_empty() {
                let listed = item
                    .entry("x-cognito-authz-methods".to_owned())
                    .or_insert_with(|| json!([]));
                if let Value::Array(listed) = listed {
                    listed.extend(other.into_iter().map(Value::String));
                }
            }
            paths.insert(path, Value::Object(item));
        }
        let mut document = json!({
            "openapi": "3.1.0",
            "info": { "title": title, "version": version },
            "paths": paths,
            "x-cognito-authz-unmatched": { "require": self.routes.unmatched().text() },
        });
        self.apply(&mut document);
        document
    }

    /// Adds the security schemes to `document` and, to each of its operations, the
    /// requirement of the routes that guard it (looked up as a request to that path would be,
    /// with each `{parameter}` standing for one segment), the denial responses, and the
    /// policy extension. Operations already carrying a `security` keep theirs.
    pub fn apply(&self, document: &mut Value) {
        let Some(root) = document.as_object_mut() else {
            return;
        };
        let schemes = self.security_schemes();
        let components = root
            .entry("components")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(components) = components {
            let target = components
                .entry("securitySchemes")
                .or_insert_with(|| json!({}));
            if let (Some(target), Value::Object(schemes)) = (target.as_object_mut(), schemes) {
                target.extend(schemes);
            }
        }
        let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) else {
            return;
        };
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            let sample = sample_path(path);
            for method in METHODS {
                let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) else {
                    continue;
                };
                let Ok(parsed) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                    continue;
                };
                self.apply_operation(&parsed, &sample, operation);
            }
        }
    }

    fn apply_operation(&self, method: &Method, sample: &str, operation: &mut Map<String, Value>) {
        let guards = self.routes.matches(method, sample.into());
        let policies: Vec<_> = guards.iter().map(|found| found.policy()).collect();
        let public = policies.iter().all(|policy| policy.is_public());
        let deny = policies.iter().any(|policy| policy.is_deny());
        let text: Vec<&str> = policies.iter().map(|policy| policy.text()).collect();
        let effective: Vec<Node> = policies
            .iter()
            .filter(|policy| !policy.is_public())
            .filter_map(|policy| policy.effective().parse::<Policy>().ok())
            .map(|policy| policy.node)
            .collect();
        let combined = match effective.len() {
            0 => Node::Public,
            1 => effective.into_iter().next().unwrap_or(Node::Public),
            _ => Node::And(effective),
        };
        let mut note = Map::new();
        note.insert("require".to_owned(), json!(text.join(" and ")));
        if let Some(pattern) = guards.primary().pattern() {
            note.insert("route".to_owned(), json!(pattern));
        } else {
            note.insert("route".to_owned(), Value::Null);
        }
        let mut atoms = Atoms::default();
        atoms.collect(&combined, false);
        atoms.write(&mut note);

        let responses = operation
            .entry("responses")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let mut responses = responses;
        // A requirement no client can meet has no OpenAPI form, and `security: []` (or none at
        // all) reads as "no credentials needed": a route that refuses every request lists the
        // least it would take, a token of any issuer; the extension says the rest.
        let any_token: Vec<Value> = self
            .schemes
            .iter()
            .map(|(scheme, _, _)| json!({ scheme.as_str(): [] }))
            .collect();
        if deny {
            note.insert("deny".to_owned(), json!(true));
            if !any_token.is_empty() {
                operation
                    .entry("security")
                    .or_insert(Value::Array(any_token));
            }
            responses.entry("403".to_owned()).or_insert_with(
                || json!({ "description": "Refused: the route denies every request" }),
            );
        } else if public {
            operation.entry("security").or_insert_with(|| json!([]));
        } else {
            let mut requirements = Vec::new();
            for (scheme, issuer, _) in &self.schemes {
                let possible = policies.iter().all(|policy| {
                    policy.satisfiable_by(issuer, Some(crate::TokenUse::Access))
                        || policy.satisfiable_by(issuer, Some(crate::TokenUse::Id))
                        || policy.satisfiable_by(issuer, None)
                });
                if !possible {
                    continue;
                }
                // The scopes a token of this issuer needs: its `issuer:` atoms decided, so an
                // `issuer:other or scope:x` does not waive `x` for this issuer's tokens.
                let alternatives = match scope_alternatives(&for_issuer(&combined, issuer)) {
                    Some(found) if found.len() <= MAX_ALTERNATIVES => found,
                    _ => {
                        note.insert("scopes_simplified".to_owned(), json!(true));
                        vec![Vec::new()]
                    }
                };
                for scopes in &alternatives {
                    requirements.push(json!({ scheme.as_str(): scopes }));
                }
            }
            if requirements.is_empty() {
                note.insert("satisfiable".to_owned(), json!(false));
                requirements = any_token;
            }
            if !requirements.is_empty() {
                operation
                    .entry("security")
                    .or_insert(Value::Array(requirements));
            }
            for (status, description) in [
                ("401", "No token, or a token that failed verification"),
                ("403", "The token does not satisfy the route's policy"),
                ("503", "The issuer's keys cannot be fetched"),
            ] {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| json!({ "description": description }));
            }
        }
        if responses.is_empty() {
            responses.insert(
                "default".to_owned(),
                json!({ "description": "The handler's answer" }),
            );
        }
        operation.insert("responses".to_owned(), Value::Object(responses));
        operation.insert(POLICY_EXTENSION.to_owned(), Value::Object(note));
    }

    /// The `securitySchemes` object: one scheme per issuer.
    pub fn security_schemes(&self) -> Value {
        let mut schemes = Map::new();
        let scopes = self.all_scopes();
        for (name, issuer, iss) in &self.schemes {
            let iss = iss.as_str().unwrap_or_default().trim_end_matches('/');
            let scheme = match &self.style {
                SchemeStyle::OpenIdConnect => json!({
                    "type": "openIdConnect",
                    "openIdConnectUrl": format!("{iss}/.well-known/openid-configuration"),
                    "description": format!("Tokens of issuer `{issuer}` ({iss})"),
                }),
                SchemeStyle::OAuth2 { domain } => {
                    let domain = domain.trim_end_matches('/');
                    let scopes: Map<String, Value> = scopes
                        .iter()
                        .map(|scope| (scope.clone(), json!(format!("Scope {scope}"))))
                        .collect();
                    json!({
                        "type": "oauth2",
                        "description": format!("Tokens of issuer `{issuer}` ({iss})"),
                        "flows": {
                            "authorizationCode": {
                                "authorizationUrl": format!("{domain}/oauth2/authorize"),
                                "tokenUrl": format!("{domain}/oauth2/token"),
                                "scopes": scopes,
                            },
                            "clientCredentials": {
                                "tokenUrl": format!("{domain}/oauth2/token"),
                                "scopes": scopes,
                            },
                        },
                    })
                }
                SchemeStyle::Bearer => json!({
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": format!("Tokens of issuer `{issuer}` ({iss})"),
                }),
            };
            schemes.insert(name.clone(), scheme);
        }
        Value::Object(schemes)
    }

    /// Every positive scope any route or the unmatched default asks for, in order of
    /// appearance.
    fn all_scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> = Vec::new();
        let policies = self
            .routes
            .routes()
            .iter()
            .map(|route| route.policy())
            .chain([self.routes.unmatched()]);
        for policy in policies {
            for scope in policy.required_scopes() {
                if !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
            }
        }
        scopes
    }
}

/// With feature `utoipa`: adds the route table's security to a utoipa document, as
/// [`OpenApiSecurity::apply`] does to JSON (schemes, each operation's requirement, denial
/// responses, the policy extension).
///
/// ```
/// # #[cfg(feature = "utoipa")] {
/// use cognito_authz_core::{OpenApiSecurity, PolicyFile};
/// use utoipa::Modify as _;
/// use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
/// use utoipa::openapi::{OpenApiBuilder, Response};
///
/// let file = PolicyFile::parse(r#"
///     [[issuer]]
///     name = "main"
///     user_pool_id = "us-east-1_Example1"
///     client_ids = ["1example23456789"]
///     token_use = "access"
///
///     [[route]]
///     path = "/reports"
///     require = "scope:reports/read"
/// "#, ".", "policy.toml").unwrap();
/// let operation = OperationBuilder::new().response("200", Response::new("The reports"));
/// let mut document = OpenApiBuilder::new()
///     .paths(PathsBuilder::new().path("/reports", PathItem::new(HttpMethod::Get, operation)))
///     .build();
/// OpenApiSecurity::new(file.issuers(), file.routes()).modify(&mut document);
/// let json = serde_json::to_value(&document).unwrap();
/// assert_eq!(json["paths"]["/reports"]["get"]["security"][0]["main"][0], "reports/read");
/// # }
/// ```
#[cfg(feature = "utoipa")]
impl utoipa::Modify for OpenApiSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut document = match serde_json::to_value(&*openapi) {
            Ok(document) => document,
            Err(error) => {
                tracing::warn!(%error, "cannot read the utoipa document; route security not added");
                return;
            }
        };
        self.apply(&mut document);
        match serde_json::from_value(document) {
            Ok(modified) => *openapi = modified,
            Err(error) => {
                tracing::warn!(%error, "cannot rebuild the utoipa document; route security not added");
            }
        }
    }
}

/// A component name OpenAPI accepts (`^[a-zA-Z0-9._-]+$`).
fn scheme_name(issuer: &str) -> String {
    let name: String = issuer
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "cognito".to_owned()
    } else {
        name
    }
}

/// A route pattern as an OpenAPI path and its path parameters (`{*rest}` → `{rest}`).
fn openapi_path(pattern: &str) -> (String, Vec<Value>) {
    let mut parameters = Vec::new();
    let mut path = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            path.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let raw = &after[..close];
        let catch_all = raw.starts_with('*');
        let name = raw.trim_start_matches('*');
        path.push('{');
        path.push_str(name);
        path.push('}');
        let description = if catch_all {
            "The rest of the path (one or more segments)"
        } else {
            "One path segment"
        };
        parameters.push(json!({
            "name": name,
            "in": "path",
            "required": true,
            "description": description,
            "schema": { "type": "string" },
        }));
        rest = &after[close + 1..];
    }
    path.push_str(rest);
    (path, parameters)
}

/// The parameter names of an OpenAPI path template, in order.
fn parameter_names(template: &str) -> Vec<String> {
    template
        .split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// Whether two OpenAPI path templates are the same path to OpenAPI (equal once every
/// parameter name is dropped).
fn same_template(left: &str, right: &str) -> bool {
    sample_path(left) == sample_path(right)
}

/// A request path that routes like the template: each `{parameter}` becomes one segment.
fn sample_path(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut inside = false;
    for c in template.chars() {
        match (c, inside) {
            ('{', false) => inside = true,
            ('}', true) => {
                inside = false;
                out.push_str("param");
            }
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

/// `node` for tokens of issuer `issuer`: each `issuer:` atom is decided (`authenticated` for
/// this issuer, `deny` for another).
fn for_issuer(node: &Node, issuer: &str) -> Node {
    match node {
        Node::Issuer(name) if name == issuer => Node::Authenticated,
        Node::Issuer(_) => Node::Deny,
        Node::Not(inner) => Node::Not(Box::new(for_issuer(inner, issuer))),
        Node::And(children) => Node::And(
            children
                .iter()
                .map(|child| for_issuer(child, issuer))
                .collect(),
        ),
        Node::Or(children) => Node::Or(
            children
                .iter()
                .map(|child| for_issuer(child, issuer))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The sets of scopes that satisfy the policy's scope part, each set one alternative
/// (non-scope atoms taken as satisfied, negations as requiring no scope). `None` when there
/// are too many alternatives to list.
fn scope_alternatives(node: &Node) -> Option<Vec<Vec<String>>> {
    let found = match node {
        Node::Scope(scope) => vec![vec![scope.clone()]],
        Node::Deny => Vec::new(),
        Node::And(children) => {
            let mut product = vec![Vec::new()];
            for child in children {
                let options = scope_alternatives(child)?;
                let mut next = Vec::new();
                for left in &product {
                    for right in &options {
                        let mut joined: Vec<String> = left.clone();
                        for scope in right {
                            if !joined.contains(scope) {
                                joined.push(scope.clone());
                            }
                        }
                        next.push(joined);
                    }
                }
                if next.len() > MAX_ALTERNATIVES * 4 {
                    return None;
                }
                product = next;
            }
            product
        }
        Node::Or(children) => {
            let mut all = Vec::new();
            for child in children {
                all.extend(scope_alternatives(child)?);
            }
            all
        }
        _ => vec![Vec::new()],
    };
    // An alternative that asks for more than another one adds nothing.
    let mut minimal: Vec<Vec<String>> = Vec::new();
    for candidate in &found {
        let covered = found.iter().any(|other| {
            other.len() < candidate.len() && other.iter().all(|scope| candidate.contains(scope))
        });
        let repeated = minimal.iter().any(|kept| {
            kept.len() == candidate.len() && kept.iter().all(|scope| candidate.contains(scope))
        });
        if !covered && !repeated {
            minimal.push(candidate.clone());
        }
    }
    Some(minimal)
}

/// The atoms of a policy, by kind, for the extension (`not ` before a negated one).
#[derive(Default)]
struct Atoms {
    scopes: Vec<String>,
    groups: Vec<String>,
    clients: Vec<String>,
    claims: Vec<String>,
    token_use: Vec<String>,
    issuers: Vec<String>,
    /// A Cedar decision is part of the policy.
    cedar: bool,
}

impl Atoms {
    fn collect(&mut self, node: &Node, negated: bool) {
        let push = |list: &mut Vec<String>, text: String| {
            let text = if negated { format!("not {text}") } else { text };
            if !list.contains(&text) {
                list.push(text);
            }
        };
        match node {
            Node::Scope(name) => push(&mut self.scopes, name.clone()),
            Node::Group(name) => push(&mut self.groups, name.clone()),
            Node::Client(id) => push(&mut self.clients, id.clone()),
            Node::Issuer(name) => push(&mut self.issuers, name.clone()),
            Node::TokenUse(kind) => push(&mut self.token_use, kind.as_str().to_owned()),
            Node::ClaimPresent(name) => push(&mut self.claims, name.clone()),
            Node::ClaimEquals(name, value) => push(&mut self.claims, format!("{name}={value}")),
            Node::Not(inner) => self.collect(inner, !negated),
            Node::And(children) | Node::Or(children) => {
                for child in children {
                    self.collect(child, negated);
                }
            }
            Node::Cedar => self.cedar = true,
            Node::Public | Node::Deny | Node::Authenticated | Node::Named(_) => {}
        }
    }

    fn write(self, note: &mut Map<String, Value>) {
        if self.cedar {
            note.insert("cedar".to_owned(), Value::Bool(true));
        }
        for (key, list) in [
            ("scopes", self.scopes),
            ("groups", self.groups),
            ("clients", self.clients),
            ("claims", self.claims),
            ("token_use", self.token_use),
            ("issuers", self.issuers),
        ] {
            if !list.is_empty() {
                note.insert(key.to_owned(), json!(list));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alternatives(policy: &str) -> Vec<Vec<String>> {
        let policy: Policy = policy.parse().expect("policy");
        scope_alternatives(&policy.node).expect("listable")
    }

    #[test]
    fn scope_alternatives_follow_and_and_or() {
        let cases: [(&str, Vec<Vec<&str>>); 6] = [
            ("scope:a", vec![vec!["a"]]),
            ("scope:a and scope:b", vec![vec!["a", "b"]]),
            ("scope:a or scope:b", vec![vec!["a"], vec!["b"]]),
            ("scope:a and (scope:b or group:x)", vec![vec!["a"]]),
            ("group:x and not scope:a", vec![vec![]]),
            (
                "(scope:a or scope:b) and scope:c",
                vec![vec!["a", "c"], vec!["b", "c"]],
            ),
        ];
        for (policy, expected) in cases {
            let expected: Vec<Vec<String>> = expected
                .into_iter()
                .map(|set| set.into_iter().map(str::to_owned).collect())
                .collect();
            assert_eq!(alternatives(policy), expected, "{policy}");
        }
    }

    #[test]
    fn patterns_become_openapi_paths_with_their_parameters() {
        let (path, parameters) = openapi_path("/files/{owner}/{*rest}");
        assert_eq!(path, "/files/{owner}/{rest}");
        assert_eq!(parameters.len(), 2);
        assert_eq!(parameters[1]["name"], "rest");
        assert_eq!(sample_path("/files/{owner}/{rest}"), "/files/param/param");
        assert_eq!(scheme_name("main pool"), "main_pool");
    }
}
