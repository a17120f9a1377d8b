//! When to fetch a provider's JWKS (or revocation feed) and how long it may be used, with `now`
//! in milliseconds.
//!
//! The [`Schedule`] is shared by every VM of one Envoy: the host keeps it in proxy-wasm shared
//! data and changes it only by compare-and-swap, so one VM at a time holds the lease to fetch
//! and the others adopt the document it stores. [`ProviderKeys`] is one VM's view: the schedule
//! as last read and the keys of that generation; [`ProviderFeed`] is the same for a revocation
//! feed. The host owns the timer, the shared data and the HTTP call; everything here is a pure
//! state machine, testable without Envoy, and so are the answers the host only applies: whether
//! a fetched document changed ([`ProviderDocument::changed`]), which freshness change to report
//! ([`Freshness::report`]) and when a lease goes back early ([`Schedule::release_lease`]).

use crate::jwks::Jwks;
use crate::keys::{FeedState, KeyState};
use crate::policy::{RemoteJwks, RevocationFeed};
use crate::revocation::Revocations;

/// Longest wait between retries after failures, in milliseconds.
const MAX_BACKOFF_MS: u64 = 30_000;

/// First wait after a failure, in milliseconds.
const FIRST_BACKOFF_MS: u64 = 500;

/// Least lifetime a `Cache-Control: max-age` may give keys, in milliseconds: a `max-age=0` must
/// not turn every VM's timer into a fetch loop against the issuer.
const MIN_MAX_AGE_MS: u64 = 5_000;

/// How long a lease outlives the fetch's own timeout, in milliseconds, before another VM may
/// take over (the holder's VM may have been torn down mid-fetch).
const LEASE_GRACE_MS: u64 = 1_000;

/// A provider's refresh settings, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// How long fetched keys are fresh when the response does not say (`refresh_seconds`).
    pub refresh_ms: u64,
    /// Least time between two fetches forced by an unknown `kid`.
    pub cooldown_ms: u64,
    /// How long keys stay usable past their freshness while fetches fail.
    pub max_stale_ms: u64,
    /// How long a fetch may hold the lease.
    pub lease_ms: u64,
}

impl RefreshPolicy {
    /// The policy a remote JWKS configuration asks for.
    pub fn from_remote(remote: &RemoteJwks) -> RefreshPolicy {
        RefreshPolicy {
            refresh_ms: remote.refresh_seconds.saturating_mul(1000),
            cooldown_ms: remote.refetch_cooldown_seconds.saturating_mul(1000),
            max_stale_ms: remote.max_stale_seconds.saturating_mul(1000),
            lease_ms: remote.target.timeout_ms.saturating_add(LEASE_GRACE_MS),
        }
    }

    /// The policy a revocation feed asks for. The feed is fresh for one interval, and usable
    /// until it is `max_stale_seconds` old (counted from its fetch, not from the end of its
    /// freshness as for keys): that age is the bound on how long a revocation can go unseen
    /// while the feed endpoint fails. Feeds are never forced, so the cooldown is unused.
    pub fn from_revocations(feed: &RevocationFeed) -> RefreshPolicy {
        let refresh_ms = feed.refresh_seconds.saturating_mul(1000);
        RefreshPolicy {
            refresh_ms,
            cooldown_ms: refresh_ms,
            max_stale_ms: feed
                .max_stale_seconds
                .saturating_mul(1000)
                .saturating_sub(refresh_ms),
            lease_ms: feed.target.timeout_ms.saturating_add(LEASE_GRACE_MS),
        }
    }
}

/// How usable a provider's keys are at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// No document was ever stored.
    Missing,
    /// Within the lifetime of the last successful fetch.
    Fresh,
    /// Past it, but within the stale period: still used, counted and logged.
    Stale,
    /// Past the stale period: no longer used (fail closed).
    Expired,
}

impl Freshness {
    /// What a host reports when a document's freshness, last reported as `reported`, is `self`
    /// now; `None` when it did not change, so each change is reported once.
    pub fn report(self, reported: Freshness) -> Option<FreshnessReport> {
        if self == reported {
            return None;
        }
        let line = match self {
            Freshness::Stale => Some(FreshnessLine::Stale),
            Freshness::Expired => Some(FreshnessLine::Expired),
            // A first document is not news; fetches succeeding again after a stale period are.
            Freshness::Fresh if reported != Freshness::Missing => Some(FreshnessLine::Fresh),
            Freshness::Fresh | Freshness::Missing => None,
        };
        Some(FreshnessReport {
            freshness: self,
            line,
            stale_gauge: u64::from(self == Freshness::Stale),
            count_expired: self == Freshness::Expired,
        })
    }
}

