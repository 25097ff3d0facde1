//! Cedar policies evaluated in-process, with the entities Amazon Verified Permissions (AVP)
//! builds from Cognito tokens (feature `cedar`).
//!
//! A route opts in with the `cedar` atom (`require = "cedar"`, `"authenticated and cedar"`,
//! `"group:admin or cedar"`); the atom holds when the Cedar policies allow the request. It may
//! not appear under `not`, so a Cedar denial or error never lets a request in.
//!
//! Each request becomes one Cedar request, as AWS's Express integration
//! (`@cedar-policy/cedar-authorization`) and AVP shape it:
//!
//! - **principal**: `NS::User::"<user pool id>|<sub>"`, its parents `NS::UserGroup::"<user pool
//!   id>|<group>"` (one per `cognito:groups` value); id-token claims are its attributes under
//!   their own names (`principal["cognito:username"]`, `principal["custom:tenant"]`,
//!   `principal.email`); see the table in `entities` for every rule;
//! - **action**: `NS::Action::"<method> <route pattern>"` with the method in lower case, as AWS's
//!   schema generator names operations without an `operationId` (`get /reports/{id}`), or the
//!   name given for the route ([`CedarConfig::action`], `[cedar.actions]`);
//! - **resource**: `NS::Application::"NS"`, or the entity the route's resource loader returns
//!   (see [`ResourceLoader`]);
//! - **context**: `pathParameters` (strings) and `queryStringParameters` (a string, or a set of
//!   strings for a parameter sent more than once), and for access tokens `token` with every
//!   claim (`scope` as a set: `context.token.scope.contains("api/read")`).
//!
//! Policies and the schema are loaded and validated strictly when the configuration is built:
//! a policy that does not type-check is an error with its file, line and column. At request
//! time, an error in any policy denies (Cedar itself would skip the erroring policy, which for
//! a `forbid` would allow), and so does an action the schema does not declare. A denial is 403
//! `forbidden`; the determining policy ids go to `tracing` (target `cognito_authz::cedar`) and
//! to the CLI's `check`, never into the response.
//!
//! Entities are built once per verified token and kept with it (so a token from the
//! verified-token cache reuses them).

mod entities;
mod eval;
pub(crate) mod file;
pub(crate) mod hooks;
mod load;
mod names;
pub mod schema_gen;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use cedar_policy;
use cedar_policy::{Entity, EntityUid, PolicySet, Schema};
use http::Method;

pub(crate) use entities::EntitySlot;
pub use eval::CedarDecision;
use load::Source;
use names::Names;

use crate::policy::routes::RouteTable;
use crate::verify::claims::VerifiedToken;

/// A Cedar configuration problem: where (file, 1-based line and column, when known) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", location(file.as_deref(), *line, *column))]
pub struct CedarError {
    /// The policy or schema file, when the problem is in one.
    pub file: Option<String>,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

fn location(file: Option<&str>, line: usize, column: usize) -> String {
    match (file, line) {
        (Some(file), 0) => format!("{file}: "),
        (Some(file), line) => format!("{file}:{line}:{column}: "),
        (None, _) => String::new(),
    }
}

impl CedarError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            file: None,
            line: 0,
            column: 0,
            message: message.into(),
        }
    }

    pub(crate) fn in_file(file: &str, message: String) -> Self {
        Self {
            file: Some(file.to_owned()),
            line: 0,
            column: 0,
            message,
        }
    }
}

/// What a resource loader is given: the request's method, route, path and query parameters
/// (percent-decoded) and the verified token.
#[derive(Debug, Clone)]
pub struct ResourceRequest {
    pub(crate) method: Method,
    pub(crate) route: Arc<str>,
    pub(crate) path_parameters: Vec<(String, String)>,
    pub(crate) query_parameters: Vec<(String, String)>,
    pub(crate) token: Arc<VerifiedToken>,
    pub(crate) principal: EntityUid,
    pub(crate) names: Arc<Names>,
}

impl ResourceRequest {
    /// The request method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The matched route pattern (`/reports/{id}`).
    pub fn route(&self) -> &str {
        &self.route
    }

