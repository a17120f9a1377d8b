//! Delegation chains through real Envoy (two workers) with the real issuer: a service's token
//! exchanged by an agent, that one by a sub-agent (RFC 8693), checked by the filter with the
//! demo's configuration (`envoy/envoy.yaml`): the actor headers, the gateway's own depth limit
//! below the issuer's, the actor allow-list, `human_root`, a provider that accepts no
//! delegation, a loop, a chain nested past the JSON limit, and cascade revocation: revoking the
//! middle of a chain refuses it and everything below it within the revocation bound, while the
//! parent and a sibling branch keep working. One stack serves every case.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use e2e_tests::{Stack, StackOptions, demo_filter_config};
use serde_json::{Value, json};
use verifier_testkit::{Signer, act, jwks};

/// The feed's refresh interval in this test, and the slack on top of it for a revocation to
/// reach both workers (the fetch, the other worker's next tick, a loaded machine).
const REFRESH_SECONDS: u64 = 1;
const SLACK: Duration = Duration::from_secs(6);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// The key of provider `lab`, which signs the chains the issuer would never mint (a loop, a
/// person at the root, a chain nested too deep).
fn lab() -> Signer {
    Signer::es256(41)
}

/// The demo's configuration, with a faster feed, and two more providers: `strict` (the issuer,
/// no delegation) on `/strict/`, and `lab` (local keys, delegation) on `/lab/` with
/// `/lab/approvals` requiring a person at the root.
fn stack() -> Stack {
    Stack::start(StackOptions::default().filter_config(|issuer| {
        let mut config = demo_filter_config(issuer);
        config["providers"]["local"]["revocations"]["refresh_seconds"] = json!(REFRESH_SECONDS);
        let mut strict = config["providers"]["local"].clone();
        let strict_map = strict.as_object_mut().expect("provider");
        strict_map.remove("delegation");
        strict_map.remove("revocations");
        config["providers"]["strict"] = strict;
        config["providers"]["lab"] = json!({
            "issuer": "https://lab.test",
            "audiences": ["quantjourney"],
            "algorithms": ["ES256"],
            "local_jwks": jwks(&[lab().jwk()]),
            "delegation": {"max_depth": 4},
        });
        let rules = config["rules"].as_array_mut().expect("rules");
        let catch_all = rules.pop().expect("catch-all");
        rules.push(json!({"match": {"prefix": "/strict/"}, "requires": {"provider": "strict"}}));
        rules.push(json!({"match": {"prefix": "/lab/approvals"},
                          "requires": {"provider": "lab", "human_root": true}}));
        rules.push(json!({"match": {"prefix": "/lab/"}, "requires": {"provider": "lab"}}));
        rules.push(catch_all);
        config
    }))
}

