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
            "delegated token verifies (delegation is the gateway's rule)",
            with_claims(delegated(&["agent.sub", "agent.main"], &["parent-jti"])),
            Expect::Valid,
        ),
        case(
            "act is not an object",
            with_claims(json!({"act": "agent.main"})),
            Expect::Code("claim_invalid"),
        ),
        case(
            "an actor's sub holds a comma",
            with_claims(json!({"act": {"sub": "agent.a,agent.b"}})),
            Expect::Code("claim_invalid"),
        ),
        case(
            "an actor's sub holds a non-ASCII character",
            with_claims(
                json!({"act": {"sub": "agent.\u{202e}main"}, "client_id": "agent.\u{202e}main"}),
            ),
            Expect::Code("claim_invalid"),
        ),
        case(
            "the current actor is not the client_id",
            with_claims(json!({"act": {"sub": "agent.main"}, "client_id": "agent.other"})),
            Expect::Code("claim_invalid"),
        ),
        case(
            "ancestor_jtis without act",
            with_claims(json!({"ancestor_jtis": ["x"]})),
            Expect::Code("claim_invalid"),
        ),
        case(
            "act nested 20 deep",
            es256().token_with_raw_claim("act", &nested_act(20)),
            Expect::Code("token_malformed"),
        ),
        case(
            "act nested 10000 deep",
            es256().token_with_raw_claim("act", &nested_act(10_000)),
            Expect::Code("token_too_large"),
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

/// An `act` claim nested `depth` deep, as JSON text.
fn nested_act(depth: usize) -> String {
    "{\"sub\":\"a\",\"act\":".repeat(depth - 1) + "{\"sub\":\"a\"}" + &"}".repeat(depth - 1)
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
            },
            "agents": agents_provider(),
        },
        "rules": [
            {"match": {"prefix": "/api/v1/entities/register-bulk", "methods": ["POST"]},
             "requires": {"provider": "local", "scopes": ["instruments:write"]}},
            {"match": {"path": "/health"}, "public": true},
            {"match": {"prefix": "/api/"}, "requires": {"provider": "local"}},
            {"match": {"prefix": "/agents/deep"},
             "requires": {"provider": "agents", "max_delegation_depth": 1}},
            {"match": {"prefix": "/agents/research"},
             "requires": {"provider": "agents", "actors": ["agent.research*"]}},
            {"match": {"prefix": "/agents/people"},
             "requires": {"provider": "agents", "human_root": true}},
            {"match": {"prefix": "/agents/"},
             "requires": {"provider": "agents", "scopes": ["repo:read:x"]}},
        ],
    })
}

/// The provider of the delegation cases: the same issuer and keys, accepting chains of up to
/// three actors.
fn agents_provider() -> Value {
    json!({
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "algorithms": ["ES256", "EdDSA"],
        "remote_jwks": {"cluster": "issuer", "path": "/.well-known/jwks.json"},
        "revocations": {"cluster": "issuer", "path": "/oauth/revocations"},
        "delegation": {"max_depth": 3},
    })
}

