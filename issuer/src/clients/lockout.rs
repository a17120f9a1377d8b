//! Throttling of failed client authentication, per client id and per source address.
//!
//! Sans-I/O: the caller asks [`Throttle::check`] before it authenticates, sleeps or refuses as
//! told, and reports the outcome with [`Throttle::record_failure`] or
//! [`Throttle::record_success`]. Time is passed in (`now_ms`, Unix milliseconds); nothing
//! here sleeps, reads a clock or awaits, so it is safe to call from async code (the locks are
//! held for a map lookup, never across an `.await`).
//!
//! Two tables, with the same rules applied separately: one keyed by the client id as sent
//! (whether or not such a client exists: the caller never says, so the throttle cannot leak
//! it), one keyed by the source address (IPv4 address, or IPv6 /64: one host usually owns a
//! whole /64, so keying on the full address would let it rotate through 2^64 keys).
//!
//! The rules ([`ThrottlePolicy`], defaults in parentheses): the first failures are free (3);
//! after that each further attempt waits a delay that doubles from a base (250 ms) up to a cap
//! (4 s); a key that reaches the lockout count (10) is locked (5 minutes). A key's count is
//! forgotten once a window (15 minutes) passes without a failure. After a lockout ends, the
//! count is still there until the window passes, so one more failure locks again.
//!
//! Memory is bounded: each table tracks at most `max_keys` (100 000) keys. When a new key
//! does not fit, decayed keys are dropped, then the least incriminated ones (fewest live
//! failures, oldest), so spraying random ids (one failure each) cannot push out the count of
//! a client being guessed at, nor grow the tables without bound.
//!
//! What it does not do: a check does not reserve anything, so requests sent in parallel all
//! pass the check before any of their failures is recorded. The lockout bounds sequential
//! guessing per key; parallel floods are for a rate limiter in front of the issuer.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use super::MAX_CLIENT_ID_LEN;

/// The throttling rules for one table. All durations are in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures that cost nothing.
    pub free_failures: u32,
    /// Delay after the first failure beyond the free ones; doubles with each further failure.
    pub base_delay_ms: u64,
    /// Longest delay.
    pub max_delay_ms: u64,
    /// Failures (without a window-long pause) that lock the key.
    pub lockout_failures: u32,
    /// How long a lockout lasts.
    pub lockout_ms: u64,
    /// A key's failures are forgotten after this long without a new one.
    pub window_ms: u64,
    /// Most keys tracked in one table.
    pub max_keys: usize,
}

impl ThrottlePolicy {
    /// The rules for source addresses: far looser than per client, because many services share
    /// one egress address (a NAT, a mesh proxy) and one misconfigured service must not lock out
    /// its neighbours. It still stops a single address from sweeping through client ids.
    pub fn for_addresses() -> Self {
        Self {
            free_failures: 20,
            base_delay_ms: 100,
            max_delay_ms: 2_000,
            lockout_failures: 200,
            ..Self::default()
        }
    }
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 3,
            base_delay_ms: 250,
            max_delay_ms: 4_000,
            lockout_failures: 10,
            lockout_ms: 5 * 60 * 1000,
            window_ms: 15 * 60 * 1000,
            max_keys: 100_000,
        }
    }
}

/// What the caller should do with an authentication attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Wait this many milliseconds, then go ahead (sleep before answering, whatever the outcome).
    Delay(u64),
    /// Refuse without authenticating: answer `invalid_client` (with `Retry-After`).
    Locked {
        /// Whole seconds until the lockout ends (at least 1).
        retry_after_secs: u64,
    },
}

impl Verdict {
    /// The stricter of two verdicts: a lockout beats a delay, which beats nothing.
    fn stricter(self, other: Self) -> Self {
        match (self, other) {
            (
                Self::Locked {
                    retry_after_secs: a,
                },
                Self::Locked {
                    retry_after_secs: b,
                },
            ) => Self::Locked {
                retry_after_secs: a.max(b),
            },
            (locked @ Self::Locked { .. }, _) | (_, locked @ Self::Locked { .. }) => locked,
            (Self::Delay(a), Self::Delay(b)) => Self::Delay(a.max(b)),
            (delay @ Self::Delay(_), Self::Allow) | (Self::Allow, delay @ Self::Delay(_)) => delay,
            (Self::Allow, Self::Allow) => Self::Allow,
        }
    }
}

/// Failed-authentication throttling by client id and by source address; see the module docs.
#[derive(Debug)]
pub struct Throttle {
    clients: Table<String>,
    addresses: Table<AddressKey>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(ThrottlePolicy::default())
    }
}

