//! Client authentication beyond secrets: `private_key_jwt` (RFC 7523) with replay protection,
//! and the throttling of failed attempts, which never tells a known client from an unknown one.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ISSUER, START, TestIssuer, segment};
use issuer::clients::{
    self, Audience, ClientId, ClientKind, NewClient, Throttle, ThrottlePolicy, Ttl,
};
use issuer::scope::Scope;
use jwt_simple::prelude::*;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client key pair and its public JWKS.
fn client_key() -> (ES256KeyPair, String) {
    let key = ES256KeyPair::generate();
    let point = key.public_key().public_key().to_bytes_uncompressed();
    let (x, y) = point[1..].split_at(32);
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
    }]});
    (key, jwks.to_string())
}

/// An assertion by `client` for `audience`, issued at START, valid 60 s.
fn assertion(key: &ES256KeyPair, client: &str, audience: &str, jti: &str) -> String {
    let claims = JWTClaims {
        issued_at: Some(UnixTimeStamp::from_secs(START)),
        expires_at: Some(UnixTimeStamp::from_secs(START + 60)),
        invalid_before: None,
        issuer: Some(client.to_owned()),
        subject: Some(client.to_owned()),
        audiences: Some(Audiences::AsString(audience.to_owned())),
        jwt_id: Some(jti.to_owned()),
        nonce: None,
        custom: NoCustomClaims {},
    };
    key.sign(claims).expect("sign")
}

async fn register_jwt_client(t: &TestIssuer, id: &str, jwks: &str) {
    let new = NewClient {
        id: ClientId::parse(id).expect("id"),
        kind: ClientKind::Service,
        scope: Scope::parse("read").expect("scope"),
        audience: Audience::parse("quantjourney").expect("aud"),
        ttl: Ttl::try_from(300).expect("ttl"),
    };
    clients::register_with_jwks(&t.state.store, new, jwks, START)
        .await
        .expect("register");
}

fn assertion_form(assertion: &str) -> String {
    format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}",
        ASSERTION_TYPE.replace(':', "%3A")
    )
}

