//! Provider quota settings (`resilience::quota` books calls against them).

/// A provider's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QuotaPolicy {
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens (prompt + completion limit) per minute.
    pub tpm: Option<u64>,
    /// Calls in flight at once to the provider's endpoint (none: adaptive).
    pub max_in_flight: Option<u32>,
}
