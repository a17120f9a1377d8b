//! Token structure: valid tokens of every algorithm (and minted by another implementation),
//! the compact serialization, canonical base64url, size limits, strict JSON and header members.

use serde_json::{Value, json};
use verifier_core::{Algorithm, PublicJwk};
use verifier_testkit::*;

// ---------------------------------------------------------------------------------------------
// Valid tokens

#[test]
fn es256_token_verifies() {
    let signer = Signer::es256(1);
    let p = provider(&[signer.jwk()]);
    let verified = check(&signer.token(&claims()), &p).expect("valid ES256 token");
    assert_eq!(verified.alg, Algorithm::Es256);
    assert_eq!(verified.kid.as_deref(), Some("es256-1"));
    assert_eq!(verified.header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(verified.claims.sub.as_deref(), Some("svc.warehouse"));
    assert_eq!(verified.claims.client_id.as_deref(), Some("warehouse"));
    assert_eq!(verified.claims.aud, vec![AUDIENCE.to_string()]);
    assert_eq!(
        verified.claims.scopes().collect::<Vec<_>>(),
        ["instruments:read"]
    );
}

#[test]
fn eddsa_token_verifies() {
    let signer = Signer::eddsa(2);
    let p = provider(&[signer.jwk()]);
    let verified = check(&signer.token(&claims()), &p).expect("valid EdDSA token");
    assert_eq!(verified.alg, Algorithm::EdDsa);
    assert_eq!(verified.kid.as_deref(), Some("eddsa-2"));
}

#[test]
fn rs256_token_verifies() {
    let signer = Signer::rs256();
    let p = provider(&[signer.jwk()]);
    let verified = check(&signer.token(&claims()), &p).expect("valid RS256 token");
    assert_eq!(verified.alg, Algorithm::Rs256);
    assert_eq!(verified.kid.as_deref(), Some("rs256-1"));
}

#[test]
fn a_valid_token_fails_under_another_key_with_the_same_kid() {
    // The failing twin of the three tests above: same token, same kid, different key.
    for (signer, impostor) in [
        (Signer::es256(1), Signer::es256(2)),
        (Signer::eddsa(1), Signer::eddsa(2)),
        (Signer::rs256(), Signer::es256(3)),
    ] {
        let impostor = impostor.with_kid(&signer.kid);
        let token = impostor.token_with(&signer.header(), &claims());
        let p = provider(&[signer.jwk()]);
        assert_eq!(
            code(&token, &p),
            "signature_invalid",
            "{} token signed by another key",
            signer.alg()
        );
        assert_eq!(code(&signer.token(&claims()), &p), "valid");
    }
}

/// The issuer's claims as jwt-simple mints them, with the write scope too.
fn issuer_claims() -> jwt_simple::prelude::JWTClaims<JwtSimpleAccessClaims> {
    jwt_simple_claims("instruments:read instruments:write")
}

fn jwk_value(text: &str) -> Value {
    serde_json::from_str(text).expect("jwt-simple exports JSON")
}

#[test]
fn token_minted_like_the_issuer_with_jwt_simple_es256_verifies() {
    use jwt_simple::prelude::*;
    let (kid, token, jwk) =
        jwt_simple_mint!(ES256KeyPair::from_bytes(&[9; 32]).unwrap(), issuer_claims());
    assert_eq!(
        (
            jwk["alg"].as_str(),
            jwk["use"].as_str(),
            jwk["kid"].as_str()
        ),
        (Some("ES256"), Some("sig"), Some(&*kid))
    );
    let p = provider(std::slice::from_ref(&jwk));

    let verified = check(&token, &p).expect("a jwt-simple ES256 access token verifies");
    assert_eq!(verified.kid.as_deref(), Some(kid.as_str()));
    assert_eq!(verified.claims.client_id.as_deref(), Some("warehouse"));
    assert_eq!(
        verified.claims.scopes().collect::<Vec<_>>(),
        ["instruments:read", "instruments:write"]
    );
    // Failing twin: the same token once it has expired.
    assert_eq!(code_at(&token, &p, NOW + 300 + 60), "token_expired");

    // Both implementations compute the same RFC 7638 thumbprint.
    let ours = PublicJwk::Ec {
        crv: "P-256".into(),
        x: jwk["x"].as_str().unwrap().into(),
        y: jwk["y"].as_str().unwrap().into(),
    };
    assert_eq!(ours.thumbprint(), kid);
}

#[test]
fn token_minted_like_the_issuer_with_jwt_simple_eddsa_verifies() {
    use jwt_simple::prelude::*;
    let seed = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([5; 32]));
    let pair = Ed25519KeyPair::from_bytes(seed.as_ref()).unwrap();
    let (kid, token, jwk) = jwt_simple_mint!(pair, issuer_claims());
    let p = provider(std::slice::from_ref(&jwk));
    let verified = check(&token, &p).expect("a jwt-simple EdDSA access token verifies");
    assert_eq!(verified.alg, Algorithm::EdDsa);
    assert_eq!(
        code(&flip_signature_byte(&token, 0), &p),
        "signature_invalid"
    );
    let ours = PublicJwk::Okp {
        crv: "Ed25519".into(),
        x: jwk["x"].as_str().unwrap().into(),
    };
    assert_eq!(ours.thumbprint(), kid);
}

