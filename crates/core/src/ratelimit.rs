//! Token buckets: rate limits for what the router sends on its own initiative.
//!
//! Used for ICMP error messages (RFC 1812 4.3.2.8: "a router MUST ... limit the rate at
//! which it originates ICMP error messages"; token buckets are the method it suggests) and
//! for the ARP requests of the neighbor cache (RFC 1122 2.3.2.1, "A mechanism to prevent
//! ARP flooding ... MUST be included").
//!
//! Pure integer arithmetic on nanoseconds, no floats and no clock reads: `now` is passed
//! in. Credit is kept in token-nanoseconds (one token is worth `NANOS_PER_SEC` units and
//! every elapsed nanosecond earns `rate` units), so the fractional part of a token carries
//! over between calls and the long-run rate never drifts, however often the bucket is
//! asked.

use crate::time::Instant;

/// Credit units per token (and nanoseconds per second).
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A token bucket: at most `burst` tokens at once, refilled at `rate` tokens per second.
///
/// A new bucket starts full. A rate of 0 or a burst of 0 means "never": every
/// [`TokenBucket::try_take`] fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    rate_per_sec: u32,
    burst: u32,
    /// Credit in token-nanoseconds, at most `burst * NANOS_PER_SEC` (fits in a u64:
    /// `u32::MAX * 1e9 < 2^63`).
    credit: u64,
    /// When `credit` was last brought up to date.
    last: Instant,
}

impl TokenBucket {
    /// A full bucket allowing `burst` tokens at once and `rate_per_sec` tokens per second.
    pub fn new(rate_per_sec: u32, burst: u32, now: Instant) -> TokenBucket {
        let mut bucket = TokenBucket {
            rate_per_sec,
            burst,
            credit: 0,
            last: now,
        };
        bucket.credit = bucket.capacity();
        bucket
    }

    /// Tokens per second.
    pub fn rate_per_sec(&self) -> u32 {
        self.rate_per_sec
    }