/// The line a host logs for a freshness change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreshnessLine {
    /// A stale period began: the last good document keeps serving (a warning).
    Stale,
    /// The stale period ran out: the provider fails closed until a fetch succeeds (an error).
    Expired,
    /// Fetches succeed again after a stale or expired period (information).
    Fresh,
}

/// A change of a document's freshness, as the host reports it: a log line, the stale gauge and
/// the expired counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreshnessReport {
    /// The freshness now.
    pub freshness: Freshness,
    /// The line to log, if the change is worth one.
    pub line: Option<FreshnessLine>,
    /// The stale gauge's new value: 1 while the document is stale, else 0.
    pub stale_gauge: u64,
    /// Whether a stale period ran out: the expired counter counts one.
    pub count_expired: bool,
}

/// How a fetched document is told apart from the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Byte for byte: equal bytes are the same document (a JWKS).
    Bytes,
    /// By parsed content when this VM holds the stored generation, else byte for byte: for a
    /// document whose bytes change on every fetch (a revocation feed's `generated_at`).
    Content,
}

/// The fetch schedule of one JWKS endpoint, shared by every VM of one Envoy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Bumped whenever a different document is stored; 0 until the first one.
    pub generation: u64,
    /// When the stored keys stop being fresh.
    pub fresh_until_ms: u64,
    /// When the next fetch is due.
    pub next_due_ms: u64,
    /// The VM fetching now (0: none).
    pub lease_owner: u64,
    /// When that VM's lease lapses.
    pub lease_until_ms: u64,
    /// Fetches failed in a row.
    pub failures: u64,
    /// When an unknown `kid` last forced a fetch (0: never).
    pub last_forced_ms: u64,
    /// When a fetch last succeeded (0: never).
    pub last_success_ms: u64,
}

/// Size of an encoded [`Schedule`].
pub const SCHEDULE_BYTES: usize = 64;

impl Schedule {
    /// The schedule as shared-data bytes: eight little-endian u64.
    pub fn encode(&self) -> [u8; SCHEDULE_BYTES] {
        let mut copy = *self;
        let mut out = [0u8; SCHEDULE_BYTES];
        for (chunk, value) in out.chunks_exact_mut(8).zip(copy.fields_mut()) {
            chunk.copy_from_slice(&value.to_le_bytes());
        }
        out
    }

