//! `POST /oauth/token`: authentication methods, the token's exact shape, scope narrowing, errors.

mod common;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ISSUER, START, TestIssuer, keys_of, segment};
use issuer::access_token::AccessTokenClaims;
use issuer::keys::SigningAlg;
use jwt_simple::prelude::*;
use serde_json::Value;

/// The published JWK with `kid`, as JSON text.
async fn published_jwk(t: &TestIssuer, kid: &str) -> Value {
    let jwks = t.get(t.public(), "/.well-known/jwks.json").await.json();
    jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .cloned()
        .unwrap_or(Value::Null)
}

/// RFC 7638 thumbprint of a published JWK, via verifier-core.
fn thumbprint(jwk: &Value) -> String {
    let s = |name: &str| jwk[name].as_str().unwrap_or_default().to_owned();
    let members = match jwk["kty"].as_str() {
        Some("EC") => verifier_core::PublicJwk::Ec {
            crv: s("crv"),
            x: s("x"),
            y: s("y"),
        },
        Some("OKP") => verifier_core::PublicJwk::Okp {
            crv: s("crv"),
            x: s("x"),
        },
        _ => verifier_core::PublicJwk::Rsa {
            n: s("n"),
            e: s("e"),
        },
    };
    members.thumbprint()
}

fn options() -> VerificationOptions {
    VerificationOptions {
        required_signature_type: Some("at+jwt".into()),
        allowed_issuers: Some(HashSet::from_strings(&[ISSUER])),
        allowed_audiences: Some(HashSet::from_strings(&["quantjourney"])),
        time_tolerance: Some(Duration::from_secs(0)),
        artificial_time: Some(UnixTimeStamp::from_secs(START)),
        ..VerificationOptions::default()
    }
}

/// Verifies `token` with jwt-simple against the key the issuer publishes for its `kid`.
async fn verify_with_jwks(t: &TestIssuer, token: &str) -> JWTClaims<AccessTokenClaims> {
    let kid = segment(token, 0)["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let jwk = published_jwk(t, &kid).await;
    assert_eq!(jwk["kid"], kid.as_str(), "the token's kid is published");
    assert_eq!(thumbprint(&jwk), kid, "kid is the RFC 7638 thumbprint");
    let text = jwk.to_string();
    let verified = match jwk["alg"].as_str() {
        Some("ES256") => {
            ES256PublicKey::from_jwk(&text).and_then(|k| k.verify_token(token, Some(options())))
        }
        Some("EdDSA") => {
            Ed25519PublicKey::from_jwk(&text).and_then(|k| k.verify_token(token, Some(options())))
        }
        Some("RS256") => {
            RS256PublicKey::from_jwk(&text).and_then(|k| k.verify_token(token, Some(options())))
        }
        other => panic!("unexpected alg {other:?}"),
    };
    verified.expect("token verifies against the published JWKS")
}

#[tokio::test]
async fn basic_auth_token_has_exactly_the_rfc9068_shape() {
    let t = TestIssuer::new().await;
    let secret = t
        .client("svc.warehouse", "instruments:read instruments:write")
        .await;
    let reply = t
        .post_form(
            "/oauth/token",
            "grant_type=client_credentials",
            Some(("svc.warehouse", &secret)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("pragma"), Some("no-cache"));
    let body = reply.json();
    assert_eq!(
        keys_of(&body),
        ["access_token", "expires_in", "scope", "token_type"]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "instruments:read instruments:write");
    let token = body["access_token"].as_str().unwrap_or_default();

    let header = segment(token, 0);
    assert_eq!(keys_of(&header), ["alg", "kid", "typ"]);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");

    let claims = segment(token, 1);
    assert_eq!(
        keys_of(&claims),
        [
            "aud",
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "scope",
            "sub",
            "sub_profile"
        ]
    );
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], "svc.warehouse");
    assert_eq!(claims["client_id"], "svc.warehouse");
    assert_eq!(claims["sub_profile"], "service");
    assert_eq!(claims["aud"], "quantjourney", "aud is a single string");
    assert_eq!(claims["iat"], START);
    assert_eq!(claims["exp"], START + 300);
    assert_eq!(claims["scope"], "instruments:read instruments:write");
    let jti = claims["jti"].as_str().unwrap_or_default();
    assert!(
        URL_SAFE_NO_PAD.decode(jti).map_or(0, |b| b.len()) >= 16,
        "jti carries 128+ bits"
    );

    let verified = verify_with_jwks(&t, token).await;
    assert_eq!(verified.subject.as_deref(), Some("svc.warehouse"));
    assert_eq!(verified.custom.client_id, "svc.warehouse");
}