    /// Most tokens available at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Take one token if one is available at `now`.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.credit >= NANOS_PER_SEC {
            self.credit -= NANOS_PER_SEC;
            true
        } else {
            false
        }
    }

    /// Whole tokens available at `now`, without taking any.
    pub fn available(&self, now: Instant) -> u32 {
        // credit <= burst * NANOS_PER_SEC, so the quotient fits in a u32.
        u32::try_from(self.credit_at(now) / NANOS_PER_SEC).unwrap_or(u32::MAX)
    }

    /// The earliest instant at or after `now` when a token is available; `None` if never
    /// (rate or burst 0).
    pub fn next_available(&self, now: Instant) -> Option<Instant> {
        if self.capacity() < NANOS_PER_SEC {
            return None;
        }
        let credit = self.credit_at(now);
        if credit >= NANOS_PER_SEC {
            return Some(now);
        }
        let missing = NANOS_PER_SEC - credit;
        let rate = u64::from(self.rate_per_sec);
        Some(Instant::from_nanos(
            now.as_nanos().saturating_add(missing.div_ceil(rate)),
        ))
    }

    /// Change the rate and burst. Credit earned so far at the old rate is kept, up to the
    /// new burst.
    pub fn set_rate(&mut self, rate_per_sec: u32, burst: u32, now: Instant) {
        self.refill(now);
        self.rate_per_sec = rate_per_sec;
        self.burst = burst;
        self.credit = self.credit.min(self.capacity());
    }

    /// Most credit the bucket holds.
    fn capacity(&self) -> u64 {
        if self.rate_per_sec == 0 {
            0
        } else {
            u64::from(self.burst) * NANOS_PER_SEC
        }
    }

    /// Credit the bucket would hold at `now`.
    fn credit_at(&self, now: Instant) -> u64 {
        let elapsed = now.as_nanos().saturating_sub(self.last.as_nanos());
        // u64 * u32 fits in a u128; the result is capped below u64::MAX.
        let earned = u128::from(elapsed) * u128::from(self.rate_per_sec);
        let total = (u128::from(self.credit) + earned).min(u128::from(self.capacity()));
        u64::try_from(total).unwrap_or(u64::MAX)
    }

    /// Bring the credit up to date. A `now` earlier than the last update (a caller's clock
    /// mix-up) earns nothing and does not move the reference point back.
    fn refill(&mut self, now: Instant) {
        if now > self.last {
            self.credit = self.credit_at(now);
            self.last = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    fn take_all(b: &mut TokenBucket, now: Instant) -> u32 {
        let mut n = 0;
        while b.try_take(now) {
            n += 1;
            assert!(n <= 1_000_000, "bucket never empties");
        }
        n
    }

    #[test]
    fn burst_then_empty() {
        let mut b = TokenBucket::new(10, 5, ms(0));
        assert_eq!(b.available(ms(0)), 5);
        assert_eq!(take_all(&mut b, ms(0)), 5);
        assert!(!b.try_take(ms(0)));
        assert_eq!(b.available(ms(0)), 0);
    }

    #[test]
    fn refills_with_elapsed_time() {
        let mut b = TokenBucket::new(10, 5, ms(0));
        take_all(&mut b, ms(0));
        // 10/s: one token every 100 ms.
        assert!(!b.try_take(ms(99)));
        assert!(b.try_take(ms(100)));
        assert!(!b.try_take(ms(100)));
        assert_eq!(b.next_available(ms(100)), Some(ms(200)));
        // Never more than the burst, however long we wait.
        assert_eq!(take_all(&mut b, ms(100_000)), 5);
    }

    #[test]
    fn fractions_carry_over_without_drift() {
        // 3 tokens/s does not divide a second into whole nanoseconds; asking every
        // millisecond for 10 s must still yield exactly 30 tokens (plus the burst of 2;
        // with a burst of 2 the bucket never caps, so no fraction is lost to the cap).
        let mut b = TokenBucket::new(3, 2, ms(0));
        let mut got = 0;
        for t in 0..=10_000 {
            if b.try_take(ms(t)) {
                got += 1;
            }
        }
        assert_eq!(got, 32);
    }

    #[test]
    fn next_available_is_exact() {
        let mut b = TokenBucket::new(3, 1, ms(0));
        assert_eq!(b.next_available(ms(0)), Some(ms(0)));
        assert!(b.try_take(ms(0)));
        let next = b.next_available(ms(0)).unwrap();
        assert_eq!(next, Instant::from_nanos(333_333_334));
        assert!(!b.try_take(Instant::from_nanos(next.as_nanos() - 1)));
        assert!(b.try_take(next));
    }

    #[test]
    fn large_time_gaps_do_not_overflow() {
        let mut b = TokenBucket::new(u32::MAX, u32::MAX, Instant::ZERO);
        assert_eq!(b.available(Instant::from_nanos(u64::MAX)), u32::MAX);
        assert!(b.try_take(Instant::from_nanos(u64::MAX)));
        assert_eq!(b.available(Instant::from_nanos(u64::MAX)), u32::MAX - 1);

        let mut small = TokenBucket::new(1, 2, Instant::ZERO);
        take_all(&mut small, Instant::ZERO);
        assert_eq!(take_all(&mut small, Instant::from_nanos(u64::MAX)), 2);
    }

    #[test]
    fn rate_zero_means_never() {
        let mut b = TokenBucket::new(0, 10, ms(0));
        assert!(!b.try_take(ms(0)));
        assert!(!b.try_take(Instant::from_secs(1_000_000)));
        assert_eq!(b.next_available(ms(0)), None);

        let mut no_burst = TokenBucket::new(10, 0, ms(0));
        assert!(!no_burst.try_take(Instant::from_secs(10)));
        assert_eq!(no_burst.next_available(ms(0)), None);
    }

    #[test]
    fn set_rate_keeps_earned_credit_up_to_new_burst() {
        let mut b = TokenBucket::new(10, 10, ms(0));
        take_all(&mut b, ms(0));
        // 500 ms at 10/s earns 5 tokens; the new burst of 2 caps them.
        b.set_rate(1, 2, ms(500));
        assert_eq!(b.available(ms(500)), 2);
        take_all(&mut b, ms(500));
        // Now 1/s.
        assert!(!b.try_take(ms(1_499)));
        assert!(b.try_take(ms(1_500)));
        // Disabling empties it.
        b.set_rate(0, 2, ms(10_000));
        assert!(!b.try_take(ms(10_000)));
    }

    #[test]
    fn clock_going_backwards_earns_nothing() {
        let mut b = TokenBucket::new(1, 1, ms(1_000));
        assert!(b.try_take(ms(1_000)));
        assert!(!b.try_take(ms(0)));
        assert!(!b.try_take(ms(1_999)));
        assert!(b.try_take(ms(2_000)));
    }
}
