//! Policy reload while serving: an axum app on 127.0.0.1 under concurrent requests while the
//! policy file is swapped back and forth; a broken file; kept key caches; the watcher;
//! background key refresh following the key sets a reload puts in force.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use cognito_authz::{AcceptedTokenUse, Authorizer, Policy, PolicyFile, Verifier, WatchEvent};
use cognito_authz_axum::AuthzLayer;
use cognito_authz_test_support::responses::bearer_headers;
use cognito_authz_testkit::LocalIssuer;
use http::Method;

/// Policy A and B decide `/steady` and `/flip` through every part of the file: the named
/// policy, the route table and the unmatched default all change together. A token with scope
/// `one` is allowed on `/steady` by both whole policies, and refused by every mix of the two
/// (A's routes with B's named policies, or B's routes with A's); `/flip` and unmatched paths
/// tell A (allowed) from B (refused).
fn policy(issuer: &LocalIssuer, which: char) -> String {
    let url = issuer.jwks_url().expect("served keys");
    policy_with_keys(issuer, which, &format!("jwks_url = \"{url}\""))
}

/// [`policy`] with the issuer's keys found by `keys` (a `jwks_url` or `jwks_file` line).
fn policy_with_keys(issuer: &LocalIssuer, which: char, keys: &str) -> String {
    let (named, steady, flip, unmatched) = match which {
        'A' => ("scope:one", "policy:p", "authenticated", "authenticated"),
        _ => ("scope:two", "not policy:p", "deny", "deny"),
    };
    format!(
        r#"
[[issuer]]
name = "main"
user_pool_id = "{pool}"
client_ids = ["{client}"]
token_use = "access"
{keys}

[defaults]
unmatched = "{unmatched}"

[policies]
p = "{named}"

[[route]]
path = "/steady"
require = "{steady}"

[[route]]
path = "/flip"
require = "{flip}"
"#,
        pool = issuer.pool_id(),
        client = issuer.client_id(),
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cognito-authz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write policy");
}

async fn issuer() -> LocalIssuer {
    LocalIssuer::builder()
        .system_clock()
        .start()
        .await
        .expect("local issuer")
}

async fn status(authorizer: &Authorizer, path: &str, token: &str) -> u16 {
    match authorizer
        .authorize(&Method::GET, path, &bearer_headers(token))
        .await
    {
        cognito_authz::Decision::Allow { .. } => 200,
        cognito_authz::Decision::Deny(denial) => denial.status().as_u16(),
    }
}

/// The app: each handler says which route ran.
async fn serve(authorizer: Authorizer) -> (String, tokio::task::JoinHandle<()>) {
    let router = Router::new()
        .route("/steady", get(|| async { "steady" }))
        .route("/flip", get(|| async { "flip" }))
        .fallback(|| async { "fallback" })
        .layer(AuthzLayer::new(authorizer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("axum serves");
    });
    (url, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_under_load_drops_no_request_and_never_mixes_two_policies() {
    let issuer = issuer().await;
    let dir = temp_dir("reload-load");
    let path = dir.join("policy.toml");
    let (text_a, text_b) = (policy(&issuer, 'A'), policy(&issuer, 'B'));
    write(&path, &text_a);
    let authorizer = Authorizer::builder()
        .policy_file(&path)
        .build()
        .expect("policy A loads");
    let (url, server) = serve(authorizer.clone()).await;
    let token = issuer.access_token().scopes(["one"]).sign();
    let client = reqwest::Client::new();

    let done = Arc::new(AtomicBool::new(false));
    let reloader = {
        let (authorizer, done) = (authorizer.clone(), Arc::clone(&done));
        let dir = dir.clone();
        tokio::spawn(async move {
            let mut reloads = 0u32;
            // Bounded: the clients finish after a fixed number of requests.
            while !done.load(Ordering::Acquire) && reloads < 10_000 {
                let text = if reloads.is_multiple_of(2) {
                    &text_b
                } else {
                    &text_a
                };
                let file = cognito_authz::PolicyFile::parse(text, &dir, "policy.toml")
                    .expect("policy parses");
                authorizer.reload(file).expect("reload succeeds");
                reloads += 1;
                tokio::task::yield_now().await;
            }
            reloads
        })
    };

    let mut clients = Vec::new();
    for client_index in 0..4 {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        clients.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for request in 0..120 {
                let path = match (client_index + request) % 3 {
                    0 => "/steady",
                    1 => "/flip",
                    _ => "/elsewhere",
                };
                let response = client
                    .get(format!("{url}{path}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("request {path} dropped: {error}"));
                let status = response.status().as_u16();
                let body = response.text().await.expect("body");
                seen.push((path, status, body));
            }
            seen
        }));
    }
    let mut answers = Vec::new();
    for client in clients {
        answers.extend(client.await.expect("client task"));
    }
    done.store(true, Ordering::Release);
    let reloads = reloader.await.expect("reloader");
    server.abort();

    assert_eq!(answers.len(), 4 * 120, "every request answered");
    assert!(
        reloads >= 2,
        "the policy was swapped while serving ({reloads} reloads)"
    );
    let mut flips = (0, 0);
    for (path, status, body) in &answers {
        match *path {
            // Allowed by A and by B wholly; any mix refuses it.
            "/steady" => assert_eq!(
                (*status, body.as_str()),
                (200, "steady"),
                "a half-loaded policy answered /steady"
            ),
            "/flip" => match status {
                200 => {
                    assert_eq!(body, "flip");
                    flips.0 += 1;
                }
                403 => flips.1 += 1,
                other => panic!("/flip answered {other}"),
            },
            _ => assert!(
                (*status == 200 && body == "fallback") || *status == 403,
                "unmatched answered {status} {body}"
            ),
        }
    }
    let final_policy = authorizer.routes();
    assert_eq!(final_policy.routes().len(), 2);
    eprintln!(
        "reloads: {reloads}; /flip allowed {} times, refused {}",
        flips.0, flips.1
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_broken_policy_file_leaves_the_last_good_policy_in_force() {
    let issuer = issuer().await;
    let dir = temp_dir("reload-broken");
    let path = dir.join("policy.toml");
    write(&path, &policy(&issuer, 'A'));
    let authorizer = Authorizer::builder()
        .policy_file(&path)
        .build()
        .expect("policy A loads");
    let token = issuer.access_token().scopes(["one"]).sign();
    assert_eq!(status(&authorizer, "/flip", &token).await, 200);

    // An unknown named policy on line 20 of the new file.
    let broken = policy(&issuer, 'B').replace("not policy:p", "not policy:missing");
    write(&path, &broken);
    let error = authorizer
        .reload_from_file(&path)
        .expect_err("the broken file is refused");
    assert!(
        error.line() > 0 && error.column() > 0,
        "positioned: {error}"
    );
    assert!(error.to_string().contains("missing"), "{error}");
    assert_eq!(
        status(&authorizer, "/flip", &token).await,
        200,
        "A still decides"
    );
    assert_eq!(status(&authorizer, "/steady", &token).await, 200);

    // TOML that does not parse at all.
    write(&path, "[[route]\npath = ");
    let error = authorizer.reload_from_file(&path).expect_err("refused");
    assert!(error.line() > 0, "positioned: {error}");
    assert_eq!(
        status(&authorizer, "/flip", &token).await,
        200,
        "A still decides"
    );

    // A file that moves the token to a cookie cannot apply while adapters read the header.
    let cookie = format!("{}\n[token]\ncookie = \"id_token\"\n", policy(&issuer, 'B'));
    write(&path, &cookie);
    let error = authorizer.reload_from_file(&path).expect_err("refused");
    assert!(error.message().contains("[token]"), "{error}");
    assert_eq!(
        status(&authorizer, "/flip", &token).await,
        200,
        "A still decides"
    );

    // Nor can a revocation store appear: ignoring it would accept revoked tokens.
    let revocation = format!(
        "{}\n[revocation]\nstore = \"memory\"\n",
        policy(&issuer, 'B')
    );
    write(&path, &revocation);
    let error = authorizer.reload_from_file(&path).expect_err("refused");
    assert!(error.message().contains("[revocation]"), "{error}");
    assert_eq!(
        status(&authorizer, "/flip", &token).await,
        200,
        "A still decides"
    );

    // And a good file applies.
    write(&path, &policy(&issuer, 'B'));
    let reloaded = authorizer.reload_from_file(&path).expect("B loads");
    assert_eq!(reloaded.generation, 1, "failed reloads do not count");
    assert_eq!(status(&authorizer, "/flip", &token).await, 403);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_reload_keeps_the_key_cache_of_an_issuer_fetching_from_the_same_place() {
    let issuer = issuer().await;
    let server = issuer.server().expect("served keys");
    let dir = temp_dir("reload-keys");
    let path = dir.join("policy.toml");
    write(&path, &policy(&issuer, 'A'));
    let authorizer = Authorizer::builder()
        .policy_file(&path)
        .build()
        .expect("loads");
    let token = issuer.access_token().scopes(["one"]).sign();
    assert_eq!(status(&authorizer, "/steady", &token).await, 200);
    assert_eq!(server.fetch_count(), 1);

    // Same issuer, other rules: the key set is taken over, no fetch needed.
    let reloaded = authorizer
        .reload(
            cognito_authz::PolicyFile::parse(&policy(&issuer, 'B'), &dir, "b.toml")
                .expect("parses"),
        )
        .expect("reloads");
    assert_eq!(reloaded.kept_key_sets, 1);
    let fresh = issuer.access_token().scopes(["one"]).sign();
    assert_eq!(status(&authorizer, "/steady", &fresh).await, 200);
    assert_eq!(server.fetch_count(), 1, "no fetch after the reload");

    // Other client ids but the same key location: still kept; a token of the old client is
    // now refused, since the verified-token cache did not carry over.
    let other_client = policy(&issuer, 'A').replace(issuer.client_id(), "another-client");
    let reloaded = authorizer
        .reload(cognito_authz::PolicyFile::parse(&other_client, &dir, "c.toml").expect("parses"))
        .expect("reloads");
    assert_eq!(reloaded.kept_key_sets, 1);
    assert_eq!(status(&authorizer, "/steady", &token).await, 401);
    assert_eq!(server.fetch_count(), 1);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_watcher_reloads_when_the_content_changes_and_not_otherwise() {
    let issuer = issuer().await;
    let dir = temp_dir("reload-watch");
    let path = dir.join("policy.toml");
    // Keys from a file: nothing here waits on the network.
    write(&dir.join("jwks.json"), &issuer.jwks_json());
    let policy = |which| policy_with_keys(&issuer, which, "jwks_file = \"jwks.json\"");
    write(&path, &policy('A'));
    let authorizer = Authorizer::builder()
        .policy_file(&path)
        .build()
        .expect("loads");
    let token = issuer.access_token().scopes(["one"]).sign();

    // Driven by hand: new content is applied by the second poll that reads it.
    let mut watcher = authorizer.watch(&path);
    assert!(matches!(watcher.poll(), WatchEvent::Unchanged));
    write(&path, &policy('B'));
    assert!(matches!(watcher.poll(), WatchEvent::Settling));
    assert_eq!(
        status(&authorizer, "/flip", &token).await,
        200,
        "A until B settles"
    );
    assert!(matches!(watcher.poll(), WatchEvent::Reloaded(_)));
    assert_eq!(status(&authorizer, "/flip", &token).await, 403);
    assert!(matches!(watcher.poll(), WatchEvent::Unchanged));
    write(&path, "not toml at all = = =");
    assert!(matches!(watcher.poll(), WatchEvent::Settling));
    assert!(matches!(watcher.poll(), WatchEvent::Failed(_)));
    assert!(
        matches!(watcher.poll(), WatchEvent::Unchanged),
        "the same broken content is not retried"
    );
    assert_eq!(status(&authorizer, "/flip", &token).await, 403, "B stays");

    // In a task, polled on each tick the test sends: nothing sleeps.
    let (tick, ticks) = tokio::sync::mpsc::channel::<()>(1);
    let ticks = futures_util::stream::unfold(ticks, |mut ticks| async move {
        ticks.recv().await.map(|()| ((), ticks))
    });
    let mut handle = authorizer.watch(&path).spawn_with_ticks(Box::pin(ticks));
    tick.send(()).await.expect("watcher running");
    write(&path, &policy('A'));
    // Ticks until the reload is reported (two polls must read A; the tick above may have been
    // polled before or after the write); a tick is taken only once the watcher is ready for it.
    let mut sent = 0;
    let event = loop {
        tokio::select! {
            biased;
            event = handle.next_event() => break event,
            sent_tick = tick.send(()), if sent < 8 => {
                sent_tick.expect("watcher running");
                sent += 1;
            }
        }
    };
    match event {
        Some(WatchEvent::Reloaded(reloaded)) => assert_eq!(reloaded.routes, 2),
        other => panic!("expected a reload, got {other:?}"),
    }
    assert_eq!(status(&authorizer, "/flip", &token).await, 200, "A again");
    handle.stop();
    std::fs::remove_dir_all(&dir).ok();
}

/// Background refresh on a short interval, so a test waits a few intervals at most.
const REFRESH: Duration = Duration::from_millis(20);

/// A verifier of `issuer`'s access tokens whose key set is refreshed every [`REFRESH`] once
/// background refresh is started.
fn refreshed_verifier(issuer: &LocalIssuer) -> Verifier {
    Verifier::builder()
        .issuer(
            issuer
                .issuer_builder(AcceptedTokenUse::Access)
                .background_refresh(REFRESH)
                .build()
                .expect("issuer"),
        )
        .build()
        .expect("verifier")
}

/// Waits (bounded, so that a regression fails instead of hanging) until `issuer`'s key server
/// has answered `count` fetches in all.
async fn fetches_reach(issuer: &LocalIssuer, count: u64) {
    let server = issuer.server().expect("served keys");
    tokio::time::timeout(Duration::from_secs(10), server.wait_for_fetches(count))
        .await
        .unwrap_or_else(|_| panic!("{count} fetches never arrived"));
}

/// An authorizer loading policy `'A'` from a file in a new folder named after `name`, with
/// `issuer`'s keys preloaded from a key file beside it and refreshed from the pool's URL every
/// [`REFRESH`]; also the folder and the policy file's path.
fn preloaded_and_refreshed(issuer: &LocalIssuer, name: &str) -> (Authorizer, PathBuf, PathBuf) {
    let dir = temp_dir(name);
    let path = dir.join("policy.toml");
    let seed = dir.join("seed.json");
    write(&seed, &issuer.jwks_json());
    write(&path, &policy(issuer, 'A'));
    let preloaded_and_refreshed = issuer
        .issuer_builder(AcceptedTokenUse::Access)
        .name("main")
        .jwks_file(&seed)
        .background_refresh(REFRESH)
        .build()
        .expect("issuer");
    let authorizer = Authorizer::builder()
        .policy_file(&path)
        .issuers([preloaded_and_refreshed])
        .build()
        .expect("loads");
    (authorizer, dir, path)
}

#[tokio::test]
async fn background_refresh_follows_a_reload_to_the_key_set_it_puts_in_force() {
    // Keys preloaded from a file and refreshed from the pool's URL in the background: a reload
    // reads the file again, so the key set in force after it is a new one. A key the pool has
    // since withdrawn (a leaked key rotated away) must stop verifying within a few intervals,
    // as before the reload; refreshing only the set the reload replaced keeps it verifying
    // until the next restart.
    let issuer = issuer().await;
    let (authorizer, dir, path) = preloaded_and_refreshed(&issuer, "reload-background");
    let refresh = authorizer
        .verifier()
        .spawn_background_refresh()
        .expect("inside a runtime");
    assert_eq!(refresh.len(), 1);
    let leaked = issuer.signing_key();
    let token = issuer.access_token().scopes(["one"]).sign();
    assert_eq!(status(&authorizer, "/steady", &token).await, 200);

    let reloaded = authorizer.reload_from_file(&path).expect("reloads");
    assert_eq!(reloaded.kept_key_sets, 0, "the preload file is read again");
    assert_eq!(refresh.len(), 1, "one key source in force, refreshed");
    issuer.rotate();
    assert!(issuer.remove_key(leaked.kid()));
    // The set left behind may finish one fetch it had started; any fetch after it comes from
    // the set in force, and its second one starts only once its first has been applied.
    let server = issuer.server().expect("served keys");
    fetches_reach(&issuer, server.fetch_count() + 3).await;
    assert_eq!(
        status(&authorizer, "/steady", &token).await,
        401,
        "a key the pool withdrew after the reload still verifies: the key set in force is not \
         being refreshed"
    );
    let fresh = issuer.access_token().scopes(["one"]).sign();
    assert_eq!(status(&authorizer, "/steady", &fresh).await, 200);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_reload_that_drops_an_issuer_stops_refreshing_its_keys() {
    // An issuer removed by a reload (a pool decommissioned, say) must not be fetched on every
    // interval for as long as the process runs, nor counted as failing once it is gone.
    let dropped = issuer().await;
    let kept = issuer().await;
    let verifier = refreshed_verifier(&dropped);
    let authorizer = Authorizer::builder()
        .verifier(verifier)
        .route("/steady", Policy::authenticated())
        .build()
        .expect("builds");
    let refresh = authorizer
        .verifier()
        .spawn_background_refresh()
        .expect("inside a runtime");
    assert_eq!(refresh.len(), 1);
    fetches_reach(&dropped, 2).await;
    let before_reload = authorizer.verifier();

    let dir = temp_dir("reload-drop");
    let file = PolicyFile::parse(&policy(&kept, 'A'), &dir, "policy.toml").expect("parses");
    authorizer.reload(file).expect("reloads");
    assert!(
        refresh.is_empty(),
        "the dropped issuer's key set is still refreshed"
    );
    let late = before_reload
        .spawn_background_refresh()
        .expect("inside a runtime");
    assert!(
        late.is_empty(),
        "started on the verifier a reload replaced, it refreshes the one in force"
    );
    // Nothing uses the dropped pool's key set any more.
    drop(before_reload);

    // A clock for the test: another pool refreshed on the same interval, outside the
    // authorizer. While it is fetched five more times, the dropped pool may answer the one
    // fetch that was under way at the reload, and no other.
    let clock = refreshed_verifier(&kept);
    let _ticking = clock.spawn_background_refresh().expect("inside a runtime");
    let dropped_fetches = dropped.server().expect("served keys").fetch_count();
    let kept_fetches = kept.server().expect("served keys").fetch_count();
    fetches_reach(&kept, kept_fetches + 5).await;
    let after = dropped.server().expect("served keys").fetch_count();
    assert!(
        after <= dropped_fetches + 1,
        "the dropped pool was fetched {} more times",
        after - dropped_fetches
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_per_route_layer_built_before_a_reload_keeps_its_key_set_refreshed() {
    // A per-route layer (`require(..)`, `with_policy`) keeps the verifier it was built with
    // when the authorizer reloads, and so the key set it verifies with: that set must still be
    // refreshed in the background, or a key the pool withdraws keeps verifying on that route
    // until the next restart.
    let issuer = issuer().await;
    let (authorizer, dir, path) = preloaded_and_refreshed(&issuer, "reload-per-route");
    let per_route = authorizer
        .with_policy(&Policy::authenticated())
        .expect("compiles");
    let refresh = authorizer
        .verifier()
        .spawn_background_refresh()
        .expect("inside a runtime");
    let leaked = issuer.signing_key();
    let token = issuer.access_token().scopes(["one"]).sign();
    assert_eq!(status(&per_route, "/anything", &token).await, 200);

    authorizer.reload_from_file(&path).expect("reloads");
    assert_eq!(refresh.len(), 1, "one key source in force, refreshed");
    issuer.rotate();
    assert!(issuer.remove_key(leaked.kid()));
    // Both key sets (the per-route layer's and the one in force) fetch on the same interval:
    // eight more fetches hold at least two of each set's, so one that started after the key
    // was gone.
    let server = issuer.server().expect("served keys");
    fetches_reach(&issuer, server.fetch_count() + 8).await;
    assert_eq!(
        status(&per_route, "/anything", &token).await,
        401,
        "a key the pool withdrew after the reload still verifies on the per-route layer: its \
         key set is no longer refreshed"
    );
    assert_eq!(status(&authorizer, "/steady", &token).await, 401);
    let fresh = issuer.access_token().scopes(["one"]).sign();
    assert_eq!(status(&per_route, "/anything", &fresh).await, 200);
    drop(refresh);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn once_its_runtime_has_shut_down_a_background_refresh_counts_no_source() {
    // The runtime's shutdown ends every refresh task: `len()` must say so rather than count
    // tasks that no longer run (a health check reading it would report refreshing that is
    // not happening).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (refresh, issuer, verifier) = runtime.block_on(async {
        let issuer = issuer().await;
        let verifier = refreshed_verifier(&issuer);
        let refresh = verifier
            .spawn_background_refresh()
            .expect("inside a runtime");
        (refresh, issuer, verifier)
    });
    assert_eq!(refresh.len(), 1);
    drop(runtime);
    assert_eq!(refresh.len(), 0, "the runtime's shutdown ended the refresh");
    assert!(refresh.is_empty());
    drop((refresh, verifier, issuer));
}
