//! [`AuthorizerBuilder`]: the one way to make an [`Authorizer`], from a policy file or from
//! code.

use std::path::PathBuf;

use http::Method;

use super::{Authorizer, CedarSetUp, Loaders, prepare_cedar};
use crate::edge::response::validate_realm;
use crate::edge::token_source::TokenSource;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::policy::file::{KeyFiles, PolicyFile};
use crate::policy::routes::{RouteTable, RouteTableBuilder};
use crate::policy::{Policy, PolicyError};
use crate::reload::ReloadSettings;
use crate::revocation::RevocationStore;
use crate::verify::Verifier;
use crate::verify::clock::{Clock, SharedClock};
use crate::verify::config::IssuerConfig;

/// Where the verifier and routes come from.
#[derive(Debug, Default)]
enum Source {
    #[default]
    None,
    /// A verifier built with [`Verifier::builder`]; routes given to this builder.
    Verifier(Verifier),
    /// A policy file to read.
    File(PathBuf),
    /// Policy-file text; relative `jwks_file` paths resolve against the folder.
    Text { text: String, base_dir: PathBuf },
    /// A policy file already read.
    Parsed(Box<PolicyFile>),
}

/// Builds an [`Authorizer`] from one of two sources:
///
/// - a **policy file** ([`policy_file`](Self::policy_file), [`policy_text`](Self::policy_text)
///   or an already parsed [`PolicyFile`] with [`parsed_policy_file`](Self::parsed_policy_file)):
///   issuers, token source, policies and routes come from the file; the verification settings
///   below override it (the CLI's `--now` and `--jwks-file`, caches, replacement issuers);
/// - a **verifier built in code** ([`verifier`](Self::verifier), from [`Verifier::builder`]),
///   with the routes, policies and token source given here.
///
/// Every setting has a secure default; see [`Authorizer`] for an example. Errors found in a
/// policy file carry its name, line and column.
#[derive(Debug)]
#[must_use]
pub struct AuthorizerBuilder {
    source: Source,
    routes: RouteTableBuilder,
    /// Whether routes or policies were given in code.
    code_routes: bool,
    table: Option<RouteTable>,
    token_source: Option<TokenSource>,
    realm: Option<String>,
    overrides: Overrides,
    cedar: CedarSetUp,
    loaders: Loaders,
}

/// Verification settings that override a policy file's.
#[derive(Debug, Default)]
struct Overrides {
    clock: Option<SharedClock>,
    verified_token_cache: Option<usize>,
    verified_token_cache_bytes: Option<usize>,
    max_token_bytes: Option<usize>,
    jwks_file: Option<PathBuf>,
    issuers: Option<Vec<IssuerConfig>>,
    revocation: Option<RevocationStore>,
}

impl Overrides {
    /// The first override set, by name, for the error when there is no file to override.
    fn first_set(&self) -> Option<&'static str> {
        [
            (self.clock.is_some(), "clock"),
            (self.verified_token_cache.is_some(), "verified_token_cache"),
            (
                self.verified_token_cache_bytes.is_some(),
                "verified_token_cache_bytes",
            ),
            (self.max_token_bytes.is_some(), "max_token_bytes"),
            (self.jwks_file.is_some(), "jwks_file"),
            (self.issuers.is_some(), "issuers"),
            (self.revocation.is_some(), "revocation_store"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }
}

impl Default for AuthorizerBuilder {
    fn default() -> Self {
        Self {
            source: Source::None,
            routes: RouteTable::builder(),
            code_routes: false,
            table: None,
            token_source: None,
            realm: None,
            overrides: Overrides::default(),
            cedar: CedarSetUp::default(),
            loaders: Loaders::default(),
        }
    }
}

impl AuthorizerBuilder {
    /// Reads everything from this TOML policy file; relative `jwks_file` paths resolve against
    /// its folder. Nothing is read until [`build`](Self::build).
    pub fn policy_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.source = Source::File(path.into());
        self
    }

