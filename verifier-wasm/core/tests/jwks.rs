//! JWKS loading (`Jwks::parse`): a set publishing private material is refused outright; weak,
//! malformed or foreign keys are skipped without taking the set down; limits are enforced.

use serde_json::{Value, json};
use verifier_core::{Jwks, JwksError};
use verifier_testkit::*;

fn parse(keys: &[Value]) -> Result<Jwks, JwksError> {
    Jwks::parse(jwks(keys).as_bytes())
}

/// Parses `keys` plus one good key, and returns the reasons the others were skipped (the
/// good key keeps the set alive so each bad key is judged on its own).
fn skipped_beside_a_good_key(bad: Value) -> Vec<&'static str> {
    let good = Signer::es256(1).jwk();
    let set = parse(&[bad.clone(), good]).unwrap_or_else(|e| panic!("{bad}: {e}"));
    assert_eq!(
        set.keys.len(),
        1,
        "only the good key is usable beside {bad}"
    );
    assert_eq!(set.keys[0].kid.as_deref(), Some("es256-1"));
    set.skipped.iter().map(|s| s.reason).collect()
}

fn assert_skipped(bad: Value) {
    let reasons = skipped_beside_a_good_key(bad.clone());
    assert_eq!(reasons.len(), 1, "{bad} should be skipped");
    // Alone, the same key leaves nothing usable.
    assert_eq!(
        parse(std::slice::from_ref(&bad)).unwrap_err().code(),
        "jwks_no_usable_key",
        "{bad}"
    );
}

#[test]
fn public_keys_of_every_type_load() {
    let set = parse(&[
        Signer::es256(1).jwk(),
        Signer::eddsa(1).jwk(),
        Signer::rs256().jwk(),
    ])
    .unwrap();
    assert_eq!(set.keys.len(), 3);
    assert!(set.skipped.is_empty());
    let kids: Vec<_> = set.keys.iter().map(|k| k.kid.as_deref().unwrap()).collect();
    assert_eq!(kids, ["es256-1", "eddsa-1", "rs256-1"]);
}

// ---------------------------------------------------------------------------------------------
// Private material

#[test]
fn a_set_with_private_members_is_refused_whole() {
    let good = Signer::es256(1).jwk();
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let mut leaky = Signer::es256(2).jwk();
        leaky[member] = json!("AAAA");
        let err = parse(&[good.clone(), leaky.clone()]).unwrap_err();
        assert_eq!(err.code(), "jwks_private_key", "{member}");
        assert!(matches!(err, JwksError::PrivateKey { member: m } if m == member));
        // Even on a key that would otherwise be skipped.
        let mut odd = json!({"kty": "unknown", "use": "enc"});
        odd[member] = json!("AAAA");
        assert_eq!(
            parse(&[good.clone(), odd]).unwrap_err().code(),
            "jwks_private_key",
            "{member}"
        );
    }
    assert_eq!(parse(&[good]).map(|s| s.keys.len()), Ok(1));
}

#[test]
fn private_jwks_exported_by_jwt_simple_are_refused() {
    use jwt_simple::prelude::*;
    let es = ES256KeyPair::from_bytes(&[9; 32]).unwrap().with_key_id("k");
    let private: Value = serde_json::from_str(&es.to_jwk()).unwrap();
    assert!(private.get("d").is_some());
    assert_eq!(parse(&[private]).unwrap_err().code(), "jwks_private_key");
    let public: Value = serde_json::from_str(&es.public_key().to_jwk()).unwrap();
    assert_eq!(parse(&[public]).map(|s| s.keys.len()), Ok(1));
}

#[test]
fn symmetric_keys_are_refused() {
    let oct =
        json!({"kty": "oct", "k": b64("a shared secret that is long enough"), "alg": "HS256"});
    assert_eq!(
        parse(&[Signer::es256(1).jwk(), oct]).unwrap_err().code(),
        "jwks_private_key"
    );
}

// ---------------------------------------------------------------------------------------------
// RSA strength

fn rsa_jwk(n: &[u8], e: &[u8]) -> Value {
    json!({"kty": "RSA", "n": b64(n), "e": b64(e), "kid": "rsa", "use": "sig"})
}

