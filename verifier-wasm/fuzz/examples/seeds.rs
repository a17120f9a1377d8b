//! Writes the seed corpora in `seeds/<target>/` from the fixture: valid tokens, key sets and
//! configurations, and a few near misses, so the fuzzer starts past the outer checks.
//!
//! ```sh
//! cd verifier-wasm/fuzz && cargo +nightly run --example seeds
//! ```
//!
//! Every file is rewritten (names are stable, contents deterministic); files it does not know are
//! left alone, so a minimized crash copied into `seeds/` stays.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use verifier_fuzz::{
    AUDIENCE, ISSUER, NOW, THIRD_AUDIENCE, config_json, fixture, jwks_json, sample_tokens,
    third_claims,
};
use verifier_testkit::{Signer, b64, claims, claims_with, delegated};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    tokens(&root.join("token"));
    signed(&root.join("signed"));
    jwks(&root.join("jwks"));
    config(&root.join("config"));
    revocations(&root.join("revocations"));
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    fs::create_dir_all(dir).expect("create the seed directory");
    let path: PathBuf = dir.join(name);
    fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn tokens(dir: &Path) {
    let (es, ed) = (&fixture().es256, &fixture().eddsa);
    let [es256, eddsa, third] = sample_tokens();
    write(dir, "es256-valid", es256);
    write(dir, "eddsa-valid", eddsa);
    write(dir, "third-valid", third);
    let scoped = claims_with(json!({"scope": "instruments:read instruments:write"}));
    write(dir, "es256-write-scope", es.token(&scoped));
    let cases = [
        ("expired", json!({"iat": NOW - 400, "exp": NOW - 100})),
        ("not-yet-valid", json!({"nbf": NOW + 600, "exp": NOW + 900})),
        ("wrong-audience", json!({"aud": ["elsewhere", "nowhere"]})),
        ("wrong-issuer", json!({"iss": "https://evil.test"})),
        ("no-exp", json!({"exp": null})),
        (
            "control-in-sub",
            json!({"sub": "svc\r\nx-auth-subject: admin"}),
        ),
        ("too-long", json!({"exp": NOW + 7 * 24 * 3600})),
    ];
    for (name, changes) in cases {
        write(dir, name, es.token(&claims_with(changes)));
    }
    let headers = [
        ("no-kid", json!({"alg": "ES256", "typ": "at+jwt"})),
        (
            "unknown-kid",
            json!({"alg": "ES256", "typ": "at+jwt", "kid": "rotated-in"}),
        ),
        (
            "typ-jwt",
            json!({"alg": "EdDSA", "typ": "JWT", "kid": ed.kid}),
        ),
        (
            "embedded-jwk",
            json!({"alg": "ES256", "typ": "at+jwt", "kid": es.kid, "jwk": {}}),
        ),
        (
            "crit",
            json!({"alg": "ES256", "typ": "at+jwt", "kid": es.kid, "crit": ["exp"]}),
        ),
        (
            "nested",
            json!({"alg": "ES256", "typ": "at+jwt", "kid": es.kid, "cty": "JWT"}),
        ),
        (
            "alg-hs256",
            json!({"alg": "HS256", "typ": "at+jwt", "kid": es.kid}),
        ),
    ];
    for (name, header) in headers {
        write(dir, name, es.token_with(&header, &claims()));
    }
    // The classic attacks: no signature at all, and a signature by the wrong key's algorithm.
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "at+jwt"}).to_string()),
        b64(claims().to_string())
    );
    write(dir, "alg-none", none);
    write(dir, "alg-swapped", ed.token_with(&es.header(), &claims()));
    let duplicate = r#"{"alg":"ES256","alg":"EdDSA","typ":"at+jwt","kid":"es256-1"}"#;
    write(
        dir,
        "duplicate-alg",
        es.sign_text(duplicate, claims().to_string()),
    );
    let mut tampered = es256.clone().into_bytes();
    let at = tampered.len() - 5;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    write(dir, "tampered", tampered);
}

/// `[key] [clock] header 0xFF payload`, the `signed` target's input.
fn signed_input(key: u8, clock: u8, header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut input = vec![key, clock];
    input.extend_from_slice(header);
    input.push(0xff);
    input.extend_from_slice(payload);
    input
}