    /// Reads everything from policy-file text (named `<string>` in errors); relative
    /// `jwks_file` paths resolve against `base_dir`.
    pub fn policy_text(mut self, text: impl Into<String>, base_dir: impl Into<PathBuf>) -> Self {
        self.source = Source::Text {
            text: text.into(),
            base_dir: base_dir.into(),
        };
        self
    }

    /// Uses a policy file already read with [`PolicyFile::load`] or [`PolicyFile::parse`].
    pub fn parsed_policy_file(mut self, file: PolicyFile) -> Self {
        self.source = Source::Parsed(Box::new(file));
        self
    }

    /// Verifies tokens with `verifier` (built with [`Verifier::builder`]); routes, policies
    /// and the token source are given to this builder.
    pub fn verifier(mut self, verifier: Verifier) -> Self {
        self.source = Source::Verifier(verifier);
        self
    }

    /// Where tokens are read from (default: the `Authorization` header). With a policy file,
    /// its `[token]` table says this.
    pub fn token_source(mut self, source: TokenSource) -> Self {
        self.token_source = Some(source);
        self
    }

    /// The `realm` of every challenge (default: none). Printable ASCII without `"` or `\`.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Defines a named policy (`policy:NAME`), as [`RouteTableBuilder::policy`] does.
    pub fn policy(self, name: impl Into<String>, policy: Policy) -> Self {
        self.code_routes(|routes| routes.policy(name, policy))
    }

    /// Adds a route for every method, as [`RouteTableBuilder::route`] does.
    pub fn route(self, pattern: impl Into<String>, policy: Policy) -> Self {
        self.code_routes(|routes| routes.route(pattern, policy))
    }

    /// Adds a route for the listed methods, as [`RouteTableBuilder::route_methods`] does.
    pub fn route_methods(
        self,
        methods: impl IntoIterator<Item = Method>,
        pattern: impl Into<String>,
        policy: Policy,
    ) -> Self {
        self.code_routes(|routes| routes.route_methods(methods, pattern, policy))
    }

    /// The policy for requests no route matches (default `deny`: 403 `forbidden`). With no
    /// routes, every request gets this policy.
    pub fn unmatched(self, policy: Policy) -> Self {
        self.code_routes(|routes| routes.unmatched(policy))
    }

    /// Routes and policies given in code go to one route table (and rule out a policy file).
    fn code_routes(mut self, add: impl FnOnce(RouteTableBuilder) -> RouteTableBuilder) -> Self {
        self.routes = add(self.routes);
        self.code_routes = true;
        self
    }

    /// Uses a route table built elsewhere (instead of `policy`/`route`/`unmatched` calls).
    pub fn route_table(mut self, table: RouteTable) -> Self {
        self.table = Some(table);
        self
    }

