//! Key rotation: the new key signs, old keys stay published, old tokens keep verifying.

mod common;

use common::{TestIssuer, segment};
use issuer::Store;
use issuer::clock::Clock;
use issuer::keys::{self, KeyError, SigningAlg, Urgency};

fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn status_of(t: &TestIssuer) -> Vec<(String, String)> {
    let listed = t.admin_get("/admin/keys").await.json();
    listed
        .as_array()
        .map(|keys| {
            keys.iter()
                .map(|k| {
                    (
                        k["kid"].as_str().unwrap_or_default().to_owned(),
                        k["status"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn rotate(t: &TestIssuer, urgency: Urgency) -> Result<String, KeyError> {
    let settings = &t.state.keys;
    keys::rotate(
        &t.state.store,
        settings.sealer.as_ref(),
        settings.alg,
        &settings.rotation,
        t.clock.now(),
        urgency,
    )
    .await
}

#[tokio::test]
async fn a_next_key_is_published_before_it_signs_and_the_old_key_stays_published() {
    let t = TestIssuer::new().await;
    let secret = t.client_with("svc.r", "read", "quantjourney", 3600).await;
    let old_token = t.token("svc.r", &secret, "").await;
    let old_kid = segment(&old_token, 0)["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // From the first start, the JWKS carries the current key and the next one.
    let statuses = status_of(&t).await;
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert_eq!(statuses[0], (old_kid.clone(), "current".to_owned()));
    assert_eq!(statuses[1].1, "next");
    let next_kid = statuses[1].0.clone();
    let reply = t.get(t.public(), "/.well-known/jwks.json").await;
    assert_eq!(kids(&reply.json()), [old_kid.clone(), next_kid.clone()]);
    assert_eq!(
        reply.header("cache-control"),
        Some("public, max-age=300"),
        "gateways cache the JWKS for exactly the publication lead"
    );

    // The next key may not sign until gateways have had a full max-age to fetch it.
    t.clock.advance(299);
    let early = rotate(&t, Urgency::Planned).await;
    assert!(
        matches!(early, Err(KeyError::NextNotReady { ready_at: Some(at) }) if at == common::START + 300),
        "{early:?}"
    );
    assert_eq!(status_of(&t).await[0].0, old_kid, "nothing changed");

    t.clock.advance(1);
    let new_kid = rotate(&t, Urgency::Planned).await.expect("rotate");
    assert_eq!(new_kid, next_kid, "the pre-published key takes over");

    let new_token = t.token("svc.r", &secret, "").await;
    assert_eq!(segment(&new_token, 0)["kid"], new_kid.as_str());

    let statuses = status_of(&t).await;
    assert_eq!(statuses.len(), 3, "{statuses:?}");
    assert_eq!(statuses[0], (new_kid.clone(), "current".to_owned()));
    assert_eq!(statuses[1].1, "next");
    assert_ne!(statuses[1].0, next_kid, "a fresh next key is published");
    assert_eq!(statuses[2], (old_kid.clone(), "retired".to_owned()));
    let listed = t.admin_get("/admin/keys").await.json();
    assert_eq!(listed[2]["retired_at"], common::START + 300);
    // Published until the longest-lived token it signed (TTL 3600) has expired, plus slack.
    assert_eq!(
        listed[2]["publish_until"],
        common::START + 300 + 3600 + keys::RETIRED_KEY_SLACK_SECS
    );

    // A token signed by the retired key is still genuine.
    let introspected = t.introspect(&old_token, "svc.r", &secret).await;
    assert_eq!(introspected["active"], true);
}

#[tokio::test]
async fn retired_keys_leave_the_jwks_once_their_tokens_have_expired() {
    let t = TestIssuer::new().await;
    t.client("svc.r", "read").await;
    let old_kid = status_of(&t).await[0].0.clone();
    t.clock.advance(300);
    rotate(&t, Urgency::Planned).await.expect("rotate");
    let settings = &t.state.keys;
    let maintain = |now| {
        keys::maintain(
            &t.state.store,
            settings.sealer.as_ref(),
            settings.alg,
            &settings.rotation,
            now,
        )
    };
    let until = common::START + 300 + 300 + keys::RETIRED_KEY_SLACK_SECS;
    let done = maintain(until - 1).await.expect("maintain");
    assert!(done.purged.is_empty());
    let done = maintain(until).await.expect("maintain");
    assert_eq!(done.purged, std::slice::from_ref(&old_kid));
    let jwks = t.get(t.public(), "/.well-known/jwks.json").await.json();
    assert!(!kids(&jwks).contains(&old_kid));
}

#[tokio::test]
async fn the_scheduler_rotates_after_a_full_period_only() {
    let t = TestIssuer::new().await;
    let first = status_of(&t).await;
    let settings = &t.state.keys;
    let maintain = |now| {
        keys::maintain(
            &t.state.store,
            settings.sealer.as_ref(),
            settings.alg,
            &settings.rotation,
            now,
        )
    };
    // The test policy rotates every hour.
    let done = maintain(common::START + 3599).await.expect("maintain");
    assert_eq!(done.rotated_to, None);
    let done = maintain(common::START + 3600).await.expect("maintain");
    assert_eq!(done.rotated_to.as_deref(), Some(first[1].0.as_str()));
    // Not again until the new key has signed for a full period.
    let done = maintain(common::START + 3601).await.expect("maintain");
    assert_eq!(done.rotated_to, None);
}

#[tokio::test]
async fn an_emergency_rotation_signs_with_a_fresh_key_at_once() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.r", "read").await;
    let before = status_of(&t).await;
    t.clock.advance(1);
    let kid = rotate(&t, Urgency::Emergency).await.expect("rotate");
    assert_ne!(kid, before[0].0);
    assert_ne!(
        kid, before[1].0,
        "not the pre-published key: it may be as exposed"
    );
    let token = t.token("svc.r", &secret, "").await;
    assert_eq!(segment(&token, 0)["kid"], kid.as_str());
    let after = status_of(&t).await;
    assert_eq!(after[0], (kid, "current".to_owned()));
    assert_eq!(after[1], before[1], "the next key is kept");
    assert_eq!(after[2], (before[0].0.clone(), "retired".to_owned()));
}

#[tokio::test]
async fn two_processes_rotating_at_once_rotate_once() {
    let t = TestIssuer::new().await;
    let other = Store::open(&t.url).await.expect("second store");
    t.clock.advance(300);
    let settings = &t.state.keys;
    let now = t.clock.now();
    let (a, b) = tokio::join!(
        keys::rotate(
            &t.state.store,
            settings.sealer.as_ref(),
            settings.alg,
            &settings.rotation,
            now,
            Urgency::Planned,
        ),
        keys::rotate(
            &other,
            settings.sealer.as_ref(),
            settings.alg,
            &settings.rotation,
            now,
            Urgency::Planned,
        ),
    );
    let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{a:?} {b:?}");
    // The loser either raced the winner's transaction (Concurrent) or started after it and
    // found a next key published a moment ago (NextNotReady); either way it changed nothing.
    assert!(
        [&a, &b]
            .iter()
            .any(|r| matches!(r, Err(KeyError::Concurrent | KeyError::NextNotReady { .. }))),
        "{a:?} {b:?}"
    );
    let statuses = status_of(&t).await;
    let count = |s: &str| statuses.iter().filter(|(_, st)| st == s).count();
    assert_eq!(
        (count("current"), count("next"), count("retired")),
        (1, 1, 1)
    );
    other.close().await;
}

#[tokio::test]
async fn changing_the_configured_algorithm_rotates_on_start() {
    let t = TestIssuer::new().await;
    let es256_kid = t
        .state
        .keyring
        .signer(&t.state.store)
        .await
        .expect("signer")
        .kid()
        .to_owned();
    let url = t.url.clone();
    let TestIssuer { db, state, .. } = t;
    state.store.close().await;

    let t = TestIssuer::open(db, url, SigningAlg::EdDsa).await;
    let secret = t.client("svc.e", "read").await;
    let token = t.token("svc.e", &secret, "").await;
    assert_eq!(segment(&token, 0)["alg"], "EdDSA");
    let jwks = t.get(t.public(), "/.well-known/jwks.json").await.json();
    assert!(
        kids(&jwks).contains(&es256_kid),
        "the ES256 key stays published"
    );
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");

    // Starting again with the same algorithm keeps the key.
    let url = t.url.clone();
    let current = t
        .state
        .keyring
        .signer(&t.state.store)
        .await
        .expect("signer")
        .kid()
        .to_owned();
    let TestIssuer { db, state, .. } = t;
    state.store.close().await;
    let t = TestIssuer::open(db, url, SigningAlg::EdDsa).await;
    let again = t
        .state
        .keyring
        .signer(&t.state.store)
        .await
        .expect("signer")
        .kid()
        .to_owned();
    assert_eq!(again, current);
}
