//! Known JWT attacks, against the most permissive provider the configuration allows (every
//! algorithm, keys of every type), each asserting the stable code it is refused with.
//!
//! tokens.rs, signatures.rs and claims.rs already cover the basic form of most of these against
//! the default three-algorithm provider; this file adds what they do not: HS384/HS512 and the
//! public key in every encoding (PEM, DER, compressed points, thumbprint input…), escaped member
//! names, the new algorithms (ES384, PS*, ML-DSA) in the signature attacks, Ed25519 small-order
//! keys, numeric dates at the edges of f64/u64, and — through `decide` with a key source that
//! records what it is asked — proof that a refused header never reaches the keys, so no fetch.

use std::cell::Cell;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use verifier_core::{Config, Decision, KeyState, Keys, Provider, decide};
use verifier_testkit::*;

// ---------------------------------------------------------------------------------------------
// The target: one provider allowing every algorithm, with a key of each type

struct Target {
    es256: Signer,
    eddsa: Signer,
    rs256: Signer,
    es384: Signer,
    mldsa44: Signer,
}

impl Target {
    fn new() -> Target {
        Target {
            es256: Signer::es256(1),
            eddsa: Signer::eddsa(1),
            rs256: Signer::rs256(),
            es384: Signer::es384(1),
            mldsa44: Signer::mldsa44(1),
        }
    }

    fn signers(&self) -> [&Signer; 5] {
        [
            &self.es256,
            &self.eddsa,
            &self.rs256,
            &self.es384,
            &self.mldsa44,
        ]
    }

    fn keys(&self) -> Vec<Value> {
        self.signers().iter().map(|s| s.jwk()).collect()
    }

    fn provider_json(&self) -> Value {
        let mut p = provider_json(&self.keys());
        merge(&mut p, every_algorithm());
        p
    }

    fn provider(&self) -> Provider {
        provider_from(self.provider_json())
    }

    fn config(&self) -> Config {
        parse_config(&config_json(self.provider_json()))
    }
}

/// A key source that records what the decision asks of it.
struct Watching<'c> {
    inner: TestKeys<'c>,
    refetch: bool,
    states: Cell<usize>,
    refetches: Cell<usize>,
}

impl<'c> Watching<'c> {
    fn new(config: &'c Config, refetch: bool) -> Watching<'c> {
        Watching {
            inner: TestKeys::ready(config),
            refetch,
            states: Cell::new(0),
            refetches: Cell::new(0),
        }
    }
}

impl Keys for Watching<'_> {
    fn state(&self, provider: &str) -> KeyState<'_> {
        self.states.set(self.states.get() + 1);
        self.inner.state(provider)
    }

    fn may_refetch(&self, provider: &str, _now: u64) -> bool {
        assert_eq!(
            provider, PROVIDER,
            "a refetch is only ever for the configured provider"
        );
        self.refetches.set(self.refetches.get() + 1);
        self.refetch
    }
}

/// What `decide` does with `Authorization: Bearer <token>`: `allow`, `wait:<provider>`, or the
/// denial's code; and how often it asked for keys and for a refetch.
fn decide_watched(config: &Config, token: &str, refetch: bool) -> (String, usize, usize) {
    let keys = Watching::new(config, refetch);
    let authorization = bearer(token);
    let request = request("GET", "/", Some(&authorization));
    let outcome = match decide(config, &keys, &request, NOW) {
        Decision::Allow { .. } => "allow".to_string(),
        Decision::Deny(denial) => {
            assert_eq!(denial.status, 401, "{}", denial.error.code());
            denial.error.code().to_string()
        }
        Decision::Wait { provider, .. } => format!("wait:{provider}"),
    };
    (outcome, keys.states.get(), keys.refetches.get())
}

/// Refused before any key is looked at: same code through `decide`, and the keys never asked.
fn assert_refused_before_keys(target: &Target, token: &str, expected: &str, what: &str) {
    assert_eq!(code(token, &target.provider()), expected, "{what}");
    let config = target.config();
    for refetch in [false, true] {
        let (outcome, states, refetches) = decide_watched(&config, token, refetch);
        assert_eq!(outcome, expected, "{what} through decide");
        assert_eq!((states, refetches), (0, 0), "{what}: keys consulted");
    }
}

#[test]
fn the_target_accepts_each_of_its_genuine_tokens() {
    let target = Target::new();
    let p = target.provider();
    let config = target.config();
    for signer in target.signers() {
        let token = signer.token(&claims());
        assert_eq!(code(&token, &p), "valid", "{}", signer.alg());
        let (outcome, states, refetches) = decide_watched(&config, &token, true);
        assert_eq!((outcome.as_str(), states, refetches), ("allow", 1, 0));
    }
}

// ---------------------------------------------------------------------------------------------
// alg "none"

