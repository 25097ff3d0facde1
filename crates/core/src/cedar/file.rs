//! The policy file's `[cedar]` section.
//!
//! ```toml
//! [cedar]
//! namespace = "Reports"
//! schema = "reports.cedarschema"          # relative to the policy file; JSON when it starts with {
//! policies = ["policies"]                 # files and folders (every .cedar file in them)
//! # principal_type = "User"               # defaults: AWS's names
//! # group_type = "UserGroup"
//! # application_type = "Application"
//!
//! [cedar.actions]                         # optional: action names other than "<method> <path>"
//! "GET /reports/{id}" = "getReport"
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use http::Method;
use serde::Deserialize;

use super::{Cedar, CedarConfig, CedarError, resolve};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    namespace: String,
    schema: String,
    policies: OneOrMany,
    principal_type: Option<String>,
    group_type: Option<String>,
    application_type: Option<String>,
    #[serde(default)]
    actions: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Reads and loads a `[cedar]` section (`value`), paths relative to `base`.
///
/// # Errors
/// `Err((None, message))` for a problem in the section itself; `Err((Some(error), _))` for one
/// inside a Cedar file, located there.
pub(crate) fn load(value: toml::Value, base: &Path) -> Result<Cedar, (Option<CedarError>, String)> {
    let section: Section = value
        .try_into()
        .map_err(|error: toml::de::Error| (None, format!("[cedar]: {}", error.message())))?;
    let mut config =
        CedarConfig::new(section.namespace).schema_file(resolve(base, &section.schema));
    if let Some(name) = section.principal_type {
        config = config.principal_type(name);
    }
    if let Some(name) = section.group_type {
        config = config.group_type(name);
    }
    if let Some(name) = section.application_type {
        config = config.application_type(name);
    }
    let policies = match section.policies {
        OneOrMany::One(path) => vec![path],
        OneOrMany::Many(paths) => paths,
    };
    for path in policies {
        let path = resolve(base, &path);
        config = if path.is_dir() {
            config.policies_folder(path)
        } else {
            config.policies_file(path)
        };
    }
    for (key, name) in section.actions {
        let (method, pattern) = key.split_once(' ').ok_or_else(|| {
            (
                None,
                format!("[cedar.actions]: {key:?} is not \"METHOD /path\""),
            )
        })?;
        let method = Method::from_str(method)
            .map_err(|_| (None, format!("[cedar.actions]: {method:?} is not a method")))?;
        config = config.action(method, pattern.trim(), name);
    }
    config.build().map_err(|error| {
        let message = error.to_string();
        (Some(error), message)
    })
}
