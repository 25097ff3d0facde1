//! Load and soak test of the axum quickstart: a bounded run against the real app over HTTP/1.1
//! keep-alive connections on 127.0.0.1, with a key rotation half-way. See `docs/soak.md`.
//!
//! ```text
//! scripts/soak.sh [SECONDS]
//! cargo run --release --example soak -- --seconds 60 [--concurrency 64]
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

mod shared;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::serve::ListenerExt as _;
use cognito_authz::AcceptedTokenUse;
use cognito_authz_testkit::{LocalIssuer, SigningKey};
use http::header::WWW_AUTHENTICATE;

use shared::BoxError;

/// Client tasks (one keep-alive connection each) unless `--concurrency` says otherwise.
const DEFAULT_CONCURRENCY: usize = 64;

/// Length of the measured run unless `--seconds` says otherwise.
const DEFAULT_SECONDS: u64 = 60;

/// The JWKS refresh cooldown of the soak's issuer. The default (30 s) counts from the warm-up
/// fetch, so a rotation at the midpoint of a run shorter than a minute would be refused as a
/// cooldown hit; 2 s lets every allowed run length pick the new key up on its first token.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

/// Distinct users minted up front: 20 % more than the verified-token cache holds. All tasks
/// walk them in one shared order (the warm-up fills the cache in that order too), so each comes
/// back only after 11,999 others were inserted: every distinct request misses, is verified, and
/// evicts the oldest entry, and the cache sits at its bound for the whole run.
const DISTINCT_USERS: usize = shared::VERIFIED_TOKEN_CACHE + shared::VERIFIED_TOKEN_CACHE / 5;

/// Mixed traffic before the measured run (after every distinct token was sent once); the
/// clients run on into the measured run without a break. Long enough for glibc's per-thread
/// malloc arenas to settle: with the default allocator RSS climbs by ~10 MiB over the first
/// seconds of traffic and then stays flat (with `MALLOC_ARENA_MAX=1` it is flat from the start),
/// and with a pause between warm-up and run (all tasks finishing, then new ones starting) the
/// run started ~15 MiB lower and climbed through its first seconds, which reads as growth.
const WARM_UP: Duration = Duration::from_secs(10);

/// Resident memory may exceed its level of the first seconds by this much (or 5 %, whichever
/// is larger) before the run counts as growing.
const RSS_TOLERANCE_KIB: u64 = 4 * 1024;

/// Longest time one request may take before it counts as a transport error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Different unexpected outcomes kept by name; any beyond this are counted together.
const MAX_PROBLEM_KINDS: usize = 64;

/// Who sends the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// No `Authorization` header.
    Nobody,
    /// `alice`, group admin, scope reports/read.
    Admin,
    /// `bob`, no groups, the default user scope.
    User,
    /// A client_credentials client with scope reports/read.
    Machine,
    /// A token with the current kid, signed by a key the pool never published.
    BadSignature,
    /// A token whose `exp` is an hour in the past.
    Expired,
    /// One of [`DISTINCT_USERS`] users, in turn.
    Distinct,
}

