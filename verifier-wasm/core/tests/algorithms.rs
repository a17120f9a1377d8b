//! The algorithms beyond the issuer's three: ES384, RS384, RS512, PS256, PS384, PS512, ML-DSA-44
//! and ML-DSA-65. Each verifies end to end (tokens minted by jwt-simple, an independent JOSE
//! implementation, and by the test signers over exact bytes) when the provider allows it, and is
//! refused when it does not; keys serve only the algorithms their type and `alg` admit.

use serde_json::{Value, json};
use verifier_core::{Algorithm, Decision, PublicJwk, decide};
use verifier_testkit::*;

/// The algorithms this file is about, with a signer for each.
fn new_signers() -> Vec<Signer> {
    vec![
        Signer::es384(1),
        Signer::rsa(Algorithm::Rs384),
        Signer::rsa(Algorithm::Rs512),
        Signer::rsa(Algorithm::Ps256),
        Signer::rsa(Algorithm::Ps384),
        Signer::rsa(Algorithm::Ps512),
        Signer::mldsa44(1),
        Signer::mldsa65(1),
    ]
}

fn only(alg: &str) -> Value {
    json!({ "algorithms": [alg] })
}

/// The outcome of `decide` for `GET /` with this bearer token, under a configuration with one
/// provider built from `provider` (a provider object as [`provider_json`] makes).
fn decided(provider: Value, token: &str) -> &'static str {
    let config = parse_config(&config_json(provider));
    let authorization = bearer(token);
    let request = request("GET", "/", Some(&authorization));
    match decide(&config, &TestKeys::ready(&config), &request, NOW) {
        Decision::Allow {
            identity: Some(identity),
            ..
        } => {
            assert_eq!(identity.subject, "svc.warehouse");
            assert_eq!(identity.issuer, ISSUER);
            "allow"
        }
        Decision::Allow { identity: None, .. } => panic!("a token route allowed without identity"),
        Decision::Deny(denial) => {
            assert_eq!(denial.status, denial.error.http_status());
            denial.error.code()
        }
        Decision::Wait { .. } => "wait",
    }
}

fn with_algorithms(keys: &[Value], algorithms: Value) -> Value {
    let mut p = provider_json(keys);
    p["algorithms"] = algorithms["algorithms"].clone();
    p
}

// ---------------------------------------------------------------------------------------------
// Tokens signed over exact bytes by the test signers

#[test]
fn each_algorithm_verifies_when_the_provider_allows_it() {
    for signer in new_signers() {
        let alg = signer.algorithm();
        let token = signer.token(&claims());
        let p = provider_with(&[signer.jwk()], only(alg.name()));
        let verified = check(&token, &p).unwrap_or_else(|e| panic!("{alg}: {}", e.code()));
        assert_eq!(verified.alg, alg);
        assert_eq!(verified.kid.as_deref(), Some(signer.kid.as_str()));
        // Through the whole decision too.
        assert_eq!(
            decided(with_algorithms(&[signer.jwk()], only(alg.name())), &token),
            "allow",
            "{alg}"
        );
        // Failing twins: one bit of the signature, first and last byte.
        let len = unb64(segments(&token)[2]).len();
        for index in [0, len - 1] {
            assert_eq!(
                code(&flip_signature_byte(&token, index), &p),
                "signature_invalid",
                "{alg} byte {index}"
            );
        }
    }
}

#[test]
fn each_algorithm_is_refused_when_the_provider_does_not_allow_it() {
    for signer in new_signers() {
        let alg = signer.algorithm();
        let token = signer.token(&claims());
        // The test default: ES256, EdDSA, RS256. The key is in the set; the algorithm is not.
        let p = provider(&[signer.jwk()]);
        assert_eq!(code(&token, &p), "alg_not_allowed", "{alg}");
        assert_eq!(
            decided(provider_json(&[signer.jwk()]), &token),
            "alg_not_allowed",
            "{alg}"
        );
        // No `algorithms` at all: ES256 only.
        let mut pj = provider_json(&[signer.jwk()]);
        pj.as_object_mut().unwrap().remove("algorithms");
        assert_eq!(code(&token, &provider_from(pj)), "alg_not_allowed", "{alg}");
        // Every other algorithm allowed, but not this one.
        let others: Vec<&str> = Algorithm::ALL
            .iter()
            .filter(|a| **a != alg)
            .map(|a| a.name())
            .collect();
        let p = provider_with(&[signer.jwk()], json!({ "algorithms": others }));
        assert_eq!(code(&token, &p), "alg_not_allowed", "{alg}");
    }
}