fn signed(dir: &Path) {
    let text = |v: Value| v.to_string().into_bytes();
    let es = text(fixture().es256.header());
    let ed = text(fixture().eddsa.header());
    write(dir, "es256-valid", signed_input(0, 0, &es, &text(claims())));
    write(dir, "eddsa-valid", signed_input(1, 0, &ed, &text(claims())));
    let third = text(json!({"alg": "EdDSA", "kid": fixture().eddsa.kid}));
    write(
        dir,
        "third-valid",
        signed_input(1, 0, &third, &text(third_claims())),
    );
    let scoped =
        claims_with(json!({"scope": "instruments:write instruments:read", "nbf": NOW - 10}));
    write(dir, "write-scope", signed_input(0, 0, &es, &text(scoped)));
    for (name, key, clock, header) in [
        ("expired-clock", 0, 6, &es),
        ("early-clock", 0, 0xfe, &es),
        ("epoch-clock", 1, 0x80, &ed),
        ("max-clock", 1, 0x7f, &ed),
    ] {
        write(dir, name, signed_input(key, clock, header, &text(claims())));
    }
    let delegated = claims_with(delegated(&["agent.sub", "agent.main"], &["p", "r"]));
    write(dir, "delegated", signed_input(0, 0, &es, &text(delegated)));
    let looped =
        claims_with(json!({"act": {"sub": "a", "act": {"sub": "b", "act": {"sub": "a"}}}}));
    write(
        dir,
        "delegated-loop",
        signed_input(1, 0, &ed, &text(looped)),
    );
    let fractional =
        claims_with(json!({"exp": (NOW as f64) + 0.5, "iat": 1.0e9, "aud": [AUDIENCE, "x"]}));
    write(
        dir,
        "fractional-dates",
        signed_input(0, 0, &es, &text(fractional)),
    );
    let third_many = json!({"iss": verifier_fuzz::THIRD_ISSUER, "aud": ["other", THIRD_AUDIENCE],
                            "exp": 1e300, "iat": NOW, "scope": ""});
    write(
        dir,
        "third-huge-exp",
        signed_input(1, 0, &third, &text(third_many)),
    );
}

fn jwks(dir: &Path) {
    let fixed = jwks_json();
    write(dir, "fixture", fixed.to_string());
    let keys = fixed["keys"].as_array().unwrap().clone();
    let (es256, eddsa) = (keys[0].clone(), keys[1].clone());

    let mut es384 = Signer::es384(3).jwk();
    es384.as_object_mut().unwrap().remove("use");
    // Any odd modulus of 2048 bits or more loads; the private half is never needed here.
    let mut n = vec![0xc5; 256];
    n[255] |= 1;
    let rsa = json!({"kty": "RSA", "n": b64(&n), "e": "AQAB", "kid": "rs-1", "use": "sig"});
    let rsa_pss = json!({"kty": "RSA", "n": b64(&n), "e": "AQAB", "kid": "ps-1", "alg": "PS256",
                         "key_ops": ["verify"]});
    // FIPS 204 public keys decode from any bytes of the right length.
    let mldsa44 =
        json!({"kty": "AKP", "alg": "ML-DSA-44", "pub": b64(vec![0x5a; 1312]), "kid": "ml-44"});
    let mldsa65 =
        json!({"kty": "AKP", "alg": "ML-DSA-65", "pub": b64(vec![0xa5; 1952]), "kid": "ml-65"});
    write(
        dir,
        "all-types",
        json!({"keys": [es256, eddsa, es384, rsa, rsa_pss, mldsa44, mldsa65]}).to_string(),
    );

    let mut rotated = es256.clone();
    rotated["x"] = eddsa["x"].clone();
    let mut no_kid = es256.clone();
    no_kid.as_object_mut().unwrap().remove("kid");
    let mut bare = eddsa.clone();
    for member in ["kid", "alg", "use"] {
        bare.as_object_mut().unwrap().remove(member);
    }
    write(
        dir,
        "rotation-and-bare",
        json!({"keys": [es256, rotated, no_kid, bare]}).to_string(),
    );

    let skipped = json!({"keys": [
        eddsa,
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "kid": "short"},
        {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": "X25519", "x": "AA"},
        {"kty": "oct", "kid": "sym"},
        {"kty": "EC", "crv": "P-256", "use": "enc"},
        {"kty": "OKP", "crv": "Ed25519", "x": keys[1]["x"], "key_ops": ["sign"]},
        {"kty": "OKP", "crv": "Ed25519", "x": keys[1]["x"], "alg": "ES256"},
        {"kty": "AKP", "pub": "AA"},
        {"kty": "RSA", "n": b64([0xc4; 256]), "e": "AQAB"},
        {"crv": "Ed25519"},
        {"kid": 7},
    ]});
    write(dir, "skipped-keys", skipped.to_string());
    let mut private = keys[0].clone();
    private["d"] = json!(b64([1; 32]));
    write(dir, "private-key", json!({"keys": [private]}).to_string());
}

