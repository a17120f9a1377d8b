//! The shared vectors: token cases with the code each must give, in `tests/vectors/tokens.json`.
//!
//! This test checks every case against the core; the JS package checks the same file under Node
//! (`verifier-wasm/js/tests/vectors.test.mjs`), so the browser, the admin UI and the Envoy filter
//! are held to one set of answers. The expectations are written here by hand, case by case; the
//! file is generated from this list (tokens are signed with the deterministic test keys) and the
//! test fails if the checked-in copy differs. After changing a case:
//!
//! ```text
//! UPDATE_VECTORS=1 cargo test -p verifier-core --test vectors
//! ```

use std::path::PathBuf;

use serde_json::{Value, json};
use verifier_core::Verdict;
use verifier_core::{
    Config, FeedState, Jwks, KeySource, KeyState, Keys, Request, Revocations, explain, verify,
};
use verifier_testkit::*;

/// What a verify case must give.
enum Expect {
    Valid,
    Code(&'static str),
}

struct VerifyCase {
    name: &'static str,
    token: String,
    /// `None`: the standard JWKS (both test keys).
    jwks: Option<String>,
    expect: Expect,
}

struct ExplainCase {
    name: &'static str,
    token: Option<String>,
    method: &'static str,
    path: &'static str,
    decision: Verdict,
    status: u16,
    code: Option<&'static str>,
    rule: Option<usize>,
}

fn es256() -> Signer {
    Signer::es256(7)
}

fn eddsa() -> Signer {
    Signer::eddsa(9)
}

fn standard_jwks() -> String {
    jwks(&[es256().jwk(), eddsa().jwk()])
}

/// The provider fields `verify` is called with (the JWKS goes separately).
fn verify_options() -> Value {
    json!({
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "algorithms": ["ES256", "EdDSA"],
    })
}

fn verify_cases() -> Vec<VerifyCase> {
    let good = es256().token(&claims());
    let case = |name, token: String, expect| VerifyCase {
        name,
        token,
        jwks: None,
        expect,
    };
    let with_claims = |changes: Value| es256().token(&claims_with(changes));
    let with_header = |changes: Value| es256().token_with(&es256().header_with(changes), &claims());
    vec![
        case("es256 valid", good.clone(), Expect::Valid),
        case("eddsa valid", eddsa().token(&claims()), Expect::Valid),
        case(
            "signature byte flipped",
            alter_segment(&good, 2, |s| {
                let mut bytes = unb64(s);
                bytes[10] ^= 0x01;
                b64(bytes)
            }),
            Expect::Code("signature_invalid"),
        ),
        case(
            "claims swapped under the old signature",
            alter_segment(&good, 1, |_| {
                b64(claims_with(json!({"scope": "instruments:write"})).to_string())
            }),
            Expect::Code("signature_invalid"),
        ),
        case(
            "expired",
            with_claims(json!({"iat": NOW - 400, "exp": NOW - 100})),
            Expect::Code("token_expired"),
        ),
        case(
            "expired within skew",
            with_claims(json!({"iat": NOW - 400, "exp": NOW - 30})),
            Expect::Valid,
        ),
        case(
            "not yet valid",
            with_claims(json!({"nbf": NOW + 600, "exp": NOW + 900})),
            Expect::Code("token_not_yet_valid"),
        ),
        case(
            "issued in the future",
            with_claims(json!({"iat": NOW + 600, "exp": NOW + 900})),
            Expect::Code("iat_in_future"),
        ),
        case(
            "lives longer than a day",
            with_claims(json!({"iat": NOW - 10, "exp": NOW + 2 * 86_400})),
            Expect::Code("lifetime_too_long"),
        ),
        case(
            "exp missing",
            with_claims(json!({"exp": null})),
            Expect::Code("claim_missing"),
        ),
        case(
            "exp is a string",
            with_claims(json!({"exp": "soon"})),
            Expect::Code("claim_invalid"),
        ),
        case(
            "foreign issuer",
            with_claims(json!({"iss": "https://evil.test"})),
            Expect::Code("issuer_mismatch"),
        ),
        case(
            "other audience",
            with_claims(json!({"aud": "svc.other"})),
            Expect::Code("audience_mismatch"),
        ),
        case(
            "alg none",
            format!(
                "{}.{}.",
                b64(json!({"alg": "none", "typ": "at+jwt"}).to_string()),
                b64(claims().to_string())
            ),
            Expect::Code("alg_not_allowed"),
        ),
        case(
            "alg HS256 (key confusion)",
            with_header(json!({"alg": "HS256"})),
            Expect::Code("alg_not_allowed"),
        ),
        case(
            "alg swapped to EdDSA on an ES256 kid",
            with_header(json!({"alg": "EdDSA"})),
            Expect::Code("kid_unknown"),
        ),
        case(
            "typ JWT instead of at+jwt",
            with_header(json!({"typ": "JWT"})),
            Expect::Code("typ_invalid"),
        ),
        case(
            "jku header",
            with_header(json!({"jku": "https://evil.test/jwks"})),
            Expect::Code("header_forbidden"),
        ),
        case(
            "embedded jwk header",
            with_header(json!({"jwk": es256().bare_jwk()})),
            Expect::Code("header_forbidden"),
        ),
        case(
            "unknown crit",
            with_header(json!({"crit": ["exp-ext"], "exp-ext": 1})),
            Expect::Code("crit_unsupported"),
        ),
        case(
            "nested token (cty JWT)",
            with_header(json!({"cty": "JWT"})),
            Expect::Code("header_forbidden"),
        ),
        case(
            "unknown kid",
            with_header(json!({"kid": "rotated-away"})),
            Expect::Code("kid_unknown"),
        ),
        case(
            "two segments",
            good.rsplit_once('.').map(|(h, _)| h.to_owned()).unwrap(),
            Expect::Code("token_malformed"),
        ),
        case(
            "padded base64url",
            alter_segment(&good, 1, padded),
            Expect::Code("token_malformed"),
        ),
        case(
            "duplicate claim name",
            es256().sign_text(
                es256().header().to_string(),
                claims()
                    .to_string()
                    .replacen('{', "{\"sub\":\"svc.admin\",", 1),
            ),
            Expect::Code("token_malformed"),
        ),
        case(
            "claims nested too deep",
            with_claims(json!({"deep": nested(20)})),
            Expect::Code("token_malformed"),
        ),
        case(
            "token over 8 KiB",
            with_claims(json!({"pad": "x".repeat(9000)})),
            Expect::Code("token_too_large"),
        ),
        case(
            "not a JWT at all",
            "hello".into(),
            Expect::Code("token_malformed"),
        ),
        VerifyCase {
            name: "no kid, two candidate keys",
            token: es256().token_with(&json!({"alg": "ES256", "typ": "at+jwt"}), &claims()),
            jwks: Some(jwks(&[es256().jwk(), Signer::es256(8).jwk()])),
            expect: Expect::Code("kid_unknown"),
        },
        VerifyCase {
            name: "JWKS with a private key",
            token: good,
            jwks: Some(jwks(&[{
                let mut jwk = es256().jwk();
                jwk["d"] = json!(b64([7u8; 32]));
                jwk
            }])),
            expect: Expect::Code("jwks_private_key"),
        },
    ]
}

/// The gateway configuration of the explain cases: a remote provider with a revocation feed.
fn gateway_config() -> Value {
    json!({
        "providers": {
            "local": {
                "issuer": ISSUER,
                "audiences": [AUDIENCE],
                "algorithms": ["ES256", "EdDSA"],
                "remote_jwks": {"cluster": "issuer", "path": "/.well-known/jwks.json"},
                "revocations": {"cluster": "issuer", "path": "/oauth/revocations"},
            }
        },
        "rules": [
            {"match": {"prefix": "/api/v1/entities/register-bulk", "methods": ["POST"]},
             "requires": {"provider": "local", "scopes": ["instruments:write"]}},
            {"match": {"path": "/health"}, "public": true},
            {"match": {"prefix": "/api/"}, "requires": {"provider": "local"}},
        ],
    })
}

fn feed() -> Value {
    json!({
        "iss": ISSUER,
        "tokens": [{"jti": "revoked-jti", "exp": NOW + 300}],
        "clients": [{"client_id": "svc.banned", "revoked_before": NOW}],
    })
}

fn explain_cases() -> Vec<ExplainCase> {
    let writer = es256().token(&claims_with(
        json!({"scope": "instruments:read instruments:write"}),
    ));
    let reader = es256().token(&claims());
    let case =
        |name, token: Option<&String>, method, path, decision, status, code, rule| ExplainCase {
            name,
            token: token.cloned(),
            method,
            path,
            decision,
            status,
            code,
            rule,
        };
    use Verdict::{Allow, Deny};
    vec![
        case(
            "writer may register",
            Some(&writer),
            "POST",
            "/api/v1/entities/register-bulk",
            Allow,
            200,
            None,
            Some(0),
        ),
        case(
            "reader lacks instruments:write",
            Some(&reader),
            "POST",
            "/api/v1/entities/register-bulk",
            Deny,
            403,
            Some("insufficient_scope"),
            Some(0),
        ),
        case(
            "GET falls through to the catch-all",
            Some(&reader),
            "GET",
            "/api/v1/entities/register-bulk",
            Allow,
            200,
            None,
            Some(2),
        ),
        case(
            "public health, no token",
            None,
            "GET",
            "/health",
            Allow,
            200,
            None,
            Some(1),
        ),
        case(
            "no token",
            None,
            "GET",
            "/api/v1/x",
            Deny,
            401,
            Some("token_missing"),
            Some(2),
        ),
        case(
            "no rule matches",
            Some(&reader),
            "GET",
            "/admin",
            Deny,
            403,
            Some("no_matching_rule"),
            None,
        ),
        case(
            "tampered signature",
            Some(&alter_segment(&writer, 2, |s| {
                let mut bytes = unb64(s);
                bytes[0] ^= 0x80;
                b64(bytes)
            })),
            "POST",
            "/api/v1/entities/register-bulk",
            Deny,
            401,
            Some("signature_invalid"),
            Some(0),
        ),
        case(
            "revoked jti",
            Some(&es256().token(&claims_with(json!({"jti": "revoked-jti"})))),
            "GET",
            "/api/v1/x",
            Deny,
            401,
            Some("token_revoked"),
            Some(2),
        ),
        case(
            "revoked client",
            Some(&es256().token(&claims_with(json!({"client_id": "svc.banned"})))),
            "GET",
            "/api/v1/x",
            Deny,
            401,
            Some("token_revoked"),
            Some(2),
        ),
        case(
            "expired beats scope",
            Some(&es256().token(&claims_with(json!({"iat": NOW - 900, "exp": NOW - 300})))),
            "POST",
            "/api/v1/entities/register-bulk",
            Deny,
            401,
            Some("token_expired"),
            Some(0),
        ),
    ]
}

/// The vectors document, as checked in.
fn document() -> Value {
    let verify: Vec<Value> = verify_cases()
        .into_iter()
        .map(|c| {
            json!({
                "name": c.name,
                "token": c.token,
                "jwks": c.jwks.unwrap_or_else(standard_jwks),
                "expect": match c.expect {
                    Expect::Valid => json!({"valid": true}),
                    Expect::Code(code) => json!({"valid": false, "code": code}),
                },
            })
        })
        .collect();
    let explain: Vec<Value> = explain_cases()
        .into_iter()
        .map(|c| {
            json!({
                "name": c.name,
                "token": c.token,
                "request": {"method": c.method, "path": c.path},
                "expect": {"decision": c.decision, "status": c.status, "code": c.code, "rule": c.rule},
            })
        })
        .collect();
    json!({
        "about": "Generated by verifier-wasm/core/tests/vectors.rs (UPDATE_VECTORS=1 to rewrite); the JS package runs the same cases.",
        "now": NOW,
        "verify": {"options": verify_options(), "cases": verify},
        "explain": {
            "config": gateway_config(),
            "jwks": {"local": standard_jwks()},
            "revocations": {"local": feed()},
            "cases": explain,
        },
    })
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/tokens.json")
}

#[test]
fn checked_in_vectors_are_current() {
    let generated = serde_json::to_string_pretty(&document()).unwrap() + "\n";
    let path = vectors_path();
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is out of date; run UPDATE_VECTORS=1 cargo test -p verifier-core --test vectors",
        path.display()
    );
}

