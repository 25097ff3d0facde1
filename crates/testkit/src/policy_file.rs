//! Your application's own policy file, tested against a local issuer: the file's routes,
//! policies, token source and issuer rules (`token_use`, client ids, leeway, names) as they are,
//! with the keys served by a [`LocalIssuer`] on 127.0.0.1 instead of the pool's.

use std::path::Path;

use cognito_authz_core::{Authorizer, ConfigError, PolicyFile, parse_user_pool_id};

use crate::issuer::{LocalIssuer, StartError};

impl LocalIssuer {
    /// Starts a local issuer that stands in for the first `[[issuer]]` of a policy file (its
    /// pool id, or its exact Cognito issuer, and its first client id), and loads the file
    /// against it: one call from your `policy.toml` to an [`Authorizer`] your router takes and
    /// an issuer that mints tokens it accepts.
    ///
    /// ```
    /// use cognito_authz_core::Authorizer;
    /// use cognito_authz_testkit::LocalIssuer;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let dir = std::env::temp_dir().join(format!("for-policy-file-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let path = dir.join("policy.toml");
    /// std::fs::write(&path, r#"
    ///     [[issuer]]
    ///     name = "main"
    ///     user_pool_id = "eu-west-1_MyPool1"
    ///     client_ids = ["myclient"]
    ///     token_use = "access"
    ///
    ///     [[route]]
    ///     path = "/admin/{*rest}"
    ///     require = "group:admin"
    /// "#)?;
    /// let (issuer, authorizer) = LocalIssuer::for_policy_file(&path).await?;
    /// let admin = issuer.access_token().groups(["admin"]).sign();
    /// let headers = http::HeaderMap::from_iter([(
    ///     http::header::AUTHORIZATION,
    ///     format!("Bearer {admin}").parse()?,
    /// )]);
    /// let decision = authorizer.authorize(&http::Method::GET, "/admin/users", &headers).await;
    /// assert!(decision.is_allowed());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// The issuer keeps the testkit's defaults otherwise: a [`ManualClock`](crate::ManualClock)
    /// shared with the authorizer, and a fresh key. Keep it alive while the authorizer is used:
    /// it serves the key set.
    ///
    /// # Errors
    /// The file does not load, its first issuer is not a Cognito issuer (the testkit mints
    /// Cognito tokens), or the key server cannot bind.
    pub async fn for_policy_file(
        path: impl AsRef<Path>,
    ) -> Result<(LocalIssuer, Authorizer), StartError> {
        let file = PolicyFile::load(path)?;
        let first = file
            .issuers()
            .first()
            .filter(|issuer| issuer.is_cognito())
            .ok_or_else(|| {
                ConfigError::new(
                    cognito_authz_core::ConfigErrorKind::PolicyFile,
                    "the policy file's first [[issuer]] must be a Cognito pool or Cognito issuer \
                     for the testkit to stand in for it",
                )
            })?;
        let mut builder = LocalIssuer::builder();
        let iss = first.issuers().into_iter().next().unwrap_or_default();
        let pool = iss
            .strip_prefix("https://cognito-idp.")
            .and_then(|rest| rest.split_once(".amazonaws.com/"))
            .map(|(_, pool)| pool)
            .filter(|pool| parse_user_pool_id(pool).is_ok());
        builder = match pool {
            Some(pool) => builder.pool_id(pool),
            None => builder.cognito_issuer(iss.as_str()),
        };
        if let Some(client) = first.client_ids().and_then(<[String]>::first) {
            builder = builder.client_id(client);
        }
        let issuer = builder.start().await?;
        let authorizer = issuer.authorizer_from(file)?;
        Ok((issuer, authorizer))
    }

    /// Loads a policy file with every issuer's keys fetched from this issuer's key server and
    /// times taken from this issuer's clock; everything else is the file's. Tokens must name
    /// the file's issuer and client: start this issuer with them, or use
    /// [`LocalIssuer::for_policy_file`].
    ///
    /// # Errors
    /// The file does not load, or this issuer has no key server ([`LocalIssuer::offline`]).
    pub fn authorizer_from_file(&self, path: impl AsRef<Path>) -> Result<Authorizer, StartError> {
        self.authorizer_from(PolicyFile::load(path)?)
    }