#[test]
fn rsa_keys_under_2048_bits_are_skipped() {
    // Odd moduli with the top bit set: 1024 and 2047 bits.
    let n1024 = [0xc3u8; 128];
    let mut n2047 = [0xc3u8; 256];
    n2047[0] = 0x43;
    for n in [&n1024[..], &n2047[..]] {
        let weak = rsa_jwk(n, &[1, 0, 1]);
        assert_skipped(weak);
    }
    assert_eq!(
        parse(&[rsa_jwk(&n1024, &[1, 0, 1])]).unwrap_err(),
        JwksError::NoUsableKey { skipped: 1 }
    );
    // The real 2048-bit key loads.
    assert_eq!(parse(&[Signer::rs256().jwk()]).map(|s| s.keys.len()), Ok(1));
}

#[test]
fn a_set_with_only_a_1024_bit_rsa_key_has_no_usable_key() {
    let weak = rsa_jwk(&[0xc3u8; 128], &[1, 0, 1]);
    assert_eq!(parse(&[weak]).unwrap_err().code(), "jwks_no_usable_key");
}

#[test]
fn malformed_rsa_keys_are_skipped() {
    let rs = Signer::rs256().jwk();
    let n = unb64(rs["n"].as_str().unwrap());
    let mut even = n.clone();
    *even.last_mut().unwrap() &= 0xfe;
    for (what, bad) in [
        ("even modulus", rsa_jwk(&even, &[1, 0, 1])),
        ("even exponent", rsa_jwk(&n, &[1, 0, 0])),
        ("exponent 1", rsa_jwk(&n, &[1])),
        ("huge exponent", rsa_jwk(&n, &[1; 64])),
        ("empty modulus", rsa_jwk(&[], &[1, 0, 1])),
        ("over 8192 bits", rsa_jwk(&[0xc3; 1100], &[1, 0, 1])),
        ("no e", json!({"kty": "RSA", "n": rs["n"]})),
        (
            "n not base64url",
            json!({"kty": "RSA", "n": format!("{}=", rs["n"].as_str().unwrap()), "e": "AQAB"}),
        ),
        ("n a number", json!({"kty": "RSA", "n": 12345, "e": "AQAB"})),
    ] {
        let reasons = skipped_beside_a_good_key(bad);
        assert_eq!(reasons.len(), 1, "{what}");
    }
}

// ---------------------------------------------------------------------------------------------
// EC and OKP validity

#[test]
fn ec_points_off_the_curve_are_skipped() {
    let good = Signer::es256(3).jwk();
    let mut y = unb64(good["y"].as_str().unwrap());
    y[31] ^= 1;
    let mut off_curve = good.clone();
    off_curve["y"] = json!(b64(&y));
    assert_skipped(off_curve);
    let zero = json!({"kty": "EC", "crv": "P-256", "x": b64([0u8; 32]), "y": b64([0u8; 32])});
    assert_skipped(zero);
    // The twin: the untouched key loads.
    assert_eq!(parse(&[good]).map(|s| s.keys.len()), Ok(1));
}

#[test]
fn malformed_ec_and_okp_keys_are_skipped() {
    let ec = Signer::es256(3).jwk();
    let x = unb64(ec["x"].as_str().unwrap());
    let ed = Signer::eddsa(3).jwk();
    let edx = unb64(ed["x"].as_str().unwrap());
    let with = |base: &Value, member: &str, value: Value| {
        let mut k = base.clone();
        k[member] = value;
        k
    };
    for (what, bad) in [
        ("31-byte x", with(&ec, "x", json!(b64(&x[1..])))),
        (
            "33-byte x",
            with(&ec, "x", json!(b64([&[0u8][..], &x].concat()))),
        ),
        (
            "padded x",
            with(&ec, "x", json!(format!("{}=", ec["x"].as_str().unwrap()))),
        ),
        ("P-384", with(&ec, "crv", json!("P-384"))),
        ("secp256k1", with(&ec, "crv", json!("secp256k1"))),
        ("no crv", json!({"kty": "EC", "x": ec["x"], "y": ec["y"]})),
        ("no y", json!({"kty": "EC", "crv": "P-256", "x": ec["x"]})),
        ("31-byte Ed25519", with(&ed, "x", json!(b64(&edx[1..])))),
        ("X25519", with(&ed, "crv", json!("X25519"))),
        ("Ed448", with(&ed, "crv", json!("Ed448"))),
        ("no OKP x", json!({"kty": "OKP", "crv": "Ed25519"})),
    ] {
        let reasons = skipped_beside_a_good_key(bad);
        assert_eq!(reasons.len(), 1, "{what}");
    }
}

