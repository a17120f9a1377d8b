//! Arbitrary bytes as a revocation feed: `Revocations::parse` for the fixture's issuer, and for a
//! feed it accepts, a lookup of every entry it lists. Nothing may panic; an accepted feed is JSON
//! that serde_json reads alike, every listed `jti` is revoked, and every listed client's tokens
//! are revoked exactly when issued before the latest `revoked_before` listed for it.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use verifier_core::Revocations;
use verifier_core::{Revoked, TokenRef};
use verifier_fuzz::ISSUER;

/// The limit the target parses with (well above libFuzzer's `-max_len`).
const MAX_BYTES: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let feed = match Revocations::parse(data, ISSUER, MAX_BYTES) {
        Ok(feed) => feed,
        Err(error) => {
            let _ = (error.code(), error.to_string());
            return;
        }
    };
    assert_eq!(feed.issuer(), ISSUER);
    assert_eq!(feed.len(), feed.tokens() + feed.clients());

    let value: Value = serde_json::from_slice(data).expect("an accepted feed is JSON");
    assert_eq!(value["iss"], ISSUER);
    let tokens = value["tokens"]
        .as_array()
        .expect("an accepted feed has tokens[]");
    let mut jtis: Vec<&str> = tokens
        .iter()
        .map(|t| t["jti"].as_str().expect("every token entry has a jti"))
        .collect();
    for &jti in &jtis {
        let token = TokenRef {
            jti: Some(jti),
            ..TokenRef::default()
        };
        assert_eq!(feed.check(&token), Some(Revoked::Token), "jti {jti:?}");
    }
    jtis.sort_unstable();
    jtis.dedup();
    assert_eq!(feed.tokens(), jtis.len(), "one entry per distinct jti");

    let mut latest: BTreeMap<&str, f64> = BTreeMap::new();
    for entry in value["clients"]
        .as_array()
        .expect("an accepted feed has clients[]")
    {
        let client = entry["client_id"]
            .as_str()
            .expect("every client entry has a client_id");
        let before = entry["revoked_before"]
            .as_f64()
            .expect("and a revoked_before");
        let kept = latest.entry(client).or_insert(before);
        *kept = kept.max(before);
    }
    assert_eq!(
        feed.clients(),
        latest.len(),
        "one entry per distinct client"
    );
    for (&client, &before) in &latest {
        let at = |iat: Option<f64>| {
            feed.check(&TokenRef {
                jti: None,
                client: Some(client),
                iat,
            })
        };
        assert!(
            matches!(at(None), Some(Revoked::Client { revoked_before }) if revoked_before == before),
            "client {client:?} without iat"
        );
        assert_eq!(
            at(Some(before)),
            None,
            "iat == revoked_before is not revoked"
        );
        assert_eq!(
            at(Some(0.0)).is_some(),
            before > 0.0,
            "iat 0 < revoked_before"
        );
    }
    // Nothing else is revoked: a name no entry uses, as a jti and as a client.
    let absent = "\u{0}absent";
    assert_eq!(
        feed.check(&TokenRef {
            jti: Some(absent),
            client: Some(absent),
            iat: None
        }),
        None
    );
});
