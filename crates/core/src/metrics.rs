//! Numbers to alert on, through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`; without it every function here is empty and no metrics crate is built).
//!
//! The application picks the exporter and installs its recorder **before** the authorizer
//! serves its first request: handles are registered once, on first use, and kept, so the
//! request path never registers, hashes label sets or allocates for a metric. Labels come from
//! bounded sets only: route patterns (never request paths), error codes, and the key-set
//! locations of the configuration (for ALB keys, `alb:` and the key endpoint of each configured
//! load balancer's region, never a kid).
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `cognito_authz_decisions_total` | counter | `outcome` (`allowed`/`denied`), `code` (`none` or the error code), `route` (the pattern, or `<unmatched>`) |
//! | `cognito_authz_token_cache_hits_total` | counter | |
//! | `cognito_authz_token_cache_misses_total` | counter | |
//! | `cognito_authz_token_cache_evictions_total` | counter | |
//! | `cognito_authz_jwks_fetches_total` | counter | `source` (the key-set URL, or `alb:` and an ALB region's key endpoint), `result` (`ok` or the failure) |
//! | `cognito_authz_jwks_fetch_duration_seconds` | histogram | `source`, `result` |
//! | `cognito_authz_jwks_cooldown_refusals_total` | counter | `source` |
//! | `cognito_authz_jwks_keys` | gauge | `source` (key-set URLs only; 0 once nothing uses a key set of that URL any more) |
//! | `cognito_authz_revocation_connected` | gauge | (1 when the replica follows the shared store) |
//! | `cognito_authz_revocation_entries` | gauge | |
//! | `cognito_authz_revocation_fresh_at_seconds` | gauge | (Unix time up to which the replica is known complete) |
//! | `cognito_authz_policy_reloads_total` | counter | `result` (`ok`/`error`) |

#[cfg(feature = "metrics")]
use std::collections::HashMap;
#[cfg(feature = "metrics")]
use std::sync::{Arc, OnceLock};
use std::time::Duration;

#[cfg(feature = "metrics")]
use metrics::{Counter, counter, gauge, histogram};

use crate::authorizer::Decision;
#[cfg(feature = "metrics")]
use crate::error::ErrorKind;
use crate::policy::routes::RouteTable;

/// Decision counters of one route table, registered on first use and kept.
#[derive(Default)]
pub(crate) struct DecisionCounters {
    #[cfg(feature = "metrics")]
    /// Route pattern (by the address of its text, shared by the route table and every
    /// denial) → slot in `routes`.
    by_pattern: HashMap<usize, usize, foldhash::fast::FixedState>,
    #[cfg(feature = "metrics")]
    /// One slot per route pattern, then one for requests no route matched.
    routes: Box<[RouteCounters]>,
}

#[cfg(feature = "metrics")]
struct RouteCounters {
    label: Arc<str>,
    allowed: OnceLock<Counter>,
    denied: [OnceLock<Counter>; ErrorKind::ALL.len()],
}

#[cfg(feature = "metrics")]
const UNMATCHED: &str = "<unmatched>";

