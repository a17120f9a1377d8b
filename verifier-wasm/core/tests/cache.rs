//! The verified-token cache as `decide_cached` uses it: a hit skips the signature and nothing else.

use serde_json::json;
use verifier_core::{CacheLimits, Config, Decision, TokenCache, decide_cached};
use verifier_testkit::*;

fn signer() -> Signer {
    Signer::es256(1)
}

fn config() -> Config {
    parse_config(&json!({
        "providers": {PROVIDER: provider_json(&[signer().jwk()])},
        "rules": [
            {"match": {"prefix": "/write"}, "requires": {"provider": PROVIDER, "scopes": ["instruments:write"]}},
            {"match": {"prefix": "/"}, "requires": {"provider": PROVIDER}},
        ],
    }))
}

/// A host: one configuration and its token cache.
struct Host {
    config: Config,
    cache: TokenCache,
}

impl Host {
    fn new(config: Config) -> Host {
        let cache = TokenCache::new(config.token_cache);
        Host { config, cache }
    }

    /// `GET path` with `token` at `now`, through the cache; with the keys ready, or unavailable
    /// (so a decision that still allows came from the cache).
    fn run(&mut self, keys_ready: bool, path: &str, token: &str, now: u64) -> Decision {
        let keys = if keys_ready {
            TestKeys::ready(&self.config)
        } else {
            TestKeys {
                unavailable: vec![PROVIDER],
                ..TestKeys::ready(&self.config)
            }
        };
        let authorization = bearer(token);
        let request = request("GET", path, Some(&authorization));
        decide_cached(&self.config, &keys, &mut self.cache, &request, now)
    }

    /// The code of [`Host::run`] with the keys ready.
    fn with_keys(&mut self, path: &str, token: &str, now: u64) -> &'static str {
        code(&self.run(true, path, token, now))
    }

    /// The code of [`Host::run`] with the keys unavailable: only the cache can allow.
    fn cache_only(&mut self, path: &str, token: &str, now: u64) -> &'static str {
        code(&self.run(false, path, token, now))
    }
}

fn code(decision: &Decision) -> &'static str {
    match decision {
        Decision::Allow { .. } => "allow",
        Decision::Deny(d) => d.error.code(),
        Decision::Wait { .. } => "wait",
    }
}

#[test]
fn a_verified_token_is_answered_from_the_cache() {
    let mut host = Host::new(config());
    let token = signer().token(&claims());
    assert_eq!(host.cache_only("/a", &token, NOW), "jwks_unavailable");
    assert!(host.cache.is_empty(), "nothing unverified is cached");
    assert_eq!(host.with_keys("/a", &token, NOW), "allow");
    assert_eq!(host.cache.len(), 1);
    match host.run(false, "/a", &token, NOW + 1) {
        Decision::Allow {
            identity: Some(identity),
            ..
        } => assert_eq!(identity.subject, "svc.warehouse"),
        other => panic!("expected a cached allow, got {other:?}"),
    }
}

#[test]
fn a_hit_still_checks_expiry_and_the_routes_scopes() {
    let mut host = Host::new(config());
    let token = signer().token(&claims());
    assert_eq!(host.with_keys("/a", &token, NOW), "allow");
    // The cached token holds instruments:read only.
    assert_eq!(host.cache_only("/write", &token, NOW), "insufficient_scope");
    // exp is NOW + 290, skew 60: still fine one second before, refused at exp + skew.
    assert_eq!(host.cache_only("/a", &token, NOW + 349), "allow");
    assert_eq!(host.with_keys("/a", &token, NOW + 350), "token_expired");
}

#[test]
fn failures_are_not_cached_and_a_different_token_is_not_a_hit() {
    let mut host = Host::new(config());
    let token = signer().token(&claims());
    let forged = flip_signature_byte(&token, 5);
    assert_eq!(host.with_keys("/a", &forged, NOW), "signature_invalid");
    assert!(host.cache.is_empty());
    assert_eq!(host.with_keys("/a", &token, NOW), "allow");
    assert_eq!(host.with_keys("/a", &forged, NOW), "signature_invalid");
}

#[test]
fn clearing_the_provider_forces_a_new_verification() {
    let mut host = Host::new(config());
    let token = signer().token(&claims());
    assert_eq!(host.with_keys("/a", &token, NOW), "allow");
    host.cache.clear_provider(PROVIDER);
    assert_eq!(host.cache_only("/a", &token, NOW), "jwks_unavailable");
}

#[test]
fn a_disabled_cache_verifies_every_time() {
    let config = parse_config(&json!({
        "providers": {PROVIDER: provider_json(&[signer().jwk()])},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": PROVIDER}}],
        "token_cache": {"max_entries": 0},
    }));
    assert_eq!(config.token_cache.max_entries, 0);
    let mut host = Host::new(config);
    let token = signer().token(&claims());
    assert_eq!(host.with_keys("/a", &token, NOW), "allow");
    assert_eq!(host.cache_only("/a", &token, NOW), "jwks_unavailable");
}

#[test]
fn cache_limits_are_configurable_and_checked() {
    assert_eq!(config().token_cache, CacheLimits::default());
    let bad = Config::parse(
        json!({
            "providers": {PROVIDER: provider_json(&[signer().jwk()])},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider": PROVIDER}}],
            "token_cache": {"max_entries": -1},
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(bad.path, "token_cache.max_entries");
}