// ---------------------------------------------------------------------------------------------
// Usage, type and algorithm

#[test]
fn encryption_keys_are_skipped() {
    let mut enc = Signer::es256(3).jwk();
    enc["use"] = json!("enc");
    assert_skipped(enc);
    let mut upper = Signer::es256(3).jwk();
    upper["use"] = json!("SIG");
    assert_skipped(upper);
    let mut sig = Signer::es256(3).jwk();
    sig["use"] = json!("sig");
    assert_eq!(parse(&[sig]).map(|s| s.keys.len()), Ok(1));
}

#[test]
fn key_ops_must_include_verify() {
    let with_ops = |ops: Value| {
        let mut k = Signer::es256(3).jwk();
        k["key_ops"] = ops;
        k
    };
    assert_skipped(with_ops(json!(["sign"])));
    assert_skipped(with_ops(json!(["encrypt", "wrapKey"])));
    assert_skipped(with_ops(json!("verify")));
    assert_skipped(with_ops(json!([])));
    assert_eq!(
        parse(&[with_ops(json!(["verify"]))]).map(|s| s.keys.len()),
        Ok(1)
    );
    assert_eq!(
        parse(&[with_ops(json!(["sign", "verify"]))]).map(|s| s.keys.len()),
        Ok(1)
    );
}

