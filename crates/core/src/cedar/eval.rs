//! One Cedar decision for one request: principal and context from the token's cached
//! entities, the action from the route, the resource from the route's loader (or the
//! application), and deny on any policy error.

use std::sync::Arc;

use cedar_policy::{Decision, Request};
use http::Method;

use super::{Cedar, ResourceRequest, entities};
use crate::verify::claims::VerifiedToken;

/// Most query parameters read for the context; a request with more is denied.
const MAX_QUERY_PARAMETERS: usize = 256;

/// The outcome of a Cedar decision, with what the logs and the CLI show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CedarDecision {
    allowed: bool,
    action: String,
    determining: Vec<String>,
    errors: Vec<String>,
    reason: String,
}

impl CedarDecision {
    /// Whether the Cedar policies allow the request.
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// The action name asked about.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The ids of the policies that determined the decision (the permits that allowed, or the
    /// forbids that denied; empty for a default deny).
    pub fn determining_policies(&self) -> &[String] {
        &self.determining
    }

    /// Evaluation errors (any one denies the request).
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// A one-line account for logs and the CLI.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    fn refused(action: String, reason: String) -> Self {
        Self {
            allowed: false,
            action,
            determining: Vec::new(),
            errors: Vec::new(),
            reason,
        }
    }
}

impl Cedar {
    /// Decides one request on route `pattern`: `path` is the path the framework routes on (its
    /// parameters are read with the route's pattern), `query` the query string without `?`.
    ///
    /// Denies when the token's entities cannot be built, the action is not declared in the
    /// schema, a parameter is not UTF-8 after percent-decoding, the resource loader fails, or
    /// any policy errors.
    pub async fn decide(
        &self,
        method: &Method,
        pattern: &str,
        path: &str,
        query: Option<&str>,
        token: &Arc<VerifiedToken>,
    ) -> CedarDecision {
        // Every way out, a refusal included, leaves this block with the decision to log.
        let decision = 'decided: {
            let shared = &*self.shared;
            // The actions of the routes were parsed at start-up; any other (a method a route
            // without `methods` did not expect) is parsed here, and denied unless declared.
            let (action, action_uid) =
                match self.action_uids.get(&(method.clone(), pattern.to_owned())) {
                    Some((name, uid)) => (name.clone(), uid.clone()),
                    None => {
                        let action = self.action_name(method, pattern);
                        match shared.names.action_uid(&action) {
                            Ok(uid) if shared.declared.contains(&uid) => (action, uid),
                            _ => {
                                let reason =
                                    format!("action {action:?} is not declared in the schema");
                                break 'decided CedarDecision::refused(action, reason);
                            }
                        }
                    }
                };
            let built = match token.cedar.get_or_build(shared.id, || {
                entities::build(shared.id, &shared.names, token)
            }) {
                Ok(built) => built,
                Err(error) => break 'decided CedarDecision::refused(action, error.message),
            };
            let path_parameters = match self.path_parameters(pattern, path) {
                Ok(parameters) => parameters,
                Err(reason) => break 'decided CedarDecision::refused(action, reason),
            };
            let query_parameters = match query.map(query_parameters).transpose() {
                Ok(parameters) => parameters.unwrap_or_default(),
                Err(reason) => break 'decided CedarDecision::refused(action, reason),
            };
            let loader = self.loaders.get(pattern).cloned();
            let context = if path_parameters.is_empty() && query_parameters.is_empty() {
                built.base_context.clone()
            } else {
                match entities::context(
                    built.token_record.as_ref(),
                    path_parameters.clone(),
                    query_parameters.clone(),
                ) {
                    Ok(context) => context,
                    Err(error) => break 'decided CedarDecision::refused(action, error.message),
                }
            };
            let (resource, extra) = match loader {
                None => (shared.application.clone(), None),
                Some(loader) => {
                    let request = ResourceRequest {
                        method: method.clone(),
                        route: Arc::from(pattern),
                        path_parameters,
                        query_parameters,
                        token: Arc::clone(token),
                        principal: built.principal.clone(),
                        names: Arc::clone(&shared.names),
                    };
                    match loader.load(request).await {
                        Ok(entity) => (entity.uid(), Some(entity)),
                        Err(error) => {
                            let reason = format!("the resource loader failed: {error}");
                            break 'decided CedarDecision::refused(action, reason);
                        }
                    }
                }
            };
            let request =
                match Request::new(built.principal.clone(), action_uid, resource, context, None) {
                    Ok(request) => request,
                    Err(error) => {
                        break 'decided CedarDecision::refused(action, format!("request: {error}"));
                    }
                };
            let response = match extra {
                None => {
                    shared
                        .authorizer
                        .is_authorized(&request, &shared.policies, &built.entities)
                }
                Some(entity) => {
                    // The loader's entity replaces nothing of the token's: a clash is refused.
                    let entities = match built.entities.clone().add_entities([entity], None) {
                        Ok(entities) => entities,
                        Err(error) => {
                            let reason = format!("the loaded resource clashes: {error}");
                            break 'decided CedarDecision::refused(action, reason);
                        }
                    };
                    shared
                        .authorizer
                        .is_authorized(&request, &shared.policies, &entities)
                }
            };
            let mut determining: Vec<String> = response
                .diagnostics()
                .reason()
                .map(ToString::to_string)
                .collect();
            determining.sort();
            let errors: Vec<String> = response
                .diagnostics()
                .errors()
                .map(ToString::to_string)
                .collect();
            let allowed = errors.is_empty() && response.decision() == Decision::Allow;
            let reason = if !errors.is_empty() {
                format!(
                    "cedar: denied because a policy errored ({})",
                    errors.join("; ")
                )
            } else if allowed {
                format!("cedar: allowed by {}", determining.join(", "))
            } else if determining.is_empty() {
                "cedar: denied (no policy permits it)".to_owned()
            } else {
                format!("cedar: forbidden by {}", determining.join(", "))
            };
            CedarDecision {
                allowed,
                action,
                determining,
                errors,
                reason,
            }
        };
        tracing::debug!(
            target: "cognito_authz::cedar",
            route = pattern,
            action = %decision.action,
            allowed = decision.allowed,
            policies = ?decision.determining,
            errors = ?decision.errors,
            reason = %decision.reason,
            "cedar decision"
        );
        decision
    }

    fn path_parameters(&self, pattern: &str, path: &str) -> Result<Vec<(String, String)>, String> {
        let Some(router) = self.matchers.get(pattern) else {
            return Err(format!("route {pattern:?} was not prepared for Cedar"));
        };
        let matched = router
            .at(path)
            .map_err(|_| format!("the path does not match route {pattern:?}"))?;
        matched
            .params
            .iter()
            .map(|(name, value)| {
                percent_decode(value, false)
                    .map(|value| (name.to_owned(), value))
                    .ok_or_else(|| format!("path parameter {name:?} is not UTF-8 once decoded"))
            })
            .collect()
    }
}

