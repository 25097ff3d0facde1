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
    mkfifo(&path);
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

fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

/// What the two racing reloads of the test below report, in the order it happens.
enum Step {
    /// A reader opened the FIFO holding the older content: its read has begun.
    Opened,
    /// The slow reload returned.
    Returned(Result<u64, String>),
}

/// Two reloads from one path racing (a `SIGHUP` reload and the watcher, or two signals): the
/// first reads the older content slowly (a FIFO whose writer has not finished, as a stalled
/// network file system would hold a read), the second reads the file's newer content and
/// applies it. Whatever the first one read must not undo the second: the policy in force once
/// both return is the one read last.
#[test]
fn a_slow_reload_of_older_content_cannot_undo_a_later_reload() {
    let dir = folder("race");
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy("deny")).expect("write");
    let authorizer = authorizer(&path);
    // The older content: `public` (the mistake); the newer: `authenticated` (401 here).
    std::fs::remove_file(&path).expect("removed");
    mkfifo(&path);
    let (steps, step) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let writer = {
        let (path, steps) = (path.clone(), steps.clone());
        std::thread::spawn(move || {
            // Returns once some reader has opened the FIFO.
            let mut fifo = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .expect("a reader opened the FIFO");
            let _ = steps.send(Step::Opened);
            std::io::Write::write_all(&mut fifo, policy("public").as_bytes()).expect("written");
            // The reader sees the end of the file when this returns and `fifo` is closed.
            let _ = released.recv();
        })
    };
    let slow = {
        let (authorizer, path) = (authorizer.clone(), path.clone());
        std::thread::spawn(move || {
            let result = authorizer
                .reload_from_file(&path)
                .map(|reloaded| reloaded.generation)
                .map_err(|error| error.to_string());
            let _ = steps.send(Step::Returned(result));
        })
    };
    // Bounded only so that a regression fails instead of hanging the suite.
    let wait = std::time::Duration::from_secs(60);
    let newer = dir.join("newer.toml");
    std::fs::write(&newer, policy("authenticated")).expect("write");
    match step.recv_timeout(wait).expect("the slow reload began") {
        Step::Opened => {
            // Its read under way, the file is replaced and reloaded again.
            std::fs::rename(&newer, &path).expect("renamed into place");
            let (later_done, later) = std::sync::mpsc::channel();
            {
                let authorizer = authorizer.clone();
                std::thread::spawn(move || {
                    let _ = later_done.send(authorizer.reload_from_file(&path).is_ok());
                });
            }
            // The later reload finishes first; only then does the slow read end.
            let later = later.recv_timeout(wait);
            let _ = release.send(());
            assert_eq!(later, Ok(true), "the newer file applies");
            match step.recv_timeout(wait).expect("the slow reload returned") {
                Step::Returned(_) => {}
                Step::Opened => unreachable!("one writer"),
            }
        }
        Step::Returned(result) => {
            // Refused without opening the FIFO (it is not a regular file), so it cannot hold
            // the turn of every later reload while it waits for the writer.
            let error = result.expect_err("a FIFO is not a policy file");
            assert!(error.contains("not a regular file"), "{error}");
            // Nobody else will read the FIFO: read it here, so the writer finishes.
            let mut reader = std::fs::File::open(&path).expect("the writer is waiting");
            let _ = release.send(());
            let mut unread = Vec::new();
            std::io::Read::read_to_end(&mut reader, &mut unread).expect("read to the end");
            std::fs::rename(&newer, &path).expect("renamed into place");
            authorizer
                .reload_from_file(&path)
                .expect("the newer file applies");
        }
    }
    writer.join().expect("writer");
    slow.join().expect("slow reload");
    assert_eq!(
        status(&authorizer, "/api/admin/users"),
        401,
        "the file as read last must be in force, not the older content read before it"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A watcher whose reload reads from a stuck file system (here a key file that is a FIFO
/// nobody has written yet) must not hold the async worker: on a runtime with one worker, that
/// would stall every request and timer of the service until the read ends.
#[test]
fn a_watcher_stuck_on_a_slow_file_system_leaves_the_runtime_serving() {
    let dir = folder("slow-read");
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy("deny")).expect("write");
    let authorizer = authorizer(&path);
    let keys = dir.join("slow-keys.json");
    mkfifo(&keys);
    let (ask, asked) = tokio::sync::oneshot::channel::<()>();
    let (answer, answers) = std::sync::mpsc::channel::<&'static str>();
    let runtime = {
        let authorizer = authorizer.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let (tick, ticks) = tokio::sync::mpsc::channel::<()>(1);
                let ticks = futures_util::stream::unfold(ticks, |mut ticks| async move {
                    ticks.recv().await.map(|()| ((), ticks))
                });
                let mut handle = authorizer.watch(&path).spawn_with_ticks(Box::pin(ticks));
                let slow = policy("public").replace("jwks.json", "slow-keys.json");
                std::fs::write(&path, slow).expect("write");
                // Two polls read the new content; the second reloads and reads the key file.
                for _ in 0..2 {
                    tick.send(()).await.expect("watcher running");
                }
                if asked.await.is_ok() {
                    let _ = answer.send("served");
                }
                format!("{:?}", handle.next_event().await)
            })
        })
    };
    // Returns once the reload has opened the key file; its read now waits for this writer.
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .open(&keys)
        .expect("the reload opens the key file");
    let _ = ask.send(());
    let served = answers.recv_timeout(std::time::Duration::from_secs(60));
    // The read ends either way, so nothing stays blocked.
    let example_keys = std::fs::read(dir.join("jwks.json")).expect("example keys");
    std::io::Write::write_all(&mut fifo, &example_keys).expect("keys written");
    drop(fifo);
    let event = runtime.join().expect("runtime thread");
    assert_eq!(
        served,
        Ok("served"),
        "the runtime's only worker was held by the watcher's file read"
    );
    assert!(event.starts_with("Some(Reloaded"), "{event}");
    assert_eq!(status(&authorizer, "/api/admin/users"), 200, "public now");
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

