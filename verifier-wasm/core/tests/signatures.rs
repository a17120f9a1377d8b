//! Algorithms, key selection and signatures: `none`, algorithm confusion, pinned algorithms,
//! `kid` handling and key rotation, and signatures that are wrong in every way we know of.

use serde_json::json;
use verifier_core::{Algorithm, Jwks};
use verifier_testkit::*;

fn all_three() -> (Signer, Signer, Signer, verifier_core::Provider) {
    let (es, ed, rs) = (Signer::es256(1), Signer::eddsa(1), Signer::rs256());
    let p = provider(&[es.jwk(), ed.jwk(), rs.jwk()]);
    (es, ed, rs, p)
}

// ---------------------------------------------------------------------------------------------
// `none` and algorithm confusion

#[test]
fn alg_none_in_every_spelling_is_refused() {
    let (es, _, _, p) = all_three();
    for none in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": none, "typ": "at+jwt", "kid": es.kid});
        let h = b64(header.to_string());
        let pl = b64(claims().to_string());
        // RFC 7519 §6.1 unsecured JWT: an empty signature segment.
        assert_eq!(
            code(&format!("{h}.{pl}."), &p),
            "alg_not_allowed",
            "{none} with an empty signature"
        );
        // With some signature: a valid ES256 one over the same input, or junk.
        let signed = es.sign_segments(&h, &pl);
        assert_eq!(
            code(&signed, &p),
            "alg_not_allowed",
            "{none} with a real signature"
        );
        assert_eq!(
            code(&format!("{h}.{pl}.AA"), &p),
            "alg_not_allowed",
            "{none} with junk"
        );
    }
    // Same key, same claims, a real alg: valid.
    assert_eq!(code(&es.token(&claims()), &p), "valid");
}

#[test]
fn alg_none_is_refused_even_without_a_kid_and_with_a_single_key() {
    let es = Signer::es256(1);
    let p = provider(&[es.bare_jwk()]);
    let h = b64(json!({"alg": "none", "typ": "at+jwt"}).to_string());
    let token = format!("{h}.{}.c2ln", b64(claims().to_string()));
    assert_eq!(code(&token, &p), "alg_not_allowed");
}

#[test]
fn alg_names_are_case_sensitive_and_exact() {
    let (es, ed, rs, p) = all_three();
    for (signer, alg) in [
        (&es, "es256"),
        (&es, "Es256"),
        (&es, "ES256 "),
        (&es, " ES256"),
        (&es, "ES256\u{0}"),
        (&ed, "eddsa"),
        (&ed, "EDDSA"),
        (&ed, "Ed25519"),
        (&rs, "rs256"),
        (&rs, "RS256\n"),
    ] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": signer.kid});
        assert_eq!(
            code(&signer.token_with(&header, &claims()), &p),
            "alg_not_allowed",
            "{alg:?}"
        );
    }
}

#[test]
fn algorithms_the_verifier_does_not_implement_are_refused() {
    let (es, _, _, p) = all_three();
    for alg in [
        "HS256", "HS384", "HS512", "ES384", "ES512", "ES256K", "PS256", "PS512", "RS384", "RS512",
        "RSA-OAEP", "dir",
    ] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": es.kid});
        assert_eq!(
            code(&es.token_with(&header, &claims()), &p),
            "alg_not_allowed",
            "{alg}"
        );
    }
}

#[test]
fn hs256_keyed_with_public_key_bytes_is_refused() {
    let (es, ed, rs, p) = all_three();
    let point = es.sec1_uncompressed();
    let mut encodings: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "ES256 JWK JSON",
            "es256-1",
            es.jwk().to_string().into_bytes(),
        ),
        (
            "ES256 bare JWK JSON",
            "es256-1",
            es.bare_jwk().to_string().into_bytes(),
        ),
        ("ES256 x||y", "es256-1", point[1..].to_vec()),
        ("ES256 SEC1 uncompressed", "es256-1", point.clone()),
        (
            "ES256 SEC1 base64url text",
            "es256-1",
            b64(&point).into_bytes(),
        ),
        (
            "ES256 x base64url text",
            "es256-1",
            es.jwk()["x"].as_str().unwrap().as_bytes().to_vec(),
        ),
        (
            "the whole JWKS document",
            "es256-1",
            jwks(&[es.jwk(), ed.jwk(), rs.jwk()]).into_bytes(),
        ),
        (
            "Ed25519 raw key",
            "eddsa-1",
            unb64(ed.jwk()["x"].as_str().unwrap()),
        ),
        (
            "Ed25519 JWK JSON",
            "eddsa-1",
            ed.jwk().to_string().into_bytes(),
        ),
        (
            "RSA modulus",
            "rs256-1",
            unb64(rs.jwk()["n"].as_str().unwrap()),
        ),
        ("RSA JWK JSON", "rs256-1", rs.jwk().to_string().into_bytes()),
    ];
    encodings.push(("empty key", "es256-1", Vec::new()));
    for (what, kid, key) in encodings {
        assert_eq!(
            code(&hs_token("HS256", kid, &key), &p),
            "alg_not_allowed",
            "{what}"
        );
    }
}

