//! Revocation across a fleet, on a real `redis-server`: two instances in one process sharing one
//! Redis, Redis killed and restarted under them, entries expiring, a new instance loading what is
//! there, and the propagation delay over pub/sub.
//!
//! `redis-server` comes from Debian's package (`scripts/test.sh` installs it); every test starts
//! its own on a free 127.0.0.1 port with persistence off and stops it by PID. Nothing waits by
//! sleeping: tests await the stores' status changes ([`RevocationStore::subscribe`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cognito_authz::revocation::{
    Revocation, RevocationError, RevocationStatus, RevocationStore, WhenStale,
};
use cognito_authz::{AcceptedTokenUse, Authorizer, ErrorKind, Policy, Verifier};
use cognito_authz_test_support::free_loopback_port;
use cognito_authz_testkit::LocalIssuer;
use http::{HeaderMap, HeaderValue, Method};

/// Connection attempts while redis-server starts, `READY_POLL` apart: 10 s at most.
const READY_ATTEMPTS: u32 = 200;
const READY_POLL: Duration = Duration::from_millis(50);
/// Longest a test waits for a store to see a change.
const AWAIT: Duration = Duration::from_secs(30);
const ADMIN_PASSWORD: &str = "revocation-test-admin";

/// A `redis-server` child process on 127.0.0.1 with persistence off, killed on drop.
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
    folder: PathBuf,
}