#[test]
fn alg_none_is_refused_even_by_a_provider_allowing_every_algorithm() {
    let target = Target::new();
    let pl = b64(claims().to_string());
    for none in [
        "none",
        "None",
        "NONE",
        "nOnE",
        "NoNe",
        "none ",
        "\u{006e}one",
    ] {
        for header in [
            json!({"alg": none, "typ": "at+jwt", "kid": "es256-1"}),
            json!({"alg": none, "typ": "at+jwt"}),
            json!({"alg": none}),
        ] {
            let h = b64(header.to_string());
            for signature in ["", "AA", &b64([0u8; 64])] {
                let token = format!("{h}.{pl}.{signature}");
                assert_refused_before_keys(
                    &target,
                    &token,
                    "alg_not_allowed",
                    &format!("{header} sig {signature:?}"),
                );
            }
            // With a genuine ES256 signature over the same input.
            let signed = target.es256.sign_segments(&h, &pl);
            assert_refused_before_keys(&target, &signed, "alg_not_allowed", "signed none");
        }
    }
}

#[test]
fn alg_none_written_with_json_escapes_or_look_alikes_is_refused() {
    let target = Target::new();
    let pl = b64(claims().to_string());
    for header in [
        // JSON escapes decode to "none": still none, still refused.
        r#"{"alg":"\u006eone","typ":"at+jwt"}"#,
        r#"{"\u0061lg":"none","typ":"at+jwt"}"#,
        // Look-alikes and empty: no such algorithm.
        r#"{"alg":"n\u03bfne","typ":"at+jwt"}"#,
        r#"{"alg":"","typ":"at+jwt"}"#,
        r#"{"alg":"ES256\u0000","typ":"at+jwt","kid":"es256-1"}"#,
        r#"{"alg":"ＥＳ256","typ":"at+jwt","kid":"es256-1"}"#,
    ] {
        let token = format!("{}.{pl}.", b64(header));
        assert_refused_before_keys(&target, &token, "alg_not_allowed", header);
    }
}

// ---------------------------------------------------------------------------------------------
// RS/ES/EdDSA-to-HS confusion: the public key, in every encoding, as an HMAC secret

/// `label` PEM of `der`: 64-column base64 lines, with `eol` line endings.
fn pem(label: &str, der: &[u8], eol: &str) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----{eol}");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push_str(eol);
    }
    out.push_str(&format!("-----END {label}-----{eol}"));
    out
}

/// A compressed SEC1 point from an uncompressed one.
fn compressed(point: &[u8]) -> Vec<u8> {
    let size = (point.len() - 1) / 2;
    let prefix = 2 + (point[point.len() - 1] & 1);
    [&[prefix][..], &point[1..=size]].concat()
}

