//! Discovery documents: RFC 8414 metadata (both paths) and the JWKS.

mod common;

use axum::http::StatusCode;
use common::{ISSUER, TestIssuer, keys_of};

#[tokio::test]
async fn metadata_names_every_endpoint() {
    let t = TestIssuer::new().await;
    let reply = t
        .get(t.public(), "/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(doc["token_endpoint"], format!("{ISSUER}/oauth/token"));
    assert_eq!(doc["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
    assert_eq!(doc["revocation_endpoint"], format!("{ISSUER}/oauth/revoke"));
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{ISSUER}/oauth/introspect")
    );
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!([
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!([]));
    let methods = serde_json::json!(["client_secret_basic", "client_secret_post"]);
    assert_eq!(doc["token_endpoint_auth_methods_supported"], methods);
    assert_eq!(doc["revocation_endpoint_auth_methods_supported"], methods);
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        methods
    );

    let openid = t.get(t.public(), "/.well-known/openid-configuration").await;
    assert_eq!(openid.status, StatusCode::OK);
    assert_eq!(openid.json(), doc);
}

#[tokio::test]
async fn jwks_keys_carry_alg_use_and_kid() {
    let t = TestIssuer::new().await;
    let reply = t.get(t.public(), "/.well-known/jwks.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let jwks = reply.json();
    assert_eq!(keys_of(&jwks), ["keys"]);
    let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
    assert_eq!(keys.len(), 2, "the current key and the next one");
    let key = &keys[0];
    assert_eq!(keys_of(key), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert_eq!(
        key["kid"].as_str().map(str::len),
        Some(43),
        "SHA-256 base64url"
    );
}

#[tokio::test]
async fn health_and_ready_on_both_ports_admin_only_on_admin() {
    let t = TestIssuer::new().await;
    for router in [t.public(), t.admin()] {
        let health = t.get(router.clone(), "/health").await;
        assert_eq!(health.status, StatusCode::OK);
        assert_eq!(health.json()["status"], "ok");
        let ready = t.get(router, "/ready").await;
        assert_eq!(ready.status, StatusCode::OK);
        assert_eq!(ready.json()["status"], "ready");
    }
    assert_eq!(
        t.get(t.public(), "/admin/keys").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get(t.admin(), "/oauth/token").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn ready_fails_when_the_database_is_gone() {
    let t = TestIssuer::new().await;
    t.state.store.close().await;
    let ready = t.get(t.public(), "/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json()["status"], "not_ready");
    // Liveness does not depend on the database.
    assert_eq!(t.get(t.public(), "/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn admin_lists_clients_without_secrets() {
    let t = TestIssuer::new().await;
    let secret = t.client_with("svc.x", "read write", "orders", 120).await;
    let admin = t.admin_token().await;
    let reply = t
        .admin_call("GET", "/admin/clients", Some(&admin), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let clients = reply.json();
    assert_eq!(
        clients,
        serde_json::json!([{
            "client_id": "svc.x", "kind": "service", "scope": "read write", "audience": "orders",
            "ttl": 120, "auth_method": "client_secret", "created_at": common::START
        }])
    );
    assert!(!String::from_utf8_lossy(&reply.body).contains(&secret));

    let keys = t
        .admin_call("GET", "/admin/keys", Some(&admin), None)
        .await
        .json();
    let key = &keys[0];
    assert_eq!(
        keys_of(key),
        [
            "activated_at",
            "alg",
            "created_at",
            "kid",
            "retires_at",
            "status"
        ]
    );
    assert_eq!(key["status"], "current");
    // When the scheduler will retire it: a full rotation period (the tests' 1 h) after it began
    // signing.
    assert_eq!(key["retires_at"], common::START + 3600);
}