    /// Reads [`Schedule::encode`]'s bytes; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Schedule> {
        if bytes.len() != SCHEDULE_BYTES {
            return None;
        }
        let mut schedule = Schedule::default();
        for (field, chunk) in schedule.fields_mut().into_iter().zip(bytes.chunks_exact(8)) {
            *field = u64::from_le_bytes(chunk.try_into().ok()?);
        }
        Some(schedule)
    }

    /// The fields in their encoded order: the one place that order is written.
    fn fields_mut(&mut self) -> [&mut u64; 8] {
        [
            &mut self.generation,
            &mut self.fresh_until_ms,
            &mut self.next_due_ms,
            &mut self.lease_owner,
            &mut self.lease_until_ms,
            &mut self.failures,
            &mut self.last_forced_ms,
            &mut self.last_success_ms,
        ]
    }

    /// Whether some VM holds a live lease, i.e. a fetch is under way.
    pub fn fetching(&self, now_ms: u64) -> bool {
        self.lease_owner != 0 && now_ms < self.lease_until_ms
    }

    /// Takes the lease for `vm` if a fetch is due and nobody is fetching. The host must then
    /// store the schedule by compare-and-swap and fetch only if that store succeeds.
    pub fn take_lease(&mut self, vm: u64, now_ms: u64, policy: &RefreshPolicy) -> bool {
        if vm == 0 || now_ms < self.next_due_ms || self.fetching(now_ms) {
            return false;
        }
        self.lease_owner = vm;
        self.lease_until_ms = now_ms.saturating_add(policy.lease_ms);
        true
    }

    /// Whether a token whose `kid` is not in the current keys may wait for fresh keys: a fetch
    /// is under way or due (forced by an earlier token moments ago, it starts on the next
    /// tick), or the last forced one is at least a cooldown ago. Bounded this way, a stream of
    /// made-up `kid`s costs the issuer one fetch per cooldown per Envoy.
    pub fn may_refetch(&self, now_ms: u64, policy: &RefreshPolicy) -> bool {
        self.fetching(now_ms)
            || now_ms >= self.next_due_ms
            || self.last_forced_ms == 0
            || now_ms >= self.last_forced_ms.saturating_add(policy.cooldown_ms)
    }

    /// Makes a fetch due now because a token named an unknown `kid`. False (and no change) when
    /// one is under way or the cooldown has not passed.
    pub fn force(&mut self, now_ms: u64, policy: &RefreshPolicy) -> bool {
        let cooled = self.last_forced_ms == 0
            || now_ms >= self.last_forced_ms.saturating_add(policy.cooldown_ms);
        // Already under way or due: the coming fetch serves this token too.
        if self.fetching(now_ms) || now_ms >= self.next_due_ms || !cooled {
            return false;
        }
        self.last_forced_ms = now_ms.max(1);
        self.next_due_ms = now_ms;
        true
    }

    /// The leased fetch could not be started (the host refused the call). Nothing was asked of
    /// the issuer: release the lease and retry shortly.
    pub fn on_dispatch_failed(&mut self, now_ms: u64) {
        self.release();
        self.next_due_ms = now_ms.saturating_add(FIRST_BACKOFF_MS);
    }

    /// Hands `vm`'s lease back early, as [`on_dispatch_failed`](Self::on_dispatch_failed) does:
    /// its fetch could not be started, or its VM is going away and the fetch dies with it. Only
    /// a live lease `vm` holds: another VM's, or one that lapsed (and may be taken over), is left
    /// alone. True if the schedule changed and must be stored.
    pub fn release_lease(&mut self, vm: u64, now_ms: u64) -> bool {
        let mine = self.lease_owner == vm && self.fetching(now_ms);
        if mine {
            self.on_dispatch_failed(now_ms);
        }
        mine
    }

    /// The fetch returned usable keys, fresh for `max_age_seconds` when the response said so
    /// (never longer than the policy's refresh interval). `changed`: the document differs from
    /// the stored one, which the host replaces.
    pub fn on_success(
        &mut self,
        now_ms: u64,
        max_age_seconds: Option<u64>,
        changed: bool,
        policy: &RefreshPolicy,
    ) {
        self.release();
        let lifetime = match max_age_seconds {
            Some(age) => age
                .saturating_mul(1000)
                .max(MIN_MAX_AGE_MS)
                .min(policy.refresh_ms),
            None => policy.refresh_ms,
        };
        if changed || self.generation == 0 {
            self.generation = self.generation.wrapping_add(1).max(1);
        }
        self.failures = 0;
        self.last_success_ms = now_ms;
        self.fresh_until_ms = now_ms.saturating_add(lifetime);
        // Refresh before the keys go stale, so a slow fetch never leaves a gap.
        self.next_due_ms = now_ms.saturating_add(lifetime - lifetime / 10);
    }

    /// The fetch failed (transport error, bad status, unusable document). Stored keys are kept
    /// until they expire; retries back off from half a second to thirty.
    pub fn on_failure(&mut self, now_ms: u64, policy: &RefreshPolicy) {
        self.release();
        self.failures = self.failures.saturating_add(1);
        let exponent = self.failures.min(16).saturating_sub(1);
        let backoff = FIRST_BACKOFF_MS
            .saturating_mul(1 << exponent)
            .min(MAX_BACKOFF_MS)
            .min(policy.refresh_ms.max(FIRST_BACKOFF_MS));
        self.next_due_ms = now_ms.saturating_add(backoff);
    }

    /// How usable the stored keys are at `now_ms`.
    pub fn freshness(&self, now_ms: u64, policy: &RefreshPolicy) -> Freshness {
        if self.generation == 0 {
            Freshness::Missing
        } else if now_ms < self.fresh_until_ms {
            Freshness::Fresh
        } else if now_ms < self.fresh_until_ms.saturating_add(policy.max_stale_ms) {
            Freshness::Stale
        } else {
            Freshness::Expired
        }
    }

    fn release(&mut self) {
        self.lease_owner = 0;
        self.lease_until_ms = 0;
    }
}

