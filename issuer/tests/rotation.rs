//! Key rotation: the new key signs, old keys stay published, old tokens keep verifying.

mod common;

use common::{TestIssuer, segment};
use issuer::clock::Clock;
use issuer::keys::{self, SigningAlg};

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

#[tokio::test]
async fn rotation_switches_signer_and_keeps_old_key_published() {
    let t = TestIssuer::new().await;
    let secret = t.client("svc.r", "read").await;
    let old_token = t.token("svc.r", &secret, "").await;
    let old_kid = segment(&old_token, 0)["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    t.clock.advance(10);
    let sealer = t.state.keyring.sealer();
    let new_kid = keys::rotate(&t.state.store, sealer, SigningAlg::Es256, t.clock.now())
        .await
        .expect("rotate");
    assert_ne!(new_kid, old_kid);

    let new_token = t.token("svc.r", &secret, "").await;
    assert_eq!(segment(&new_token, 0)["kid"], new_kid.as_str());

    let jwks = t.get(t.public(), "/.well-known/jwks.json").await.json();
    assert_eq!(
        kids(&jwks),
        [new_kid.clone(), old_kid.clone()],
        "current first"
    );

    let listed = t.get(t.admin(), "/admin/keys").await.json();
    assert_eq!(listed[0]["kid"], new_kid.as_str());
    assert_eq!(listed[0]["status"], "current");
    assert_eq!(listed[1]["kid"], old_kid.as_str());
    assert_eq!(listed[1]["status"], "retired");
    assert_eq!(listed[1]["retired_at"], common::START + 10);

    // A token signed by the retired key is still genuine.
    let introspected = t.introspect(&old_token, "svc.r", &secret).await;
    assert_eq!(introspected["active"], true);
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
    let TestIssuer { dir, state, .. } = t;
    state.store.close().await;

    let t = TestIssuer::open(dir, url, SigningAlg::EdDsa).await;
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
    let TestIssuer { dir, state, .. } = t;
    state.store.close().await;
    let t = TestIssuer::open(dir, url, SigningAlg::EdDsa).await;
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
