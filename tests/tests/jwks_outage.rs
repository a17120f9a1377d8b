//! One JWKS per Envoy, `Cache-Control: max-age`, and outages: with two workers (three VMs with
//! the main thread's) the issuer sees one fetch per refresh, not one per VM; when the endpoint
//! goes down, the last good keys serve for the stale period and then the provider fails closed
//! (503), cached tokens included; when it comes back, tokens pass again. JWKS fetches are counted
//! by a relay in front of the issuer.

use std::time::{Duration, Instant};

use e2e_tests::{JwksRelay, Stack, StackOptions, default_filter_config};
use serde_json::json;

/// A stack whose JWKS goes through `relay`, with these `remote_jwks` settings.
fn stack(relay: &JwksRelay, remote: serde_json::Value) -> Stack {
    let stack = Stack::start(
        StackOptions::default()
            .jwks_cluster_port(relay.port())
            .filter_config(move |issuer| {
                let mut config = default_filter_config(issuer);
                let jwks = &mut config["providers"]["local"]["remote_jwks"];
                for (name, value) in remote.as_object().expect("an object") {
                    jwks[name] = value.clone();
                }
                config
            }),
    );
    relay.set_target(stack.issuer().public_addr());
    stack
}

/// Polls until `done` says yes; panics with the Envoy log after `limit`.
fn wait_until(stack: &Stack, limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}\n{}",
            stack.envoy().log().tail_without_banner(40)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The status and error code for a request with a freshly minted token (never in the cache, so
/// its signature is checked against whatever keys the filter holds).
fn fresh_token_outcome(stack: &Stack, client: &e2e_tests::Client, tag: &str) -> (u16, String) {
    let token = stack.token(client);
    let response = stack.get(
        &format!("/api/v1/instruments?{tag}"),
        &[("authorization", &format!("Bearer {token}"))],
    );
    (
        response.status,
        response.json_str("code").unwrap_or_default(),
    )
}

#[test]
fn one_fetch_per_envoy_and_max_age_shortens_the_refresh() {
    let relay = JwksRelay::start();
    // refresh_seconds alone would not fetch again for five minutes; the response says 5 s.
    relay.set_cache_control("public, max-age=5");
    let stack = stack(&relay, json!({"refresh_seconds": 300}));
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    wait_until(
        &stack,
        Duration::from_secs(20),
        "keys never arrived",
        || fresh_token_outcome(&stack, &client, "warm").0 == 200,
    );
    let start = Instant::now();
    let first = relay.fetches();
    // Three VMs share one schedule: the start costs one fetch (two if two VMs created the
    // shared schedule in the same instant), never one per VM.
    assert!(
        (1..=2).contains(&first),
        "{first} JWKS fetches at start for one Envoy with three VMs"
    );
    // max-age=5 makes the keys fresh for 5 s, refreshed at 90% of that.
    wait_until(
        &stack,
        Duration::from_secs(15),
        "no refresh within max-age",
        || relay.fetches() > first,
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(8),
        "refreshed after {elapsed:?}; max-age=5 asks for well under 8 s"
    );
    std::thread::sleep(Duration::from_secs(5));
    let refreshes = relay.fetches() - first;
    assert!(
        (1..=3).contains(&refreshes),
        "{refreshes} refreshes in ~{:?} with max-age=5: one per Envoy, not per VM",
        start.elapsed()
    );
    assert_eq!(fresh_token_outcome(&stack, &client, "after").0, 200);
    let fetches = stack
        .envoy()
        .stat("wasmcustom.verifier.jwks.local.fetches")
        .expect("admin stats");
    assert_eq!(fetches, Some(relay.fetches() as u64), "the fetch counter");
}

#[test]
fn an_outage_serves_the_last_keys_for_the_stale_period_then_fails_closed() {
    let relay = JwksRelay::start();
    let stack = stack(
        &relay,
        json!({"refresh_seconds": 1, "max_stale_seconds": 4}),
    );
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    wait_until(
        &stack,
        Duration::from_secs(20),
        "keys never arrived",
        || fresh_token_outcome(&stack, &client, "warm").0 == 200,
    );
    // A token the filter has verified and cached before the outage.
    let cached = stack.token(&client);
    let bearer = format!("Bearer {cached}");
    assert_eq!(
        stack
            .get("/api/v1/instruments?cached", &[("authorization", &bearer)])
            .status,
        200
    );

    relay.set_down(true);
    let down_at = Instant::now();
    let fetches = relay.fetches();
    // Keys are fresh for 1 s after the last fetch, then stale for 4 s: for the first 3 s of the
    // outage new tokens still pass.
    while down_at.elapsed() < Duration::from_secs(3) {
        let (status, code) = fresh_token_outcome(&stack, &client, "stale");
        assert_eq!(
            (status, code.as_str()),
            (200, ""),
            "{:?} into the outage\n{}",
            down_at.elapsed(),
            stack.envoy().log().tail_without_banner(30)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(relay.fetches() > fetches, "the filter kept retrying");
    assert_eq!(
        stack
            .envoy()
            .stat("wasmcustom.verifier.jwks.local.stale")
            .expect("admin stats"),
        Some(1),
        "the stale gauge"
    );
    assert!(
        stack
            .envoy()
            .log()
            .read()
            .contains("serving the last good keys"),
        "the stale period is logged"
    );

    // Then it fails closed: fresh tokens and the cached one alike get 503.
    wait_until(
        &stack,
        Duration::from_secs(6),
        "never failed closed",
        || fresh_token_outcome(&stack, &client, "expired").0 == 503,
    );
    let failed_after = down_at.elapsed();
    assert!(
        failed_after >= Duration::from_secs(4),
        "failed closed {failed_after:?} into the outage, before the 4 s stale period ended"
    );
    // Each worker drops expired keys on its own 100 ms tick: let every one of them have ticked.
    std::thread::sleep(Duration::from_millis(300));
    let (status, code) = fresh_token_outcome(&stack, &client, "expired-again");
    assert_eq!((status, code.as_str()), (503, "jwks_unavailable"));
    let response = stack.get(
        "/api/v1/instruments?cached-after",
        &[("authorization", &bearer)],
    );
    assert_eq!(
        (response.status, response.json_str("code").as_deref()),
        (503, Some("jwks_unavailable")),
        "a cached token does not outlive its keys"
    );
    assert!(!stack.upstream_received("/api/v1/instruments?cached-after"));

    // The endpoint recovers: retries (backoff capped by refresh_seconds) bring the keys back.
    relay.set_down(false);
    wait_until(&stack, Duration::from_secs(10), "never recovered", || {
        fresh_token_outcome(&stack, &client, "recovered").0 == 200
    });
    // Every worker adopts the keys within a tick of the timer.
    wait_until(
        &stack,
        Duration::from_secs(2),
        "a worker kept failing",
        || {
            stack
                .get(
                    "/api/v1/instruments?cached-recovered",
                    &[("authorization", &bearer)],
                )
                .status
                == 200
        },
    );
}