#[test]
fn a_provider_without_algorithms_accepts_es256_only() {
    let (es, ed, rs) = (Signer::es256(1), Signer::eddsa(1), Signer::rs256());
    let mut pj = provider_json(&[es.jwk(), ed.jwk(), rs.jwk()]);
    pj.as_object_mut().unwrap().remove("algorithms");
    let p = provider_from(pj);
    assert_eq!(p.algorithms, [Algorithm::Es256]);
    assert_eq!(code(&es.token(&claims()), &p), "valid");
    assert_eq!(code(&ed.token(&claims()), &p), "alg_not_allowed");
    assert_eq!(code(&rs.token(&claims()), &p), "alg_not_allowed");
}

#[test]
fn eddsa_token_to_an_es256_only_provider_is_refused_even_with_the_key_in_the_set() {
    let (es, ed) = (Signer::es256(1), Signer::eddsa(1));
    let p = provider_with(&[es.jwk(), ed.jwk()], json!({"algorithms": ["ES256"]}));
    assert_eq!(code(&ed.token(&claims()), &p), "alg_not_allowed");
    assert_eq!(code(&es.token(&claims()), &p), "valid");
    let p = provider_with(&[es.jwk(), ed.jwk()], json!({"algorithms": ["EdDSA"]}));
    assert_eq!(code(&ed.token(&claims()), &p), "valid");
    assert_eq!(code(&es.token(&claims()), &p), "alg_not_allowed");
}

#[test]
fn swapping_the_alg_of_a_valid_token_never_verifies() {
    let (es, _, _, p) = all_three();
    let good = es.token(&claims());
    for (alg, expected) in [
        ("EdDSA", "kid_unknown"),
        ("RS256", "kid_unknown"),
        ("HS256", "alg_not_allowed"),
        ("none", "alg_not_allowed"),
    ] {
        let token = alter_header(&good, |h| h["alg"] = json!(alg));
        assert_eq!(code(&token, &p), expected, "{alg}");
    }
    // With an Ed25519 key under the same kid, the swapped token finds a key and still fails.
    let ed_same_kid = Signer::eddsa(1).with_kid(&es.kid);
    let p = provider(&[es.jwk(), ed_same_kid.jwk()]);
    assert_eq!(
        code(&alter_header(&good, |h| h["alg"] = json!("EdDSA")), &p),
        "signature_invalid"
    );
    assert_eq!(code(&good, &p), "valid");
}

#[test]
fn a_jwk_that_names_an_alg_is_used_only_for_that_alg() {
    let (es, ed) = (Signer::es256(1), Signer::eddsa(1));
    // A key whose alg does not fit its type is skipped at load, not used for either.
    let mut okp_says_es256 = ed.jwk();
    okp_says_es256["alg"] = json!("ES256");
    let mut ec_says_eddsa = es.jwk();
    ec_says_eddsa["alg"] = json!("EdDSA");
    let mut ec_says_rs256 = es.jwk();
    ec_says_rs256["alg"] = json!("RS256");
    let keeper = Signer::es256(9);
    let set = Jwks::parse(
        jwks(&[
            okp_says_es256.clone(),
            ec_says_eddsa.clone(),
            ec_says_rs256,
            keeper.jwk(),
        ])
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.skipped.len(), 3);

    let p = provider(&[okp_says_es256, ec_says_eddsa, keeper.jwk()]);
    assert_eq!(code(&ed.token(&claims()), &p), "kid_unknown");
    assert_eq!(code(&es.token(&claims()), &p), "kid_unknown");
    assert_eq!(code(&keeper.token(&claims()), &p), "valid");

    // A key that says ES256 is offered for ES256 and nothing else.
    let set = Jwks::parse(jwks(&[es.jwk()]).as_bytes()).unwrap();
    let key = &set.keys[0];
    assert_eq!(key.alg, Some(Algorithm::Es256));
    assert!(key.admits(Algorithm::Es256));
    assert!(!key.admits(Algorithm::EdDsa));
    assert!(!key.admits(Algorithm::Rs256));
    assert_eq!(set.candidates(Some("es256-1"), Algorithm::EdDsa).count(), 0);
    assert_eq!(set.candidates(Some("es256-1"), Algorithm::Es256).count(), 1);

    // An EdDSA token naming the ES256 key's kid, signed by some Ed25519 key: no candidate.
    let p = provider(&[es.jwk()]);
    let forged = Signer::eddsa(4).with_kid(&es.kid);
    assert_eq!(code(&forged.token(&claims()), &p), "kid_unknown");
}