#[test]
fn verify_cases_give_their_codes() {
    for case in verify_cases() {
        let jwks_text = case.jwks.unwrap_or_else(standard_jwks);
        let mut provider = verify_options();
        provider["local_jwks"] = json!(jwks_text);
        let got = match Config::parse(config_json(provider).to_string().as_bytes()) {
            Err(_) => Err(Jwks::parse(jwks_text.as_bytes())
                .err()
                .map_or("config_invalid", |e| e.code())),
            Ok(config) => {
                let provider = &config.providers[PROVIDER];
                let KeySource::Local(keys) = &provider.keys else {
                    panic!("local keys")
                };
                verify(&case.token, provider, keys, NOW)
                    .map(|_| ())
                    .map_err(|e| e.code())
            }
        };
        match case.expect {
            Expect::Valid => assert_eq!(got, Ok(()), "{}", case.name),
            Expect::Code(code) => assert_eq!(got, Err(code), "{}", case.name),
        }
    }
}

/// The keys and feed the explain cases are given, as the JS package's `options` gives them.
struct Given {
    jwks: Jwks,
    feed: Revocations,
}

impl Keys for Given {
    fn state(&self, _provider: &str) -> KeyState<'_> {
        KeyState::Ready(&self.jwks)
    }

    fn revocations(&self, _provider: &str) -> FeedState<'_> {
        FeedState::Ready(&self.feed)
    }
}