/// The `max-age` of a `Cache-Control` value (RFC 9111 §5.2.2.1), in seconds; `no-store` and
/// `no-cache` count as zero. `None` when the value says nothing about freshness.
pub fn max_age(cache_control: &str) -> Option<u64> {
    let mut age = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim();
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim();
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age") {
            let digits = value.trim().trim_matches('"');
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Some(0); // malformed: treat as stale (RFC 9111 §4.2.1)
            }
            // Larger than any refresh interval anyway; saturate rather than fail.
            age = Some(digits.parse().unwrap_or(u64::MAX));
        }
    }
    age
}

/// What [`ProviderDocument::sync`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// The VM's document is different now: for keys, cached tokens verified with the old ones
    /// must go.
    pub keys_changed: bool,
    /// The document passed the stale period and was dropped.
    pub expired: bool,
    /// Anything a waiting request depends on changed: worth re-deciding them.
    pub wake: bool,
}

/// One VM's view of a fetched document of a provider: the shared schedule as last read, and
/// the parsed document of that generation.
#[derive(Debug, Clone)]
pub struct ProviderDocument<T> {
    policy: RefreshPolicy,
    schedule: Schedule,
    synced_ms: u64,
    generation: u64,
    document: Option<T>,
    reported: Freshness,
}

/// One VM's view of a remote provider's keys.
pub type ProviderKeys = ProviderDocument<Jwks>;

/// One VM's view of a provider's revocation feed.
pub type ProviderFeed = ProviderDocument<Revocations>;

impl<T: PartialEq> ProviderDocument<T> {
    /// A provider with no document yet.
    pub fn new(policy: RefreshPolicy) -> ProviderDocument<T> {
        ProviderDocument {
            policy,
            schedule: Schedule::default(),
            synced_ms: 0,
            generation: 0,
            document: None,
            reported: Freshness::Missing,
        }
    }

    /// The refresh policy.
    pub fn policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    /// The schedule as last read.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Whether `schedule` names a usable stored document this VM has not loaded yet.
    pub fn needs_document(&self, schedule: &Schedule, now_ms: u64) -> bool {
        schedule.generation != 0
            && schedule.generation != self.generation
            && schedule.freshness(now_ms, &self.policy) != Freshness::Expired
    }

    /// Adopts a freshly read schedule and, when [`needs_document`](Self::needs_document) said so,
    /// its parsed document (`None` if it could not be read: the old one stays and the next sync
    /// tries again).
    pub fn sync(&mut self, schedule: Schedule, document: Option<T>, now_ms: u64) -> SyncOutcome {
        let mut outcome = SyncOutcome {
            wake: schedule != self.schedule,
            ..SyncOutcome::default()
        };
        if schedule.freshness(now_ms, &self.policy) == Freshness::Expired {
            // Forget the generation too: when the endpoint comes back with the same document,
            // the schedule keeps its generation and the keys must be loaded again.
            self.generation = 0;
            if self.document.take().is_some() {
                outcome.expired = true;
                outcome.keys_changed = true;
            }
        } else if let Some(document) = document {
            if self.needs_document(&schedule, now_ms) {
                outcome.keys_changed = self.document.as_ref() != Some(&document);
                self.document = Some(document);
                self.generation = schedule.generation;
            }
        }
        outcome.wake |= outcome.keys_changed;
        self.schedule = schedule;
        self.synced_ms = now_ms;
        outcome
    }

    /// The parsed document, if this VM holds a usable one.
    pub fn document(&self) -> Option<&T> {
        self.document.as_ref()
    }

    /// The generation of the document this VM holds (0: none).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How usable the document was at the last sync.
    pub fn freshness(&self) -> Freshness {
        self.schedule.freshness(self.synced_ms, &self.policy)
    }

    /// The change of [`freshness`](Self::freshness) since the last report, to report now (see
    /// [`Freshness::report`]); `None` when there is nothing new.
    pub fn report_freshness(&mut self) -> Option<FreshnessReport> {
        let freshness = self.freshness();
        let report = freshness.report(self.reported)?;
        self.reported = freshness;
        Some(report)
    }

