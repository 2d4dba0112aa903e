//! Retry policy: which failures are retried, and how long to wait before the next attempt
//! (exponential backoff with full jitter, or the server's `Retry-After`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Retries after a connection failure (refused, reset or closed before a response, no file
/// descriptor left), whatever the declaration's `retry` says: the request reached no service, so
/// it is sent again after the backoff rather than ending the call in error. A higher `retry`
/// count applies to them too.
pub const CONNECTION_RETRIES: u32 = 5;

/// Exponential backoff with full jitter: before retry `n` (0-based) wait a uniformly random time
/// in `[0, min(cap, base * 2^n)]`. The random source is SplitMix64, seeded for reproducible runs.
#[derive(Debug)]
pub struct Backoff {
    state: AtomicU64,
    cap: Duration,
}

impl Backoff {
    /// A backoff whose jitter is drawn from `seed`, with waits capped at `cap`.
    pub fn new(seed: u64, cap: Duration) -> Self {
        Backoff { state: AtomicU64::new(seed), cap }
    }

    /// A backoff seeded from the clock and the process's hash keys.
    pub fn unseeded(cap: Duration) -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
        Backoff::new(h.finish(), cap)
    }

    /// The wait before retry number `retry` (0 for the first retry) with base `base`.
    pub fn delay(&self, base: Duration, retry: u32) -> Duration {
        let ceiling = base.saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX)).min(self.cap);
        let ms = ceiling.as_millis() as u64;
        if ms == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(self.next_u64() % (ms + 1))
    }

    fn next_u64(&self) -> u64 {
        let mut z = self.state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Whether a response status is worth another attempt: 429 and 5xx are, other statuses are not.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// A `Retry-After` header in seconds (the HTTP-date form is ignored), capped at `cap`.
pub fn retry_after(headers: &reqwest::header::HeaderMap, cap: Duration) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: u64 = v.parse().ok()?;
    Some(Duration::from_secs(secs).min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_the_exponential_ceiling() {
        let b = Backoff::new(7, Duration::from_secs(5));
        for retry in 0..8 {
            let ceiling = Duration::from_millis(100 << retry).min(Duration::from_secs(5));
            for _ in 0..50 {
                assert!(b.delay(Duration::from_millis(100), retry) <= ceiling);
            }
        }
        assert_eq!(b.delay(Duration::ZERO, 3), Duration::ZERO);
        assert!(b.delay(Duration::from_secs(1), 40) <= Duration::from_secs(5));
    }

    #[test]
    fn same_seed_same_delays() {
        let (a, b) = (Backoff::new(42, Duration::from_secs(60)), Backoff::new(42, Duration::from_secs(60)));
        let xs: Vec<_> = (0..5).map(|n| a.delay(Duration::from_millis(200), n)).collect();
        let ys: Vec<_> = (0..5).map(|n| b.delay(Duration::from_millis(200), n)).collect();
        assert_eq!(xs, ys);
        let c = Backoff::new(43, Duration::from_secs(60));
        let zs: Vec<_> = (0..5).map(|n| c.delay(Duration::from_millis(200), n)).collect();
        assert_ne!(xs, zs);
    }

    #[test]
    fn statuses() {
        assert!(retryable_status(429) && retryable_status(500) && retryable_status(503));
        assert!(!retryable_status(404) && !retryable_status(400) && !retryable_status(200));
    }
}