#[tokio::test]
async fn post_auth_token_and_fresh_jti_each_time() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.a", "read").await;
    let body = format!("grant_type=client_credentials&client_id=svc.a&client_secret={secret}");
    let first = t.post_form("/oauth/token", &body, None).await;
    let second = t.post_form("/oauth/token", &body, None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(second.status, StatusCode::OK);
    let jti = |reply: &common::Reply| {
        let token = reply.json()["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        segment(&token, 1)["jti"].clone()
    };
    assert_ne!(jti(&first), jti(&second));
    let token = first.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    verify_with_jwks(&t, &token).await;
}

#[tokio::test]
async fn client_audience_and_ttl_are_honoured() {
    let t = TestIssuer::new().await;
    let secret = t.client_with("svc.b", "read", "orders-api", 60).await;
    let reply = t
        .post_form(
            "/oauth/token",
            "grant_type=client_credentials",
            Some(("svc.b", &secret)),
        )
        .await;
    assert_eq!(reply.json()["expires_in"], 60);
    let token = reply.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let claims = segment(&token, 1);
    assert_eq!(claims["aud"], "orders-api");
    assert_eq!(claims["exp"], START + 60);
}

#[tokio::test]
async fn eddsa_and_rs256_tokens_verify_against_the_jwks() {
    for alg in [SigningAlg::EdDsa, SigningAlg::Rs256] {
        let t = TestIssuer::with_alg(alg).await;
        let secret = t.client("svc.alg", "read").await;
        let token = t.token("svc.alg", &secret, "").await;
        assert_eq!(segment(&token, 0)["alg"], alg.as_str());
        let jwk = published_jwk(&t, segment(&token, 0)["kid"].as_str().unwrap_or_default()).await;
        let expected_members: &[&str] = match alg {
            SigningAlg::Rs256 => &["alg", "e", "kid", "kty", "n", "use"],
            _ => &["alg", "crv", "kid", "kty", "use", "x"],
        };
        assert_eq!(keys_of(&jwk), expected_members);
        verify_with_jwks(&t, &token).await;
    }
}

#[tokio::test]
async fn scope_narrows_but_never_widens() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.s", "read write admin").await;
    let creds = Some(("svc.s", secret.as_str()));

    let narrowed = t
        .post_form(
            "/oauth/token",
            "grant_type=client_credentials&scope=admin+read",
            creds,
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK);
    assert_eq!(narrowed.json()["scope"], "read admin");
    let token = narrowed.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(segment(&token, 1)["scope"], "read admin");

    for scope in ["read+delete", "delete", "", "read%09write", "re%22ad"] {
        let reply = t
            .post_form(
                "/oauth/token",
                &format!("grant_type=client_credentials&scope={scope}"),
                creds,
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "scope={scope}");
        assert_eq!(reply.json()["error"], "invalid_scope", "scope={scope}");
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
}

/// Status, headers (except Date) and body of a reply, for comparing two failures.
fn fingerprint(reply: &common::Reply) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| name.as_str() != "date")
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    headers.sort();
    (reply.status, headers, reply.body.clone())
}