impl RedisServer {
    /// Starts redis-server on a free loopback port.
    pub(crate) async fn start() -> Self {
        let port = free_loopback_port();
        let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("redis-{port}"));
        std::fs::create_dir_all(&folder).expect("redis work folder");
        let mut server = Self {
            child: None,
            port,
            folder,
        };
        server.run(false).await;
        server
    }

    /// Runs redis-server on this port; `locked` disables the default user, so only the
    /// `admin` user (password [`ADMIN_PASSWORD`]) can connect until [`RedisServer::unlock`].
    async fn run(&mut self, locked: bool) {
        let config = self.folder.join("redis.conf");
        let mut text = format!(
            "port {}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir {}\n\
             user admin on >{ADMIN_PASSWORD} ~* &* +@all\n",
            self.port,
            self.folder.display()
        );
        if locked {
            text.push_str("user default off\n");
        }
        std::fs::write(&config, text).expect("write redis.conf");
        let program = std::env::var_os("COGNITO_AUTHZ_REDIS")
            .map_or_else(|| PathBuf::from("redis-server"), PathBuf::from);
        let log = std::fs::File::create(self.folder.join("redis.log")).expect("redis log");
        let child = Command::new(&program)
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error}; install it with \
                     `apt-get update && apt-get install -y redis-server` (scripts/test.sh does), \
                     or set COGNITO_AUTHZ_REDIS to a redis-server binary",
                    program.display()
                )
            });
        self.child = Some(child);
        for _ in 0..READY_ATTEMPTS {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().expect("redis-server status"))
            {
                panic!(
                    "redis-server exited ({status}) on port {}; its log:\n{}",
                    self.port,
                    std::fs::read_to_string(self.folder.join("redis.log")).unwrap_or_default()
                );
            }
            if self.admin().await.is_ok() {
                return;
            }
            tokio::time::sleep(READY_POLL).await;
        }
        panic!("redis-server did not answer on 127.0.0.1:{}", self.port);
    }

    /// Kills the server (by PID) and waits for it to exit.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a fresh, empty server on the same port.
    pub(crate) async fn restart(&mut self, locked: bool) {
        self.kill();
        self.run(locked).await;
    }

    /// Lets the default user (the stores) in again.
    pub(crate) async fn unlock(&self) {
        let mut admin = self.admin().await.expect("admin connection");
        let () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg("default")
            .arg("on")
            .arg("nopass")
            .arg("~*")
            .arg("&*")
            .arg("+@all")
            .query_async(&mut admin)
            .await
            .expect("ACL SETUSER");
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Writes a revocation record (`key`, valid until `expires`, kept an hour) the way the
    /// store does, but with no message on the channel: only a resync can find it.
    pub(crate) async fn record_unannounced(&self, key: &str, expires: u64) {
        let mut admin = self.admin().await.expect("admin");
        let () = redis::cmd("SET")
            .arg(key)
            .arg(format!("0 {expires}"))
            .arg("PX")
            .arg(3_600_000)
            .query_async(&mut admin)
            .await
            .expect("SET");
    }

    /// A connection as the admin user (works while the server is locked).
    pub(crate) async fn admin(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(format!(
            "redis://admin:{ADMIN_PASSWORD}@127.0.0.1:{}/",
            self.port
        ))?;
        tokio::time::timeout(
            Duration::from_secs(2),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| redis::RedisError::from(std::io::Error::other("connect timed out")))?
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How often the replicas of these tests prove their subscription live.
const HEARTBEAT: Duration = Duration::from_millis(50);

/// Awaits a heartbeat sent at the store clock's current second coming back: after the tests
/// move the clock forward, the replica is proven complete at the new time only then.
async fn proven_now(store: &RevocationStore, issuer: &LocalIssuer) {
    let now = now(issuer);
    until(store, "a heartbeat sent now came back", |status| {
        status.fresh_at >= Some(now)
    })
    .await;
}

/// Awaits a status of `store` that satisfies `condition`.
pub(crate) async fn until(
    store: &RevocationStore,
    what: &str,
    condition: impl FnMut(&RevocationStatus) -> bool,
) {
    let mut receiver = store.subscribe();
    tokio::time::timeout(AWAIT, receiver.wait_for(condition))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting until {what}: {:?}", store.status()))
        .expect("store alive");
}

/// One instance of a service: a store following Redis and an authorizer using it.
struct Instance {
    store: RevocationStore,
    authorizer: Authorizer,
}

impl Instance {
    fn new(issuer: &LocalIssuer, store: RevocationStore) -> Self {
        let verifier = issuer
            .verifier_builder(AcceptedTokenUse::Any)
            .verified_token_cache(1024)
            .revocation(store.clone())
            .build()
            .expect("verifier");
        let authorizer = Authorizer::builder()
            .verifier(verifier)
            .unmatched(Policy::authenticated())
            .build()
            .expect("authorizer");
        Self { store, authorizer }
    }

    fn redis(issuer: &LocalIssuer, redis: &RedisServer, when_stale: WhenStale) -> Self {
        let store = RevocationStore::builder()
            .shared_clock(issuer.clock())
            .staleness_limit(Duration::from_secs(30))
            .when_stale(when_stale)
            .timeout(Duration::from_millis(500))
            .heartbeat_interval(HEARTBEAT)
            .redis(&redis.url())
            .expect("store");
        Self::new(issuer, store)
    }

    /// The code a request with `token` gets (`"ok"` when allowed).
    async fn answer(&self, token: &str) -> &'static str {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
        );
        let decision = self
            .authorizer
            .authorize(&Method::GET, "/anything", &headers)
            .await;
        match decision.denial() {
            None => "ok",
            Some(denial) => denial.code(),
        }
    }

    fn verifier(&self) -> Verifier {
        self.authorizer.verifier()
    }
}

fn token(issuer: &LocalIssuer, jti: &str, origin_jti: &str, sub: &str) -> String {
    issuer
        .access_token()
        .subject(sub)
        .claim("jti", jti)
        .claim("origin_jti", origin_jti)
        .sign()
}

fn now(issuer: &LocalIssuer) -> u64 {
    issuer.clock().now().as_secs()
}

