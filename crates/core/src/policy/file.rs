//! The TOML policy file: issuers, where tokens are read from, the default for
//! unmatched requests, named policies and routes. Unknown keys are errors, and every error
//! names the file, line and column (for a policy expression: where its string starts, plus the
//! column inside the expression).
//!
//! ```toml
//! [[issuer]]
//! name = "main"
//! user_pool_id = "us-east-1_Example1"   # or cognito_issuer = "…" or issuer = "…" (+ audiences)
//! client_ids = ["1example23456789"]      # or any_client = true
//! token_use = "access"                   # "id" | "access" | "any", required for Cognito
//! # replica_regions, jwks_url, jwks_file (relative to this file), leeway_secs, algorithms,
//! # allow_insecure_http (plain-HTTP keys from a non-loopback host: compose set-ups only)
//!
//! [token]
//! header = "authorization"               # default
//! # cookie = "__Host-id_token"
//! # allowed_origins = ["https://app.example.com"]   # cookie only: pages that may POST with it
//! # allow_same_site = false              # cookie only: Sec-Fetch-Site: same-site passes
//! # allow_missing_origin = false         # cookie only: no Sec-Fetch-Site/Origin/Referer passes
//!
//! [defaults]
//! unmatched = "deny"                     # default: 403 for requests no route matches
//! # extension_methods = ["PURGE"]        # non-standard methods routes may name
//!
//! [policies]
//! admin = "group:admin"
//!
//! [[route]]
//! path = "/admin/{*rest}"
//! methods = ["GET", "POST"]              # optional: all methods when absent
//! require = "policy:admin"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use http::Method;
use serde::Deserialize;
use toml::Spanned;

use crate::edge::token_source::{TokenSource, TokenSourceBuilder};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::jwks::{KeyFileError, KeySet};
use crate::policy::routes::{RouteError, RouteTable, STANDARD_METHODS};
use crate::policy::{Policy, PolicyError, PolicyParseError};
use crate::revocation::RevocationConfig;
use crate::revocation::config::RevocationEntry;
use crate::verify::claims::TokenUse;
use crate::verify::config::{AcceptedTokenUse, Algorithm, IssuerConfig};

/// A loaded and validated policy file: issuer configurations, token source and route table.
///
/// Key files are not read here; [`AuthorizerBuilder::build`](crate::AuthorizerBuilder::build)
/// reads them (after any `--jwks-file` override) and reports problems at the issuer's line.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    label: String,
    text: String,
    issuers: Vec<IssuerConfig>,
    issuer_spans: Vec<IssuerSpans>,
    token_source: TokenSource,
    routes: RouteTable,
    /// Where each route's `path` and the `unmatched` default are written, for warnings.
    route_spans: Vec<Range<usize>>,
    unmatched_span: Option<Range<usize>>,
    /// The `[revocation]` section, if any.
    revocation: Option<RevocationConfig>,
    /// The `[cedar]` section, loaded and validated.
    #[cfg(feature = "cedar")]
    cedar: Option<crate::cedar::Cedar>,
}

