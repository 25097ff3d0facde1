//! One client task: a loop of requests on its own keep-alive connection, counted as warm-up
//! or run, and the shared progress counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::header::WWW_AUTHENTICATE;

use crate::cases::{CASES, Caller, MIX, check};
use crate::stats::TaskStats;
use crate::tokens::Tokens;

/// Longest time one request may take before it counts as a transport error.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts shared by the client tasks while they run.
#[derive(Debug)]
pub(crate) struct Progress {
    /// Responses completed (any status).
    pub(crate) completed: AtomicU64,
    /// Microseconds from the run's start to the first 200 for a rotated-key token.
    pub(crate) first_new_key_ok: AtomicU64,
    /// Distinct-user tokens handed out so far: all tasks walk the pool together, in order, so
    /// a token comes back only after every other one was sent (by then FIFO has evicted it).
    pub(crate) distinct_sent: AtomicUsize,
}

/// One client task's fixed inputs.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) index: usize,
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    pub(crate) tokens: Arc<Tokens>,
    pub(crate) progress: Arc<Progress>,
    pub(crate) run_start: Instant,
}

impl Client {
    /// Cycles through [`MIX`] until `deadline` (or a cap on iterations far above what the time
    /// allows), on this task's keep-alive connection. Requests started before `run_start` are
    /// warm-up: counted apart (the first statistics), the rest in the second.
    pub(crate) async fn drive(self, deadline: Instant) -> (TaskStats, TaskStats) {
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
    pub(crate) async fn prefill(self, mut stats: TaskStats) -> (Self, TaskStats) {
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
    pub(crate) async fn send(
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

/// A fixed name for a client-side failure (so their count stays bounded).
pub(crate) fn transport(error: &reqwest::Error) -> &'static str {
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