/// What the app must answer to a 401.
#[derive(Debug, Clone, Copy)]
enum Challenge {
    /// Not a 401: the header is not checked.
    Unchecked,
    /// Exactly this header (the no-token challenge).
    Exactly(&'static str),
    /// `error="invalid_token"` with this `error_description`.
    Describes(&'static str),
}

/// One kind of request and the answer `examples/policy.toml` gives it.
#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    path: &'static str,
    caller: Caller,
    status: u16,
    challenge: Challenge,
}

const fn case(name: &'static str, path: &'static str, caller: Caller, status: u16) -> Case {
    Case {
        name,
        path,
        caller,
        status,
        challenge: Challenge::Unchecked,
    }
}

const fn unauthorized(name: &'static str, caller: Caller, challenge: Challenge) -> Case {
    Case {
        name,
        path: "/me",
        caller,
        status: 401,
        challenge,
    }
}

/// Every kind of request the soak sends.
const CASES: [Case; 13] = [
    case("health, no token", "/health", Caller::Nobody, 200),
    case("health, admin", "/health", Caller::Admin, 200),
    case("me, user", "/me", Caller::User, 200),
    case("me, machine", "/me", Caller::Machine, 200),
    case("me, distinct user", "/me", Caller::Distinct, 200),
    case("admin, admin", "/admin/users", Caller::Admin, 200),
    case("admin, user", "/admin/users", Caller::User, 403),
    case("reports, machine", "/reports/42", Caller::Machine, 200),
    case("reports, admin", "/reports/42", Caller::Admin, 200),
    case("reports, user", "/reports/42", Caller::User, 403),
    unauthorized("me, no token", Caller::Nobody, Challenge::Exactly("Bearer")),
    unauthorized(
        "me, bad signature",
        Caller::BadSignature,
        Challenge::Describes("invalid signature"),
    ),
    unauthorized(
        "me, expired",
        Caller::Expired,
        Challenge::Describes("token expired"),
    ),
];

/// The order each client task cycles through (indexes into [`CASES`]), each task starting at
/// its own offset: every case once, distinct users three times in sixteen.
const MIX: [usize; 16] = [0, 2, 4, 5, 7, 11, 3, 4, 6, 8, 12, 10, 9, 4, 1, 5];

/// The fixed tokens signed with one key.
#[derive(Debug)]
struct KeyTokens {
    admin: String,
    user: String,
    machine: String,
    bad_signature: String,
    expired: String,
}

/// Every token the clients send.
#[derive(Debug)]
struct Tokens {
    /// Signed with the issuer's first key.
    old: KeyTokens,
    /// Signed with the rotated key, set once at the midpoint.
    new: OnceLock<KeyTokens>,
    /// [`DISTINCT_USERS`] users, signed with the first key.
    distinct: Vec<String>,
}

/// Run settings from the command line.
#[derive(Debug, Clone, Copy)]
struct Options {
    seconds: u64,
    concurrency: usize,
}

/// Counts shared by the client tasks while they run.
#[derive(Debug)]
struct Progress {
    /// Responses completed (any status).
    completed: AtomicU64,
    /// Microseconds from the run's start to the first 200 for a rotated-key token.
    first_new_key_ok: AtomicU64,
    /// Distinct-user tokens handed out so far: all tasks walk the pool together, in order, so
    /// a token comes back only after every other one was sent (by then FIFO has evicted it).
    distinct_sent: AtomicUsize,
}

/// A latency histogram of fixed size (no allocation per request): exact below 128 µs, then
/// 64 buckets per power of two (under 1.6 % error), up to 2^32 µs.
#[derive(Debug, Clone)]
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
const MAX_MICROS: u64 = (1 << 32) - 1;
const BUCKETS: usize = (SUB * (32 - SUB_BITS as u64 + 1)) as usize;

impl Histogram {
    fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }

    fn index(micros: u64) -> usize {
        let value = micros.min(MAX_MICROS);
        let shift = (64 - value.leading_zeros()).saturating_sub(SUB_BITS + 1);
        usize::try_from(SUB * u64::from(shift) + (value >> shift)).unwrap_or(BUCKETS - 1)
    }

    /// The largest value that falls in bucket `index`.
    fn upper_bound(index: usize) -> u64 {
        let index = index as u64;
        if index < 2 * SUB {
            return index;
        }
        let shift = index / SUB - 1;
        let mantissa = index - SUB * shift;
        ((mantissa + 1) << shift) - 1
    }

    fn record(&mut self, micros: u64) {
        self.counts[Self::index(micros)] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
    }

    fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The value at quantile `q` (0–1), as its bucket's upper bound, in microseconds.
    fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::upper_bound(index).min(self.max);
            }
        }
        self.max
    }
}

/// What one client task saw.
#[derive(Debug, Clone)]
struct TaskStats {
    latency: Histogram,
    /// Requests per case, with the first key and with the rotated key.
    sent: [[u64; 2]; CASES.len()],
    /// Unexpected outcomes by description.
    problems: HashMap<String, u64>,
}

impl TaskStats {
    fn new() -> Self {
        Self {
            latency: Histogram::new(),
            sent: [[0; 2]; CASES.len()],
            problems: HashMap::new(),
        }
    }

    fn problem(&mut self, description: String) {
        let key = if self.problems.len() < MAX_PROBLEM_KINDS
            || self.problems.contains_key(&description)
        {
            description
        } else {
            "other unexpected outcomes".to_owned()
        };
        *self.problems.entry(key).or_default() += 1;
    }

    fn merge(&mut self, other: &Self) {
        self.latency.merge(&other.latency);
        for (mine, theirs) in self.sent.iter_mut().zip(&other.sent) {
            mine[0] += theirs[0];
            mine[1] += theirs[1];
        }
        for (description, count) in &other.problems {
            *self.problems.entry(description.clone()).or_default() += count;
        }
    }

    fn requests(&self) -> u64 {
        self.sent.iter().map(|pair| pair[0] + pair[1]).sum()
    }