/// Every way a public key is commonly written down, with the kid of the key it belongs to.
fn public_key_encodings(target: &Target) -> Vec<(String, String, Vec<u8>)> {
    use jwt_simple::prelude::*;
    let mut out: Vec<(String, String, Vec<u8>)> = Vec::new();
    let mut add = |what: &str, kid: &str, bytes: Vec<u8>| {
        out.push((what.to_string(), kid.to_string(), bytes));
    };

    // ES256
    let es = &target.es256;
    let point = es.sec1_uncompressed();
    let spki = [
        unhex("3059301306072a8648ce3d020106082a8648ce3d030107034200"),
        point.clone(),
    ]
    .concat();
    let theirs = ES256PublicKey::from_bytes(&point).unwrap();
    assert_eq!(
        theirs.to_der().unwrap(),
        spki,
        "our SPKI matches jwt-simple's"
    );
    let spki_pem = pem("PUBLIC KEY", &spki, "\n");
    assert_eq!(theirs.to_pem().unwrap().trim_end(), spki_pem.trim_end());
    let thumbprint_input = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        es.jwk()["x"].as_str().unwrap(),
        es.jwk()["y"].as_str().unwrap()
    );
    for (what, bytes) in [
        ("SEC1 uncompressed", point.clone()),
        ("SEC1 compressed", compressed(&point)),
        ("x || y", point[1..].to_vec()),
        ("x", point[1..33].to_vec()),
        ("SPKI DER", spki.clone()),
        ("SPKI PEM", spki_pem.clone().into_bytes()),
        (
            "SPKI PEM, no final newline",
            spki_pem.trim_end().as_bytes().to_vec(),
        ),
        (
            "SPKI PEM, CRLF",
            pem("PUBLIC KEY", &spki, "\r\n").into_bytes(),
        ),
        ("SPKI base64", STANDARD.encode(&spki).into_bytes()),
        ("SEC1 hex", hex(&point).into_bytes()),
        ("SEC1 base64url", b64(&point).into_bytes()),
        (
            "JWK x text",
            es.jwk()["x"].as_str().unwrap().as_bytes().to_vec(),
        ),
        ("JWK JSON", es.jwk().to_string().into_bytes()),
        (
            "JWK JSON, pretty",
            serde_json::to_vec_pretty(&es.jwk()).unwrap(),
        ),
        ("RFC 7638 thumbprint input", thumbprint_input.into_bytes()),
        ("kid", es.kid.clone().into_bytes()),
        ("JWKS document", jwks(&target.keys()).into_bytes()),
    ] {
        add(&format!("ES256 {what}"), &es.kid, bytes);
    }

    // RSA
    let rs = &target.rs256;
    let n = unb64(rs.jwk()["n"].as_str().unwrap());
    let e = unb64(rs.jwk()["e"].as_str().unwrap());
    let public = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&n),
        rsa::BigUint::from_bytes_be(&e),
    )
    .unwrap();
    let pkcs1 = {
        use rsa::pkcs1::EncodeRsaPublicKey as _;
        public.to_pkcs1_der().unwrap().as_bytes().to_vec()
    };
    let rsa_spki = RS256PublicKey::from_components(&n, &e)
        .unwrap()
        .to_der()
        .unwrap();
    for (what, bytes) in [
        ("n", n.clone()),
        (
            "n base64url",
            rs.jwk()["n"].as_str().unwrap().as_bytes().to_vec(),
        ),
        ("PKCS#1 DER", pkcs1.clone()),
        (
            "PKCS#1 PEM",
            pem("RSA PUBLIC KEY", &pkcs1, "\n").into_bytes(),
        ),
        ("SPKI DER", rsa_spki.clone()),
        ("SPKI PEM", pem("PUBLIC KEY", &rsa_spki, "\n").into_bytes()),
        ("JWK JSON", rs.jwk().to_string().into_bytes()),
    ] {
        add(&format!("RSA {what}"), &rs.kid, bytes);
    }

    // Ed25519
    let ed = &target.eddsa;
    let raw = unb64(ed.jwk()["x"].as_str().unwrap());
    let ed_spki = [unhex("302a300506032b6570032100"), raw.clone()].concat();
    for (what, bytes) in [
        ("raw", raw.clone()),
        (
            "x text",
            ed.jwk()["x"].as_str().unwrap().as_bytes().to_vec(),
        ),
        ("SPKI DER", ed_spki.clone()),
        ("SPKI PEM", pem("PUBLIC KEY", &ed_spki, "\n").into_bytes()),
        ("JWK JSON", ed.jwk().to_string().into_bytes()),
    ] {
        add(&format!("Ed25519 {what}"), &ed.kid, bytes);
    }

    // ES384 and ML-DSA-44
    let point = target.es384.sec1_uncompressed_p384();
    let spki384 = [
        unhex("3076301006072a8648ce3d020106052b81040022036200"),
        point.clone(),
    ]
    .concat();
    assert_eq!(
        ES384PublicKey::from_bytes(&point)
            .unwrap()
            .to_der()
            .unwrap(),
        spki384
    );
    add("ES384 SEC1", &target.es384.kid, point);
    add(
        "ES384 SPKI PEM",
        &target.es384.kid,
        pem("PUBLIC KEY", &spki384, "\n").into_bytes(),
    );
    add(
        "ES384 JWK JSON",
        &target.es384.kid,
        target.es384.jwk().to_string().into_bytes(),
    );
    let ml = &target.mldsa44;
    add(
        "ML-DSA-44 pub",
        &ml.kid,
        unb64(ml.jwk()["pub"].as_str().unwrap()),
    );
    add(
        "ML-DSA-44 JWK JSON",
        &ml.kid,
        ml.jwk().to_string().into_bytes(),
    );
    add("empty", &es.kid, Vec::new());
    out
}

#[test]
fn the_hmac_helper_agrees_with_two_other_implementations() {
    // hmac-sha256 for HS256, and jwt-simple (which accepts the token) for all three.
    use jwt_simple::prelude::*;
    let key = b"a secret at least sixty-four bytes long, as jwt-simple insists....";
    assert_eq!(
        hmac("HS256", key, b"message"),
        hmac_sha256::HMAC::mac(b"message", key).to_vec()
    );
    assert_eq!(
        hmac("HS256", &[7; 100], b"m"),
        hmac_sha256::HMAC::mac(b"m", [7; 100]).to_vec()
    );
    let options = || VerificationOptions {
        artificial_time: Some(Duration::from_secs(NOW + 1)),
        ..Default::default()
    };
    for alg in ["HS256", "HS384", "HS512"] {
        let token = hs_token(alg, "k", key);
        let accepted = match alg {
            "HS256" => HS256Key::from_bytes(key)
                .verify_token::<NoCustomClaims>(&token, Some(options()))
                .is_ok(),
            "HS384" => HS384Key::from_bytes(key)
                .verify_token::<NoCustomClaims>(&token, Some(options()))
                .is_ok(),
            _ => HS512Key::from_bytes(key)
                .verify_token::<NoCustomClaims>(&token, Some(options()))
                .is_ok(),
        };
        assert!(accepted, "jwt-simple accepts our {alg} token");
    }
}

#[test]
fn hmac_keyed_with_the_public_key_in_any_encoding_is_refused() {
    let target = Target::new();
    let encodings = public_key_encodings(&target);
    assert!(encodings.len() >= 35, "{} encodings", encodings.len());
    for (what, kid, secret) in &encodings {
        for alg in ["HS256", "HS384", "HS512"] {
            // A genuine HMAC token under that secret: a library that let the token pick the
            // algorithm, and used "the key" as a MAC secret, would accept it.
            let token = hs_token(alg, kid, secret);
            assert_refused_before_keys(
                &target,
                &token,
                "alg_not_allowed",
                &format!("{alg} {what}"),
            );
        }
    }
}