#[tokio::test]
async fn a_revocation_through_one_instance_is_honoured_by_the_other() {
    let redis = RedisServer::start().await;
    let issuer = LocalIssuer::offline();
    let one = Instance::redis(&issuer, &redis, WhenStale::Refuse);
    let two = Instance::redis(&issuer, &redis, WhenStale::Refuse);
    until(&one.store, "one connected", |s| s.connected).await;
    until(&two.store, "two connected", |s| s.connected).await;

    let session = token(&issuer, "j-session", "o-1", "user-1");
    let same_session = token(&issuer, "j-session-2", "o-1", "user-1");
    let single = token(&issuer, "j-single", "o-2", "user-1");
    let other_user = token(&issuer, "j-other", "o-3", "user-2");
    let signed_out = token(&issuer, "j-out", "o-4", "user-3");
    for token in [&session, &same_session, &single, &other_user, &signed_out] {
        // Twice: the second answer comes from the verified-token cache.
        assert_eq!(two.answer(token).await, "ok");
        assert_eq!(two.answer(token).await, "ok");
    }
    let hits = two.verifier().cached_token_hits();

    let before = two.store.status().applied;
    one.store
        .revoke(Revocation::session("o-1"))
        .await
        .expect("revoke");
    one.store
        .revoke(Revocation::token("j-single"))
        .await
        .expect("revoke");
    one.store
        .revoke(Revocation::user(issuer.iss(), "user-3", now(&issuer)))
        .await
        .expect("revoke");
    until(&two.store, "three changes reached two", |s| {
        s.applied == before + 3
    })
    .await;

    for (token, expected) in [
        (&session, "revoked_token"),
        (&same_session, "revoked_token"),
        (&single, "revoked_token"),
        (&signed_out, "revoked_token"),
        (&other_user, "ok"),
    ] {
        assert_eq!(two.answer(token).await, expected);
        assert_eq!(one.answer(token).await, expected);
    }
    assert!(
        two.verifier().cached_token_hits() > hits,
        "cache hits were checked"
    );
    // Exactly the three revocations arrived, nothing more.
    assert_eq!(two.store.status().applied, before + 3);
    assert_eq!(two.store.status().entries, 3);
}

#[tokio::test]
async fn a_new_instance_loads_the_revocations_already_in_redis() {
    let redis = RedisServer::start().await;
    let issuer = LocalIssuer::offline();
    let first = Instance::redis(&issuer, &redis, WhenStale::Refuse);
    until(&first.store, "first connected", |s| s.connected).await;
    first
        .store
        .revoke(Revocation::session("o-old"))
        .await
        .expect("revoke");
    first
        .store
        .revoke(Revocation::user(issuer.iss(), "gone", now(&issuer)))
        .await
        .expect("revoke");

    let late = Instance::redis(&issuer, &redis, WhenStale::Refuse);
    until(&late.store, "late connected", |s| s.connected).await;
    assert_eq!(late.store.status().entries, 2);
    assert_eq!(
        late.answer(&token(&issuer, "a", "o-old", "u")).await,
        "revoked_token"
    );
    assert_eq!(
        late.answer(&token(&issuer, "b", "o-new", "gone")).await,
        "revoked_token"
    );
    assert_eq!(late.answer(&token(&issuer, "c", "o-new", "u")).await, "ok");
}

