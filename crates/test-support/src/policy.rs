//! The route table the adapters' tests share, as a policy file's text, and the few ways a
//! suite departs from it, stated where the suite builds its table.

use std::fmt;

use cognito_authz_core::{Authorizer, AuthorizerBuilder, Policy};
use cognito_authz_testkit::LocalIssuer;
use http::Method;

/// A local issuer (keys served on 127.0.0.1, manual clock) and an authorizer for the policy
/// file text `policy` that trusts it, with further `options`.
///
/// # Panics
/// 127.0.0.1 cannot be bound, or the text or the options are refused.
pub async fn served(policy: &str, options: AuthorizerBuilder) -> (LocalIssuer, Authorizer) {
    let issuer = LocalIssuer::start().await.expect("local issuer");
    let authorizer = issuer
        .authorizer_with(policy, options)
        .unwrap_or_else(|error| panic!("{error}"));
    (issuer, authorizer)
}

/// `builder` with a route per row (`(method, pattern, expression)`, method `"*"` for every
/// method) and, when given, the `unmatched` policy (else its default, `deny`).
///
/// # Panics
/// A method or an expression does not parse.
pub fn with_rows(
    mut builder: AuthorizerBuilder,
    rows: &[(&str, &str, &str)],
    unmatched: Option<&str>,
) -> AuthorizerBuilder {
    for (method, pattern, expression) in rows {
        let policy: Policy = expression
            .parse()
            .unwrap_or_else(|error| panic!("{expression}: {error}"));
        builder = if *method == "*" {
            builder.route(*pattern, policy)
        } else {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            builder.route_methods([method], *pattern, policy)
        };
    }
    if let Some(unmatched) = unmatched {
        let policy: Policy = unmatched
            .parse()
            .unwrap_or_else(|error| panic!("{unmatched}: {error}"));
        builder = builder.unmatched(policy);
    }
    builder
}

/// The `[[issuer]]` table of the tests' example pool (`us-east-1_Example1`, app client
/// `1example23456789`, id and access tokens), for texts loaded where a file needs one even
/// though the builder's issuers replace it.
pub const EXAMPLE_ISSUER: &str = r#"[[issuer]]
name = "main"
user_pool_id = "us-east-1_Example1"
client_ids = ["1example23456789"]
token_use = "any"
"#;

/// A policy file's defaults, named policies and routes; no `[[issuer]]` unless asked for (the
/// testkit's `LocalIssuer::authorizer` supplies the issuer).
///
/// [`PolicyText::standard`] is the table every adapter suite starts from; a suite changes a
/// row with [`route`](PolicyText::route) / [`route_for`](PolicyText::route_for) (same path
/// and methods: replaced in place; otherwise added) and says so in its own file.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct PolicyText {
    issuer: Option<&'static str>,
    unmatched: Option<String>,
    policies: Vec<(String, String)>,
    routes: Vec<Route>,
}

#[derive(Debug, Clone)]
struct Route {
    path: String,
    methods: Vec<String>,
    require: String,
}

impl PolicyText {
    /// No defaults, policies or routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The standard table: a path no route names needs a signed-in caller
    /// (`unmatched = "authenticated"`), `/health` is public, and everything under `/admin/`
    /// needs the named policy `admin` (`group:admin`).
    pub fn standard() -> Self {
        Self::new()
            .unmatched("authenticated")
            .policy("admin", "group:admin")
            .route("/health", "public")
            .route("/admin/{*rest}", "policy:admin")
    }

    /// Starts the text with [`EXAMPLE_ISSUER`].
    pub fn example_issuer(mut self) -> Self {
        self.issuer = Some(EXAMPLE_ISSUER);
        self
    }

    /// `[defaults] unmatched`.
    pub fn unmatched(mut self, require: &str) -> Self {
        self.unmatched = Some(require.to_owned());
        self
    }

    /// No `[defaults] unmatched`: a path no route names is denied (the file's default).
    pub fn without_unmatched(mut self) -> Self {
        self.unmatched = None;
        self
    }

    /// A named policy (replaced if the name is taken).
    pub fn policy(mut self, name: &str, expression: &str) -> Self {
        match self.policies.iter_mut().find(|(have, _)| have == name) {
            Some(entry) => entry.1 = expression.to_owned(),
            None => self.policies.push((name.to_owned(), expression.to_owned())),
        }
        self
    }

    /// A route for every method.
    pub fn route(self, path: &str, require: &str) -> Self {
        self.route_for(&[], path, require)
    }

    /// A route for `methods` (empty: every method); one with the same path and methods is
    /// replaced in place.
    pub fn route_for(mut self, methods: &[&str], path: &str, require: &str) -> Self {
        let methods: Vec<String> = methods.iter().map(|method| (*method).to_owned()).collect();
        let require = require.to_owned();
        match self
            .routes
            .iter_mut()
            .find(|route| route.path == path && route.methods == methods)
        {
            Some(route) => route.require = require,
            None => self.routes.push(Route {
                path: path.to_owned(),
                methods,
                require,
            }),
        }
        self
    }

    /// The table without the route(s) at `path`.
    pub fn without_route(mut self, path: &str) -> Self {
        self.routes.retain(|route| route.path != path);
        self
    }
}

/// The policy file's text.
impl fmt::Display for PolicyText {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(issuer) = self.issuer {
            writeln!(out, "{issuer}")?;
        }
        if let Some(unmatched) = &self.unmatched {
            writeln!(out, "[defaults]\nunmatched = {unmatched:?}\n")?;
        }
        if !self.policies.is_empty() {
            writeln!(out, "[policies]")?;
            for (name, expression) in &self.policies {
                writeln!(out, "{name} = {expression:?}")?;
            }
            writeln!(out)?;
        }
        for route in &self.routes {
            writeln!(out, "[[route]]\npath = {:?}", route.path)?;
            if !route.methods.is_empty() {
                writeln!(out, "methods = {:?}", route.methods)?;
            }
            writeln!(out, "require = {:?}\n", route.require)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::PolicyText;

    #[test]
    fn the_standard_table_with_a_changed_and_an_added_row() {
        let text = PolicyText::standard()
            .route("/admin/{*rest}", "group:admin")
            .route_for(&["GET"], "/reports/{id}", "scope:reports/read")
            .to_string();
        assert_eq!(
            text,
            "[defaults]\nunmatched = \"authenticated\"\n\n[policies]\nadmin = \"group:admin\"\n\n\
             [[route]]\npath = \"/health\"\nrequire = \"public\"\n\n\
             [[route]]\npath = \"/admin/{*rest}\"\nrequire = \"group:admin\"\n\n\
             [[route]]\npath = \"/reports/{id}\"\nmethods = [\"GET\"]\nrequire = \"scope:reports/read\"\n\n"
        );
    }
}
