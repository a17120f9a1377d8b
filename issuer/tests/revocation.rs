//! Revocation (RFC 7009) and introspection (RFC 7662).

mod common;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ISSUER, START, TestIssuer, keys_of, segment};
use issuer::access_token::AccessTokenClaims;
use jwt_simple::prelude::*;

#[tokio::test]
async fn revoke_then_introspect_round_trip() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.rv", "read write").await;
    let token = t.token("svc.rv", &secret, "&scope=read").await;
    let claims = segment(&token, 1);

    let active = t.introspect(&token, "svc.rv", &secret).await;
    assert_eq!(
        keys_of(&active),
        [
            "active",
            "aud",
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "scope",
            "sub",
            "sub_profile",
            "token_type"
        ]
    );
    assert_eq!(active["sub_profile"], "service");
    assert_eq!(active["active"], true);
    assert_eq!(active["iss"], ISSUER);
    assert_eq!(active["sub"], "svc.rv");
    assert_eq!(active["aud"], "quantjourney");
    assert_eq!(active["client_id"], "svc.rv");
    assert_eq!(active["scope"], "read");
    assert_eq!(active["iat"], START);
    assert_eq!(active["exp"], START + 300);
    assert_eq!(active["jti"], claims["jti"]);
    assert_eq!(active["token_type"], "Bearer");

    let revoked = t
        .post_form(
            "/oauth/revoke",
            &format!("token={token}&token_type_hint=access_token"),
            Some(("svc.rv", &secret)),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.header("cache-control"), Some("no-store"));

    let inactive = t.introspect(&token, "svc.rv", &secret).await;
    assert_eq!(inactive, serde_json::json!({"active": false}));

    // Revoking again is fine.
    let again = t
        .post_form(
            "/oauth/revoke",
            &format!("token={token}"),
            Some(("svc.rv", &secret)),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);

    // Other tokens of the same client are unaffected.
    let other = t.token("svc.rv", &secret, "").await;
    assert_eq!(
        t.introspect(&other, "svc.rv", &secret).await["active"],
        true
    );
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let t = TestIssuer::new().await;
    let owner = t.client("svc.owner", "read").await;
    let other = t.client("svc.other", "read").await;
    let token = t.token("svc.owner", &owner, "").await;
    let reply = t
        .post_form(
            "/oauth/revoke",
            &format!("token={token}"),
            Some(("svc.other", &other)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "unauthorized_client");
    // Any authenticated client (a resource server, say) may introspect.
    assert_eq!(
        t.introspect(&token, "svc.other", &other).await["active"],
        true
    );
}

#[tokio::test]
async fn unknown_tokens_revoke_with_200_and_introspect_inactive() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.u", "read").await;
    for junk in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        let reply = t
            .post_form(
                "/oauth/revoke",
                &format!("token={junk}"),
                Some(("svc.u", &secret)),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{junk}");
        assert_eq!(
            t.introspect(junk, "svc.u", &secret).await,
            serde_json::json!({"active": false})
        );
    }
    let missing = t
        .post_form("/oauth/revoke", "", Some(("svc.u", &secret)))
        .await;
    assert_eq!(missing.json()["error"], "invalid_request");
    let missing = t
        .post_form("/oauth/introspect", "", Some(("svc.u", &secret)))
        .await;
    assert_eq!(missing.json()["error"], "invalid_request");
}