#[tokio::test]
async fn entries_expire_in_redis_and_in_the_replicas() {
    let redis = RedisServer::start().await;
    let issuer = LocalIssuer::offline();
    let clock = issuer.manual_clock().expect("manual clock").clone();
    let store = RevocationStore::builder()
        .shared_clock(issuer.clock())
        .max_token_lifetime(Duration::from_secs(3600))
        .leeway(Duration::from_secs(60))
        .key_prefix("expiry:")
        .heartbeat_interval(HEARTBEAT)
        .redis(&redis.url())
        .expect("store");
    let one = Instance::new(&issuer, store);
    until(&one.store, "connected", |s| s.connected).await;
    let short = issuer
        .access_token()
        .claim("jti", "short")
        .lifetime(Duration::from_secs(600))
        .sign();
    let verified = one.verifier().verify(&short).await.expect("valid");
    one.store
        .revoke(Revocation::this_token(&verified).expect("jti"))
        .await
        .expect("revoke");
    one.store
        .revoke(Revocation::session("o-expiring"))
        .await
        .expect("revoke");

    // Redis forgets each key when its entry ends: the token's exp, or the longest token life,
    // plus the leeway, counted from the store's clock.
    let mut admin = redis.admin().await.expect("admin");
    let ttl = |key: &'static str| {
        let mut admin = admin.clone();
        async move {
            let ttl: i64 = redis::cmd("PTTL")
                .arg(key)
                .query_async(&mut admin)
                .await
                .expect("PTTL");
            ttl
        }
    };
    let token_ttl = ttl("expiry:t:short").await;
    assert!(
        (600_000 + 60_000 - 5_000..=660_000).contains(&token_ttl),
        "{token_ttl}"
    );
    let session_ttl = ttl("expiry:s:o-expiring").await;
    assert!(
        (3_600_000 + 1_000 + 60_000 - 5_000..=3_661_000).contains(&session_ttl),
        "{session_ttl}"
    );
    let _: () = redis::cmd("PING")
        .query_async(&mut admin)
        .await
        .expect("PING");

    // The replica forgets them at the same instants of the store's clock.
    assert_eq!(
        one.answer(&token(&issuer, "x", "o-expiring", "u")).await,
        "revoked_token"
    );
    clock.advance(Duration::from_secs(600 + 60));
    one.store.purge_expired();
    assert_eq!(one.store.status().entries, 1, "the token entry is gone");
    clock.advance(Duration::from_secs(3600 + 1 - 600));
    one.store.purge_expired();
    assert_eq!(one.store.status().entries, 0);
    // The clock jumped an hour: only a heartbeat sent since proves the replica complete.
    proven_now(&one.store, &issuer).await;
    // A fresh token of that session is admitted again: no token of the revoked one can be alive.
    assert_eq!(
        one.answer(&token(&issuer, "y", "o-expiring", "u")).await,
        "ok"
    );
}

#[tokio::test]
async fn redis_killed_and_restarted_the_stale_rule_then_a_resync() {
    let mut redis = RedisServer::start().await;
    let issuer = LocalIssuer::offline();
    let clock = issuer.manual_clock().expect("manual clock").clone();
    let refuse = Instance::redis(&issuer, &redis, WhenStale::Refuse);
    let serve = Instance::redis(&issuer, &redis, WhenStale::Serve);
    for instance in [&refuse, &serve] {
        until(&instance.store, "connected", |s| s.connected).await;
    }
    refuse
        .store
        .revoke(Revocation::session("o-before"))
        .await
        .expect("revoke");
    until(&serve.store, "serve saw the revocation", |s| s.applied >= 1).await;
    let revoked = token(&issuer, "r", "o-before", "u");
    let fine = token(&issuer, "f", "o-fine", "u");

    redis.kill();
    for instance in [&refuse, &serve] {
        until(&instance.store, "disconnected", |s| !s.connected).await;
    }
    // Within the staleness limit (30 s of the store's clock) both serve from the replica, which
    // still refuses what it knew.
    clock.advance(Duration::from_secs(30));
    for instance in [&refuse, &serve] {
        assert_eq!(instance.answer(&revoked).await, "revoked_token");
        assert_eq!(instance.answer(&fine).await, "ok");
    }
    // Nothing can be recorded while Redis is down, and the caller is told.
    let error = refuse
        .store
        .revoke(Revocation::token("lost"))
        .await
        .expect_err("down");
    assert!(
        matches!(error, RevocationError::Unavailable(_)),
        "{error:?}"
    );
    // Past the limit: one refuses with 503, the other keeps serving.
    clock.advance(Duration::from_secs(1));
    assert_eq!(refuse.answer(&fine).await, "revocation_unavailable");
    assert_eq!(ErrorKind::RevocationUnavailable.status(), 503);
    assert_eq!(refuse.answer(&revoked).await, "revoked_token");
    assert_eq!(serve.answer(&fine).await, "ok");

    // Redis comes back empty (no persistence) and locked, so the instances cannot reconnect
    // before a revocation is written that nobody hears published: only a resync finds it.
    let resyncs = [refuse.store.status().resyncs, serve.store.status().resyncs];
    redis.restart(true).await;
    redis
        .record_unannounced("cognito-authz:revocation:s:o-missed", now(&issuer) + 3600)
        .await;
    redis.unlock().await;
    for (instance, before) in [&refuse, &serve].into_iter().zip(resyncs) {
        until(&instance.store, "reconnected and resynchronised", |s| {
            s.connected && s.resyncs > before
        })
        .await;
        let missed = token(&issuer, "m", "o-missed", "u");
        assert_eq!(instance.answer(&missed).await, "revoked_token");
        // What the replica knew before the restart is kept (the restarted Redis lost it).
        assert_eq!(instance.answer(&revoked).await, "revoked_token");
        assert_eq!(instance.answer(&fine).await, "ok");
    }
}

