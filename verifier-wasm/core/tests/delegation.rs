//! Delegated tokens at the gateway: the `delegation` provider member and rule members, the
//! identity headers of a chain, the token cache (a revoked ancestor or agent still wins over a
//! hit), and the configuration errors. The codes of each refusal are in the shared vectors.

use serde_json::{Value, json};
use verifier_core::{
    CacheLimits, Config, Decision, FeedState, KeyState, Keys, Revocations, TokenCache, decide,
    decide_cached,
};
use verifier_testkit::*;

fn signer() -> Signer {
    Signer::es256(1)
}

/// Provider "agents" accepts chains of up to 3 with a feed; "plain" accepts none.
fn config() -> Config {
    let mut agents = provider_json(&[signer().jwk()]);
    agents["delegation"] = json!({"max_depth": 3});
    agents["revocations"] = json!({"cluster": "issuer", "path": "/oauth/revocations"});
    parse_config(&json!({
        "providers": {"agents": agents, "plain": provider_json(&[signer().jwk()])},
        "rules": [
            {"match": {"prefix": "/plain"}, "requires": {"provider": "plain"}},
            {"match": {"prefix": "/"}, "requires": {"provider": "agents"}},
        ],
    }))
}

struct Feed<'c> {
    keys: TestKeys<'c>,
    feed: Revocations,
}

impl Keys for Feed<'_> {
    fn state(&self, provider: &str) -> KeyState<'_> {
        self.keys.state(provider)
    }

    fn revocations(&self, _provider: &str) -> FeedState<'_> {
        FeedState::Ready(&self.feed)
    }
}

fn with_feed<'c>(config: &'c Config, tokens: &[&str], clients: &[(&str, u64)]) -> Feed<'c> {
    let tokens: Vec<Value> = tokens.iter().map(|j| json!({"jti": j})).collect();
    let clients: Vec<Value> = clients
        .iter()
        .map(|(c, before)| json!({"client_id": c, "revoked_before": before}))
        .collect();
    let feed = json!({"iss": ISSUER, "tokens": tokens, "clients": clients});
    Feed {
        keys: TestKeys::ready(config),
        feed: Revocations::parse(feed.to_string().as_bytes(), ISSUER, 1 << 20).unwrap(),
    }
}

fn outcome(decision: &Decision) -> String {
    match decision {
        Decision::Allow { .. } => "allow".into(),
        Decision::Deny(d) => d.error.code().into(),
        Decision::Wait { .. } => "wait".into(),
    }
}

fn two_hop() -> String {
    signer().token(&claims_with(delegated(
        &["agent.sub", "agent.main"],
        &["parent-jti", "root-jti"],
    )))
}

#[test]
fn a_chain_reaches_the_upstream_as_actor_headers_with_the_principal_as_subject() {
    let config = config();
    let keys = with_feed(&config, &[], &[]);
    let authorization = bearer(&two_hop());
    let decision = decide(
        &config,
        &keys,
        &request("GET", "/x", Some(&authorization)),
        NOW,
    );
    let Decision::Allow {
        identity: Some(identity),
        ..
    } = decision
    else {
        panic!("allowed: {decision:?}")
    };
    let headers: Vec<(&str, &str)> = identity.headers();
    let get = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    assert_eq!(get("x-auth-subject"), Some("svc.warehouse"));
    assert_eq!(get("x-auth-client-id"), Some("agent.sub"));
    assert_eq!(get("x-auth-actor"), Some("agent.sub"));
    assert_eq!(get("x-auth-actor-chain"), Some("agent.sub,agent.main"));
    // A token that is not delegated sends no actor headers (and the filter strips any sent).
    let plain = bearer(&signer().token(&claims()));
    let Decision::Allow {
        identity: Some(identity),
        ..
    } = decide(&config, &keys, &request("GET", "/x", Some(&plain)), NOW)
    else {
        panic!("allowed")
    };
    assert!(
        identity
            .headers()
            .iter()
            .all(|(n, _)| !n.starts_with("x-auth-actor"))
    );
}

#[test]
fn a_cached_delegated_token_is_refused_once_an_ancestor_or_a_chain_client_is_revoked() {
    let config = config();
    let token = two_hop();
    let authorization = bearer(&token);
    let request = request("GET", "/x", Some(&authorization));
    let mut cache = TokenCache::new(CacheLimits::default());
    let clean = with_feed(&config, &[], &[]);
    for _ in 0..2 {
        assert_eq!(
            outcome(&decide_cached(&config, &clean, &mut cache, &request, NOW)),
            "allow"
        );
    }
    assert_eq!(cache.stats().hits, 1);
    let revoked: [Feed<'_>; 5] = [
        // The token it was exchanged from, and the root two hops up.
        with_feed(&config, &["parent-jti"], &[]),
        with_feed(&config, &["root-jti"], &[]),
        // The middle agent, the current agent, the principal: revoked after the token's iat.
        with_feed(&config, &[], &[("agent.main", NOW)]),
        with_feed(&config, &[], &[("agent.sub", NOW)]),
        with_feed(&config, &[], &[("svc.warehouse", NOW)]),
    ];
    for keys in &revoked {
        assert_eq!(
            outcome(&decide_cached(&config, keys, &mut cache, &request, NOW)),
            "token_revoked"
        );
    }
    assert_eq!(cache.stats().hits, 6, "every refusal came from a cache hit");
    // An agent revoked before the token was issued does not revoke it (it was re-enabled since).
    let earlier = with_feed(&config, &[], &[("agent.main", NOW - 3600)]);
    assert_eq!(
        outcome(&decide_cached(&config, &earlier, &mut cache, &request, NOW)),
        "allow"
    );
    // A sibling: the same principal through another agent is untouched by the middle's revocation.
    let sibling = signer().token(&claims_with(delegated(&["agent.other"], &["root-jti-2"])));
    let sibling = bearer(&sibling);
    let middle = with_feed(&config, &["parent-jti"], &[("agent.main", NOW)]);
    assert_eq!(
        outcome(&decide_cached(
            &config,
            &middle,
            &mut cache,
            &verifier_testkit::request("GET", "/x", Some(&sibling)),
            NOW
        )),
        "allow"
    );
}