#[tokio::test]
async fn introspection_and_revocation_require_client_authentication() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.c", "read").await;
    let token = t.token("svc.c", &secret, "").await;
    for path in ["/oauth/introspect", "/oauth/revoke"] {
        let anonymous = t.post_form(path, &format!("token={token}"), None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(anonymous.json()["error"], "invalid_client");
        let wrong = t
            .post_form(path, &format!("token={token}"), Some(("svc.c", "nope")))
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(t.introspect(&token, "svc.c", &secret).await["active"], true);
}

#[tokio::test]
async fn expired_tampered_and_foreign_tokens_are_inactive() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.t", "read").await;
    let token = t.token("svc.t", &secret, "").await;

    // Widen the scope in the payload and keep the signature: it no longer matches.
    let mut claims = segment(&token, 1);
    claims["scope"] = "read admin".into();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = parts.join(".");
    assert_eq!(
        t.introspect(&tampered, "svc.t", &secret).await["active"],
        false
    );

    // Same claims and kid, signed by a key that is not ours.
    let kid = segment(&token, 0)["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let foreign = ES256KeyPair::generate().with_key_id(&kid);
    let custom = AccessTokenClaims {
        client_id: "svc.t".into(),
        scope: "read".into(),
        sub_profile: "service".into(),
        act: None,
        ancestor_jtis: Vec::new(),
    };
    let mut claims = Claims::with_custom_claims(custom, Duration::from_secs(300))
        .with_issuer(ISSUER)
        .with_subject("svc.t")
        .with_audience("quantjourney")
        .with_jwt_id("forged");
    claims.issued_at = Some(UnixTimeStamp::from_secs(START));
    claims.expires_at = Some(UnixTimeStamp::from_secs(START + 300));
    claims.invalid_before = None;
    let options = HeaderOptions {
        signature_type: Some("at+jwt".into()),
        ..Default::default()
    };
    let forged = foreign.sign_with_options(claims, &options).expect("sign");
    assert_eq!(
        t.introspect(&forged, "svc.t", &secret).await["active"],
        false
    );

    // Valid until one second before exp, inactive at exp (RFC 7519 §4.1.4).
    t.clock.advance(299);
    assert_eq!(t.introspect(&token, "svc.t", &secret).await["active"], true);
    t.clock.advance(1);
    assert_eq!(
        t.introspect(&token, "svc.t", &secret).await["active"],
        false
    );
}

#[tokio::test]
async fn expired_revocations_are_purged() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.p", "read").await;
    let creds = Some(("svc.p", secret.as_str()));
    let first = t.token("svc.p", &secret, "").await;
    let first_jti = segment(&first, 1)["jti"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    t.post_form("/oauth/revoke", &format!("token={first}"), creds)
        .await;
    assert!(t.state.store.is_revoked(&first_jti).await.expect("query"));

    t.clock.advance(300);
    let second = t.token("svc.p", &secret, "").await;
    t.post_form("/oauth/revoke", &format!("token={second}"), creds)
        .await;
    assert!(
        !t.state.store.is_revoked(&first_jti).await.expect("query"),
        "expired row purged"
    );
    let second_jti = segment(&second, 1)["jti"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(t.state.store.is_revoked(&second_jti).await.expect("query"));
}

#[tokio::test]
async fn the_revocation_feed_lists_revoked_tokens_and_clients_until_they_expire() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.feed", "read").await;
    let token = t.token("svc.feed", &secret, "").await;
    let jti = segment(&token, 1)["jti"].clone();

    let empty = t.get(t.public(), "/oauth/revocations").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.header("cache-control"), Some("no-cache"));
    assert_eq!(
        empty.json(),
        serde_json::json!({"iss": ISSUER, "generated_at": START, "tokens": [], "clients": []})
    );

    let revoked = t
        .post_form(
            "/oauth/revoke",
            &format!("token={token}"),
            Some(("svc.feed", &secret)),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    t.state
        .store
        .revoke_client("svc.other", START + 1, START + 1 + 300 + 60)
        .await
        .expect("revoke client");

    t.clock.advance(10);
    let feed = t.get(t.public(), "/oauth/revocations").await.json();
    assert_eq!(
        feed["tokens"],
        serde_json::json!([{"jti": jti, "exp": START + 300}])
    );
    assert_eq!(
        feed["clients"],
        serde_json::json!([{"client_id": "svc.other", "revoked_before": START + 1}])
    );

    // Once every token concerned has expired, the entries leave the feed.
    t.clock.advance(300 + 60);
    let feed = t.get(t.public(), "/oauth/revocations").await.json();
    assert_eq!(feed["tokens"], serde_json::json!([]));
    assert_eq!(feed["clients"], serde_json::json!([]));

    let metadata = t
        .get(t.public(), "/.well-known/oauth-authorization-server")
        .await
        .json();
    assert_eq!(
        metadata["revocation_feed_endpoint"],
        format!("{ISSUER}/oauth/revocations")
    );
}
