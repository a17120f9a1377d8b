//! Arbitrary bytes as a JWKS document: `Jwks::parse`, and for a set it accepts, key lookup
//! (`candidates`), signature checks with its keys, RFC 7638 thumbprints of its keys, and the
//! fixed tokens verified against it. Nothing may panic; `parse` and `from_value` must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use verifier_core::{Algorithm, Jwks};
use verifier_fuzz::{NOW, fixture, sample_tokens};
use verifier_testkit::public_jwk;

/// Keys checked one by one (lookup is checked for all): a set may hold 100 keys.
const PER_KEY: usize = 8;

fuzz_target!(|data: &[u8]| {
    let jwks = match Jwks::parse(data) {
        Ok(jwks) => jwks,
        Err(error) => {
            let _ = (error.code(), error.to_string());
            return;
        }
    };
    assert!(!jwks.keys.is_empty(), "an accepted JWKS has a usable key");

    // The strict parser accepted it, so serde_json does too, and the key set is the same.
    let value: Value = serde_json::from_slice(data).expect("an accepted JWKS is JSON");
    assert_eq!(
        Jwks::from_value(&value).as_ref(),
        Ok(&jwks),
        "Jwks::parse and Jwks::from_value disagree"
    );

    for alg in Algorithm::ALL {
        let admitted = jwks.keys.iter().filter(|k| k.admits(alg)).count();
        assert_eq!(jwks.candidates(None, alg).count(), admitted);
        for key in jwks.keys.iter().take(PER_KEY) {
            let kid = key.kid.as_deref();
            for candidate in jwks.candidates(kid, alg) {
                assert!(candidate.admits(alg));
                assert!(kid.is_none() || candidate.kid.as_deref() == kid);
            }
        }
    }
    for key in jwks.keys.iter().take(PER_KEY) {
        for alg in Algorithm::ALL.into_iter().filter(|&a| key.admits(a)) {
            // A forged signature never verifies, whatever its length.
            for len in [0, 64, 96] {
                assert!(!key.key.verify(alg, b"message", &vec![0x5a; len]));
            }
        }
    }

    // Thumbprints of the keys' public members, as the issuer computes the kid.
    if let Some(entries) = value["keys"].as_array() {
        for entry in entries.iter().take(PER_KEY) {
            if let Some(jwk) = public_jwk(entry) {
                let thumbprint = jwk.thumbprint();
                assert_eq!(
                    thumbprint.len(),
                    43,
                    "a SHA-256 thumbprint is 43 characters"
                );
                assert_eq!(thumbprint, jwk.clone().thumbprint());
            }
        }
    }

    // The fixed tokens against this key set, for a provider that allows their algorithms.
    let provider = fixture().provider("local");
    for token in sample_tokens() {
        let _ = verifier_core::verify(token, provider, &jwks, NOW);
    }
});
