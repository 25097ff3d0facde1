//! A ready [`Authorizer`] from a policy file's text, with this issuer as its only issuer: the
//! shortest way from a route table to tests of it.

use cognito_authz_core::{AcceptedTokenUse, Authorizer, AuthorizerBuilder, ConfigError};

use crate::issuer::LocalIssuer;

impl LocalIssuer {
    /// An authorizer with the routes, named policies, defaults and token source of
    /// `policy_toml` (a policy file's text), this issuer as its only issuer (accepting id and
    /// access tokens of its client, with its keys) and this issuer's clock: tokens this issuer
    /// mints verify, and [`ManualClock::advance`](crate::ManualClock::advance) moves both.
    ///
    /// The text's own `[[issuer]]` tables, if any, are replaced (their key files are not read),
    /// so the same route table serves a test and production; a text without any gets this
    /// issuer's. Works for a started and an [`offline`](LocalIssuer::offline) issuer alike.
    ///
    /// ```
    /// use cognito_authz_testkit::LocalIssuer;
    /// use http::{HeaderMap, Method, header::AUTHORIZATION};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let issuer = LocalIssuer::offline();
    /// let authorizer = issuer.authorizer(
    ///     r#"
    ///     [[route]]
    ///     path = "/admin/{*rest}"
    ///     require = "group:admin"
    ///     "#,
    /// )?;
    /// let admin = issuer.access_token().groups(["admin"]).sign();
    /// let headers = HeaderMap::from_iter([(AUTHORIZATION, format!("Bearer {admin}").parse()?)]);
    /// let decision = authorizer.authorize(&Method::GET, "/admin/users", &headers).await;
    /// assert!(decision.is_allowed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// The text is not a valid policy file (the error names `<string>`, the line and the
    /// column).
    pub fn authorizer(&self, policy_toml: &str) -> Result<Authorizer, ConfigError> {
        self.authorizer_with(policy_toml, Authorizer::builder())
    }

    /// [`LocalIssuer::authorizer`] with further options (a verified-token cache, a realm, …).
    /// The options' issuers and clock are replaced by this issuer and its clock.
    ///
    /// # Errors
    /// As [`LocalIssuer::authorizer`], or an option the authorizer refuses (a bad realm).
    pub fn authorizer_with(
        &self,
        policy_toml: &str,
        options: AuthorizerBuilder,
    ) -> Result<Authorizer, ConfigError> {
        let options = options.issuers([self.issuer_config(AcceptedTokenUse::Any)]);
        let options = options.shared_clock(self.clock());
        if declares_issuers(policy_toml) {
            options.policy_text(policy_toml, ".").build()
        } else {
            // Appended, so an error in the caller's text keeps its line numbers.
            let text = format!(
                "{policy_toml}\n[[issuer]]\ncognito_issuer = {:?}\nclient_ids = [{:?}]\ntoken_use = \"any\"\n",
                self.iss(),
                self.client_id(),
            );
            options.policy_text(&text, ".").build()
        }
    }
}

/// Whether a policy file's text has an `[[issuer]]` table header.
fn declares_issuers(policy_toml: &str) -> bool {
    policy_toml.lines().any(|line| {
        line.trim_start()
            .strip_prefix("[[")
            .is_some_and(|rest| rest.trim_start().starts_with("issuer") && rest.contains("]]"))
    })
}
