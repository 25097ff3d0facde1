//! What a run found, as the report it prints, and whether it passed: per-second samples,
//! requests by case, throughput and latency, unexpected answers, the key rotation, the key
//! fetches, the verified-token cache and resident memory.

use std::fmt::Write as _;
use std::time::Duration;

use cognito_authz::jwks::KeySourceStats;

use crate::cases::CASES;
use crate::memory::{RSS_TOLERANCE_KIB, Sample};
use crate::shared;
use crate::stats::TaskStats;

/// Everything a run measured.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Length of the measured run.
    pub(crate) seconds: u64,
    /// Client tasks.
    pub(crate) concurrency: usize,
    /// One per second, warm-up included (seconds zero and below).
    pub(crate) samples: Vec<Sample>,
    /// What the clients saw in the measured run.
    pub(crate) total: TaskStats,
    /// What the clients saw in the warm-up.
    pub(crate) warm_up: TaskStats,
    /// Time from the run's start to the last client's end.
    pub(crate) elapsed: Duration,
    /// `VmRSS` at the end, in KiB.
    pub(crate) end_rss: u64,
    /// `VmHWM` at the end, in KiB.
    pub(crate) hwm: u64,
    /// Microseconds from the run's start to the first 200 with the rotated key
    /// (`u64::MAX`: never).
    pub(crate) first_new_key_ok: u64,
    /// Connections the app accepted.
    pub(crate) connections: usize,
    /// When the key was rotated, from the run's start.
    pub(crate) rotated_at: Duration,
    /// When the rotated key's tokens were handed to the clients.
    pub(crate) published_at: Duration,
    /// The rotated key's kid.
    pub(crate) new_kid: String,
    /// Fetch counters of every key source.
    pub(crate) key_stats: Vec<KeySourceStats>,
    /// The issuer's refresh cooldown.
    pub(crate) refresh_cooldown: Duration,
    /// Distinct users the clients cycled through.
    pub(crate) distinct_users: usize,
}

/// The report and whether the run passed: no unexpected answer, flat memory, the rotated key
/// used, the verified-token cache within its bound.
#[allow(clippy::too_many_lines)]
pub(crate) fn render(outcome: Outcome) -> (String, bool) {
    let Outcome {
        seconds,
        concurrency,
        samples,
        total,
        warm_up,
        elapsed,
        end_rss,
        hwm,
        first_new_key_ok,
        connections,
        rotated_at,
        published_at,
        new_kid,
        key_stats,
        refresh_cooldown,
        distinct_users,
    } = outcome;
    let requests = total.requests();
    let errors = total.errors();
    #[allow(clippy::cast_precision_loss)]
    let rate = requests as f64 / elapsed.as_secs_f64();
    let start_rss = samples
        .iter()
        .find(|sample| sample.second == 0)
        .map_or(end_rss, |sample| sample.rss_kib);
    let run_samples: Vec<&Sample> = samples.iter().filter(|sample| sample.second > 0).collect();
    let baseline_window = i64::try_from((seconds / 3).min(10)).unwrap_or(10);
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
    let first_new_ok = first_new_key_ok;
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
        connections, concurrency
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
            refresh_cooldown.as_secs()
        );
    }
    let _ = writeln!(
        report,
        "token cache    max {max_cached} entries sampled (bound {}), {} distinct users cycled",
        shared::VERIFIED_TOKEN_CACHE,
        distinct_users
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
    (report, failures.is_empty())
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