fn config(dir: &Path) {
    write(
        dir,
        "fixture",
        serde_json::to_string_pretty(&config_json()).unwrap(),
    );
    let remote = json!({
        "providers": {
            "local": {
                "issuer": "http://127.0.0.1:8080",
                "audiences": ["quantjourney"],
                "algorithms": ["ES256", "EdDSA", "RS256", "PS512", "ML-DSA-65"],
                "remote_jwks": {"cluster": "issuer", "path": "/.well-known/jwks.json",
                                "authority": "issuer.internal", "timeout_ms": 2000,
                                "refresh_seconds": 60, "refetch_cooldown_seconds": 30,
                                "max_stale_seconds": 3600},
            }
        },
        "rules": [
            {"match": {"prefix": "/api/v1/entities/register-bulk", "methods": ["POST"]},
             "requires": {"provider": "local", "scopes": ["instruments:write"]}},
            {"match": {"path": "/health"}, "public": true, "forward": true},
            {"match": {"prefix": "/"}, "requires": {"provider": "local"}},
        ],
        "realm": "service",
        "jwks_wait_ms": 1500,
        "token_cache": {"max_entries": 2, "max_bytes": 4096},
    });
    write(dir, "remote", remote.to_string());
    let minimal = json!({
        "providers": {"p": {"issuer": ISSUER, "audiences": [AUDIENCE], "local_jwks": jwks_json()}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "p"}}],
        "token_cache": {"max_entries": 0},
    });
    write(dir, "minimal", minimal.to_string());
    let mut with_feed = config_json();
    with_feed["providers"]["local"]["revocations"] = json!({
        "cluster": "issuer", "path": "/oauth/revocations", "authority": "issuer.internal",
        "timeout_ms": 2000, "refresh_seconds": 5, "max_stale_seconds": 3600, "max_bytes": 4194304,
    });
    write(dir, "revocations", with_feed.to_string());
}

fn revocations(dir: &Path) {
    let feed = json!({
        "iss": ISSUER,
        "generated_at": NOW,
        "tokens": [{"jti": "3q2-7w", "exp": NOW + 300}, {"jti": "a\u{0}b", "exp": NOW}],
        "clients": [
            {"client_id": "svc.a", "revoked_before": NOW - 100},
            {"client_id": "svc.a", "revoked_before": NOW as f64 - 50.5},
            {"client_id": "warehouse", "revoked_before": 0},
        ],
    });
    write(dir, "example", feed.to_string());
    write(
        dir,
        "empty",
        json!({"iss": ISSUER, "tokens": [], "clients": []}).to_string(),
    );
    let extended = json!({
        "iss": ISSUER,
        "version": 2,
        "next": {"cursor": "abc", "deep": [[1, {"x": null}]]},
        "tokens": [{"jti": "j", "exp": NOW, "reason": "leaked"}],
        "clients": [{"client_id": "c", "revoked_before": NOW, "note": [true]}],
    });
    write(dir, "unknown-members", extended.to_string());
    write(
        dir,
        "duplicate-member",
        format!(r#"{{"iss":"{ISSUER}","tokens":[{{"jti":"a","jti":"b"}}],"clients":[]}}"#),
    );
    write(
        dir,
        "other-issuer",
        json!({"iss": "https://evil.test", "tokens": [], "clients": []}).to_string(),
    );
}
