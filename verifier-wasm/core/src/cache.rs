//! Verified-token cache: service tokens are reused for their whole lifetime, so a signature
//! checked once need not be checked again on every request.
//!
//! An entry is keyed by the SHA-512/256 of the token and the provider, holds only what a decision
//! needs (the identity, the numeric dates, and the `jti` when the provider has a revocation
//! feed), and never outlives the token: the dates, the route's scopes and the revocation feed are
//! re-checked on every hit, entries are dropped once expired, and the host
//! clears a provider's entries whenever its key set changes (a key that left the JWKS must not
//! keep vouching for tokens it signed). Bounded in entries and bytes; when full, the entries that
//! expire soonest go first.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::sync::Arc;
use sha2::{Digest as _, Sha512_256};

use crate::claims::Lifetime;
use crate::defaults::{DEFAULT_CACHE_MAX_BYTES, DEFAULT_CACHE_MAX_ENTRIES};
use crate::identity::Identity;

/// SHA-512/256 of the provider and the token: the cache key. A token is never stored. SHA-512/256
/// rather than SHA-256: the same strength, and in wasm, where a hit's hash is most of the core's
/// time, its 64-bit rounds over 128-byte blocks take about a third less time for a token.
pub type TokenDigest = [u8; 32];

/// Bookkeeping per entry beyond its strings, for the byte bound (two map nodes, the dates).
const ENTRY_OVERHEAD: usize = 160;

/// How large the cache may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most entries; 0 turns the cache off.
    pub max_entries: usize,
    /// Most bytes, estimated from the stored strings plus a fixed overhead per entry.
    pub max_bytes: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits {
            max_entries: DEFAULT_CACHE_MAX_ENTRIES,
            max_bytes: DEFAULT_CACHE_MAX_BYTES,
        }
    }
}

/// What is remembered of a verified token.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedToken {
    /// The provider it was verified for.
    pub provider: String,
    /// The identity it carries (shared with the decisions made from it).
    pub identity: Arc<Identity>,
    /// Its dates, re-checked on every hit.
    pub lifetime: Lifetime,
    /// The first second at which it is dead even with the provider's skew.
    pub dead_at: u64,
    /// Its `jti`, kept only when the provider has a revocation feed: the feed is checked on
    /// every hit, since a token may be revoked long after it was verified.
    pub jti: Option<String>,
}

impl CachedToken {
    fn size(&self) -> usize {
        let i = &self.identity;
        ENTRY_OVERHEAD
            + self.provider.len()
            + i.subject.len()
            + i.client_id.as_ref().map_or(0, String::len)
            + i.scope.len()
            + i.issuer.len()
            + i.profile.as_ref().map_or(0, String::len)
            + i.delegation.as_ref().map_or(0, |d| d.size())
            + self.jti.as_ref().map_or(0, String::len)
    }
}

/// The cache of one worker.
#[derive(Debug, Clone, Default)]
pub struct TokenCache {
    limits: CacheLimits,
    entries: BTreeMap<TokenDigest, CachedToken>,
    by_death: BTreeSet<(u64, TokenDigest)>,
    bytes: usize,
    stats: CacheStats,
}

/// Lookups since the cache was made, for metrics (the host reports the difference).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that found nothing alive.
    pub misses: u64,
}

impl TokenCache {
    /// An empty cache with these limits.
    pub fn new(limits: CacheLimits) -> TokenCache {
        TokenCache {
            limits,
            ..TokenCache::default()
        }
    }

    /// The key for `token` as presented for `provider`.
    pub fn digest(provider: &str, token: &str) -> TokenDigest {
        let mut hash = Sha512_256::new();
        // Length-prefixed so that no (provider, token) pair can collide with another by shifting bytes.
        hash.update((provider.len() as u64).to_be_bytes());
        hash.update(provider.as_bytes());
        hash.update(token.as_bytes());
        hash.finalize().into()
    }

    /// The entry for `digest`, if it is still alive at `now`.
    pub fn get(&self, digest: &TokenDigest, now: u64) -> Option<&CachedToken> {
        self.entries.get(digest).filter(|e| now < e.dead_at)
    }

    /// Counts one lookup's result in [`TokenCache::stats`].
    pub fn count(&mut self, hit: bool) {
        let counter = if hit {
            &mut self.stats.hits
        } else {
            &mut self.stats.misses
        };
        *counter = counter.wrapping_add(1);
    }

