//! What the clients count: a fixed-size latency histogram and per-task request and problem
//! counts.

use std::collections::HashMap;

use crate::cases::CASES;

/// Different unexpected outcomes kept by name; any beyond this are counted together.
pub(crate) const MAX_PROBLEM_KINDS: usize = 64;

/// A latency histogram of fixed size (no allocation per request): exact below 128 µs, then
/// 64 buckets per power of two (under 1.6 % error), up to 2^32 µs.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    pub(crate) counts: Vec<u64>,
    pub(crate) total: u64,
    pub(crate) max: u64,
}

pub(crate) const SUB_BITS: u32 = 6;
pub(crate) const SUB: u64 = 1 << SUB_BITS;
pub(crate) const MAX_MICROS: u64 = (1 << 32) - 1;
pub(crate) const BUCKETS: usize = (SUB * (32 - SUB_BITS as u64 + 1)) as usize;

impl Histogram {
    pub(crate) fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }

    pub(crate) fn index(micros: u64) -> usize {
        let value = micros.min(MAX_MICROS);
        let shift = (64 - value.leading_zeros()).saturating_sub(SUB_BITS + 1);
        usize::try_from(SUB * u64::from(shift) + (value >> shift)).unwrap_or(BUCKETS - 1)
    }

    /// The largest value that falls in bucket `index`.
    pub(crate) fn upper_bound(index: usize) -> u64 {
        let index = index as u64;
        if index < 2 * SUB {
            return index;
        }
        let shift = index / SUB - 1;
        let mantissa = index - SUB * shift;
        ((mantissa + 1) << shift) - 1
    }

    pub(crate) fn record(&mut self, micros: u64) {
        self.counts[Self::index(micros)] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The value at quantile `q` (0–1), as its bucket's upper bound, in microseconds.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
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
pub(crate) struct TaskStats {
    pub(crate) latency: Histogram,
    /// Requests per case, with the first key and with the rotated key.
    pub(crate) sent: [[u64; 2]; CASES.len()],
    /// Unexpected outcomes by description.
    pub(crate) problems: HashMap<String, u64>,
}

impl TaskStats {
    pub(crate) fn new() -> Self {
        Self {
            latency: Histogram::new(),
            sent: [[0; 2]; CASES.len()],
            problems: HashMap::new(),
        }
    }

    pub(crate) fn problem(&mut self, description: String) {
        let key = if self.problems.len() < MAX_PROBLEM_KINDS
            || self.problems.contains_key(&description)
        {
            description
        } else {
            "other unexpected outcomes".to_owned()
        };
        *self.problems.entry(key).or_default() += 1;
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        self.latency.merge(&other.latency);
        for (mine, theirs) in self.sent.iter_mut().zip(&other.sent) {
            mine[0] += theirs[0];
            mine[1] += theirs[1];
        }
        for (description, count) in &other.problems {
            *self.problems.entry(description.clone()).or_default() += count;
        }
    }

    pub(crate) fn requests(&self) -> u64 {
        self.sent.iter().map(|pair| pair[0] + pair[1]).sum()
    }

    pub(crate) fn errors(&self) -> u64 {
        self.problems.values().sum()
    }
}