fn feed() -> Value {
    json!({
        "iss": ISSUER,
        "tokens": [{"jti": "revoked-jti", "exp": NOW + 300}],
        "clients": [
            {"client_id": "svc.banned", "revoked_before": NOW},
            {"client_id": "agent.banned", "revoked_before": NOW},
        ],
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
    let chain = |actors: &[&str], more: Value| {
        let mut c = claims_with(delegated(actors, &["parent-jti", "root-jti"]));
        merge(&mut c, json!({"scope": "repo:read:*"}));
        merge(&mut c, more);
        Some(es256().token(&c))
    };
    let two = chain(&["agent.sub", "agent.main"], json!({}));
    let agent_own = |agent: &str| {
        let own = json!({"sub": agent, "client_id": agent, "sub_profile": "ai_agent"});
        Some(es256().token(&claims_with(own)))
    };
    let delegation_cases = [
        case(
            "delegated token where the provider accepts no delegation",
            two.as_ref(),
            "GET",
            "/api/v1/x",
            Deny,
            403,
            Some("delegation_not_allowed"),
            Some(2),
        ),
        case(
            "service to agent to sub-agent, glob scope covers the route's",
            two.as_ref(),
            "GET",
            "/agents/repo",
            Allow,
            200,
            None,
            Some(6),
        ),
        case(
            "a sibling glob does not cover the route's scope",
            chain(
                &["agent.sub", "agent.main"],
                json!({"scope": "repo:write:*"}),
            )
            .as_ref(),
            "GET",
            "/agents/repo",
            Deny,
            403,
            Some("insufficient_scope"),
            Some(6),
        ),
        case(
            "chain deeper than the provider's max_depth",
            chain(&["agent.d", "agent.c", "agent.b", "agent.a"], json!({})).as_ref(),
            "GET",
            "/agents/repo",
            Deny,
            403,
            Some("delegation_too_deep"),
            Some(6),
        ),
        case(
            "chain deeper than the rule's max_delegation_depth",
            two.as_ref(),
            "GET",
            "/agents/deep",
            Deny,
            403,
            Some("delegation_too_deep"),
            Some(3),
        ),
        case(
            "one hop within the rule's max_delegation_depth",
            chain(&["agent.main"], json!({})).as_ref(),
            "GET",
            "/agents/deep",
            Allow,
            200,
            None,
            Some(3),
        ),
        case(
            "an actor twice in the chain",
            chain(&["agent.a", "agent.b", "agent.a"], json!({})).as_ref(),
            "GET",
            "/agents/repo",
            Deny,
            401,
            Some("delegation_loop"),
            Some(6),
        ),
        case(
            "an actor acting for itself",
            chain(&["svc.warehouse"], json!({})).as_ref(),
            "GET",
            "/agents/repo",
            Deny,
            401,
            Some("delegation_loop"),
            Some(6),
        ),
        case(
            "actor outside the rule's actors",
            two.as_ref(),
            "GET",
            "/agents/research",
            Deny,
            403,
            Some("actor_not_allowed"),
            Some(4),
        ),
        case(
            "actor matching the rule's actors glob",
            chain(&["agent.research.sub", "agent.main"], json!({})).as_ref(),
            "GET",
            "/agents/research",
            Allow,
            200,
            None,
            Some(4),
        ),
        case(
            "an agent's own token where the rule names other actors",
            agent_own("agent.billing").as_ref(),
            "GET",
            "/agents/research",
            Deny,
            403,
            Some("actor_not_allowed"),
            Some(4),
        ),
        case(
            "an agent's own token matching the rule's actors",
            agent_own("agent.research").as_ref(),
            "GET",
            "/agents/research",
            Allow,
            200,
            None,
            Some(4),
        ),
        case(
            "a service at the root where a person is required",
            two.as_ref(),
            "GET",
            "/agents/people",
            Deny,
            403,
            Some("human_root_required"),
            Some(5),
        ),
        case(
            "a person at the root",
            chain(
                &["agent.main"],
                json!({"sub": "alice", "sub_profile": "user"}),
            )
            .as_ref(),
            "GET",
            "/agents/people",
            Allow,
            200,
            None,
            Some(5),
        ),
        case(
            "a revoked ancestor token",
            chain(
                &["agent.sub", "agent.main"],
                json!({"ancestor_jtis": ["parent-jti", "revoked-jti"]}),
            )
            .as_ref(),
            "GET",
            "/agents/repo",
            Deny,
            401,
            Some("token_revoked"),
            Some(6),
        ),
        case(
            "a revoked agent in the chain",
            chain(&["agent.sub", "agent.banned"], json!({})).as_ref(),
            "GET",
            "/agents/repo",
            Deny,
            401,
            Some("token_revoked"),
            Some(6),
        ),
    ];
    let mut cases = vec![
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
    ];
    cases.extend(delegation_cases);
    cases
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
            "jwks": {"local": standard_jwks(), "agents": standard_jwks()},
            "revocations": {"local": feed(), "agents": feed()},
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
