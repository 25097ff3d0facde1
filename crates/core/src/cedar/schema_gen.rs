//! A Cedar schema (JSON format) from an OpenAPI document, as AWS's
//! `@cedar-policy/cedar-authorization generate-schema` writes it with the `SimpleRest` mapping
//! (its `v4.cedarschema.json`, for Cedar 4).
//!
//! - one namespace, annotated `mappingType = "SimpleRest"`, with entity types `User` (member
//!   of `UserGroup`), `UserGroup` and `Application`;
//! - one action per operation of the methods `get`, `post`, `put`, `patch` and `delete`
//!   (`x-amazon-apigateway-any-method` stands for all five), named by its `operationId`, else
//!   `"<method> <path template>"`, annotated with `httpVerb` and `httpPathTemplate` (with the
//!   server's base path in front); it applies to principal `User` and resource `Application`,
//!   or the types an `x-cedar.appliesToResourceTypes` extension lists (added as entity types);
//! - the context declares the operation's `path` and `query` parameters under
//!   `pathParameters` and `queryStringParameters` with their types (`required` when required);
//! - `components.schemas` become common types (`string` → `String`, `integer` and `number` →
//!   `Long`, `boolean` → `Boolean`, arrays → `Set`, objects → `Record`, local `$ref`s by name);
//!   a `User` schema becomes the `User` entity's shape.
//!
//! Where AWS's tool does something surprising, this does the same, so the two agree byte for
//! byte in meaning: a server URL whose path is `/` gives a base path `/` (and templates such
//! as `//pets`), and an unknown primitive type becomes `{}`.

use serde_json::{Map, Value, json};

/// The methods AWS's mapping knows.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
const RESERVED: [&str; 4] = ["if", "in", "is", "__cedar"];