    fn errors(&self) -> u64 {
        self.problems.values().sum()
    }
}

/// One client task's fixed inputs.
#[derive(Debug, Clone)]
struct Client {
    index: usize,
    http: reqwest::Client,
    base_url: String,
    tokens: Arc<Tokens>,
    progress: Arc<Progress>,
    run_start: Instant,
}

impl Client {
    /// Cycles through [`MIX`] until `deadline` (or a cap on iterations far above what the time
    /// allows), on this task's keep-alive connection. Requests started before `run_start` are
    /// warm-up: counted apart (the first statistics), the rest in the second.
    async fn drive(self, deadline: Instant) -> (TaskStats, TaskStats) {
        let mut warm_up = TaskStats::new();
        let mut run = TaskStats::new();
        // A request takes well over a microsecond, so this cap never binds before the deadline;
        // it only makes the loop bounded in count as well as in time.
        let max_iterations = deadline
            .saturating_duration_since(Instant::now())
            .as_micros();
        let mut iteration = 0u128;
        while Instant::now() < deadline && iteration < max_iterations {
            let position = self.index + usize::try_from(iteration).unwrap_or(0);
            iteration += 1;
            let case_index = MIX[position % MIX.len()];
            let case = &CASES[case_index];
            // After the rotation, every other pass through the mix uses the new key's tokens.
            let new_keys = self
                .tokens
                .new
                .get()
                .filter(|_| (position / MIX.len()) % 2 == 1);
            let keys = new_keys.unwrap_or(&self.tokens.old);
            let token = match case.caller {
                Caller::Nobody => None,
                Caller::Admin => Some(&keys.admin),
                Caller::User => Some(&keys.user),
                Caller::Machine => Some(&keys.machine),
                Caller::BadSignature => Some(&keys.bad_signature),
                Caller::Expired => Some(&keys.expired),
                Caller::Distinct => {
                    let distinct = &self.tokens.distinct;
                    let turn = self.progress.distinct_sent.fetch_add(1, Ordering::Relaxed);
                    let slot = turn % distinct.len();
                    Some(&distinct[slot])
                }
            };
            let rotated =
                new_keys.is_some() && !matches!(case.caller, Caller::Nobody | Caller::Distinct);
            let stats = if Instant::now() < self.run_start {
                &mut warm_up
            } else {
                &mut run
            };
            let ok = self.send(case_index, token, rotated, stats).await;
            if ok && rotated && case.status == 200 {
                let at = u64::try_from(self.run_start.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.progress
                    .first_new_key_ok
                    .fetch_min(at, Ordering::Relaxed);
            }
        }
        (warm_up, run)
    }

    /// Sends every distinct user's token once, in the order the run goes on with, which fills
    /// the verified-token cache to its bound. (Filled in another order, FIFO and the walk settle
    /// into a pattern where most distinct tokens hit: see docs/soak.md.)
    async fn prefill(self, mut stats: TaskStats) -> (Self, TaskStats) {
        let case_index = CASES
            .iter()
            .position(|case| case.caller == Caller::Distinct)
            .expect("the mix has a distinct-user case");
        let tokens = Arc::clone(&self.tokens);
        loop {
            let turn = self.progress.distinct_sent.fetch_add(1, Ordering::Relaxed);
            let Some(token) = tokens.distinct.get(turn) else {
                break;
            };
            self.send(case_index, Some(token), false, &mut stats).await;
        }
        (self, stats)
    }

    /// One request; returns whether the answer was the expected one.
    async fn send(
        &self,
        case_index: usize,
        token: Option<&String>,
        rotated: bool,
        stats: &mut TaskStats,
    ) -> bool {
        let case = &CASES[case_index];
        stats.sent[case_index][usize::from(rotated)] += 1;
        let key = if rotated { "rotated key" } else { "first key" };
        let mut request = self.http.get(format!("{}{}", self.base_url, case.path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let started = Instant::now();
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let challenge = response
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|value| value.to_str().ok());
                let mismatch = check(case, status, challenge);
                match response.bytes().await {
                    Ok(_) => mismatch,
                    Err(error) => Some(format!("body: {}", transport(&error))),
                }
            }
            Err(error) => Some(transport(&error).to_owned()),
        };
        let elapsed = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        stats.latency.record(elapsed);
        self.progress.completed.fetch_add(1, Ordering::Relaxed);
        match outcome {
            None => true,
            Some(what) => {
                stats.problem(format!(
                    "{} ({key}): expected {}, got {what}",
                    case.name, case.status
                ));
                false
            }
        }
    }
}