impl Throttle {
    /// A throttle applying `policy` to both client ids and addresses.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self::with_policies(policy, policy)
    }

    /// A throttle with separate rules for client ids and for addresses (e.g. a higher lockout
    /// count for addresses, when many clients share one NAT).
    pub fn with_policies(clients: ThrottlePolicy, addresses: ThrottlePolicy) -> Self {
        Self {
            clients: Table::new(clients),
            addresses: Table::new(addresses),
        }
    }

    /// The verdict for an attempt by `client_id` from `ip` at `now_ms`: the stricter of the two
    /// keys' verdicts. Changes nothing.
    pub fn check(&self, client_id: &str, ip: IpAddr, now_ms: u64) -> Verdict {
        let by_client = self.clients.verdict(client_key(client_id), now_ms);
        let by_address = self.addresses.verdict(&AddressKey::from(ip), now_ms);
        by_client.stricter(by_address)
    }

    /// Counts a failed authentication against both `client_id` and `ip`.
    pub fn record_failure(&self, client_id: &str, ip: IpAddr, now_ms: u64) {
        self.clients.record_failure(client_key(client_id), now_ms);
        self.addresses.record_failure(&AddressKey::from(ip), now_ms);
    }

    /// Forgets the failures of `client_id` after it authenticated. A running lockout still runs
    /// to its end. The address's count is deliberately left alone: otherwise whoever holds one
    /// valid credential could wipe their address's count between guesses at other clients.
    pub fn record_success(&self, client_id: &str, now_ms: u64) {
        self.clients.record_success(client_key(client_id), now_ms);
    }

    /// How many client ids are tracked (for metrics).
    pub fn tracked_clients(&self) -> usize {
        self.clients.len()
    }

    /// How many addresses are tracked (for metrics).
    pub fn tracked_addresses(&self) -> usize {
        self.addresses.len()
    }
}

/// The client id as a table key: at most [`MAX_CLIENT_ID_LEN`] bytes, so a huge id costs no
/// more memory than a valid one (longer ids are invalid anyway, and share their prefix's key).
fn client_key(client_id: &str) -> &str {
    let mut end = client_id.len().min(MAX_CLIENT_ID_LEN);
    while !client_id.is_char_boundary(end) {
        end -= 1;
    }
    &client_id[..end]
}

/// A source address as a table key: an IPv4 address or an IPv6 /64 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddressKey {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4.octets()),
            // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; they are IPv4.
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.octets()),
                None => {
                    let o = v6.octets();
                    Self::V6Prefix([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
                }
            },
        }
    }
}

/// The failure record of one key.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    failures: u32,
    last_failure_ms: u64,
    /// End of the lockout; in the past (or 0) when not locked.
    locked_until_ms: u64,
}

/// Eviction order: smallest first. Unlocked before locked, then fewest live failures, then
/// the oldest last failure.
type Rank = (bool, u32, u64);

impl Entry {
    fn locked(&self, now_ms: u64) -> bool {
        self.locked_until_ms > now_ms
    }

    /// The failures that still count: none once a whole window passed without one.
    fn live_failures(&self, now_ms: u64, policy: &ThrottlePolicy) -> u32 {
        if now_ms.saturating_sub(self.last_failure_ms) >= policy.window_ms {
            0
        } else {
            self.failures
        }
    }

    /// Nothing left to remember: not locked and fully decayed.
    fn is_idle(&self, now_ms: u64, policy: &ThrottlePolicy) -> bool {
        !self.locked(now_ms) && self.live_failures(now_ms, policy) == 0
    }

    fn rank(&self, now_ms: u64, policy: &ThrottlePolicy) -> Rank {
        (
            self.locked(now_ms),
            self.live_failures(now_ms, policy),
            self.last_failure_ms,
        )
    }

    fn verdict(&self, now_ms: u64, policy: &ThrottlePolicy) -> Verdict {
        if self.locked(now_ms) {
            return Verdict::Locked {
                retry_after_secs: (self.locked_until_ms - now_ms).div_ceil(1000),
            };
        }
        let failures = self.live_failures(now_ms, policy);
        if failures <= policy.free_failures {
            return Verdict::Allow;
        }
        let doublings = failures - policy.free_failures - 1;
        let factor = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
        Verdict::Delay(
            policy
                .base_delay_ms
                .saturating_mul(factor)
                .min(policy.max_delay_ms),
        )
    }
}

/// One bounded table of failure records.
#[derive(Debug)]
struct Table<K> {
    policy: ThrottlePolicy,
    entries: Mutex<HashMap<K, Entry>>,
}

