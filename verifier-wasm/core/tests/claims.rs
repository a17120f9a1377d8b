//! Claims: numeric dates and the clock, issuer, audience, `typ` and the RFC 9068 profile, and
//! values that would become upstream request headers.

use serde_json::{Value, json};
use verifier_core::Provider;
use verifier_testkit::*;

fn setup() -> (Signer, Provider) {
    let signer = Signer::es256(1);
    let p = provider(&[signer.jwk()]);
    (signer, p)
}

/// A provider that does not pin `typ` (third-party issuers): no RFC 9068 claims demanded.
fn untyped() -> (Signer, Provider) {
    let signer = Signer::es256(1);
    let p = provider_with(&[signer.jwk()], json!({"typ": null}));
    (signer, p)
}

fn with(changes: Value) -> Value {
    claims_with(changes)
}

/// `claims()` with `name` set to JSON null (which [`claims_with`] would remove instead).
fn with_null(name: &str) -> Value {
    let mut c = claims();
    c[name] = Value::Null;
    c
}

// ---------------------------------------------------------------------------------------------
// exp

#[test]
fn exp_is_required() {
    let (signer, p) = setup();
    assert_eq!(
        code(&signer.token(&with(json!({"exp": null}))), &p),
        "claim_missing"
    );
    let (signer, p) = untyped();
    assert_eq!(
        code(&signer.token(&with(json!({"exp": null}))), &p),
        "claim_missing"
    );
    assert_eq!(code(&signer.token(&claims()), &p), "valid");
}

#[test]
fn exp_must_be_a_number() {
    let (signer, p) = setup();
    for exp in [
        json!("1700000290"),
        json!(true),
        json!([NOW + 290]),
        json!({"t": NOW + 290}),
    ] {
        assert_eq!(
            code(&signer.token(&with(json!({ "exp": exp }))), &p),
            "claim_invalid",
            "{exp}"
        );
    }
    assert_eq!(code(&signer.token(&with_null("exp")), &p), "claim_invalid");
}

#[test]
fn exp_must_be_non_negative() {
    let (signer, p) = setup();
    for exp in ["-1", "-0.5", "-1700000290", "-1e10"] {
        assert_eq!(
            code(&signer.token_with_raw_claim("exp", exp), &p),
            "claim_invalid",
            "{exp}"
        );
    }
    assert_eq!(
        code(&signer.token_with_raw_claim("exp", "1700000290"), &p),
        "valid"
    );
}

#[test]
fn exp_out_of_range_or_not_a_json_number_is_refused() {
    let (signer, p) = setup();
    for exp in [
        "1e400",
        "-1e400",
        "1E999",
        "NaN",
        "Infinity",
        "-Infinity",
        "0x6553F100",
        "+1700000290",
        "01700000290",
    ] {
        let outcome = code(&signer.token_with_raw_claim("exp", exp), &p);
        assert!(
            ["token_malformed", "claim_invalid"].contains(&outcome),
            "{exp}: {outcome}"
        );
    }
    assert_eq!(
        code(
            &signer.token_with_raw_claim("exp", &(NOW + 290).to_string()),
            &p
        ),
        "valid"
    );
}

#[test]
fn fractional_and_exponent_dates_are_accepted() {
    let (signer, p) = setup();
    for exp in [
        "1700000290.5",
        "1.70000029e9",
        "1700000000.25",
        "17000002900e-1",
    ] {
        assert_eq!(
            code(&signer.token_with_raw_claim("exp", exp), &p),
            "valid",
            "{exp}"
        );
    }
    let verified = check(&signer.token_with_raw_claim("exp", "1700000290.5"), &p).unwrap();
    assert_eq!(verified.claims.exp, 1_700_000_290.5);
    // A fraction can also put it just past the skew.
    assert_eq!(
        code(&signer.token_with_raw_claim("exp", "1699999939.5"), &p),
        "token_expired"
    );
}

