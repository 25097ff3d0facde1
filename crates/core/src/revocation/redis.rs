//! The Redis backend: the shared truth of a fleet.
//!
//! Each revocation is one key under the configured prefix (`t:` + `jti`, `s:` + `origin_jti`,
//! `u:` + issuer length + `:` + issuer + `sub`) whose value is `"<cut-off> <expiry>"` in Unix
//! seconds and whose TTL ends with the entry. A Lua script writes the key (keeping the later
//! cut-off and expiry when one exists) and publishes the change on `<prefix>changes` in one step,
//! so a subscriber never hears of a key that is not there.
//!
//! Every instance runs one background task: subscribe to the channel, then resynchronise (SCAN
//! the prefix, merge every entry into the replica), then apply each published change; on a lost
//! connection, reconnect with back-off and resynchronise again (pub/sub loses what was published
//! meanwhile), and resynchronise periodically in any case. Merging is a union (a later cut-off
//! or expiry wins), so the order of a resync and concurrent changes does not matter.
//!
//! A connection can also go silent without being reset (a partition, a peer that died without
//! a FIN): it still looks connected. So the replica is trusted only for the staleness limit from
//! its last *proof* of completeness: the start of a resync, or a heartbeat. The task publishes a
//! heartbeat (a sequence number) on a channel of its own that the same subscription listens to;
//! Redis delivers one connection's messages in the order it processed the publications, so once
//! the heartbeat comes back every revocation published before it was sent has been applied. A
//! heartbeat not back within the timeout ends the session, and the task reconnects.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client};

use super::{
    Backend, Revocation, RevocationError, RevocationStore, RevocationStoreBuilder, Shared,
};
use crate::error::ConfigError;

/// Upserts one entry (later cut-off and expiry win, the longer TTL wins) and publishes it.
const UPSERT: &str = r"
local cutoff = tonumber(ARGV[1])
local expires = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local current = redis.call('GET', KEYS[1])
if current then
  local c, e = string.match(current, '^(%d+) (%d+)$')
  if c then
    cutoff = math.max(cutoff, tonumber(c))
    expires = math.max(expires, tonumber(e))
  end
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl > ttl then ttl = pttl end
end
local value = string.format('%d %d', cutoff, expires)
redis.call('SET', KEYS[1], value, 'PX', ttl)
redis.call('PUBLISH', ARGV[4], KEYS[1] .. '\n' .. value)
return 1
";

/// Longest wait between two reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);
/// First wait after a lost connection.
const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(50);

pub(crate) struct RedisBackend {
    client: Client,
    prefix: String,
    channel: String,
    timeout: Duration,
    writer: tokio::sync::Mutex<Option<ConnectionManager>>,
    task: OnceLock<TaskGuard>,
}

/// Stops the background task when the store is dropped.
struct TaskGuard(tokio::task::JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) fn connect(
    builder: RevocationStoreBuilder,
    url: &str,
) -> Result<RevocationStore, ConfigError> {
    builder.validate()?;
    // The URL may carry a password: never repeat it in an error.
    let client = Client::open(url).map_err(|_| {
        ConfigError::new(
            crate::ConfigErrorKind::Revocation,
            "revocation store: not a redis:// URL this client accepts (no TLS)",
        )
    })?;
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        ConfigError::new(
            crate::ConfigErrorKind::Revocation,
            "a Redis revocation store must be created inside a tokio runtime",
        )
    })?;
    let prefix = builder.key_prefix.clone();
    let resync_interval = builder.resync_interval;
    let heartbeat_interval = builder.heartbeat_or_default();
    let timeout = builder.timeout;
    let heartbeat_channel = format!("{prefix}heartbeat:{}", random_id()?);
    let backend = RedisBackend {
        client: client.clone(),
        channel: format!("{prefix}changes"),
        prefix,
        timeout,
        writer: tokio::sync::Mutex::new(None),
        task: OnceLock::new(),
    };
    let store = RevocationStore::new(builder, Backend::Redis(Box::new(backend)), false);
    let Backend::Redis(backend) = &store.inner.backend else {
        unreachable!("built with the Redis backend")
    };
    let task = Follower {
        store: Arc::downgrade(&store.inner),
        client,
        prefix: backend.prefix.clone(),
        channel: backend.channel.clone(),
        heartbeat_channel,
        timeout,
        resync_interval,
        heartbeat_interval,
    };
    let _ = backend.task.set(TaskGuard(runtime.spawn(task.run())));
    Ok(store)
}

