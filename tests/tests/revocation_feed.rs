//! The revocation feed: Envoy polls a feed the test serves (cluster `revocations`, a
//! [`FeedServer`]) and refuses tokens it lists with 401 `token_revoked` within `refresh_seconds`
//! (plus the filter's 100 ms timer and the fetch), cached ones included; a client revocation
//! refuses that client's tokens issued before `revoked_before` and not the later ones; with no
//! usable feed (none yet, one for another issuer, or one older than `max_stale_seconds`) the
//! provider's tokens get 503, never a pass.

use std::time::{Duration, Instant};

use e2e_tests::{FeedServer, Stack, StackOptions, default_filter_config, jwt};
use serde_json::{Value, json};

/// How often the feed is fetched in these tests.
const REFRESH_SECONDS: u64 = 1;

/// Slack on top of `refresh_seconds` for a revocation to show: the fetch is due at 90 % of the
/// interval, the other workers adopt it on their next 100 ms tick, and a loaded CI machine adds
/// its share. Generous on purpose: this bounds correctness, it does not measure speed.
const SLACK: Duration = Duration::from_secs(4);

/// A stack whose provider `local` checks the feed served by `feed`, with these `revocations`
/// settings on top of `{cluster, path, refresh_seconds}`.
fn stack(feed: &FeedServer, settings: Value) -> Stack {
    Stack::start(
        StackOptions::default()
            .cluster("revocations", feed.port())
            .filter_config(move |issuer| {
                let mut config = default_filter_config(issuer);
                let mut revocations = json!({
                    "cluster": "revocations",
                    "path": "/oauth/revocations",
                    "refresh_seconds": REFRESH_SECONDS,
                });
                for (name, value) in settings.as_object().expect("an object") {
                    revocations[name] = value.clone();
                }
                config["providers"]["local"]["revocations"] = revocations;
                config
            }),
    )
}

