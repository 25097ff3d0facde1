//! Entity type names: the namespace and the principal, group and application types.

use std::str::FromStr;

use cedar_policy::{EntityId, EntityTypeName, EntityUid};

use super::CedarError;

/// The entity type names of one Cedar set-up, each relative to the namespace unless written
/// with `::`.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub(crate) namespace: String,
    pub(crate) principal_type: String,
    pub(crate) group_type: String,
    pub(crate) application_type: String,
}

impl Names {
    /// The qualified type name (`NS::User` for `User`, `Other::User` as written).
    pub(crate) fn qualify(&self, type_name: &str) -> String {
        if type_name.contains("::") || self.namespace.is_empty() {
            type_name.to_owned()
        } else {
            format!("{}::{}", self.namespace, type_name)
        }
    }

    pub(crate) fn type_name(&self, type_name: &str) -> Result<EntityTypeName, CedarError> {
        let qualified = self.qualify(type_name);
        EntityTypeName::from_str(&qualified).map_err(|error| {
            CedarError::new(format!(
                "{qualified:?} is not a Cedar entity type name: {error}"
            ))
        })
    }

    /// `TYPE::"id"` with the type qualified; any id is allowed.
    pub(crate) fn uid(&self, type_name: &str, id: &str) -> Result<EntityUid, CedarError> {
        Ok(EntityUid::from_type_name_and_id(
            self.type_name(type_name)?,
            EntityId::new(id),
        ))
    }

    /// The default resource: `NS::Application::"NS"`, as AWS's Express integration names it.
    pub(crate) fn application_uid(&self) -> Result<EntityUid, CedarError> {
        self.uid(&self.application_type, &self.namespace)
    }

    /// `NS::Action::"name"`.
    pub(crate) fn action_uid(&self, name: &str) -> Result<EntityUid, CedarError> {
        self.uid("Action", name)
    }
}
