//! Token exchange (RFC 8693): agents acting for services, sub-agents for agents; every refusal
//! answered with its OAuth error, recorded with its stable code, and no token minted; cascade
//! revocation at introspection, at the next exchange, and in what gateways read.

mod common;

use axum::http::StatusCode;
use common::{ISSUER, Reply, START, TestIssuer, audit_records, keys_of, segment};
use issuer::clock::Clock;
use jwt_simple::prelude::{Audiences, JWTClaims, UnixTimeStamp};
use serde_json::{Value, json};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A registered client and its secret.
struct Party {
    id: &'static str,
    secret: String,
}

async fn service(t: &TestIssuer, id: &'static str, scope: &str) -> Party {
    Party {
        id,
        secret: t.client(id, scope).await,
    }
}

async fn agent(t: &TestIssuer, id: &'static str, scope: &str) -> Party {
    Party {
        id,
        secret: t.agent(id, scope).await,
    }
}

impl Party {
    /// A client credentials token of its own.
    async fn token(&self, t: &TestIssuer) -> String {
        t.token(self.id, &self.secret, "").await
    }
}

/// Posts a token exchange of `subject` by `agent`, with `extra` form parameters.
async fn exchange(t: &TestIssuer, agent: &Party, subject: &str, extra: &str) -> Reply {
    let body = format!(
        "grant_type={EXCHANGE}&subject_token={subject}&subject_token_type={ACCESS_TOKEN}{extra}"
    );
    t.post_form("/oauth/token", &body, Some((agent.id, &agent.secret)))
        .await
}

