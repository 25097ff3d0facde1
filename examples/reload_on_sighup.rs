//! The quickstart app whose policy reloads without a restart: on `SIGHUP`, and (with
//! `POLICY_WATCH_SECS` set) whenever `examples/policy.toml`'s content changes.
//!
//! ```text
//! cargo run --example reload_on_sighup
//! # edit examples/policy.toml, then:
//! kill -HUP <pid printed at start-up>
//! ```
//!
//! A file that fails to load changes nothing: the error is printed with its line and column,
//! and the last good policy keeps deciding. Requests never wait for a reload.

mod shared;

use std::time::Duration;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    shared::exit_code("reload_on_sighup", run().await)
}

async fn run() -> Result<(), shared::BoxError> {
    let (setup, listener) = shared::start("axum").await?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let path = shared::policy_path();
    println!(
        "Reload {} with: kill -HUP {}",
        path.display(),
        std::process::id()
    );

    // Optional polling: the content hash is compared every POLICY_WATCH_SECS seconds.
    let _watch = match std::env::var("POLICY_WATCH_SECS") {
        Ok(secs) => {
            let secs: u64 = secs
                .parse()
                .map_err(|_| format!("POLICY_WATCH_SECS {secs:?} is not a number of seconds"))?;
            println!("Watching {} every {secs} s", path.display());
            Some(
                setup
                    .authorizer
                    .watch(&path)
                    .spawn(Duration::from_secs(secs.max(1))),
            )
        }
        Err(_) => None,
    };

    let authorizer = setup.authorizer.clone();
    let reloads = tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hangups = signal(SignalKind::hangup())?;
            while hangups.recv().await.is_some() {
                // On tokio's blocking threads: a reload reads the file and waits for its turn
                // (the watcher's may be under way), which must not hold an async worker.
                let (authorizer, path) = (authorizer.clone(), path.clone());
                let reloaded =
                    tokio::task::spawn_blocking(move || authorizer.reload_from_file(&path)).await?;
                match reloaded {
                    Ok(reloaded) => println!(
                        "policy reloaded (generation {}, {} routes)",
                        reloaded.generation, reloaded.routes
                    ),
                    Err(error) => {
                        eprintln!("policy NOT reloaded, the last good one stays: {error}");
                    }
                }
            }
        }
        #[cfg(not(unix))]
        let _ = (authorizer, path);
        Ok::<(), std::io::Error>(())
    });
    // `setup` lives until the server stops: its local issuer serves the key set.
    axum::serve(listener, shared::axum_app::router(setup.authorizer.clone())).await?;
    reloads.abort();
    Ok(())
}