impl<K: Eq + Hash> Table<K> {
    fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The map, even if a thread panicked while holding it: the entries are plain counters,
    /// and refusing all authentication after one panic would be worse than a miscount.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn verdict<Q>(&self, key: &Q, now_ms: u64) -> Verdict
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.lock()
            .get(key)
            .map_or(Verdict::Allow, |entry| entry.verdict(now_ms, &self.policy))
    }

    fn record_failure<Q>(&self, key: &Q, now_ms: u64)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
    {
        let policy = &self.policy;
        let mut entries = self.lock();
        if !entries.contains_key(key) && entries.len() >= policy.max_keys.max(1) {
            evict(&mut entries, policy, now_ms);
        }
        let entry = entries.entry(key.to_owned()).or_default();
        // The caller does not authenticate a locked key, so a failure here raced the lockout;
        // it must not extend it (or anyone could keep a victim locked indefinitely for free).
        if entry.locked(now_ms) {
            return;
        }
        entry.failures = entry.live_failures(now_ms, policy).saturating_add(1);
        entry.last_failure_ms = now_ms;
        if entry.failures >= policy.lockout_failures {
            entry.locked_until_ms = now_ms.saturating_add(policy.lockout_ms);
        }
    }

    fn record_success<Q>(&self, key: &Q, now_ms: u64)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let mut entries = self.lock();
        match entries.get_mut(key) {
            Some(entry) if entry.locked(now_ms) => entry.failures = 0,
            Some(_) => {
                entries.remove(key);
            }
            None => {}
        }
    }
}