    /// Hits and misses counted so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Remembers a verified token, evicting the soonest-to-die entries if the cache is full.
    pub fn insert(&mut self, digest: TokenDigest, entry: CachedToken, now: u64) {
        let size = entry.size();
        if self.limits.max_entries == 0 || size > self.limits.max_bytes || now >= entry.dead_at {
            return;
        }
        self.remove(&digest);
        self.purge_expired(now);
        while self.entries.len() >= self.limits.max_entries
            || self.bytes + size > self.limits.max_bytes
        {
            let Some(&(_, victim)) = self.by_death.first() else {
                break;
            };
            self.remove(&victim);
        }
        self.bytes += size;
        self.by_death.insert((entry.dead_at, digest));
        self.entries.insert(digest, entry);
    }

    /// Forgets one token.
    pub fn remove(&mut self, digest: &TokenDigest) {
        if let Some(old) = self.entries.remove(digest) {
            self.bytes -= old.size();
            self.by_death.remove(&(old.dead_at, *digest));
        }
    }

    /// Forgets every token verified for `provider` (its keys changed).
    pub fn clear_provider(&mut self, provider: &str) {
        let gone: alloc::vec::Vec<TokenDigest> = self
            .entries
            .iter()
            .filter(|(_, e)| e.provider == provider)
            .map(|(d, _)| *d)
            .collect();
        for digest in gone {
            self.remove(&digest);
        }
    }

    /// Drops every entry dead at `now`.
    pub fn purge_expired(&mut self, now: u64) {
        while let Some(&(dead_at, digest)) = self.by_death.first() {
            if dead_at > now {
                break;
            }
            self.remove(&digest);
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Estimated bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn entry(provider: &str, exp: f64) -> CachedToken {
        let lifetime = Lifetime {
            exp,
            nbf: None,
            iat: Some(0.0),
        };
        CachedToken {
            provider: provider.to_string(),
            identity: Arc::new(Identity {
                subject: "svc.a".into(),
                client_id: Some("svc.a".into()),
                scope: "s".into(),
                issuer: "i".into(),
                profile: None,
                delegation: None,
            }),
            lifetime,
            dead_at: lifetime.dead_at(0),
            jti: None,
        }
    }

    #[test]
    fn digests_separate_providers_and_tokens() {
        assert_ne!(TokenCache::digest("a", "bc"), TokenCache::digest("ab", "c"));
        assert_ne!(TokenCache::digest("a", "t1"), TokenCache::digest("a", "t2"));
        assert_eq!(TokenCache::digest("a", "t1"), TokenCache::digest("a", "t1"));
    }

    #[test]
    fn entries_die_with_their_token() {
        let mut cache = TokenCache::new(CacheLimits::default());
        let d = TokenCache::digest("p", "t");
        cache.insert(d, entry("p", 100.5), 10);
        assert!(cache.get(&d, 100).is_some());
        assert!(cache.get(&d, 101).is_none(), "dead at ceil(exp) + skew");
        cache.purge_expired(101);
        assert!(cache.is_empty());
        assert_eq!(cache.bytes(), 0);
        // Never stores what is already dead.
        cache.insert(d, entry("p", 5.0), 10);
        assert!(cache.is_empty());
    }

    #[test]
    fn bounded_by_entries_evicting_the_soonest_to_die() {
        let mut cache = TokenCache::new(CacheLimits {
            max_entries: 2,
            max_bytes: usize::MAX,
        });
        let (a, b, c) = (
            TokenCache::digest("p", "a"),
            TokenCache::digest("p", "b"),
            TokenCache::digest("p", "c"),
        );
        cache.insert(a, entry("p", 300.0), 0);
        cache.insert(b, entry("p", 200.0), 0);
        cache.insert(c, entry("p", 400.0), 0);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&b, 0).is_none(), "b expired soonest, so it went");
        assert!(cache.get(&a, 0).is_some() && cache.get(&c, 0).is_some());
    }

    #[test]
    fn bounded_by_bytes_and_off_at_zero() {
        let one = entry("p", 100.0).size();
        let mut cache = TokenCache::new(CacheLimits {
            max_entries: 100,
            max_bytes: one * 3,
        });
        for i in 0..10 {
            cache.insert(
                TokenCache::digest("p", &i.to_string()),
                entry("p", 100.0 + i as f64),
                0,
            );
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.bytes() <= one * 3);
        let mut off = TokenCache::new(CacheLimits {
            max_entries: 0,
            max_bytes: usize::MAX,
        });
        off.insert(TokenCache::digest("p", "t"), entry("p", 100.0), 0);
        assert!(off.is_empty());
    }

    #[test]
    fn clearing_a_provider_keeps_the_others() {
        let mut cache = TokenCache::new(CacheLimits::default());
        cache.insert(TokenCache::digest("p", "t"), entry("p", 100.0), 0);
        cache.insert(TokenCache::digest("q", "t"), entry("q", 100.0), 0);
        cache.clear_provider("p");
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&TokenCache::digest("q", "t"), 0).is_some());
    }
}