/// A `lab` token for principal `sub` (of profile `profile`) through `actors`, outermost first.
fn lab_token(sub: &str, profile: &str, actors: &[&str]) -> String {
    let t = now();
    lab().token(&json!({
        "iss": "https://lab.test", "sub": sub, "sub_profile": profile,
        "aud": "quantjourney", "client_id": actors[0], "iat": t, "exp": t + 300,
        "jti": format!("lab-{t}-{}", actors.join("-")), "scope": "instruments:read",
        "act": act(actors), "ancestor_jtis": ["lab-parent"],
    }))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Sends `GET target` `n` times with a unique query (so that both workers and the cache see it)
/// and returns the statuses.
fn statuses(stack: &Stack, method: &str, target: &str, token: &str, n: usize) -> Vec<u16> {
    (0..n)
        .map(|i| {
            let sep = if target.contains('?') { '&' } else { '?' };
            let target = format!("{target}{sep}n={i}-{}", now());
            stack
                .request(method, &target, &[("authorization", &bearer(token))], b"")
                .status
        })
        .collect()
}

#[test]
fn delegation_chains_are_enforced_at_the_gateway_and_revoked_in_cascade() {
    let stack = stack();
    let issuer = stack.issuer();
    let service = stack.create_client("svc.warehouse", "instruments:read orders:*", "quantjourney");
    let planner = issuer.create_agent("agent.planner", "instruments:read orders:*", "quantjourney");
    let pricer = issuer.create_agent(
        "agent.pricer",
        "instruments:read orders:write",
        "quantjourney",
    );
    let other = issuer.create_agent("agent.other", "instruments:read", "quantjourney");

    let root = stack.token(&service);
    let middle = issuer.exchanged(&planner, &root, Some("instruments:read orders:write"));
    let leaf = issuer.exchanged(&pricer, &middle, None);
    let sibling = issuer.exchanged(&other, &root, Some("instruments:read"));

    // service → agent → sub-agent: accepted, the principal as subject, the actors in headers;
    // spoofed actor headers are replaced. Repeated, so both workers and their caches answer.
    for i in 0..6 {
        let target = format!("/api/v1/instruments?i={i}");
        let response = stack.get(
            &target,
            &[
                ("authorization", &bearer(&leaf)),
                ("x-auth-actor", "agent.spoofed"),
                ("x-auth-actor-chain", "agent.spoofed"),
            ],
        );
        let headers = stack.echoed_headers(&response);
        let header = |name: &str| headers.get(name).and_then(Value::as_str).map(str::to_owned);
        assert_eq!(header("x-auth-subject").as_deref(), Some("svc.warehouse"));
        assert_eq!(header("x-auth-client-id").as_deref(), Some("agent.pricer"));
        assert_eq!(header("x-auth-actor").as_deref(), Some("agent.pricer"));
        assert_eq!(
            header("x-auth-actor-chain").as_deref(),
            Some("agent.pricer,agent.planner")
        );
    }
    let direct = stack.get(
        "/api/v1/instruments?direct",
        &[("authorization", &bearer(&root))],
    );
    let headers = stack.echoed_headers(&direct);
    assert!(!headers.contains_key("x-auth-actor") && !headers.contains_key("x-auth-actor-chain"));

    // The gateway's own depth limit (1 on POST /api/v1/orders) is below the issuer's (4).
    let orders = "/api/v1/orders";
    assert_eq!(statuses(&stack, "POST", orders, &middle, 2), [200, 200]);
    let refused = stack.post(
        &format!("{orders}?deep"),
        &[("authorization", &bearer(&leaf))],
        b"",
    );
    stack.assert_denied(
        &refused,
        &format!("{orders}?deep"),
        403,
        "delegation_too_deep",
    );

    // The actor allow-list: agent.pricer acting directly for the service is not agent.planner.
    let unlisted = issuer.exchanged(&pricer, &root, Some("orders:write"));
    let refused = stack.post(
        &format!("{orders}?actor"),
        &[("authorization", &bearer(&unlisted))],
        b"",
    );
    stack.assert_denied(
        &refused,
        &format!("{orders}?actor"),
        403,
        "actor_not_allowed",
    );

    // human_root: a service at the root is refused; a person at the root passes.
    let refused = stack.get(
        "/api/v1/approvals?svc",
        &[("authorization", &bearer(&middle))],
    );
    stack.assert_denied(
        &refused,
        "/api/v1/approvals?svc",
        403,
        "human_root_required",
    );
    let person = lab_token("alice", "user", &["agent.planner"]);
    assert_eq!(
        statuses(&stack, "GET", "/lab/approvals", &person, 2),
        [200, 200]
    );
    let service_rooted = lab_token("svc.x", "service", &["agent.planner"]);
    let refused = stack.get(
        "/lab/approvals?svc",
        &[("authorization", &bearer(&service_rooted))],
    );
    stack.assert_denied(&refused, "/lab/approvals?svc", 403, "human_root_required");

    // A loop the issuer would never mint, and a chain nested past the JSON depth limit: refused,
    // and the filter's VMs live on (the next requests on both workers pass).
    let looped = lab_token("svc.x", "service", &["agent.a", "agent.b", "agent.a"]);
    let refused = stack.get("/lab/loop", &[("authorization", &bearer(&looped))]);
    stack.assert_denied(&refused, "/lab/loop", 401, "delegation_loop");
    let nested = "{\"sub\":\"a\",\"act\":".repeat(299) + "{\"sub\":\"a\"}" + &"}".repeat(299);
    let deep = lab().token_with_raw_claim("act", &nested);
    let refused = stack.get("/lab/deep", &[("authorization", &bearer(&deep))]);
    stack.assert_denied(&refused, "/lab/deep", 401, "token_malformed");
    assert_eq!(statuses(&stack, "GET", "/lab/after", &person, 4), [200; 4]);

    // A provider without `delegation` refuses every delegated token, not the plain one.
    let refused = stack.get("/strict/x", &[("authorization", &bearer(&middle))]);
    stack.assert_denied(&refused, "/strict/x", 403, "delegation_not_allowed");
    assert_eq!(statuses(&stack, "GET", "/strict/y", &root, 2), [200, 200]);

    // Cascade: agent.planner revokes the middle of the chain (RFC 7009). The middle and the leaf
    // below it are refused at the gateway within the revocation bound, cached or not; the
    // parent and the sibling branch keep working.
    for token in [&root, &middle, &leaf, &sibling] {
        assert_eq!(
            statuses(&stack, "GET", "/api/v1/before", token, 2),
            [200, 200]
        );
    }
    let revoke = issuer.request(
        "POST",
        "/oauth/revoke",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            (
                "Authorization",
                &basic(&planner.client_id, &planner.client_secret),
            ),
        ],
        format!("token={middle}").as_bytes(),
    );
    assert_eq!(revoke.status, 200, "{revoke:?}");
    let start = Instant::now();
    loop {
        let refused = [&middle, &leaf].iter().all(|t| {
            statuses(&stack, "GET", "/api/v1/after", t, 4)
                .iter()
                .all(|s| *s == 401)
        });
        if refused {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(REFRESH_SECONDS) + SLACK,
            "the revoked middle and its descendant still pass\n{}",
            stack.envoy().log().tail_without_banner(40)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let response = stack.get("/api/v1/leaf", &[("authorization", &bearer(&leaf))]);
    stack.assert_denied(&response, "/api/v1/leaf", 401, "token_revoked");
    for token in [&root, &sibling] {
        assert_eq!(statuses(&stack, "GET", "/api/v1/after", token, 4), [200; 4]);
    }
    // And the issuer agrees: the leaf is no longer active, and cannot be exchanged further.
    let refused = issuer.exchange(&other, &leaf, Some("instruments:read"));
    assert_eq!(refused.status, 400, "{refused:?}");
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let pair = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}