#[test]
fn token_minted_like_the_issuer_with_jwt_simple_rs256_verifies() {
    use jwt_simple::prelude::*;
    let (kid, token, jwk) = jwt_simple_mint!(rs256_jwt_simple_pair().clone(), issuer_claims());
    let p = provider(std::slice::from_ref(&jwk));
    let verified = check(&token, &p).expect("a jwt-simple RS256 access token verifies");
    assert_eq!(verified.alg, Algorithm::Rs256);
    assert_eq!(
        code(&flip_signature_byte(&token, 100), &p),
        "signature_invalid"
    );
    let ours = PublicJwk::Rsa {
        n: jwk["n"].as_str().unwrap().into(),
        e: jwk["e"].as_str().unwrap().into(),
    };
    assert_eq!(ours.thumbprint(), kid);
}

#[test]
fn jwt_simple_default_header_typ_jwt_is_refused_by_the_default_provider() {
    // jwt-simple writes `typ: "JWT"` unless told otherwise: the profile wants at+jwt.
    use jwt_simple::prelude::*;
    let pair = ES256KeyPair::from_bytes(&[9; 32]).unwrap().with_key_id("k");
    let token = pair.sign(issuer_claims()).unwrap();
    let p = provider(&[jwk_value(&pair.public_key().to_jwk())]);
    assert_eq!(code(&token, &p), "typ_invalid");
    assert_eq!(
        code(
            &pair
                .sign_with_options(issuer_claims(), &jwt_simple_at_jwt())
                .unwrap(),
            &p
        ),
        "valid"
    );
}

// ---------------------------------------------------------------------------------------------
// Compact serialization and base64url

fn es256() -> (Signer, verifier_core::Provider) {
    let signer = Signer::es256(1);
    let p = provider(&[signer.jwk()]);
    (signer, p)
}

/// The code of the [`es256`] token whose header has `changes` merged in.
fn code_with_header(changes: Value) -> &'static str {
    let (signer, p) = es256();
    code(
        &signer.token_with(&signer.header_with(changes), &claims()),
        &p,
    )
}

/// The encoded header and claims of `signer`'s token, each padded with spaces to a length that
/// is not a multiple of 3, so its base64url has room for padding and spare bits.
fn unaligned_segments(signer: &Signer) -> (String, String) {
    let unaligned = |mut text: String| {
        while text.len() % 3 == 0 {
            text.push(' ');
        }
        b64(text)
    };
    (
        unaligned(signer.header().to_string()),
        unaligned(claims().to_string()),
    )
}

#[test]
fn wrong_segment_counts_are_malformed() {
    let (signer, p) = es256();
    let good = signer.token(&claims());
    let [h, pl, s] = segments(&good);
    for token in [
        format!("{h}.{pl}"),
        format!("{h}.{pl}.{s}.{s}"),
        format!("{h}.{pl}.{s}.{s}.{s}"), // a JWE has five
        format!("{h}{pl}{s}"),
        String::new(),
        ".".into(),
        "..".into(),
        format!(".{pl}.{s}"),
        format!("{h}.{pl}.{s}."),
    ] {
        assert_eq!(code(&token, &p), "token_malformed", "{token:?}");
    }
    assert_eq!(code(&good, &p), "valid");
}

#[test]
fn empty_signature_is_an_invalid_signature() {
    let (signer, p) = es256();
    let token = signer.token(&claims());
    let [h, pl, _] = segments(&token);
    assert_eq!(code(&format!("{h}.{pl}."), &p), "signature_invalid");
}