    /// Whether `fetched` (whose bytes are `body`) differs from the document stored in shared
    /// data under `shared`, the schedule as stored now. `stored` reads the stored bytes; it is
    /// called only when bytes must be compared.
    pub fn changed<B: AsRef<[u8]>>(
        &self,
        compare: Compare,
        shared: &Schedule,
        fetched: &T,
        body: &[u8],
        stored: impl FnOnce() -> Option<B>,
    ) -> bool {
        // This VM's own parsed copy is the stored document only when it holds that generation.
        let holds_stored = shared.generation != 0 && self.generation == shared.generation;
        if compare == Compare::Content && holds_stored {
            self.document.as_ref() != Some(fetched)
        } else {
            stored().as_ref().map(AsRef::as_ref) != Some(body)
        }
    }

    /// Without a document: whether one may be coming soon, so a request may wait (bounded) —
    /// a fetch is under way, about to start, or not yet tried.
    fn coming(&self) -> bool {
        let s = &self.schedule;
        s.fetching(self.synced_ms)
            || (s.failures == 0 && s.generation == 0)
            || (s.failures == 0 && self.synced_ms >= s.next_due_ms)
    }
}

impl ProviderDocument<Jwks> {
    /// The keys, if this VM holds usable ones.
    pub fn keys(&self) -> Option<&Jwks> {
        self.document.as_ref()
    }

    /// The keys' state for a request arriving now.
    pub fn state(&self) -> KeyState<'_> {
        match &self.document {
            Some(keys) => KeyState::Ready(keys),
            None if self.coming() => KeyState::Pending,
            None => KeyState::Unavailable,
        }
    }

    /// Whether a token with an unknown `kid` may wait for a refetch at `now_ms`, judged by
    /// `shared`, the endpoint's schedule as stored now (this VM's copy may be a tick old): a
    /// fetch is coming, or another VM already stored a document this VM has not adopted yet
    /// (it will on its next tick, and waiting requests are decided again then).
    pub fn may_refetch(&self, shared: &Schedule, now_ms: u64) -> bool {
        shared.may_refetch(now_ms, &self.policy)
            || (shared.generation != 0 && shared.generation != self.generation)
    }
}

impl ProviderDocument<Revocations> {
    /// The feed's state for a request arriving now.
    pub fn state(&self) -> FeedState<'_> {
        match &self.document {
            Some(feed) => FeedState::Ready(feed),
            None if self.coming() => FeedState::Pending,
            None => FeedState::Unavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use core::cell::Cell;

    use super::*;

    const VM_A: u64 = 11;
    const VM_B: u64 = 22;

    fn policy() -> RefreshPolicy {
        RefreshPolicy {
            refresh_ms: 300_000,
            cooldown_ms: 30_000,
            max_stale_ms: 60_000,
            lease_ms: 6_000,
        }
    }

    const JWKS: &[u8] = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a"}]}"#;

    fn jwks() -> Jwks {
        Jwks::parse(JWKS).unwrap()
    }

    #[test]
    fn encodes_and_decodes() {
        let s = Schedule {
            generation: 3,
            fresh_until_ms: 4,
            next_due_ms: 5,
            lease_owner: 6,
            lease_until_ms: u64::MAX,
            failures: 8,
            last_forced_ms: 9,
            last_success_ms: 10,
        };
        assert_eq!(Schedule::decode(&s.encode()), Some(s));
        // VMs of an older build share the bytes (an upgrade keeps shared data): the layout holds.
        let bytes = s.encode();
        assert_eq!(bytes[..8], 3u64.to_le_bytes(), "generation first");
        assert_eq!(bytes[24..32], 6u64.to_le_bytes(), "lease owner fourth");
        assert_eq!(bytes[56..], 10u64.to_le_bytes(), "last success last");
        assert_eq!(Schedule::decode(&[0; 63]), None);
        assert_eq!(Schedule::decode(&[]), None);
    }

    #[test]
    fn one_vm_at_a_time_holds_the_lease() {
        let p = policy();
        let mut s = Schedule::default();
        assert!(s.take_lease(VM_A, 1_000, &p));
        assert!(s.fetching(1_000));
        assert!(!s.clone().take_lease(VM_B, 1_001, &p), "A is fetching");
        // A's VM vanished mid-fetch: after the lease lapses, B takes over.
        assert!(s.clone().take_lease(VM_B, 1_000 + p.lease_ms, &p));
        s.on_success(2_000, None, true, &p);
        assert_eq!(s.generation, 1);
        assert!(!s.fetching(2_000));
        assert!(!s.take_lease(VM_B, 2_001, &p), "not due");
    }

    #[test]
    fn refreshes_before_expiry_and_honours_max_age() {
        let p = policy();
        let mut s = Schedule::default();
        s.on_success(0, None, true, &p);
        assert_eq!(s.fresh_until_ms, 300_000);
        assert_eq!(s.next_due_ms, 270_000);
        s.on_success(0, Some(60), false, &p);
        assert_eq!(s.generation, 1, "same document: same generation");
        assert_eq!((s.fresh_until_ms, s.next_due_ms), (60_000, 54_000));
        s.on_success(0, Some(86_400), false, &p);
        assert_eq!(
            s.fresh_until_ms, 300_000,
            "never longer than refresh_seconds"
        );
        s.on_success(0, Some(0), false, &p);
        assert_eq!(
            s.fresh_until_ms, MIN_MAX_AGE_MS,
            "max-age=0 is not a fetch loop"
        );
    }

    #[test]
    fn reads_cache_control() {
        assert_eq!(max_age("public, max-age=300"), Some(300));
        assert_eq!(max_age("Max-Age = 60 , must-revalidate"), Some(60));
        assert_eq!(max_age("no-store"), Some(0));
        assert_eq!(max_age("max-age=-1"), Some(0));
        assert_eq!(max_age("max-age=99999999999999999999999"), Some(u64::MAX));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age(""), None);
    }

