//! What an operator sees: Envoy counters for outcomes, error codes and the cache, a verification
//! time histogram, and one JSON log line per denial naming the code, kid, iss, sub and route —
//! never the token.

use std::time::Duration;

use e2e_tests::{Stack, StackOptions, jwt};

#[test]
fn denials_are_counted_and_logged_without_the_token() {
    let stack = Stack::start(StackOptions::default());
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let token = stack.token(&client);
    let bearer = format!("Bearer {token}");
    for i in 0..3 {
        let response = stack.get(
            &format!("/api/v1/instruments?ok={i}"),
            &[("authorization", &bearer)],
        );
        assert_eq!(response.status, 200);
    }
    let forged = jwt::with_claims(&token, |claims| {
        claims.insert("sub".into(), "svc.admin".into());
    });
    let response = stack.get(
        "/api/v1/instruments?forged",
        &[("authorization", &format!("Bearer {forged}"))],
    );
    assert_eq!(
        response.json_str("code").as_deref(),
        Some("signature_invalid")
    );
    let response = stack.post(
        "/api/v1/entities/register-bulk?scope",
        &[("authorization", &bearer)],
        b"{}",
    );
    assert_eq!(
        response.json_str("code").as_deref(),
        Some("insufficient_scope")
    );
    assert_eq!(stack.get("/api/v1/instruments?none", &[]).status, 401);

    // Counts reach Envoy on the filter's next timer tick (every 100 ms).
    std::thread::sleep(Duration::from_millis(400));
    let stat = |name: &str| {
        stack
            .envoy()
            .stat(&format!("wasmcustom.verifier.{name}"))
            .expect("admin stats")
            .unwrap_or(0)
    };
    // The stack's own readiness probe adds token_missing denials of its own.
    assert!(
        stat("requests.allowed") >= 3,
        "allowed {}",
        stat("requests.allowed")
    );
    assert_eq!(stat("denied.signature_invalid"), 1);
    assert_eq!(stat("denied.insufficient_scope"), 1);
    assert!(stat("denied.token_missing") >= 1);
    assert!(stat("requests.denied") >= 3);
    // Three workers' caches: the good token missed at most once per worker, then hit.
    assert!(stat("cache.hits") >= 1, "hits {}", stat("cache.hits"));
    assert!(stat("cache.misses") >= 2, "misses {}", stat("cache.misses"));
    let histograms = stack
        .envoy()
        .admin_get("/stats?filter=verifier.verify_us")
        .expect("admin stats")
        .text();
    assert!(histograms.contains("verify_us"), "{histograms}");

    let log = stack.envoy().log().read();
    assert!(!log.contains(&token), "a token reached the log");
    let line = |code: &str| -> serde_json::Value {
        let needle = format!("\"code\":\"{code}\"");
        let text = log
            .lines()
            .find(|l| l.contains("verifier.deny") && l.contains(&needle))
            .unwrap_or_else(|| panic!("no deny line for {code}:\n{log}"));
        let json = &text[text.find('{').expect("a JSON object")..];
        serde_json::from_str(json).expect("the deny line is JSON")
    };
    let kid = jwt::header(&token)["kid"].clone();
    let forged_line = line("signature_invalid");
    assert_eq!(forged_line["kid"], kid);
    assert_eq!(forged_line["route"], "/api/v1/instruments");
    assert_eq!(forged_line["status"], 401);
    assert!(
        forged_line["sub"].is_null(),
        "a forged token's claims are not logged as fact: {forged_line}"
    );
    let scope_line = line("insufficient_scope");
    assert_eq!(scope_line["sub"], "svc.warehouse");
    assert_eq!(scope_line["iss"], stack.issuer_url());
    assert_eq!(scope_line["method"], "POST");
    assert_eq!(scope_line["route"], "/api/v1/entities/register-bulk");
}