/// A feed for the stack's issuer.
fn feed_doc(stack: &Stack, tokens: Value, clients: Value) -> Value {
    json!({
        "iss": stack.issuer_url(),
        "generated_at": now(),
        "tokens": tokens,
        "clients": clients,
    })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Polls until `done` says yes; panics with the Envoy log after `limit`. The time it took.
fn wait_until(
    stack: &Stack,
    limit: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "{what} (not within {limit:?})\n{}",
            stack.envoy().log().tail_without_banner(40)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

/// How long every request must have met a condition before the whole Envoy counts as having
/// seen a change: the worker that fetched adopts a feed at once, the others on their next
/// 100 ms timer tick, and a request may land on any of them.
const SETTLED: Duration = Duration::from_millis(500);

/// Polls `check` (given a fresh tag each time) until it has held for every request over
/// [`SETTLED`]; panics with the Envoy log if that has not happened within `limit`. How long it
/// took until the condition first held.
fn settle(
    stack: &Stack,
    limit: Duration,
    what: &str,
    mut check: impl FnMut(&str) -> bool,
) -> Duration {
    let start = Instant::now();
    let mut first = None;
    let mut since: Option<Instant> = None;
    for n in 0.. {
        if check(&format!("settle-{}-{n}", what.replace(' ', "-"))) {
            first.get_or_insert(start.elapsed());
            let held = *since.get_or_insert_with(Instant::now);
            if held.elapsed() >= SETTLED {
                break;
            }
        } else {
            since = None;
        }
        assert!(
            start.elapsed() < limit + SETTLED,
            "{what}: not settled within {limit:?}\n{}",
            stack.envoy().log().tail_without_banner(40)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    first.unwrap_or_default()
}

/// Status and code of `GET /api/v1/instruments?<tag>` with `token`.
fn outcome(stack: &Stack, token: &str, tag: &str) -> (u16, String) {
    let response = stack.get(
        &format!("/api/v1/instruments?{tag}"),
        &[("authorization", &format!("Bearer {token}"))],
    );
    (
        response.status,
        response.json_str("code").unwrap_or_default(),
    )
}

fn claim_str(token: &str, claim: &str) -> String {
    jwt::claims(token)[claim]
        .as_str()
        .unwrap_or_else(|| panic!("token has no string {claim}"))
        .to_owned()
}

fn claim_u64(token: &str, claim: &str) -> u64 {
    jwt::claims(token)[claim]
        .as_u64()
        .unwrap_or_else(|| panic!("token has no whole-second {claim}"))
}

fn stat(stack: &Stack, name: &str) -> u64 {
    stack
        .envoy()
        .stat(&format!("wasmcustom.verifier.{name}"))
        .expect("admin stats")
        .unwrap_or(0)
}

/// Waits until `token` passes on every worker: the first good feed has reached them all.
fn wait_accepted(stack: &Stack, token: &str) {
    settle(stack, Duration::from_secs(20), "accepted", |tag| {
        outcome(stack, token, tag).0 == 200
    });
}

#[test]
fn a_revoked_jti_is_refused_within_refresh_seconds() {
    let feed = FeedServer::start();
    let stack = stack(&feed, json!({}));
    feed.set_feed(&feed_doc(&stack, json!([]), json!([])));
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let token = stack.token(&client);
    let sibling = stack.token(&client);
    wait_accepted(&stack, &token);
    // Accepted a few more times, so each worker most likely holds it in its verified-token cache:
    // a revocation must reach cached tokens too.
    for i in 0..4 {
        assert_eq!(outcome(&stack, &token, &format!("cached-{i}")).0, 200);
    }

    let jti = claim_str(&token, "jti");
    feed.set_feed(&feed_doc(
        &stack,
        json!([{"jti": jti, "exp": claim_u64(&token, "exp")}]),
        json!([]),
    ));
    let limit = Duration::from_secs(REFRESH_SECONDS) + SLACK;
    let took = settle(&stack, limit, "revoked", |tag| {
        outcome(&stack, &token, tag).0 != 200
    });
    eprintln!("revocation first seen after {took:?}");
    // Every worker refuses it from now on, with the documented denial.
    for i in 0..6 {
        let target = format!("/api/v1/instruments?revoked-{i}");
        let response = stack.get(&target, &[("authorization", &format!("Bearer {token}"))]);
        let challenge = stack.assert_denied(&response, &target, 401, "token_revoked");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
    }
    // Only that token: the same client's other token still passes.
    assert_eq!(outcome(&stack, &sibling, "sibling"), (200, String::new()));

    wait_until(
        &stack,
        Duration::from_secs(5),
        "denials by code are counted",
        || stat(&stack, "denied.token_revoked") >= 6,
    );
    assert_eq!(stat(&stack, "revocations.local.entries"), 1);
    let fetches = stat(&stack, "revocations.local.fetches");
    assert!(fetches >= 2, "{fetches} feed fetches counted");
    assert!(
        fetches as usize <= feed.fetches(),
        "counted {fetches} fetches, the feed saw {}",
        feed.fetches()
    );
}

#[test]
fn a_client_revocation_refuses_its_older_tokens_only() {
    let feed = FeedServer::start();
    let stack = stack(&feed, json!({}));
    feed.set_feed(&feed_doc(&stack, json!([]), json!([])));
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let other = stack.create_client("svc.loader", "instruments:read", "quantjourney");
    let old = stack.token(&client);
    let other_old = stack.token(&other);
    wait_accepted(&stack, &old);

    // Revoke everything svc.warehouse was issued before the next second, then mint a token in
    // that second or later (iat is in whole seconds).
    let revoked_before = claim_u64(&old, "iat") + 1;
    let mut new = stack.token(&client);
    while claim_u64(&new, "iat") < revoked_before {
        std::thread::sleep(Duration::from_millis(100));
        new = stack.token(&client);
    }
    assert!(claim_u64(&new, "iat") >= revoked_before);
    feed.set_feed(&feed_doc(
        &stack,
        json!([]),
        json!([{"client_id": client.client_id, "revoked_before": revoked_before}]),
    ));
    settle(
        &stack,
        Duration::from_secs(REFRESH_SECONDS) + SLACK,
        "client revoked",
        |tag| outcome(&stack, &old, tag).0 != 200,
    );
    let target = "/api/v1/instruments?old";
    let response = stack.get(target, &[("authorization", &format!("Bearer {old}"))]);
    stack.assert_denied(&response, target, 401, "token_revoked");
    // issued at or after revoked_before: not revoked (iat == revoked_before in all likelihood,
    // the boundary itself).
    for i in 0..4 {
        assert_eq!(
            outcome(&stack, &new, &format!("new-{i}")),
            (200, String::new()),
            "a token with iat {} >= revoked_before {revoked_before}",
            claim_u64(&new, "iat")
        );
    }
    // Another client's token as old as the revoked one passes.
    assert_eq!(outcome(&stack, &other_old, "other"), (200, String::new()));
}

#[test]
fn without_a_feed_at_start_tokens_get_503_never_200() {
    let feed = FeedServer::start();
    // The feed answers 503 from the start.
    let stack = stack(&feed, json!({}));
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let token = stack.token(&client);
    wait_until(
        &stack,
        Duration::from_secs(10),
        "no feed fetch was tried",
        || feed.fetches() >= 1,
    );
    for i in 0..4 {
        let target = format!("/api/v1/instruments?no-feed-{i}");
        let response = stack.get(&target, &[("authorization", &format!("Bearer {token}"))]);
        stack.assert_denied(&response, &target, 503, "revocations_unavailable");
    }
    // A bad token is still a 401: the feed is only consulted for a token that verified.
    let forged = jwt::tamper_signature(&token);
    let target = "/api/v1/instruments?forged";
    let response = stack.get(target, &[("authorization", &format!("Bearer {forged}"))]);
    stack.assert_denied(&response, target, 401, "signature_invalid");
    wait_until(
        &stack,
        Duration::from_secs(5),
        "failed fetches are counted",
        || stat(&stack, "revocations.local.fetch_failures") >= 1,
    );

    // The feed comes up: the same token passes.
    feed.set_feed(&feed_doc(&stack, json!([]), json!([])));
    wait_accepted(&stack, &token);
}

#[test]
fn a_feed_for_another_issuer_is_a_failed_fetch_and_never_used() {
    // Another issuer's feed, which would revoke nothing, served from the start: refused, so
    // there is no feed at all.
    let foreign = |tokens: Value| json!({"iss": "http://127.0.0.1:1", "generated_at": now(), "tokens": tokens, "clients": []});
    let feed = FeedServer::start();
    feed.set_feed(&foreign(json!([])));
    let stack = stack(&feed, json!({}));
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let token = stack.token(&client);
    let jti = claim_str(&token, "jti");
    wait_until(
        &stack,
        Duration::from_secs(10),
        "a foreign feed was not counted as a failure",
        || stat(&stack, "revocations.local.fetch_failures") >= 1,
    );
    assert!(
        stack
            .envoy()
            .log()
            .read()
            .contains("revocations_issuer_mismatch"),
        "the refusal is logged with its code"
    );
    let target = "/api/v1/instruments?foreign-only";
    let response = stack.get(target, &[("authorization", &format!("Bearer {token}"))]);
    stack.assert_denied(&response, target, 503, "revocations_unavailable");

    // A good feed, then a foreign one that lists the token: the last good feed stays in use.
    feed.set_feed(&feed_doc(&stack, json!([]), json!([])));
    wait_accepted(&stack, &token);
    let failures = stat(&stack, "revocations.local.fetch_failures");
    feed.set_feed(&foreign(json!([{"jti": jti}])));
    let mut n = 0;
    wait_until(
        &stack,
        Duration::from_secs(10),
        "the foreign feed was not fetched and refused twice",
        || {
            n += 1;
            // Checked all along: the listed token is never refused.
            assert_eq!(
                outcome(&stack, &token, &format!("foreign-{n}")),
                (200, String::new()),
                "a foreign feed was used\n{}",
                stack.envoy().log().tail_without_banner(30)
            );
            stat(&stack, "revocations.local.fetch_failures") >= failures + 2
        },
    );
}

#[test]
fn a_feed_older_than_max_stale_seconds_fails_closed() {
    let feed = FeedServer::start();
    let max_stale = Duration::from_secs(4);
    let stack = stack(&feed, json!({"max_stale_seconds": max_stale.as_secs()}));
    feed.set_feed(&feed_doc(&stack, json!([]), json!([])));
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let token = stack.token(&client);
    wait_accepted(&stack, &token);

    feed.set_down(true);
    let down_at = Instant::now();
    // The last good feed was fetched less than a second ago: it serves for a while yet.
    assert_eq!(outcome(&stack, &token, "stale"), (200, String::new()));
    let polling_from = down_at.elapsed();
    let failed_after = polling_from
        + settle(&stack, max_stale + SLACK, "aged out", |tag| {
            outcome(&stack, &token, tag).0 == 503
        });
    // At most one interval before the outage began was the last good fetch.
    assert!(
        failed_after + Duration::from_secs(REFRESH_SECONDS) + Duration::from_millis(500)
            >= max_stale,
        "failed closed {failed_after:?} into the outage, before the feed was {max_stale:?} old"
    );
    let target = "/api/v1/instruments?expired";
    let response = stack.get(target, &[("authorization", &format!("Bearer {token}"))]);
    stack.assert_denied(&response, target, 503, "revocations_unavailable");
    assert!(stat(&stack, "revocations.local.expired") >= 1);

    feed.set_down(false);
    wait_accepted(&stack, &token);
}

#[test]
fn a_token_revoked_at_the_issuer_is_refused_within_refresh_seconds() {
    // The issuer's own feed (GET /oauth/revocations on its public port, cluster `issuer`).
    let stack = Stack::start(StackOptions::default().filter_config(|issuer| {
        let mut config = default_filter_config(issuer);
        config["providers"]["local"]["revocations"] = json!({
            "cluster": "issuer",
            "path": "/oauth/revocations",
            "refresh_seconds": REFRESH_SECONDS,
        });
        config
    }));
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let token = stack.token(&client);
    let sibling = stack.token(&client);
    wait_accepted(&stack, &token);

    // RFC 7009, client_secret_post.
    let form = e2e_tests::http::form_encode(&[
        ("token", token.as_str()),
        ("token_type_hint", "access_token"),
        ("client_id", client.client_id.as_str()),
        ("client_secret", client.client_secret.as_str()),
    ]);
    let revoked = stack.issuer().request(
        "POST",
        "/oauth/revoke",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    assert_eq!(revoked.status, 200, "POST /oauth/revoke: {revoked:?}");
    let took = settle(
        &stack,
        Duration::from_secs(REFRESH_SECONDS) + SLACK,
        "revoked at the issuer",
        |tag| outcome(&stack, &token, tag).0 != 200,
    );
    eprintln!("issuer revocation first seen after {took:?}");
    let target = "/api/v1/instruments?revoked-at-issuer";
    let response = stack.get(target, &[("authorization", &format!("Bearer {token}"))]);
    stack.assert_denied(&response, target, 401, "token_revoked");
    assert_eq!(outcome(&stack, &sibling, "sibling"), (200, String::new()));
}