    #[test]
    fn failures_back_off_and_keep_keys_until_the_stale_period_ends() {
        let p = policy();
        let mut s = Schedule::default();
        s.on_success(0, None, true, &p);
        s.on_failure(300_000, &p);
        assert_eq!(s.next_due_ms, 300_000 + FIRST_BACKOFF_MS);
        s.on_failure(300_500, &p);
        assert_eq!(s.next_due_ms, 300_500 + 2 * FIRST_BACKOFF_MS);
        for _ in 0..40 {
            s.on_failure(301_000, &p);
        }
        assert_eq!(s.next_due_ms, 301_000 + MAX_BACKOFF_MS);
        assert_eq!(s.freshness(299_999, &p), Freshness::Fresh);
        assert_eq!(s.freshness(300_000, &p), Freshness::Stale);
        assert_eq!(s.freshness(359_999, &p), Freshness::Stale);
        assert_eq!(s.freshness(360_000, &p), Freshness::Expired);
    }

    #[test]
    fn unknown_kid_forces_one_fetch_per_cooldown() {
        let p = policy();
        let mut s = Schedule::default();
        s.on_success(0, None, true, &p);
        assert!(s.may_refetch(1_000, &p));
        assert!(s.force(1_000, &p));
        assert!(
            s.may_refetch(1_010, &p),
            "forced but not started yet (the next tick starts it): may be waited for"
        );
        assert!(!s.force(1_010, &p), "and is not forced twice");
        assert!(s.take_lease(VM_A, 1_020, &p), "due at once");
        assert!(
            s.may_refetch(1_001, &p),
            "a fetch under way may be waited for"
        );
        assert!(!s.force(1_001, &p), "and is not forced twice");
        s.on_success(1_200, None, false, &p);
        assert!(!s.may_refetch(1_300, &p), "within the cooldown");
        assert!(!s.force(1_300, &p));
        assert!(!s.take_lease(VM_B, 1_300, &p), "so no second fetch");
        assert!(s.may_refetch(31_000, &p));
    }

