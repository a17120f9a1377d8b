//! Rotation without restarts: a token signed by a key the filter has not seen yet makes it fetch
//! the JWKS once and wait for it; made-up `kid`s cost at most one fetch per Envoy and cooldown.
//! JWKS fetches are counted by a relay in front of the issuer.

use std::time::{Duration, Instant};

use e2e_tests::{JwksRelay, Stack, StackOptions, jwt};

fn kid(token: &str) -> String {
    jwt::header(token)["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_rotated_key_is_accepted_at_once_and_unknown_kids_do_not_flood_the_issuer() {
    let relay = JwksRelay::start();
    let stack = Stack::start(StackOptions::default().jwks_cluster_port(relay.port()));
    relay.set_target(stack.issuer().public_addr());
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let old = stack.token(&client);
    let bearer = |t: &str| format!("Bearer {t}");

    // Fetches made before the relay had its target failed; wait until the keys are in.
    let deadline = Instant::now() + Duration::from_secs(20);
    while stack
        .get(
            "/api/v1/instruments?warm",
            &[("authorization", &bearer(&old))],
        )
        .status
        != 200
    {
        assert!(
            Instant::now() < deadline,
            "{}",
            stack.envoy().log().tail_without_banner(30)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let before = relay.fetches();

    stack.issuer().rotate_keys();
    let new = stack.token(&client);
    assert_ne!(
        kid(&new),
        kid(&old),
        "the issuer should sign with the new key"
    );

    let response = stack.get(
        "/api/v1/instruments?rotated",
        &[("authorization", &bearer(&new))],
    );
    assert_eq!(
        response.status,
        200,
        "{:?}\n{}",
        response.json_str("code"),
        stack.envoy().log().tail_without_banner(30)
    );
    assert_eq!(relay.fetches(), before + 1, "one fetch for the new kid");
    // The old key is still published (retired), so tokens it signed keep working.
    assert_eq!(
        stack
            .get(
                "/api/v1/instruments?old",
                &[("authorization", &bearer(&old))]
            )
            .status,
        200
    );

    // Made-up kids: refused, and within the cooldown nobody fetches again.
    for i in 0..20 {
        let forged = jwt::with_header(&new, |h| {
            h.insert("kid".into(), format!("made-up-{i}").into());
        });
        let response = stack.get(
            &format!("/api/v1/instruments?forged={i}"),
            &[("authorization", &bearer(&forged))],
        );
        assert_eq!(
            (response.status, response.json_str("code").as_deref()),
            (401, Some("kid_unknown"))
        );
    }
    // The rotated kid's fetch started the cooldown for the whole Envoy (two workers and the
    // main thread's VM share one schedule), so the made-up kids cost no fetch at all.
    assert_eq!(
        relay.fetches(),
        before + 1,
        "{} JWKS fetches for a rotation and 20 unknown kids; one is allowed",
        relay.fetches() - before
    );
}