#[test]
fn expiry_allows_the_default_60_second_skew_exactly() {
    let (signer, p) = setup();
    let at = |exp: f64| signer.token(&with(json!({"exp": exp, "iat": NOW - 600})));
    let now = NOW as f64;
    assert_eq!(code(&at(now + 1.0), &p), "valid");
    assert_eq!(code(&at(now), &p), "valid", "exp == now is within the skew");
    assert_eq!(code(&at(now - 59.0), &p), "valid");
    assert_eq!(code(&at(now - 59.5), &p), "valid");
    // now == exp + skew: expired (RFC 7519 §4.1.4: now must be before exp).
    assert_eq!(code(&at(now - 60.0), &p), "token_expired");
    assert_eq!(code(&at(now - 61.0), &p), "token_expired");
    assert_eq!(code(&at(0.0), &p), "token_expired");
}

#[test]
fn expiry_uses_the_configured_skew() {
    let signer = Signer::es256(1);
    let strict = provider_with(&[signer.jwk()], json!({"clock_skew_seconds": 0}));
    let lax = provider_with(&[signer.jwk()], json!({"clock_skew_seconds": 600}));
    let at = |exp: u64| signer.token(&with(json!({"exp": exp, "iat": NOW - 1_000})));
    assert_eq!(code(&at(NOW), &strict), "token_expired");
    assert_eq!(code(&at(NOW + 1), &strict), "valid");
    assert_eq!(code(&at(NOW - 599), &lax), "valid");
    assert_eq!(code(&at(NOW - 600), &lax), "token_expired");
}

// ---------------------------------------------------------------------------------------------
// nbf and iat

#[test]
fn nbf_in_the_future_beyond_the_skew_is_not_yet_valid() {
    let (signer, p) = setup();
    let at = |nbf: u64| signer.token(&with(json!({ "nbf": nbf })));
    assert_eq!(code(&at(NOW + 61), &p), "token_not_yet_valid");
    assert_eq!(code(&at(NOW + 3_600), &p), "token_not_yet_valid");
    assert_eq!(
        code(&at(NOW + 60), &p),
        "valid",
        "now + skew == nbf is acceptable"
    );
    assert_eq!(code(&at(NOW), &p), "valid");
    assert_eq!(code(&at(NOW - 100), &p), "valid");
}

#[test]
fn nbf_and_iat_must_be_non_negative_numbers() {
    let (signer, p) = setup();
    for claim in ["nbf", "iat"] {
        for value in [
            json!("1700000000"),
            json!(-1),
            json!(-0.5),
            json!(false),
            json!([1]),
        ] {
            let token = signer.token(&with(json!({ claim: value })));
            assert_eq!(code(&token, &p), "claim_invalid", "{claim}: {value}");
        }
        assert_eq!(
            code(&signer.token(&with_null(claim)), &p),
            "claim_invalid",
            "{claim}: null"
        );
        let outcome = code(&signer.token_with_raw_claim(claim, "1e400"), &p);
        assert!(
            ["token_malformed", "claim_invalid"].contains(&outcome),
            "{claim}: {outcome}"
        );
    }
}

#[test]
fn iat_in_the_future_beyond_the_skew_is_refused() {
    let (signer, p) = setup();
    let at = |iat: u64| signer.token(&with(json!({ "iat": iat, "exp": NOW + 600 })));
    assert_eq!(code(&at(NOW + 61), &p), "iat_in_future");
    assert_eq!(code(&at(NOW + 60), &p), "valid");
    assert_eq!(code(&at(NOW), &p), "valid");
}