    #[test]
    fn a_vm_adopts_the_stored_document_and_drops_expired_keys() {
        let p = policy();
        let mut vm = ProviderKeys::new(p);
        assert!(matches!(vm.state(), KeyState::Pending), "nothing tried yet");
        let mut s = Schedule::default();
        assert!(s.take_lease(VM_A, 0, &p));
        let out = vm.sync(s, None, 0);
        assert!(out.wake && !out.keys_changed);
        assert!(matches!(vm.state(), KeyState::Pending), "A is fetching");
        s.on_failure(10, &p);
        let _ = vm.sync(s, None, 10);
        assert!(matches!(vm.state(), KeyState::Unavailable));
        assert!(s.take_lease(VM_A, 600, &p));
        s.on_success(700, None, true, &p);
        assert!(vm.needs_document(&s, 700));
        let out = vm.sync(s, Some(jwks()), 700);
        assert!(out.keys_changed);
        assert!(!vm.needs_document(&s, 700));
        assert!(matches!(vm.state(), KeyState::Ready(_)));
        // The endpoint goes down: stale keys still serve, expired ones are dropped.
        s.on_failure(300_700, &p);
        let out = vm.sync(s, None, 300_700);
        assert!(!out.keys_changed);
        assert_eq!(vm.freshness(), Freshness::Stale);
        assert!(matches!(vm.state(), KeyState::Ready(_)));
        let out = vm.sync(s, None, 360_700);
        assert!(out.expired && out.keys_changed);
        assert!(matches!(vm.state(), KeyState::Unavailable));
        assert!(
            !vm.needs_document(&s, 360_800),
            "expired keys are not reloaded"
        );
        // The endpoint is back with the same document: same generation, keys loaded again.
        assert!(s.take_lease(VM_B, 361_000, &p));
        s.on_success(361_000, None, false, &p);
        assert!(vm.needs_document(&s, 361_000));
        let out = vm.sync(s, Some(jwks()), 361_000);
        assert!(out.keys_changed && out.wake);
        assert!(matches!(vm.state(), KeyState::Ready(_)));
    }

    /// A revocation feed as the issuer serves it: `generated_at` differs on every fetch.
    fn feed_body(generated_at: u64, jti: &str) -> std::vec::Vec<u8> {
        std::format!(
            r#"{{"iss":"https://issuer","generated_at":{generated_at},"tokens":[{{"jti":"{jti}","exp":9999999999}}],"clients":[]}}"#
        )
        .into_bytes()
    }

    fn feed(body: &[u8]) -> Revocations {
        Revocations::parse(body, "https://issuer", 1 << 20).unwrap()
    }

    #[test]
    fn a_lease_is_released_only_by_its_live_holder() {
        let p = policy();
        let mut s = Schedule::default();
        assert!(!s.release_lease(VM_A, 0), "nobody holds it");
        assert!(s.take_lease(VM_A, 1_000, &p));
        let leased = s;
        assert!(!s.release_lease(VM_B, 1_100), "another VM's lease");
        assert!(
            !s.release_lease(VM_A, 1_000 + p.lease_ms),
            "lapsed: another VM may already have taken over"
        );
        assert_eq!(s, leased, "left alone");
        assert!(s.release_lease(VM_A, 1_100));
        assert!(!s.fetching(1_100));
        assert_eq!(s.lease_owner, 0);
        assert_eq!(s.next_due_ms, 1_100 + FIRST_BACKOFF_MS, "retried shortly");
        assert_eq!(s.failures, 0, "nothing was asked of the issuer");
        assert!(!s.release_lease(VM_A, 1_200), "once");
    }

    #[test]
    fn each_freshness_change_is_reported_once() {
        use Freshness::*;
        let report = |now: Freshness, reported| now.report(reported);
        for f in [Missing, Fresh, Stale, Expired] {
            assert_eq!(report(f, f), None, "{f:?} unchanged");
        }
        let first = report(Fresh, Missing).unwrap();
        assert_eq!(first.line, None, "a first document is not news");
        assert_eq!((first.stale_gauge, first.count_expired), (0, false));
        let stale = report(Stale, Fresh).unwrap();
        assert_eq!(stale.line, Some(FreshnessLine::Stale));
        assert_eq!((stale.stale_gauge, stale.count_expired), (1, false));
        let expired = report(Expired, Stale).unwrap();
        assert_eq!(expired.line, Some(FreshnessLine::Expired));
        assert_eq!((expired.stale_gauge, expired.count_expired), (0, true));
        for before in [Stale, Expired] {
            let back = report(Fresh, before).unwrap();
            assert_eq!(back.line, Some(FreshnessLine::Fresh), "after {before:?}");
            assert_eq!((back.stale_gauge, back.count_expired), (0, false));
        }
        assert_eq!(
            report(Stale, Missing).unwrap().line,
            Some(FreshnessLine::Stale)
        );
        assert_eq!(report(Missing, Fresh).unwrap().line, None);
    }

