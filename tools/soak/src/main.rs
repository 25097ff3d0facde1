//! Load and soak test of the axum quickstart: a bounded run against the real app over HTTP/1.1
//! keep-alive connections on 127.0.0.1, with a key rotation half-way. See `docs/soak.md`.
//!
//! ```text
//! scripts/soak.sh [SECONDS]
//! cargo run --release -p cognito-authz-soak --example soak -- --seconds 60 [--concurrency 64]
//! ```
//!
//! One process holds both sides: the quickstart's router and policy file
//! (`examples/shared`) behind a local issuer whose keys are fetched over HTTP, and a fixed
//! number of client tasks, each a loop on its own keep-alive connection. Every request has a
//! known expected status (and, for 401s, a known `WWW-Authenticate`); anything else counts as
//! an error. The process's resident memory is sampled every second. The run fails (exit 1) on
//! any unexpected response, on resident memory that rises more than max(4 MiB, 5 %) above its
//! peak of the run's first 10 s (first third for runs under 30 s), on a verified-token cache
//! above its bound, or when the rotated key was never picked up.

mod cases;
mod client;
mod memory;
mod options;
mod report;
#[path = "../../../examples/shared/mod.rs"]
mod shared;
mod stats;
mod tokens;

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::serve::ListenerExt as _;
use cognito_authz::AcceptedTokenUse;
use cognito_authz_testkit::LocalIssuer;

use crate::client::{Client, Progress, REQUEST_TIMEOUT};
use crate::memory::{Sample, memory_kib};
use crate::options::parse_options;
use crate::report::Outcome;
use crate::shared::BoxError;
use crate::stats::TaskStats;
use crate::tokens::{Tokens, mint_distinct, mint_key_tokens};

/// The JWKS refresh cooldown of the soak's issuer. The default (30 s) counts from the warm-up
/// fetch, so a rotation at the midpoint of a run shorter than a minute would be refused as a
/// cooldown hit; 2 s lets every allowed run length pick the new key up on its first token.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

/// Mixed traffic before the measured run (after every distinct token was sent once); the
/// clients run on into the measured run without a break. Long enough for glibc's per-thread
/// malloc arenas to settle: with the default allocator RSS climbs by ~10 MiB over the first
/// seconds of traffic and then stays flat (with `MALLOC_ARENA_MAX=1` it is flat from the start),
/// and with a pause between warm-up and run (all tasks finishing, then new ones starting) the
/// run started ~15 MiB lower and climbed through its first seconds, which reads as growth.
const WARM_UP: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> ExitCode {
    // A failed start-up is reported as a sentence, not as `main`'s `Debug` of the error.
    run().await.unwrap_or_else(|error| {
        eprintln!("soak: {error}");
        ExitCode::FAILURE
    })
}