    /// The value of path parameter `name` (`id` for `/reports/{id}`).
    pub fn path_parameter(&self, name: &str) -> Option<&str> {
        self.path_parameters
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every path parameter, in pattern order.
    pub fn path_parameters(&self) -> &[(String, String)] {
        &self.path_parameters
    }

    /// Every query parameter, in request order (repeated names repeat).
    pub fn query_parameters(&self) -> &[(String, String)] {
        &self.query_parameters
    }

    /// The verified token.
    pub fn token(&self) -> &Arc<VerifiedToken> {
        &self.token
    }

    /// The principal of the request (`NS::User::"<pool>|<sub>"`), e.g. for an `owner`
    /// attribute.
    pub fn principal(&self) -> &EntityUid {
        &self.principal
    }

    /// `NS::TYPE::"id"` (a type written with `::` is taken as already qualified), e.g. the
    /// resource's own uid or a tenant parent.
    ///
    /// # Errors
    /// `type_name` is not a Cedar type name.
    pub fn uid(&self, type_name: &str, id: &str) -> Result<EntityUid, ResourceError> {
        self.names
            .uid(type_name, id)
            .map_err(|error| ResourceError::new(error.message))
    }
}

impl ResourceRequest {
    /// The principal-type uid of user `sub` of the token's pool (`NS::User::"<pool>|<sub>"`),
    /// e.g. a report's owner as the application stores it.
    ///
    /// # Errors
    /// Never for the configured names (they were checked at start-up).
    pub fn user(&self, sub: &str) -> Result<EntityUid, ResourceError> {
        let prefix = entities::entity_prefix(&self.token);
        self.uid(&self.names.principal_type, &format!("{prefix}|{sub}"))
    }

    /// Starts the entity `NS::TYPE::"id"` the loader returns.
    ///
    /// # Errors
    /// `type_name` is not a Cedar type name.
    pub fn entity(&self, type_name: &str, id: &str) -> Result<ResourceEntity, ResourceError> {
        Ok(ResourceEntity {
            uid: self.uid(type_name, id)?,
            attributes: HashMap::new(),
            parents: HashSet::new(),
        })
    }
}

/// A resource entity being built: its attributes and parents.
#[derive(Debug, Clone)]
#[must_use]
pub struct ResourceEntity {
    uid: EntityUid,
    attributes: HashMap<String, cedar_policy::RestrictedExpression>,
    parents: HashSet<EntityUid>,
}

impl ResourceEntity {
    /// An attribute holding another entity (e.g. `owner`, from [`ResourceRequest::user`]).
    pub fn entity_attribute(mut self, name: impl Into<String>, uid: EntityUid) -> Self {
        self.attributes.insert(
            name.into(),
            cedar_policy::RestrictedExpression::new_entity_uid(uid),
        );
        self
    }

    /// A string attribute.
    pub fn string_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(
            name.into(),
            cedar_policy::RestrictedExpression::new_string(value.into()),
        );
        self
    }

    /// Any attribute.
    pub fn attribute(
        mut self,
        name: impl Into<String>,
        value: cedar_policy::RestrictedExpression,
    ) -> Self {
        self.attributes.insert(name.into(), value);
        self
    }

    /// A parent (`resource in Tenant::"acme"`).
    pub fn parent(mut self, uid: EntityUid) -> Self {
        self.parents.insert(uid);
        self
    }

    /// The entity.
    ///
    /// # Errors
    /// An attribute value Cedar refuses.
    pub fn build(self) -> Result<Entity, ResourceError> {
        Entity::new(self.uid, self.attributes, self.parents)
            .map_err(|error| ResourceError::new(error.to_string()))
    }
}

/// Why a resource loader produced no entity; the request is then denied with 403 `forbidden`
/// and the message goes to `tracing`, never to the response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ResourceError {
    message: String,
}

impl ResourceError {
    /// An error with a message for logs.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// The future a [`ResourceLoader`] returns.
pub type ResourceFuture = Pin<Box<dyn Future<Output = Result<Entity, ResourceError>> + Send>>;

/// Supplies a route's Cedar resource: given the path and query parameters and the token,
/// returns the entity with its attributes and parents (e.g. a report with its `owner` and
/// `tenant`). Registered per route on the authorizer
/// ([`AuthorizerBuilder::resource_loader`](crate::AuthorizerBuilder::resource_loader),
/// [`AuthorizerBuilder::resource_loader`](crate::AuthorizerBuilder::resource_loader)), so every
/// adapter uses it. Any `async` closure `Fn(ResourceRequest) -> Result<Entity, ResourceError>`
/// is one.
pub trait ResourceLoader: Send + Sync + 'static {
    /// Loads the resource of one request.
    fn load(&self, request: ResourceRequest) -> ResourceFuture;
}