/// Generates the schema for `openapi` (a parsed OpenAPI 3 document) in `namespace`;
/// `base_path` chooses among several `servers` (required then) as AWS's `--base-path` does.
///
/// # Errors
/// What AWS's generator refuses: no `paths`, a bad namespace, an ambiguous or unmatched base
/// path, a `$ref` parameter, a parameter without `name`/`in`/`schema`, an array schema without
/// `items`, a schema with neither `type` nor a local `$ref`, a malformed `x-cedar` extension.
pub fn generate(
    openapi: &Value,
    namespace: &str,
    base_path: Option<&str>,
) -> Result<Value, String> {
    let paths = openapi
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("invalid OpenAPI document: no paths object")?;
    if !valid_namespace(namespace) || RESERVED.contains(&namespace.to_lowercase().as_str()) {
        return Err(format!(
            "invalid namespace {namespace:?}: components start with a letter or '_', hold letters, digits and '_', are separated by '::', and are not reserved words"
        ));
    }
    let servers = openapi.get("servers").and_then(Value::as_array);
    let base = match servers {
        Some(servers) => {
            if let Some(wanted) = base_path {
                let wanted = sanitize_path(wanted);
                let found = servers.iter().any(|server| {
                    let url = server.get("url").and_then(Value::as_str).unwrap_or("");
                    url.ends_with(&wanted) || url.ends_with(&format!("{wanted}/"))
                });
                if !found {
                    return Err(
                        "the base path matches none of the document's `servers` entries".into(),
                    );
                }
            }
            match servers.len() {
                0 => String::new(),
                1 if base_path.is_none() => {
                    let url = servers[0].get("url").and_then(Value::as_str).unwrap_or("");
                    sanitize_path(&url_path(url)?)
                }
                _ => match base_path {
                    Some(path) => sanitize_path(path),
                    None => {
                        return Err("the document lists more than one server: give the base path to choose one".into());
                    }
                },
            }
        }
        None => String::new(),
    };
    let schemas = openapi
        .get("components")
        .and_then(|components| components.get("schemas"))
        .and_then(Value::as_object);
    let mut entity_types = Map::new();
    entity_types.insert(
        "User".into(),
        json!({"shape": {"attributes": {}, "type": "Record"}, "memberOfTypes": ["UserGroup"]}),
    );
    entity_types.insert(
        "UserGroup".into(),
        json!({"shape": {"attributes": {}, "type": "Record"}}),
    );
    entity_types.insert(
        "Application".into(),
        json!({"shape": {"attributes": {}, "type": "Record"}}),
    );
    let mut actions = Map::new();
    let mut extra_resources: Vec<String> = Vec::new();
    for (template, definition) in paths {
        let Some(definition) = definition.as_object() else {
            continue;
        };
        let verbs: Vec<&str> = if definition.contains_key("x-amazon-apigateway-any-method") {
            METHODS.to_vec()
        } else {
            definition.keys().map(String::as_str).collect()
        };
        for verb in verbs {
            if !METHODS.contains(&verb) {
                continue;
            }
            let Some(operation) = definition.get(verb).filter(|op| truthy(op)) else {
                continue;
            };
            let name = match operation.get("operationId") {
                Some(Value::String(id)) => id.clone(),
                Some(other) if !other.is_null() => other.to_string(),
                _ => format!("{verb} {template}"),
            };
            let mut resource_types = vec![Value::from("Application")];
            if let Some(extension) = operation.get("x-cedar").filter(|value| value.is_object()) {
                match extension
                    .get("appliesToResourceTypes")
                    .and_then(Value::as_array)
                {
                    Some(types) if types.iter().all(Value::is_string) => {
                        resource_types = types.clone();
                    }
                    _ => {
                        return Err(format!(
                            "invalid x-cedar extension in the operation {verb} {template}"
                        ));
                    }
                }
            }
            let attributes = match operation.get("parameters").and_then(Value::as_array) {
                Some(parameters) => context_attributes(parameters)?,
                None => Value::Object(Map::new()),
            };
            for resource in &resource_types {
                let short = resource
                    .as_str()
                    .unwrap_or_default()
                    .rsplit("::")
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                if !entity_types.contains_key(&short) && !extra_resources.contains(&short) {
                    extra_resources.push(short);
                }
            }
            actions.insert(
                name,
                json!({
                    "appliesTo": {
                        "context": {"type": "Record", "attributes": attributes},
                        "principalTypes": ["User"],
                        "resourceTypes": resource_types,
                    },
                    "annotations": {
                        "httpVerb": verb,
                        "httpPathTemplate": format!("{base}{template}"),
                    }
                }),
            );
        }
    }
    let mut common_types = Map::new();
    if let Some(schemas) = schemas {
        for (name, schema) in schemas {
            if !schema.is_object() {
                continue;
            }
            common_types.insert(name.clone(), common_type(name, schema)?);
        }
    }
    for resource in extra_resources {
        let shape = if schemas.is_some_and(|schemas| schemas.contains_key(&resource)) {
            json!({"type": resource})
        } else {
            json!({"type": "Record", "attributes": {}})
        };
        entity_types.insert(resource, json!({"shape": shape, "memberOfTypes": []}));
    }
    if common_types.contains_key("User") {
        entity_types.insert(
            "User".into(),
            json!({"shape": {"type": "User"}, "memberOfTypes": ["UserGroup"]}),
        );
    }
    Ok(json!({
        namespace: {
            "entityTypes": entity_types,
            "actions": actions,
            "annotations": {"mappingType": "SimpleRest"},
            "commonTypes": common_types,
        }
    }))
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::String(text) => !text.is_empty(),
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn valid_namespace(namespace: &str) -> bool {
    namespace.split("::").all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|first| first == '_' || first.is_ascii_alphabetic())
            && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
    })
}

/// `/a/b` from any spelling: segments trimmed, empty ones dropped, one leading `/`.
fn sanitize_path(path: &str) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .map(str::trim)
        .filter(|segment| !segment.is_empty())
        .collect();
    format!("/{}", segments.join("/"))
}

/// The path of an absolute URL (what JavaScript's `new URL(url).pathname` gives).
fn url_path(url: &str) -> Result<String, String> {
    let (_, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("server URL {url:?} is not an absolute URL"))?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    Ok(match rest.find('/') {
        Some(index) => rest[index..].to_owned(),
        None => "/".to_owned(),
    })
}