#[test]
fn a_provider_allowing_every_algorithm_verifies_each_with_its_own_key() {
    let mut signers = new_signers();
    signers.extend([Signer::es256(1), Signer::eddsa(1), Signer::rs256()]);
    let keys: Vec<Value> = signers.iter().map(Signer::jwk).collect();
    let p = provider_with(&keys, every_algorithm());
    for signer in &signers {
        let verified = check(&signer.token(&claims()), &p)
            .unwrap_or_else(|e| panic!("{}: {}", signer.alg(), e.code()));
        assert_eq!(verified.kid.as_deref(), Some(signer.kid.as_str()));
    }
    assert_eq!(
        decided(
            with_algorithms(&keys, every_algorithm()),
            &signers[0].token(&claims())
        ),
        "allow"
    );
}

// ---------------------------------------------------------------------------------------------
// Keys serve only the algorithms their type and `alg` admit

#[test]
fn one_rsa_key_without_alg_serves_the_six_rsa_algorithms() {
    let jwk = Signer::rs256().bare_jwk_with_kid("rsa");
    let p = provider_with(std::slice::from_ref(&jwk), every_algorithm());
    for alg in RSA_ALGORITHMS {
        let signer = Signer::rsa(alg).with_kid("rsa");
        assert_eq!(code(&signer.token(&claims()), &p), "valid", "{alg}");
    }
}

#[test]
fn an_rsa_signature_of_one_scheme_or_hash_never_passes_as_another() {
    // One RSA key without `alg`, so every RSA algorithm finds it: only the signature decides.
    let jwk = Signer::rs256().bare_jwk_with_kid("rsa");
    let p = provider_with(&[jwk], every_algorithm());
    for signed_as in RSA_ALGORITHMS {
        let signer = Signer::rsa(signed_as).with_kid("rsa");
        for claimed in RSA_ALGORITHMS {
            // The header names `claimed`; the signature over that very header is `signed_as`.
            let header = json!({"alg": claimed.name(), "typ": "at+jwt", "kid": "rsa"});
            let expected = if claimed == signed_as {
                "valid"
            } else {
                "signature_invalid"
            };
            assert_eq!(
                code(&signer.token_with(&header, &claims()), &p),
                expected,
                "signed {signed_as}, header says {claimed}"
            );
        }
    }
}

#[test]
fn an_rsa_jwk_naming_its_alg_is_not_used_for_the_other_rsa_algorithms() {
    let p = provider_with(&[Signer::rs256().jwk()], every_algorithm());
    for alg in [Algorithm::Rs384, Algorithm::Ps256, Algorithm::Ps512] {
        // Same key, same kid, but the JWK says RS256.
        let signer = Signer::rsa(alg).with_kid("rs256-1");
        assert_eq!(code(&signer.token(&claims()), &p), "kid_unknown", "{alg}");
    }
    assert_eq!(code(&Signer::rs256().token(&claims()), &p), "valid");
}