/// Shrinks a full table to 7/8 of its capacity: decayed entries first, then by [`Rank`].
/// Shrinking by an eighth rather than by one entry makes the O(n) pass rare: at most once
/// per `max_keys / 8` new keys, however fast they arrive.
fn evict<K>(entries: &mut HashMap<K, Entry>, policy: &ThrottlePolicy, now_ms: u64) {
    let capacity = policy.max_keys.max(1);
    let target = capacity - (capacity / 8).max(1);
    entries.retain(|_, entry| !entry.is_idle(now_ms, policy));
    let Some(excess) = entries.len().checked_sub(target).filter(|&n| n > 0) else {
        return;
    };
    let mut ranks: Vec<Rank> = entries
        .values()
        .map(|entry| entry.rank(now_ms, policy))
        .collect();
    // The excess-th smallest rank: everything below goes, and as many of its equals as needed.
    let (_, &mut pivot, _) = ranks.select_nth_unstable(excess - 1);
    let below = ranks.iter().filter(|&&rank| rank < pivot).count();
    let mut equal_to_drop = excess - below;
    entries.retain(|_, entry| {
        let rank = entry.rank(now_ms, policy);
        if rank < pivot {
            false
        } else if rank == pivot && equal_to_drop > 0 {
            equal_to_drop -= 1;
            false
        } else {
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;

    use super::*;

    const T0: u64 = 1_700_000_000_000;
    const SECOND: u64 = 1000;
    const MINUTE: u64 = 60 * SECOND;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    /// Records `n` failures of `client` from `from`, one millisecond apart, starting at `t`.
    fn fail(throttle: &Throttle, client: &str, from: IpAddr, n: u32, t: u64) -> u64 {
        let mut now = t;
        for _ in 0..n {
            throttle.record_failure(client, from, now);
            now += 1;
        }
        now
    }

    #[test]
    fn first_three_failures_are_free_then_delays_double_to_the_cap() {
        let throttle = Throttle::default();
        let mut now = T0;
        let mut seen = Vec::new();
        for _ in 0..9 {
            throttle.record_failure("svc.a", ip(1), now);
            now += 1;
            seen.push(throttle.check("svc.a", ip(1), now));
        }
        use Verdict::{Allow, Delay};
        assert_eq!(
            seen,
            [
                Allow,
                Allow,
                Allow,
                Delay(250),
                Delay(500),
                Delay(1000),
                Delay(2000),
                Delay(4000),
                Delay(4000)
            ]
        );
    }

    #[test]
    fn ten_failures_lock_for_five_minutes() {
        let throttle = Throttle::default();
        let now = fail(&throttle, "svc.a", ip(1), 10, T0);
        assert_eq!(
            throttle.check("svc.a", ip(1), now),
            Verdict::Locked {
                retry_after_secs: 300
            }
        );
        let locked_at = now - 1;
        // Still locked a second before the end; rounded up, never to zero.
        assert_eq!(
            throttle.check("svc.a", ip(1), locked_at + 5 * MINUTE - 1),
            Verdict::Locked {
                retry_after_secs: 1
            }
        );
        // After the lockout the count is still live: delayed, and one more failure re-locks.
        let after = locked_at + 5 * MINUTE;
        assert_eq!(throttle.check("svc.a", ip(1), after), Verdict::Delay(4000));
        throttle.record_failure("svc.a", ip(1), after);
        assert!(matches!(
            throttle.check("svc.a", ip(1), after + 1),
            Verdict::Locked { .. }
        ));
    }

    #[test]
    fn failures_while_locked_do_not_extend_the_lockout() {
        let throttle = Throttle::default();
        let now = fail(&throttle, "svc.a", ip(1), 10, T0);
        let locked_at = now - 1;
        fail(&throttle, "svc.a", ip(1), 50, now + MINUTE);
        assert_eq!(
            throttle.check("svc.a", ip(1), locked_at + 5 * MINUTE),
            Verdict::Delay(4000)
        );
    }

    #[test]
    fn counts_decay_after_a_quiet_window() {
        let throttle = Throttle::default();
        let now = fail(&throttle, "svc.a", ip(1), 9, T0);
        assert_eq!(throttle.check("svc.a", ip(1), now), Verdict::Delay(4000));
        let last = now - 1;
        assert_eq!(
            throttle.check("svc.a", ip(1), last + 15 * MINUTE - 1),
            Verdict::Delay(4000)
        );
        assert_eq!(
            throttle.check("svc.a", ip(1), last + 15 * MINUTE),
            Verdict::Allow
        );
        // A failure after the quiet window starts again from one.
        throttle.record_failure("svc.a", ip(1), last + 15 * MINUTE);
        assert_eq!(
            throttle.check("svc.a", ip(1), last + 15 * MINUTE + 1),
            Verdict::Allow
        );
        // So nine more within the window do not lock, the tenth does.
        let now = fail(&throttle, "svc.a", ip(1), 8, last + 16 * MINUTE);
        assert_eq!(throttle.check("svc.a", ip(1), now), Verdict::Delay(4000));
        throttle.record_failure("svc.a", ip(1), now);
        assert!(matches!(
            throttle.check("svc.a", ip(1), now + 1),
            Verdict::Locked { .. }
        ));
    }

    #[test]
    fn success_resets_the_client_but_not_a_running_lockout_nor_the_address() {
        let throttle = Throttle::default();
        let now = fail(&throttle, "svc.a", ip(1), 6, T0);
        throttle.record_success("svc.a", now);
        // The client is clean; the address still carries its six failures.
        assert_eq!(throttle.check("svc.a", ip(2), now), Verdict::Allow);
        assert_eq!(throttle.check("svc.a", ip(1), now), Verdict::Delay(1000));
        assert_eq!(throttle.tracked_clients(), 0);

        let now = fail(&throttle, "svc.b", ip(3), 10, now);
        throttle.record_success("svc.b", now);
        assert!(matches!(
            throttle.check("svc.b", ip(4), now),
            Verdict::Locked { .. }
        ));
        // Once the lockout ends the reset shows: no leftover count.
        assert_eq!(
            throttle.check("svc.b", ip(4), now + 5 * MINUTE),
            Verdict::Allow
        );
    }

    #[test]
    fn client_ids_and_addresses_are_counted_separately() {
        let throttle = Throttle::default();
        // One address trying many ids: the address locks, no id is delayed by itself.
        let mut now = T0;
        for i in 0..10 {
            throttle.record_failure(&format!("svc.{i}"), ip(9), now);
            now += 1;
        }
        assert!(matches!(
            throttle.check("svc.other", ip(9), now),
            Verdict::Locked { .. }
        ));
        assert_eq!(throttle.check("svc.0", ip(10), now), Verdict::Allow);
        // Many addresses trying one id: the id locks wherever it comes from.
        for i in 0..10 {
            throttle.record_failure("svc.victim", ip(100 + i), now);
            now += 1;
        }
        assert!(matches!(
            throttle.check("svc.victim", ip(200), now),
            Verdict::Locked { .. }
        ));
        assert_eq!(throttle.check("svc.fine", ip(200), now), Verdict::Allow);
    }

    #[test]
    fn unknown_and_malformed_ids_are_treated_like_any_other() {
        // The throttle never learns whether an id exists; any string gets the same rules.
        for id in ["svc.registered", "no-such-client", "not a valid id!", ""] {
            let throttle = Throttle::default();
            let now = fail(&throttle, id, ip(1), 4, T0);
            assert_eq!(
                throttle.check(id, ip(2), now),
                Verdict::Delay(250),
                "{id:?}"
            );
        }
    }

    #[test]
    fn ipv6_is_keyed_by_its_64_prefix_and_mapped_ipv4_as_ipv4() {
        let throttle = Throttle::default();
        let mut now = T0;
        for host in 0..10u16 {
            let addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 2, host, host, host, host);
            throttle.record_failure(&format!("svc.{host}"), IpAddr::V6(addr), now);
            now += 1;
        }
        let same_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0xffff, 0, 0, 1));
        let next_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert!(matches!(
            throttle.check("svc.x", same_64, now),
            Verdict::Locked { .. }
        ));
        assert_eq!(throttle.check("svc.x", next_64, now), Verdict::Allow);
        assert_eq!(throttle.tracked_addresses(), 1);

        let v4 = Ipv4Addr::new(198, 51, 100, 7);
        let now = fail(&throttle, "svc.y", IpAddr::V4(v4), 4, now);
        assert_eq!(
            throttle.check("svc.z", IpAddr::V6(v4.to_ipv6_mapped()), now),
            Verdict::Delay(250)
        );
    }

    #[test]
    fn memory_is_capped_and_sprayed_ids_do_not_evict_real_counts() {
        let policy = ThrottlePolicy {
            max_keys: 64,
            ..ThrottlePolicy::default()
        };
        let throttle = Throttle::new(policy);
        // A client under attack: nine failures, one short of a lockout.
        let mut now = fail(&throttle, "svc.victim", ip(1), 9, T0);
        // Then a spray of random ids, one failure each, from many addresses.
        for i in 0..10_000u32 {
            let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            throttle.record_failure(&format!("random-{i}"), addr, now);
            now += 1;
            assert!(throttle.tracked_clients() <= 64);
            assert!(throttle.tracked_addresses() <= 64);
        }
        // The victim's count survived: the next failure still locks it.
        assert_eq!(
            throttle.check("svc.victim", ip(2), now),
            Verdict::Delay(4000)
        );
        throttle.record_failure("svc.victim", ip(2), now);
        assert!(matches!(
            throttle.check("svc.victim", ip(3), now + 1),
            Verdict::Locked { .. }
        ));
    }

    #[test]
    fn decayed_entries_are_dropped_first_when_full() {
        let policy = ThrottlePolicy {
            max_keys: 8,
            ..ThrottlePolicy::default()
        };
        let throttle = Throttle::new(policy);
        let now = fail(&throttle, "svc.old", ip(1), 5, T0);
        for i in 0..7 {
            throttle.record_failure(&format!("svc.{i}"), ip(1), now);
        }
        assert_eq!(throttle.tracked_clients(), 8);
        // Much later the old entries are all decayed: a new key clears them out.
        let later = now + 16 * MINUTE;
        throttle.record_failure("svc.new", ip(1), later);
        assert_eq!(throttle.tracked_clients(), 1);
    }

    #[test]
    fn huge_ids_cost_no_more_than_valid_ones() {
        let throttle = Throttle::default();
        let long = "é".repeat(10_000);
        let now = fail(&throttle, &long, ip(1), 4, T0);
        assert_eq!(throttle.check(&long, ip(2), now), Verdict::Delay(250));
        assert_eq!(client_key(&long).len(), MAX_CLIENT_ID_LEN);
        assert_eq!(client_key("svc.a"), "svc.a");
        // A multi-byte character straddling the limit is dropped whole.
        let odd = format!("a{}", "é".repeat(100));
        assert_eq!(client_key(&odd).len(), MAX_CLIENT_ID_LEN - 1);
    }

    #[test]
    fn concurrent_failures_are_all_counted() {
        let throttle = Arc::new(Throttle::default());
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let throttle = Arc::clone(&throttle);
                std::thread::spawn(move || {
                    for i in 0..250u64 {
                        throttle.record_failure("svc.shared", ip(t), T0 + i);
                        throttle.check("svc.shared", ip(t), T0 + i);
                    }
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().is_ok());
        }
        assert!(matches!(
            throttle.check("svc.shared", ip(99), T0 + 250),
            Verdict::Locked { .. }
        ));
        assert_eq!(throttle.tracked_addresses(), 4);
    }

    #[test]
    fn verdicts_combine_to_the_stricter() {
        use Verdict::{Allow, Delay, Locked};
        let locked = |s| Locked {
            retry_after_secs: s,
        };
        assert_eq!(Allow.stricter(Allow), Allow);
        assert_eq!(Allow.stricter(Delay(5)), Delay(5));
        assert_eq!(Delay(9).stricter(Delay(5)), Delay(9));
        assert_eq!(Delay(9).stricter(locked(3)), locked(3));
        assert_eq!(locked(3).stricter(locked(7)), locked(7));
    }
}