#[allow(clippy::too_many_lines)]
async fn run() -> Result<ExitCode, BoxError> {
    let options = parse_options()?;
    let build = if cfg!(debug_assertions) {
        "debug build: figures are not representative, use --release"
    } else {
        "release build"
    };
    println!(
        "soak: {} s, {} client tasks, {build}, {} cores",
        options.seconds,
        options.concurrency,
        std::thread::available_parallelism().map_or(1, usize::from)
    );

    // --- the app: the quickstart's router and policy file, keys fetched from a local issuer ---
    let issuer = Arc::new(LocalIssuer::builder().system_clock().start().await?);
    let issuer_config = issuer
        .issuer_builder(AcceptedTokenUse::Access)
        .min_refresh_interval(MIN_REFRESH_INTERVAL)
        .build()?;
    let authorizer = shared::load_authorizer(issuer_config)?;

    let minting = Instant::now();
    let minter = Arc::clone(&issuer);
    let (old, distinct) =
        tokio::task::spawn_blocking(move || (mint_key_tokens(&minter), mint_distinct(&minter)))
            .await?;
    println!(
        "minted {} distinct user tokens + 5 fixed tokens in {:.1} s",
        distinct.len(),
        minting.elapsed().as_secs_f64()
    );
    let tokens = Arc::new(Tokens {
        old,
        new: OnceLock::new(),
        distinct,
    });

    authorizer.verifier().warm_up().await?;
    let connections = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::clone(&connections);
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(move |stream| {
        accepted.fetch_add(1, Ordering::Relaxed);
        // Small request/response pairs on keep-alive connections: no Nagle delays.
        let _ = stream.set_nodelay(true);
    });
    assert!(
        addr.ip().is_loopback(),
        "the soak only ever talks to 127.0.0.1"
    );
    let server = tokio::spawn(
        axum::serve(listener, shared::axum_app::router(authorizer.clone())).into_future(),
    );

    let progress = Arc::new(Progress {
        completed: AtomicU64::new(0),
        first_new_key_ok: AtomicU64::new(u64::MAX),
        distinct_sent: AtomicUsize::new(0),
    });

    // --- warm-up: fill the verified-token cache, then mixed traffic that runs on, unbroken,
    // into the measured run ---
    let prefill_start = Instant::now();
    let mut clients = Vec::with_capacity(options.concurrency);
    for index in 0..options.concurrency {
        // A client (connection pool) per task, holding one idle connection: each task keeps
        // its own keep-alive connection for the whole run.
        let http = reqwest::Client::builder()
            .no_proxy()
            .http1_only()
            .pool_max_idle_per_host(1)
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        let client = Client {
            index,
            http,
            base_url: shared::base_url(addr),
            tokens: Arc::clone(&tokens),
            progress: Arc::clone(&progress),
            run_start: prefill_start,
        };
        clients.push((client, TaskStats::new()));
    }
    let prefilled = join_all(
        clients
            .into_iter()
            .map(|(client, stats)| tokio::spawn(client.prefill(stats))),
        prefill_start + Duration::from_secs(120),
    )
    .await?;
    let mut warm_up = TaskStats::new();
    for (_, stats) in &prefilled {
        warm_up.merge(stats);
    }
    println!(
        "prefill: every distinct token once in {:.1} s, {} unexpected; {} cached tokens (bound {})",
        prefill_start.elapsed().as_secs_f64(),
        warm_up.errors(),
        authorizer.verifier().cached_tokens(),
        shared::VERIFIED_TOKEN_CACHE
    );

    let traffic_start = Instant::now();
    let run_start = traffic_start + WARM_UP;
    let deadline = run_start + Duration::from_secs(options.seconds);
    let warm_up_secs = i64::try_from(WARM_UP.as_secs()).unwrap_or(0);
    let sampler = {
        let progress = Arc::clone(&progress);
        let verifier = authorizer.verifier();
        let ticks = WARM_UP.as_secs() + options.seconds;
        tokio::spawn(async move {
            let mut samples = Vec::with_capacity(usize::try_from(ticks).unwrap_or(0));
            let mut previous = progress.completed.load(Ordering::Relaxed);
            let mut ticker = tokio::time::interval_at(
                (traffic_start + Duration::from_secs(1)).into(),
                Duration::from_secs(1),
            );
            for tick in 1..=i64::try_from(ticks).unwrap_or(0) {
                ticker.tick().await;
                let completed = progress.completed.load(Ordering::Relaxed);
                samples.push(Sample {
                    second: tick - warm_up_secs,
                    rss_kib: memory_kib().0,
                    requests: completed - previous,
                    cached_tokens: verifier.cached_tokens(),
                });
                previous = completed;
            }
            samples
        })
    };
    let tasks: Vec<_> = prefilled
        .into_iter()
        .map(|(mut client, _)| {
            client.run_start = run_start;
            tokio::spawn(client.drive(deadline))
        })
        .collect();

    // The rotation, half-way: a new key published beside the old one, new tokens signed with it.
    tokio::time::sleep_until((run_start + Duration::from_secs(options.seconds) / 2).into()).await;
    let rotated_at = run_start.elapsed();
    let rotator = Arc::clone(&issuer);
    let (new_kid, new_tokens) = tokio::task::spawn_blocking(move || {
        let key = rotator.rotate();
        (key.kid().to_owned(), mint_key_tokens(&rotator))
    })
    .await?;
    let published_at = run_start.elapsed();
    let _ = tokens.new.set(new_tokens);

    let finished = join_all(tasks, deadline + REQUEST_TIMEOUT * 2).await?;
    let elapsed = run_start.elapsed();
    let samples = sampler.await?;
    let (end_rss, hwm) = memory_kib();
    let mut total = TaskStats::new();
    for (warm, run) in &finished {
        warm_up.merge(warm);
        total.merge(run);
    }
    let key_stats = authorizer.verifier().key_source_stats();
    server.abort();

    let outcome = Outcome {
        seconds: options.seconds,
        concurrency: options.concurrency,
        samples,
        total,
        warm_up,
        elapsed,
        end_rss,
        hwm,
        first_new_key_ok: progress.first_new_key_ok.load(Ordering::Relaxed),
        connections: connections.load(Ordering::Relaxed),
        rotated_at,
        published_at,
        new_kid,
        key_stats,
        refresh_cooldown: MIN_REFRESH_INTERVAL,
        distinct_users: tokens.distinct.len(),
    };
    let (report, passed) = report::render(outcome);
    print!("{report}");
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Awaits every task, or fails once `deadline` passes (a stuck client must not hang the soak).
async fn join_all<T: Send + 'static>(
    tasks: impl IntoIterator<Item = tokio::task::JoinHandle<T>>,
    deadline: Instant,
) -> Result<Vec<T>, BoxError> {
    let mut results = Vec::new();
    for task in tasks {
        let result = tokio::time::timeout_at(deadline.into(), task)
            .await
            .map_err(|_| "client tasks did not finish in time")??;
        results.push(result);
    }
    Ok(results)
}