#[tokio::test]
async fn start_up_with_redis_down_follows_the_stale_rule() {
    let mut redis = RedisServer::start().await;
    redis.kill();
    let issuer = LocalIssuer::offline();
    let refuse = Instance::redis(&issuer, &redis, WhenStale::Refuse);
    let serve = Instance::redis(&issuer, &redis, WhenStale::Serve);
    let fine = token(&issuer, "f", "o-fine", "u");
    // A replica that never synchronised knows nothing of revocations made before it started.
    assert_eq!(refuse.answer(&fine).await, "revocation_unavailable");
    assert_eq!(serve.answer(&fine).await, "ok");
    redis.restart(false).await;
    until(&refuse.store, "connected", |s| s.connected).await;
    assert_eq!(refuse.answer(&fine).await, "ok");
}

#[tokio::test]
async fn a_periodic_resync_finds_what_pub_sub_missed() {
    let redis = RedisServer::start().await;
    let issuer = LocalIssuer::offline();
    let store = RevocationStore::builder()
        .shared_clock(issuer.clock())
        .resync_interval(Duration::from_millis(100))
        .redis(&redis.url())
        .expect("store");
    let instance = Instance::new(&issuer, store);
    until(&instance.store, "connected", |s| s.connected).await;
    redis
        .record_unannounced(
            "cognito-authz:revocation:t:j-unpublished",
            now(&issuer) + 3600,
        )
        .await;
    until(&instance.store, "the periodic resync applied it", |s| {
        s.applied >= 1
    })
    .await;
    assert_eq!(
        instance
            .answer(&token(&issuer, "j-unpublished", "o", "u"))
            .await,
        "revoked_token"
    );
}

/// A TCP relay on 127.0.0.1 in front of Redis that can go silent: once frozen it keeps every
/// connection open but forwards nothing more either way, as a network partition or a dead
/// peer without a reset looks to the instance behind it.
struct SilentRelay {
    port: u16,
    frozen: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SilentRelay {
    async fn start(upstream: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind relay");
        let port = listener.local_addr().expect("relay address").port();
        let (frozen, _) = tokio::sync::watch::channel(false);
        let gate = frozen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(Self::pump(client_read, server_write, gate.subscribe()));
                tokio::spawn(Self::pump(server_read, client_write, gate.subscribe()));
            }
        });
        Self { port, frozen, task }
    }

    /// Copies `from` to `to` while not frozen; once frozen, holds what it read and the sockets.
    async fn pump(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        mut frozen: tokio::sync::watch::Receiver<bool>,
    ) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut buffer = vec![0_u8; 16 * 1024];
        loop {
            let read = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            // Checked after the read: bytes sent after `freeze` returned are never forwarded.
            if *frozen.borrow_and_update() {
                std::future::pending::<()>().await;
            }
            if to.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn freeze(&self) {
        self.frozen.send_replace(true);
    }
}

