//! The gateway's decision (`decide`): challenges and statuses (RFC 6750 §3), scopes, rule order,
//! public routes, deny by default, waiting for keys, and what reaches the upstream.

use serde_json::{Value, json};
use verifier_core::Freshness;
use verifier_core::IDENTITY_HEADERS;
use verifier_core::{
    Awaiting, Config, Decision, Denial, Identity, Jwks, KeyState, Keys, ProviderKeys,
    RefreshPolicy, Schedule, VerifyError, decide,
};
use verifier_testkit::*;

fn signer() -> Signer {
    Signer::es256(1)
}

/// Routes: a public health check, a write endpoint needing a scope, a provider that forwards
/// the Authorization header, and `/api` for any valid token. Nothing else matches.
fn config_json_for_decisions() -> Value {
    let mut forwarding = provider_json(&[signer().jwk()]);
    forwarding["forward"] = json!(true);
    json!({
        "providers": {
            PROVIDER: provider_json(&[signer().jwk()]),
            "fwd": forwarding,
        },
        "rules": [
            {"match": {"path": "/health"}, "public": true},
            {"match": {"prefix": "/api/v1/entities/register-bulk", "methods": ["POST"]},
             "requires": {"provider": PROVIDER, "scopes": ["instruments:write"]}},
            {"match": {"prefix": "/forwarded"}, "requires": {"provider": "fwd"}},
            {"match": {"prefix": "/api"}, "requires": {"provider": PROVIDER}},
        ],
    })
}

fn config() -> Config {
    parse_config(&config_json_for_decisions())
}