/// `None` when the answer is the expected one; otherwise what was wrong with it.
fn check(case: &Case, status: u16, challenge: Option<&str>) -> Option<String> {
    let description = |challenge: Option<&str>| {
        challenge
            .and_then(|value| value.split("error_description=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("-")
            .chars()
            .take(40)
            .collect::<String>()
    };
    if status != case.status {
        return Some(if status == 401 {
            format!("401 ({})", description(challenge))
        } else {
            status.to_string()
        });
    }
    let fits = match case.challenge {
        Challenge::Unchecked => true,
        Challenge::Exactly(expected) => challenge == Some(expected),
        Challenge::Describes(expected) => {
            challenge.is_some_and(|value| value.starts_with("Bearer error=\"invalid_token\""))
                && description(challenge) == expected
        }
    };
    (!fits).then(|| format!("{status} with challenge ({})", description(challenge)))
}

/// A fixed name for a client-side failure (so their count stays bounded).
fn transport(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection error"
    } else if error.is_body() || error.is_decode() {
        "body error"
    } else {
        "request error"
    }
}

/// One per-second sample.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Seconds since the measured run started (zero and below: warm-up).
    second: i64,
    rss_kib: u64,
    requests: u64,
    cached_tokens: usize,
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The fixed tokens, signed with the issuer's current key.
fn mint_key_tokens(issuer: &LocalIssuer) -> KeyTokens {
    let tokens = shared::mint_tokens(issuer);
    let now = unix_now();
    let impostor = SigningKey::generate(issuer.signing_key().kid());
    KeyTokens {
        admin: tokens.admin,
        user: tokens.user,
        machine: tokens.machine,
        bad_signature: issuer
            .access_token()
            .username("mallory")
            .signed_by(&impostor)
            .sign(),
        expired: issuer
            .access_token()
            .username("carol")
            .issued_at(now - 7200)
            .expires_at(now - 3600)
            .sign(),
    }
}

/// [`DISTINCT_USERS`] access tokens for `user-00000`, `user-00001`, …, signed on every core.
fn mint_distinct(issuer: &LocalIssuer) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = DISTINCT_USERS.div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || {
                    let first = thread * chunk;
                    let last = (first + chunk).min(DISTINCT_USERS);
                    (first..last)
                        .map(|user| {
                            issuer
                                .access_token()
                                .username(format!("user-{user:05}"))
                                .sign()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("minting does not panic"))
            .collect()
    })
}