/// A successful exchange's token.
async fn exchanged(t: &TestIssuer, agent: &Party, subject: &str, extra: &str) -> String {
    let reply = exchange(t, agent, subject, extra).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    reply.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

fn jti(token: &str) -> String {
    segment(token, 1)["jti"].as_str().expect("jti").to_owned()
}

async fn exchange_records(t: &TestIssuer, outcome: &str) -> Vec<Value> {
    audit_records(t)
        .await
        .into_iter()
        .filter(|r| r["action"] == "token.exchanged" && r["outcome"] == outcome)
        .collect()
}

/// Posts `body` (a whole form) as `agent` and checks the refusal: a 400 with `error`, no token,
/// no new successful exchange record, and a failure record naming `code` and a reason. Returns
/// that record.
async fn refused_form(t: &TestIssuer, agent: &Party, body: &str, error: &str, code: &str) -> Value {
    let before = exchange_records(t, "success").await.len();
    let failures = exchange_records(t, "failure").await.len();
    let reply = t
        .post_form("/oauth/token", body, Some((agent.id, &agent.secret)))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "{code}: {}",
        text(&reply)
    );
    let answer = reply.json();
    assert_eq!(answer["error"], error, "{code}: {answer}");
    assert!(answer["error_description"].is_string(), "{code}");
    assert!(answer.get("access_token").is_none(), "{code}: no token");
    assert_eq!(
        exchange_records(t, "success").await.len(),
        before,
        "{code}: nothing minted"
    );
    let records = exchange_records(t, "failure").await;
    assert_eq!(records.len(), failures + 1, "{code}: one refusal recorded");
    let record = records.last().cloned().expect("refusal record");
    assert_eq!(record["actor"], agent.id, "{code}");
    assert_eq!(record["detail"]["code"], code, "{record}");
    assert_eq!(record["detail"]["error"], error, "{record}");
    assert!(
        record["detail"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{record}"
    );
    record
}

/// [`refused_form`] for an exchange of `subject` with `extra` parameters.
/// `party` revokes its own `token` at `POST /oauth/revoke` (RFC 7009), which answers 200.
async fn revoke(t: &TestIssuer, party: &Party, token: &str) {
    let reply = t
        .post_form(
            "/oauth/revoke",
            &format!("token={token}"),
            Some((party.id, &party.secret)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
}

async fn refused(
    t: &TestIssuer,
    agent: &Party,
    subject: &str,
    extra: &str,
    error: &str,
    code: &str,
) -> Value {
    let body = format!(
        "grant_type={EXCHANGE}&subject_token={subject}&subject_token_type={ACCESS_TOKEN}{extra}"
    );
    refused_form(t, agent, &body, error, code).await
}

/// Signs `custom` claims (with the registered ones) with the issuer's current key: a token of
/// ours shaped as a test needs it.
async fn signed_by_issuer(t: &TestIssuer, iss: &str, sub: &str, custom: Value) -> String {
    let signer = t
        .state
        .keyring
        .signer(&t.state.store)
        .await
        .expect("signer");
    let now = t.clock.now();
    let claims = JWTClaims {
        issued_at: Some(UnixTimeStamp::from_secs(now)),
        expires_at: Some(UnixTimeStamp::from_secs(now + 300)),
        invalid_before: None,
        issuer: Some(iss.to_owned()),
        subject: Some(sub.to_owned()),
        audiences: Some(Audiences::AsString("quantjourney".to_owned())),
        jwt_id: Some(format!("crafted-{}", random_suffix())),
        nonce: None,
        custom,
    };
    signer.sign_access_token(claims).expect("sign")
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("random");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn admin_delegations(t: &TestIssuer) -> Value {
    let reply = t.admin_get("/admin/delegations").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    reply.json()
}

/// The live delegations' jtis.
async fn live(t: &TestIssuer) -> Vec<String> {
    admin_delegations(t).await["tokens"]
        .as_array()
        .map(|tokens| {
            tokens
                .iter()
                .filter_map(|token| token["jti"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A service, an agent acting for it, and a sub-agent acting for that agent: the root token and
/// the two exchanged from it.
struct Chain {
    svc: Party,
    planner: Party,
    coder: Party,
    root: String,
    first: String,
    second: String,
}

async fn chain(t: &TestIssuer) -> Chain {
    let svc = service(t, "svc.orders", "repo:* orders:read orders:write").await;
    let planner = agent(t, "agent.planner", "repo:read:* orders:read").await;
    let coder = agent(t, "agent.coder", "repo:read:*").await;
    let root = svc.token(t).await;
    let first = exchanged(t, &planner, &root, "&scope=repo:read:x orders:read").await;
    let second = exchanged(t, &coder, &first, "&scope=repo:read:x").await;
    Chain {
        svc,
        planner,
        coder,
        root,
        first,
        second,
    }
}

#[tokio::test]
async fn a_service_token_goes_to_an_agent_then_a_sub_agent_with_the_whole_chain() {
    let t = TestIssuer::new().await;
    let svc = service(&t, "svc.orders", "repo:* orders:read orders:write").await;
    let planner = agent(&t, "agent.planner", "repo:read:* orders:read").await;
    let coder = agent(&t, "agent.coder", "repo:read:*").await;
    let root = svc.token(&t).await;
    let root_jti = jti(&root);
    assert_eq!(segment(&root, 1)["sub_profile"], "service");

    // The service's token, to the planner.
    t.clock.advance(10);
    let reply = exchange(&t, &planner, &root, "&scope=repo:read:x%20orders:read").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(
        keys_of(&body),
        [
            "access_token",
            "expires_in",
            "issued_token_type",
            "scope",
            "token_type"
        ],
        "RFC 8693 §2.2.1, and never a refresh_token"
    );
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "repo:read:x orders:read");
    // The agent's 300 s would outlive the subject token: the subject's exp wins.
    assert_eq!(body["expires_in"], 290);
    let first = body["access_token"].as_str().expect("token").to_owned();
    let first_jti = jti(&first);
    assert_eq!(segment(&first, 0)["typ"], "at+jwt");
    let claims = segment(&first, 1);
    assert_eq!(
        keys_of(&claims),
        [
            "act",
            "ancestor_jtis",
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
    assert_eq!(
        claims,
        json!({
            "iss": ISSUER,
            "sub": "svc.orders",
            "sub_profile": "service",
            "client_id": "agent.planner",
            "aud": "quantjourney",
            "scope": "repo:read:x orders:read",
            "iat": START + 10,
            "exp": START + 300,
            "jti": first_jti,
            "act": {"sub": "agent.planner", "sub_profile": "ai_agent"},
            "ancestor_jtis": [root_jti],
        })
    );
    assert_ne!(first_jti, root_jti);

    // The planner's token, to the coder: the chain grows outward, the ancestors backward.
    t.clock.advance(10);
    let reply = exchange(&t, &coder, &first, "&scope=repo:read:x").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    assert_eq!(reply.json()["expires_in"], 280);
    let second = reply.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let second_jti = jti(&second);
    let act = json!({
        "sub": "agent.coder",
        "sub_profile": "ai_agent",
        "act": {"sub": "agent.planner", "sub_profile": "ai_agent"},
    });
    assert_eq!(
        segment(&second, 1),
        json!({
            "iss": ISSUER,
            "sub": "svc.orders",
            "sub_profile": "service",
            "client_id": "agent.coder",
            "aud": "quantjourney",
            "scope": "repo:read:x",
            "iat": START + 20,
            "exp": START + 300,
            "jti": second_jti,
            "act": act,
            "ancestor_jtis": [first_jti, root_jti],
        })
    );

    // Introspection shows the chain and what the principal is.
    let active = t.introspect(&second, svc.id, &svc.secret).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], "svc.orders");
    assert_eq!(active["sub_profile"], "service");
    assert_eq!(active["client_id"], "agent.coder");
    assert_eq!(active["act"], act);

    // A gateway reads the same chain, and admits it under a delegation policy.
    let jwks = text(&t.get(t.public(), "/.well-known/jwks.json").await);
    let config = json!({
        "providers": {"local": {
            "issuer": ISSUER, "audiences": ["quantjourney"], "local_jwks": jwks,
            "delegation": {"max_depth": 4},
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "local"}}],
    });
    let config = verifier_core::Config::parse(config.to_string().as_bytes()).expect("config");
    let provider = &config.providers["local"];
    let keys = verifier_core::Jwks::parse(jwks.as_bytes()).expect("jwks");
    let verified = verifier_core::verify(&second, provider, &keys, START + 20).expect("verifies");
    let delegation = verified.claims.delegation.clone().expect("delegated");
    assert_eq!(delegation.chain, "agent.coder,agent.planner");
    assert_eq!(delegation.ancestors, [first_jti.clone(), root_jti.clone()]);
    assert_eq!(
        verified.claims.sub_profile.as_deref(),
        Some(verifier_core::PROFILE_SERVICE)
    );
    let admitted = verifier_core::admit(
        "svc.orders",
        verified.claims.sub_profile.as_deref(),
        Some(&delegation),
        provider.delegation.as_ref(),
        &verifier_core::DelegationRule::default(),
    );
    assert_eq!(
        admitted,
        Ok(verifier_core::Admitted::Delegated { depth: 2, max: 4 })
    );

    // The trail records each issuance with what the admin UI builds its tree from.
    let records = exchange_records(&t, "success").await;
    assert_eq!(records.len(), 2);
    let record = &records[1];
    assert_eq!(record["actor"], "agent.coder");
    assert_eq!(record["target"], second_jti);
    let kid = segment(&second, 0)["kid"].clone();
    assert_eq!(
        record["detail"],
        json!({
            "jti": second_jti,
            "sub": "svc.orders",
            "sub_profile": "service",
            "client_id": "agent.coder",
            "actors": ["agent.coder", "agent.planner"],
            "parent": first_jti,
            "parent_exp": START + 300,
            "ancestors": [first_jti, root_jti],
            "scope": "repo:read:x",
            "aud": "quantjourney",
            "iat": START + 20,
            "exp": START + 300,
            "kid": kid,
        })
    );
    assert_eq!(records[0]["detail"]["parent"], root_jti);
    assert_eq!(records[0]["detail"]["actors"], json!(["agent.planner"]));

    // And the admin API lists both, oldest first, each linked to its parent.
    let delegations = admin_delegations(&t).await;
    assert_eq!(delegations["now"], START + 20);
    assert_eq!(delegations["truncated"], false);
    let tokens = delegations["tokens"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(tokens.len(), 2);
    assert_eq!(
        tokens[1],
        json!({
            "jti": second_jti, "parent": first_jti, "parent_exp": START + 300,
            "sub": "svc.orders", "sub_profile": "service", "client_id": "agent.coder",
            "actors": ["agent.coder", "agent.planner"], "ancestors": [first_jti, root_jti],
            "scope": "repo:read:x", "aud": "quantjourney", "iat": START + 20, "exp": START + 300,
        })
    );
    assert_eq!(tokens[0]["jti"], first_jti);
    assert_eq!(tokens[0]["parent"], root_jti);

    // Once the subject's exp has passed, nothing of the chain is live.
    t.clock.advance(280);
    assert_eq!(live(&t).await, Vec::<String>::new());
    assert_eq!(
        t.introspect(&second, svc.id, &svc.secret).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn an_agents_shorter_lifetime_wins_and_the_default_scope_is_the_subjects() {
    let t = TestIssuer::new().await;
    let svc = service(&t, "svc.a", "read write").await;
    let quick = Party {
        id: "agent.quick",
        secret: t
            .register(
                "agent.quick",
                issuer::clients::ClientKind::Agent,
                "read write other",
                "quantjourney",
                60,
            )
            .await,
    };
    let root = svc.token(&t).await;
    let reply = exchange(&t, &quick, &root, "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    assert_eq!(reply.json()["expires_in"], 60);
    assert_eq!(reply.json()["scope"], "read write", "all the subject holds");
    let token = reply.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let claims = segment(&token, 1);
    assert_eq!(claims["exp"], START + 60);
    assert!(claims["exp"].as_u64() <= segment(&root, 1)["exp"].as_u64());
    // The audience asked for is the agent's own: granted.
    let same = exchange(&t, &quick, &root, "&audience=quantjourney").await;
    assert_eq!(same.status, StatusCode::OK, "{}", text(&same));
    // requested_token_type, when given, is an access token.
    let typed = exchange(
        &t,
        &quick,
        &root,
        &format!("&requested_token_type={ACCESS_TOKEN}"),
    )
    .await;
    assert_eq!(typed.status, StatusCode::OK, "{}", text(&typed));
}

#[tokio::test]
async fn scopes_narrow_through_globs_and_never_widen() {
    let t = TestIssuer::new().await;
    let svc = service(&t, "svc.repo", "repo:* wiki:read").await;
    let reader = agent(&t, "agent.reader", "repo:read:* wiki:read").await;
    let root = svc.token(&t).await;

    // `repo:*` held, `repo:read:*` registered: `repo:read:x` is within both.
    let reply = exchange(&t, &reader, &root, "&scope=repo:read:x").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    assert_eq!(reply.json()["scope"], "repo:read:x");
    let glob = exchange(&t, &reader, &root, "&scope=repo:read:*").await;
    assert_eq!(glob.json()["scope"], "repo:read:*");

    // Beyond the agent's registration: within the subject's `repo:*`, not within `repo:read:*`.
    refused(
        &t,
        &reader,
        &root,
        "&scope=repo:write",
        "invalid_scope",
        "scope_exceeds_agent",
    )
    .await;
    // With no scope asked for, everything the subject holds is asked for: `repo:*` is wider
    // than the agent's registration, and nothing is silently dropped.
    refused(
        &t,
        &reader,
        &root,
        "",
        "invalid_scope",
        "scope_exceeds_agent",
    )
    .await;
    // Beyond the subject token's scopes.
    let narrow_root = t.token(svc.id, &svc.secret, "&scope=wiki:read").await;
    let record = refused(
        &t,
        &reader,
        &narrow_root,
        "&scope=wiki:read%20repo:read:x",
        "invalid_scope",
        "scope_exceeds_subject",
    )
    .await;
    assert_eq!(record["target"], jti(&narrow_root));
    assert_eq!(record["detail"]["sub"], "svc.repo");
    // Malformed.
    refused(
        &t,
        &reader,
        &root,
        "&scope=%20",
        "invalid_scope",
        "scope_invalid",
    )
    .await;
}

#[tokio::test]
async fn client_credentials_narrow_through_globs_too() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.glob", "repo:* read").await;
    for (asked, granted) in [
        ("repo:read", "repo:read"),
        ("read repo:read:x", "repo:read:x read"),
        ("repo:*", "repo:*"),
    ] {
        let token = t
            .token("svc.glob", &secret, &format!("&scope={asked}"))
            .await;
        assert_eq!(segment(&token, 1)["scope"], granted, "{asked}");
    }
    for wider in ["repo", "write", "*"] {
        let reply = t
            .post_form(
                "/oauth/token",
                &format!("grant_type=client_credentials&scope={wider}"),
                Some(("svc.glob", &secret)),
            )
            .await;
        assert_eq!(reply.json()["error"], "invalid_scope", "{wider}");
    }
}

#[tokio::test]
async fn subject_tokens_that_are_not_ours_or_not_in_force_are_invalid_requests() {
    let t = TestIssuer::new().await;
    let svc = service(&t, "svc.s", "read").await;
    let worker = agent(&t, "agent.worker", "read").await;
    let root = svc.token(&t).await;

    refused(
        &t,
        &worker,
        "garbage",
        "",
        "invalid_request",
        "subject_token_invalid",
    )
    .await;
    // Tampered: the payload changed under the signature.
    let mut parts: Vec<&str> = root.split('.').collect();
    let other = t.token(svc.id, &svc.secret, "").await;
    let other_payload = other.split('.').nth(1).unwrap_or_default().to_owned();
    parts[1] = &other_payload;
    let tampered = parts.join(".");
    refused(
        &t,
        &worker,
        &tampered,
        "",
        "invalid_request",
        "subject_token_invalid",
    )
    .await;
    // Foreign: another issuer's keys, or our key with another `iss`.
    let elsewhere = TestIssuer::new().await;
    let foreign_secret = elsewhere.client("svc.s", "read").await;
    let foreign = elsewhere.token("svc.s", &foreign_secret, "").await;
    refused(
        &t,
        &worker,
        &foreign,
        "",
        "invalid_request",
        "subject_token_invalid",
    )
    .await;
    let other_iss = signed_by_issuer(
        &t,
        "https://elsewhere.test",
        "svc.s",
        json!({"client_id": "svc.s", "scope": "read", "sub_profile": "service"}),
    )
    .await;
    refused(
        &t,
        &worker,
        &other_iss,
        "",
        "invalid_request",
        "subject_token_invalid",
    )
    .await;
    // Refused before the subject token is read, with the target saying so.
    let record = refused(
        &t,
        &worker,
        "",
        "",
        "invalid_request",
        "subject_token_missing",
    )
    .await;
    assert_eq!(record["target"], "(subject_token not accepted)");
    let wrong_type = format!(
        "grant_type={EXCHANGE}&subject_token={root}\
         &subject_token_type=urn:ietf:params:oauth:token-type:refresh_token"
    );
    refused_form(
        &t,
        &worker,
        &wrong_type,
        "invalid_request",
        "subject_token_type_unsupported",
    )
    .await;
    let untyped = format!("grant_type={EXCHANGE}&subject_token={root}");
    refused_form(
        &t,
        &worker,
        &untyped,
        "invalid_request",
        "subject_token_type_unsupported",
    )
    .await;
    refused(
        &t,
        &worker,
        &root,
        "&requested_token_type=urn:ietf:params:oauth:token-type:refresh_token",
        "invalid_request",
        "requested_token_type_unsupported",
    )
    .await;
    refused(
        &t,
        &worker,
        &root,
        "&resource=https://api.example.com",
        "invalid_target",
        "resource_unsupported",
    )
    .await;
    // Expired: at its exp it is no longer valid.
    t.clock.advance(300);
    refused(
        &t,
        &worker,
        &root,
        "",
        "invalid_request",
        "subject_token_invalid",
    )
    .await;
}

#[tokio::test]
async fn only_agents_may_exchange() {
    let t = TestIssuer::new().await;
    let svc = service(&t, "svc.x", "read").await;
    let other = service(&t, "svc.y", "read").await;
    let root = svc.token(&t).await;
    let record = refused(&t, &other, &root, "", "unauthorized_client", "not_an_agent").await;
    assert_eq!(record["target"], "(subject_token not accepted)");
    // Client authentication comes first: a wrong secret is invalid_client, recorded as such.
    let body =
        format!("grant_type={EXCHANGE}&subject_token={root}&subject_token_type={ACCESS_TOKEN}");
    let reply = t
        .post_form("/oauth/token", &body, Some(("svc.y", "wrong")))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "invalid_client");
}

#[tokio::test]
async fn may_act_must_name_the_agent() {
    let t = TestIssuer::new().await;
    let worker = agent(&t, "agent.worker", "read").await;
    agent(&t, "agent.other", "read").await;
    service(&t, "svc.m", "read").await;
    let for_other = signed_by_issuer(
        &t,
        ISSUER,
        "svc.m",
        json!({"client_id": "svc.m", "scope": "read", "sub_profile": "service",
               "may_act": {"sub": "agent.other"}}),
    )
    .await;
    refused(
        &t,
        &worker,
        &for_other,
        "",
        "invalid_grant",
        "may_act_mismatch",
    )
    .await;
    let other_issuer = signed_by_issuer(
        &t,
        ISSUER,
        "svc.m",
        json!({"client_id": "svc.m", "scope": "read", "sub_profile": "service",
               "may_act": {"sub": "agent.worker", "iss": "https://elsewhere.test"}}),
    )
    .await;
    refused(
        &t,
        &worker,
        &other_issuer,
        "",
        "invalid_grant",
        "may_act_mismatch",
    )
    .await;
    let malformed = signed_by_issuer(
        &t,
        ISSUER,
        "svc.m",
        json!({"client_id": "svc.m", "scope": "read", "sub_profile": "service",
               "may_act": "agent.worker"}),
    )
    .await;
    refused(
        &t,
        &worker,
        &malformed,
        "",
        "invalid_grant",
        "may_act_mismatch",
    )
    .await;
    let for_worker = signed_by_issuer(
        &t,
        ISSUER,
        "svc.m",
        json!({"client_id": "svc.m", "scope": "read", "sub_profile": "service",
               "may_act": {"sub": "agent.worker", "iss": ISSUER}}),
    )
    .await;
    let token = exchanged(&t, &worker, &for_worker, "").await;
    assert_eq!(segment(&token, 1)["sub"], "svc.m");
}

#[tokio::test]
async fn a_subject_without_sub_profile_gets_its_clients_kind() {
    let t = TestIssuer::new().await;
    let worker = agent(&t, "agent.worker", "read").await;
    agent(&t, "agent.old", "read").await;
    // A token minted before tokens said what their subject is.
    let old_agent = signed_by_issuer(
        &t,
        ISSUER,
        "agent.old",
        json!({"client_id": "agent.old", "scope": "read"}),
    )
    .await;
    let token = exchanged(&t, &worker, &old_agent, "").await;
    assert_eq!(segment(&token, 1)["sub_profile"], "ai_agent");
    let unknown = signed_by_issuer(
        &t,
        ISSUER,
        "svc.gone",
        json!({"client_id": "svc.gone", "scope": "read"}),
    )
    .await;
    let token = exchanged(&t, &worker, &unknown, "").await;
    assert_eq!(segment(&token, 1)["sub_profile"], "service");
}

#[tokio::test]
async fn loops_are_refused() {
    let t = TestIssuer::new().await;
    let c = chain(&t).await;
    // An agent exchanging its own token: it would act for itself.
    let own = c.planner.token(&t).await;
    assert_eq!(segment(&own, 1)["sub_profile"], "ai_agent");
    refused(&t, &c.planner, &own, "", "invalid_grant", "delegation_loop").await;
    // The planner already acts in the coder's token's chain.
    let record = refused(
        &t,
        &c.planner,
        &c.second,
        "&scope=repo:read:x",
        "invalid_grant",
        "delegation_loop",
    )
    .await;
    assert_eq!(record["target"], jti(&c.second));
    // The coder, outermost already, cannot add itself again either.
    refused(
        &t,
        &c.coder,
        &c.second,
        "&scope=repo:read:x",
        "invalid_grant",
        "delegation_loop",
    )
    .await;
}

#[tokio::test]
async fn chains_deeper_than_the_limit_are_refused_never_truncated() {
    let mut t = TestIssuer::new().await;
    t.state.max_delegation_depth = 2;
    let svc = service(&t, "svc.d", "read").await;
    let a1 = agent(&t, "agent.one", "read").await;
    let a2 = agent(&t, "agent.two", "read").await;
    let a3 = agent(&t, "agent.three", "read").await;
    let root = svc.token(&t).await;
    let first = exchanged(&t, &a1, &root, "").await;
    let second = exchanged(&t, &a2, &first, "").await;
    let record = refused(&t, &a3, &second, "", "invalid_grant", "delegation_too_deep").await;
    assert!(
        record["detail"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains('3') && r.contains('2')),
        "{record}"
    );
    // The default allows four.
    t.state.max_delegation_depth = verifier_core::defaults::DEFAULT_MAX_DELEGATION_DEPTH;
    let third = exchanged(&t, &a3, &second, "").await;
    assert_eq!(
        segment(&third, 1)["ancestor_jtis"].as_array().map(Vec::len),
        Some(3)
    );
}

#[tokio::test]
async fn the_audience_is_the_agents_own() {
    let t = TestIssuer::new().await;
    let svc = service(&t, "svc.aud", "read").await;
    let worker = agent(&t, "agent.worker", "read").await;
    let root = svc.token(&t).await;
    refused(
        &t,
        &worker,
        &root,
        "&audience=payments",
        "invalid_target",
        "audience_not_allowed",
    )
    .await;
    let token = exchanged(&t, &worker, &root, "&audience=quantjourney").await;
    assert_eq!(segment(&token, 1)["aud"], "quantjourney");
}

#[tokio::test]
async fn an_actor_token_must_be_the_agents_own_and_undelegated() {
    let t = TestIssuer::new().await;
    let c = chain(&t).await;
    let third = agent(&t, "agent.third", "repo:read:*").await;
    let own = third.token(&t).await;
    let with_actor =
        |actor: &str, kind: &str| format!("&actor_token={actor}&actor_token_type={kind}");

    let token = exchanged(
        &t,
        &third,
        &c.first,
        &(with_actor(&own, ACCESS_TOKEN) + "&scope=repo:read:x"),
    )
    .await;
    assert_eq!(segment(&token, 1)["client_id"], "agent.third");
    let planners = c.planner.token(&t).await;
    // Another client's token; a delegated token, even one held by this agent; no token at all.
    for actor in [planners.as_str(), token.as_str(), "garbage"] {
        refused(
            &t,
            &third,
            &c.first,
            &(with_actor(actor, ACCESS_TOKEN) + "&scope=repo:read:x"),
            "invalid_request",
            "actor_token_invalid",
        )
        .await;
    }
    // A revoked one of its own.
    let revoked = third.token(&t).await;
    revoke(&t, &third, &revoked).await;
    refused(
        &t,
        &third,
        &c.first,
        &(with_actor(&revoked, ACCESS_TOKEN) + "&scope=repo:read:x"),
        "invalid_request",
        "actor_token_invalid",
    )
    .await;
    // The type goes with the token, and only with it.
    for extra in [
        format!("&actor_token={own}&scope=repo:read:x"),
        format!("&actor_token_type={ACCESS_TOKEN}&scope=repo:read:x"),
        with_actor(&own, "urn:ietf:params:oauth:token-type:id_token") + "&scope=repo:read:x",
    ] {
        refused(
            &t,
            &third,
            &c.first,
            &extra,
            "invalid_request",
            "actor_token_type_invalid",
        )
        .await;
    }
    let _ = c.svc;
}

#[tokio::test]
async fn revoking_a_subject_token_refuses_its_exchange() {
    let t = TestIssuer::new().await;
    let svc = service(&t, "svc.r", "read").await;
    let worker = agent(&t, "agent.worker", "read").await;
    let root = svc.token(&t).await;
    revoke(&t, &svc, &root).await;
    refused(
        &t,
        &worker,
        &root,
        "",
        "invalid_request",
        "subject_token_revoked",
    )
    .await;
    // Every token of the subject's client revoked (issued before the revocation time).
    let other = svc.token(&t).await;
    let admin = t.admin_token().await;
    let revoked = t
        .admin_call(
            "POST",
            "/admin/clients/svc.r/revoke-tokens",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    refused(
        &t,
        &worker,
        &other,
        "",
        "invalid_request",
        "subject_client_revoked",
    )
    .await;
}

#[tokio::test]
async fn revoking_the_root_revokes_every_token_exchanged_from_it() {
    let t = TestIssuer::new().await;
    let c = chain(&t).await;
    let fourth = agent(&t, "agent.fourth", "repo:read:*").await;
    assert_eq!(live(&t).await, [jti(&c.first), jti(&c.second)]);
    revoke(&t, &c.svc, &c.root).await;

    // The depth-2 token can no longer be exchanged, nor the depth-1 one.
    let record = refused(
        &t,
        &fourth,
        &c.second,
        "&scope=repo:read:x",
        "invalid_request",
        "ancestor_revoked",
    )
    .await;
    assert!(
        record["detail"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&jti(&c.root))),
        "{record}"
    );
    assert_eq!(
        record["target"],
        jti(&c.second),
        "recorded against the subject token"
    );
    refused(
        &t,
        &fourth,
        &c.first,
        "&scope=repo:read:x",
        "invalid_request",
        "ancestor_revoked",
    )
    .await;
    // Introspection: every descendant inactive.
    for token in [&c.root, &c.first, &c.second] {
        assert_eq!(
            t.introspect(token, c.svc.id, &c.svc.secret).await,
            json!({"active": false})
        );
    }
    assert_eq!(live(&t).await, Vec::<String>::new());
    // Gateways: the feed lists only the root, and that is enough for them.
    let feed = text(&t.get(t.public(), "/oauth/revocations").await);
    let revocations =
        verifier_core::Revocations::parse(feed.as_bytes(), ISSUER, 1 << 20).expect("feed");
    let claims = segment(&c.second, 1);
    let ancestors: Vec<&str> = claims["ancestor_jtis"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        revocations.check_chain(
            "svc.orders",
            ancestors,
            ["agent.coder", "agent.planner"],
            claims["iat"].as_f64()
        ),
        Some(verifier_core::Revoked::Ancestor)
    );
}

#[tokio::test]
async fn revoking_a_middle_token_revokes_its_branch_only() {
    let t = TestIssuer::new().await;
    let c = chain(&t).await;
    let sibling = exchanged(&t, &c.planner, &c.root, "&scope=orders:read").await;
    // The admin revokes the planner's first token by jti, as the UI does for a branch.
    let admin = t.admin_token().await;
    let body = json!({"jti": jti(&c.first), "exp": START + 300, "client_id": "agent.planner"});
    let reply = t
        .admin_call("POST", "/admin/revocations", Some(&admin), Some(&body))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    for token in [&c.first, &c.second] {
        assert_eq!(
            t.introspect(token, c.svc.id, &c.svc.secret).await["active"],
            false
        );
    }
    for token in [&c.root, &sibling] {
        assert_eq!(
            t.introspect(token, c.svc.id, &c.svc.secret).await["active"],
            true
        );
    }
    assert_eq!(live(&t).await, [jti(&sibling)]);
}

#[tokio::test]
async fn a_revoked_agent_revokes_every_chain_it_acts_in() {
    let t = TestIssuer::new().await;
    let c = chain(&t).await;
    let fourth = agent(&t, "agent.fourth", "repo:read:*").await;
    let admin = t.admin_token().await;
    let reply = t
        .admin_call(
            "POST",
            "/admin/clients/agent.planner/revoke-tokens",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    // The coder's token names the planner in its chain: refused, and inactive.
    let record = refused(
        &t,
        &fourth,
        &c.second,
        "&scope=repo:read:x",
        "invalid_request",
        "chain_client_revoked",
    )
    .await;
    assert!(
        record["detail"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("agent.planner")),
        "{record}"
    );
    // The planner's own delegated token: its client is revoked.
    refused(
        &t,
        &fourth,
        &c.first,
        "&scope=repo:read:x",
        "invalid_request",
        "subject_client_revoked",
    )
    .await;
    for token in [&c.first, &c.second] {
        assert_eq!(
            t.introspect(token, c.svc.id, &c.svc.secret).await,
            json!({"active": false})
        );
    }
    assert_eq!(
        t.introspect(&c.root, c.svc.id, &c.svc.secret).await["active"],
        true
    );
    assert_eq!(live(&t).await, Vec::<String>::new());
}

#[tokio::test]
async fn disabling_an_agent_revokes_its_chains_and_tells_the_gateways() {
    let t = TestIssuer::new().await;
    let c = chain(&t).await;
    let admin = t.admin_token().await;
    let reply = t
        .admin_call(
            "POST",
            "/admin/clients/agent.planner/disable",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    for token in [&c.first, &c.second] {
        assert_eq!(
            t.introspect(token, c.svc.id, &c.svc.secret).await,
            json!({"active": false})
        );
    }
    let feed = t.get(t.public(), "/oauth/revocations").await.json();
    assert_eq!(
        feed["clients"],
        json!([{"client_id": "agent.planner", "revoked_before": START + 2}])
    );
    let record = audit_records(&t)
        .await
        .into_iter()
        .rev()
        .find(|r| r["action"] == "admin.client.disabled")
        .expect("disable record");
    assert_eq!(record["target"], "agent.planner");
    assert_eq!(record["detail"]["revoked_before"], START + 2);
    assert_eq!(live(&t).await, Vec::<String>::new());
    // The disabled agent can no longer authenticate, so it exchanges nothing more.
    let reply = exchange(&t, &c.planner, &c.root, "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // Disabling a service leaves its tokens as they were (revoke them explicitly).
    let admin = t.admin_token().await;
    let reply = t
        .admin_call(
            "POST",
            "/admin/clients/svc.orders/disable",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        t.introspect(&c.root, c.coder.id, &c.coder.secret).await["active"],
        true
    );
    let record = audit_records(&t)
        .await
        .into_iter()
        .rev()
        .find(|r| r["action"] == "admin.client.disabled")
        .expect("disable record");
    assert_eq!(record["detail"], json!({}));
}

#[tokio::test]
async fn agents_are_registered_and_listed_with_their_kind() {
    let t = TestIssuer::new().await;
    let admin = t.admin_token().await;
    let created = t
        .admin_call(
            "POST",
            "/admin/clients",
            Some(&admin),
            Some(&json!({"client_id": "agent.ui", "kind": "agent", "scope": "read"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", text(&created));
    assert_eq!(created.json()["kind"], "agent");
    let service = t
        .admin_call(
            "POST",
            "/admin/clients",
            Some(&admin),
            Some(&json!({"client_id": "svc.ui", "scope": "read"})),
        )
        .await;
    assert_eq!(service.json()["kind"], "service");
    let bad = t
        .admin_call(
            "POST",
            "/admin/clients",
            Some(&admin),
            Some(&json!({"client_id": "x.ui", "kind": "robot", "scope": "read"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let listed = t
        .admin_call("GET", "/admin/clients", Some(&admin), None)
        .await
        .json();
    let kinds: Vec<(&str, &str)> = listed
        .as_array()
        .map(|clients| {
            clients
                .iter()
                .map(|c| {
                    (
                        c["client_id"].as_str().unwrap_or_default(),
                        c["kind"].as_str().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(kinds, [("agent.ui", "agent"), ("svc.ui", "service")]);
    let record = audit_records(&t)
        .await
        .into_iter()
        .find(|r| r["action"] == "admin.client.created" && r["target"] == "agent.ui")
        .expect("record");
    assert_eq!(record["detail"]["kind"], "agent");

    // An agent's own client credentials token says what it is.
    let secret = created.json()["client_secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let own = t.token("agent.ui", &secret, "").await;
    assert_eq!(segment(&own, 1)["sub_profile"], "ai_agent");
    assert!(segment(&own, 1).get("act").is_none());
}

#[tokio::test]
async fn the_delegations_endpoint_is_for_admins_only() {
    let t = TestIssuer::new().await;
    let reply = t.admin_call("GET", "/admin/delegations", None, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let public = t.get(t.public(), "/admin/delegations").await;
    assert_eq!(public.status, StatusCode::NOT_FOUND);
    let empty = admin_delegations(&t).await;
    assert_eq!(
        empty,
        json!({"now": START, "tokens": [], "truncated": false})
    );
}

#[tokio::test]
async fn discovery_lists_the_grant() {
    let t = TestIssuer::new().await;
    let doc = t
        .get(t.public(), "/.well-known/oauth-authorization-server")
        .await
        .json();
    let grants = doc["grant_types_supported"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(grants.contains(&json!(EXCHANGE)), "{doc}");
}