impl DecisionCounters {
    /// Slots for every route of `table` (nothing is registered yet).
    pub(crate) fn new(table: &RouteTable) -> Self {
        #[cfg(feature = "metrics")]
        {
            let mut by_pattern = HashMap::default();
            let mut routes = Vec::new();
            for route in table.routes() {
                let pattern = route.shared_pattern();
                let key = pattern.as_ptr() as usize;
                if let std::collections::hash_map::Entry::Vacant(slot) = by_pattern.entry(key) {
                    slot.insert(routes.len());
                    routes.push(RouteCounters::new(Arc::clone(pattern)));
                }
            }
            routes.push(RouteCounters::new(Arc::from(UNMATCHED)));
            Self {
                by_pattern,
                routes: routes.into_boxed_slice(),
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = table;
            Self {}
        }
    }

    /// Counts one decision: a denial under the route that refused it, an allowed request
    /// under `route`, the pattern of the route that matched (`None`: no route).
    #[inline]
    pub(crate) fn record(&self, route: Option<&str>, decision: &Decision) {
        #[cfg(feature = "metrics")]
        {
            let route = match decision {
                Decision::Allow { .. } => route,
                Decision::Deny(denial) => denial.route(),
            };
            let slot = route
                .and_then(|pattern| self.by_pattern.get(&(pattern.as_ptr() as usize)).copied())
                .unwrap_or(self.routes.len() - 1);
            let counters = &self.routes[slot];
            match decision {
                Decision::Allow { .. } => counters
                    .allowed
                    .get_or_init(|| decision_counter(&counters.label, "allowed", "none"))
                    .increment(1),
                Decision::Deny(denial) => {
                    let kind = denial.kind();
                    let index = ErrorKind::ALL
                        .iter()
                        .position(|candidate| *candidate == kind)
                        .unwrap_or(0);
                    counters.denied[index]
                        .get_or_init(|| decision_counter(&counters.label, "denied", kind.code()))
                        .increment(1);
                }
            }
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (route, decision);
    }
}

#[cfg(feature = "metrics")]
impl RouteCounters {
    fn new(label: Arc<str>) -> Self {
        Self {
            label,
            allowed: OnceLock::new(),
            denied: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

#[cfg(feature = "metrics")]
fn decision_counter(route: &Arc<str>, outcome: &'static str, code: &'static str) -> Counter {
    counter!(
        "cognito_authz_decisions_total",
        "outcome" => outcome,
        "code" => code,
        "route" => route.to_string(),
    )
}

/// Counters of one key source (a key-set URL, or an ALB region's key endpoint), registered on
/// first use and kept (a flood of unknown kids refused by the cooldown costs one relaxed add
/// each).
#[derive(Default)]
pub(crate) struct SourceCounters {
    #[cfg(feature = "metrics")]
    cooldown_refusals: OnceLock<Counter>,
}

impl SourceCounters {
    /// An unknown kid refused without a fetch because the cooldown has not passed (for ALB
    /// keys: the region's fetch budget is spent, or too many fetches are under way).
    #[inline]
    pub(crate) fn cooldown_refusal(&self, source: &str) {
        #[cfg(feature = "metrics")]
        self.cooldown_refusals
            .get_or_init(|| {
                counter!(
                    "cognito_authz_jwks_cooldown_refusals_total",
                    "source" => source.to_owned(),
                )
            })
            .increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = source;
    }
}

/// A key-set fetch finished: `result` is `ok` or the failure's name; `keys` the size of the
/// set now in use.
pub(crate) fn jwks_fetch(source: &str, result: &'static str, elapsed: Duration, keys: usize) {
    key_fetch(source, result, elapsed);
    #[cfg(feature = "metrics")]
    {
        let mut live = live_key_sets();
        if let Some(sets) = live.get_mut(source) {
            sets.reported = true;
        }
        gauge!("cognito_authz_jwks_keys", "source" => source.to_owned()).set(keys as f64);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = keys;
}

/// A key fetch finished, counted and timed under `source` (a key-set URL, or `alb:` and the
/// key endpoint of an ALB's region): the part of [`jwks_fetch`] that ALB key fetches, which
/// have no key set, record too.
pub(crate) fn key_fetch(source: &str, result: &'static str, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    {
        counter!(
            "cognito_authz_jwks_fetches_total",
            "source" => source.to_owned(),
            "result" => result,
        )
        .increment(1);
        histogram!(
            "cognito_authz_jwks_fetch_duration_seconds",
            "source" => source.to_owned(),
            "result" => result,
        )
        .record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (source, result, elapsed);
}

/// Key sets alive per key-set URL, in every verifier of the process (those of per-route
/// layers built before a reload included): the gauge of a URL drops to 0 with the last one.
#[cfg(feature = "metrics")]
static LIVE_KEY_SETS: std::sync::Mutex<std::collections::BTreeMap<Arc<str>, LiveKeySets>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The key sets of one URL alive, and whether any of them reported its key count.
#[cfg(feature = "metrics")]
#[derive(Default)]
struct LiveKeySets {
    alive: usize,
    reported: bool,
}

#[cfg(feature = "metrics")]
fn live_key_sets()
-> std::sync::MutexGuard<'static, std::collections::BTreeMap<Arc<str>, LiveKeySets>> {
    // Plain counts and flags: a poisoned lock still holds valid values.
    LIVE_KEY_SETS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A key set fetched from the URL `source` was made.
pub(crate) fn key_set_made(source: &std::sync::Arc<str>) {
    #[cfg(feature = "metrics")]
    {
        live_key_sets().entry(Arc::clone(source)).or_default().alive += 1;
    }
    #[cfg(not(feature = "metrics"))]
    let _ = source;
}

/// A key set fetched from the URL `source` was dropped: nothing uses it any more. The last
/// one of its URL sets the URL's key count to 0 if one was reported (under the lock, so a key
/// set of that URL made meanwhile reports after it, and a key set that never fetched, say of
/// a reload that failed, leaves no count behind).
pub(crate) fn key_set_dropped(source: &str) {
    #[cfg(feature = "metrics")]
    {
        let mut live = live_key_sets();
        let Some(sets) = live.get_mut(source) else {
            return;
        };
        sets.alive -= 1;
        if sets.alive == 0 {
            if sets.reported {
                gauge!("cognito_authz_jwks_keys", "source" => source.to_owned()).set(0.0);
            }
            live.remove(source);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = source;
}

/// The `result` label of a failed key-set fetch.
pub(crate) fn fetch_failure(error: &crate::jwks::FetchError) -> &'static str {
    use crate::jwks::FetchError;
    match error {
        FetchError::Connect => "connect",
        FetchError::Dns => "dns",
        FetchError::Tls => "tls",
        FetchError::Timeout => "timeout",
        FetchError::Status(_) => "status",
        FetchError::TooLarge(_) => "too_large",
        FetchError::NotAKeySet(_) => "not_a_key_set",
        FetchError::NoUsableKey => "no_usable_key",
        _ => "transport",
    }
}

#[cfg(feature = "metrics")]
fn cache_counter(cell: &'static OnceLock<Counter>, name: &'static str) -> &'static Counter {
    cell.get_or_init(|| counter!(name))
}

/// A verified-token cache lookup answered with a current entry.
#[inline]
pub(crate) fn token_cache_hit() {
    #[cfg(feature = "metrics")]
    {
        static HITS: OnceLock<Counter> = OnceLock::new();
        cache_counter(&HITS, "cognito_authz_token_cache_hits_total").increment(1);
    }
}

/// A verified-token cache lookup that sent the token through every check.
#[inline]
pub(crate) fn token_cache_miss() {
    #[cfg(feature = "metrics")]
    {
        static MISSES: OnceLock<Counter> = OnceLock::new();
        cache_counter(&MISSES, "cognito_authz_token_cache_misses_total").increment(1);
    }
}

/// An entry evicted from the verified-token cache to make room.
#[inline]
pub(crate) fn token_cache_eviction() {
    #[cfg(feature = "metrics")]
    {
        static EVICTIONS: OnceLock<Counter> = OnceLock::new();
        cache_counter(&EVICTIONS, "cognito_authz_token_cache_evictions_total").increment(1);
    }
}

/// The revocation store's state changed.
pub(crate) fn revocation_state(connected: bool, entries: usize, fresh_at: u64) {
    #[cfg(feature = "metrics")]
    {
        gauge!("cognito_authz_revocation_connected").set(if connected { 1.0 } else { 0.0 });
        gauge!("cognito_authz_revocation_entries").set(entries as f64);
        if fresh_at != 0 {
            gauge!("cognito_authz_revocation_fresh_at_seconds").set(fresh_at as f64);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (connected, entries, fresh_at);
}

/// A policy reload finished (`ok`) or was refused (`error`).
pub(crate) fn policy_reload(result: &'static str) {
    #[cfg(feature = "metrics")]
    counter!("cognito_authz_policy_reloads_total", "result" => result).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = result;
}