impl<F, Fut> ResourceLoader for F
where
    F: Fn(ResourceRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Entity, ResourceError>> + Send + 'static,
{
    fn load(&self, request: ResourceRequest) -> ResourceFuture {
        Box::pin(self(request))
    }
}

/// Builds a [`Cedar`] set-up: policies, schema, entity type names and action names.
///
/// # Example
///
/// ```
/// use cognito_authz_core::cedar::CedarConfig;
/// let cedar = CedarConfig::new("Reports")
///     .schema_text(
///         "schema.cedarschema",
///         r#"namespace Reports {
///              entity UserGroup;
///              entity User in [UserGroup];
///              entity Application;
///              action "get /reports" appliesTo { principal: User, resource: Application };
///            }"#,
///     )
///     .policies_text(
///         "policies.cedar",
///         r#"permit(principal in Reports::UserGroup::"us-east-1_Example1|readers",
///                   action == Reports::Action::"get /reports", resource);"#,
///     )
///     .build()?;
/// assert_eq!(cedar.policy_ids(), ["policies.cedar#0"]);
/// # Ok::<(), cognito_authz_core::cedar::CedarError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct CedarConfig {
    namespace: String,
    principal_type: String,
    group_type: String,
    application_type: String,
    schema: Option<SourceSpec>,
    policies: Vec<SourceSpec>,
    actions: Vec<(Method, String, String)>,
}

#[derive(Debug, Clone)]
enum SourceSpec {
    File(PathBuf),
    Folder(PathBuf),
    Text(String, String),
}

impl CedarConfig {
    /// A set-up in namespace `namespace` (AVP's types are namespaced, as is what AWS's schema
    /// generator writes). Entity types default to `User`, `UserGroup` and `Application`, the
    /// names AWS's generator uses.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            principal_type: "User".to_owned(),
            group_type: "UserGroup".to_owned(),
            application_type: "Application".to_owned(),
            schema: None,
            policies: Vec::new(),
            actions: Vec::new(),
        }
    }

    /// The principal's entity type (default `User`; relative to the namespace unless it has
    /// `::`), as set on the AVP identity source.
    pub fn principal_type(mut self, name: impl Into<String>) -> Self {
        self.principal_type = name.into();
        self
    }

    /// The groups' entity type (default `UserGroup`).
    pub fn group_type(mut self, name: impl Into<String>) -> Self {
        self.group_type = name.into();
        self
    }

    /// The default resource's entity type (default `Application`; its id is the namespace).
    pub fn application_type(mut self, name: impl Into<String>) -> Self {
        self.application_type = name.into();
        self
    }

    /// The schema file (required): Cedar schema format, or JSON when it starts with `{`.
    pub fn schema_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.schema = Some(SourceSpec::File(path.into()));
        self
    }

    /// The schema as text, `label` naming it in errors.
    pub fn schema_text(mut self, label: impl Into<String>, text: impl Into<String>) -> Self {
        self.schema = Some(SourceSpec::Text(label.into(), text.into()));
        self
    }

    /// A policy file (may be called several times).
    pub fn policies_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.policies.push(SourceSpec::File(path.into()));
        self
    }

    /// Every `.cedar` file of a folder, in name order.
    pub fn policies_folder(mut self, path: impl Into<PathBuf>) -> Self {
        self.policies.push(SourceSpec::Folder(path.into()));
        self
    }

    /// Policies as text, `label` naming them in errors and policy ids.
    pub fn policies_text(mut self, label: impl Into<String>, text: impl Into<String>) -> Self {
        self.policies
            .push(SourceSpec::Text(label.into(), text.into()));
        self
    }

    /// The action name for `method` on route `pattern` (e.g. an OpenAPI `operationId`,
    /// which AWS's generator uses as the action name), instead of `"<method> <pattern>"`.
    pub fn action(
        mut self,
        method: Method,
        pattern: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        self.actions.push((method, pattern.into(), name.into()));
        self
    }

    /// Loads and strictly validates everything.
    ///
    /// # Errors
    /// An unreadable file, a policy or schema that does not parse, a policy that does not
    /// validate against the schema, a template, a duplicate policy id, or a bad type name;
    /// located by file, line and column where the text says.
    pub fn build(self) -> Result<Cedar, CedarError> {
        let names = Names {
            namespace: self.namespace.clone(),
            principal_type: self.principal_type,
            group_type: self.group_type,
            application_type: self.application_type,
        };
        if self.namespace.is_empty() {
            return Err(CedarError::new("the Cedar namespace must not be empty"));
        }
        // Every type name must parse before a request needs it.
        names.type_name(&names.principal_type)?;
        names.type_name(&names.group_type)?;
        names.application_uid()?;
        let schema_source = match self.schema {
            Some(spec) => spec.sources()?.remove(0),
            None => {
                return Err(CedarError::new(
                    "a Cedar schema is required (policies are validated against it)",
                ));
            }
        };
        let schema = load::schema(&schema_source)?;
        let mut sources = Vec::new();
        for spec in &self.policies {
            sources.extend(spec.sources()?);
        }
        if sources.is_empty() {
            return Err(CedarError::new("no Cedar policy file or folder given"));
        }
        let (policies, origin) = load::policies(&sources)?;
        load::validate(&schema, &policies, &sources, &origin)?;
        let declared: HashSet<EntityUid> = schema.actions().cloned().collect();
        let mut actions = HashMap::new();
        for (method, pattern, name) in self.actions {
            let uid = names.action_uid(&name)?;
            if !declared.contains(&uid) {
                return Err(CedarError::new(format!(
                    "action {name:?} (for {method} {pattern}) is not declared in the schema"
                )));
            }
            actions.insert((method, pattern), name);
        }
        let application = names.application_uid()?;
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Ok(Cedar {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                names: Arc::new(names),
                schema,
                policies,
                declared,
                actions,
                authorizer: cedar_policy::Authorizer::new(),
                application,
            }),
            loaders: Arc::new(HashMap::new()),
            matchers: Arc::new(HashMap::new()),
            action_uids: Arc::new(HashMap::new()),
        })
    }
}