#[test]
fn empty_payload_is_malformed_even_when_signed() {
    let (signer, p) = es256();
    let token = signer.sign_segments(&b64(signer.header().to_string()), "");
    assert_eq!(code(&token, &p), "token_malformed");
}

/// Each segment of a valid token respelled by `respell` (header and payload signed as respelled,
/// so only the encoding can be the reason for refusal) is malformed.
fn assert_each_segment_refused(respell: fn(&str) -> String) {
    let (signer, p) = es256();
    let (h, pl) = unaligned_segments(&signer);
    let good = signer.sign_segments(&h, &pl);
    assert_eq!(code(&good, &p), "valid", "the canonical twin verifies");
    assert_eq!(
        code(&signer.sign_segments(&respell(&h), &pl), &p),
        "token_malformed"
    );
    assert_eq!(
        code(&signer.sign_segments(&h, &respell(&pl)), &p),
        "token_malformed"
    );
    // An ES256 signature is 64 bytes: 86 characters, room for "==" and 4 spare bits.
    assert_eq!(
        code(&alter_segment(&good, 2, respell), &p),
        "token_malformed"
    );
}

#[test]
fn padding_is_refused_in_every_segment() {
    assert_each_segment_refused(padded);
}

#[test]
fn whitespace_is_refused() {
    let (signer, p) = es256();
    let h = b64(signer.header().to_string());
    let pl = b64(claims().to_string());
    let good = signer.sign_segments(&h, &pl);
    let split = |s: &str, with: &str| format!("{}{with}{}", &s[..10], &s[10..]);
    for token in [
        signer.sign_segments(&split(&h, " "), &pl),
        signer.sign_segments(&h, &split(&pl, "\n")),
        signer.sign_segments(&h, &split(&pl, "\r\n")),
        signer.sign_segments(&h, &split(&pl, "\t")),
        alter_segment(&good, 2, |s| split(s, " ")),
        format!("{good}\n"),
        format!("{good} "),
        format!(" {good}"),
    ] {
        assert_eq!(code(&token, &p), "token_malformed", "{token:?}");
    }
    assert_eq!(code(&good, &p), "valid");
}

#[test]
fn standard_alphabet_is_refused() {
    let (signer, p) = es256();
    let h = b64(signer.header().to_string());
    // Find payloads whose encoding uses '-' and '_', then write them as '+' and '/'.
    for (urlsafe, standard) in [('-', '+'), ('_', '/')] {
        let payload = (0..)
            .map(|i| b64(claims_with(json!({"jti": format!("jti-{i}-\u{fffd}?>")})).to_string()))
            .find(|pl| pl.contains(urlsafe))
            .unwrap();
        let good = signer.sign_segments(&h, &payload);
        assert_eq!(code(&good, &p), "valid");
        let std_alphabet = payload.replace(urlsafe, &standard.to_string());
        assert_eq!(
            code(&signer.sign_segments(&h, &std_alphabet), &p),
            "token_malformed",
            "{standard}"
        );
    }
}

#[test]
fn stray_trailing_bits_are_refused() {
    assert_each_segment_refused(with_stray_bits);
}

#[test]
fn non_base64_characters_are_refused() {
    let (signer, p) = es256();
    let h = b64(signer.header().to_string());
    let pl = b64(claims().to_string());
    for bad in ["%", "!", "*", "é", "\0"] {
        let payload = format!("{}{bad}{}", &pl[..8], &pl[8..]);
        assert_eq!(
            code(&signer.sign_segments(&h, &payload), &p),
            "token_malformed",
            "{bad:?}"
        );
    }
}

#[test]
fn tokens_over_8_kib_are_too_large_and_8_kib_is_not() {
    let (signer, p) = es256();
    // Grow a claim until the token is exactly 8192 bytes (the payload encoding grows in steps
    // of 1 or 2 characters, so also vary the kid's length).
    let exact = |target: usize| {
        // An ES256 signature is always 64 bytes, 86 characters: find the sizes, then sign once.
        for pad in 0..4 {
            let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": signer.kid, "x-pad": "k".repeat(pad)});
            for filler in 5000..7000 {
                let payload = claims_with(json!({"filler": "f".repeat(filler)}));
                let len = b64(header.to_string()).len() + b64(payload.to_string()).len() + 2 + 86;
                if len == target {
                    let token = signer.token_with(&header, &payload);
                    assert_eq!(token.len(), target);
                    return token;
                }
            }
        }
        panic!("no token of {target} bytes");
    };
    let at_limit = exact(verifier_core::limits::MAX_TOKEN_BYTES);
    assert_eq!(code(&at_limit, &p), "valid");
    let over = exact(verifier_core::limits::MAX_TOKEN_BYTES + 1);
    assert_eq!(code(&over, &p), "token_too_large");
    // The size is judged before anything else.
    assert_eq!(code(&"a".repeat(100_000), &p), "token_too_large");
}