#[test]
fn a_jwk_without_alg_is_used_for_the_alg_its_type_fits() {
    let es = Signer::es256(1);
    let jwk = es.bare_jwk_with_kid(&es.kid);
    let p = provider(&[jwk]);
    assert_eq!(code(&es.token(&claims()), &p), "valid");
    let ed = Signer::eddsa(1).with_kid(&es.kid);
    assert_eq!(code(&ed.token(&claims()), &p), "kid_unknown");
}

// ---------------------------------------------------------------------------------------------
// kid

#[test]
fn unknown_and_hostile_kids_are_unknown() {
    let (es, _, _, p) = all_three();
    for kid in [
        "../../etc/passwd".to_string(),
        "/dev/zero".into(),
        "https://evil.test/key".into(),
        "' OR '1'='1".into(),
        "*".into(),
        String::new(),
        "ES256-1".into(),
        "es256-1 ".into(),
        "es256-1\0".into(),
        "k".repeat(4000),
    ] {
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
        assert_eq!(
            code(&es.token_with(&header, &claims()), &p),
            "kid_unknown",
            "{kid:?}"
        );
    }
    assert_eq!(code(&es.token(&claims()), &p), "valid");
}

#[test]
fn no_kid_and_one_key_of_the_alg_verifies() {
    let (es, ed, rs) = (Signer::es256(1), Signer::eddsa(1), Signer::rs256());
    let no_kid = json!({"alg": "ES256", "typ": "at+jwt"});
    // One key in the set.
    let p = provider(&[es.jwk()]);
    assert_eq!(code(&es.token_with(&no_kid, &claims()), &p), "valid");
    // One key of this algorithm among keys of others.
    let p = provider(&[es.jwk(), ed.jwk(), rs.jwk()]);
    let verified = check(&es.token_with(&no_kid, &claims()), &p).unwrap();
    assert_eq!(verified.kid.as_deref(), Some("es256-1"));
    // The lone key did not sign it.
    let other = Signer::es256(2);
    assert_eq!(
        code(&other.token_with(&no_kid, &claims()), &p),
        "signature_invalid"
    );
}

#[test]
fn no_kid_and_two_keys_of_the_alg_is_kid_unknown() {
    let (a, b) = (Signer::es256(1), Signer::es256(2));
    let p = provider(&[a.jwk(), b.jwk()]);
    let no_kid = json!({"alg": "ES256", "typ": "at+jwt"});
    // Even though one of them would verify it: no trying every key in turn.
    assert_eq!(code(&a.token_with(&no_kid, &claims()), &p), "kid_unknown");
    assert_eq!(code(&b.token_with(&no_kid, &claims()), &p), "kid_unknown");
    assert_eq!(code(&a.token(&claims()), &p), "valid");
    assert_eq!(code(&b.token(&claims()), &p), "valid");
}

#[test]
fn a_kid_in_the_token_does_not_match_a_key_without_kid() {
    let es = Signer::es256(1);
    let p = provider(&[es.bare_jwk()]);
    assert_eq!(code(&es.token(&claims()), &p), "kid_unknown");
    let no_kid = json!({"alg": "ES256", "typ": "at+jwt"});
    assert_eq!(code(&es.token_with(&no_kid, &claims()), &p), "valid");
}

#[test]
fn rotation_two_keys_with_the_same_kid_either_may_sign() {
    let old = Signer::es256(1).with_kid("current");
    let new = Signer::es256(2).with_kid("current");
    let p = provider(&[old.jwk(), new.jwk()]);
    let verified = check(&new.token(&claims()), &p).expect("the second key with the kid signs");
    assert_eq!(verified.kid.as_deref(), Some("current"));
    assert_eq!(code(&old.token(&claims()), &p), "valid");
    let stranger = Signer::es256(3).with_kid("current");
    assert_eq!(code(&stranger.token(&claims()), &p), "signature_invalid");
}