#[test]
fn lifetime_is_bounded_by_24_hours_by_default() {
    let (signer, p) = setup();
    let life =
        |seconds: u64| signer.token(&with(json!({"iat": NOW - 10, "exp": NOW - 10 + seconds})));
    assert_eq!(code(&life(86_400), &p), "valid");
    assert_eq!(code(&life(86_401), &p), "lifetime_too_long");
    assert_eq!(code(&life(365 * 86_400), &p), "lifetime_too_long");
    // A fraction over the limit is over the limit.
    let token = signer.token_with_raw_claim("exp", &format!("{}.5", NOW - 10 + 86_400));
    assert_eq!(code(&token, &p), "lifetime_too_long");
    // Issued long ago and still unexpired: it has lived too long.
    assert_eq!(
        code(
            &signer.token(&with(json!({"iat": 0, "exp": NOW + 100}))),
            &p
        ),
        "lifetime_too_long"
    );
    // An absurd exp.
    assert_eq!(
        code(&signer.token(&with(json!({"exp": 1e300}))), &p),
        "lifetime_too_long"
    );
}

#[test]
fn without_iat_the_lifetime_counts_from_now() {
    let (signer, p) = untyped();
    let exp = |exp: u64| signer.token(&with(json!({"iat": null, "exp": exp})));
    assert_eq!(code(&exp(NOW + 86_400), &p), "valid");
    assert_eq!(code(&exp(NOW + 86_401), &p), "lifetime_too_long");
}

#[test]
fn a_provider_with_a_60_second_max_lifetime_refuses_a_5_minute_token() {
    let signer = Signer::es256(1);
    let p = provider_with(&[signer.jwk()], json!({"max_lifetime_seconds": 60}));
    assert_eq!(p.max_lifetime_seconds, 60);
    let five_minutes = signer.token(&with(json!({"iat": NOW, "exp": NOW + 300})));
    assert_eq!(code(&five_minutes, &p), "lifetime_too_long");
    let one_minute = signer.token(&with(json!({"iat": NOW, "exp": NOW + 60})));
    assert_eq!(code(&one_minute, &p), "valid");
}

// ---------------------------------------------------------------------------------------------
// iss and aud

#[test]
fn issuer_must_match_exactly() {
    let (signer, p) = setup();
    for iss in [
        "https://issuer.test/",
        "HTTPS://issuer.test",
        "https://ISSUER.test",
        "https://issuer.test.evil",
        "https://evil.test",
        "http://issuer.test",
        " https://issuer.test",
        "https://issuer.test\u{0}",
        "",
    ] {
        assert_eq!(
            code(&signer.token(&with(json!({ "iss": iss }))), &p),
            "issuer_mismatch",
            "{iss:?}"
        );
    }
    assert_eq!(code(&signer.token(&claims()), &p), "valid");
}

#[test]
fn issuer_is_required_and_a_string() {
    let (signer, p) = setup();
    assert_eq!(
        code(&signer.token(&with(json!({"iss": null}))), &p),
        "claim_missing"
    );
    let (signer, untyped) = untyped();
    assert_eq!(
        code(&signer.token(&with(json!({"iss": null}))), &untyped),
        "claim_missing"
    );
    for iss in [json!(1), json!([ISSUER]), json!({"iss": ISSUER})] {
        assert_eq!(
            code(&signer.token(&with(json!({ "iss": iss }))), &p),
            "claim_invalid",
            "{iss}"
        );
    }
}

#[test]
fn audience_must_name_one_of_the_providers() {
    let (signer, p) = setup();
    for aud in [
        json!("svc.other"),
        json!("SVC.API"),
        json!("svc.api "),
        json!(""),
        json!(["svc.other"]),
        json!([]),
    ] {
        assert_eq!(
            code(&signer.token(&with(json!({ "aud": aud }))), &p),
            "audience_mismatch",
            "{aud}"
        );
    }
    for aud in [
        json!(AUDIENCE),
        json!([AUDIENCE]),
        json!(["svc.other", AUDIENCE]),
        json!([AUDIENCE, "svc.other"]),
    ] {
        assert_eq!(
            code(&signer.token(&with(json!({ "aud": aud }))), &p),
            "valid",
            "{aud}"
        );
    }
}

