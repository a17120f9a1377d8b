//! A token whose `kid` the current keys lack waits for a refetch when the host allows one, and is
//! refused as `kid_unknown` when it does not.

use serde_json::json;
use verifier_core::{Config, Decision, Request, decide};
use verifier_testkit::*;

/// The test kit's ready keys, with a refetch `allowed` or not.
fn refetching(config: &Config, allowed: bool) -> TestKeys<'_> {
    TestKeys {
        refetch: allowed,
        ..TestKeys::ready(config)
    }
}

fn setup() -> (Config, String, String) {
    let known = Signer::es256(1);
    let rotated_in = Signer::es256(2);
    let config = parse_config(&json!({
        "providers": {PROVIDER: provider_json(&[known.jwk()])},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": PROVIDER}}],
    }));
    (
        config,
        format!("Bearer {}", rotated_in.token(&claims())),
        format!("Bearer {}", known.token(&claims())),
    )
}

#[test]
fn unknown_kid_waits_for_fresh_keys_when_a_refetch_is_allowed() {
    let (config, rotated, known) = setup();
    let keys = refetching(&config, true);
    let request = Request {
        method: "GET",
        path: "/x",
        authorization: Some(&rotated),
    };
    assert!(matches!(
        decide(&config, &keys, &request, NOW),
        Decision::Wait { .. }
    ));
    // A known kid is never held up.
    let request = Request {
        method: "GET",
        path: "/x",
        authorization: Some(&known),
    };
    assert!(matches!(
        decide(&config, &keys, &request, NOW),
        Decision::Allow { .. }
    ));
}

#[test]
fn unknown_kid_is_refused_when_no_refetch_is_allowed() {
    let (config, rotated, _) = setup();
    let keys = refetching(&config, false);
    let request = Request {
        method: "GET",
        path: "/x",
        authorization: Some(&rotated),
    };
    match decide(&config, &keys, &request, NOW) {
        Decision::Deny(d) => assert_eq!(d.error.code(), "kid_unknown"),
        other => panic!("expected kid_unknown, got {other:?}"),
    }
}