#[test]
fn hmac_tokens_relabelled_as_asymmetric_algorithms_are_invalid_signatures() {
    // The other half of the confusion: an HS256 token whose header is rewritten to name the
    // key's own algorithm (and re-MACed over the new header) is just a bad signature.
    let target = Target::new();
    let p = target.provider();
    for signer in target.signers() {
        let secret = signer.jwk().to_string();
        let header = json!({"alg": signer.alg(), "typ": "at+jwt", "kid": signer.kid});
        let input = format!("{}.{}", b64(header.to_string()), b64(claims().to_string()));
        let mac = hmac_sha256::HMAC::mac(input.as_bytes(), secret.as_bytes());
        let token = format!("{input}.{}", b64(mac));
        assert_eq!(code(&token, &p), "signature_invalid", "{}", signer.alg());
    }
}

// ---------------------------------------------------------------------------------------------
// Keys named by the token: jwk, jku, x5u, x5c (and the spellings that decode to them)

#[test]
fn key_carrying_headers_are_refused_before_any_key_lookup() {
    let target = Target::new();
    let attacker = Signer::es256(66).with_kid("es256-1");
    for (member, value) in [
        ("jwk", attacker.jwk()),
        ("jwk", json!(null)),
        ("jku", json!("https://evil.test/jwks.json")),
        ("jku", json!("file:///etc/passwd")),
        ("jku", json!("")),
        ("x5u", json!("https://evil.test/cert.pem")),
        ("x5c", json!(["MIIBszCCAVmgAwIBAgIU"])),
        ("x5c", json!(null)),
    ] {
        let mut header = attacker.header();
        header[member] = value.clone();
        let token = attacker.token_with(&header, &claims());
        assert_refused_before_keys(
            &target,
            &token,
            "header_forbidden",
            &format!("{member} {value}"),
        );
    }
}

#[test]
fn forbidden_member_names_written_with_json_escapes_are_still_forbidden() {
    let target = Target::new();
    let signer = &target.es256;
    let payload = claims().to_string();
    for (header, expected) in [
        (
            r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","\u006aku":"https://evil.test/"}"#,
            "header_forbidden",
        ),
        (
            r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","\u006awk":{"kty":"EC"}}"#,
            "header_forbidden",
        ),
        (
            r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","x5\u0075":"https://evil.test/"}"#,
            "header_forbidden",
        ),
        (
            r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","\u0062\u0036\u0034":false}"#,
            "header_forbidden",
        ),
        (
            r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","\u0063rit":["exp"]}"#,
            "crit_unsupported",
        ),
        (
            r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","c\u0074y":"JWT"}"#,
            "header_forbidden",
        ),
    ] {
        let token = signer.sign_text(header, &payload);
        assert_refused_before_keys(&target, &token, expected, header);
    }
    // Names differing in case are other names: ignored as unknown, and the token verifies.
    let header =
        r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","JKU":"https://evil.test/","Alg":"none"}"#;
    assert_eq!(
        code(&signer.sign_text(header, &payload), &target.provider()),
        "valid"
    );
}

// ---------------------------------------------------------------------------------------------
// kid: traversal and injection never become a path, a URL or a fetch

#[test]
fn hostile_kids_are_unknown_and_only_ever_ask_the_configured_provider_for_a_refetch() {
    let target = Target::new();
    let config = target.config();
    let p = target.provider();
    for kid in [
        "../../etc/passwd".to_string(),
        "..%2f..%2fetc%2fpasswd".into(),
        "/proc/self/environ".into(),
        "es256-1/../es256-1".into(),
        "es256-1\0".into(),
        "\0".into(),
        "es256-1\r\nx-injected: 1".into(),
        "https://evil.test/jwks.json".into(),
        "{\"kty\":\"EC\"}".into(),
        "es256-1\u{202e}".into(),
        "k".repeat(7_000),
    ] {
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
        let token = target.es256.token_with(&header, &claims());
        if token.len() > verifier_core::limits::MAX_TOKEN_BYTES {
            assert_eq!(code(&token, &p), "token_too_large");
            continue;
        }
        assert_eq!(code(&token, &p), "kid_unknown", "{kid:?}");
        // A host that may not refetch: refused at once, one look at the keys.
        let (outcome, states, refetches) = decide_watched(&config, &token, false);
        assert_eq!(
            (outcome.as_str(), states, refetches),
            ("kid_unknown", 1, 1),
            "{kid:?}"
        );
        // A host that may: the request waits for the configured provider's own key set, the
        // only thing a refetch can fetch (its URL comes from the configuration, never the kid).
        let (outcome, _, refetches) = decide_watched(&config, &token, true);
        assert_eq!(
            (outcome, refetches),
            (format!("wait:{PROVIDER}"), 1),
            "{kid:?}"
        );
    }
}

#[test]
fn a_kid_just_under_the_size_limit_is_unknown_not_a_crash() {
    let target = Target::new();
    let p = target.provider();
    // The largest kid that fits: sizes are known before signing (an ES256 signature is always
    // 86 characters), so only the chosen token is signed.
    let payload = b64(claims().to_string());
    let header = |len: usize| json!({"alg": "ES256", "typ": "at+jwt", "kid": "k".repeat(len)});
    let size = |len: usize| b64(header(len).to_string()).len() + payload.len() + 2 + 86;
    let len = (1..verifier_core::limits::MAX_TOKEN_BYTES)
        .rev()
        .find(|&len| size(len) <= verifier_core::limits::MAX_TOKEN_BYTES)
        .unwrap();
    let token = target.es256.token_with(&header(len), &claims());
    assert_eq!(token.len(), size(len));
    assert!(token.len() <= verifier_core::limits::MAX_TOKEN_BYTES);
    assert_eq!(code(&token, &p), "kid_unknown");
}