#[test]
fn unknown_key_types_are_skipped_without_failing_the_set() {
    for bad in [
        json!({"kty": "AKP", "alg": "ML-DSA-44", "pub": "AAAA", "kid": "pq"}),
        json!({"kty": "XYZ", "kid": "x"}),
        json!({"kty": "ec", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
        json!({"kid": "no-kty"}),
        json!({"kty": 1}),
        json!({}),
    ] {
        let reasons = skipped_beside_a_good_key(bad.clone());
        assert_eq!(reasons.len(), 1, "{bad}");
    }
}

#[test]
fn an_alg_that_does_not_fit_the_key_type_is_skipped() {
    let with_alg = |signer: Signer, alg: &str| {
        let mut k = signer.jwk();
        k["alg"] = json!(alg);
        k
    };
    assert_skipped(with_alg(Signer::es256(3), "EdDSA"));
    assert_skipped(with_alg(Signer::es256(3), "RS256"));
    assert_skipped(with_alg(Signer::eddsa(3), "ES256"));
    assert_skipped(with_alg(Signer::rs256(), "ES256"));
    // Algorithms the verifier does not implement.
    for alg in ["ES384", "HS256", "PS256", "none", "es256"] {
        assert_skipped(with_alg(Signer::es256(3), alg));
    }
    assert_skipped({
        let mut k = Signer::es256(3).jwk();
        k["alg"] = json!(256);
        k
    });
}

#[test]
fn skipped_keys_are_reported_with_their_kid() {
    let mut enc = Signer::es256(3).jwk();
    enc["use"] = json!("enc");
    enc["kid"] = json!("the-enc-key");
    let set = parse(&[enc, Signer::es256(1).jwk(), json!({"kty": "XYZ"})]).unwrap();
    let kids: Vec<_> = set.skipped.iter().map(|s| s.kid.as_deref()).collect();
    assert_eq!(kids, [Some("the-enc-key"), None]);
    assert!(set.skipped.iter().all(|s| !s.reason.is_empty()));
}

#[test]
fn a_non_string_kid_skips_the_key() {
    let mut k = Signer::es256(3).jwk();
    k["kid"] = json!(7);
    assert_skipped(k);
}

// ---------------------------------------------------------------------------------------------
// Document shape and limits

#[test]
fn documents_over_64_kib_are_too_large() {
    let body = jwks(&[Signer::es256(1).jwk()]);
    let limit = verifier_core::limits::MAX_JWKS_BYTES;
    // Trailing whitespace is valid JSON: pad to the limit exactly, then one byte over.
    let at_limit = format!("{body}{}", " ".repeat(limit - body.len()));
    assert_eq!(jwks_code(&at_limit), "ok");
    let over = format!("{at_limit} ");
    assert_eq!(jwks_code(&over), "jwks_too_large");
    assert_eq!(
        Jwks::parse(over.as_bytes()).unwrap_err(),
        JwksError::TooLarge {
            len: limit + 1,
            max: limit
        }
    );
}

#[test]
fn documents_that_are_not_a_key_set_are_malformed() {
    let key = Signer::es256(1).jwk();
    for document in [
        String::new(),
        "not json".into(),
        "[]".into(),
        format!("[{key}]"),
        "null".into(),
        "{}".into(),
        r#"{"keys": {}}"#.into(),
        r#"{"keys": "[]"}"#.into(),
        r#"{"keys": null}"#.into(),
        r#"{"Keys": []}"#.into(),
        format!(r#"{{"keys": ["{}"]}}"#, "x"),
        format!(r#"{{"keys": [{key}, 1]}}"#),
        format!(r#"{{"keys": [{key}]}} trailing"#),
        format!(r#"{{"keys": [{key}]}}{{"keys": []}}"#),
        "{\"keys\": [\u{feff}]}".into(),
    ] {
        assert_eq!(jwks_code(&document), "jwks_malformed", "{document}");
    }
    assert_eq!(jwks_code(&format!(r#"{{"keys": [{key}]}}"#)), "ok");
}

#[test]
fn duplicate_members_are_malformed() {
    let key = Signer::es256(1).jwk();
    let text = key.to_string();
    let inner = &text[1..text.len() - 1];
    for document in [
        format!(r#"{{"keys": [{key}], "keys": []}}"#),
        format!(r#"{{"keys": [{{{inner}, "x": "AAAA"}}]}}"#),
        format!(r#"{{"keys": [{{{inner}, "kid": "other"}}]}}"#),
        format!(r#"{{"keys": [{{{inner}, "\u0064": "x", "d": "y"}}]}}"#),
    ] {
        assert_eq!(jwks_code(&document), "jwks_malformed", "{document}");
    }
    // The same names in different keys are, of course, fine.
    assert_eq!(
        jwks_code(&jwks(&[key.clone(), Signer::es256(2).jwk()])),
        "ok"
    );
}

#[test]
fn nesting_deeper_than_16_levels_is_malformed() {
    let key = |depth| {
        let mut k = Signer::es256(1).jwk();
        k["x-ext"] = nested(depth);
        k
    };
    // Document (1) > keys (2) > key (3): an extension nested 13 deep makes 16 levels.
    assert_eq!(jwks_code(&jwks(&[key(13)])), "ok");
    assert_eq!(jwks_code(&jwks(&[key(14)])), "jwks_malformed");
    assert_eq!(jwks_code(&"[".repeat(60_000)), "jwks_malformed");
}

#[test]
fn at_most_100_keys_are_read() {
    let keys: Vec<Value> = (0..100)
        .map(|i| json!({"kty": "XYZ", "kid": format!("k{i}")}))
        .collect();
    let mut hundred = keys.clone();
    hundred[0] = Signer::es256(1).jwk();
    assert_eq!(jwks_code(&jwks(&hundred)), "ok");
    let mut more = hundred.clone();
    more.push(Signer::es256(2).jwk());
    assert_eq!(jwks_code(&jwks(&more)), "jwks_malformed");
}

#[test]
fn an_empty_key_set_has_no_usable_key() {
    assert_eq!(jwks_code(r#"{"keys": []}"#), "jwks_no_usable_key");
}

#[test]
fn from_value_accepts_objects_only() {
    let doc: Value = serde_json::from_str(&jwks(&[Signer::es256(1).jwk()])).unwrap();
    assert_eq!(Jwks::from_value(&doc).map(|s| s.keys.len()), Ok(1));
    for bad in [json!([]), json!("{\"keys\":[]}"), json!(null)] {
        assert_eq!(
            Jwks::from_value(&bad).unwrap_err().code(),
            "jwks_malformed",
            "{bad}"
        );
    }
}

#[test]
fn other_members_of_the_document_and_keys_are_ignored() {
    let mut key = Signer::es256(1).jwk();
    key["x5t#S256"] = json!("abc");
    key["ext"] = json!(true);
    let document = json!({"keys": [key], "issuer": ISSUER}).to_string();
    assert_eq!(jwks_code(&document), "ok");
}