impl Drop for SilentRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn a_replica_cut_off_without_a_reset_follows_the_stale_rule() {
    let redis = RedisServer::start().await;
    let relay = SilentRelay::start(redis.port).await;
    let issuer = LocalIssuer::offline();
    let clock = issuer.manual_clock().expect("manual clock").clone();
    // Behind the relay: trusted 30 s when cut off, resynchronised hourly.
    let store = RevocationStore::builder()
        .shared_clock(issuer.clock())
        .staleness_limit(Duration::from_secs(30))
        .when_stale(WhenStale::Refuse)
        .resync_interval(Duration::from_secs(3600))
        .timeout(Duration::from_millis(500))
        .heartbeat_interval(HEARTBEAT)
        .redis(&relay.url())
        .expect("store");
    let cut_off = Instance::new(&issuer, store);
    let writer = Instance::redis(&issuer, &redis, WhenStale::Refuse);
    until(&cut_off.store, "connected", |s| s.connected).await;
    until(&writer.store, "connected", |s| s.connected).await;
    let revoked = token(&issuer, "j-silent", "o-silent", "u");
    assert_eq!(cut_off.answer(&revoked).await, "ok");

    relay.freeze();
    writer
        .store
        .revoke(Revocation::session("o-silent"))
        .await
        .expect("recorded in Redis");
    assert_eq!(writer.answer(&revoked).await, "revoked_token");
    // Within the limit the cut-off replica may serve what it has.
    clock.advance(Duration::from_secs(30));
    assert_eq!(cut_off.answer(&revoked).await, "ok");
    // Beyond it, it has heard nothing from Redis for longer than it may trust its replica,
    // whether or not it has noticed yet that the connection is dead.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        cut_off.answer(&revoked).await,
        "revocation_unavailable",
        "{:?}",
        cut_off.store.status()
    );
    // A heartbeat that does not come back within the timeout ends the session, and the
    // replica reports itself disconnected (nothing but the heartbeat could tell).
    until(&cut_off.store, "the silent connection noticed", |s| {
        !s.connected
    })
    .await;
    assert_eq!(cut_off.answer(&revoked).await, "revocation_unavailable");
}

#[tokio::test]
async fn a_replica_proves_itself_live_while_the_clock_runs() {
    let redis = RedisServer::start().await;
    let issuer = LocalIssuer::offline();
    let clock = issuer.manual_clock().expect("manual clock").clone();
    let instance = Instance::redis(&issuer, &redis, WhenStale::Refuse);
    until(&instance.store, "connected", |s| s.connected).await;
    let fine = token(&issuer, "f", "o-fine", "u");
    assert_eq!(instance.answer(&fine).await, "ok");
    // Ten staleness limits pass on a healthy connection without a resync (hourly by default):
    // the heartbeats alone keep the replica proven.
    let resyncs = instance.store.status().resyncs;
    for _ in 0..10 {
        clock.advance(Duration::from_secs(31));
        proven_now(&instance.store, &issuer).await;
        assert_eq!(instance.answer(&fine).await, "ok");
    }
    assert_eq!(instance.store.status().resyncs, resyncs);
    assert!(instance.store.status().connected);
}

/// A policy file admitting any verified token of `issuer`, whose revocation store is `url`.
fn policy_following(issuer: &LocalIssuer, url: &str) -> String {
    format!(
        "[[issuer]]\ncognito_issuer = {:?}\nclient_ids = [{:?}]\ntoken_use = \"any\"\n\n\
         [defaults]\nunmatched = \"authenticated\"\n\n\
         [revocation]\nstore = {url:?}\n",
        issuer.iss(),
        issuer.client_id(),
    )
}

#[tokio::test]
async fn a_reload_never_leaves_revocations_in_the_named_store_unheard() {
    let (old, new) = (RedisServer::start().await, RedisServer::start().await);
    let issuer = LocalIssuer::offline();
    let authorizer = issuer
        .authorizer_with(
            &policy_following(&issuer, &old.url()),
            Authorizer::builder(),
        )
        .expect("authorizer");
    let store = authorizer.verifier().revocation().expect("store").clone();
    until(&store, "connected", |s| s.connected).await;
    let instance = Instance { store, authorizer };
    let revoked = token(&issuer, "j-moved", "o-moved", "u");
    assert_eq!(instance.answer(&revoked).await, "ok");

    // The fleet moves to another Redis: the file now names it.
    let moved = policy_following(&issuer, &new.url());
    let file = cognito_authz::PolicyFile::parse(&moved, ".", "policy.toml").expect("parses");
    // Accepted, the instance would keep following the old store and admit what is revoked
    // where the file says (what `cognito-authz revoke --config` writes to): refused, as a
    // changed [token] section is.
    let error = instance
        .authorizer
        .reload(file)
        .expect_err("a reload cannot move the revocation store");
    assert!(error.to_string().contains("[revocation]"), "{error}");
    assert_eq!(
        instance.answer(&revoked).await,
        "ok",
        "the old policy serves on"
    );
}