// ---------------------------------------------------------------------------------------------
// Signature forgeries: psychic signatures, DER, small-order keys, degenerate values

#[test]
fn psychic_signatures_are_refused_for_es384() {
    // CVE-2022-21449 for P-384: r = 0 or s = 0, and r or s equal to the group order n.
    let target = Target::new();
    let p = target.provider();
    let token = target.es384.token(&claims());
    assert_eq!(code(&token, &p), "valid");
    let raw = unb64(segments(&token)[2]);
    assert_eq!(raw.len(), 96);
    let n = unhex(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    );
    let zero = [0u8; 48];
    let (r, s) = (&raw[..48], &raw[48..]);
    for (what, r, s) in [
        ("r = s = 0", &zero[..], &zero[..]),
        ("r = 0", &zero[..], s),
        ("s = 0", r, &zero[..]),
        ("r = s = n", &n[..], &n[..]),
        ("r = n", &n[..], s),
        ("s = n", r, &n[..]),
    ] {
        let forged = with_signature(&token, &[r, s].concat());
        assert_eq!(code(&forged, &p), "signature_invalid", "{what}");
    }
    // r + n and s + n do not fit in 48 bytes; one byte longer is the wrong length.
    assert_eq!(
        code(&with_signature(&token, &[&[0u8][..], &raw].concat()), &p),
        "signature_invalid"
    );
}

#[test]
fn the_p256_zero_signature_is_refused_for_every_key_and_message() {
    // The psychic signature verified *any* message under *any* key: try several of each.
    let target = Target::new();
    let p = target.provider();
    for n in [1u8, 2, 3] {
        let signer = Signer::es256(n).with_kid("es256-1");
        for exp in [NOW + 10, NOW + 20] {
            let token = signer.token(&claims_with(json!({ "exp": exp })));
            assert_eq!(
                code(&with_signature(&token, &[0u8; 64]), &p),
                "signature_invalid"
            );
        }
    }
}

#[test]
fn der_encoded_ecdsa_signatures_are_invalid_signatures() {
    // Java and OpenSSL produce DER; JWS requires `r || s`. A DER signature that happens to be
    // the fixed length must still not verify, since it is not `r || s`.
    let target = Target::new();
    let p = target.provider();
    for signer in [&target.es256, &target.es384] {
        let token = signer.token(&claims());
        let raw = unb64(segments(&token)[2]);
        let der = der_signature(&raw);
        assert_eq!(der[0], 0x30);
        assert_eq!(
            code(&with_signature(&token, &der), &p),
            "signature_invalid",
            "{} DER",
            signer.alg()
        );
        // DER cut or padded to exactly the `r || s` length.
        let mut fitted = der.clone();
        fitted.resize(raw.len(), 0);
        assert_eq!(
            code(&with_signature(&token, &fitted), &p),
            "signature_invalid",
            "{} DER fitted",
            signer.alg()
        );
        assert_eq!(code(&with_signature(&token, &raw), &p), "valid");
    }
}

#[test]
fn ed25519_small_order_keys_and_identity_signatures_never_verify() {
    // With the identity point as the public key A and R = identity, S = 0, the verification
    // equation [S]B = R + [k]A holds for every message under a lax verifier.
    let identity = {
        let mut y = [0u8; 32];
        y[0] = 1;
        y
    };
    // Points of small order (the encodings libsodium blacklists).
    let small_order = [
        identity,
        [0u8; 32],
        {
            let mut p = [0u8; 32];
            p[0] = 0xec;
            p[1..31].fill(0xff);
            p[31] = 0x7f;
            p
        },
        unhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
            .try_into()
            .unwrap(),
        unhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
            .try_into()
            .unwrap(),
    ];
    let signer = Signer::eddsa(1);
    let token = signer.token(&claims());
    let keeper = Signer::es256(1).jwk();
    for (i, key) in small_order.iter().enumerate() {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key), "kid": "eddsa-1", "alg": "EdDSA"});
        let set = verifier_core::Jwks::parse(jwks(&[jwk.clone(), keeper.clone()]).as_bytes())
            .expect("the keeper keeps the set alive");
        let p = provider_with(&[jwk, keeper.clone()], json!({"algorithms": ["EdDSA"]}));
        // Today such keys load and every signature under them fails; a loader that skipped
        // them would leave no key for the kid, which is as good.
        let refused = if set.keys.len() == 2 {
            "signature_invalid"
        } else {
            "kid_unknown"
        };
        for signature in [
            [identity, [0u8; 32]].concat(),
            [*key, [0u8; 32]].concat(),
            vec![0u8; 64],
        ] {
            assert_eq!(
                code(&with_signature(&token, &signature), &p),
                refused,
                "small-order key {i}, signature {}",
                hex(&signature[..4])
            );
        }
    }
}

