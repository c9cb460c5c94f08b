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
    ///
    /// Computed in whole milliseconds in `u32` (delays up to 49 days), with 64-bit
    /// multiplications only: no 64- or 128-bit division, which a 32-bit microcontroller
    /// does in software (1.8 KB of code on a Cortex-M).
    pub(crate) fn next_delay(&mut self, policy: &ReconnectPolicy) -> Duration {
        let shift = self.failures.min(20);
        self.failures = self.failures.saturating_add(1);
        let base = millis(policy.min_delay)
            .saturating_mul(1 << shift)
            .min(millis(policy.max_delay));
        let jitter = u32::from(policy.jitter_percent.min(100));
        if jitter == 0 {
            return from_millis(base);
        }
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let random = ((self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32) % 1001;
        // base * jitter% * random/1000, as base * (jitter * random * 2^32 / 100 000) / 2^32;
        // 42 949 < 2^32 / 100 000 keeps the factor below 2^32 and the cut below `base`.
        let factor = u64::from(jitter * random * 42_949);
        let cut = ((u64::from(base) * factor) >> 32) as u32;
        from_millis(base - cut.min(base))
    }
}

/// `d` in whole milliseconds, at most `u32::MAX`.
fn millis(d: Duration) -> u32 {
    let ms = d
        .as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(d.subsec_millis()));
    u32::try_from(ms).unwrap_or(u32::MAX)
}

/// `ms` milliseconds, with 32-bit arithmetic only.
fn from_millis(ms: u32) -> Duration {
    Duration::new(u64::from(ms / 1000), (ms % 1000) * 1_000_000)
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