fn context_attributes(parameters: &[Value]) -> Result<Value, String> {
    let mut path = Map::new();
    let mut query = Map::new();
    for parameter in parameters {
        if parameter.get("$ref").is_some() {
            return Err("OpenAPI parameters given as $ref are not supported".into());
        }
        let name = parameter
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        let location = parameter
            .get("in")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        let schema = parameter.get("schema").filter(|schema| truthy(schema));
        let (Some(name), Some(location), Some(schema)) = (name, location, schema) else {
            return Err(
                "OpenAPI operation parameters must have a \"name\", \"schema\", and \"in\"".into(),
            );
        };
        let target = match location {
            "path" => &mut path,
            "query" => &mut query,
            _ => continue,
        };
        let mut converted = common_type(name, schema)?;
        if parameter.get("required").is_some_and(truthy)
            && let Some(object) = converted.as_object_mut()
        {
            object.insert("required".into(), Value::Bool(true));
        }
        target.insert(name.to_owned(), converted);
    }
    Ok(json!({
        "pathParameters": {"type": "Record", "attributes": path},
        "queryStringParameters": {"type": "Record", "attributes": query},
    }))
}

fn common_type(name: &str, schema: &Value) -> Result<Value, String> {
    if let Some(reference) = schema.get("$ref") {
        let reference = reference
            .as_str()
            .filter(|text| text.starts_with("#/components/schemas/"))
            .ok_or_else(|| {
                format!("unsupported $ref for {name}: only #/components/schemas/NAME is supported")
            })?;
        let target = reference.rsplit('/').next().unwrap_or_default();
        return Ok(json!({"type": target}));
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let mut attributes = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (property, definition) in properties {
                    attributes.insert(property.clone(), common_type(property, definition)?);
                }
            }
            Ok(json!({"type": "Record", "attributes": attributes}))
        }
        Some("array") => {
            let items = schema
                .get("items")
                .filter(|items| truthy(items))
                .ok_or_else(|| format!("unsupported schema for {name}: an array without items"))?;
            Ok(json!({"type": "Set", "element": common_type(name, items)?}))
        }
        Some("string") => Ok(json!({"type": "String"})),
        Some("number" | "integer") => Ok(json!({"type": "Long"})),
        Some("boolean") => Ok(json!({"type": "Boolean"})),
        Some(_) => Ok(json!({})),
        None => Err(format!(
            "unsupported schema for {name}: it has neither a type nor a $ref"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_become_actions_with_parameters_in_the_context() {
        let openapi = json!({
            "openapi": "3.0.0",
            "servers": [{"url": "https://api.example.com/v1"}],
            "paths": {
                "/reports/{id}": {
                    "get": {"operationId": "getReport", "parameters": [
                        {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "x-trace", "in": "header", "schema": {"type": "string"}}
                    ]},
                    "delete": {"responses": {}},
                    "head": {"responses": {}}
                }
            }
        });
        let schema = generate(&openapi, "Reports", None).expect("generates");
        let actions = &schema["Reports"]["actions"];
        assert_eq!(
            actions["getReport"]["appliesTo"]["context"]["attributes"],
            json!({
                "pathParameters": {"type": "Record", "attributes": {"id": {"type": "String", "required": true}}},
                "queryStringParameters": {"type": "Record", "attributes": {"limit": {"type": "Long"}}},
            })
        );
        assert_eq!(
            actions["delete /reports/{id}"]["annotations"],
            json!({"httpVerb": "delete", "httpPathTemplate": "/v1/reports/{id}"})
        );
        assert!(actions.get("head /reports/{id}").is_none());
        let parsed = cedar_policy::Schema::from_json_value(schema).expect("Cedar reads it");
        assert_eq!(parsed.actions().count(), 2);
    }

    #[test]
    fn what_aws_refuses_is_refused() {
        let no_paths = json!({"openapi": "3.0.0"});
        assert!(generate(&no_paths, "A", None).is_err());
        let paths = json!({"paths": {}});
        for bad in ["", "1A", "a::", "in", "A B"] {
            assert!(generate(&paths, bad, None).is_err(), "{bad:?}");
        }
        let two_servers =
            json!({"paths": {}, "servers": [{"url": "https://a/x"}, {"url": "https://b/y"}]});
        assert!(generate(&two_servers, "A", None).is_err());
        assert!(generate(&two_servers, "A", Some("/y")).is_ok());
        assert!(generate(&two_servers, "A", Some("/z")).is_err());
    }
}