#[derive(Debug, Clone)]
struct IssuerSpans {
    table: Range<usize>,
    jwks_file: Option<Range<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    issuer: Vec<Spanned<IssuerEntry>>,
    #[serde(default)]
    token: Option<TokenEntry>,
    #[serde(default)]
    defaults: Option<DefaultsEntry>,
    #[serde(default)]
    policies: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    route: Vec<Spanned<RouteEntry>>,
    #[serde(default)]
    revocation: Option<Spanned<RevocationEntry>>,
    /// Cedar policies (read by the `cedar` feature's loader).
    #[serde(default)]
    cedar: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerEntry {
    name: Option<Spanned<String>>,
    user_pool_id: Option<Spanned<String>>,
    cognito_issuer: Option<Spanned<String>>,
    issuer: Option<Spanned<String>>,
    client_ids: Option<Vec<String>>,
    any_client: Option<bool>,
    audiences: Option<Vec<String>>,
    token_use: Option<Spanned<String>>,
    replica_regions: Option<Vec<String>>,
    jwks_url: Option<String>,
    jwks_file: Option<Spanned<String>>,
    allow_insecure_http: Option<bool>,
    leeway_secs: Option<u64>,
    algorithms: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    header: Option<Spanned<String>>,
    cookie: Option<Spanned<String>>,
    allowed_origins: Option<Vec<Spanned<String>>>,
    allow_same_site: Option<Spanned<bool>>,
    allow_missing_origin: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsEntry {
    unmatched: Option<Spanned<String>>,
    extension_methods: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    path: Spanned<String>,
    methods: Option<Spanned<Vec<Spanned<String>>>>,
    require: Spanned<String>,
}

impl PolicyFile {
    /// Reads and validates a policy file; relative `jwks_file` paths resolve against its folder.
    ///
    /// # Errors
    /// The file cannot be read, is not valid TOML, has unknown keys, or any issuer, policy or
    /// route is invalid.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let bytes = crate::bounded_read::read_file_bounded(path)
            .map_err(|error| Self::unreadable(path, error))?;
        Self::from_bytes(path, bytes)
    }

    /// The bytes read from the policy file at `path`, validated as [`PolicyFile::load`] does:
    /// UTF-8 or refused (never a lossy reading), relative `jwks_file` paths resolved against
    /// the file's folder.
    pub(crate) fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, ConfigError> {
        let text = String::from_utf8(bytes).map_err(|_| {
            let error = std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text");
            Self::unreadable(path, error)
        })?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        Self::parse(&text, base_dir, path.display().to_string())
    }

    /// The error of a policy file at `path` that cannot be read (or is not UTF-8).
    pub(crate) fn unreadable(path: &Path, error: std::io::Error) -> ConfigError {
        ConfigError::new(
            ConfigErrorKind::PolicyFile,
            format!("cannot read the policy file: {error}"),
        )
        .at(path.display().to_string(), 0, 0)
        .caused_by(error)
    }

    /// Validates policy-file text; `base_dir` resolves relative `jwks_file` paths and `label`
    /// names the text in errors.
    ///
    /// # Errors
    /// As [`PolicyFile::load`].
    ///
    /// # Example
    ///
    /// ```
    /// use cognito_authz_core::PolicyFile;
    /// let text = r#"
    /// [[issuer]]
    /// user_pool_id = "us-east-1_Example1"
    /// client_ids = ["1example23456789"]
    /// token_use = "access"
    ///
    /// [[route]]
    /// path = "/reports/{id}"
    /// require = "scope:reports/read and"
    /// "#;
    /// let error = PolicyFile::parse(text, ".", "policy.toml").unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "policy.toml:9:11: route \"/reports/{id}\" require: column 23: expected an atom after 'and'"
    /// );
    /// ```
    pub fn parse(
        text: &str,
        base_dir: impl AsRef<Path>,
        label: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        let label = label.into();
        let at = |span: Range<usize>, message: String| locate(&label, text, span.start, message);
        let document: Document = toml::from_str(text).map_err(|error| {
            let start = error.span().map_or(0, |span| span.start);
            locate(&label, text, start, error.message().to_owned())
        })?;

        let (issuers, issuer_spans) = issuers(&document.issuer, base_dir.as_ref(), &at)?;
        let token_source = token_source(document.token.as_ref(), &at)?;

        let mut policies: Vec<(&Spanned<String>, &Spanned<String>)> =
            document.policies.iter().collect();
        policies.sort_by_key(|(name, _)| name.span().start);
        let mut builder =
            RouteTable::builder().issuers(issuers.iter().map(|issuer| issuer.name().to_owned()));
        let extension_methods = extension_methods(document.defaults.as_ref(), &at)?;
        builder = builder.extension_methods(extension_methods.iter().cloned());
        for (name, expression) in &policies {
            let policy =
                parse_expression(expression, &format!("policy {:?}", name.get_ref()), &at)?;
            builder = builder.policy(name.get_ref().clone(), policy);
        }
        let unmatched = document
            .defaults
            .as_ref()
            .and_then(|d| d.unmatched.as_ref());
        if let Some(unmatched) = unmatched {
            builder = builder.unmatched(parse_expression(unmatched, "defaults.unmatched", &at)?);
        }
        for entry in &document.route {
            let route = entry.get_ref();
            let pattern = route.path.get_ref().clone();
            let policy =
                parse_expression(&route.require, &format!("route {pattern:?} require"), &at)?;
            builder = match &route.methods {
                None => builder.route(pattern, policy),
                Some(methods) => {
                    let mut parsed = Vec::new();
                    for method in methods.get_ref() {
                        parsed.push(
                            parse_method(method.get_ref(), &extension_methods)
                                .map_err(|message| at(method.span(), message))?,
                        );
                    }
                    builder.route_methods(parsed, pattern, policy)
                }
            };
        }
        let routes = builder
            .build()
            .map_err(|error| route_error_location(&error, &document, &policies, unmatched, &at))?;
        let revocation = match document.revocation {
            Some(section) => {
                let span = section.span();
                Some(
                    section
                        .into_inner()
                        .validate()
                        .map_err(|message| at(span, message))?,
                )
            }
            None => None,
        };
        #[cfg(feature = "cedar")]
        let cedar = match document.cedar {
            Some(section) => {
                let span = section.span();
                let loaded = crate::cedar::file::load(section.into_inner(), base_dir.as_ref())
                    .map_err(|(inside, message)| match inside {
                        Some(crate::cedar::CedarError {
                            file: Some(file),
                            line,
                            column,
                            message,
                        }) => ConfigError::new(ConfigErrorKind::PolicyFile, message)
                            .at(file, line, column),
                        _ => at(span, message),
                    })?;
                Some(loaded)
            }
            None => None,
        };
        #[cfg(not(feature = "cedar"))]
        if let Some(section) = &document.cedar {
            return Err(at(
                section.span(),
                "a [cedar] section needs cognito-authz built with the `cedar` feature".to_owned(),
            ));
        }
        // The store keeps every entry for at least the clock skew any issuer accepts, or a
        // revoked token would verify again in between.
        let mut revocation = revocation;
        if let Some(config) = &mut revocation {
            for issuer in &issuers {
                config.cover_leeway(issuer.leeway());
            }
        }
        Ok(Self {
            label,
            text: text.to_owned(),
            issuers,
            issuer_spans,
            token_source,
            routes,
            route_spans: document
                .route
                .iter()
                .map(|route| route.get_ref().path.span())
                .collect(),
            unmatched_span: unmatched.map(Spanned::span),
            revocation,
            #[cfg(feature = "cedar")]
            cedar,
        })
    }

    /// The file name used in errors.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The issuer configurations, in file order.
    pub fn issuers(&self) -> &[IssuerConfig] {
        &self.issuers
    }

    /// Where tokens are read from.
    pub fn token_source(&self) -> &TokenSource {
        &self.token_source
    }

    /// The compiled route table (with the `unmatched` default and named policies).
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// What loads but is probably a mistake, each located like an error (`policy lint`
    /// prints them): a permissive `defaults.unmatched` (`public` or `authenticated` lets
    /// requests no route names in, spellings the router reads differently included), and a
    /// route no token the configured issuers accept can satisfy (e.g. `token_use:id` where
    /// every issuer accepts only access tokens, or `scope:` on id tokens, which carry none).
    pub fn warnings(&self) -> Vec<ConfigError> {
        let mut warnings = Vec::new();
        let unmatched = self.routes.unmatched();
        if unmatched.is_public() || unmatched.effective() == "authenticated" {
            let start = self.unmatched_span.as_ref().map_or(0, |span| span.start);
            warnings.push(locate(
                &self.label,
                &self.text,
                start,
                format!(
                    "warning: defaults.unmatched = {:?} lets {} reach every path no route names; prefer the default, \"deny\", and a route for each path you serve",
                    unmatched.text(),
                    if unmatched.is_public() { "anyone" } else { "any signed-in user" }
                ),
            ));
        }
        let kinds: Vec<(&str, Option<TokenUse>)> = self
            .issuers
            .iter()
            .flat_map(|issuer| {
                let kinds: &[Option<TokenUse>] = match issuer.accepted_token_use() {
                    None => &[None],
                    Some(AcceptedTokenUse::Id) => &[Some(TokenUse::Id)],
                    Some(AcceptedTokenUse::Access) => &[Some(TokenUse::Access)],
                    Some(AcceptedTokenUse::Any) => &[Some(TokenUse::Id), Some(TokenUse::Access)],
                };
                kinds.iter().map(move |kind| (issuer.name(), *kind))
            })
            .collect();
        for (route, span) in self.routes.routes().iter().zip(&self.route_spans) {
            let policy = route.policy();
            if policy.is_deny()
                || kinds
                    .iter()
                    .any(|(issuer, kind)| policy.satisfiable_by(issuer, *kind))
            {
                continue;
            }
            let accepted: Vec<String> = self
                .issuers
                .iter()
                .map(|issuer| match issuer.accepted_token_use() {
                    Some(AcceptedTokenUse::Any) => {
                        format!("{}: id and access tokens", issuer.name())
                    }
                    Some(AcceptedTokenUse::Id) => format!("{}: id tokens", issuer.name()),
                    Some(AcceptedTokenUse::Access) => format!("{}: access tokens", issuer.name()),
                    None => format!("{}: OIDC tokens without token_use", issuer.name()),
                })
                .collect();
            warnings.push(locate(
                &self.label,
                &self.text,
                span.start,
                format!(
                    "warning: route {:?}: no token the configured issuers accept ({}) can satisfy {:?} (id tokens carry no scope)",
                    route.pattern(),
                    accepted.join("; "),
                    policy.effective()
                ),
            ));
        }
        warnings
    }

    /// An error located at the `index`-th issuer (or its `jwks_file` when `at_jwks_file`).
    pub(crate) fn issuer_error(
        &self,
        index: usize,
        at_jwks_file: bool,
        message: String,
    ) -> ConfigError {
        let start = self.issuer_spans.get(index).map_or(0, |spans| {
            spans
                .jwks_file
                .as_ref()
                .filter(|_| at_jwks_file)
                .unwrap_or(&spans.table)
                .start
        });
        locate(&self.label, &self.text, start, message)
    }

    /// An error about the file as a whole (line 1, column 1).
    pub(crate) fn file_error(&self, message: String) -> ConfigError {
        locate(&self.label, &self.text, 0, message)
    }

    /// The `[revocation]` section, if the file has one (none: tokens are never checked for
    /// revocation).
    pub fn revocation(&self) -> Option<&RevocationConfig> {
        self.revocation.as_ref()
    }

    /// The `[cedar]` section's policies, schema and names, if the file has one.
    #[cfg(feature = "cedar")]
    pub fn cedar(&self) -> Option<&crate::cedar::Cedar> {
        self.cedar.as_ref()
    }

    pub(crate) fn into_parts(
        self,
    ) -> (
        Vec<IssuerConfig>,
        TokenSource,
        RouteTable,
        crate::authorizer::CedarSetUp,
    ) {
        #[cfg(feature = "cedar")]
        let cedar = self.cedar;
        #[cfg(not(feature = "cedar"))]
        let cedar = None;
        (self.issuers, self.token_source, self.routes, cedar)
    }

    /// Reads each issuer's static key file (or `override_file`, once, for every issuer) and
    /// returns the issuers holding the sets read: a bad file is reported at its issuer's line,
    /// and a [`Verifier`](crate::Verifier) built from these issuers uses the sets instead of
    /// reading the files again.
    ///
    /// # Errors
    /// A key file that cannot be read or is not a JSON key set.
    pub fn load_key_files(
        &self,
        override_file: Option<&Path>,
    ) -> Result<Vec<IssuerConfig>, ConfigError> {
        Ok(self
            .read_key_files(override_file)?
            .hand_to(self.issuers.clone()))
    }

    /// Reads the key files of [`PolicyFile::load_key_files`], to hand to the issuers an
    /// authorizer serves (the file's own, or replacements).
    pub(crate) fn read_key_files(
        &self,
        override_file: Option<&Path>,
    ) -> Result<KeyFiles, ConfigError> {
        let read = |index: usize, path: &Path, overridden: bool| {
            let what = if overridden {
                "jwks file override"
            } else {
                "jwks_file"
            };
            let fail = |message: String| self.issuer_error(index, !overridden, message);
            KeySet::from_file(path).map_err(|error| match error {
                KeyFileError::Read(error) => {
                    fail(format!("cannot read {what} {}: {error}", path.display()))
                }
                error => fail(format!(
                    "{what} {} is not a JSON key set: {error}",
                    path.display()
                )),
            })
        };
        if let Some(path) = override_file {
            return Ok(KeyFiles {
                overriding: Some((path.to_path_buf(), read(0, path, true)?)),
                own: Vec::new(),
            });
        }
        let own = self
            .issuers
            .iter()
            .enumerate()
            .map(|(index, issuer)| {
                issuer
                    .keys
                    .file
                    .as_deref()
                    .map(|path| read(index, path, false))
                    .transpose()
            })
            .collect::<Result<_, _>>()?;
        Ok(KeyFiles {
            overriding: None,
            own,
        })
    }
}

/// Key sets read from a policy file's key files, handed to the verifier built from it so that
/// each file is read once per build or reload.
#[derive(Debug, Default)]
pub(crate) struct KeyFiles {
    /// A file that replaces every issuer's keys (`--jwks-file`), with its set.
    overriding: Option<(std::path::PathBuf, KeySet)>,
    /// Otherwise the set of each of the file's issuers that names a `jwks_file`, in file order.
    own: Vec<Option<KeySet>>,
}

impl KeyFiles {
    /// Gives `issuers` the sets read: with an override, every issuer reads its keys from that
    /// file alone; otherwise the file's issuers (in file order) keep their key locations and
    /// take their own sets.
    pub(crate) fn hand_to(self, issuers: Vec<IssuerConfig>) -> Vec<IssuerConfig> {
        if let Some((path, set)) = self.overriding {
            return issuers
                .into_iter()
                .map(|issuer| issuer.with_jwks_file(&path).with_loaded_keys(set.clone()))
                .collect();
        }
        let mut own = self.own.into_iter();
        issuers
            .into_iter()
            .map(|issuer| match own.next().flatten() {
                Some(set) => issuer.with_loaded_keys(set),
                None => issuer,
            })
            .collect()
    }
}

type At<'a> = dyn Fn(Range<usize>, String) -> ConfigError + 'a;

fn locate(file: &str, text: &str, offset: usize, message: String) -> ConfigError {
    let offset = (0..=offset.min(text.len()))
        .rev()
        .find(|index| text.is_char_boundary(*index))
        .unwrap_or(0);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    ConfigError::new(ConfigErrorKind::PolicyFile, message).at(file, line, column)
}

fn parse_expression(
    expression: &Spanned<String>,
    what: &str,
    at: &At<'_>,
) -> Result<Policy, ConfigError> {
    expression
        .get_ref()
        .parse()
        .map_err(|error: PolicyParseError| at(expression.span(), format!("{what}: {error}")))
}

/// A standard method, case-insensitively (`get` = `GET`), or one of `extensions` exactly.
fn parse_method(name: &str, extensions: &[Method]) -> Result<Method, String> {
    let upper = Method::from_bytes(name.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{name:?} is not an HTTP method"))?;
    if STANDARD_METHODS.contains(&upper) {
        return Ok(upper);
    }
    match extensions.iter().find(|method| method.as_str() == name) {
        Some(method) => Ok(method.clone()),
        None => Err(format!(
            "{name:?} is not a standard HTTP method (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH); if your service really serves it, list it in [defaults] extension_methods"
        )),
    }
}

/// `[defaults] extension_methods`: method tokens (case-sensitive, as sent) routes may name.
fn extension_methods(
    defaults: Option<&DefaultsEntry>,
    at: &At<'_>,
) -> Result<Vec<Method>, ConfigError> {
    let mut methods = Vec::new();
    for name in defaults
        .and_then(|d| d.extension_methods.as_ref())
        .into_iter()
        .flatten()
    {
        let method = Method::from_bytes(name.get_ref().as_bytes()).map_err(|_| {
            at(
                name.span(),
                format!("{:?} is not an HTTP method token", name.get_ref()),
            )
        })?;
        if STANDARD_METHODS.contains(&method) {
            return Err(at(
                name.span(),
                format!(
                    "{:?} is a standard method; extension_methods lists others",
                    name.get_ref()
                ),
            ));
        }
        methods.push(method);
    }
    Ok(methods)
}

fn issuers(
    entries: &[Spanned<IssuerEntry>],
    base_dir: &Path,
    at: &At<'_>,
) -> Result<(Vec<IssuerConfig>, Vec<IssuerSpans>), ConfigError> {
    if entries.is_empty() {
        return Err(at(0..0, "at least one [[issuer]] is required".to_owned()));
    }
    let mut configs: Vec<IssuerConfig> = Vec::new();
    let mut spans = Vec::new();
    for entry in entries {
        let config = issuer(entry, base_dir, at)?;
        spans.push(IssuerSpans {
            table: entry.span(),
            jwks_file: entry.get_ref().jwks_file.as_ref().map(Spanned::span),
        });
        configs.push(config);
    }
    // Checked where the verifier checks it; reported at the later issuer (its name for a
    // repeated name).
    crate::verify::config::check_distinct(&configs).map_err(|clash| {
        let entry = &entries[clash.index];
        let span = match (&entry.get_ref().name, clash.same_name) {
            (Some(name), true) => name.span(),
            _ => entry.span(),
        };
        at(span, clash.message)
    })?;
    Ok((configs, spans))
}

fn issuer(
    entry: &Spanned<IssuerEntry>,
    base_dir: &Path,
    at: &At<'_>,
) -> Result<IssuerConfig, ConfigError> {
    let table = entry.span();
    let entry = entry.get_ref();
    let mut builder = match (&entry.user_pool_id, &entry.cognito_issuer, &entry.issuer) {
        (Some(pool), None, None) => IssuerConfig::user_pool(pool.get_ref()),
        (None, Some(issuer), None) => IssuerConfig::cognito_issuer(issuer.get_ref()),
        (None, None, Some(issuer)) => IssuerConfig::oidc(issuer.get_ref()),
        _ => {
            return Err(at(
                table,
                "an [[issuer]] needs exactly one of user_pool_id, cognito_issuer or issuer"
                    .to_owned(),
            ));
        }
    };
    if let Some(name) = &entry.name {
        if name.get_ref().is_empty() {
            return Err(at(name.span(), "an issuer name cannot be empty".to_owned()));
        }
        builder = builder.name(name.get_ref());
    }
    if let Some(token_use) = &entry.token_use {
        let parsed: AcceptedTokenUse = token_use
            .get_ref()
            .parse()
            .map_err(|error: crate::ConfigError| at(token_use.span(), error.to_string()))?;
        builder = builder.token_use(parsed);
    }
    if let Some(ids) = &entry.client_ids {
        builder = builder.client_ids(ids.iter().cloned());
    }
    if entry.any_client == Some(true) {
        builder = builder.any_client();
    }
    if let Some(audiences) = &entry.audiences {
        builder = builder.audiences(audiences.iter().cloned());
    }
    if let Some(regions) = &entry.replica_regions {
        builder = builder.replica_regions(regions.iter().cloned());
    }
    if let Some(url) = &entry.jwks_url {
        builder = builder.jwks_url(url);
    }
    if let Some(file) = &entry.jwks_file {
        builder = builder.jwks_file(base_dir.join(file.get_ref()));
    }
    if let Some(allow) = entry.allow_insecure_http {
        builder = builder.allow_insecure_http(allow);
    }
    if let Some(leeway) = entry.leeway_secs {
        builder = builder.leeway(Duration::from_secs(leeway));
    }
    if let Some(names) = &entry.algorithms {
        let mut algorithms = Vec::new();
        for name in names {
            algorithms.push(Algorithm::parse(name.get_ref()).ok_or_else(|| {
                at(
                    name.span(),
                    format!(
                        "algorithm {:?} is not supported (RS256, RS384 or RS512)",
                        name.get_ref()
                    ),
                )
            })?);
        }
        builder = builder.algorithms(algorithms);
    }
    builder
        .build()
        .map_err(|error| at(table, format!("issuer: {error}")))
}

fn token_source(entry: Option<&TokenEntry>, at: &At<'_>) -> Result<TokenSource, ConfigError> {
    let Some(entry) = entry else {
        return Ok(TokenSource::default());
    };
    // Each setting is checked as it is added, so an error points at the value at fault.
    let check = |builder: &TokenSourceBuilder, span: Range<usize>| {
        builder
            .clone()
            .build()
            .map(drop)
            .map_err(|error| at(span, error.to_string()))
    };
    let mut builder = TokenSource::builder();
    if let Some(header) = &entry.header {
        builder = builder.header(header.get_ref());
        check(&builder, header.span())?;
    }
    if let Some(cookie) = &entry.cookie {
        builder = builder.cookie(cookie.get_ref());
        check(&builder, cookie.span())?;
    }
    if let Some(origins) = &entry.allowed_origins {
        for origin in origins {
            builder = builder.allowed_origins([origin.get_ref()]);
            check(&builder, origin.span())?;
        }
    }
    if let Some(allow) = &entry.allow_same_site {
        builder = builder.allow_same_site(*allow.get_ref());
        check(&builder, allow.span())?;
    }
    if let Some(allow) = &entry.allow_missing_origin {
        builder = builder.allow_missing_origin(*allow.get_ref());
        check(&builder, allow.span())?;
    }
    builder.build().map_err(|error| at(0..0, error.to_string()))
}

/// Puts a route-table error at the string it is about, and for a reference error, adds the
/// column of that reference inside the string (recorded when the expression was parsed).
fn route_error_location(
    error: &RouteError,
    document: &Document,
    policies: &[(&Spanned<String>, &Spanned<String>)],
    unmatched: Option<&Spanned<String>>,
    at: &At<'_>,
) -> ConfigError {
    let route = |index: usize| document.route.get(index).map(Spanned::get_ref);
    match error {
        RouteError::Policies(policy_error) => {
            let name = policy_error.policy_name().unwrap_or_default();
            let Some((_, expression)) = policies.iter().find(|(n, _)| n.get_ref() == name) else {
                return at(0..0, error.to_string());
            };
            let inner = match policy_error {
                PolicyError::InNamed { source, .. } => source.as_ref(),
                other => other,
            };
            at(
                expression.span(),
                format!("policy {name:?}: {}", with_column(inner)),
            )
        }
        RouteError::Unmatched(policy_error) => {
            let span = unmatched.map_or(0..0, Spanned::span);
            at(
                span,
                format!("defaults.unmatched: {}", with_column(policy_error)),
            )
        }
        RouteError::Policy { index, source, .. } => match route(*index) {
            Some(route) => at(
                route.require.span(),
                format!(
                    "route {:?} require: {}",
                    route.path.get_ref(),
                    with_column(source)
                ),
            ),
            None => at(0..0, error.to_string()),
        },
        RouteError::NoMethods { index, .. } => match route(*index) {
            Some(RouteEntry {
                methods: Some(methods),
                ..
            }) => at(methods.span(), error.to_string()),
            _ => at(0..0, error.to_string()),
        },
        _ => match error.route_index().and_then(route) {
            Some(route) => at(route.path.span(), error.to_string()),
            None => at(0..0, error.to_string()),
        },
    }
}

/// A policy error's message, led by `column N: ` when it knows where in its expression it is.
fn with_column(error: &PolicyError) -> String {
    match error.column() {
        Some(column) => format!("column {column}: {error}"),
        None => error.to_string(),
    }
}

impl fmt::Display for PolicyFile {
    /// Lists the routes, one a line: `METHODS PATTERN -> POLICY`, then the default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for route in self.routes.routes() {
            let methods = route.methods().map_or_else(
                || "*".to_owned(),
                |methods| {
                    methods
                        .iter()
                        .map(Method::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                },
            );
            writeln!(f, "{methods} {} -> {}", route.pattern(), route.policy())?;
        }
        writeln!(f, "(unmatched) -> {}", self.routes.unmatched())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "[[issuer]]\nname = \"main\"\nuser_pool_id = \"us-east-1_Example1\"\nclient_ids = [\"client\"]\ntoken_use = \"access\"\njwks_json_placeholder = 1\n";

    fn with_issuer(rest: &str) -> String {
        format!(
            "[[issuer]]\nname = \"main\"\nuser_pool_id = \"us-east-1_Example1\"\nclient_ids = [\"client\"]\ntoken_use = \"access\"\n\n{rest}"
        )
    }

    /// The file's store keeps every entry at least as long past its bound as any issuer of the
    /// file accepts clock skew: the default 5 minutes, or longer.
    #[test]
    fn the_revocation_store_covers_every_issuers_leeway() {
        let leeway_of = |text: &str| {
            let file = PolicyFile::parse(text, ".", "f.toml").expect("parses");
            let config = file.revocation().expect("a [revocation] section");
            config
                .builder(crate::verify::clock::SharedClock::default())
                .memory()
                .leeway()
        };
        let section = "[revocation]\nstore = \"memory\"\n";
        assert_eq!(
            leeway_of(&with_issuer(section)),
            crate::revocation::DEFAULT_LEEWAY
        );
        let skewed = with_issuer(section).replace(
            "token_use = \"access\"\n",
            "token_use = \"access\"\nleeway_secs = 600\n",
        );
        assert_eq!(leeway_of(&skewed), std::time::Duration::from_secs(600));
    }

    #[test]
    fn extension_methods_are_opt_in_and_exact() {
        let file = PolicyFile::parse(
            &with_issuer("[defaults]\nextension_methods = [\"PURGE\"]\n\n[[route]]\npath = \"/cache\"\nmethods = [\"PURGE\"]\nrequire = \"authenticated\"\n"),
            ".",
            "f.toml",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let purge = Method::from_bytes(b"PURGE").expect("token");
        assert_eq!(
            file.routes().lookup(&purge, "/cache").pattern(),
            Some("/cache")
        );
        let lowercase = PolicyFile::parse(
            &with_issuer("[defaults]\nextension_methods = [\"PURGE\"]\n\n[[route]]\npath = \"/cache\"\nmethods = [\"purge\"]\nrequire = \"authenticated\"\n"),
            ".",
            "f.toml",
        )
        .expect_err("methods are case-sensitive tokens; only standard names are folded");
        assert!(
            lowercase
                .message()
                .contains("\"purge\" is not a standard HTTP method"),
            "{lowercase}"
        );
    }

    #[test]
    fn lint_warnings_flag_permissive_defaults_and_routes_no_token_can_satisfy() {
        let file = PolicyFile::parse(
            &with_issuer("[defaults]\nunmatched = \"authenticated\"\n\n[[route]]\npath = \"/admin/{*rest}\"\nrequire = \"group:admin and token_use:id\"\n\n[[route]]\npath = \"/reports\"\nrequire = \"scope:api/read\"\n"),
            ".",
            "f.toml",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let warnings: Vec<String> = file.warnings().iter().map(ToString::to_string).collect();
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(warnings[0].starts_with("f.toml:8:13: warning: defaults.unmatched = \"authenticated\" lets any signed-in user reach every path no route names"), "{warnings:#?}");
        assert!(warnings[1].starts_with("f.toml:11:8: warning: route \"/admin/{*rest}\": no token the configured issuers accept (main: access tokens) can satisfy"), "{warnings:#?}");

        let id_only = "[[issuer]]\nname = \"web\"\nuser_pool_id = \"us-east-1_Example1\"\nclient_ids = [\"client\"]\ntoken_use = \"id\"\n\n[[route]]\npath = \"/reports\"\nrequire = \"scope:api/read or group:admin\"\n\n[[route]]\npath = \"/scoped\"\nrequire = \"scope:api/read\"\n";
        let file =
            PolicyFile::parse(id_only, ".", "f.toml").unwrap_or_else(|error| panic!("{error}"));
        let warnings: Vec<String> = file.warnings().iter().map(ToString::to_string).collect();
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].contains(
                "route \"/scoped\": no token the configured issuers accept (web: id tokens)"
            ),
            "{warnings:#?}"
        );

        let clean = PolicyFile::parse(
            &with_issuer(
                "[[route]]\npath = \"/x\"\nrequire = \"scope:a or not token_use:access\"\n",
            ),
            ".",
            "f.toml",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert!(clean.warnings().is_empty());
    }

    #[test]
    fn a_complete_file_loads() {
        let file = PolicyFile::parse(crate::test_tokens::POLICY, "/srv", "policy.toml")
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(file.issuers().len(), 1);
        assert_eq!(file.issuers()[0].name(), "main");
        assert_eq!(file.token_source().cookie_name(), Some("id_token"));
        assert_eq!(file.token_source().allowed_origins().count(), 0);
        assert!(!file.token_source().allows_same_site());
        assert!(!file.token_source().allows_missing_origin());
        assert_eq!(
            file.to_string(),
            "* /health -> public\nGET /reports/{id} -> policy:reader\n* /admin/{*rest} -> policy:admin\nGET /admin/public -> public\n* /id-only -> token_use:id and claim:email\n* /scoped -> scope:api/write and scope:api/read\n* /tenant -> claim:custom:tenant=acme and not group:banned\n(unmatched) -> authenticated\n"
        );
        let found = file.routes().lookup(&Method::GET, "/reports/1");
        assert_eq!(found.policy().required_scopes(), ["api/read"]);
        // Standard methods are read in any case.
        let file = PolicyFile::parse(
            &with_issuer(
                "[[route]]\npath = \"/x\"\nmethods = [\"get\", \"Head\"]\nrequire = \"public\"\n",
            ),
            ".",
            "f.toml",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            file.to_string(),
            "GET,HEAD /x -> public\n(unmatched) -> deny\n"
        );
    }

    #[test]
    fn errors_name_the_line_and_column() {
        // (file text, expected error)
        let cases: Vec<(String, &str)> = vec![
            (
                ISSUER.to_owned(),
                "f.toml:6:1: unknown field `jwks_json_placeholder`, expected one of `name`, `user_pool_id`, `cognito_issuer`, `issuer`, `client_ids`, `any_client`, `audiences`, `token_use`, `replica_regions`, `jwks_url`, `jwks_file`, `allow_insecure_http`, `leeway_secs`, `algorithms`",
            ),
            ("".to_owned(), "f.toml:1:1: at least one [[issuer]] is required"),
            (
                with_issuer("[route]\npath = \"/x\"\n"),
                "f.toml:7:1: invalid type: map, expected a sequence",
            ),
            (
                with_issuer("[[route]]\npath = \"/x\"\nrequire = \"group:a and\"\n"),
                "f.toml:9:11: route \"/x\" require: column 12: expected an atom after 'and'",
            ),
            (
                with_issuer("[[route]]\npath = \"/x\"\n"),
                "f.toml:7:1: missing field `require`",
            ),
            (
                with_issuer("[[route]]\npath = \"/x\"\nrequire = \"public\"\nverb = 1\n"),
                "f.toml:10:1: unknown field `verb`, expected one of `path`, `methods`, `require`",
            ),
            (
                with_issuer("[policies]\nadmin = \"group:\"\n"),
                "f.toml:8:9: policy \"admin\": column 7: expected a name after 'group:'",
            ),
            (
                with_issuer("[policies]\na = \"group:x\"\nb = \"group:y or policy:c\"\n"),
                "f.toml:9:5: policy \"b\": column 12: unknown policy \"c\" (referenced as policy:c)",
            ),
            (
                with_issuer("[policies]\na = \"policy:b\"\nb = \"group:y or policy:a\"\n"),
                "f.toml:9:5: policy \"b\": column 12: policies refer to each other in a cycle: a -> b -> a",
            ),
            (
                with_issuer("[[route]]\npath = \"/x\"\nrequire = \"group:y or policy:nope\"\n"),
                "f.toml:9:11: route \"/x\" require: column 12: unknown policy \"nope\" (referenced as policy:nope)",
            ),
            (
                // The column is the parsed atom's, not the text inside the quoted name.
                with_issuer("[[route]]\npath = \"/x\"\nrequire = 'group:\"a policy:nope\" or policy:nope'\n"),
                "f.toml:9:11: route \"/x\" require: column 26: unknown policy \"nope\" (referenced as policy:nope)",
            ),
            (
                with_issuer("[defaults]\nunmatched = \"policy:x\"\n"),
                "f.toml:8:13: defaults.unmatched: column 1: unknown policy \"x\" (referenced as policy:x)",
            ),
            (
                with_issuer("[defaults]\nunmatched = \"(\"\n"),
                "f.toml:8:13: defaults.unmatched: column 2: expected an atom after '('",
            ),
            (
                with_issuer("[[route]]\npath = \"/a/{x}\"\nrequire = \"public\"\n\n[[route]]\npath = \"/a/{y}\"\nrequire = \"public\"\n"),
                "f.toml:12:8: route \"/a/{y}\" conflicts with route \"/a/{x}\" for all methods: the same pattern twice (parameter names are ignored) or a parameter and a catch-all at the same position",
            ),
            (
                with_issuer("[[route]]\npath = \"/admin/\"\nrequire = \"group:admin\"\n"),
                "f.toml:8:8: route \"/admin/\": a pattern may not end in '/': a request for \"/admin/\" is also decided as \"/admin\" (the trailing '/' dropped), which this pattern does not match; to guard \"/admin/\" write \"/admin/{*rest}\", which covers \"/admin/\" and \"/admin\" too",
            ),
            (
                with_issuer("[[route]]\npath = \"/caf%C3%A9\"\nrequire = \"public\"\n"),
                "f.toml:8:8: route \"/caf%C3%A9\": segment \"caf%C3%A9\": a pattern may not contain '%', whitespace, control or non-ASCII characters outside parameters: requests carry them percent-encoded and are also decided on the percent-decoded path, and no such pattern matches both; write a parameter ({name}) there and check its value in the handler",
            ),
            (
                with_issuer("[[route]]\npath = \"/x\"\nmethods = [\"GET\", \"NOT A METHOD\"]\nrequire = \"public\"\n"),
                "f.toml:9:19: \"NOT A METHOD\" is not an HTTP method",
            ),
            (
                with_issuer("[[route]]\npath = \"/x\"\nrequire = \"group:a and not issuer:partnr\"\n"),
                "f.toml:9:11: route \"/x\" require: column 17: issuer:partnr names no configured issuer (configured: main)",
            ),
            (
                with_issuer("[policies]\np = \"issuer:other\"\n"),
                "f.toml:8:5: policy \"p\": column 1: issuer:other names no configured issuer (configured: main)",
            ),
            (
                with_issuer("[[route]]\npath = \"/reports/:id\"\nrequire = \"public\"\n"),
                "f.toml:8:8: route \"/reports/:id\": segment \":id\" is another router's parameter syntax; write {id}",
            ),
            (
                with_issuer("[[route]]\npath = \"/x\"\nmethods = [\"GTE\"]\nrequire = \"public\"\n"),
                "f.toml:9:12: \"GTE\" is not a standard HTTP method (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH); if your service really serves it, list it in [defaults] extension_methods",
            ),
            (
                with_issuer("[defaults]\nextension_methods = [\"GET\"]\n"),
                "f.toml:8:22: \"GET\" is a standard method; extension_methods lists others",
            ),
            (
                with_issuer("[[route]]\npath = \"/x\"\nmethods = []\nrequire = \"public\"\n"),
                "f.toml:9:11: route \"/x\": methods must list at least one method (omit it for all methods)",
            ),
            (
                with_issuer("[[route]]\npath = \"x\"\nrequire = \"public\"\n"),
                "f.toml:8:8: route \"x\": a path pattern must start with '/'",
            ),
            (
                with_issuer("[token]\ncookie = \"bad cookie\"\n"),
                "f.toml:8:10: token cookie \"bad cookie\" is not a cookie name (RFC 6265 token)",
            ),
            (
                with_issuer("[token]\ncookie = \"id\"\nallowed_origins = [\"https://a.example\", \"https://b.example/\"]\n"),
                "f.toml:9:41: allowed origin \"https://b.example/\" is not an origin: write scheme://host or scheme://host:port, with no path, not even a trailing '/'",
            ),
            (
                with_issuer("[token]\ncookie = \"id\"\nallowed_origins = [\"null\"]\n"),
                "f.toml:9:20: allowed origin \"null\" is not an origin: write scheme://host or scheme://host:port, with no path, not even a trailing '/'",
            ),
            (
                with_issuer("[token]\nallowed_origins = [\"https://a.example\"]\n"),
                "f.toml:8:20: allowed_origins, allow_same_site and allow_missing_origin apply to a token cookie: set the cookie name, or remove them",
            ),
            (
                with_issuer("[token]\nheader = \"x-token\"\nallow_missing_origin = true\n"),
                "f.toml:9:24: allowed_origins, allow_same_site and allow_missing_origin apply to a token cookie: set the cookie name, or remove them",
            ),
            (
                with_issuer("[token]\ncookie = \"id\"\nallow_same_site = \"yes\"\n"),
                "f.toml:9:19: invalid type: string \"yes\", expected a boolean",
            ),
            (
                with_issuer("[token]\ncookie = \"id\"\nallowed_origin = []\n"),
                "f.toml:9:1: unknown field `allowed_origin`, expected one of `header`, `cookie`, `allowed_origins`, `allow_same_site`, `allow_missing_origin`",
            ),
            (
                with_issuer("[token]\nheader = \"bad header\"\n"),
                "f.toml:8:10: token header \"bad header\" is not a header name",
            ),
            (
                "[[issuer]]\nuser_pool_id = \"us-east-1_X\"\nclient_ids = [\"c\"]\n".to_owned(),
                "f.toml:1:1: issuer: token_use is required for a Cognito issuer: \"id\", \"access\" or \"any\"",
            ),
            (
                "[[issuer]]\nuser_pool_id = \"us-east-1_X\"\nclient_ids = [\"c\"]\ntoken_use = \"both\"\n".to_owned(),
                "f.toml:4:13: token_use must be \"id\", \"access\" or \"any\", not \"both\"",
            ),
            (
                "[[issuer]]\nuser_pool_id = \"us-east-1_X\"\nissuer = \"https://x\"\n".to_owned(),
                "f.toml:1:1: an [[issuer]] needs exactly one of user_pool_id, cognito_issuer or issuer",
            ),
            (
                "[[issuer]]\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\nalgorithms = [\"RS256\", \"HS256\"]\n".to_owned(),
                "f.toml:5:24: algorithm \"HS256\" is not supported (RS256, RS384 or RS512)",
            ),
            (
                "[[issuer]]\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\n\n[[issuer]]\nname = \"us-east-1_X\"\nissuer = \"https://x\"\naudiences = [\"a\"]\n".to_owned(),
                "f.toml:7:8: two issuers are named \"us-east-1_X\"",
            ),
            (
                "[[issuer]]\nname = \"a\"\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\n\n[[issuer]]\nname = \"b\"\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"access\"\n".to_owned(),
                "f.toml:7:1: issuer \"b\" accepts \"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X\", as issuer \"a\" does",
            ),
            (
                "x = [\n".to_owned(),
                "f.toml:1:6: unclosed array, expected `]`",
            ),
        ];
        for (text, expected) in cases {
            let error = PolicyFile::parse(&text, ".", "f.toml").expect_err(&text);
            assert_eq!(error.to_string(), expected, "{text}");
        }
    }

    #[test]
    fn cookie_cross_site_settings_load() {
        let text = with_issuer(
            r#"
[token]
cookie = "__Host-id_token"
allowed_origins = ["https://App.example.com:443", "http://127.0.0.1:8080"]
allow_same_site = true
allow_missing_origin = true
"#,
        );
        let file = PolicyFile::parse(&text, ".", "f.toml").expect("valid");
        let source = file.token_source();
        assert_eq!(source.cookie_name(), Some("__Host-id_token"));
        assert_eq!(
            source.allowed_origins().collect::<Vec<_>>(),
            ["https://app.example.com", "http://127.0.0.1:8080"]
        );
        assert!(source.allows_same_site() && source.allows_missing_origin());
    }

    #[test]
    fn an_unreadable_file_keeps_the_io_error_as_its_source() {
        use std::error::Error as _;
        let error =
            PolicyFile::load("/nonexistent/cognito-authz/policy.toml").expect_err("missing");
        assert_eq!(error.kind(), ConfigErrorKind::PolicyFile);
        let source = error.source().expect("a source");
        assert!(
            source.downcast_ref::<std::io::Error>().is_some(),
            "{source:?}"
        );
    }

    #[test]
    fn columns_count_characters_and_relative_key_files_resolve() {
        let text = "[[issuer]]\nname = \"é\"\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\njwks_file = \"keys/jwks.json\"\n\n[[route]]\npath = \"/ü\"  ; require = \"group:a and\"\n";
        // `;` is not TOML: the parser error points past the multi-byte character correctly.
        let error = PolicyFile::parse(text, "/etc/app", "f.toml").expect_err("bad toml");
        assert_eq!((error.line(), error.column()), (9, 14), "{error}");

        let text = "[[issuer]]\nname = \"é\"\nuser_pool_id = \"us-east-1_X\"\nany_client = true\ntoken_use = \"id\"\njwks_file = \"keys/jwks.json\"\n";
        let file = PolicyFile::parse(text, "/etc/app", "f.toml").expect("valid");
        assert_eq!(
            file.issuers()[0].keys.file.as_deref(),
            Some(Path::new("/etc/app/keys/jwks.json"))
        );
        let error = file.load_key_files(None).expect_err("missing file");
        assert_eq!((error.line(), error.column()), (6, 13), "{error}");
        assert!(
            error
                .message()
                .starts_with("cannot read jwks_file /etc/app/keys/jwks.json")
        );
    }

    #[test]
    fn plain_http_issuers_need_allow_insecure_http_per_issuer() {
        let issuer = |kind: &str, extra: &str| {
            format!(
                "[[issuer]]\nname = \"dev\"\n{kind} = \"http://cognito-local:9229/local_pool\"\nany_client = true\n{extra}\n[[route]]\npath = \"/\"\nrequire = \"authenticated\"\n"
            )
        };
        for (kind, extra) in [("cognito_issuer", "token_use = \"id\""), ("issuer", "")] {
            let error = PolicyFile::parse(&issuer(kind, extra), ".", "f.toml")
                .expect_err("plain HTTP keys from a remote host");
            assert_eq!(error.line(), 1, "{error}");
            assert!(error.message().contains("allow_insecure_http"), "{error}");
            assert!(
                error
                    .message()
                    .contains("http://cognito-local:9229/local_pool/.well-known/jwks.json"),
                "{error}"
            );
            let extra = format!("{extra}\nallow_insecure_http = true");
            let file = PolicyFile::parse(&issuer(kind, &extra), ".", "f.toml").expect("opted in");
            assert!(file.issuers()[0].fetch_settings().allow_insecure_http);
        }
        let error = PolicyFile::parse(
            &issuer(
                "cognito_issuer",
                "token_use = \"id\"\njwks_url = \"http://keys.example/jwks.json\"\nallow_insecure_http = false",
            ),
            ".",
            "f.toml",
        )
        .expect_err("explicit URL, explicitly not allowed");
        assert!(error.message().contains("allow_insecure_http"), "{error}");
    }

    #[test]
    fn an_unreadable_file_is_reported_without_a_position() {
        let error = PolicyFile::load("/nonexistent/policy.toml").expect_err("missing");
        assert_eq!((error.line(), error.column()), (0, 0));
        let text = error.to_string();
        assert!(
            text.starts_with("/nonexistent/policy.toml: cannot read the policy file: "),
            "{text}"
        );
    }
}