#[tokio::test]
async fn wrong_secret_and_unknown_client_are_indistinguishable() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.real", "read").await;
    let form = "grant_type=client_credentials";

    let wrong = t
        .post_form("/oauth/token", form, Some(("svc.real", "not-the-secret")))
        .await;
    let unknown = t
        .post_form("/oauth/token", form, Some(("svc.ghost", &secret)))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["error"], "invalid_client");
    assert_eq!(
        wrong.header("www-authenticate"),
        Some("Basic realm=\"issuer\"")
    );
    assert_eq!(fingerprint(&wrong), fingerprint(&unknown));

    let wrong_post = t
        .post_form(
            "/oauth/token",
            &format!("{form}&client_id=svc.real&client_secret=nope"),
            None,
        )
        .await;
    let unknown_post = t
        .post_form(
            "/oauth/token",
            &format!("{form}&client_id=svc.ghost&client_secret={secret}"),
            None,
        )
        .await;
    assert_eq!(wrong_post.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_post.json()["error"], "invalid_client");
    assert_eq!(fingerprint(&wrong_post), fingerprint(&unknown_post));
}

#[tokio::test]
async fn grant_type_must_be_client_credentials() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.g", "read").await;
    let creds = Some(("svc.g", secret.as_str()));
    for (body, error) in [
        ("grant_type=password", "unsupported_grant_type"),
        (
            "grant_type=authorization_code&code=x",
            "unsupported_grant_type",
        ),
        ("scope=read", "invalid_request"),
    ] {
        let reply = t.post_form("/oauth/token", body, creds).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.json()["error"], error, "{body}");
        assert!(reply.json()["error_description"].is_string());
    }
}

#[tokio::test]
async fn exactly_one_authentication_method() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.m", "read").await;
    let both = t
        .post_form(
            "/oauth/token",
            &format!("grant_type=client_credentials&client_id=svc.m&client_secret={secret}"),
            Some(("svc.m", &secret)),
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(both.json()["error"], "invalid_request");

    let neither = t
        .post_form("/oauth/token", "grant_type=client_credentials", None)
        .await;
    assert_eq!(neither.status, StatusCode::UNAUTHORIZED);
    assert_eq!(neither.json()["error"], "invalid_client");

    let id_only = t
        .post_form(
            "/oauth/token",
            "grant_type=client_credentials&client_id=svc.m",
            None,
        )
        .await;
    assert_eq!(id_only.json()["error"], "invalid_client");
}

#[tokio::test]
async fn malformed_bodies_are_invalid_request_json() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.f", "read").await;
    let creds = Some(("svc.f", secret.as_str()));

    let repeated = t
        .post_form(
            "/oauth/token",
            "grant_type=client_credentials&grant_type=client_credentials",
            creds,
        )
        .await;
    assert_eq!(repeated.status, StatusCode::BAD_REQUEST);
    assert_eq!(repeated.json()["error"], "invalid_request");
    assert_eq!(repeated.header("content-type"), Some("application/json"));

    let request = axum::http::Request::post("/oauth/token")
        .header("content-type", "application/json")
        .header("authorization", common::basic_header("svc.f", &secret))
        .body(axum::body::Body::from(
            r#"{"grant_type":"client_credentials"}"#,
        ))
        .expect("request");
    let json_body = common::send(t.public(), request).await;
    assert_eq!(json_body.status, StatusCode::BAD_REQUEST);
    assert_eq!(json_body.json()["error"], "invalid_request");
    assert_eq!(json_body.header("cache-control"), Some("no-store"));

    let huge = format!(
        "grant_type=client_credentials&pad={}",
        "x".repeat(20 * 1024)
    );
    let too_large = t.post_form("/oauth/token", &huge, creds).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.json()["error"], "invalid_request");

    let bad_basic = axum::http::Request::post("/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", "Basic !!!not-base64")
        .body(axum::body::Body::from("grant_type=client_credentials"))
        .expect("request");
    let reply = common::send(t.public(), bad_basic).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "invalid_client");
}
