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

fn run(
    config: &Config,
    keys: &TestKeys<'_>,
    cache: &mut TokenCache,
    path: &str,
    token: &str,
    now: u64,
) -> Decision {
    let authorization = bearer(token);
    let request = request("GET", path, Some(&authorization));
    decide_cached(config, keys, cache, &request, now)
}

fn code(decision: &Decision) -> &'static str {
    match decision {
        Decision::Allow { .. } => "allow",
        Decision::Deny(d) => d.error.code(),
        Decision::Wait { .. } => "wait",
    }
}

/// Keys that cannot be had: a decision that still allows came from the cache.
fn no_keys(config: &Config) -> TestKeys<'_> {
    TestKeys {
        unavailable: vec![PROVIDER],
        ..TestKeys::ready(config)
    }
}

/// The code of `GET path` with `token` at `now`, through `cache`, with the keys ready.
fn with_keys(
    config: &Config,
    cache: &mut TokenCache,
    path: &str,
    token: &str,
    now: u64,
) -> &'static str {
    code(&run(
        config,
        &TestKeys::ready(config),
        cache,
        path,
        token,
        now,
    ))
}

/// The same without keys: only the cache can allow.
fn cache_only(
    config: &Config,
    cache: &mut TokenCache,
    path: &str,
    token: &str,
    now: u64,
) -> &'static str {
    code(&run(config, &no_keys(config), cache, path, token, now))
}

#[test]
fn a_verified_token_is_answered_from_the_cache() {
    let config = config();
    let mut cache = TokenCache::new(CacheLimits::default());
    let token = signer().token(&claims());
    assert_eq!(
        cache_only(&config, &mut cache, "/a", &token, NOW),
        "jwks_unavailable"
    );
    assert!(cache.is_empty(), "nothing unverified is cached");
    assert_eq!(with_keys(&config, &mut cache, "/a", &token, NOW), "allow");
    assert_eq!(cache.len(), 1);
    let hit = run(
        &config,
        &no_keys(&config),
        &mut cache,
        "/a",
        &token,
        NOW + 1,
    );
    match hit {
        Decision::Allow {
            identity: Some(identity),
            ..
        } => assert_eq!(identity.subject, "svc.warehouse"),
        other => panic!("expected a cached allow, got {other:?}"),
    }
}

#[test]
fn a_hit_still_checks_expiry_and_the_routes_scopes() {
    let config = config();
    let mut cache = TokenCache::new(CacheLimits::default());
    let token = signer().token(&claims());
    assert_eq!(with_keys(&config, &mut cache, "/a", &token, NOW), "allow");
    // The cached token holds instruments:read only.
    assert_eq!(
        cache_only(&config, &mut cache, "/write", &token, NOW),
        "insufficient_scope"
    );
    // exp is NOW + 290, skew 60: still fine one second before, refused at exp + skew.
    assert_eq!(
        cache_only(&config, &mut cache, "/a", &token, NOW + 349),
        "allow"
    );
    assert_eq!(
        with_keys(&config, &mut cache, "/a", &token, NOW + 350),
        "token_expired"
    );
}

#[test]
fn failures_are_not_cached_and_a_different_token_is_not_a_hit() {
    let config = config();
    let mut cache = TokenCache::new(CacheLimits::default());
    let token = signer().token(&claims());
    let forged = flip_signature_byte(&token, 5);
    assert_eq!(
        with_keys(&config, &mut cache, "/a", &forged, NOW),
        "signature_invalid"
    );
    assert!(cache.is_empty());
    assert_eq!(with_keys(&config, &mut cache, "/a", &token, NOW), "allow");
    assert_eq!(
        with_keys(&config, &mut cache, "/a", &forged, NOW),
        "signature_invalid"
    );
}

#[test]
fn clearing_the_provider_forces_a_new_verification() {
    let config = config();
    let mut cache = TokenCache::new(CacheLimits::default());
    let token = signer().token(&claims());
    assert_eq!(with_keys(&config, &mut cache, "/a", &token, NOW), "allow");
    cache.clear_provider(PROVIDER);
    assert_eq!(
        cache_only(&config, &mut cache, "/a", &token, NOW),
        "jwks_unavailable"
    );
}

#[test]
fn a_disabled_cache_verifies_every_time() {
    let config = parse_config(&json!({
        "providers": {PROVIDER: provider_json(&[signer().jwk()])},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": PROVIDER}}],
        "token_cache": {"max_entries": 0},
    }));
    assert_eq!(config.token_cache.max_entries, 0);
    let mut cache = TokenCache::new(config.token_cache);
    let token = signer().token(&claims());
    assert_eq!(with_keys(&config, &mut cache, "/a", &token, NOW), "allow");
    assert_eq!(
        cache_only(&config, &mut cache, "/a", &token, NOW),
        "jwks_unavailable"
    );
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