    /// Policy file only: the clock for `exp`/`nbf`/`iat` (default: the system clock; e.g.
    /// a `FixedClock` for the CLI's `--now`).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.overrides.clock = Some(SharedClock::new(clock));
        self
    }

    /// Policy file only: [`clock`](Self::clock) with a clock already shared.
    pub fn shared_clock(mut self, clock: SharedClock) -> Self {
        self.overrides.clock = Some(clock);
        self
    }

    /// Policy file only: keep up to `capacity` verified tokens (default: no cache; see
    /// [`VerifierBuilder::verified_token_cache`](crate::VerifierBuilder::verified_token_cache)).
    pub fn verified_token_cache(mut self, capacity: usize) -> Self {
        self.overrides.verified_token_cache = Some(capacity);
        self
    }

    /// Policy file only: bound the verified-token cache to this many heap bytes (see
    /// [`VerifierBuilder::verified_token_cache_bytes`](crate::VerifierBuilder::verified_token_cache_bytes)).
    pub fn verified_token_cache_bytes(mut self, bytes: usize) -> Self {
        self.overrides.verified_token_cache_bytes = Some(bytes);
        self
    }

    /// Policy file only: the longest token accepted (default 16 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.overrides.max_token_bytes = Some(bytes);
        self
    }

    /// Policy file only: read every issuer's keys from this static key file instead (no
    /// network). It is checked when the authorizer is built.
    pub fn jwks_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.overrides.jwks_file = Some(path.into());
        self
    }

    /// Policy file only: use these issuers instead of the file's `[[issuer]]` tables (whose
    /// key files are then not read), keeping the file's routes, policies and token source:
    /// e.g. a local test issuer in development, or a pool chosen at deploy time. `issuer:`
    /// atoms must name the replacements.
    pub fn issuers(mut self, issuers: impl IntoIterator<Item = IssuerConfig>) -> Self {
        self.overrides.issuers = Some(issuers.into_iter().collect());
        self
    }

    /// Policy file only: use this revocation store instead of the one the file's
    /// `[revocation]` section describes (e.g. one store shared by several authorizers).
    pub fn revocation_store(mut self, store: RevocationStore) -> Self {
        self.overrides.revocation = Some(store);
        self
    }

    /// The Cedar set-up that decides the routes' `cedar` atoms (with a policy file, it
    /// replaces the file's `[cedar]` section).
    #[cfg(feature = "cedar")]
    pub fn cedar(mut self, cedar: crate::cedar::Cedar) -> Self {
        self.cedar = Some(cedar);
        self
    }

    /// The Cedar resource loader of route `pattern` (whose policy uses `cedar`): it supplies
    /// the request's resource entity, whichever adapter serves the request.
    #[cfg(feature = "cedar")]
    pub fn resource_loader(
        mut self,
        pattern: impl Into<String>,
        loader: impl crate::cedar::ResourceLoader,
    ) -> Self {
        self.loaders
            .0
            .push((pattern.into(), std::sync::Arc::new(loader)));
        self
    }

    /// Validates and builds. Nothing is fetched.
    ///
    /// # Errors
    /// No source, or parts that do not go together (routes in code with a policy file,
    /// overrides without one); an invalid realm; a policy file that cannot be read or is
    /// invalid, or whose key files cannot be read (at the issuer's line); a route table error;
    /// an `issuer:` atom naming no configured issuer.
    pub fn build(self) -> Result<Authorizer, ConfigError> {
        let builder_error = |message: String| ConfigError::new(ConfigErrorKind::Builder, message);
        let file = match self.source {
            Source::None => {
                return Err(builder_error(
                    "an authorizer needs a verifier or a policy file".to_owned(),
                ));
            }
            Source::Verifier(verifier) => {
                if let Some(name) = self.overrides.first_set() {
                    return Err(builder_error(format!(
                        "`{name}` overrides a policy file; with a verifier built in code, set \
                         it on the verifier's builder"
                    )));
                }
                return from_code(
                    verifier,
                    self.routes,
                    self.table,
                    self.token_source,
                    self.realm,
                    (self.cedar, self.loaders),
                );
            }
            Source::File(path) => PolicyFile::load(path)?,
            Source::Text { text, base_dir } => PolicyFile::parse(&text, base_dir, "<string>")?,
            Source::Parsed(file) => *file,
        };
        if self.code_routes || self.table.is_some() || self.token_source.is_some() {
            return Err(builder_error(
                "routes, policies and the token source come from the policy file; give them \
                 in the file, or build the verifier in code"
                    .to_owned(),
            ));
        }
        from_file(file, self.overrides, self.realm, (self.cedar, self.loaders))
    }
}

fn from_code(
    verifier: Verifier,
    routes: RouteTableBuilder,
    table: Option<RouteTable>,
    token_source: Option<TokenSource>,
    realm: Option<String>,
    (cedar, loaders): (CedarSetUp, Loaders),
) -> Result<Authorizer, ConfigError> {
    if let Some(realm) = &realm {
        validate_realm(realm)?;
    }
    let routes = match table {
        Some(table) => table,
        None => routes
            .issuers(verifier.issuers().map(|issuer| issuer.name().to_owned()))
            .build()
            .map_err(|error| {
                ConfigError::new(ConfigErrorKind::Policy, error.to_string()).caused_by(error)
            })?,
    };
    check_issuer_names(&verifier, &routes)
        .map_err(|message| ConfigError::new(ConfigErrorKind::Policy, message))?;
    let cedar = prepare_cedar(cedar, &loaders, &routes)
        .map_err(|message| ConfigError::new(ConfigErrorKind::Policy, message))?;
    Ok(Authorizer::from_parts(
        verifier,
        routes,
        token_source.unwrap_or_default(),
        realm,
        cedar,
        ReloadSettings {
            loaders,
            ..ReloadSettings::default()
        },
    ))
}

