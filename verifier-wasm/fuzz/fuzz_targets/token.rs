//! Arbitrary bytes as a bearer token: `Unverified::parse`, `verify` and `decide` on every route of
//! the fixed configuration. Nothing may panic, and `decide` must agree with `verify` and with
//! itself through the token cache (see `check_decision`).
//!
//! The fuzzer cannot forge a signature, so whatever passes the header checks is also signed
//! afresh with the fixture's key for the algorithm it names, and decided again: that reaches the
//! claim checks, the cache and the scope check with the header and payload the fuzzer wrote.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verifier_core::bearer_token;
use verifier_core::{Algorithm, Unverified};
use verifier_fuzz::{NOW, check_against_verify, check_decision, check_write, fixture};

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    // Envoy hands the filter header values as text; invalid UTF-8 never gets this far.
    let text = String::from_utf8_lossy(data);
    let authorization = format!("Bearer {text}");

    let _ = check_against_verify(f, "local", &authorization, NOW);
    let _ = check_against_verify(f, "third", &authorization, NOW);
    check_write(&f.config, &authorization, NOW);
    check_decision(&f.config, "GET", "/healthz", Some(&authorization), NOW);
    // The whole input as the Authorization value: the scheme parsing.
    check_decision(&f.config, "GET", "/api/v1/instruments", Some(&text), NOW);

    let Some(token) = bearer_token(&authorization) else {
        return;
    };
    for provider in ["local", "third"] {
        let Ok(unverified) = Unverified::parse(token, f.provider(provider)) else {
            continue;
        };
        let Some(resigned) = f.signer(unverified.alg).and_then(|s| s.resign(token)) else {
            continue;
        };
        let authorization = format!("Bearer {resigned}");
        let verified = check_against_verify(f, provider, &authorization, NOW);
        if provider == "local" {
            check_write(&f.config, &authorization, NOW);
        }
        if let Ok(verified) = verified {
            assert!(matches!(
                unverified.alg,
                Algorithm::Es256 | Algorithm::EdDsa
            ));
            assert_eq!(verified.alg, unverified.alg);
        }
    }
});
