//! What the benches share: a criterion measurement for ratios of times taken back to back.
//!
//! On a shared machine a baseline and the code under test, timed seconds apart, can catch
//! different bursts of other work. Timing them alternately within every iteration and reporting
//! the quotient lets both sides share each disturbance, so a ratio with a performance target
//! (README, "Performance") is stable from run to run.

use std::time::Duration;

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter};

/// A measurement whose value is a quotient of two times taken back to back, shown as `×`.
///
/// Only `iter_custom` produces values: each iteration adds its quotient, so criterion's
/// per-iteration estimate is the mean quotient. (Warm-up and sampling still run on wall time.)
pub(crate) struct Ratio;

impl Measurement for Ratio {
    type Intermediate = ();
    type Value = f64;

    fn start(&self) {}

    fn end(&self, (): ()) -> f64 {
        0.0
    }

    fn add(&self, v1: &f64, v2: &f64) -> f64 {
        v1 + v2
    }

    fn zero(&self) -> f64 {
        0.0
    }

    fn to_f64(&self, value: &f64) -> f64 {
        *value
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &Times
    }
}

/// Shows a quotient as `1.32 ×`.
pub(crate) struct Times;

impl ValueFormatter for Times {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "×"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        _: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "×"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "×"
    }
}

/// The sum over `iters` iterations of (time of the measured side) ÷ (time of the baseline
/// side), each pair timed back to back by `pair` (which returns baseline, measured).
pub(crate) fn interleaved(iters: u64, mut pair: impl FnMut() -> (Duration, Duration)) -> f64 {
    (0..iters)
        .map(|_| {
            let (floor, layered) = pair();
            layered.as_secs_f64() / floor.as_secs_f64()
        })
        .sum()
}