#[test]
fn explain_cases_give_their_decisions() {
    let config = parse_config(&gateway_config());
    let given = Given {
        jwks: Jwks::parse(standard_jwks().as_bytes()).unwrap(),
        feed: Revocations::parse(feed().to_string().as_bytes(), ISSUER, 1 << 20).unwrap(),
    };
    for case in explain_cases() {
        let authorization = case.token.as_ref().map(|t| format!("Bearer {t}"));
        let request = Request {
            method: case.method,
            path: case.path,
            authorization: authorization.as_deref(),
        };
        let explanation = explain(&config, &given, &request, NOW);
        assert_eq!(explanation.decision, case.decision, "{}", case.name);
        assert_eq!(explanation.status, Some(case.status), "{}", case.name);
        assert_eq!(
            explanation.error.as_ref().map(|e| e.code),
            case.code,
            "{}",
            case.name
        );
        assert_eq!(
            explanation.rule.as_ref().map(|r| r.index),
            case.rule,
            "{}",
            case.name
        );
        // The walk agrees with the verdict: a denial has exactly one failed step, carrying the
        // denial's message; an allowed request has none.
        let failed: Vec<_> = explanation
            .steps
            .iter()
            .filter(|s| s.outcome == verifier_core::Outcome::Fail)
            .collect();
        match &explanation.error {
            Some(error) => {
                assert_eq!(failed.len(), 1, "{}: {:?}", case.name, explanation.steps);
                assert_eq!(failed[0].detail, error.message, "{}", case.name);
            }
            None => assert!(failed.is_empty(), "{}: {:?}", case.name, explanation.steps),
        }
    }
}