impl SourceSpec {
    fn sources(&self) -> Result<Vec<Source>, CedarError> {
        match self {
            SourceSpec::File(path) => Ok(vec![Source::read(path)?]),
            SourceSpec::Folder(path) => load::folder(path)?
                .iter()
                .map(|file| Source::read(file))
                .collect(),
            SourceSpec::Text(label, text) => Ok(vec![Source {
                label: label.clone(),
                text: text.clone(),
            }]),
        }
    }
}

/// Loaded, validated Cedar policies with their schema and names; decides the `cedar` atom.
/// Cheap to clone.
#[derive(Clone)]
pub struct Cedar {
    shared: Arc<Shared>,
    loaders: Arc<HashMap<String, Arc<dyn ResourceLoader>>>,
    /// Path-parameter readers per route pattern, made when the authorizer is built.
    matchers: Arc<HashMap<String, matchit::Router<()>>>,
    /// The action of each Cedar route and method, parsed when the authorizer is built
    /// (parsing a Cedar name costs more than the whole decision); the schema declares each.
    action_uids: Arc<HashMap<(Method, String), (String, EntityUid)>>,
}

struct Shared {
    id: u64,
    names: Arc<Names>,
    schema: Schema,
    policies: PolicySet,
    declared: HashSet<EntityUid>,
    actions: HashMap<(Method, String), String>,
    authorizer: cedar_policy::Authorizer,
    /// The default resource, `NS::Application::"NS"`.
    application: EntityUid,
}