/// Median and 99th percentile of the time from `revoke` on one instance to the change being
/// applied on another, over 1,000 revocations through Redis pub/sub on 127.0.0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propagation_over_pub_sub_takes_about_one_round_trip() {
    let redis = RedisServer::start().await;
    let issuer = LocalIssuer::offline();
    let one = Instance::redis(&issuer, &redis, WhenStale::Refuse);
    let two = Instance::redis(&issuer, &redis, WhenStale::Refuse);
    until(&one.store, "connected", |s| s.connected).await;
    until(&two.store, "connected", |s| s.connected).await;
    let mut receiver = two.store.subscribe();
    let mut delays = Vec::with_capacity(1000);
    for i in 0..1000_u64 {
        let target = receiver.borrow_and_update().applied + 1;
        let started = Instant::now();
        one.store
            .revoke(Revocation::token(format!("propagation-{i}")))
            .await
            .expect("revoke");
        tokio::time::timeout(AWAIT, receiver.wait_for(|s| s.applied >= target))
            .await
            .expect("propagated")
            .expect("alive");
        delays.push(started.elapsed());
    }
    delays.sort_unstable();
    let median = delays[delays.len() / 2];
    let p99 = delays[delays.len() * 99 / 100];
    println!(
        "revocation propagation over Redis pub/sub on 127.0.0.1 (1,000 revocations): \
         median {median:?}, p99 {p99:?}"
    );
    assert!(p99 < Duration::from_millis(250), "p99 {p99:?}");
}

#[test]
fn every_transition_is_a_tracing_event() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // A current-thread runtime polls the store's background task on this thread, where events
    // are captured.
    let capture = cognito_authz_test_support::events::capture();
    runtime.block_on(async {
        let mut redis = RedisServer::start().await;
        let issuer = LocalIssuer::offline();
        let clock = issuer.manual_clock().expect("manual clock").clone();
        let instance = Instance::redis(&issuer, &redis, WhenStale::Refuse);
        until(&instance.store, "connected", |s| s.connected).await;
        redis.kill();
        until(&instance.store, "disconnected", |s| !s.connected).await;
        clock.advance(Duration::from_secs(31));
        let fine = token(&issuer, "f", "o", "u");
        assert_eq!(instance.answer(&fine).await, "revocation_unavailable");
        assert_eq!(instance.answer(&fine).await, "revocation_unavailable");
        redis.restart(false).await;
        until(&instance.store, "reconnected", |s| {
            s.connected && s.resyncs >= 2
        })
        .await;
    });
    let events = capture.events();
    let connected = |event: &&String| event.starts_with("INFO revocation store connected");
    let lost = |event: &&String| event.starts_with("WARN revocation store unreachable");
    let stale = |event: &&String| event.starts_with("WARN revocation replica is stale");
    assert_eq!(events.iter().filter(connected).count(), 2, "{events:#?}");
    assert_eq!(events.iter().filter(lost).count(), 1, "{events:#?}");
    // Once per loss, not once per request.
    assert_eq!(events.iter().filter(stale).count(), 1, "{events:#?}");
    let order: Vec<usize> = [
        events.iter().position(|event| connected(&event)),
        events.iter().position(|event| lost(&event)),
        events.iter().position(|event| stale(&event)),
        events.iter().rposition(|event| connected(&event)),
    ]
    .into_iter()
    .map(|index| index.expect("present"))
    .collect();
    assert!(
        order.windows(2).all(|pair| pair[0] < pair[1]),
        "{events:#?}"
    );
}