// ---------------------------------------------------------------------------------------------
// Signatures

#[test]
fn a_flipped_signature_byte_is_invalid_for_every_alg() {
    let (es, ed, rs, p) = all_three();
    for signer in [&es, &ed, &rs] {
        let token = signer.token(&claims());
        assert_eq!(code(&token, &p), "valid", "{}", signer.alg());
        let len = unb64(segments(&token)[2]).len();
        for index in [0, len / 2, len - 1] {
            assert_eq!(
                code(&flip_signature_byte(&token, index), &p),
                "signature_invalid",
                "{} byte {index}",
                signer.alg()
            );
        }
    }
}

#[test]
fn a_changed_payload_or_header_is_invalid() {
    let (es, ed, rs, p) = all_three();
    for signer in [&es, &ed, &rs] {
        let token = signer.token(&claims());
        for tampered in [
            alter_payload(&token, |c| c["exp"] = json!(NOW + 3_600)),
            alter_payload(&token, |c| {
                c["scope"] = json!("instruments:read instruments:write")
            }),
            alter_payload(&token, |c| c["sub"] = json!("svc.admin")),
            alter_payload(&token, |c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            alter_header(&token, |h| h["x-extra"] = json!(1)),
            alter_header(&token, |h| h["typ"] = json!("application/at+jwt")),
        ] {
            assert_eq!(code(&tampered, &p), "signature_invalid", "{}", signer.alg());
        }
    }
}

#[test]
fn a_signature_over_the_wrong_input_is_invalid() {
    let (es, _, _, p) = all_three();
    let token = es.token(&claims());
    let [h, pl, _] = segments(&token);
    for message in [
        pl.to_string(),
        h.to_string(),
        format!("{h}.{pl}."),
        format!("{h}{pl}"),
        claims().to_string(),
    ] {
        assert_eq!(
            code(&with_signature(&token, &es.sign(message.as_bytes())), &p),
            "signature_invalid",
            "{message}"
        );
    }
}

#[test]
fn der_encoded_es256_signatures_are_refused() {
    let (es, _, _, p) = all_three();
    let token = es.token(&claims());
    let raw = unb64(segments(&token)[2]);
    let der = der_signature(&raw);
    assert!(der.len() > 64 && der[0] == 0x30);
    let outcome = code(&with_signature(&token, &der), &p);
    assert!(
        ["signature_invalid", "token_malformed"].contains(&outcome),
        "{outcome}"
    );
    assert_eq!(code(&with_signature(&token, &raw), &p), "valid");
}

#[test]
fn psychic_signatures_are_refused() {
    // CVE-2022-21449: r = s = 0 verified any message in Java's ECDSA.
    let (es, _, _, p) = all_three();
    let token = es.token(&claims());
    let raw = unb64(segments(&token)[2]);
    // The P-256 group order n.
    let n = unb64("_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE");
    assert_eq!(n.len(), 32);
    let zero = [0u8; 32];
    let mut one = [0u8; 32];
    one[31] = 1;
    for (what, r, s) in [
        ("r = s = 0", &zero[..], &zero[..]),
        ("r = 0", &zero[..], &raw[32..]),
        ("s = 0", &raw[..32], &zero[..]),
        ("r = s = n", &n[..], &n[..]),
        ("r = n", &n[..], &raw[32..]),
        ("s = n", &raw[..32], &n[..]),
        ("r = s = 1", &one[..], &one[..]),
    ] {
        let forged = with_signature(&token, &[r, s].concat());
        assert_eq!(code(&forged, &p), "signature_invalid", "{what}");
    }
    let empty_der = with_signature(&token, &[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]);
    assert_ne!(code(&empty_der, &p), "valid");
}

#[test]
fn es256_signatures_of_the_wrong_length_are_invalid() {
    let (es, _, _, p) = all_three();
    let token = es.token(&claims());
    let raw = unb64(segments(&token)[2]);
    for bad in [
        raw[..63].to_vec(),
        [&raw[..], &[0]].concat(),
        [&[0], &raw[..]].concat(),
        [&raw[..], &raw[..]].concat(),
        vec![0],
    ] {
        assert_eq!(
            code(&with_signature(&token, &bad), &p),
            "signature_invalid",
            "{} bytes",
            bad.len()
        );
    }
}

#[test]
fn non_canonical_ed25519_signatures_are_invalid() {
    // S + ℓ verifies under a lax implementation (signature malleability, RFC 8032 §5.1.7).
    let (_, ed, _, p) = all_three();
    let token = ed.token(&claims());
    let raw = unb64(segments(&token)[2]);
    let ell: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut s = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = raw[32 + i] as u16 + ell[i] as u16 + carry;
        s[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + ℓ fits in 32 bytes because S < ℓ < 2^253");
    let malleated = [&raw[..32], &s[..]].concat();
    assert_eq!(
        code(&with_signature(&token, &malleated), &p),
        "signature_invalid"
    );
    assert_eq!(code(&with_signature(&token, &raw), &p), "valid");
    assert_eq!(
        code(&with_signature(&token, &raw[..63]), &p),
        "signature_invalid"
    );
}

#[test]
fn rs256_signatures_must_be_exactly_the_modulus_length() {
    let (_, _, rs, p) = all_three();
    let token = rs.token(&claims());
    let raw = unb64(segments(&token)[2]);
    assert_eq!(raw.len(), 256);
    let longer = [&[0u8][..], &raw[..]].concat();
    assert_eq!(
        code(&with_signature(&token, &longer), &p),
        "signature_invalid"
    );
    assert_eq!(
        code(&with_signature(&token, &raw[1..]), &p),
        "signature_invalid"
    );
    assert_eq!(
        code(&with_signature(&token, &[0u8; 256]), &p),
        "signature_invalid"
    );
    assert_eq!(
        code(&with_signature(&token, &[0xffu8; 256]), &p),
        "signature_invalid"
    );
    assert_eq!(code(&with_signature(&token, &raw), &p), "valid");
}

#[test]
fn a_signature_of_another_algorithm_is_invalid() {
    // An Ed25519 signature is 64 bytes, like ES256's `r || s`.
    let (es, ed, _, p) = all_three();
    let token = es.token(&claims());
    let [h, pl, _] = segments(&token);
    let ed_sig = ed.sign(format!("{h}.{pl}").as_bytes());
    assert_eq!(
        code(&with_signature(&token, &ed_sig), &p),
        "signature_invalid"
    );
}

#[test]
fn the_signature_is_checked_before_any_claim() {
    let (es, _, _, p) = all_three();
    let impostor = Signer::es256(5).with_kid(&es.kid);
    for (what, claims, when_genuine) in [
        (
            "expired",
            claims_with(json!({"exp": NOW - 3_600, "iat": NOW - 7_200})),
            "token_expired",
        ),
        (
            "wrong issuer",
            claims_with(json!({"iss": "https://evil.test"})),
            "issuer_mismatch",
        ),
        (
            "wrong audience",
            claims_with(json!({"aud": "other"})),
            "audience_mismatch",
        ),
        ("no exp", claims_with(json!({"exp": null})), "claim_missing"),
        (
            "bad exp",
            claims_with(json!({"exp": "tomorrow"})),
            "claim_invalid",
        ),
        (
            "not yet valid",
            claims_with(json!({"nbf": NOW + 3_600})),
            "token_not_yet_valid",
        ),
    ] {
        assert_eq!(
            code(&impostor.token(&claims), &p),
            "signature_invalid",
            "{what} under a wrong key"
        );
        assert_eq!(
            code(&es.token(&claims), &p),
            when_genuine,
            "{what} under the right key"
        );
    }
    // Even a payload that is not JSON at all.
    let h = es.header().to_string();
    assert_eq!(
        code(&impostor.sign_text(&h, "garbage"), &p),
        "signature_invalid"
    );
    assert_eq!(code(&es.sign_text(&h, "garbage"), &p), "token_malformed");
}

#[test]
fn a_jwk_restricted_to_another_alg_is_never_a_candidate() {
    // Defence in depth beyond the load-time check: even a key whose type fits is not offered
    // for an algorithm its own `alg` excludes.
    let es = Signer::es256(1);
    let p = provider(&[es.jwk()]);
    let mut set: Jwks = local_jwks(&p).clone();
    assert_eq!(
        outcome(&verifier_core::verify(&es.token(&claims()), &p, &set, NOW)),
        "valid"
    );
    set.keys[0].alg = Some(Algorithm::EdDsa);
    assert!(!set.keys[0].admits(Algorithm::Es256));
    assert_eq!(set.candidates(Some("es256-1"), Algorithm::Es256).count(), 0);
    assert_eq!(
        outcome(&verifier_core::verify(&es.token(&claims()), &p, &set, NOW)),
        "kid_unknown"
    );
    set.keys[0].alg = None;
    assert!(set.keys[0].admits(Algorithm::Es256));
}