#[test]
fn a_provider_without_delegation_refuses_every_delegated_token() {
    let config = config();
    let keys = with_feed(&config, &[], &[]);
    let one_hop = bearer(&signer().token(&claims_with(delegated(&["agent.main"], &["p"]))));
    assert_eq!(
        outcome(&decide(
            &config,
            &keys,
            &request("GET", "/plain", Some(&one_hop)),
            NOW
        )),
        "delegation_not_allowed"
    );
    // A policy refusal of a valid token: a Bearer challenge that says why, with no RFC 6750
    // error code (none fits; insufficient_scope would send the client after more scope).
    let Decision::Deny(denial) = decide(
        &config,
        &keys,
        &request("GET", "/plain", Some(&one_hop)),
        NOW,
    ) else {
        panic!("denied")
    };
    let challenge = denial.www_authenticate.as_deref().unwrap_or_default();
    assert!(
        challenge
            .starts_with("Bearer realm=\"service\", error_description=\"the token is delegated"),
        "{challenge}"
    );
    assert!(!challenge.contains("error=\""), "{challenge}");
    // Even an act without ancestor_jtis, as a third-party issuer would mint it.
    let bare = bearer(&signer().token(&claims_with(
        json!({"act": {"sub": "agent.main"}, "client_id": "agent.main"}),
    )));
    assert_eq!(
        outcome(&decide(
            &config,
            &keys,
            &request("GET", "/plain", Some(&bare)),
            NOW
        )),
        "delegation_not_allowed"
    );
}

#[test]
fn delegation_members_are_checked_when_the_configuration_loads() {
    let refused = |provider_delegation: Value, requires: Value| {
        let mut provider = provider_json(&[signer().jwk()]);
        if !provider_delegation.is_null() {
            provider["delegation"] = provider_delegation;
        }
        let mut rule = json!({"provider": PROVIDER});
        for (k, v) in requires.as_object().unwrap() {
            rule[k] = v.clone();
        }
        let config = json!({
            "providers": {PROVIDER: provider},
            "rules": [{"match": {"prefix": "/"}, "requires": rule}],
        });
        Config::parse(config.to_string().as_bytes())
            .err()
            .map(|e| e.to_string())
    };
    let accepted = |d: Value, r: Value| refused(d, r).is_none();
    assert!(accepted(json!({}), json!({})), "max_depth defaults");
    assert!(accepted(
        json!({"max_depth": 10}),
        json!({"max_delegation_depth": 0})
    ));
    assert!(accepted(Value::Null, json!({"human_root": true})));
    let e = refused(Value::Null, json!({"actors": ["agent.*"]})).unwrap();
    assert!(e.contains("actors") && e.contains("no delegation"), "{e}");
    let e = refused(Value::Null, json!({"max_delegation_depth": 1})).unwrap();
    assert!(e.contains("max_delegation_depth"), "{e}");
    let e = refused(json!({"max_depth": 0}), json!({})).unwrap();
    assert!(e.contains("delegation.max_depth"), "{e}");
    let e = refused(json!({"max_depth": 11}), json!({})).unwrap();
    assert!(e.contains("delegation.max_depth"), "{e}");
    let e = refused(json!({"depth": 2}), json!({})).unwrap();
    assert!(e.contains("depth"), "{e}");
    let e = refused(json!({}), json!({"actors": []})).unwrap();
    assert!(e.contains("actors"), "{e}");
    let e = refused(json!({}), json!({"human_root": "yes"})).unwrap();
    assert!(e.contains("human_root"), "{e}");
}

#[test]
fn a_chain_nested_ten_thousand_deep_is_refused_without_recursing_into_it() {
    // Past the 8 KiB token limit the size check refuses it first (the shared vectors); here the
    // claim set is parsed directly, as if no size limit stood in front: the JSON depth limit
    // refuses it at level 17, long before the stack could notice.
    let depth = 10_000;
    let nested =
        "{\"sub\":\"a\",\"act\":".repeat(depth - 1) + "{\"sub\":\"a\"}" + &"}".repeat(depth - 1);
    let claims = claims_text_with("act", &nested);
    let started = std::time::Instant::now();
    let error = verifier_core::Claims::parse(claims.as_bytes()).expect_err("refused");
    assert_eq!(error.code(), "token_malformed");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // Within the JSON limit but past the longest chain a provider may accept, the chain parses
    // (its current actor the token's client_id) and the depth check refuses it.
    let fifteen = verifier_core::Claims::parse(
        claims_text_with(
            "act",
            &("{\"sub\":\"warehouse\",\"act\":".to_owned()
                + &"{\"sub\":\"a\",\"act\":".repeat(13)
                + "{\"sub\":\"b\"}"
                + &"}".repeat(14)),
        )
        .as_bytes(),
    );
    assert_eq!(
        fifteen.map(|c| c.delegation.map(|d| d.depth())),
        Ok(Some(15))
    );
}