#[test]
fn curves_and_parameter_sets_are_not_interchangeable() {
    let (es256, es384) = (Signer::es256(1), Signer::es384(1));
    let (ml44, ml65) = (Signer::mldsa44(1), Signer::mldsa65(1));
    // Each key's JWK without `alg` where the type allows it (EC), so only the key type decides.
    let p256 = es256.bare_jwk_with_kid("ec");
    let p384 = es384.bare_jwk_with_kid("ec");
    let akp44 = ml44.bare_jwk_with_kid("akp");
    let akp65 = ml65.bare_jwk_with_kid("akp");
    // Only the P-256 key and the ML-DSA-44 key are published under the shared kids.
    let p = provider_with(&[p256.clone(), akp44.clone()], every_algorithm());
    for (signer, alg, expected) in [
        // A P-384 signature claiming ES384: no P-384 key under "ec".
        (&es384, "ES384", "kid_unknown"),
        // A P-384 signature claiming ES256: the P-256 key is tried and fails.
        (&es384, "ES256", "signature_invalid"),
        (&es256, "ES384", "kid_unknown"),
        (&ml65, "ML-DSA-65", "kid_unknown"),
        (&ml65, "ML-DSA-44", "signature_invalid"),
        (&ml44, "ML-DSA-65", "kid_unknown"),
        (&es256, "ES256", "valid"),
        (&ml44, "ML-DSA-44", "valid"),
    ] {
        let kid = if alg.starts_with("ES") { "ec" } else { "akp" };
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": kid});
        assert_eq!(
            code(&signer.token_with(&header, &claims()), &p),
            expected,
            "{} key, header {alg}",
            signer.alg()
        );
    }
    // With both parameter sets under one kid, each finds its own.
    let p = provider_with(&[p256, p384, akp44, akp65], every_algorithm());
    for (signer, alg) in [
        (&es256, "ES256"),
        (&es384, "ES384"),
        (&ml44, "ML-DSA-44"),
        (&ml65, "ML-DSA-65"),
    ] {
        let kid = if alg.starts_with("ES") { "ec" } else { "akp" };
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": kid});
        assert_eq!(
            code(&signer.token_with(&header, &claims()), &p),
            "valid",
            "{alg}"
        );
    }
}

#[test]
fn ml_dsa_signatures_of_the_wrong_length_are_invalid() {
    for (signer, size) in [(Signer::mldsa44(2), 2420), (Signer::mldsa65(2), 3309)] {
        let p = provider_with(&[signer.jwk()], only(signer.alg()));
        let token = signer.token(&claims());
        let raw = unb64(segments(&token)[2]);
        assert_eq!(raw.len(), size, "{}", signer.alg());
        for bad in [
            raw[..size - 1].to_vec(),
            [&raw[..], &[0]].concat(),
            vec![0; size],
            Vec::new(),
        ] {
            assert_eq!(
                code(&with_signature(&token, &bad), &p),
                "signature_invalid",
                "{} {} bytes",
                signer.alg(),
                bad.len()
            );
        }
        assert_eq!(code(&with_signature(&token, &raw), &p), "valid");
    }
}

#[test]
fn an_akp_key_needs_its_alg_and_the_right_length() {
    let ml44 = Signer::mldsa44(3);
    let good = ml44.jwk();
    let keeper = Signer::es256(1).jwk();
    let skipped = |jwk: Value| {
        let set = verifier_core::Jwks::parse(jwks(&[jwk, keeper.clone()]).as_bytes()).unwrap();
        set.skipped.len()
    };
    assert_eq!(skipped(good.clone()), 0);
    let mut no_alg = good.clone();
    no_alg.as_object_mut().unwrap().remove("alg");
    assert_eq!(skipped(no_alg), 1, "an AKP key without alg");
    let mut wrong_alg = good.clone();
    wrong_alg["alg"] = json!("ML-DSA-65");
    assert_eq!(
        skipped(wrong_alg),
        1,
        "a 44 key labelled 65 has the wrong length"
    );
    let mut es_alg = good.clone();
    es_alg["alg"] = json!("ES256");
    assert_eq!(skipped(es_alg), 1, "an AKP key labelled ES256");
    let pk = unb64(good["pub"].as_str().unwrap());
    for bad in [pk[..pk.len() - 1].to_vec(), [&pk[..], &[0]].concat()] {
        let mut jwk = good.clone();
        jwk["pub"] = json!(b64(&bad));
        assert_eq!(skipped(jwk), 1, "{} bytes", bad.len());
    }
}