impl fmt::Debug for Cedar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cedar")
            .field("namespace", &self.shared.names.namespace)
            .field("policies", &self.policy_ids())
            .field("resource_loaders", &self.loaders.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Cedar {
    /// The ids of the loaded policies, sorted.
    pub fn policy_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .shared
            .policies
            .policies()
            .map(|policy| policy.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.shared.names.namespace
    }

    /// The loaded policy set.
    pub fn policies(&self) -> &PolicySet {
        &self.shared.policies
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.shared.schema
    }

    /// The action name for `method` on route `pattern`: the configured one, else
    /// `"<method in lower case> <pattern>"`.
    pub fn action_name(&self, method: &Method, pattern: &str) -> String {
        match self
            .shared
            .actions
            .get(&(method.clone(), pattern.to_owned()))
        {
            Some(name) => name.clone(),
            None => format!("{} {pattern}", method.as_str().to_ascii_lowercase()),
        }
    }

    /// The entities and context a token contributes, as JSON (`cognito-authz cedar
    /// entities` prints it): `{"principal": {"type", "id"}, "entities": [...], "context": {...}}`.
    ///
    /// # Errors
    /// The token's claims cannot be made into entities (e.g. an id Cedar refuses).
    pub fn entities_json(&self, token: &VerifiedToken) -> Result<serde_json::Value, CedarError> {
        let built = entities::build(self.shared.id, &self.shared.names, token)?;
        entities::to_json(&built, token)
    }

    /// Registers the resource loader of the route with pattern `pattern`.
    pub(crate) fn with_resource_loader(
        mut self,
        pattern: impl Into<String>,
        loader: Arc<dyn ResourceLoader>,
    ) -> Self {
        Arc::make_mut(&mut self.loaders).insert(pattern.into(), loader);
        self
    }

    /// Checks the set-up against the route table and prepares path-parameter readers: the
    /// `unmatched` default may not use `cedar`; every resource loader and action name must
    /// belong to a route that uses it; a route's action for each method it lists must be
    /// declared in the schema.
    pub(crate) fn prepare(mut self, routes: &RouteTable) -> Result<Self, String> {
        if routes.unmatched().uses_cedar() {
            return Err(
                "defaults.unmatched may not use `cedar` (a Cedar action needs a route)".to_owned(),
            );
        }
        let cedar_routes: Vec<_> = routes
            .routes()
            .iter()
            .filter(|route| route.policy().uses_cedar())
            .collect();
        for pattern in self.loaders.keys() {
            if !cedar_routes.iter().any(|route| route.pattern() == pattern) {
                return Err(format!(
                    "a resource loader is registered for {pattern:?}, which is no route whose policy uses `cedar`"
                ));
            }
        }
        for (method, pattern) in self.shared.actions.keys() {
            if !cedar_routes.iter().any(|route| {
                route.pattern() == pattern
                    && route
                        .methods()
                        .is_none_or(|methods| methods.contains(method))
            }) {
                return Err(format!(
                    "a Cedar action name is given for {method} {pattern}, which is no route whose policy uses `cedar`"
                ));
            }
        }
        let mut matchers = HashMap::new();
        let mut action_uids = HashMap::new();
        for route in &cedar_routes {
            if let Some(methods) = route.methods() {
                for method in methods {
                    let name = self.action_name(method, route.pattern());
                    let uid = self.shared.names.action_uid(&name).map_err(|e| e.message)?;
                    if !self.shared.declared.contains(&uid) {
                        return Err(format!(
                            "route {:?}: Cedar action {name:?} is not declared in the schema",
                            route.pattern()
                        ));
                    }
                    action_uids.insert((method.clone(), route.pattern().to_owned()), (name, uid));
                }
            } else {
                // Any method: keep the declared actions of the standard ones; others are
                // looked up (and denied unless declared) per request.
                for method in crate::policy::routes::STANDARD_METHODS {
                    let name = self.action_name(&method, route.pattern());
                    if let Ok(uid) = self.shared.names.action_uid(&name)
                        && self.shared.declared.contains(&uid)
                    {
                        action_uids.insert((method, route.pattern().to_owned()), (name, uid));
                    }
                }
            }
            if !matchers.contains_key(route.pattern()) {
                let mut router = matchit::Router::new();
                router
                    .insert(route.pattern(), ())
                    .map_err(|error| format!("route {:?}: {error}", route.pattern()))?;
                matchers.insert(route.pattern().to_owned(), router);
            }
        }
        self.matchers = Arc::new(matchers);
        self.action_uids = Arc::new(action_uids);
        Ok(self)
    }
}

/// Loads a `[cedar]` section's files relative to the policy file's folder.
pub(crate) fn resolve(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}
