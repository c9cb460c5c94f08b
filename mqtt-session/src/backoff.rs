//! Reconnect delays: exponential back-off with seeded jitter.

use core::time::Duration;

use crate::options::ReconnectPolicy;

/// Consecutive failed attempts and the jitter's random state.
pub(crate) struct Backoff {
    failures: u32,
    rng: u64,
}

impl Backoff {
    pub(crate) fn new(seed: u64) -> Backoff {
        // splitmix64: distinct seeds, adjacent ones included, give distinct states.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Backoff {
            failures: 0,
            // xorshift needs a non-zero state.
            rng: if z == 0 { 0x9E37_79B9_7F4A_7C15 } else { z },
        }
    }

    /// A connection succeeded: the next failure starts from the minimum delay again.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// The delay before the next attempt: `min_delay * 2^failures`, at most `max_delay`,
    /// less a random share of up to `jitter_percent`.
    pub(crate) fn next_delay(&mut self, policy: &ReconnectPolicy) -> Duration {
        let factor = 1u32 << self.failures.min(20);
        self.failures = self.failures.saturating_add(1);
        let base = policy
            .min_delay
            .saturating_mul(factor)
            .min(policy.max_delay);
        let jitter = u64::from(policy.jitter_percent.min(100));
        if jitter == 0 {
            return base;
        }
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let random = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % 1001; // 0..=1000
        let base_ns = base.as_nanos().min(u128::from(u64::MAX)) as u64;
        let cut = (u128::from(base_ns) * u128::from(jitter) * u128::from(random) / 100_000) as u64;
        Duration::from_nanos(base_ns - cut.min(base_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_maximum_with_jitter_inside_bounds() {
        let policy = ReconnectPolicy {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            jitter_percent: 25,
            ..ReconnectPolicy::default()
        };
        let mut b = Backoff::new(42);
        let mut expected = Duration::from_millis(100);
        for _ in 0..10 {
            let d = b.next_delay(&policy);
            assert!(
                d <= expected && d >= expected * 3 / 4,
                "{d:?} not within 25% below {expected:?}"
            );
            expected = (expected * 2).min(Duration::from_secs(2));
        }
        b.reset();
        assert!(b.next_delay(&policy) <= Duration::from_millis(100));
    }

    #[test]
    fn same_seed_same_delays() {
        let policy = ReconnectPolicy::default();
        let mut a = Backoff::new(7);
        let mut b = Backoff::new(7);
        for _ in 0..5 {
            assert_eq!(a.next_delay(&policy), b.next_delay(&policy));
        }
    }
}