#[test]
fn a_set_publishing_an_ml_dsa_private_key_is_refused_whole() {
    // draft-ietf-cose-dilithium: an AKP private key carries its seed as `priv`. Like `d` for EC
    // and RSA keys, whoever publishes it is not to be trusted, and the whole set is refused.
    use jwt_simple::prelude::*;
    for private in [
        MLDSA44KeyPair::from_bytes(&[7; 32])
            .unwrap()
            .with_key_id("k")
            .to_jwk(),
        MLDSA65KeyPair::from_bytes(&[7; 32])
            .unwrap()
            .with_key_id("k")
            .to_jwk(),
    ] {
        let private: Value = serde_json::from_str(&private).unwrap();
        assert!(private.get("priv").is_some(), "{private}");
        assert_eq!(
            jwks_code(&jwks(&[Signer::es256(1).jwk(), private])),
            "jwks_private_key"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens minted by jwt-simple

/// A token and the public JWK, minted by jwt-simple for each algorithm, keyed by thumbprint.
fn jwt_simple_tokens() -> Vec<(&'static str, String, Value, PublicJwk)> {
    use jwt_simple::prelude::*;
    let rsa_der = rs256_jwt_simple_pair().to_der().expect("RSA export");
    let mut minted = Vec::new();
    macro_rules! mint {
        ($alg:literal, $pair:expr) => {
            minted.push((
                $alg,
                jwt_simple_mint!($pair, jwt_simple_claims("instruments:read")),
            ))
        };
    }
    mint!("ES384", ES384KeyPair::from_bytes(&[7; 48]).unwrap());
    mint!("RS384", RS384KeyPair::from_der(&rsa_der).unwrap());
    mint!("RS512", RS512KeyPair::from_der(&rsa_der).unwrap());
    mint!("PS256", PS256KeyPair::from_der(&rsa_der).unwrap());
    mint!("PS384", PS384KeyPair::from_der(&rsa_der).unwrap());
    mint!("PS512", PS512KeyPair::from_der(&rsa_der).unwrap());
    mint!("ML-DSA-44", MLDSA44KeyPair::from_bytes(&[7; 32]).unwrap());
    mint!("ML-DSA-65", MLDSA65KeyPair::from_bytes(&[7; 32]).unwrap());
    minted
        .into_iter()
        .map(|(alg, (kid, token, jwk))| {
            assert_eq!(jwk["kid"].as_str(), Some(kid.as_str()), "{alg}");
            let ours = public_jwk(&jwk).unwrap_or_else(|| panic!("{alg}: {jwk}"));
            assert_eq!(ours.thumbprint(), kid, "{alg} thumbprint");
            (alg, token, jwk, ours)
        })
        .collect()
}

#[test]
fn tokens_minted_by_jwt_simple_verify_for_every_new_algorithm() {
    for (alg, token, jwk, _) in jwt_simple_tokens() {
        assert_eq!(jwk["alg"].as_str(), Some(alg), "jwt-simple names the alg");
        let keys = std::slice::from_ref(&jwk);
        let p = provider_with(keys, only(alg));
        let verified = check(&token, &p).unwrap_or_else(|e| panic!("{alg}: {}", e.code()));
        assert_eq!(verified.alg.name(), alg);
        assert_eq!(verified.claims.client_id.as_deref(), Some("warehouse"));
        assert_eq!(decided(with_algorithms(keys, only(alg)), &token), "allow");
        // Refused where the provider does not allow it, through the whole decision.
        assert_eq!(
            decided(provider_json(keys), &token),
            "alg_not_allowed",
            "{alg}"
        );
        // Failing twins: expired, and a changed claim under the old signature.
        assert_eq!(code_at(&token, &p, NOW + 300 + 60), "token_expired");
        let tampered = alter_payload(&token, |c| c["sub"] = json!("svc.admin"));
        assert_eq!(code(&tampered, &p), "signature_invalid", "{alg}");
    }
}

#[test]
fn jwt_simple_rsa_tokens_of_one_scheme_do_not_verify_as_another() {
    // jwt-simple signs the same RSA key as six algorithms; relabelling a token's alg breaks the
    // signature input, so this shows the verifier reading `alg` from the token it checks.
    let tokens = jwt_simple_tokens();
    let rsa: Vec<_> = tokens
        .iter()
        .filter(|(alg, ..)| alg.starts_with("RS") || alg.starts_with("PS"))
        .collect();
    let mut bare = rsa[0].2.clone();
    bare.as_object_mut().unwrap().remove("alg");
    let p = provider_with(&[bare], every_algorithm());
    for (alg, token, ..) in &rsa {
        assert_eq!(code(token, &p), "valid", "{alg}");
        for (other, ..) in &rsa {
            if other != alg {
                let relabelled = alter_header(token, |h| h["alg"] = json!(other));
                assert_eq!(
                    code(&relabelled, &p),
                    "signature_invalid",
                    "{alg} relabelled {other}"
                );
            }
        }
    }
}