#[test]
fn any_of_several_provider_audiences_is_accepted() {
    let signer = Signer::es256(1);
    let p = provider_with(&[signer.jwk()], json!({"audiences": ["svc.a", "svc.b"]}));
    assert_eq!(
        code(&signer.token(&with(json!({"aud": "svc.b"}))), &p),
        "valid"
    );
    assert_eq!(
        code(&signer.token(&with(json!({"aud": ["svc.x", "svc.a"]}))), &p),
        "valid"
    );
    assert_eq!(
        code(&signer.token(&with(json!({"aud": AUDIENCE}))), &p),
        "audience_mismatch"
    );
}

#[test]
fn audience_must_be_a_string_or_strings() {
    let (signer, p) = setup();
    for aud in [
        json!([1]),
        json!(1),
        json!([AUDIENCE, 1]),
        json!([null]),
        json!({"aud": AUDIENCE}),
        json!([[AUDIENCE]]),
        json!(true),
    ] {
        assert_eq!(
            code(&signer.token(&with(json!({ "aud": aud }))), &p),
            "claim_invalid",
            "{aud}"
        );
    }
    assert_eq!(code(&signer.token(&with_null("aud")), &p), "claim_invalid");
}

#[test]
fn audience_is_required() {
    let (signer, p) = setup();
    assert_eq!(
        code(&signer.token(&with(json!({"aud": null}))), &p),
        "claim_missing"
    );
    let (signer, p) = untyped();
    assert_eq!(
        code(&signer.token(&with(json!({"aud": null}))), &p),
        "audience_mismatch"
    );
}

// ---------------------------------------------------------------------------------------------
// typ and the RFC 9068 profile

fn with_typ(signer: &Signer, typ: Option<&str>) -> String {
    let mut header = signer.header();
    match typ {
        Some(t) => header["typ"] = json!(t),
        None => {
            header.as_object_mut().unwrap().remove("typ");
        }
    }
    signer.token_with(&header, &claims())
}

#[test]
fn typ_must_be_at_jwt_by_default() {
    let (signer, p) = setup();
    assert_eq!(p.typ.as_deref(), Some("at+jwt"));
    assert_eq!(code(&with_typ(&signer, None), &p), "typ_invalid");
    for typ in [
        "JWT",
        "jwt",
        "application/jwt",
        "at+jwt ",
        "at+jwt; charset=utf-8",
        "application/",
        "",
        "x-application/at+jwt",
        "at+JWS",
        "dpop+jwt",
    ] {
        assert_eq!(
            code(&with_typ(&signer, Some(typ)), &p),
            "typ_invalid",
            "{typ:?}"
        );
    }
    for typ in [
        "at+jwt",
        "AT+JWT",
        "At+Jwt",
        "application/at+jwt",
        "APPLICATION/AT+JWT",
        "Application/at+JWT",
    ] {
        assert_eq!(code(&with_typ(&signer, Some(typ)), &p), "valid", "{typ:?}");
    }
}

#[test]
fn typ_is_checked_before_any_key() {
    let (_, p) = setup();
    let stranger = Signer::es256(42).with_kid("nobody");
    assert_eq!(code(&with_typ(&stranger, Some("JWT")), &p), "typ_invalid");
    assert_eq!(
        code(&with_typ(&stranger, Some("at+jwt")), &p),
        "kid_unknown"
    );
}

#[test]
fn typ_null_accepts_any_type() {
    let (signer, p) = untyped();
    assert_eq!(p.typ, None);
    for typ in [
        None,
        Some("JWT"),
        Some("jwt"),
        Some("at+jwt"),
        Some("anything"),
    ] {
        assert_eq!(code(&with_typ(&signer, typ), &p), "valid", "{typ:?}");
    }
}