    fn authorizer_from(&self, file: PolicyFile) -> Result<Authorizer, StartError> {
        let url = self.jwks_url().ok_or_else(|| {
            ConfigError::new(
                cognito_authz_core::ConfigErrorKind::KeySet,
                "an offline local issuer serves no keys: start it with a key server",
            )
        })?;
        let issuers = file
            .issuers()
            .iter()
            .map(|issuer| issuer.clone().with_jwks_url(url.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        let options = Authorizer::builder().issuers(issuers);
        let options = options.shared_clock(self.clock());
        Ok(options.parsed_policy_file(file).build()?)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use http::{HeaderMap, Method, header::AUTHORIZATION};

    use super::*;

    fn policy(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cognito-authz-testkit-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("policy.toml");
        std::fs::write(&path, text).expect("policy file");
        path
    }

    async fn status(authorizer: &Authorizer, path: &str, token: Option<&str>) -> u16 {
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            let value = format!("Bearer {token}").parse().expect("header value");
            headers.insert(AUTHORIZATION, value);
        }
        match authorizer.authorize(&Method::GET, path, &headers).await {
            cognito_authz_core::Decision::Allow { .. } => 200,
            cognito_authz_core::Decision::Deny(denial) => denial.status().as_u16(),
        }
    }

    #[tokio::test]
    async fn the_files_own_pool_client_and_rules_are_kept() {
        let path = policy(
            "rules",
            r#"
[[issuer]]
name = "main"
user_pool_id = "eu-west-1_MyPool1"
client_ids = ["myclient", "other"]
token_use = "access"
jwks_file = "does-not-exist.json"

[defaults]
unmatched = "authenticated"

[[route]]
path = "/health"
require = "public"

[[route]]
path = "/admin/{*rest}"
require = "group:admin and issuer:main"
"#,
        );
        let (issuer, authorizer) = LocalIssuer::for_policy_file(&path).await.expect("loads");
        assert_eq!(issuer.pool_id(), "eu-west-1_MyPool1");
        assert_eq!(issuer.client_id(), "myclient");
        let admin = issuer.access_token().groups(["admin"]).sign();
        let user = issuer.access_token().sign();
        let id_token = issuer.id_token().groups(["admin"]).sign();
        let other_client = issuer
            .access_token()
            .client_id("nope")
            .groups(["admin"])
            .sign();
        let cases = [
            ("/health", None, 200),
            ("/me", None, 401),
            ("/me", Some(&user), 200),
            ("/admin/users", Some(&user), 403),
            ("/admin/users", Some(&admin), 200),
            // The file's token_use and client ids still decide.
            ("/admin/users", Some(&id_token), 401),
            ("/admin/users", Some(&other_client), 401),
        ];
        for (route, token, expected) in cases {
            assert_eq!(
                status(&authorizer, route, token.map(String::as_str)).await,
                expected,
                "{route}"
            );
        }
        // The keys came from the local server, not the file's jwks_file.
        assert_eq!(issuer.server().expect("server").fetch_count(), 1);
        // The shared manual clock expires tokens.
        issuer
            .manual_clock()
            .expect("manual")
            .advance(std::time::Duration::from_secs(7200));
        assert_eq!(status(&authorizer, "/me", Some(&user)).await, 401);
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_stood_in_for_is_an_error() {
        let oidc = policy(
            "oidc",
            r#"
[[issuer]]
name = "google"
issuer = "https://accounts.google.com"
audiences = ["x"]
"#,
        );
        let error = LocalIssuer::for_policy_file(&oidc)
            .await
            .expect_err("generic OIDC");
        assert!(error.to_string().contains("Cognito"), "{error}");
        let missing = LocalIssuer::for_policy_file("/nonexistent/policy.toml")
            .await
            .expect_err("missing");
        assert!(missing.to_string().contains("cannot read"), "{missing}");
        let offline = LocalIssuer::offline();
        let path = policy(
            "offline",
            "[[issuer]]\nname = \"m\"\nuser_pool_id = \"us-east-1_LocalTest1\"\n\
             client_ids = [\"localclient123\"]\ntoken_use = \"any\"\n",
        );
        assert!(offline.authorizer_from_file(&path).is_err());
    }
}