/// Applies the overrides, reads key files (reporting problems at the issuer's line), and
/// builds the verifier with the sets read.
fn from_file(
    file: PolicyFile,
    overrides: Overrides,
    realm: Option<String>,
    (cedar, loaders): (CedarSetUp, Loaders),
) -> Result<Authorizer, ConfigError> {
    let key_files = if overrides.issuers.is_none() || overrides.jwks_file.is_some() {
        file.read_key_files(overrides.jwks_file.as_deref())?
    } else {
        KeyFiles::default()
    };
    if let Some(realm) = &realm {
        validate_realm(realm).map_err(|error| file.file_error(error.message().to_owned()))?;
    }
    // Issuer-level problems were reported at their lines above; what the verifier can still
    // refuse (e.g. an HTTP client that cannot be built) concerns the whole file.
    let file_level = file.file_error(String::new());
    // The section a store is built from, which a reload must not change (a store given to
    // the builder is used instead of the file's section, at start and on reload).
    let revocation_section = overrides
        .revocation
        .is_none()
        .then(|| file.revocation().cloned())
        .flatten();
    let revocation = crate::revocation::from_policy_file(
        &file,
        overrides.revocation,
        overrides.clock.clone().unwrap_or_default(),
    )?;
    let (mut issuers, token_source, routes, file_cedar) = file.into_parts();
    let cedar = cedar.or(file_cedar);
    let reload = ReloadSettings {
        issuers: overrides.issuers.clone(),
        jwks_file: overrides.jwks_file.clone(),
        loaders: loaders.clone(),
        revocation: revocation_section,
    };
    if let Some(replacements) = overrides.issuers {
        issuers = replacements;
    }
    let mut builder = Verifier::builder().issuers(key_files.hand_to(issuers));
    if let Some(clock) = overrides.clock {
        builder = builder.shared_clock(clock);
    }
    if let Some(capacity) = overrides.verified_token_cache {
        builder = builder.verified_token_cache(capacity);
    }
    if let Some(bytes) = overrides.verified_token_cache_bytes {
        builder = builder.verified_token_cache_bytes(bytes);
    }
    if let Some(bytes) = overrides.max_token_bytes {
        builder = builder.max_token_bytes(bytes);
    }
    if let Some(store) = revocation {
        builder = builder.revocation(store);
    }
    let verifier = builder
        .build()
        .map_err(|error| file_level.clone().with_message(error.message()))?;
    // The file's own issuers were checked with positions when it was parsed; this catches
    // `issuer:` atoms that no replacement issuer is named after.
    check_issuer_names(&verifier, &routes)
        .map_err(|message| file_level.clone().with_message(message))?;
    let cedar = prepare_cedar(cedar, &loaders, &routes)
        .map_err(|message| file_level.with_message(message))?;
    Ok(Authorizer::from_parts(
        verifier,
        routes,
        token_source,
        realm,
        cedar,
        reload,
    ))
}

/// Every `issuer:` atom of `routes` names one of `verifier`'s issuers.
pub(crate) fn check_issuer_names(verifier: &Verifier, routes: &RouteTable) -> Result<(), String> {
    let configured: Vec<&str> = verifier.issuers().map(IssuerConfig::name).collect();
    let policies = routes
        .routes()
        .iter()
        .map(|route| route.policy())
        .chain([routes.unmatched()]);
    for policy in policies {
        if let Some(name) = policy
            .issuer_names()
            .find(|name| !configured.contains(name))
        {
            return Err(PolicyError::UnknownIssuer {
                name: name.to_owned(),
                configured: configured.join(", "),
                column: None,
            }
            .to_string());
        }
    }
    Ok(())
}