// ---------------------------------------------------------------------------------------------
// Strict JSON

#[test]
fn header_and_claims_must_be_json_objects() {
    let (signer, p) = es256();
    for (header, payload) in [
        ("not json", &*claims().to_string()),
        (r#"["ES256"]"#, &*claims().to_string()),
        (
            r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1"} x"#,
            &*claims().to_string(),
        ),
        (
            r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1"}{}"#,
            &*claims().to_string(),
        ),
        (
            r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1"}"#,
            "not json",
        ),
        (r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1"}"#, "[1,2]"),
        (
            r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1"}"#,
            "\"a string\"",
        ),
        (r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1"}"#, "null"),
    ] {
        assert_eq!(
            code(&signer.sign_text(header, payload), &p),
            "token_malformed",
            "{header} / {payload}"
        );
    }
    let header = r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1"}"#;
    assert_eq!(
        code(&signer.sign_text(header, claims().to_string()), &p),
        "valid"
    );
}

#[test]
fn non_utf8_header_or_payload_is_malformed() {
    let (signer, p) = es256();
    let h = b64(signer.header().to_string());
    let mut bytes = br#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","x":""#.to_vec();
    bytes.extend_from_slice(b"\xff\xfe\"}");
    assert_eq!(
        code(
            &signer.sign_segments(&b64(&bytes), &b64(claims().to_string())),
            &p
        ),
        "token_malformed"
    );
    let mut payload = claims().to_string().into_bytes();
    payload.pop();
    payload.extend_from_slice(b",\"x\":\"\xc3\x28\"}");
    assert_eq!(
        code(&signer.sign_segments(&h, &b64(&payload)), &p),
        "token_malformed"
    );
}

#[test]
fn header_members_of_the_wrong_type_are_malformed() {
    let (signer, p) = es256();
    for header in [
        json!({"typ": "at+jwt", "kid": "es256-1"}),
        json!({"alg": null, "typ": "at+jwt", "kid": "es256-1"}),
        json!({"alg": ["ES256"], "typ": "at+jwt", "kid": "es256-1"}),
        json!({"alg": "ES256", "typ": 1, "kid": "es256-1"}),
        json!({"alg": "ES256", "typ": "at+jwt", "kid": 1}),
        json!({"alg": "ES256", "typ": "at+jwt", "kid": null}),
    ] {
        assert_eq!(
            code(&signer.token_with(&header, &claims()), &p),
            "token_malformed",
            "{header}"
        );
    }
}

#[test]
fn duplicate_header_members_are_malformed() {
    let (signer, p) = es256();
    let payload = claims().to_string();
    for header in [
        r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","kid":"es256-1"}"#,
        r#"{"alg":"none","typ":"at+jwt","kid":"es256-1","alg":"ES256"}"#,
        r#"{"alg":"ES256","typ":"JWT","kid":"es256-1","typ":"at+jwt"}"#,
        // The same name, once escaped: JSON compares decoded names.
        r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","\u006bid":"other"}"#,
    ] {
        assert_eq!(
            code(&signer.sign_text(header, &payload), &p),
            "token_malformed",
            "{header}"
        );
    }
    let single = r#"{"alg":"ES256","typ":"at+jwt","\u006bid":"es256-1"}"#;
    assert_eq!(code(&signer.sign_text(single, &payload), &p), "valid");
}

#[test]
fn duplicate_claims_are_malformed() {
    let (signer, p) = es256();
    let header = signer.header().to_string();
    let base = claims().to_string();
    let body = &base[1..base.len() - 1];
    for extra in [
        format!(r#""exp":{}"#, NOW + 86_000),
        r#""sub":"svc.admin""#.to_string(),
        format!(r#""aud":"{AUDIENCE}""#),
        r#""scope":"instruments:write""#.to_string(),
    ] {
        let payload = format!("{{{body},{extra}}}");
        assert_eq!(
            code(&signer.sign_text(&header, &payload), &p),
            "token_malformed",
            "{extra}"
        );
    }
    // Duplicates nested inside a claim too.
    let payload = format!(r#"{{{body},"act":{{"sub":"a","sub":"b"}}}}"#);
    assert_eq!(
        code(&signer.sign_text(&header, &payload), &p),
        "token_malformed"
    );
    // The same member names in different objects are fine.
    let payload = format!(r#"{{{body},"act":{{"sub":"warehouse","act":{{"sub":"b"}}}}}}"#);
    assert_eq!(code(&signer.sign_text(&header, &payload), &p), "valid");
}

#[test]
fn claims_nested_deeper_than_16_levels_are_malformed() {
    let (signer, p) = es256();
    // The claim set is level 1, so a claim nested 15 deep makes a 16-level document.
    let token = |depth| signer.token(&claims_with(json!({"deep": nested(depth)})));
    assert_eq!(code(&token(15), &p), "valid");
    assert_eq!(code(&token(16), &p), "token_malformed");
    assert_eq!(code(&token(17), &p), "token_malformed");
    let objects = (0..17).fold(json!(0), |inner, _| json!({ "a": inner }));
    assert_eq!(
        code(&signer.token(&claims_with(json!({"deep": objects}))), &p),
        "token_malformed"
    );
}

#[test]
fn absurd_nesting_is_a_clean_refusal_not_a_crash() {
    let (signer, p) = es256();
    let header = signer.header().to_string();
    // As deep as fits under the size limit; unterminated and terminated.
    let open = "[".repeat(5_000);
    assert_eq!(
        code(&signer.sign_text(&header, &open), &p),
        "token_malformed"
    );
    let closed = format!("{{\"a\":{}{}}}", "[".repeat(2_500), "]".repeat(2_500));
    assert_eq!(
        code(&signer.sign_text(&header, &closed), &p),
        "token_malformed"
    );
    let header_deep = format!(
        r#"{{"alg":"ES256","x":{}{}}}"#,
        "[".repeat(2_000),
        "]".repeat(2_000)
    );
    assert_eq!(
        code(&signer.sign_text(&header_deep, claims().to_string()), &p),
        "token_malformed"
    );
}

#[test]
fn header_nested_deeper_than_16_levels_is_malformed() {
    let (signer, p) = es256();
    let header = |depth| {
        let mut h = signer.header();
        h["x-ext"] = nested(depth);
        h
    };
    assert_eq!(
        code(&signer.token_with(&header(15), &claims()), &p),
        "valid"
    );
    assert_eq!(
        code(&signer.token_with(&header(16), &claims()), &p),
        "token_malformed"
    );
}

// ---------------------------------------------------------------------------------------------
// Header members that are never trusted

#[test]
fn embedded_keys_are_forbidden_even_when_correctly_signed() {
    let (signer, p) = es256();
    let attacker = Signer::es256(66).with_kid("es256-1");
    for (member, value) in [
        ("jwk", signer.jwk()),
        ("jwk", attacker.jwk()),
        ("jku", json!("https://evil.test/jwks.json")),
        ("jku", json!(format!("{ISSUER}/.well-known/jwks.json"))),
        ("x5u", json!("https://evil.test/cert.pem")),
        ("x5c", json!(["MIIBszCCAVmgAwIBAgIU"])),
        ("x5c", json!([])),
    ] {
        let mut header = signer.header();
        header[member] = value.clone();
        // Signed by the trusted key: the member alone is the reason.
        assert_eq!(
            code(&signer.token_with(&header, &claims()), &p),
            "header_forbidden",
            "{member}: {value}"
        );
        // Signed by the key the header embeds: still refused, never a key source.
        assert_eq!(
            code(&attacker.token_with(&header, &claims()), &p),
            "header_forbidden",
            "{member}"
        );
    }
    assert_eq!(code(&signer.token(&claims()), &p), "valid");
}

#[test]
fn crit_is_unsupported() {
    for crit in [json!(["exp"]), json!(["x-custom"]), json!([]), json!("exp")] {
        assert_eq!(
            code_with_header(json!({"crit": crit, "x-custom": true})),
            "crit_unsupported",
            "{crit}"
        );
    }
    assert_eq!(
        code_with_header(json!({"x-custom": true})),
        "valid",
        "unknown non-critical members are ignored"
    );
}

#[test]
fn b64_is_forbidden() {
    for (b64_value, crit) in [(false, true), (false, false), (true, false)] {
        let crit_member = if crit { json!(["b64"]) } else { Value::Null };
        assert_eq!(
            code_with_header(json!({"b64": b64_value, "crit": crit_member})),
            "header_forbidden",
            "b64 {b64_value} crit {crit}"
        );
    }
    // RFC 7797 unencoded payload: the raw claims as the payload segment, signed as such.
    let (signer, p) = es256();
    let header = signer.header_with(json!({"b64": false, "crit": ["b64"]}));
    let raw = signer.sign_segments(&b64(header.to_string()), "{}");
    assert_ne!(code(&raw, &p), "valid");
}

#[test]
fn nested_tokens_are_forbidden() {
    let (signer, p) = es256();
    let inner = signer.token(&claims());
    for cty in ["JWT", "jwt", "Jwt"] {
        assert_eq!(
            code_with_header(json!({ "cty": cty })),
            "header_forbidden",
            "{cty}"
        );
        // With the nested token as the payload, as RFC 7519 §5.2 describes.
        let header = signer.header_with(json!({ "cty": cty }));
        let nested = signer.sign_segments(&b64(header.to_string()), &b64(&inner));
        assert_eq!(code(&nested, &p), "header_forbidden", "{cty}");
    }
    assert_eq!(
        code_with_header(json!({"cty": "application/json"})),
        "valid"
    );
}

#[test]
fn nested_token_cty_with_application_prefix_is_forbidden() {
    // RFC 7515 §4.1.10: cty "JWT" and "application/jwt" name the same media type, as the
    // verifier already assumes for `typ`. Either spelling announces a nested token.
    for cty in ["application/jwt", "application/JWT", "Application/Jwt"] {
        assert_eq!(
            code_with_header(json!({ "cty": cty })),
            "header_forbidden",
            "{cty}"
        );
    }
}

#[test]
fn forbidden_members_are_refused_before_any_key_lookup() {
    // No key with this kid exists, and the alg is not allowed: the header is judged first.
    let (_, p) = es256();
    let stranger = Signer::es256(77).with_kid("nobody");
    let mut header = stranger.header();
    header["jku"] = json!("https://evil.test/");
    assert_eq!(
        code(&stranger.token_with(&header, &claims()), &p),
        "header_forbidden"
    );
    assert_eq!(code(&stranger.token(&claims()), &p), "kid_unknown");
}

// ---------------------------------------------------------------------------------------------
// Bad input is a clean refusal, never a panic (in Envoy a panic kills the VM)

#[test]
fn every_truncation_and_single_character_change_is_refused_cleanly() {
    let (signer, p) = es256();
    let token = signer.token(&claims());
    assert_eq!(code(&token, &p), "valid");
    for len in 0..token.len() {
        assert_ne!(code(&token[..len], &p), "valid", "truncated to {len}");
    }
    let bytes = token.as_bytes();
    for (i, &original) in bytes.iter().enumerate() {
        for replacement in [b'A', b'_', b'.', b'=', b' '] {
            if replacement == original {
                continue;
            }
            let mut altered = bytes.to_vec();
            altered[i] = replacement;
            let altered = String::from_utf8(altered).unwrap();
            // Some changes only touch the unused low bits of a final character and are caught
            // as non-canonical; none may verify.
            assert_ne!(
                code(&altered, &p),
                "valid",
                "byte {i} -> {:?}",
                replacement as char
            );
        }
    }
}

#[test]
fn hostile_json_shapes_in_header_and_claims_never_panic() {
    let (signer, p) = es256();
    let header = signer.header().to_string();
    let payload = claims().to_string();
    let shapes = [
        "",
        " ",
        "{",
        "}",
        "{}",
        "[]",
        "{\"alg\"}",
        "{\"alg\":}",
        "{:\"ES256\"}",
        "{\"alg\":\"ES256\",}",
        "\"\\ud800\"",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":1e999999999}",
        "{\"a\":-}",
        "{\"a\":01}",
        "{\"a\":tru}",
        "{\"a\":\"\u{0}\"}",
        "\u{feff}{}",
        "{\"a\":1}\u{0}",
        "{\"exp\":18446744073709551616}",
        "{\"exp\":-9223372036854775809}",
    ];
    for shape in shapes {
        assert_ne!(
            code(&signer.sign_text(shape, &payload), &p),
            "valid",
            "header {shape:?}"
        );
        assert_ne!(
            code(&signer.sign_text(&header, shape), &p),
            "valid",
            "payload {shape:?}"
        );
    }
}
