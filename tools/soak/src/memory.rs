//! Resident memory of this process, sampled every second, and how much it may grow.

/// Resident memory may exceed its level of the first seconds by this much (or 5 %, whichever
/// is larger) before the run counts as growing.
pub(crate) const RSS_TOLERANCE_KIB: u64 = 4 * 1024;

/// One per-second sample.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Seconds since the measured run started (zero and below: warm-up).
    pub(crate) second: i64,
    pub(crate) rss_kib: u64,
    pub(crate) requests: u64,
    pub(crate) cached_tokens: usize,
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
pub(crate) fn memory_kib() -> (u64, u64) {
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