    #[test]
    fn a_vm_reports_its_documents_freshness_as_it_changes() {
        let p = policy();
        let mut vm = ProviderKeys::new(p);
        assert_eq!(vm.report_freshness(), None, "still missing");
        let mut s = Schedule::default();
        s.on_success(0, None, true, &p);
        let _ = vm.sync(s, Some(jwks()), 0);
        let first = vm.report_freshness().unwrap();
        assert_eq!((first.freshness, first.line), (Freshness::Fresh, None));
        assert_eq!(vm.report_freshness(), None, "reported once");
        s.on_failure(300_000, &p);
        let _ = vm.sync(s, None, 300_000);
        assert_eq!(
            vm.report_freshness().map(|r| r.line),
            Some(Some(FreshnessLine::Stale))
        );
        let _ = vm.sync(s, None, 300_100);
        assert_eq!(vm.report_freshness(), None, "still stale: nothing new");
        let _ = vm.sync(s, None, 360_000);
        let expired = vm.report_freshness().unwrap();
        assert_eq!(expired.line, Some(FreshnessLine::Expired));
        assert!(expired.count_expired);
        s.on_success(361_000, None, false, &p);
        let _ = vm.sync(s, Some(jwks()), 361_000);
        assert_eq!(
            vm.report_freshness().map(|r| r.line),
            Some(Some(FreshnessLine::Fresh))
        );
    }

    #[test]
    fn a_jwks_changed_when_its_bytes_did() {
        let p = policy();
        let mut vm = ProviderKeys::new(p);
        let body = JWKS;
        let parsed = jwks();
        let mut s = Schedule::default();
        let stored = |bytes: Option<&'static [u8]>| move || bytes;
        assert!(
            vm.changed(Compare::Bytes, &s, &parsed, body, stored(None)),
            "nothing stored yet"
        );
        s.on_success(0, None, true, &p);
        let _ = vm.sync(s, Some(parsed.clone()), 0);
        assert!(!vm.changed(Compare::Bytes, &s, &parsed, body, stored(Some(body))));
        // The same keys in other bytes: a JWKS is compared as bytes even when this VM holds it.
        let spaced = [b" ", JWKS].concat();
        assert_eq!(Jwks::parse(&spaced).unwrap(), parsed);
        assert!(vm.changed(Compare::Bytes, &s, &parsed, &spaced, stored(Some(body))));
    }

    #[test]
    fn a_feed_changed_when_its_entries_did() {
        let p = policy();
        let mut vm = ProviderFeed::new(p);
        let (first, refetched, revoked) = (feed_body(1, "a"), feed_body(2, "a"), feed_body(3, "b"));
        let read = Cell::new(0);
        let stored = |bytes: &[u8]| {
            let bytes = bytes.to_vec();
            let read = &read;
            move || {
                read.set(read.get() + 1);
                Some(bytes)
            }
        };
        let mut s = Schedule::default();
        assert!(vm.changed(
            Compare::Content,
            &s,
            &feed(&first),
            &first,
            || None::<&[u8]>
        ));
        s.on_success(0, None, true, &p);
        // Another VM stored it; this one has not loaded it: only the bytes can tell.
        assert!(!vm.changed(Compare::Content, &s, &feed(&first), &first, stored(&first)));
        assert!(vm.changed(
            Compare::Content,
            &s,
            &feed(&refetched),
            &refetched,
            stored(&first)
        ));
        assert_eq!(read.get(), 2);
        // Once this VM holds the stored generation, the entries decide and nothing is read.
        let _ = vm.sync(s, Some(feed(&first)), 0);
        assert!(
            !vm.changed(
                Compare::Content,
                &s,
                &feed(&refetched),
                &refetched,
                stored(&first)
            ),
            "only generated_at differs"
        );
        assert!(vm.changed(
            Compare::Content,
            &s,
            &feed(&revoked),
            &revoked,
            stored(&first)
        ));
        assert_eq!(read.get(), 2, "the stored bytes were not read");
        // A newer generation stored elsewhere: back to the bytes.
        s.on_success(1_000, None, true, &p);
        assert!(vm.changed(
            Compare::Content,
            &s,
            &feed(&refetched),
            &refetched,
            stored(&revoked)
        ));
        assert_eq!(read.get(), 3);
    }
}