/// `application/x-www-form-urlencoded` pairs (`+` is a space), percent-decoded.
fn query_parameters(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for piece in query.split('&').filter(|piece| !piece.is_empty()) {
        if pairs.len() == MAX_QUERY_PARAMETERS {
            return Err(format!("more than {MAX_QUERY_PARAMETERS} query parameters"));
        }
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let decode = |text: &str| {
            percent_decode(text, true)
                .ok_or_else(|| "a query parameter is not UTF-8 once decoded".to_owned())
        };
        pairs.push((decode(name)?, decode(value)?));
    }
    Ok(pairs)
}

/// Decodes `%XX` (and `+` as a space when `plus`); `None` when the result is not UTF-8.
fn percent_decode(text: &str, plus: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(index + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            out.push(u8::try_from(high * 16 + low).ok()?);
            index += 3;
            continue;
        }
        out.push(if plus && byte == b'+' { b' ' } else { byte });
        index += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_decode_plus_and_percent_and_refuse_bad_utf8() {
        assert_eq!(
            query_parameters("a=1&b=x+y%21&a=2&&c").expect("decodes"),
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y!".to_owned()),
                ("a".to_owned(), "2".to_owned()),
                ("c".to_owned(), String::new()),
            ]
        );
        assert!(query_parameters("a=%ff").is_err());
        let many = vec!["a=1"; MAX_QUERY_PARAMETERS + 1].join("&");
        assert!(query_parameters(&many).is_err());
    }

    #[test]
    fn path_values_keep_plus_and_decode_percent() {
        assert_eq!(percent_decode("a+b%2Fc", false).as_deref(), Some("a+b/c"));
        assert_eq!(percent_decode("%zz%4", false).as_deref(), Some("%zz%4"));
        assert_eq!(percent_decode("%c3%28", false), None);
    }
}
