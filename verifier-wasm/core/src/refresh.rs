//! When to fetch a provider's JWKS: a schedule the host polls, with `now` in milliseconds.
//!
//! The host owns the timer and the HTTP call; this state machine only says when to start a fetch
//! and what the keys' state is, so the policy is testable without Envoy.

use crate::decision::KeyState;
use crate::jwks::Jwks;

/// Longest wait between retries after failures, in milliseconds.
const MAX_BACKOFF_MS: u64 = 30_000;

/// First wait after a failure, in milliseconds.
const FIRST_BACKOFF_MS: u64 = 500;

/// The fetch schedule and current keys of one remote provider.
#[derive(Debug, Clone)]
pub struct JwksRefresh {
    refresh_ms: u64,
    next_due_ms: u64,
    in_flight: bool,
    failures: u32,
    keys: Option<Jwks>,
    cooldown_ms: u64,
    last_forced_ms: Option<u64>,
}

/// Default least time between two fetches forced by an unknown `kid`, in seconds.
pub const DEFAULT_REFETCH_COOLDOWN_SECONDS: u64 = 30;

impl JwksRefresh {
    /// A provider whose keys should be fetched at once and then every `refresh_seconds`.
    pub fn new(refresh_seconds: u64) -> JwksRefresh {
        JwksRefresh {
            refresh_ms: refresh_seconds.saturating_mul(1000),
            next_due_ms: 0,
            in_flight: false,
            failures: 0,
            keys: None,
            cooldown_ms: DEFAULT_REFETCH_COOLDOWN_SECONDS * 1000,
            last_forced_ms: None,
        }
    }

    /// Sets the least time between two fetches forced by an unknown `kid`.
    pub fn with_refetch_cooldown(mut self, seconds: u64) -> JwksRefresh {
        self.cooldown_ms = seconds.saturating_mul(1000);
        self
    }

    /// Whether a token whose `kid` is not in the current keys may wait for fresh keys: a fetch is
    /// already under way, or the last forced one is at least a cooldown ago. Bounded this way, a
    /// stream of made-up `kid`s costs the issuer one fetch per cooldown, not one per request.
    pub fn may_refetch(&self, now_ms: u64) -> bool {
        self.in_flight
            || self
                .last_forced_ms
                .is_none_or(|t| now_ms >= t.saturating_add(self.cooldown_ms))
    }

    /// Makes a fetch due now because a token named an unknown `kid` (no-op if one is under way
    /// or the cooldown has not passed).
    pub fn force(&mut self, now_ms: u64) {
        if !self.in_flight && self.may_refetch(now_ms) {
            self.last_forced_ms = Some(now_ms);
            self.next_due_ms = now_ms;
        }
    }

    /// Whether a fetch should start now. If true, the fetch counts as started.
    pub fn poll_fetch(&mut self, now_ms: u64) -> bool {
        if self.in_flight || now_ms < self.next_due_ms {
            return false;
        }
        self.in_flight = true;
        true
    }

    /// A fetch could not be started (the host refused the call, e.g. its cluster is not up yet).
    /// Nothing was asked of the issuer, so requests keep waiting (bounded by `jwks_wait_ms`)
    /// and the call is retried shortly.
    pub fn on_dispatch_failed(&mut self, now_ms: u64) {
        self.in_flight = false;
        self.next_due_ms = now_ms.saturating_add(FIRST_BACKOFF_MS);
    }

    /// The fetch returned usable keys. True when they differ from the keys held before, in which
    /// case tokens verified with the old set must be forgotten.
    pub fn on_success(&mut self, now_ms: u64, keys: Jwks) -> bool {
        self.in_flight = false;
        self.failures = 0;
        self.next_due_ms = now_ms.saturating_add(self.refresh_ms);
        let changed = self.keys.as_ref() != Some(&keys);
        self.keys = Some(keys);
        changed
    }

