//! The admin API: its credential, every route, the audit of what it does, `/metrics` and `/ready`.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::AUTHORIZATION;
use axum::http::{Request, StatusCode};
use common::{Reply, START, TestIssuer, send};
use serde_json::{Value, json};

/// Every admin route, with a body that would be acceptable.
fn admin_routes() -> Vec<(&'static str, &'static str, Option<Value>)> {
    vec![
        ("GET", "/admin/clients", None),
        (
            "POST",
            "/admin/clients",
            Some(json!({"client_id": "svc.new", "scope": "read"})),
        ),
        ("POST", "/admin/clients/svc.a/disable", None),
        ("POST", "/admin/clients/svc.a/secret", None),
        ("POST", "/admin/clients/svc.a/revoke-tokens", None),
        ("GET", "/admin/keys", None),
        (
            "POST",
            "/admin/keys/rotate",
            Some(json!({"emergency": true})),
        ),
        ("GET", "/admin/revocations", None),
        (
            "POST",
            "/admin/revocations",
            Some(json!({"jti": "abc", "exp": START + 60})),
        ),
        ("GET", "/admin/audit", None),
    ]
}

async fn audit_records(t: &TestIssuer, token: &str) -> Vec<Value> {
    let reply = t
        .admin_call("GET", "/admin/audit?limit=1000", Some(token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    reply.json()["records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

#[tokio::test]
async fn every_admin_route_refuses_a_missing_or_wrong_credential() {
    let t = TestIssuer::new().await;
    t.client("svc.a", "read").await;
    let revoked = t.admin_token().await;
    // A reset revokes every earlier credential.
    let token = t.admin_token().await;
    let wrong = "x".repeat(43);
    for (method, path, body) in admin_routes() {
        let cases: [(Option<&str>, &str); 4] = [
            (None, "unauthorized"),
            (Some(wrong.as_str()), "invalid_token"),
            (Some(revoked.as_str()), "invalid_token"),
            (Some(""), "invalid_token"),
        ];
        for (presented, code) in cases {
            let reply = t.admin_call(method, path, presented, body.as_ref()).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(reply.json()["error"], code, "{method} {path}");
            let challenge = reply.header("www-authenticate").unwrap_or_default();
            assert!(
                challenge.starts_with("Bearer realm=\"issuer-admin\""),
                "{method} {path}: {challenge}"
            );
        }
        // A Basic header (a client's credentials, say) is no admin credential either.
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(AUTHORIZATION, common::basic_header("svc.a", &token))
            .body(Body::empty())
            .expect("request");
        assert_eq!(
            send(t.admin(), request).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Nothing was changed by any of those requests.
    let clients = t
        .admin_call("GET", "/admin/clients", Some(&token), None)
        .await
        .json();
    assert_eq!(clients.as_array().map(Vec::len), Some(1));
    assert!(clients[0].get("disabled_at").is_none());

    // Each refusal of a presented credential is audited, without the presented token. A request
    // with no credential at all is not: any web page can make a browser send one.
    let records = audit_records(&t, &token).await;
    let failures: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "admin.auth_failed")
        .collect();
    assert_eq!(failures.len(), admin_routes().len() * 4);
    assert!(failures.iter().all(|r| r["outcome"] == "failure"));
    assert!(failures.iter().all(|r| r["detail"]["reason"] != "missing"));
    assert!(
        failures
            .iter()
            .any(|r| r["target"] == "/admin/clients/{id}/disable")
    );
    let trail = serde_json::to_string(&records).unwrap_or_default();
    assert!(!trail.contains(&wrong) && !trail.contains(&revoked) && !trail.contains(&token));

    // The failures are counted too, the requests without a credential included.
    let metrics = scrape(&t).await;
    assert_eq!(
        metrics.get("issuer_admin_auth_failures_total"),
        Some(&((admin_routes().len() * 5) as f64))
    );
}

#[tokio::test]
async fn the_public_port_has_no_admin_route() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;
    for (method, path, body) in admin_routes() {
        for presented in [None, Some(token.as_str())] {
            let mut request = Request::builder().method(method).uri(path);
            if let Some(token) = presented {
                request = request.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            let body = body
                .as_ref()
                .map_or(Body::empty(), |b| Body::from(b.to_string()));
            let reply = send(t.public(), request.body(body).expect("request")).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
    assert_eq!(
        t.get(t.public(), "/metrics").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn clients_are_created_listed_rotated_revoked_and_disabled() {
    let t = TestIssuer::new().await;
    let admin = t.admin_token().await;

    let created = t
        .admin_call(
            "POST",
            "/admin/clients",
            Some(&admin),
            Some(&json!({"client_id": "svc.orders", "scope": "read write", "audience": "orders", "ttl": 600})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", text(&created));
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let body = created.json();
    assert_eq!(body["client_id"], "svc.orders");
    assert_eq!(body["auth_method"], "client_secret");
    assert_eq!(body["ttl"], 600);
    let secret = body["client_secret"].as_str().expect("secret").to_owned();
    assert_eq!(secret.len(), 43);
    let first = t.token("svc.orders", &secret, "").await;

    // Defaults are those of `issuer client create`.
    let defaults = t
        .admin_call(
            "POST",
            "/admin/clients",
            Some(&admin),
            Some(&json!({"client_id": "svc.defaults", "scope": "read"})),
        )
        .await
        .json();
    assert_eq!(defaults["audience"], "quantjourney");
    assert_eq!(defaults["ttl"], 300);

    // An existing id is a conflict, and the client is left as it was.
    let again = t
        .admin_call(
            "POST",
            "/admin/clients",
            Some(&admin),
            Some(&json!({"client_id": "svc.orders", "scope": "admin"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json()["error"], "already_exists");
    t.token("svc.orders", &secret, "").await;

    // Bad input is a 400 naming the problem.
    for bad in [
        json!({"client_id": "bad id", "scope": "read"}),
        json!({"client_id": "svc.b", "scope": ""}),
        json!({"client_id": "svc.b", "scope": "read", "ttl": 0}),
        json!({"client_id": "svc.b", "scope": "read", "ttl": 86_401}),
        json!({"client_id": "svc.b", "scope": "read", "surprise": 1}),
        json!({"client_id": "svc.b", "scope": "read", "auth_method": "magic"}),
        json!({"client_id": "svc.b", "scope": "read", "jwks": {"keys": []}}),
        json!({"client_id": "svc.b", "scope": "read", "auth_method": "private_key_jwt"}),
        json!("not an object"),
    ] {
        let reply = t
            .admin_call("POST", "/admin/clients", Some(&admin), Some(&bad))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            text(&reply)
        );
        assert_eq!(reply.json()["error"], "invalid_request");
        assert!(
            reply.json()["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    // Ids made only of dots would be resolved away in /admin/clients/{id}/...: refused, saying so.
    for dots in [".", "..", "..."] {
        let reply = t
            .admin_call(
                "POST",
                "/admin/clients",
                Some(&admin),
                Some(&json!({"client_id": dots, "scope": "read"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{dots}");
        assert_eq!(reply.json()["error"], "invalid_request", "{dots}");
        let description = reply.json()["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            description.contains("only of dots"),
            "{dots}: {description}"
        );
    }

    let listed = t
        .admin_call("GET", "/admin/clients", Some(&admin), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let ids: Vec<String> = listed
        .json()
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["client_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids, ["svc.defaults", "svc.orders"]);
    assert!(!text(&listed).contains(&secret));

    // Rotating the secret: the old one stops working at once, the new one works.
    let rotated = t
        .admin_call(
            "POST",
            "/admin/clients/svc.orders/secret",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", text(&rotated));
    let new_secret = rotated.json()["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_ne!(new_secret, secret);
    let old = t
        .post_form(
            "/oauth/token",
            "grant_type=client_credentials",
            Some(("svc.orders", &secret)),
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let second = t.token("svc.orders", &new_secret, "").await;
    // Tokens are not revoked by a secret rotation.
    assert_eq!(
        t.introspect(&first, "svc.orders", &new_secret).await["active"],
        true
    );

    // Revoking the client's tokens: every token it holds goes inactive...
    let revoked = t
        .admin_call(
            "POST",
            "/admin/clients/svc.orders/revoke-tokens",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", text(&revoked));
    assert_eq!(
        revoked.json()["revoked_before"],
        START + 2,
        "this second, plus the client cache's second"
    );
    for token in [&first, &second] {
        assert_eq!(
            t.introspect(token, "svc.orders", &new_secret).await,
            json!({"active": false})
        );
    }
    // ...and the gateways' feed says so.
    let feed = t.get(t.public(), "/oauth/revocations").await.json();
    assert_eq!(
        feed["clients"],
        json!([{"client_id": "svc.orders", "revoked_before": START + 2}])
    );
    // A token issued after the revocation (and the second the client cache may lag) is good.
    t.clock.advance(2);
    let third = t.token("svc.orders", &new_secret, "").await;
    assert_eq!(
        t.introspect(&third, "svc.orders", &new_secret).await["active"],
        true
    );

    // Disabling: the client can no longer get a token.
    let disabled = t
        .admin_call(
            "POST",
            "/admin/clients/svc.orders/disable",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", text(&disabled));
    let refused = t
        .post_form(
            "/oauth/token",
            "grant_type=client_credentials",
            Some(("svc.orders", &new_secret)),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let listed = t
        .admin_call("GET", "/admin/clients", Some(&admin), None)
        .await
        .json();
    assert_eq!(listed[1]["disabled_at"], START + 2);

    // Unknown clients are 404 everywhere, malformed ids too.
    for action in ["disable", "secret", "revoke-tokens"] {
        for id in ["svc.nobody", "bad%20id"] {
            let reply = t
                .admin_call(
                    "POST",
                    &format!("/admin/clients/{id}/{action}"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{id} {action}");
            assert_eq!(reply.json()["error"], "not_found");
        }
    }

    // Everything was audited as this credential, successes and refusals, never a secret.
    let records = audit_records(&t, &admin).await;
    let actions: Vec<(&str, &str, &str)> = records
        .iter()
        .filter(|r| r["actor"].as_str().is_some_and(|a| a.starts_with("admin:")))
        .map(|r| {
            (
                r["action"].as_str().unwrap_or_default(),
                r["target"].as_str().unwrap_or_default(),
                r["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    for expected in [
        ("admin.client.created", "svc.orders", "success"),
        ("admin.client.created", "svc.orders", "failure"),
        ("admin.client.secret_rotated", "svc.orders", "success"),
        ("admin.client.tokens_revoked", "svc.orders", "success"),
        ("admin.client.disabled", "svc.orders", "success"),
        ("admin.client.disabled", "svc.nobody", "failure"),
    ] {
        assert!(
            actions.contains(&expected),
            "{expected:?} not in {actions:?}"
        );
    }
    let conflict = records
        .iter()
        .find(|r| r["action"] == "admin.client.created" && r["outcome"] == "failure")
        .expect("refused creation");
    assert_eq!(conflict["detail"]["error"], "already_exists");
    assert!(conflict["source"].as_str().is_some_and(|s| !s.is_empty()));
    let trail = serde_json::to_string(&records).unwrap_or_default();
    for secret in [&secret, &new_secret, &admin] {
        assert!(!trail.contains(secret.as_str()));
    }
}

#[tokio::test]
async fn private_key_jwt_clients_register_public_keys_only() {
    let t = TestIssuer::new().await;
    let admin = t.admin_token().await;
    // Any public P-256 JWK will do: take the issuer's own.
    let jwks = t.get(t.public(), "/.well-known/jwks.json").await.json();
    let key = jwks["keys"][0].clone();

    let created = t
        .admin_call(
            "POST",
            "/admin/clients",
            Some(&admin),
            Some(&json!({
                "client_id": "svc.jwt", "scope": "read", "auth_method": "private_key_jwt",
                "jwks": {"keys": [key.clone()]}
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", text(&created));
    assert_eq!(created.json()["auth_method"], "private_key_jwt");
    assert!(created.json().get("client_secret").is_none());
    let stored = t
        .state
        .store
        .client("svc.jwt")
        .await
        .expect("store")
        .expect("client");
    assert!(stored.secret_hash.is_none());
    let stored_jwks: Value =
        serde_json::from_str(stored.jwks.as_deref().unwrap_or("")).expect("json");
    assert_eq!(stored_jwks["keys"][0]["kid"], key["kid"]);

    // A JWKS given as a string is accepted too.
    let as_string = t
        .admin_call(
            "POST",
            "/admin/clients",
            Some(&admin),
            Some(&json!({
                "client_id": "svc.jwt2", "scope": "read", "auth_method": "private_key_jwt",
                "jwks": json!({"keys": [key.clone()]}).to_string()
            })),
        )
        .await;
    assert_eq!(
        as_string.status,
        StatusCode::CREATED,
        "{}",
        text(&as_string)
    );

    // Private key material is refused, as is a set with no usable key.
    let mut private = key.clone();
    private["d"] = json!("AAAA");
    for jwks in [
        json!({"keys": [private]}),
        json!({"keys": []}),
        json!({"keys": [{"kty": "oct", "k": "AAAA"}]}),
        json!([key.clone()]),
    ] {
        let reply = t
            .admin_call(
                "POST",
                "/admin/clients",
                Some(&admin),
                Some(&json!({
                    "client_id": "svc.bad", "scope": "read",
                    "auth_method": "private_key_jwt", "jwks": jwks
                })),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{jwks}: {}",
            text(&reply)
        );
        assert_eq!(reply.json()["error"], "invalid_request");
    }
    assert!(
        t.state
            .store
            .client("svc.bad")
            .await
            .expect("store")
            .is_none()
    );

    // It has no secret to rotate.
    let rotate = t
        .admin_call("POST", "/admin/clients/svc.jwt/secret", Some(&admin), None)
        .await;
    assert_eq!(rotate.status, StatusCode::CONFLICT);
    assert_eq!(rotate.json()["error"], "wrong_auth_method");
}

#[tokio::test]
async fn keys_are_listed_and_rotated() {
    let t = TestIssuer::new().await;
    let admin = t.admin_token().await;
    let listed = t.admin_call("GET", "/admin/keys", Some(&admin), None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let keys = listed.json();
    assert_eq!(keys[0]["status"], "current");
    assert_eq!(keys[1]["status"], "next");
    let (current, next) = (keys[0]["kid"].clone(), keys[1]["kid"].clone());

    // The next key was published at START; it may sign only after a full JWKS max-age (300 s).
    let early = t
        .admin_call("POST", "/admin/keys/rotate", Some(&admin), None)
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", text(&early));
    assert_eq!(early.json()["error"], "next_key_not_ready");
    assert!(
        early.json()["error_description"]
            .as_str()
            .is_some_and(|d| d.contains(&(START + 300).to_string()))
    );

    t.clock.advance(300);
    let planned = t
        .admin_call("POST", "/admin/keys/rotate", Some(&admin), Some(&json!({})))
        .await;
    assert_eq!(planned.status, StatusCode::OK, "{}", text(&planned));
    assert_eq!(planned.json()["kid"], next);
    assert_eq!(planned.json()["emergency"], false);

    let emergency = t
        .admin_call(
            "POST",
            "/admin/keys/rotate",
            Some(&admin),
            Some(&json!({"emergency": true})),
        )
        .await;
    assert_eq!(emergency.status, StatusCode::OK, "{}", text(&emergency));
    let fresh = emergency.json()["kid"].clone();
    assert_ne!(fresh, next);
    assert_ne!(fresh, current);

    let bad = t
        .admin_call(
            "POST",
            "/admin/keys/rotate",
            Some(&admin),
            Some(&json!({"emergency": "yes"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // The token endpoint signs with the emergency key at once.
    let secret = t.client("svc.a", "read").await;
    let token = t.token("svc.a", &secret, "").await;
    assert_eq!(common::segment(&token, 0)["kid"], fresh);

    let records = audit_records(&t, &admin).await;
    let rotations: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r["action"] == "admin.key.rotated")
        .map(|r| {
            (
                r["target"].as_str().unwrap_or_default(),
                r["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(rotations.len(), 3, "{rotations:?}");
    assert_eq!(rotations[0].1, "failure");
    assert_eq!(rotations[1], (next.as_str().unwrap_or_default(), "success"));
    assert_eq!(
        rotations[2],
        (fresh.as_str().unwrap_or_default(), "success")
    );
}

#[tokio::test]
async fn revocations_are_listed_and_added() {
    let t = TestIssuer::new().await;
    let admin = t.admin_token().await;
    let secret = t.client("svc.a", "read").await;
    let token = t.token("svc.a", &secret, "").await;
    let claims = common::segment(&token, 1);

    let empty = t
        .admin_call("GET", "/admin/revocations", Some(&admin), None)
        .await;
    assert_eq!(empty.json(), json!({"tokens": [], "clients": []}));

    let by_jti = t
        .admin_call(
            "POST",
            "/admin/revocations",
            Some(&admin),
            Some(&json!({"jti": claims["jti"], "exp": claims["exp"]})),
        )
        .await;
    assert_eq!(by_jti.status, StatusCode::OK, "{}", text(&by_jti));
    assert_eq!(
        t.introspect(&token, "svc.a", &secret).await["active"],
        false
    );

    let by_client = t
        .admin_call(
            "POST",
            "/admin/revocations",
            Some(&admin),
            Some(&json!({"client_id": "svc.a"})),
        )
        .await;
    assert_eq!(by_client.status, StatusCode::OK, "{}", text(&by_client));
    assert_eq!(by_client.json()["revoked_before"], START + 2);

    let listed = t
        .admin_call("GET", "/admin/revocations", Some(&admin), None)
        .await
        .json();
    assert_eq!(
        listed,
        json!({
            "tokens": [{"jti": claims["jti"], "exp": claims["exp"]}],
            "clients": [{"client_id": "svc.a", "revoked_before": START + 2}]
        })
    );

    for bad in [
        json!({}),
        json!({"jti": "abc"}),
        json!({"exp": START + 60}),
        json!({"jti": "", "exp": START + 60}),
        json!({"jti": "has space", "exp": START + 60}),
        json!({"jti": "abc", "exp": START + 100 * 86_400}),
        json!({"jti": "abc", "exp": START + 60, "client_id": "bad id"}),
    ] {
        let reply = t
            .admin_call("POST", "/admin/revocations", Some(&admin), Some(&bad))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            text(&reply)
        );
    }
    let unknown = t
        .admin_call(
            "POST",
            "/admin/revocations",
            Some(&admin),
            Some(&json!({"client_id": "svc.nobody"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_credential_is_created_once_and_reset_revokes_it() {
    let t = TestIssuer::new().await;
    let now = START;
    let first = issuer::admin::credential::create_first(&t.state.store, now)
        .await
        .expect("create")
        .expect("first start creates one");
    assert!(
        issuer::admin::credential::create_first(&t.state.store, now)
            .await
            .expect("create")
            .is_none(),
        "a later start shows nothing"
    );
    let token = first.token.expose().to_owned();
    let ok = t
        .admin_call("GET", "/admin/clients", Some(&token), None)
        .await;
    assert_eq!(ok.status, StatusCode::OK);

    let (second, revoked) = issuer::admin::credential::reset(&t.state.store, now)
        .await
        .expect("reset");
    assert_eq!(revoked, 1);
    assert_ne!(second.id, first.id);
    let old = t
        .admin_call("GET", "/admin/clients", Some(&token), None)
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = t
        .admin_call("GET", "/admin/clients", Some(second.token.expose()), None)
        .await;
    assert_eq!(new.status, StatusCode::OK);
    // A reset is not a first start: still nothing to show.
    assert!(
        issuer::admin::credential::create_first(&t.state.store, now)
            .await
            .expect("create")
            .is_none()
    );
    // Only the hash is stored.
    let stored = t
        .state
        .store
        .active_admin_credentials()
        .await
        .expect("credentials");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, second.id);
    assert_eq!(
        stored[0].hash,
        hmac_sha256::Hash::hash(second.token.expose().as_bytes()).to_vec(),
        "SHA-256 of the token, never the token"
    );
}

/// An admin request from `ip`, as the server sees it through its socket.
async fn from_peer(t: &TestIssuer, ip: [u8; 4], token: &str) -> Reply {
    let mut request = Request::get("/admin/clients")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    send(t.admin(), request).await
}

#[tokio::test]
async fn failed_authentications_lock_the_source_address_out() {
    let t = TestIssuer::new().await;
    let admin = t.admin_token().await;
    let attacker = [192, 0, 2, 7];
    for _ in 0..10 {
        assert_eq!(
            from_peer(&t, attacker, "wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked: even the right credential is refused from there, with a time to come back.
    let locked = from_peer(&t, attacker, &admin).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.json()["error"], "temporarily_locked");
    assert_eq!(locked.header("retry-after"), Some("300"));
    // Other addresses are unaffected.
    assert_eq!(
        from_peer(&t, [192, 0, 2, 8], &admin).await.status,
        StatusCode::OK
    );
    // The failures are audited with their source; the locked-out attempts are not.
    let records = audit_records(&t, &admin).await;
    let from_attacker = records
        .iter()
        .filter(|r| r["action"] == "admin.auth_failed" && r["source"] == "192.0.2.7")
        .count();
    assert_eq!(from_attacker, 10);
    // After the lockout the address may try again.
    t.clock.advance(300);
    assert_eq!(from_peer(&t, attacker, &admin).await.status, StatusCode::OK);
}

#[tokio::test]
async fn requests_without_a_credential_lock_nobody_out() {
    let t = TestIssuer::new().await;
    let admin = t.admin_token().await;
    let operator = [192, 0, 2, 7];
    // What ten `<img src="http://127.0.0.1:8081/admin/keys">` on any web page make the
    // operator's browser send: no Authorization header, no session cookie.
    for _ in 0..25 {
        let mut request = Request::get("/admin/keys")
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-dest", "image")
            .body(Body::empty())
            .expect("request");
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((operator, 40_000))));
        let reply = send(t.admin(), request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json()["error"], "unauthorized");
    }
    // The operator is not locked out, nor even slowed down.
    let ip = std::net::IpAddr::from(operator);
    assert_eq!(
        t.state
            .admin_throttle
            .check(&ip.to_string(), ip, START * 1000),
        issuer::clients::Verdict::Allow
    );
    assert_eq!(from_peer(&t, operator, &admin).await.status, StatusCode::OK);
    // Counted, but not audited: a page looping on them must not flood the trail.
    let metrics = scrape(&t).await;
    assert_eq!(metrics.get("issuer_admin_auth_failures_total"), Some(&25.0));
    let records = audit_records(&t, &admin).await;
    assert!(
        !records.iter().any(|r| r["action"] == "admin.auth_failed"),
        "{records:?}"
    );
    // A wrong credential still counts towards the lockout from that address.
    for _ in 0..10 {
        from_peer(&t, operator, "wrong").await;
    }
    assert_eq!(
        from_peer(&t, operator, &admin).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Parses a Prometheus text exposition (format 0.0.4) strictly enough to catch a malformed
/// line, and returns each sample as `name{labels}` → value.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap_or_default();
            let name = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default();
            assert!(valid_name(name), "bad name in {line:?}");
            match kind {
                "HELP" => assert!(!value.is_empty(), "{line:?}"),
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&value),
                        "{line:?}"
                    );
                    assert!(
                        types.insert(name.to_owned(), value.to_owned()).is_none(),
                        "TYPE repeated: {line:?}"
                    );
                }
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let name = series.split('{').next().unwrap_or_default();
        assert!(valid_name(name), "bad name in {line:?}");
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let labels = labels
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .unwrap_or_else(|| panic!("bad labels in {line:?}"));
            check_labels(labels, line);
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| types.get(*base).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "no TYPE before {line:?}");
        samples.insert(series.to_owned(), value);
    }
    samples
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn check_labels(labels: &str, line: &str) {
    let mut rest = labels;
    loop {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label in {line:?}"));
        assert!(valid_name(key), "bad label name in {line:?}");
        let mut escaped = false;
        let mut end = None;
        for (i, c) in after.char_indices() {
            match (escaped, c) {
                (true, '\\' | '"' | 'n') => escaped = false,
                (true, _) => panic!("bad escape in {line:?}"),
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                (false, _) => {}
            }
        }
        let end = end.unwrap_or_else(|| panic!("unterminated label in {line:?}"));
        rest = &after[end + 1..];
        match rest.strip_prefix(',') {
            Some(next) => rest = next,
            None if rest.is_empty() => return,
            None => panic!("junk after label in {line:?}"),
        }
    }
}

async fn scrape(t: &TestIssuer) -> BTreeMap<String, f64> {
    let reply = t.get(t.admin(), "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse_prometheus(&text(&reply))
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_tokens() {
    let t = TestIssuer::new().await;
    let before = scrape(&t).await;
    assert_eq!(before.get("issuer_tokens_issued_total"), Some(&0.0));
    assert_eq!(before.get("issuer_keys{status=\"current\"}"), Some(&1.0));
    assert_eq!(before.get("issuer_keys{status=\"next\"}"), Some(&1.0));
    assert_eq!(before.get("issuer_keys{status=\"retired\"}"), Some(&0.0));
    assert!(
        before
            .keys()
            .any(|k| k.starts_with("issuer_build_info{version="))
    );

    let secret = t.client("svc.a", "read").await;
    let token = t.token("svc.a", &secret, "").await;
    t.token("svc.a", &secret, "").await;
    let wrong = t
        .post_form(
            "/oauth/token",
            "grant_type=client_credentials",
            Some(("svc.a", "wrong")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    t.get(t.public(), "/no/such/path").await;

    let after = scrape(&t).await;
    assert_eq!(after.get("issuer_tokens_issued_total"), Some(&2.0));
    assert_eq!(after.get("issuer_client_auth_failures_total"), Some(&1.0));
    assert_eq!(
        after.get("issuer_http_requests_total{route=\"/oauth/token\",status=\"200\"}"),
        Some(&2.0)
    );
    assert_eq!(
        after.get("issuer_http_requests_total{route=\"/oauth/token\",status=\"401\"}"),
        Some(&1.0)
    );
    assert_eq!(
        after.get("issuer_http_requests_total{route=\"unmatched\",status=\"404\"}"),
        Some(&1.0)
    );
    assert_eq!(
        after.get("issuer_http_request_duration_seconds_count{route=\"/oauth/token\"}"),
        Some(&3.0)
    );
    assert_eq!(
        after
            .get("issuer_http_request_duration_seconds_bucket{route=\"/oauth/token\",le=\"+Inf\"}"),
        Some(&3.0)
    );
    // Nothing secret is ever a label.
    let raw = text(&t.get(t.admin(), "/metrics").await);
    assert!(!raw.contains(&secret) && !raw.contains(&token));
}

#[tokio::test]
async fn ready_is_503_until_a_signing_key_exists() {
    let t = TestIssuer::new().await;
    for router in [t.public(), t.admin()] {
        assert_eq!(t.get(router, "/ready").await.status, StatusCode::OK);
    }
    // An emptied key table (a server that has not created its keys yet).
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&t.url).await.expect("connect");
        sqlx::query("DELETE FROM signing_keys")
            .execute(&mut conn)
            .await
            .expect("delete");
        conn.close().await.ok();
    }
    for router in [t.public(), t.admin()] {
        let ready = t.get(router, "/ready").await;
        assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            ready.json(),
            json!({"status": "not_ready", "reason": "no signing key"})
        );
    }
    // Liveness and metrics still answer.
    assert_eq!(t.get(t.admin(), "/health").await.status, StatusCode::OK);
    let metrics = scrape(&t).await;
    assert_eq!(metrics.get("issuer_keys{status=\"current\"}"), Some(&0.0));
}

#[tokio::test]
async fn replicas_starting_together_create_one_credential() {
    let t = TestIssuer::new().await;
    let other = issuer::Store::open(&t.url).await.expect("second store");
    let (a, b) = tokio::join!(
        issuer::admin::credential::create_first(&t.state.store, START),
        issuer::admin::credential::create_first(&other, START),
    );
    let created = [a.expect("first"), b.expect("second")]
        .iter()
        .filter(|c| c.is_some())
        .count();
    assert_eq!(created, 1);
    assert_eq!(
        t.state
            .store
            .active_admin_credentials()
            .await
            .expect("credentials")
            .len(),
        1
    );
    other.close().await;
}

/// `issuer admin reset-credential` on `url`: the JSON object it printed.
fn reset_credential_cli(url: &str) -> Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_issuer"))
        .args(["admin", "reset-credential", "--database-url", url])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run issuer");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(&stdout).expect("one JSON object")
}

#[tokio::test]
async fn reset_credential_revokes_the_old_one_and_prints_a_new_one_once() {
    let t = TestIssuer::new().await;
    let old = t.admin_token().await;
    let printed = reset_credential_cli(&t.url);
    assert_eq!(printed["event"], "admin_credential");
    assert_eq!(printed["revoked"], 1);
    let token = printed["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 43);
    assert_eq!(
        t.admin_call("GET", "/admin/keys", Some(&old), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.admin_call("GET", "/admin/keys", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    // The reset is in the audit trail, by id only.
    let records = audit_records(&t, &token).await;
    let reset = records
        .iter()
        .find(|r| r["action"] == "admin.credential.reset")
        .expect("audited");
    assert_eq!(reset["actor"], "cli");
    assert_eq!(reset["target"], printed["id"]);
    assert!(
        !serde_json::to_string(&records)
            .unwrap_or_default()
            .contains(&token)
    );
}