#[tokio::test]
async fn a_private_key_jwt_client_gets_a_token_and_each_assertion_works_once() {
    let t = TestIssuer::new().await;
    let (key, jwks) = client_key();
    register_jwt_client(&t, "svc.keyed", &jwks).await;

    let signed = assertion(&key, "svc.keyed", ISSUER, "a-1");
    let reply = t
        .post_form("/oauth/token", &assertion_form(&signed), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
    let token = reply.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(segment(&token, 1)["sub"], "svc.keyed");
    assert_eq!(segment(&token, 1)["client_id"], "svc.keyed");

    // The same assertion again is a replay.
    let replay = t
        .post_form("/oauth/token", &assertion_form(&signed), None)
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.json()["error"], "invalid_client");

    // A fresh jti works; a matching client_id parameter is allowed.
    let fresh = assertion(&key, "svc.keyed", ISSUER, "a-2");
    let body = format!("{}&client_id=svc.keyed", assertion_form(&fresh));
    assert_eq!(
        t.post_form("/oauth/token", &body, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn assertions_for_another_audience_key_or_client_are_refused_alike() {
    let t = TestIssuer::new().await;
    let (key, jwks) = client_key();
    register_jwt_client(&t, "svc.keyed", &jwks).await;
    let secret = t.client("svc.secret", "read").await;
    let (stranger, _) = client_key();

    let cases = [
        (
            "the token endpoint is not the audience",
            assertion(&key, "svc.keyed", &format!("{ISSUER}/oauth/token"), "b-1"),
        ),
        (
            "another key",
            assertion(&stranger, "svc.keyed", ISSUER, "b-2"),
        ),
        (
            "a secret client has no keys",
            assertion(&key, "svc.secret", ISSUER, "b-3"),
        ),
        (
            "an unknown client",
            assertion(&key, "svc.nobody", ISSUER, "b-4"),
        ),
        ("not a JWT", "not.a.jwt".to_owned()),
    ];
    for (case, signed) in cases {
        let reply = t
            .post_form("/oauth/token", &assertion_form(&signed), None)
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(
            reply.json(),
            serde_json::json!({"error": "invalid_client", "error_description": "client authentication failed"}),
            "{case}"
        );
    }

    // A keyed client has no secret to guess; its id with any secret fails like any other.
    let reply = t
        .post_form(
            "/oauth/token",
            "grant_type=client_credentials",
            Some(("svc.keyed", "")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // Two methods at once are refused before anything is checked.
    let signed = assertion(&key, "svc.keyed", ISSUER, "b-5");
    let reply = t
        .post_form(
            "/oauth/token",
            &assertion_form(&signed),
            Some(("svc.secret", &secret)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

/// A throttle with the production counts but millisecond delays, so the test does not sleep.
fn quick_throttle() -> Arc<Throttle> {
    let quick = |policy: ThrottlePolicy| ThrottlePolicy {
        base_delay_ms: 1,
        max_delay_ms: 2,
        ..policy
    };
    Arc::new(Throttle::with_policies(
        quick(ThrottlePolicy::default()),
        quick(ThrottlePolicy::for_addresses()),
    ))
}

/// The status of each of `n` attempts with a wrong secret for `id`.
async fn fail(t: &TestIssuer, id: &str, n: usize) -> Vec<(StatusCode, Option<String>)> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let reply = t
            .post_form(
                "/oauth/token",
                "grant_type=client_credentials",
                Some((id, "wrong")),
            )
            .await;
        seen.push((reply.status, reply.header("retry-after").map(str::to_owned)));
    }
    seen
}

#[tokio::test]
async fn repeated_failures_lock_a_client_out_for_a_while_known_or_not() {
    let mut t = TestIssuer::new().await;
    t.state.throttle = quick_throttle();
    let secret = t.client("svc.target", "read").await;

    let known = fail(&t, "svc.target", 11).await;
    let unknown = fail(&t, "svc.ghost", 11).await;
    assert_eq!(
        known, unknown,
        "a known and an unknown id are treated alike"
    );
    assert!(
        known[..10]
            .iter()
            .all(|(status, _)| *status == StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        known[10],
        (StatusCode::TOO_MANY_REQUESTS, Some("300".to_owned()))
    );

    // While locked out even the right secret is refused, without being checked.
    let locked = t
        .post_form(
            "/oauth/token",
            "grant_type=client_credentials",
            Some(("svc.target", &secret)),
        )
        .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.json()["error"], "invalid_client");

    // Another client from the same address is not punished for its neighbour.
    let other = t.client("svc.neighbour", "read").await;
    t.token("svc.neighbour", &other, "").await;

    // The lockout ends.
    t.clock.advance(300);
    t.token("svc.target", &secret, "").await;
}

#[tokio::test]
async fn failed_authentications_are_audited_without_secrets() {
    let t = TestIssuer::new().await;
    t.client("svc.audited", "read").await;
    fail(&t, "svc.audited", 1).await;
    fail(&t, "bad id with spaces", 1).await;
    let records = common::audit_records(&t).await;
    let failures: Vec<_> = records
        .iter()
        .filter(|r| r["action"] == "client.auth_failed")
        .collect();
    assert_eq!(failures.len(), 2, "{records:?}");
    assert_eq!(failures[0]["actor"], "svc.audited");
    assert_eq!(failures[0]["outcome"], "failure");
    assert_eq!(failures[0]["detail"]["reason"], "invalid_credentials");
    assert_eq!(
        failures[1]["actor"], "unknown",
        "raw input is never recorded"
    );
    let text = serde_json::to_string(&records).unwrap_or_default();
    assert!(
        !text.contains("wrong"),
        "the attempted secret is not recorded"
    );
}