impl RedisBackend {
    /// Writes revocations (already given their expiry) to Redis, publishing each.
    pub(crate) async fn write(
        &self,
        revocations: &[Revocation],
        now: u64,
    ) -> Result<(), RevocationError> {
        let mut connection = self.writer().await?;
        let mut pipeline = redis::pipe();
        let mut any = false;
        for revocation in revocations {
            let (key, cutoff, expires) = encode(&self.prefix, revocation);
            let Some(ttl_secs) = expires.checked_sub(now).filter(|ttl| *ttl > 0) else {
                continue;
            };
            any = true;
            pipeline
                .cmd("EVAL")
                .arg(UPSERT)
                .arg(1)
                .arg(key)
                .arg(cutoff)
                .arg(expires)
                .arg(ttl_secs.saturating_mul(1000))
                .arg(&self.channel)
                .ignore();
        }
        if !any {
            return Ok(());
        }
        match tokio::time::timeout(self.timeout, pipeline.query_async::<()>(&mut connection)).await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                tracing::warn!(target: "cognito_authz::revocation", %error, "revocation write to Redis failed");
                Err(RevocationError::Unavailable(format!("{:?}", error.kind())))
            }
            Err(_) => {
                tracing::warn!(target: "cognito_authz::revocation", "revocation write to Redis timed out");
                Err(RevocationError::Unavailable("timed out".to_owned()))
            }
        }
    }

    /// The write connection, made on first use (the connection manager reconnects by itself).
    async fn writer(&self) -> Result<ConnectionManager, RevocationError> {
        let mut slot = self.writer.lock().await;
        if let Some(manager) = &*slot {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let manager = tokio::time::timeout(
            self.timeout.saturating_mul(2),
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        .map_err(|_| RevocationError::Unavailable("connection timed out".to_owned()))?
        .map_err(|error| RevocationError::Unavailable(format!("{:?}", error.kind())))?;
        *slot = Some(manager.clone());
        Ok(manager)
    }
}

/// One Cognito pool is one namespace of users, whichever spelling and region its issuer uses
/// (see [`user_namespace`](super::replica::user_namespace)): a user signed out under one is
/// signed out under all, and two writers recording the same sign-out share one key.
fn canonical_issuer(issuer: &str) -> std::borrow::Cow<'_, str> {
    match super::replica::user_namespace(issuer) {
        ["", issuer, ..] => std::borrow::Cow::Borrowed(issuer),
        pieces => std::borrow::Cow::Owned(pieces.concat()),
    }
}

/// The key and value fields of a revocation.
fn encode(prefix: &str, revocation: &Revocation) -> (String, u64, u64) {
    match revocation {
        Revocation::Token { jti, expires } => (format!("{prefix}t:{jti}"), 0, expires.unwrap_or(0)),
        Revocation::Session {
            origin_jti,
            expires,
        } => (format!("{prefix}s:{origin_jti}"), 0, expires.unwrap_or(0)),
        Revocation::User {
            issuer,
            sub,
            cutoff,
            expires,
        } => {
            let issuer = canonical_issuer(issuer);
            (
                format!("{prefix}u:{}:{issuer}{sub}", issuer.len()),
                *cutoff,
                expires.unwrap_or(0),
            )
        }
    }
}

/// Reads a key and its value back into a revocation; `None` for anything else under the prefix.
fn decode(prefix: &str, key: &str, value: &str) -> Option<Revocation> {
    let (cutoff, expires) = value.split_once(' ')?;
    let (cutoff, expires) = (cutoff.parse::<u64>().ok()?, expires.parse::<u64>().ok()?);
    let rest = key.strip_prefix(prefix)?;
    if let Some(jti) = rest.strip_prefix("t:") {
        return Some(Revocation::token(jti).until(expires));
    }
    if let Some(origin_jti) = rest.strip_prefix("s:") {
        return Some(Revocation::session(origin_jti).until(expires));
    }
    let rest = rest.strip_prefix("u:")?;
    let (length, rest) = rest.split_once(':')?;
    let length: usize = length.parse().ok()?;
    let issuer = rest.get(..length)?;
    let sub = rest.get(length..)?;
    Some(Revocation::user(issuer, sub, cutoff).until(expires))
}

/// `*`, `?`, `[`, `]` and `\` are patterns to SCAN's MATCH: escape them in the prefix.
fn match_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for character in prefix.chars() {
        if matches!(character, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('*');
    pattern
}

/// 128 random bits in hex: names this replica's heartbeat channel, so that no other replica
/// hears its heartbeats.
fn random_id() -> Result<String, ConfigError> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0_u8; 16];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| {
            ConfigError::new(
                crate::ConfigErrorKind::Revocation,
                "revocation store: the system's random number generator failed",
            )
        })?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// The background task that keeps one replica following Redis.
