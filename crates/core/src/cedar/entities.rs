//! The Cedar entities and context a verified token stands for, as Amazon Verified Permissions
//! builds them for a Cognito identity source.
//!
//! | token | Cedar |
//! |---|---|
//! | `sub` of a Cognito token from pool `P` | principal `NS::User::"P|sub"` (for a generic OIDC issuer: `"<iss>|sub"`) |
//! | each `cognito:groups` value `g` | a parent of the principal, `NS::UserGroup::"P|g"` |
//! | id token: every claim | an attribute of the principal under the claim's own name (`principal["cognito:username"]`, `principal["custom:tenant"]`, `principal.email`) |
//! | access token: every claim | an attribute of `context.token`, with `scope` split on spaces into a set (`context.token.scope.contains("api/read")`) |
//!
//! Claim values map as JSON maps to Cedar: strings, booleans, integers (`Long`), arrays (sets)
//! and objects (records). Values Cedar cannot hold (`null`, numbers that are not 64-bit
//! integers) are left out, and so is an array element or object member of that kind.
//! Claim names are kept as written: `cognito:username` is the attribute `"cognito:username"`,
//! never a nested `cognito.username` record.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use cedar_policy::{Context, Entities, Entity, EntityUid, RestrictedExpression};
use serde_json::Value;

use super::CedarError;
use super::names::Names;
use crate::verify::claims::{TokenUse, VerifiedToken};

/// What one verified token contributes to every Cedar request it makes, built once per token
/// and kept with it (in the verified-token cache, with the token).
#[derive(Debug)]
pub(crate) struct TokenEntities {
    /// Which configuration built these (a token could meet two authorizers).
    pub(crate) owner: u64,
    pub(crate) principal: EntityUid,
    /// The principal, its groups and the default application resource.
    pub(crate) entities: Entities,
    /// `context.token` for access tokens.
    pub(crate) token_record: Option<RestrictedExpression>,
    /// The whole context of a request with no path or query parameters.
    pub(crate) base_context: Context,
}

/// The slot a [`VerifiedToken`] keeps its entities in.
#[derive(Debug, Default, Clone)]
pub(crate) struct EntitySlot {
    slot: OnceLock<Arc<TokenEntities>>,
}

impl EntitySlot {
    /// The entities built so far, if any.
    #[cfg(test)]
    pub(crate) fn get(&self) -> Option<Arc<TokenEntities>> {
        self.slot.get().cloned()
    }

    /// The entities for `owner`, built on first use; a token met by another configuration gets
    /// fresh ones each time (rare: one process, two Cedar set-ups).
    pub(crate) fn get_or_build(
        &self,
        owner: u64,
        build: impl FnOnce() -> Result<TokenEntities, CedarError>,
    ) -> Result<Arc<TokenEntities>, CedarError> {
        if let Some(found) = self.slot.get() {
            if found.owner == owner {
                return Ok(Arc::clone(found));
            }
            return build().map(Arc::new);
        }
        let built = Arc::new(build()?);
        // Losing a race to another thread is fine: both built the same entities.
        let _ = self.slot.set(Arc::clone(&built));
        Ok(built)
    }
}

/// The principal's entity id: `<pool id>|<sub>` for Cognito tokens, `<iss>|<sub>` otherwise.
pub(crate) fn principal_id(token: &VerifiedToken) -> String {
    format!(
        "{}|{}",
        entity_prefix(token),
        token.sub().unwrap_or_default()
    )
}

/// What AVP calls the entity prefix: the user pool id of a Cognito issuer URL, else `iss`.
pub(crate) fn entity_prefix(token: &VerifiedToken) -> &str {
    let issuer = token.issuer();
    let cognito = ["https://cognito-idp.", "https://issuer-cognito-idp."]
        .iter()
        .any(|prefix| issuer.starts_with(prefix))
        && issuer.contains(".amazonaws.com/");
    if cognito && let Some((_, pool)) = issuer.rsplit_once('/') {
        return pool;
    }
    issuer
}

/// Builds the principal, its groups, the application resource and the token part of the
/// context for `token`.
pub(crate) fn build(
    owner: u64,
    names: &Names,
    token: &VerifiedToken,
) -> Result<TokenEntities, CedarError> {
    let prefix = entity_prefix(token);
    let principal = names.uid(&names.principal_type, &principal_id(token))?;
    let payload = token.payload();
    let mut parents = HashSet::new();
    let mut group_entities = Vec::new();
    for group in token.groups().iter() {
        let uid = names.uid(&names.group_type, &format!("{prefix}|{group}"))?;
        parents.insert(uid.clone());
        group_entities.push(Entity::new_no_attrs(uid, HashSet::new()));
    }
    let is_access = token.token_use() == Some(TokenUse::Access);
    let mut attributes = HashMap::new();
    let mut token_record = None;
    if is_access {
        let mut members = Vec::new();
        for (name, value) in &payload {
            let converted = if name == "scope" {
                let scopes = token
                    .scopes()
                    .iter()
                    .map(|scope| RestrictedExpression::new_string(scope.to_owned()));
                Some(RestrictedExpression::new_set(scopes))
            } else {
                convert(value)
            };
            if let Some(converted) = converted {
                members.push((name.clone(), converted));
            }
        }
        token_record = Some(
            RestrictedExpression::new_record(members)
                .map_err(|error| CedarError::new(format!("token claims: {error}")))?,
        );
    } else {
        for (name, value) in &payload {
            if let Some(converted) = convert(value) {
                attributes.insert(name.clone(), converted);
            }
        }
    }
    let principal_entity = Entity::new(principal.clone(), attributes, parents)
        .map_err(|error| CedarError::new(format!("principal entity: {error}")))?;
    let application = Entity::new_no_attrs(names.application_uid()?, HashSet::new());
    let mut all = vec![principal_entity, application];
    all.extend(group_entities);
    let entities = Entities::from_entities(all, None)
        .map_err(|error| CedarError::new(format!("token entities: {error}")))?;
    let base_context = context(token_record.as_ref(), Vec::new(), Vec::new())?;
    Ok(TokenEntities {
        owner,
        principal,
        entities,
        token_record,
        base_context,
    })
}