/// A FIFO swapped in at the policy path between the reload's look at the path (a regular
/// file) and its opening of it (a symlink swap, as ConfigMaps are updated) must be refused
/// like any FIFO: opening a FIFO with no writer for reading blocks, and the reload would hold
/// the turn of every later reload, the watcher's included, for good.
#[test]
fn a_fifo_swapped_in_while_a_reload_opens_the_path_is_refused_without_blocking() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = folder("fifo-swap");
    let regular = dir.join("regular.toml");
    std::fs::write(&regular, policy("deny")).expect("write");
    let pipe = dir.join("pipe");
    mkfifo(&pipe);
    let path = dir.join("policy.toml");
    std::os::unix::fs::symlink(&regular, &path).expect("symlink");
    let authorizer = authorizer(&path);
    let stop = Arc::new(AtomicBool::new(false));
    // Swaps the symlink between the regular file and the FIFO, each swap atomic.
    let swapper = {
        let (dir, path, pipe, stop) = (dir.clone(), path.clone(), pipe.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let staged = dir.join("staged");
            for target in [&regular, &pipe].into_iter().cycle() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _ = std::fs::remove_file(&staged);
                std::os::unix::fs::symlink(target, &staged).expect("staged symlink");
                std::fs::rename(&staged, &path).expect("swapped");
            }
        })
    };
    const RELOADS: usize = 5_000;
    let (returned, returns) = std::sync::mpsc::channel();
    let reloads = {
        let (authorizer, stop) = (authorizer.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            for _ in 0..RELOADS {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let outcome = authorizer
                    .reload_from_file(&path)
                    .map_err(|error| error.to_string());
                if returned.send(outcome).is_err() {
                    return;
                }
            }
        })
    };
    let mut stuck = None;
    for reload in 0..RELOADS {
        // Bounded only so that a regression fails instead of hanging the suite.
        match returns.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => assert!(error.contains("not a regular file"), "{error}"),
            Err(_) => {
                stuck = Some(reload);
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().expect("swapper");
    if stuck.is_some() {
        // Let the stuck reader go: a writer opens the FIFO and closes it at once.
        drop(std::fs::OpenOptions::new().write(true).open(&pipe));
    }
    reloads.join().expect("reloads");
    assert_eq!(
        stuck, None,
        "a reload blocked opening a FIFO swapped in after the regular-file check"
    );
    assert_eq!(status(&authorizer, "/api/admin/users"), 403, "deny stays");
    std::fs::remove_dir_all(&dir).ok();
}