#[test]
fn a_configured_typ_is_compared_as_a_media_type() {
    let signer = Signer::es256(1);
    let p = provider_with(&[signer.jwk()], json!({"typ": "application/secevent+jwt"}));
    assert_eq!(code(&with_typ(&signer, Some("secevent+jwt")), &p), "valid");
    assert_eq!(
        code(&with_typ(&signer, Some("application/secevent+jwt")), &p),
        "valid"
    );
    assert_eq!(code(&with_typ(&signer, Some("at+jwt")), &p), "typ_invalid");
}

#[test]
fn the_access_token_profile_requires_all_rfc_9068_claims() {
    let (signer, p) = setup();
    for claim in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"] {
        let token = signer.token(&with(json!({ claim: null })));
        assert_eq!(code(&token, &p), "claim_missing", "without {claim}");
    }
    // scope is optional (RFC 9068 §2.2.3).
    assert_eq!(
        code(&signer.token(&with(json!({"scope": null}))), &p),
        "valid"
    );
}

#[test]
fn typ_null_does_not_demand_the_rfc_9068_claims() {
    let (signer, p) = untyped();
    let minimal = json!({"iss": ISSUER, "aud": AUDIENCE, "exp": NOW + 300});
    let header = json!({"alg": "ES256", "kid": signer.kid, "typ": "JWT"});
    let verified =
        check(&signer.token_with(&header, &minimal), &p).expect("minimal third-party token");
    assert_eq!(verified.claims.sub, None);
    for claim in ["jti", "client_id", "sub", "iat"] {
        assert_eq!(
            code(&signer.token(&with(json!({ claim: null }))), &p),
            "valid",
            "without {claim}"
        );
    }
    // The default provider refuses the same minimal token.
    let (_, typed) = setup();
    assert_eq!(code(&signer.token(&minimal), &typed), "claim_missing");
}

#[test]
fn string_claims_must_be_strings() {
    let (signer, p) = setup();
    for claim in ["sub", "client_id", "jti", "scope"] {
        for value in [json!(1), json!(["a"]), json!({"a": 1}), json!(true)] {
            let token = signer.token(&with(json!({ claim: value })));
            assert_eq!(code(&token, &p), "claim_invalid", "{claim}: {value}");
        }
    }
}

#[test]
fn control_characters_in_forwarded_claims_are_refused() {
    // sub, client_id and scope become x-auth-* request headers upstream.
    let (signer, p) = setup();
    for claim in ["sub", "client_id", "scope"] {
        for value in [
            "svc\r\nx-injected: 1",
            "svc\n",
            "svc\r",
            "svc\u{0}",
            "svc\t",
            "svc\u{7f}",
            "svc\u{85}",
            "\u{1b}[31m",
        ] {
            let token = signer.token(&with(json!({ claim: value })));
            assert_eq!(code(&token, &p), "claim_invalid", "{claim}: {value:?}");
        }
        let token = signer.token(&with(json!({ claim: "svc.fine-name_1:2/3" })));
        assert_eq!(code(&token, &p), "valid", "{claim}");
    }
}

#[test]
fn verified_claims_carry_what_the_token_says() {
    let (signer, p) = setup();
    let token = signer.token(&with(
        json!({"nbf": NOW - 5, "scope": "  a b\u{20}\u{20}c ", "act": {"sub": "svc.proxy"}, "client_id": "svc.proxy"}),
    ));
    let verified = check(&token, &p).unwrap();
    let c = &verified.claims;
    assert_eq!(c.iss.as_deref(), Some(ISSUER));
    assert_eq!(c.exp, (NOW + 290) as f64);
    assert_eq!(c.iat, Some((NOW - 10) as f64));
    assert_eq!(c.nbf, Some((NOW - 5) as f64));
    assert_eq!(c.jti.as_deref(), Some("4f1c2a0e-jti"));
    assert_eq!(c.scopes().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(c.raw["act"]["sub"], "svc.proxy");
    assert_eq!(
        c.delegation.as_ref().map(|d| d.chain.as_str()),
        Some("svc.proxy")
    );
}
