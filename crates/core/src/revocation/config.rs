//! The policy file's `[revocation]` section.

use std::time::Duration;

use serde::Deserialize;

use super::{RevocationStore, RevocationStoreBuilder, WhenStale};
use crate::error::ConfigError;
use crate::verify::clock::SharedClock;

/// Where revocations are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation {
    /// In this process only.
    Memory,
    /// In Redis at this URL (needs the `redis` feature).
    Redis(String),
}

/// A validated `[revocation]` section:
///
/// ```toml
/// [revocation]
/// store = "redis://127.0.0.1:6379/0"    # or "memory"
/// staleness_limit_secs = 60             # how long a replica unproven by Redis is trusted
/// when_stale = "refuse"                 # then: "refuse" (503) or "serve"
/// key_prefix = "cognito-authz:revocation:"
/// # max_token_lifetime_secs = 86400     # longest id/access token life (Cognito: 1 day)
/// # resync_interval_secs = 60
/// # heartbeat_interval_secs = 15        # default: a quarter of staleness_limit_secs, ≤ 15 s
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationConfig {
    store: StoreLocation,
    staleness_limit: Duration,
    when_stale: WhenStale,
    key_prefix: String,
    max_token_lifetime: Duration,
    resync_interval: Duration,
    heartbeat_interval: Option<Duration>,
    /// How long entries are kept past their bound: at least every issuer's leeway in the file.
    leeway: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevocationEntry {
    store: String,
    staleness_limit_secs: Option<u64>,
    when_stale: Option<String>,
    key_prefix: Option<String>,
    max_token_lifetime_secs: Option<u64>,
    resync_interval_secs: Option<u64>,
    heartbeat_interval_secs: Option<u64>,
}

impl RevocationEntry {
    pub(crate) fn validate(self) -> Result<RevocationConfig, String> {
        let store = match self.store.as_str() {
            "memory" => StoreLocation::Memory,
            url if url.starts_with("rediss://") => {
                return Err(
                    "revocation store: rediss:// (Redis over TLS) is not supported yet; use \
                     redis:// inside a private network"
                        .to_owned(),
                );
            }
            url if url.starts_with("redis://") => {
                if !cfg!(feature = "redis") {
                    return Err(
                        "revocation store is a Redis URL but cognito-authz was built without the \
                         `redis` feature"
                            .to_owned(),
                    );
                }
                StoreLocation::Redis(url.to_owned())
            }
            _ => {
                return Err("revocation store must be \"memory\" or a redis:// URL".to_owned());
            }
        };
        let when_stale = match self.when_stale.as_deref() {
            None => WhenStale::default(),
            Some(text) => WhenStale::parse(text).ok_or_else(|| {
                format!("revocation when_stale must be \"refuse\" or \"serve\", not {text:?}")
            })?,
        };
        let key_prefix = self
            .key_prefix
            .unwrap_or_else(|| super::DEFAULT_KEY_PREFIX.to_owned());
        if key_prefix.is_empty() {
            return Err("revocation key_prefix must not be empty".to_owned());
        }
        if self.resync_interval_secs == Some(0) {
            return Err("revocation resync_interval_secs must be positive".to_owned());
        }
        if self.heartbeat_interval_secs == Some(0) {
            return Err("revocation heartbeat_interval_secs must be positive".to_owned());
        }
        Ok(RevocationConfig {
            store,
            staleness_limit: self
                .staleness_limit_secs
                .map_or(super::DEFAULT_STALENESS_LIMIT, Duration::from_secs),
            when_stale,
            key_prefix,
            max_token_lifetime: self
                .max_token_lifetime_secs
                .map_or(super::DEFAULT_MAX_TOKEN_LIFETIME, Duration::from_secs),
            resync_interval: self
                .resync_interval_secs
                .map_or(super::DEFAULT_RESYNC_INTERVAL, Duration::from_secs),
            heartbeat_interval: self.heartbeat_interval_secs.map(Duration::from_secs),
            leeway: super::DEFAULT_LEEWAY,
        })
    }
}

impl RevocationConfig {
    /// Where revocations are kept.
    pub fn store(&self) -> &StoreLocation {
        &self.store
    }

    /// How long a replica cut off from Redis is trusted.
    pub fn staleness_limit(&self) -> Duration {
        self.staleness_limit
    }

    /// What happens past the staleness limit.
    pub fn when_stale(&self) -> WhenStale {
        self.when_stale
    }

    /// Prefix of every Redis key.
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// Whether `other` names the same store with the same settings (the leeway aside, which
    /// follows the issuers' and is checked against them).
    pub(crate) fn same_store(&self, other: &Self) -> bool {
        Self {
            leeway: other.leeway,
            ..self.clone()
        } == *other
    }

    /// Keeps entries at least `leeway` past their bound (an issuer of the file accepts that
    /// much clock skew).
    pub(crate) fn cover_leeway(&mut self, leeway: Duration) {
        self.leeway = self.leeway.max(leeway);
    }

    /// A store builder with these settings and `clock`: entries are kept past their bound by
    /// the default leeway or the largest leeway of the file's issuers, whichever is longer.
    pub fn builder(&self, clock: SharedClock) -> RevocationStoreBuilder {
        let builder = match self.heartbeat_interval {
            Some(interval) => RevocationStore::builder().heartbeat_interval(interval),
            None => RevocationStore::builder(),
        };
        builder
            .shared_clock(clock)
            .leeway(self.leeway)
            .staleness_limit(self.staleness_limit)
            .when_stale(self.when_stale)
            .key_prefix(self.key_prefix.clone())
            .max_token_lifetime(self.max_token_lifetime)
            .resync_interval(self.resync_interval)
    }

    /// Builds the store (a Redis store starts following Redis in the background).
    ///
    /// # Errors
    /// A Redis store outside a tokio runtime, or a URL the client refuses.
    pub fn build(&self, clock: SharedClock) -> Result<RevocationStore, ConfigError> {
        let builder = self.builder(clock);
        match &self.store {
            StoreLocation::Memory => Ok(builder.memory()),
            #[cfg(feature = "redis")]
            StoreLocation::Redis(url) => builder.redis(url),
            #[cfg(not(feature = "redis"))]
            StoreLocation::Redis(_) => Err(ConfigError::new(
                crate::ConfigErrorKind::Revocation,
                "a Redis revocation store needs the `redis` feature",
            )),
        }
    }
}

/// The store an authorizer loaded from `file` uses: `given` if any, else the file's section.
pub(crate) fn from_policy_file(
    file: &crate::PolicyFile,
    given: Option<RevocationStore>,
    clock: SharedClock,
) -> Result<Option<RevocationStore>, crate::ConfigError> {
    if given.is_some() {
        return Ok(given);
    }
    file.revocation()
        .map(|config| {
            config
                .build(clock)
                .map_err(|error| file.file_error(error.to_string()))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use crate::PolicyFile;

    const ISSUER: &str = r#"[[issuer]]
user_pool_id = "us-east-1_Example1"
client_ids = ["1example23456789"]
token_use = "access"
"#;

    fn parse(section: &str) -> Result<PolicyFile, crate::ConfigError> {
        PolicyFile::parse(&format!("{ISSUER}\n{section}"), ".", "policy.toml")
    }

    #[test]
    fn a_revocation_section_is_read_with_its_defaults() {
        let file = parse("[revocation]\nstore = \"memory\"\n").expect("valid");
        let config = file.revocation().expect("section");
        assert_eq!(*config.store(), super::StoreLocation::Memory);
        assert_eq!(
            config.staleness_limit(),
            super::super::DEFAULT_STALENESS_LIMIT
        );
        assert_eq!(config.when_stale(), super::WhenStale::Refuse);
        assert_eq!(config.key_prefix(), super::super::DEFAULT_KEY_PREFIX);
        assert!(parse("").expect("valid").revocation().is_none());
    }

    #[test]
    fn revocation_mistakes_are_reported_at_the_section() {
        for (section, message) in [
            (
                "[revocation]\nstore = \"memcached://x\"\n",
                "must be \"memory\" or a redis://",
            ),
            (
                "[revocation]\nstore = \"memory\"\nwhen_stale = \"maybe\"\n",
                "when_stale",
            ),
            (
                "[revocation]\nstore = \"memory\"\nkey_prefix = \"\"\n",
                "key_prefix",
            ),
            (
                "[revocation]\nstore = \"memory\"\nresync_interval_secs = 0\n",
                "resync_interval",
            ),
            (
                "[revocation]\nstore = \"memory\"\nheartbeat_interval_secs = 0\n",
                "heartbeat_interval",
            ),
            (
                "[revocation]\nstore = \"memory\"\nstaleness = 5\n",
                "unknown field",
            ),
            ("[revocation]\nwhen_stale = \"serve\"\n", "store"),
        ] {
            let error = parse(section).expect_err(section);
            assert!(error.to_string().contains(message), "{section}: {error}");
            // At the section, or at the offending key inside it.
            assert!((6..=8).contains(&error.line()), "{section}: {error}");
        }
    }

    #[test]
    fn the_heartbeat_interval_reaches_the_store() {
        let clock = crate::verify::clock::SharedClock::default();
        let file = parse("[revocation]\nstore = \"memory\"\nheartbeat_interval_secs = 10\n")
            .expect("valid");
        let config = file.revocation().expect("section");
        assert_eq!(
            config.builder(clock.clone()).heartbeat_or_default(),
            std::time::Duration::from_secs(10)
        );
        // Unset: a quarter of the staleness limit.
        let file =
            parse("[revocation]\nstore = \"memory\"\nstaleness_limit_secs = 20\n").expect("valid");
        let config = file.revocation().expect("section");
        assert_eq!(
            config.builder(clock).heartbeat_or_default(),
            std::time::Duration::from_secs(5)
        );
    }

    /// A Redis store whose staleness limit leaves no room for a heartbeat and its round trip
    /// is refused when the file is loaded.
    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn a_redis_store_without_room_for_a_heartbeat_is_refused() {
        let clock = crate::verify::clock::SharedClock::default();
        for section in [
            "[revocation]\nstore = \"redis://127.0.0.1:1/\"\nstaleness_limit_secs = 2\n",
            "[revocation]\nstore = \"redis://127.0.0.1:1/\"\nstaleness_limit_secs = 20\n\
             heartbeat_interval_secs = 18\n",
        ] {
            let file = parse(section).expect("valid section");
            let error = file
                .revocation()
                .expect("section")
                .build(clock.clone())
                .expect_err(section);
            assert!(error.to_string().contains("heartbeat_interval"), "{error}");
        }
    }
}