#[test]
fn degenerate_rsa_signatures_are_invalid_for_every_rsa_algorithm() {
    let target = Target::new();
    let n = unb64(target.rs256.jwk()["n"].as_str().unwrap());
    assert_eq!(n.len(), 256);
    let mut one = vec![0u8; 256];
    one[255] = 1;
    let mut n_minus_1 = n.clone();
    n_minus_1[255] -= 1; // n is odd
    let mut n_plus_1 = n.clone();
    n_plus_1[255] += 1; // n is odd, so no carry
    let jwk = target.rs256.bare_jwk_with_kid("rsa");
    let p = provider_with(&[jwk], every_algorithm());
    for alg in RSA_ALGORITHMS {
        let token = Signer::rsa(alg).with_kid("rsa").token(&claims());
        assert_eq!(code(&token, &p), "valid", "{alg}");
        for (what, signature) in [
            ("0", vec![0u8; 256]),
            ("1", one.clone()),
            ("n - 1", n_minus_1.clone()),
            ("n", n.clone()),
            ("n + 1", n_plus_1.clone()),
            ("empty", Vec::new()),
        ] {
            assert_eq!(
                code(&with_signature(&token, &signature), &p),
                "signature_invalid",
                "{alg} signature {what}"
            );
        }
    }
}

