//! Attacks on the operations features: the policy watcher and reload, and the decision and
//! reload counters. Every decision here is made by `public` and `deny` routes, so no token
//! and no network are needed; keys come from the example's static key set.

use std::path::{Path, PathBuf};

use cognito_authz_core::{Authorizer, Decision, PolicyFile, WatchEvent};
use http::{HeaderMap, Method};

/// A folder of its own for each test, with the example key set beside the policy.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "cognito-authz-ops-attacks-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let jwks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jwks.json");
    std::fs::copy(jwks, dir.join("jwks.json")).expect("example key set");
    dir
}

/// A policy whose `/api/admin/{*rest}` is open (`"public"`) or closed (`"deny"`), the rest of
/// `/api` open.
fn policy(admin: &str) -> String {
    format!(
        r#"[[issuer]]
name = "main"
user_pool_id = "us-east-1_Example1"
client_ids = ["1example23456789"]
token_use = "access"
jwks_file = "jwks.json"

[[route]]
path = "/api/{{*rest}}"
require = "public"

[[route]]
path = "/api/admin/{{*rest}}"
require = "{admin}"
"#
    )
}

fn status(authorizer: &Authorizer, path: &str) -> u16 {
    match authorizer
        .authorize_now(&Method::GET, path, &HeaderMap::new())
        .expect("public and deny routes decide at once")
    {
        Decision::Allow { .. } => 200,
        Decision::Deny(denial) => denial.status().as_u16(),
    }
}

fn authorizer(path: &Path) -> Authorizer {
    Authorizer::builder()
        .policy_file(path)
        .build()
        .expect("the policy loads")
}