    /// The fetch failed (transport error, bad status, unusable document). Known keys are kept.
    pub fn on_failure(&mut self, now_ms: u64) {
        self.in_flight = false;
        self.failures = self.failures.saturating_add(1);
        let backoff = FIRST_BACKOFF_MS
            .saturating_mul(1 << self.failures.min(16).saturating_sub(1))
            .min(MAX_BACKOFF_MS);
        self.next_due_ms =
            now_ms.saturating_add(backoff.min(self.refresh_ms.max(FIRST_BACKOFF_MS)));
    }

    /// When the next fetch is due, in milliseconds.
    pub fn next_due(&self) -> u64 {
        self.next_due_ms
    }

    /// How many fetches in a row have failed.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The keys' state for a request arriving now.
    pub fn state(&self) -> KeyState<'_> {
        match (&self.keys, self.in_flight, self.failures) {
            (Some(keys), _, _) => KeyState::Ready(keys),
            // Before the first answer, requests wait for it.
            (None, true, _) | (None, false, 0) => KeyState::Pending,
            (None, false, _) => KeyState::Unavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwks() -> Jwks {
        let doc = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a"}]}"#;
        Jwks::parse(doc).unwrap()
    }

    #[test]
    fn fetches_at_once_then_on_schedule() {
        let mut r = JwksRefresh::new(300);
        assert!(matches!(r.state(), KeyState::Pending));
        assert!(r.poll_fetch(1_000));
        assert!(!r.poll_fetch(1_001), "one fetch at a time");
        assert!(matches!(r.state(), KeyState::Pending));
        assert!(r.on_success(2_000, jwks()), "first keys are a change");
        assert!(!r.on_success(2_000, jwks()), "the same keys again are not");
        assert!(matches!(r.state(), KeyState::Ready(_)));
        assert!(!r.poll_fetch(2_000 + 299_999));
        assert!(r.poll_fetch(2_000 + 300_000));
    }

    #[test]
    fn first_failure_is_unavailable_and_retries_with_backoff() {
        let mut r = JwksRefresh::new(300);
        assert!(r.poll_fetch(0));
        r.on_failure(10);
        assert!(matches!(r.state(), KeyState::Unavailable));
        assert!(!r.poll_fetch(10 + FIRST_BACKOFF_MS - 1));
        assert!(r.poll_fetch(10 + FIRST_BACKOFF_MS));
        assert!(
            matches!(r.state(), KeyState::Pending),
            "a retry in flight: wait for it"
        );
        r.on_failure(1_000);
        assert_eq!(r.next_due(), 1_000 + 2 * FIRST_BACKOFF_MS);
        for i in 0..40 {
            r.on_failure(i);
        }
        assert!(r.next_due() <= 40 + MAX_BACKOFF_MS);
    }

    #[test]
    fn a_call_the_host_could_not_start_keeps_requests_waiting() {
        let mut r = JwksRefresh::new(300);
        assert!(r.poll_fetch(0));
        r.on_dispatch_failed(0);
        assert!(matches!(r.state(), KeyState::Pending));
        assert!(!r.poll_fetch(FIRST_BACKOFF_MS - 1));
        assert!(r.poll_fetch(FIRST_BACKOFF_MS));
    }

    #[test]
    fn unknown_kid_refetches_once_per_cooldown() {
        let mut r = JwksRefresh::new(300).with_refetch_cooldown(30);
        assert!(r.poll_fetch(0));
        let _ = r.on_success(0, jwks());
        assert!(r.may_refetch(1_000));
        r.force(1_000);
        assert!(r.poll_fetch(1_000), "forced fetch is due at once");
        assert!(r.may_refetch(1_001), "a fetch under way may be waited for");
        r.force(1_001);
        let _ = r.on_success(1_200, jwks());
        assert!(
            !r.may_refetch(1_300),
            "within the cooldown: no more waiting"
        );
        r.force(1_300);
        assert!(!r.poll_fetch(1_300), "and no second fetch");
        assert!(r.may_refetch(31_000));
    }

    #[test]
    fn failures_keep_the_last_good_keys() {
        let mut r = JwksRefresh::new(1);
        assert!(r.poll_fetch(0));
        let _ = r.on_success(0, jwks());
        assert!(r.poll_fetch(1_000));
        r.on_failure(1_000);
        assert!(matches!(r.state(), KeyState::Ready(_)));
    }
}