/// The request context: `pathParameters` and `queryStringParameters` as AWS's Express
/// integration's `auto` mode names them, plus `token` for access tokens.
///
/// A path parameter is a string. A query parameter sent once is a string; sent more than once,
/// a set of its strings (so no reading of "the" value can differ from the application's).
pub(crate) fn context(
    token_record: Option<&RestrictedExpression>,
    path: Vec<(String, String)>,
    query: Vec<(String, String)>,
) -> Result<Context, CedarError> {
    let path = RestrictedExpression::new_record(
        path.into_iter()
            .map(|(name, value)| (name, RestrictedExpression::new_string(value))),
    )
    .map_err(|error| CedarError::new(format!("path parameters: {error}")))?;
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in query {
        match grouped.iter_mut().find(|(seen, _)| *seen == name) {
            Some((_, values)) => values.push(value),
            None => grouped.push((name, vec![value])),
        }
    }
    let query = RestrictedExpression::new_record(grouped.into_iter().map(|(name, mut values)| {
        let value = if values.len() == 1 {
            RestrictedExpression::new_string(values.remove(0))
        } else {
            RestrictedExpression::new_set(values.into_iter().map(RestrictedExpression::new_string))
        };
        (name, value)
    }))
    .map_err(|error| CedarError::new(format!("query parameters: {error}")))?;
    let mut pairs = vec![
        ("pathParameters".to_owned(), path),
        ("queryStringParameters".to_owned(), query),
    ];
    if let Some(record) = token_record {
        pairs.push(("token".to_owned(), record.clone()));
    }
    Context::from_pairs(pairs).map_err(|error| CedarError::new(format!("context: {error}")))
}

/// One claim value as Cedar holds it, or `None` when Cedar has no such value.
fn convert(value: &Value) -> Option<RestrictedExpression> {
    match value {
        Value::String(text) => Some(RestrictedExpression::new_string(text.clone())),
        Value::Bool(flag) => Some(RestrictedExpression::new_bool(*flag)),
        Value::Number(number) => number.as_i64().map(RestrictedExpression::new_long),
        Value::Array(items) => Some(RestrictedExpression::new_set(
            items.iter().filter_map(convert).collect::<Vec<_>>(),
        )),
        Value::Object(members) => RestrictedExpression::new_record(
            members
                .iter()
                .filter_map(|(name, value)| convert(value).map(|value| (name.clone(), value)))
                .collect::<Vec<_>>(),
        )
        .ok(),
        Value::Null => None,
    }
}

/// The entities and context of `token` as JSON, in the forms AVP's test bench and the Cedar CLI
/// read: `{"principal": …, "entities": [...], "context": {...}}` (the context of a request
/// without path or query parameters).
pub(crate) fn to_json(built: &TokenEntities, token: &VerifiedToken) -> Result<Value, CedarError> {
    let mut entities = Vec::new();
    for entity in built.entities.iter() {
        entities.push(
            entity
                .to_json_value()
                .map_err(|error| CedarError::new(format!("entity to JSON: {error}")))?,
        );
    }
    let mut context = serde_json::Map::new();
    context.insert(
        "pathParameters".to_owned(),
        Value::Object(Default::default()),
    );
    context.insert(
        "queryStringParameters".to_owned(),
        Value::Object(Default::default()),
    );
    if built.token_record.is_some() {
        let mut claims = serde_json::Map::new();
        for (name, value) in token.payload() {
            let value = if name == "scope" {
                Value::Array(
                    token
                        .scopes()
                        .iter()
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                )
            } else {
                match json_value(&value) {
                    Some(value) => value,
                    None => continue,
                }
            };
            claims.insert(name, value);
        }
        context.insert("token".to_owned(), Value::Object(claims));
    }
    Ok(serde_json::json!({
        "principal": {
            "type": built.principal.type_name().to_string(),
            "id": built.principal.id().unescaped(),
        },
        "entities": entities,
        "context": context,
    }))
}

/// A claim value with what Cedar cannot hold left out (as [`convert`] does).
fn json_value(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Number(number) => number.as_i64().map(Value::from),
        Value::Array(items) => Some(Value::Array(items.iter().filter_map(json_value).collect())),
        Value::Object(members) => Some(Value::Object(
            members
                .iter()
                .filter_map(|(name, value)| json_value(value).map(|value| (name.clone(), value)))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}