fn parse_options() -> Result<Options, BoxError> {
    let mut options = Options {
        seconds: DEFAULT_SECONDS,
        concurrency: DEFAULT_CONCURRENCY,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => options.seconds = value("--seconds")?.parse()?,
            "--concurrency" => options.concurrency = value("--concurrency")?.parse()?,
            "-h" | "--help" => {
                println!(
                    "usage: soak [--seconds N (4-3600, default 60)] [--concurrency N (1-1024, default 64)]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if !(4..=3600).contains(&options.seconds) {
        return Err("--seconds must be between 4 and 3600".into());
    }
    if !(1..=1024).contains(&options.concurrency) {
        return Err("--concurrency must be between 1 and 1024".into());
    }
    Ok(options)
}

fn mib(kib: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let value = kib as f64 / 1024.0;
    format!("{value:.1} MiB")
}

fn millis(micros: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let value = micros as f64 / 1000.0;
    format!("{value:.2} ms")
}

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

    // --- report ---
    let requests = total.requests();
    let errors = total.errors();
    #[allow(clippy::cast_precision_loss)]
    let rate = requests as f64 / elapsed.as_secs_f64();
    let start_rss = samples
        .iter()
        .find(|sample| sample.second == 0)
        .map_or(end_rss, |sample| sample.rss_kib);
    let run_samples: Vec<&Sample> = samples.iter().filter(|sample| sample.second > 0).collect();
    let baseline_window = i64::try_from((options.seconds / 3).min(10)).unwrap_or(10);
    let in_window = |sample: &&&Sample| sample.second <= baseline_window;
    let baseline = run_samples
        .iter()
        .filter(in_window)
        .map(|sample| sample.rss_kib)
        .chain([start_rss])
        .max()
        .unwrap_or(start_rss);
    let later_peak = run_samples
        .iter()
        .filter(|sample| !in_window(sample))
        .map(|sample| sample.rss_kib)
        .max()
        .unwrap_or(baseline);
    let run_peak = baseline.max(later_peak);
    let tolerance = RSS_TOLERANCE_KIB.max(baseline / 20);
    let rss_grew = later_peak > baseline + tolerance;
    let max_cached = samples
        .iter()
        .map(|sample| sample.cached_tokens)
        .max()
        .unwrap_or(0);
    let rotated_requests: u64 = total.sent.iter().map(|pair| pair[1]).sum();
    let first_new_ok = progress.first_new_key_ok.load(Ordering::Relaxed);
    let picked_up = first_new_ok != u64::MAX;

    let mut report = String::new();
    let _ = writeln!(
        report,
        "\nper second (s from the run's start, 0 and below warm-up; requests, RSS, cached tokens):"
    );
    for sample in &samples {
        let _ = writeln!(
            report,
            "  {:>4} {:>8} {:>10} {:>6}",
            sample.second,
            sample.requests,
            mib(sample.rss_kib),
            sample.cached_tokens
        );
    }
    let _ = writeln!(report, "\nrequests by case (first key + rotated key):");
    for (case, sent) in CASES.iter().zip(&total.sent) {
        let _ = writeln!(
            report,
            "  {:<20} {:>3}  {:>9} + {:>8}",
            case.name, case.status, sent[0], sent[1]
        );
    }
    let per_second: Vec<u64> = run_samples.iter().map(|sample| sample.requests).collect();
    let _ = writeln!(
        report,
        "\nrequests       {requests} in {:.2} s = {rate:.0} req/s (per-second min {}, max {})",
        elapsed.as_secs_f64(),
        per_second.iter().min().copied().unwrap_or(0),
        per_second.iter().max().copied().unwrap_or(0),
    );
    let _ = writeln!(
        report,
        "latency        p50 {}  p99 {}  p99.9 {}  max {}",
        millis(total.latency.quantile(0.50)),
        millis(total.latency.quantile(0.99)),
        millis(total.latency.quantile(0.999)),
        millis(total.latency.max)
    );
    let _ = writeln!(
        report,
        "unexpected     {errors} (warm-up: {} in {} requests)",
        warm_up.errors(),
        warm_up.requests()
    );
    let mut problems: Vec<_> = total.problems.iter().chain(&warm_up.problems).collect();
    problems.sort();
    for (description, count) in problems {
        let _ = writeln!(report, "  {count:>8}  {description}");
    }
    let _ = writeln!(
        report,
        "connections    {} accepted by the app ({} client tasks)",
        connections.load(Ordering::Relaxed),
        options.concurrency
    );
    let _ = writeln!(
        report,
        "rotation       at {:.2} s, new tokens from {:.2} s, first 200 with the new key at {}; {rotated_requests} rotated-key requests; kid {new_kid}",
        rotated_at.as_secs_f64(),
        published_at.as_secs_f64(),
        if picked_up {
            #[allow(clippy::cast_precision_loss)]
            let at = first_new_ok as f64 / 1e6;
            format!("{at:.3} s")
        } else {
            "never".to_owned()
        },
    );
    for stats in &key_stats {
        let _ = writeln!(
            report,
            "jwks           {} fetches ({} failed), {} cooldown hits, {} keys (refresh cooldown {} s)",
            stats.fetches,
            stats.failures,
            stats.cooldown_hits,
            stats.keys,
            MIN_REFRESH_INTERVAL.as_secs()
        );
    }
    let _ = writeln!(
        report,
        "token cache    max {max_cached} entries sampled (bound {}), {} distinct users cycled",
        shared::VERIFIED_TOKEN_CACHE,
        tokens.distinct.len()
    );
    let _ = writeln!(
        report,
        "RSS            start {}, peak {} (first {baseline_window} s: {}; after: {}), end {}; tolerance {}; process high-water mark {}",
        mib(start_rss),
        mib(run_peak),
        mib(baseline),
        mib(later_peak),
        mib(end_rss),
        mib(tolerance),
        mib(hwm)
    );
    let mut failures = Vec::new();
    if errors + warm_up.errors() > 0 {
        failures.push("unexpected responses");
    }
    if rss_grew {
        failures.push("resident memory grew after the first seconds");
    }
    if !picked_up || rotated_requests == 0 {
        failures.push("the rotated key was never used successfully");
    }
    if max_cached > shared::VERIFIED_TOKEN_CACHE {
        failures.push("the verified-token cache exceeded its bound");
    }
    let verdict = if failures.is_empty() {
        "PASS".to_owned()
    } else {
        format!("FAIL: {}", failures.join("; "))
    };
    let _ = writeln!(report, "verdict        {verdict}");
    print!("{report}");
    Ok(if failures.is_empty() {
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