fn decide_ready(
    config: &Config,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> Decision {
    decide(
        config,
        &TestKeys::ready(config),
        &request(method, path, authorization),
        NOW,
    )
}

fn body(d: &Denial) -> Value {
    serde_json::from_str(&d.body).expect("the body is JSON")
}

fn read_token() -> String {
    signer().token(&claims())
}

fn write_token() -> String {
    signer().token(&claims_with(
        json!({"scope": "instruments:read instruments:write"}),
    ))
}

/// `POST` to the write endpoint, which needs `instruments:write`, with `token`.
fn post_write(config: &Config, token: &str) -> Decision {
    decide_ready(
        config,
        "POST",
        "/api/v1/entities/register-bulk",
        Some(&bearer(token)),
    )
}

// ---------------------------------------------------------------------------------------------
// No token, bad token

#[test]
fn no_authorization_is_401_with_a_bare_challenge() {
    let config = config();
    let d = denial(decide_ready(&config, "GET", "/api/things", None));
    assert_eq!(d.status, 401);
    assert_eq!(d.error, VerifyError::TokenMissing);
    assert_eq!(
        d.www_authenticate.as_deref(),
        Some(r#"Bearer realm="service""#)
    );
    assert_eq!(body(&d)["code"], "token_missing");
    assert_eq!(body(&d)["error"], "unauthorized");
    // The twin: with a token, allowed.
    assert!(matches!(
        decide_ready(&config, "GET", "/api/things", Some(&bearer(&read_token()))),
        Decision::Allow { .. }
    ));
}

#[test]
fn authorization_without_a_bearer_token_is_treated_as_no_token() {
    let config = config();
    for authorization in [
        "Basic xyz",
        "Basic dXNlcjpwYXNz",
        "",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Token abc",
        "Bearerabc",
        "DPoP abc",
    ] {
        let d = denial(decide_ready(
            &config,
            "GET",
            "/api/things",
            Some(authorization),
        ));
        assert_eq!(d.status, 401, "{authorization:?}");
        assert_eq!(
            d.www_authenticate.as_deref(),
            Some(r#"Bearer realm="service""#),
            "{authorization:?}"
        );
        assert_eq!(body(&d)["code"], "token_missing", "{authorization:?}");
    }
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let config = config();
    let token = read_token();
    for authorization in [
        format!("Bearer {token}"),
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("Bearer   {token}"),
    ] {
        assert!(
            matches!(
                decide_ready(&config, "GET", "/api", Some(&authorization)),
                Decision::Allow {
                    identity: Some(_),
                    ..
                }
            ),
            "{authorization}"
        );
    }
}

#[test]
fn a_bad_token_is_401_invalid_token() {
    let config = config();
    let good = read_token();
    for (token, code) in [
        ("garbage".to_string(), "token_malformed"),
        (flip_signature_byte(&good, 3), "signature_invalid"),
        (
            signer().token(&claims_with(
                json!({"exp": NOW - 3_600, "iat": NOW - 7_200}),
            )),
            "token_expired",
        ),
        (
            signer().token(&claims_with(json!({"aud": "other"}))),
            "audience_mismatch",
        ),
        (Signer::es256(9).token(&claims()), "kid_unknown"),
    ] {
        let d = denial(decide_ready(&config, "GET", "/api", Some(&bearer(&token))));
        assert_eq!(d.status, 401, "{code}");
        assert_eq!(d.error.code(), code);
        let challenge = d.www_authenticate.clone().unwrap();
        assert!(
            challenge.starts_with(
                r#"Bearer realm="service", error="invalid_token", error_description=""#
            ),
            "{challenge}"
        );
        assert_eq!(body(&d)["error"], "invalid_token");
        assert_eq!(body(&d)["code"], code);
    }
}

// ---------------------------------------------------------------------------------------------
// Scopes and identity

#[test]
fn a_valid_token_lacking_the_rule_scope_is_403_insufficient_scope() {
    let config = config();
    let d = denial(post_write(&config, &read_token()));
    assert_eq!(d.status, 403);
    assert_eq!(
        d.error,
        VerifyError::InsufficientScope {
            missing: vec!["instruments:write".into()]
        }
    );
    let challenge = d.www_authenticate.clone().unwrap();
    assert!(
        challenge.starts_with(r#"Bearer realm="service", error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"scope="instruments:write""#),
        "{challenge}"
    );
    assert_eq!(body(&d)["code"], "insufficient_scope");
    assert_eq!(body(&d)["error"], "insufficient_scope");
}

#[test]
fn scopes_match_whole_tokens_only() {
    let config = config();
    for scope in [
        "instruments:writer",
        "instruments:wri",
        "instruments",
        "INSTRUMENTS:WRITE",
        "instruments:write2 read",
        "",
    ] {
        let token = signer().token(&claims_with(json!({ "scope": scope })));
        let d = denial(post_write(&config, &token));
        assert_eq!(d.error.code(), "insufficient_scope", "{scope:?}");
    }
    let token = signer().token(&claims_with(json!({"scope": null})));
    let d = denial(post_write(&config, &token));
    assert_eq!(d.error.code(), "insufficient_scope", "no scope claim");
}

#[test]
fn every_required_scope_must_be_held() {
    let mut c = config_json_for_decisions();
    c["rules"][1]["requires"]["scopes"] = json!(["a", "b", "c"]);
    let config = parse_config(&c);
    let token = signer().token(&claims_with(json!({"scope": "b x"})));
    let d = denial(post_write(&config, &token));
    assert_eq!(
        d.error,
        VerifyError::InsufficientScope {
            missing: vec!["a".into(), "c".into()]
        }
    );
    assert!(
        d.www_authenticate
            .clone()
            .unwrap()
            .contains(r#"scope="a c""#)
    );
    let token = signer().token(&claims_with(json!({"scope": "c x b a"})));
    assert!(matches!(
        post_write(&config, &token),
        Decision::Allow { .. }
    ));
}

#[test]
fn a_valid_token_with_the_scope_is_allowed_with_its_identity() {
    let config = config();
    let decision = post_write(&config, &write_token());
    let expected = Identity {
        subject: "svc.warehouse".into(),
        client_id: Some("warehouse".into()),
        scope: "instruments:read instruments:write".into(),
        issuer: ISSUER.into(),
        profile: None,
        delegation: None,
    };
    assert_eq!(
        decision,
        Decision::Allow {
            identity: Some(std::sync::Arc::new(expected.clone())),
            strip_authorization: true
        }
    );
    assert_eq!(
        expected.headers(),
        [
            ("x-auth-subject", "svc.warehouse"),
            ("x-auth-client-id", "warehouse"),
            ("x-auth-scope", "instruments:read instruments:write"),
            ("x-auth-issuer", ISSUER),
        ]
    );
    for (name, _) in expected.headers() {
        assert!(IDENTITY_HEADERS.contains(&name));
    }
}

#[test]
fn authorization_is_forwarded_only_when_the_provider_says_so() {
    let config = config();
    let token = bearer(&read_token());
    assert!(matches!(
        decide_ready(&config, "GET", "/forwarded/x", Some(&token)),
        Decision::Allow {
            identity: Some(_),
            strip_authorization: false
        }
    ));
    assert!(matches!(
        decide_ready(&config, "GET", "/api/x", Some(&token)),
        Decision::Allow {
            identity: Some(_),
            strip_authorization: true
        }
    ));
}

#[test]
fn identity_of_a_third_party_token_without_client_id() {
    let mut c = config_json_for_decisions();
    c["providers"][PROVIDER]["typ"] = json!(null);
    let config = parse_config(&c);
    let minimal = json!({"iss": ISSUER, "aud": AUDIENCE, "exp": NOW + 300});
    let token = signer().token_with(
        &json!({"alg": "ES256", "kid": "es256-1", "typ": "JWT"}),
        &minimal,
    );
    let Decision::Allow {
        identity: Some(identity),
        ..
    } = decide_ready(&config, "GET", "/api", Some(&bearer(&token)))
    else {
        panic!("expected allow");
    };
    assert_eq!(
        *identity,
        Identity {
            subject: String::new(),
            client_id: None,
            scope: String::new(),
            issuer: ISSUER.into(),
            profile: None,
            delegation: None,
        }
    );
    assert!(
        identity
            .headers()
            .iter()
            .all(|(name, _)| *name != "x-auth-client-id")
    );
}

// ---------------------------------------------------------------------------------------------
// Rules

#[test]
fn a_public_rule_allows_without_identity_and_without_checking() {
    let config = config();
    let expired = signer().token(&claims_with(
        json!({"exp": NOW - 3_600, "iat": NOW - 7_200}),
    ));
    for authorization in [
        None,
        Some("garbage".to_string()),
        Some(bearer("garbage")),
        Some(bearer(&expired)),
        Some(bearer(&read_token())),
    ] {
        let decision = decide_ready(&config, "GET", "/health", authorization.as_deref());
        // Nobody verified the caller's Authorization header, so by default it does not go upstream.
        assert!(
            matches!(
                decision,
                Decision::Allow {
                    identity: None,
                    strip_authorization: true
                }
            ),
            "{authorization:?}: {decision:?}"
        );
    }
    // Even with keys unavailable: nothing is checked.
    let keys = TestKeys {
        unavailable: vec![PROVIDER],
        ..TestKeys::ready(&config)
    };
    assert!(matches!(
        decide(&config, &keys, &request("GET", "/health", None), NOW),
        Decision::Allow { identity: None, .. }
    ));
    // The twin: the exact path only; /health/deep is not public (and no other rule matches).
    let d = denial(decide_ready(&config, "GET", "/health/deep", None));
    assert_eq!(d.error.code(), "no_matching_rule");
}

#[test]
fn a_public_rule_forwards_authorization_only_when_it_says_so() {
    let forwarding = Config::parse(
        json!({
            "providers": {"p": {"issuer": "https://issuer.test", "audiences": ["a"],
                "local_jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}}},
            "rules": [{"match": {"prefix": "/login"}, "public": true, "forward": true}]
        })
        .to_string()
        .as_bytes(),
    )
    .expect("config");
    let keys = TestKeys::ready(&forwarding);
    let decision = decide(
        &forwarding,
        &keys,
        &request("GET", "/login", Some("Basic x")),
        NOW,
    );
    assert!(matches!(
        decision,
        Decision::Allow {
            identity: None,
            strip_authorization: false
        }
    ));
    // `forward` on a rule that requires a token is a configuration error: the provider decides.
    let err = Config::parse(
        br#"{"providers": {"p": {"issuer": "i", "audiences": ["a"], "remote_jwks": {"cluster": "c", "path": "/j"}}},
             "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "p"}, "forward": true}]}"#,
    )
    .unwrap_err();
    assert_eq!(err.path, "rules[0].forward");
}

#[test]
fn no_matching_rule_is_403_even_with_a_valid_token() {
    let config = config();
    for path in [
        "/",
        "/other",
        "/API",
        "/Health",
        "",
        "other/api",
        "/other?/api",
    ] {
        let d = denial(decide_ready(
            &config,
            "GET",
            path,
            Some(&bearer(&write_token())),
        ));
        assert_eq!(d.status, 403, "{path:?}");
        assert_eq!(d.error.code(), "no_matching_rule");
        assert_eq!(d.www_authenticate, None);
        assert_eq!(body(&d)["code"], "no_matching_rule");
        assert_eq!(body(&d)["error"], "access_denied");
    }
}

#[test]
fn the_first_matching_rule_wins() {
    let config = config();
    let read = bearer(&read_token());
    // POST to the write endpoint: the method-specific rule decides, before the /api catch-all.
    let d = denial(post_write(&config, &read_token()));
    assert_eq!(d.error.code(), "insufficient_scope");
    // Another method falls through to /api, which needs no scope.
    for method in ["GET", "PUT", "post", "HEAD"] {
        let decision = decide_ready(
            &config,
            method,
            "/api/v1/entities/register-bulk",
            Some(&read),
        );
        assert!(
            matches!(
                decision,
                Decision::Allow {
                    identity: Some(_),
                    ..
                }
            ),
            "{method}"
        );
    }
    // With the catch-all first, it wins instead.
    let mut c = config_json_for_decisions();
    let rules = c["rules"].as_array_mut().unwrap();
    let catch_all = rules.pop().unwrap();
    rules.insert(0, catch_all);
    let reordered = parse_config(&c);
    let decision = post_write(&reordered, &read_token());
    assert!(matches!(
        decision,
        Decision::Allow {
            identity: Some(_),
            ..
        }
    ));
}

#[test]
fn query_strings_are_ignored_for_matching() {
    let config = config();
    let read = bearer(&read_token());
    let d = denial(decide_ready(
        &config,
        "POST",
        "/api/v1/entities/register-bulk?dry_run=1",
        Some(&read),
    ));
    assert_eq!(d.error.code(), "insufficient_scope");
    let d = denial(decide_ready(
        &config,
        "POST",
        "/api/v1/entities/register-bulk#frag",
        Some(&read),
    ));
    assert_eq!(d.error.code(), "insufficient_scope");
    assert!(matches!(
        decide_ready(&config, "GET", "/health?verbose=1", None),
        Decision::Allow { identity: None, .. }
    ));
    assert!(matches!(
        decide_ready(&config, "GET", "/health?", None),
        Decision::Allow { identity: None, .. }
    ));
    // A query string cannot make a path match.
    let d = denial(decide_ready(&config, "GET", "/x?/health", None));
    assert_eq!(d.error.code(), "no_matching_rule");
}

// ---------------------------------------------------------------------------------------------
// Keys not (yet) available

fn keys_with<'c>(
    config: &'c Config,
    pending: &[&'static str],
    unavailable: &[&'static str],
) -> TestKeys<'c> {
    TestKeys {
        pending: pending.to_vec(),
        unavailable: unavailable.to_vec(),
        ..TestKeys::ready(config)
    }
}

#[test]
fn pending_keys_make_a_well_formed_token_wait() {
    let config = config();
    let keys = keys_with(&config, &[PROVIDER], &[]);
    let decision = decide(
        &config,
        &keys,
        &request("GET", "/api", Some(&bearer(&read_token()))),
        NOW,
    );
    assert_eq!(
        decision,
        Decision::Wait {
            provider: PROVIDER.into(),
            awaiting: Awaiting::Keys,
        }
    );
    // Only the provider the rule needs is waited for.
    let decision = decide(
        &config,
        &keys,
        &request("GET", "/forwarded", Some(&bearer(&read_token()))),
        NOW,
    );
    assert!(matches!(
        decision,
        Decision::Allow {
            identity: Some(_),
            ..
        }
    ));
    let keys = keys_with(&config, &["fwd"], &[]);
    let decision = decide(
        &config,
        &keys,
        &request("GET", "/forwarded", Some(&bearer(&read_token()))),
        NOW,
    );
    assert_eq!(
        decision,
        Decision::Wait {
            provider: "fwd".into(),
            awaiting: Awaiting::Keys,
        }
    );
}

#[test]
fn pending_keys_never_make_garbage_wait() {
    let config = config();
    let keys = keys_with(&config, &[PROVIDER], &[]);
    let mut with_jku = signer().header();
    with_jku["jku"] = json!("https://evil.test/");
    for (token, code) in [
        ("garbage".to_string(), "token_malformed"),
        ("a.b".to_string(), "token_malformed"),
        ("x".repeat(10_000), "token_too_large"),
        (
            signer().token_with(&json!({"alg": "none", "typ": "at+jwt"}), &claims()),
            "alg_not_allowed",
        ),
        (
            signer().token_with(
                &json!({"alg": "ES256", "typ": "JWT", "kid": "es256-1"}),
                &claims(),
            ),
            "typ_invalid",
        ),
        (
            signer().token_with(&with_jku, &claims()),
            "header_forbidden",
        ),
    ] {
        let d = denial(decide(
            &config,
            &keys,
            &request("GET", "/api", Some(&bearer(&token))),
            NOW,
        ));
        assert_eq!((d.status, d.error.code()), (401, code));
    }
    // No token at all: 401 at once too.
    let d = denial(decide(&config, &keys, &request("GET", "/api", None), NOW));
    assert_eq!(d.error.code(), "token_missing");
}

#[test]
fn unavailable_keys_are_503_never_a_pass() {
    let config = config();
    let keys = keys_with(&config, &[], &[PROVIDER]);
    let d = denial(decide(
        &config,
        &keys,
        &request("GET", "/api", Some(&bearer(&read_token()))),
        NOW,
    ));
    assert_eq!(d.status, 503);
    assert_eq!(
        d.error,
        VerifyError::JwksUnavailable {
            provider: PROVIDER.into()
        }
    );
    assert_eq!(d.www_authenticate, None);
    assert_eq!(body(&d)["code"], "jwks_unavailable");
    assert_eq!(body(&d)["error"], "temporarily_unavailable");
    // A malformed token is still a 401: the token is judged before the keys are needed.
    let d = denial(decide(
        &config,
        &keys,
        &request("GET", "/api", Some("Bearer garbage")),
        NOW,
    ));
    assert_eq!((d.status, d.error.code()), (401, "token_malformed"));
}

#[test]
fn a_remote_provider_follows_its_shared_schedule() {
    // The host's view: ProviderKeys says Pending before the first answer, Unavailable after a
    // failure, Ready with keys, and Unavailable again once the stale period is over.
    struct Refreshing<'r>(&'r ProviderKeys);
    impl Keys for Refreshing<'_> {
        fn state(&self, _provider: &str) -> KeyState<'_> {
            self.0.state()
        }
    }
    let config = parse_config(&json!({
        "providers": {"idp": {"issuer": ISSUER, "audiences": [AUDIENCE],
            "remote_jwks": {"cluster": "idp", "path": "/jwks", "max_stale_seconds": 60}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}],
    }));
    let remote = config.remote_providers().next().unwrap().1;
    let policy = RefreshPolicy::from_remote(remote);
    let refresh_ms = remote.refresh_seconds * 1_000;
    let mut vm = ProviderKeys::new(policy);
    let mut shared = Schedule::default();
    let token = bearer(&read_token());
    let req = request("GET", "/x", Some(&token));
    let wait = Decision::Wait {
        provider: "idp".into(),
        awaiting: Awaiting::Keys,
    };

    assert_eq!(decide(&config, &Refreshing(&vm), &req, NOW), wait);
    assert!(shared.take_lease(7, 0, &policy));
    let _ = vm.sync(shared, None, 0);
    assert_eq!(decide(&config, &Refreshing(&vm), &req, NOW), wait);
    shared.on_failure(10, &policy);
    let _ = vm.sync(shared, None, 10);
    assert_eq!(
        denial(decide(&config, &Refreshing(&vm), &req, NOW)).status,
        503
    );
    assert!(shared.take_lease(7, 10_000, &policy));
    shared.on_success(10_100, None, true, &policy);
    let keys = Jwks::parse(jwks(&[signer().jwk()]).as_bytes()).unwrap();
    assert!(vm.sync(shared, Some(keys), 10_100).keys_changed);
    assert!(matches!(
        decide(&config, &Refreshing(&vm), &req, NOW),
        Decision::Allow {
            identity: Some(_),
            ..
        }
    ));
    // Later refreshes fail: the keys serve through the stale period, then the provider fails
    // closed.
    let stale_at = 10_100 + refresh_ms;
    shared.on_failure(stale_at, &policy);
    let _ = vm.sync(shared, None, stale_at);
    assert_eq!(vm.freshness(), Freshness::Stale);
    assert!(matches!(
        decide(&config, &Refreshing(&vm), &req, NOW),
        Decision::Allow { .. }
    ));
    assert!(vm.sync(shared, None, stale_at + 60_000).expired);
    assert_eq!(
        denial(decide(&config, &Refreshing(&vm), &req, NOW))
            .error
            .code(),
        "jwks_unavailable"
    );
}

// ---------------------------------------------------------------------------------------------
// What an attacker can put in the response

/// A challenge is safe when it is printable ASCII and its quotes are only the delimiters of
/// its `expected_params` quoted-string parameters.
fn assert_safe_challenge(challenge: &str, expected_params: usize) {
    assert!(
        challenge.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "{challenge:?}"
    );
    assert_eq!(
        challenge.matches('"').count(),
        2 * expected_params,
        "{challenge:?}"
    );
    let description = challenge
        .split("error_description=\"")
        .nth(1)
        .expect("has a description");
    let description = description.split('"').next().unwrap();
    assert!(!description.contains('\\'), "{challenge:?}");
}

#[test]
fn error_descriptions_never_carry_quotes_or_line_breaks_from_the_token() {
    let config = config();
    let evil = "evil\"\r\nx-injected: 1\\\"; error=\"none\u{2028}\u{0}é";
    let mut bad_kid = signer().header();
    bad_kid["kid"] = json!(evil);
    let mut bad_typ = signer().header();
    bad_typ["typ"] = json!(evil);
    let mut bad_alg = signer().header();
    bad_alg["alg"] = json!(evil);
    for (token, code) in [
        (
            signer().token(&claims_with(json!({ "iss": evil }))),
            "issuer_mismatch",
        ),
        (signer().token_with(&bad_kid, &claims()), "kid_unknown"),
        (signer().token_with(&bad_typ, &claims()), "typ_invalid"),
        (signer().token_with(&bad_alg, &claims()), "alg_not_allowed"),
        (
            signer().token(&claims_with(json!({ "sub": evil }))),
            "claim_invalid",
        ),
    ] {
        let d = denial(decide_ready(&config, "GET", "/api", Some(&bearer(&token))));
        assert_eq!(d.error.code(), code);
        assert_safe_challenge(&d.www_authenticate.clone().unwrap(), 3);
        // The body is JSON, whatever the message holds.
        assert_eq!(body(&d)["code"], code);
    }
}

#[test]
fn the_scope_parameter_is_safe_too() {
    let config = config();
    let d = denial(post_write(&config, &read_token()));
    assert_safe_challenge(&d.www_authenticate.clone().unwrap(), 4);
}

#[test]
fn a_hostile_request_path_stays_out_of_headers_and_breaks_no_json() {
    let config = config();
    let path = "/nope\"\r\n<script>\u{0}é";
    let d = denial(decide_ready(&config, "GET", path, None));
    assert_eq!(d.error.code(), "no_matching_rule");
    assert_eq!(d.www_authenticate, None);
    assert_eq!(body(&d)["code"], "no_matching_rule");
}

#[test]
fn the_realm_is_configurable() {
    let mut c = config_json_for_decisions();
    c["realm"] = json!("quant journey");
    let config = parse_config(&c);
    let d = denial(decide_ready(&config, "GET", "/api", None));
    assert_eq!(
        d.www_authenticate.as_deref(),
        Some(r#"Bearer realm="quant journey""#)
    );
    let d = denial(decide_ready(&config, "GET", "/api", Some("Bearer x.y.z")));
    assert!(
        d.www_authenticate
            .clone()
            .unwrap()
            .starts_with(r#"Bearer realm="quant journey", error="invalid_token""#)
    );
}

#[test]
fn decisions_use_the_given_clock() {
    let config = config();
    let token = bearer(&read_token());
    let keys = TestKeys::ready(&config);
    let at = |now| decide(&config, &keys, &request("GET", "/api", Some(&token)), now);
    assert!(matches!(at(NOW), Decision::Allow { .. }));
    assert_eq!(denial(at(NOW + 290 + 60)).error.code(), "token_expired");
    assert_eq!(denial(at(NOW - 10 - 61)).error.code(), "iat_in_future");
}

#[test]
fn denials_say_who_the_token_claimed_to_be_only_once_its_signature_held() {
    let config = config();
    let keys = TestKeys::ready(&config);
    let expired = claims_with(json!({"exp": NOW - 3_600, "iat": NOW - 3_900}));
    let token = bearer(&signer().token(&expired));
    let d = denial(decide(
        &config,
        &keys,
        &request("GET", "/api", Some(&token)),
        NOW,
    ));
    assert_eq!(d.error.code(), "token_expired");
    assert_eq!(d.facts.kid.as_deref(), Some(signer().kid.as_str()));
    assert_eq!(d.facts.iss.as_deref(), claims()["iss"].as_str());
    assert_eq!(d.facts.sub.as_deref(), claims()["sub"].as_str());

    // A forged token's claims are the forger's words: only its kid is reported.
    let forger = Signer::es256(2).with_kid(&signer().kid);
    let forged = bearer(&forger.token(&claims_with(json!({"sub": "svc.admin\nINJECTED"}))));
    let d = denial(decide(
        &config,
        &keys,
        &request("GET", "/api", Some(&forged)),
        NOW,
    ));
    assert_eq!(d.error.code(), "signature_invalid");
    assert_eq!(d.facts.kid.as_deref(), Some(signer().kid.as_str()));
    assert_eq!((d.facts.iss, d.facts.sub), (None, None));
}

#[test]
fn denials_report_the_kid_the_token_named_not_the_kid_of_the_key_that_verified_it() {
    let config = config();
    let mut header = signer().header();
    header
        .as_object_mut()
        .expect("a header object")
        .remove("kid");
    // The provider's one key verifies a token that names no kid; the scope is missing.
    let token = signer().token_with(&header, &claims());
    let d = denial(post_write(&config, &token));
    assert_eq!(d.error.code(), "insufficient_scope");
    assert_eq!(d.facts.kid, None);
    assert_eq!(d.facts.sub.as_deref(), claims()["sub"].as_str());
}