struct Follower {
    store: Weak<Shared>,
    client: Client,
    prefix: String,
    channel: String,
    /// This replica's own channel for heartbeats, listened to by the same subscription.
    heartbeat_channel: String,
    timeout: Duration,
    resync_interval: Duration,
    heartbeat_interval: Duration,
}

/// Why a session with Redis ended.
enum Ended {
    /// The store was dropped: stop.
    StoreDropped,
    /// The connection was lost, went silent or was never made.
    Lost(String),
}

/// A heartbeat published and not heard back yet.
struct Outstanding {
    sequence: u64,
    /// Clock second at which it was published.
    sent_at: u64,
    /// When it must be back by, or the connection counts as lost.
    deadline: tokio::time::Instant,
}

impl Follower {
    fn store(&self) -> Option<RevocationStore> {
        self.store.upgrade().map(|inner| RevocationStore { inner })
    }

    async fn run(self) {
        let mut delay = MIN_RECONNECT_DELAY;
        loop {
            match self.follow().await {
                Ended::StoreDropped => return,
                Ended::Lost(reason) => {
                    let Some(store) = self.store() else { return };
                    let was_connected = store.status().connected;
                    if was_connected {
                        delay = MIN_RECONNECT_DELAY;
                        tracing::warn!(
                            target: "cognito_authz::revocation",
                            reason,
                            "revocation store unreachable: serving from the replica within its staleness limit"
                        );
                        store.mark_disconnected();
                    } else {
                        tracing::debug!(target: "cognito_authz::revocation", reason, "revocation store still unreachable");
                    }
                }
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(MAX_RECONNECT_DELAY);
        }
    }

    /// Connects, subscribes, resynchronises, then follows changes until the connection fails.
    async fn follow(&self) -> Ended {
        let lost = |reason: &str| Ended::Lost(reason.to_owned());
        let Ok(Ok(mut pubsub)) =
            tokio::time::timeout(self.timeout, self.client.get_async_pubsub()).await
        else {
            return lost("cannot connect");
        };
        let channels = [self.channel.as_str(), self.heartbeat_channel.as_str()];
        let Ok(Ok(())) = tokio::time::timeout(self.timeout, pubsub.subscribe(&channels)).await
        else {
            return lost("cannot subscribe");
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let Ok(Ok(mut connection)) = tokio::time::timeout(
            self.timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        else {
            return lost("cannot connect");
        };
        // Subscribed first, so whatever is published during the scan is applied after it.
        let Some(store) = self.store() else {
            return Ended::StoreDropped;
        };
        let started = store.now_secs();
        match self.resync(&mut connection, &store).await {
            Ok(entries) => {
                store.mark_resynchronised(started);
                tracing::info!(
                    target: "cognito_authz::revocation",
                    entries,
                    "revocation store connected: replica resynchronised, following changes"
                );
            }
            Err(reason) => return lost(&reason),
        }
        drop(store);
        let mut messages = pubsub.into_on_message();
        let mut resync = tokio::time::interval(self.resync_interval);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        resync.tick().await;
        let mut heartbeat = tokio::time::interval(self.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut outstanding: Option<Outstanding> = None;
        let mut sequence: u64 = 0;
        loop {
            let deadline = outstanding.as_ref().map(|beat| beat.deadline);
            tokio::select! {
                message = messages.next() => {
                    let Some(store) = self.store() else { return Ended::StoreDropped };
                    let Some(message) = message else {
                        return lost("subscription closed");
                    };
                    if message.get_channel_name() == self.heartbeat_channel {
                        let heard = std::str::from_utf8(message.get_payload_bytes())
                            .ok()
                            .and_then(|payload| payload.parse::<u64>().ok());
                        if let Some(beat) = outstanding.take_if(|beat| Some(beat.sequence) == heard) {
                            store.mark_heard_since(beat.sent_at);
                        }
                        continue;
                    }
                    let change = std::str::from_utf8(message.get_payload_bytes())
                        .ok()
                        .and_then(|payload| payload.rsplit_once('\n'))
                        .and_then(|(key, value)| decode(&self.prefix, key, value));
                    match change {
                        Some(revocation) => store.apply(&[revocation]),
                        None => tracing::warn!(target: "cognito_authz::revocation", "ignored an unreadable revocation message"),
                    }
                }
                () = sleep_until_some(deadline) => {
                    return lost("a heartbeat did not come back within the timeout");
                }
                _ = heartbeat.tick(), if outstanding.is_none() => {
                    let Some(store) = self.store() else { return Ended::StoreDropped };
                    sequence += 1;
                    // Read before publishing: the proof covers what was published before it.
                    let sent_at = store.now_secs();
                    drop(store);
                    let published: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                        .arg(&self.heartbeat_channel)
                        .arg(sequence)
                        .query_async(&mut connection)
                        .await;
                    if let Err(error) = published {
                        return Ended::Lost(format!("heartbeat failed: {:?}", error.kind()));
                    }
                    outstanding = Some(Outstanding {
                        sequence,
                        sent_at,
                        deadline: tokio::time::Instant::now() + self.timeout,
                    });
                }
                _ = resync.tick() => {
                    let Some(store) = self.store() else { return Ended::StoreDropped };
                    let started = store.now_secs();
                    match self.resync(&mut connection, &store).await {
                        Ok(_) => {
                            store.purge_expired();
                            store.mark_resynchronised(started);
                        }
                        Err(reason) => return Ended::Lost(reason),
                    }
                }
            }
        }
    }

    /// Merges every entry under the prefix into the replica; returns how many were read.
    async fn resync(
        &self,
        connection: &mut MultiplexedConnection,
        store: &RevocationStore,
    ) -> Result<usize, String> {
        let pattern = match_pattern(&self.prefix);
        let mut cursor: u64 = 0;
        let mut found = Vec::new();
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(connection)
                .await
                .map_err(|error| format!("resync scan failed: {:?}", error.kind()))?;
            if !keys.is_empty() {
                let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                    .arg(&keys)
                    .query_async(connection)
                    .await
                    .map_err(|error| format!("resync read failed: {:?}", error.kind()))?;
                for (key, value) in keys.iter().zip(values) {
                    // A key that expired between SCAN and MGET reads as nil; a key that is not
                    // text was not written by a store.
                    let decoded = value.and_then(|value| {
                        let key = std::str::from_utf8(key).ok()?;
                        decode(&self.prefix, key, std::str::from_utf8(&value).ok()?)
                    });
                    if let Some(revocation) = decoded {
                        found.push(revocation);
                    }
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        store.apply(&found);
        Ok(found.len())
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_round_trip() {
        let prefix = "p:";
        for revocation in [
            Revocation::token("a:b\nc").until(10),
            Revocation::session("o").until(11),
            Revocation::user(
                "https://issuer-cognito-idp.eu-west-1.amazonaws.com/p",
                "s:1",
                5,
            )
            .until(12),
            Revocation::user(
                "https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_Abc",
                "s:1",
                5,
            )
            .until(12),
            Revocation::user("x", "", 5).until(12),
        ] {
            let (key, cutoff, expires) = encode(prefix, &revocation);
            let back = decode(prefix, &key, &format!("{cutoff} {expires}")).expect("decodes");
            let expected = match revocation {
                Revocation::User {
                    issuer,
                    sub,
                    cutoff,
                    expires,
                } => Revocation::User {
                    issuer: canonical_issuer(&issuer).into_owned(),
                    sub,
                    cutoff,
                    expires,
                },
                other => other,
            };
            assert_eq!(back, expected);
        }
    }

    #[test]
    fn every_spelling_and_region_of_a_pool_is_one_key() {
        let pool = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc";
        for issuer in [
            pool,
            "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc",
            "https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_Abc",
            "https://issuer-cognito-idp.eu-west-1.amazonaws.com/us-east-1_Abc",
        ] {
            assert_eq!(canonical_issuer(issuer), pool, "{issuer}");
        }
        for other in [
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other",
            "https://cognito-idp.us-east-1.amazonaws.com.cn/us-east-1_Abc",
            "http://localhost:9229/local_pool",
            "https://idp.example",
        ] {
            assert_ne!(canonical_issuer(other), pool, "{other}");
        }
        // Not a pool id with its region: only the spelling is folded.
        assert_eq!(
            canonical_issuer("https://issuer-cognito-idp.eu-west-1.amazonaws.com/plain"),
            "https://cognito-idp.eu-west-1.amazonaws.com/plain"
        );
    }

    #[test]
    fn foreign_keys_and_values_are_ignored() {
        for (key, value) in [
            ("p:x:1", "0 1"),
            ("q:t:1", "0 1"),
            ("p:t:1", "1"),
            ("p:t:1", "a b"),
            ("p:u:99:short", "0 1"),
            ("p:u:x:short", "0 1"),
        ] {
            assert_eq!(decode("p:", key, value), None, "{key} {value}");
        }
    }

    #[test]
    fn the_scan_pattern_escapes_the_prefix() {
        assert_eq!(match_pattern("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:*");
    }
}