#[test]
fn a_signature_from_another_token_does_not_transfer() {
    // Signature splicing: every part genuine, but from two different tokens of the same key.
    let target = Target::new();
    let p = target.provider();
    for signer in target.signers() {
        let a = signer.token(&claims());
        let b = signer.token(&claims_with(json!({"scope": "instruments:write"})));
        let [ah, ap, _] = segments(&a);
        let [_, _, bs] = segments(&b);
        assert_eq!(
            code(&format!("{ah}.{ap}.{bs}"), &p),
            "signature_invalid",
            "{}",
            signer.alg()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Duplicate members, crit, b64

#[test]
fn duplicate_members_in_any_spelling_are_malformed() {
    let target = Target::new();
    let signer = &target.es256;
    let header = signer.header().to_string();
    let base = claims().to_string();
    let body = &base[1..base.len() - 1];
    for payload in [
        format!(r#"{{{body},"\u0065xp":{}}}"#, NOW + 86_000),
        format!(r#"{{{body},"s\u0063ope":"instruments:write"}}"#),
        format!(r#"{{{body},"\u0061ud":"{AUDIENCE}"}}"#),
    ] {
        let token = signer.sign_text(&header, &payload);
        assert_refused_before_keys_or_after(&target, &token, "token_malformed", &payload);
    }
    for header in [
        r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","crit":["x"],"crit":["x"]}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","jku":"a","jku":"b"}"#,
        r#"{"alg":"ES256","typ":"at+jwt","kid":"es256-1","k\u0069d":"es256-1"}"#,
        r#"{"alg":"ES256","\u0074yp":"at+jwt","typ":"at+jwt","kid":"es256-1"}"#,
    ] {
        let token = signer.sign_text(header, &base);
        assert_refused_before_keys(&target, &token, "token_malformed", header);
    }
}

/// Payload problems are found after the signature (which here is genuine): same code through
/// `decide`, having looked at the keys once.
fn assert_refused_before_keys_or_after(target: &Target, token: &str, expected: &str, what: &str) {
    assert_eq!(code(token, &target.provider()), expected, "{what}");
    let (outcome, _, refetches) = decide_watched(&target.config(), token, true);
    assert_eq!((outcome.as_str(), refetches), (expected, 0), "{what}");
}

#[test]
fn crit_in_any_form_is_unsupported() {
    let target = Target::new();
    let signer = &target.es256;
    for crit in [
        json!(null),
        json!(["b64"]),
        json!(["alg"]),
        json!(["kid", "typ"]),
        json!([""]),
        json!(1),
        json!({"exp": true}),
    ] {
        let mut header = signer.header();
        header["crit"] = crit.clone();
        let token = signer.token_with(&header, &claims());
        assert_refused_before_keys(&target, &token, "crit_unsupported", &crit.to_string());
    }
}

#[test]
fn unencoded_payloads_are_refused_in_every_form() {
    // RFC 7797: b64 false means the payload segment is the raw payload, signed as such.
    let target = Target::new();
    let signer = &target.es256;
    let raw_claims = claims().to_string();
    for (b64_value, crit) in [
        (json!(false), Some(json!(["b64"]))),
        (json!(false), None),
        (json!("false"), Some(json!(["b64"]))),
        (json!(0), None),
        (json!(null), None),
    ] {
        let mut header = signer.header();
        header["b64"] = b64_value.clone();
        if let Some(crit) = crit {
            header["crit"] = crit;
        }
        let h = b64(header.to_string());
        // Encoded payload, genuinely signed: the header member is the reason.
        let token = signer.sign_segments(&h, &b64(&raw_claims));
        assert_refused_before_keys(&target, &token, "header_forbidden", &b64_value.to_string());
        // The raw JSON as the payload segment, signed as RFC 7797 would: every segment is
        // decoded before the header is read, and `{"iss":...}` is not base64url.
        let token = signer.sign_segments(&h, &raw_claims);
        assert_refused_before_keys(&target, &token, "token_malformed", "raw payload");
        // Detached payload: an empty middle segment.
        let token = signer.sign_segments(&h, "");
        assert_refused_before_keys(&target, &token, "header_forbidden", "detached");
    }
}

#[test]
fn a_nested_token_under_an_unrecognised_cty_is_still_never_unwrapped() {
    // `cty` spellings the nesting check does not treat as JWT (parameters, spaces, other media
    // types) are not refused as nested, but nothing unwraps them: the payload must itself be
    // the claim set, and a compact token is not JSON.
    let target = Target::new();
    let signer = &target.es256;
    let inner = signer.token(&claims());
    for cty in [
        "JWT ",
        " JWT",
        "JWT; charset=utf-8",
        "application/jwt+json",
        "JWS",
        "jose",
    ] {
        let mut header = signer.header();
        header["cty"] = json!(cty);
        let nested = signer.sign_segments(&b64(header.to_string()), &b64(&inner));
        assert_refused_before_keys_or_after(&target, &nested, "token_malformed", cty);
        // The inner token's claims, carried as JSON, are just claims: the outer signature
        // governs, and it is genuine here.
        assert_eq!(
            code(&signer.token_with(&header, &claims()), &target.provider()),
            "valid"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Numeric dates at the edges

#[test]
fn numeric_dates_at_the_edges_of_f64_and_u64() {
    let target = Target::new();
    let signer = &target.es256;
    let p = target.provider();
    let now = NOW.to_string();
    let cases: Vec<(&str, String, &str)> = vec![
        // exp
        ("exp", "9007199254740993".into(), "lifetime_too_long"), // 2^53 + 1
        ("exp", "9007199254740992.5".into(), "lifetime_too_long"),
        ("exp", "18446744073709551615".into(), "lifetime_too_long"), // u64::MAX
        ("exp", "18446744073709551616".into(), "lifetime_too_long"), // u64::MAX + 1, as f64
        ("exp", "1e300".into(), "lifetime_too_long"),
        ("exp", "1.7976931348623157e308".into(), "lifetime_too_long"), // f64::MAX
        ("exp", "-9223372036854775808".into(), "claim_invalid"),       // i64::MIN
        ("exp", "-1e300".into(), "claim_invalid"),
        ("exp", "-0".into(), "token_expired"),
        ("exp", "-0.0".into(), "token_expired"),
        ("exp", "0".into(), "token_expired"),
        ("exp", "5e-324".into(), "token_expired"),
        (
            "exp",
            format!("{now}.000000000000000000000000000001"),
            "valid",
        ),
        ("exp", format!("\"{}\"", NOW + 290), "claim_invalid"),
        ("exp", "null".into(), "claim_invalid"),
        ("exp", "true".into(), "claim_invalid"),
        ("exp", format!("[{}]", NOW + 290), "claim_invalid"),
        // nbf
        ("nbf", "18446744073709551615".into(), "token_not_yet_valid"),
        ("nbf", "1e300".into(), "token_not_yet_valid"),
        ("nbf", (NOW + 61).to_string(), "token_not_yet_valid"),
        ("nbf", format!("{}.5", NOW + 60), "token_not_yet_valid"),
        ("nbf", "-0".into(), "valid"),
        ("nbf", "-1".into(), "claim_invalid"),
        ("nbf", "9007199254740993".into(), "token_not_yet_valid"),
        // iat
        ("iat", "18446744073709551615".into(), "iat_in_future"),
        ("iat", "1e300".into(), "iat_in_future"),
        ("iat", (NOW + 61).to_string(), "iat_in_future"),
        ("iat", format!("{}.5", NOW + 60), "iat_in_future"),
        ("iat", "-1".into(), "claim_invalid"),
        ("iat", "\"1700000000\"".into(), "claim_invalid"),
        // iat = 0: a token that claims to have lived since 1970.
        ("iat", "0".into(), "lifetime_too_long"),
    ];
    for (name, raw, expected) in &cases {
        let token = signer.token_with_raw_claim(name, raw);
        assert_eq!(code(&token, &p), *expected, "{name} = {raw}");
    }
    // exp missing, with everything else present.
    let token = signer.token(&claims_with(json!({"exp": null})));
    assert_eq!(code(&token, &p), "claim_missing");
    // No date is ever a reason to panic, at any clock reading.
    for now in [0, 1, NOW, u64::MAX / 2, u64::MAX] {
        for (name, raw, _) in &cases {
            let token = signer.token_with_raw_claim(name, raw);
            let _ = code_at(&token, &p, now);
        }
    }
}

#[test]
fn a_cached_token_with_an_extreme_exp_cannot_outlive_its_provider_limits() {
    // The largest lifetime a provider may configure, and an exp right at it: verified and
    // cached, then refused once expired, like any other.
    let target = Target::new();
    let mut pj = target.provider_json();
    pj["max_lifetime_seconds"] = json!(366 * 24 * 3600);
    let config = parse_config(&config_json(pj));
    let exp = NOW + 366 * 24 * 3600 - 10;
    let token = target.es256.token(&claims_with(json!({ "exp": exp })));
    let mut cache = verifier_core::TokenCache::new(verifier_core::CacheLimits::default());
    let authorization = bearer(&token);
    let request = request("GET", "/", Some(&authorization));
    let keys = TestKeys::ready(&config);
    let at = |cache: &mut verifier_core::TokenCache, now| match verifier_core::decide_cached(
        &config, &keys, cache, &request, now,
    ) {
        Decision::Allow { .. } => "allow",
        Decision::Deny(d) => d.error.code(),
        Decision::Wait { .. } => "wait",
    };
    assert_eq!(at(&mut cache, NOW), "allow");
    assert_eq!(at(&mut cache, NOW + 1), "allow");
    assert_eq!(at(&mut cache, exp + 60), "token_expired");
    assert_eq!(at(&mut cache, u64::MAX), "token_expired");
}

// ---------------------------------------------------------------------------------------------
// Size, nesting and shape

#[test]
fn oversized_tokens_are_refused_before_anything_else() {
    let target = Target::new();
    let limit = verifier_core::limits::MAX_TOKEN_BYTES;
    for token in [
        "a".repeat(limit + 1),
        ".".repeat(limit + 1),
        // Counted in bytes, not characters: 4 097 two-byte characters.
        "é".repeat(limit / 2 + 1),
        format!("{}.{}.{}", "a".repeat(limit), "b", "c"),
        "a".repeat(1 << 20),
    ] {
        assert_refused_before_keys(
            &target,
            &token,
            "token_too_large",
            &format!("{} bytes", token.len()),
        );
    }
}

#[test]
fn deeply_nested_json_anywhere_is_malformed_never_a_stack_overflow() {
    let target = Target::new();
    let signer = &target.es256;
    let header = signer.header().to_string();
    // Objects rather than arrays, in the header and in the claims, just past the limit and far.
    let objects = |depth: usize| format!("{}0{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    for depth in [16, 17, 1_000] {
        let h = format!(
            r#"{{"alg":"ES256","typ":"at+jwt","kid":"es256-1","x":{}}}"#,
            objects(depth)
        );
        let token = signer.sign_text(&h, claims().to_string());
        if token.len() <= verifier_core::limits::MAX_TOKEN_BYTES {
            assert_refused_before_keys(
                &target,
                &token,
                "token_malformed",
                &format!("header depth {depth}"),
            );
        }
        let base = claims().to_string();
        let payload = format!("{},\"x\":{}}}", &base[..base.len() - 1], objects(depth));
        let token = signer.sign_text(&header, &payload);
        if token.len() <= verifier_core::limits::MAX_TOKEN_BYTES {
            assert_eq!(
                code(&token, &target.provider()),
                "token_malformed",
                "claims depth {depth}"
            );
        }
    }
    // Unbalanced, as deep as the size limit allows.
    let token = signer.sign_text("{\"a\":".repeat(1_000), claims().to_string());
    assert_refused_before_keys(&target, &token, "token_malformed", "unbalanced header");
}

#[test]
fn other_serializations_are_malformed() {
    let target = Target::new();
    let good = target.es256.token(&claims());
    let [h, p, s] = segments(&good);
    // A JWE (RFC 7516) has five segments; one that is well formed apart from that.
    let jwe_header =
        b64(json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "es256-1"}).to_string());
    let jwe = format!(
        "{jwe_header}.{}.{}.{}.{}",
        b64([1u8; 256]),
        b64([2u8; 12]),
        b64([3u8; 64]),
        b64([4u8; 16])
    );
    // The JWS JSON serializations (RFC 7515 §7.2), flattened and general.
    let flattened = json!({"protected": h, "payload": p, "signature": s}).to_string();
    let general =
        json!({"payload": p, "signatures": [{"protected": h, "signature": s}]}).to_string();
    for (what, token) in [
        ("JWE compact", jwe),
        ("JWS flattened JSON", flattened),
        ("JWS general JSON", general),
        ("two tokens", format!("{good}.{good}")),
        ("comma-joined", format!("{good},{good}")),
    ] {
        assert_refused_before_keys(&target, &token, "token_malformed", what);
    }
    // The JWE's header in a three-segment token: an algorithm no provider can allow.
    let dir = format!("{jwe_header}.{p}.{s}");
    assert_refused_before_keys(&target, &dir, "alg_not_allowed", "RSA-OAEP-256 in a JWS");
}

#[test]
fn non_canonical_base64_in_the_signature_segment_is_malformed() {
    let target = Target::new();
    let p = target.provider();
    for signer in target.signers() {
        let token = signer.token(&claims());
        let sig = segments(&token)[2].to_string();
        let standard = STANDARD.encode(unb64(&sig));
        let mut variants = vec![
            format!("{sig}="),
            format!("{sig}=="),
            format!("{} {}", &sig[..4], &sig[4..]),
            format!("{}\n{}", &sig[..4], &sig[4..]),
            format!("{}%3D", sig),
        ];
        if standard.trim_end_matches('=') != sig {
            variants.push(standard.clone());
        }
        for bad in variants {
            let [h, pl, _] = segments(&token);
            assert_eq!(
                code(&format!("{h}.{pl}.{bad}"), &p),
                "token_malformed",
                "{} {bad:?}",
                signer.alg()
            );
        }
    }
}