#[test]
fn the_watcher_refuses_a_file_over_the_size_limit_as_reload_from_file_does() {
    let dir = folder("large");
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy("deny")).expect("write");
    let authorizer = authorizer(&path);
    let mut watcher = authorizer.watch(&path);
    // A valid policy that opens the admin routes, padded past the 4 MiB every other reader of
    // a policy file enforces (PolicyFile::load, reload_from_file, the CLI).
    let padded = format!("{}# {}\n", policy("public"), "x".repeat(5 * 1024 * 1024));
    std::fs::write(&path, &padded).expect("write");
    assert!(
        authorizer.reload_from_file(&path).is_err(),
        "reload_from_file refuses a file over the limit"
    );
    // Correct: the watcher reads with the same bound and refuses it too (it must never read
    // an unbounded file into memory, nor apply what `reload_from_file` refuses).
    assert!(
        matches!(watcher.poll(), WatchEvent::Failed(_)),
        "the watcher must refuse a file over the size limit"
    );
    assert_eq!(status(&authorizer, "/api/admin/users"), 403, "deny stays");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_watcher_refuses_a_file_that_is_not_utf8_as_reload_from_file_does() {
    let dir = folder("utf8");
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy("deny")).expect("write");
    let authorizer = authorizer(&path);
    let mut watcher = authorizer.watch(&path);
    let mut bytes = policy("public").into_bytes();
    bytes.extend_from_slice(b"# \xff\xfe not UTF-8\n");
    std::fs::write(&path, &bytes).expect("write");
    assert!(
        authorizer.reload_from_file(&path).is_err(),
        "reload_from_file refuses a file that is not UTF-8"
    );
    // Correct: refused as `PolicyFile::load` refuses it, not read with lossy replacement.
    assert!(matches!(watcher.poll(), WatchEvent::Settling));
    assert!(
        matches!(watcher.poll(), WatchEvent::Failed(_)),
        "the watcher must refuse a file that is not UTF-8"
    );
    assert_eq!(status(&authorizer, "/api/admin/users"), 403, "deny stays");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_file_reverted_after_another_reload_is_applied_by_the_watcher() {
    // The example `reload_on_sighup` runs both: a SIGHUP (reload_from_file) and the watcher on
    // one file. The watcher must compare the file with the policy in force, not only with the
    // content it last saw itself.
    let dir = folder("revert");
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy("deny")).expect("write");
    let authorizer = authorizer(&path);
    let mut watcher = authorizer.watch(&path);
    // The admin routes are opened by mistake and applied on SIGHUP before the watcher polls...
    std::fs::write(&path, policy("public")).expect("write");
    authorizer.reload_from_file(&path).expect("reloads");
    assert_eq!(status(&authorizer, "/api/admin/users"), 200);
    // ...then the mistake is reverted. Correct: the watcher applies the file as it now is.
    std::fs::write(&path, policy("deny")).expect("write");
    assert!(matches!(watcher.poll(), WatchEvent::Settling));
    let event = watcher.poll();
    assert!(
        matches!(event, WatchEvent::Reloaded(_)),
        "the reverted file must be applied, got {event:?}"
    );
    assert_eq!(
        status(&authorizer, "/api/admin/users"),
        403,
        "the file on disk says deny; the opened policy must not stay in force"
    );
    assert!(matches!(watcher.poll(), WatchEvent::Unchanged));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_watcher_does_not_apply_a_half_written_file() {
    // A file written in place (`cp`, `cat >`, an editor or config tool that does not rename)
    // is seen half written by a poll that lands between two writes. The first half of this
    // file is a valid policy on its own: the catch-all `public` without the stricter route.
    let dir = folder("torn");
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy("deny")).expect("write");
    let authorizer = authorizer(&path);
    let mut watcher = authorizer.watch(&path);
    let whole = policy("deny").replace("/api/{*rest}", "/api/{*path}");
    let half = &whole[..whole
        .find("[[route]]\npath = \"/api/admin")
        .expect("second route")];
    std::fs::write(&path, half).expect("first half written");
    let event = watcher.poll();
    // Correct: content seen once is not applied until it is seen unchanged again (a settle
    // poll), so a torn read never becomes the policy in force.
    assert!(matches!(event, WatchEvent::Settling), "{event:?}");
    assert_eq!(
        status(&authorizer, "/api/admin/users"),
        403,
        "a half-written file opened /api/admin (poll: {event:?})"
    );
    std::fs::write(&path, &whole).expect("second half written");
    assert!(matches!(watcher.poll(), WatchEvent::Settling));
    assert!(matches!(watcher.poll(), WatchEvent::Reloaded(_)));
    assert_eq!(status(&authorizer, "/api/admin/users"), 403);
    assert_eq!(
        status(&authorizer, "/api/open"),
        200,
        "the public catch-all stays open"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A FIFO at the policy path (no writer) is refused as not a regular file: opening it would
/// block the watcher (and the tokio worker running it) for good.
#[test]
fn a_fifo_at_the_policy_path_is_refused_without_blocking_the_watcher() {
    let dir = folder("fifo");
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy("deny")).expect("write");
    let authorizer = authorizer(&path);
    let mut watcher = authorizer.watch(&path);
    std::fs::remove_file(&path).expect("removed");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
    let (done, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(format!("{:?}", watcher.poll()));
    });
    // Bounded only so that a regression fails instead of hanging the suite.
    let event = answer
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the poll returned instead of blocking on the FIFO");
    assert!(event.starts_with("Failed"), "{event}");
    assert_eq!(status(&authorizer, "/api/admin/users"), 403, "deny stays");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_file_that_cannot_be_read_or_is_replaced_leaves_the_policy_in_force() {
    // Held: each row leaves `deny` in force; a rename or a symlink swap to new content is
    // applied.
    let dir = folder("replace");
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy("deny")).expect("write");
    let authorizer = authorizer(&path);
    let mut watcher = authorizer.watch(&path);

    std::fs::remove_file(&path).expect("deleted");
    assert!(matches!(watcher.poll(), WatchEvent::Failed(_)), "deleted");
    std::fs::write(&path, "").expect("truncated to empty");
    assert!(matches!(watcher.poll(), WatchEvent::Settling), "empty");
    assert!(matches!(watcher.poll(), WatchEvent::Failed(_)), "empty");
    std::fs::remove_file(&path).expect("removed");
    std::fs::create_dir(&path).expect("a folder in its place");
    assert!(matches!(watcher.poll(), WatchEvent::Failed(_)), "a folder");
    std::fs::remove_dir(&path).expect("folder removed");
    std::os::unix::fs::symlink(&dir, &path).expect("symlink to a folder");
    assert!(
        matches!(watcher.poll(), WatchEvent::Failed(_)),
        "a symlink to a folder"
    );
    assert_eq!(status(&authorizer, "/api/admin/users"), 403, "deny stays");

    // Replaced by rename, and by a symlink to another file: applied.
    std::fs::remove_file(&path).expect("symlink removed");
    let staged = dir.join("staged.toml");
    std::fs::write(&staged, policy("public")).expect("write");
    std::fs::rename(&staged, &path).expect("renamed into place");
    assert!(matches!(watcher.poll(), WatchEvent::Settling), "rename");
    assert!(matches!(watcher.poll(), WatchEvent::Reloaded(_)), "rename");
    assert_eq!(status(&authorizer, "/api/admin/users"), 200);
    let other = dir.join("other.toml");
    std::fs::write(&other, policy("deny")).expect("write");
    std::fs::remove_file(&path).expect("removed");
    std::os::unix::fs::symlink(&other, &path).expect("symlink to a file");
    assert!(matches!(watcher.poll(), WatchEvent::Settling), "symlink");
    assert!(matches!(watcher.poll(), WatchEvent::Reloaded(_)), "symlink");
    assert_eq!(status(&authorizer, "/api/admin/users"), 403);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_reload_keeps_no_key_set_fetched_from_another_place_or_with_other_settings() {
    // Held: a key set is kept only for the same URL with the same fetch settings.
    let dir = folder("keys");
    let issuer = |pool: &str, extra: &str| {
        format!(
            "[[issuer]]\nname = \"main\"\nuser_pool_id = \"{pool}\"\nclient_ids = [\"c\"]\n\
             token_use = \"access\"\n{extra}\n[[route]]\npath = \"/x\"\nrequire = \"authenticated\"\n"
        )
    };
    let start = issuer("us-east-1_Example1", "");
    let path = dir.join("policy.toml");
    std::fs::write(&path, &start).expect("write");
    let authorizer = authorizer(&path);
    let cases = [
        (issuer("us-east-1_Example1", ""), 1, "the same pool"),
        (issuer("us-east-1_Example2", ""), 0, "another pool"),
        (issuer("eu-west-1_Example1", ""), 0, "another region"),
        (
            issuer(
                "us-east-1_Example1",
                "jwks_url = \"https://keys.example.com/jwks.json\"",
            ),
            0,
            "another key URL",
        ),
        (
            issuer(
                "us-east-1_Example1",
                "jwks_url = \"http://keys.example.com/jwks.json\"\nallow_insecure_http = true",
            ),
            0,
            "other fetch settings",
        ),
        (issuer("us-east-1_Example1", ""), 0, "back to the first"),
    ];
    for (text, kept, case) in cases {
        let file = PolicyFile::parse(&text, &dir, "policy.toml").expect(case);
        let reloaded = authorizer.reload(file).expect(case);
        assert_eq!(reloaded.kept_key_sets, kept, "{case}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(feature = "metrics")]
mod counted {
    //! The counters, read through a recorder of the test's own.

    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    use super::*;

    /// Counters by name and sorted labels.
    #[derive(Default, Clone)]
    struct Counts(Arc<Mutex<BTreeMap<String, Arc<Count>>>>);

    #[derive(Default)]
    struct Count(AtomicU64);

    impl CounterFn for Count {
        fn increment(&self, value: u64) {
            self.0.fetch_add(value, Ordering::Relaxed);
        }
        fn absolute(&self, value: u64) {
            self.0.store(value, Ordering::Relaxed);
        }
    }

    fn series(key: &Key) -> String {
        let mut labels: Vec<String> = key
            .labels()
            .map(|label| format!("{}={}", label.key(), label.value()))
            .collect();
        labels.sort();
        format!("{}{{{}}}", key.name(), labels.join(","))
    }

    impl Recorder for Counts {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let mut counts = self.0.lock().expect("counts");
            Counter::from_arc(Arc::clone(counts.entry(series(key)).or_default()))
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    impl Counts {
        fn get(&self, series: &str) -> u64 {
            self.0
                .lock()
                .expect("counts")
                .get(series)
                .map_or(0, |count| count.0.load(Ordering::Relaxed))
        }
    }

    const RELOAD_ERRORS: &str = "cognito_authz_policy_reloads_total{result=error}";

    #[test]
    fn a_policy_file_the_watcher_cannot_read_counts_as_a_failed_reload() {
        // The alert "policy reload failed" watches this counter: the file on disk is not the
        // policy in force. `reload_from_file` counts an unreadable file; the watcher must too.
        let counts = Counts::default();
        metrics::with_local_recorder(&counts, || {
            let dir = folder("unreadable");
            let path = dir.join("policy.toml");
            std::fs::write(&path, policy("deny")).expect("write");
            let authorizer = authorizer(&path);
            let mut watcher = authorizer.watch(&path);
            std::fs::remove_file(&path).expect("removed");
            std::fs::create_dir(&path).expect("a folder in its place");
            assert!(authorizer.reload_from_file(&path).is_err());
            assert_eq!(counts.get(RELOAD_ERRORS), 1, "reload_from_file counts it");
            assert!(matches!(watcher.poll(), WatchEvent::Failed(_)));
            assert_eq!(
                counts.get(RELOAD_ERRORS),
                2,
                "the watcher must count it too"
            );
            std::fs::remove_dir_all(&dir).ok();
        });
    }

    #[test]
    fn denials_decided_before_any_route_are_counted_under_a_bounded_label() {
        // Held: a dot segment, an unmatched path and an arbitrary method never become labels;
        // the route label is the pattern, the code the error code.
        let counts = Counts::default();
        metrics::with_local_recorder(&counts, || {
            let dir = folder("labels");
            let path = dir.join("policy.toml");
            std::fs::write(&path, policy("deny")).expect("write");
            let authorizer = authorizer(&path);
            let weird = Method::from_bytes(b"X-ATTACKER-1234").expect("method");
            for (method, target) in [
                (Method::GET, "/api/admin/../admin/x"),
                (Method::GET, "/elsewhere/attacker-chosen"),
                (weird.clone(), "/api/admin/x"),
                (weird, "/api/anything"),
                (Method::GET, "/api/admin/%2e%2e/x"),
            ] {
                authorizer.authorize_now(&method, target, &HeaderMap::new());
            }
            let series: Vec<String> = counts.0.lock().expect("counts").keys().cloned().collect();
            assert_eq!(
                series,
                [
                    "cognito_authz_decisions_total{code=forbidden,outcome=denied,route=/api/admin/{*rest}}",
                    "cognito_authz_decisions_total{code=forbidden,outcome=denied,route=<unmatched>}",
                    "cognito_authz_decisions_total{code=invalid_request,outcome=denied,route=/api/admin/{*rest}}",
                    "cognito_authz_decisions_total{code=none,outcome=allowed,route=/api/{*rest}}",
                ]
            );
            std::fs::remove_dir_all(&dir).ok();
        });
    }
}
