//! The fixture every fuzz target shares, and the properties they check.
//!
//! A fixed configuration (two providers, four rules), a fixed JWKS holding one ES256 and one
//! Ed25519 key of the test kit's fixed-seed signers (so a target can sign what the fuzzer wrote
//! and reach the claim checks behind the signature), a fixed clock, and [`check_decision`]:
//! `decide` must never panic, and what it answers must agree with `verify`, with the token
//! cache (a hit answers as a miss did) and with what may go on the wire (no control characters
//! in a header value, a JSON body with the stable code).
//!
//! `examples/seeds.rs` writes the seed corpora in `seeds/` from this fixture.

use std::sync::OnceLock;

use serde_json::{Value, json};
use verifier_core::bearer_token;
use verifier_core::{
    Algorithm, Config, Decision, Denial, Jwks, Provider, Request, TokenCache, VerifyError,
};
use verifier_testkit::{Signer, TestKeys, claims, parse_config, provider_json};

pub use verifier_testkit::{AUDIENCE, ISSUER, NOW};

/// The issuer of the `third` provider (no `typ` required, EdDSA only).
pub const THIRD_ISSUER: &str = "https://third.test";
/// The audience of the `third` provider.
pub const THIRD_AUDIENCE: &str = "third.api";

/// Routes of the fixed configuration, as (method, path, provider the rule requires).
pub const ROUTES: [(&str, &str, Option<&str>); 4] = [
    ("GET", "/api/v1/instruments", Some("local")),
    ("POST", "/api/v1/write", Some("local")),
    ("GET", "/third/x", Some("third")),
    ("GET", "/healthz", None),
];

/// The fixed keys and configuration.
pub struct Fixture {
    /// The parsed configuration of [`config_json`].
    pub config: Config,
    /// The ES256 key (`kid` es256-1).
    pub es256: Signer,
    /// The Ed25519 key (`kid` eddsa-2).
    pub eddsa: Signer,
}

/// The fixture, built once per process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (es256, eddsa) = signers();
        Fixture {
            config: parse_config(&config_json()),
            es256,
            eddsa,
        }
    })
}

fn signers() -> (Signer, Signer) {
    (Signer::es256(1), Signer::eddsa(2))
}

/// The public JWKS: the ES256 and the Ed25519 key, each with `kid`, `alg` and `use`.
pub fn jwks_json() -> Value {
    let (es256, eddsa) = signers();
    json!({"keys": [es256.jwk(), eddsa.jwk()]})
}

/// The configuration: `local` (ES256 and EdDSA, `typ` at+jwt, keys as a JSON string) and
/// `third` (EdDSA, any `typ`, keys as an object); a public route, a scoped write route, a route
/// for `third` and a catch-all for `local` (see [`ROUTES`]).
pub fn config_json() -> Value {
    let jwks = jwks_json();
    let mut local = provider_json(jwks["keys"].as_array().unwrap());
    local["algorithms"] = json!(["ES256", "EdDSA"]);
    json!({
        "providers": {
            "local": local,
            "third": {
                "issuer": THIRD_ISSUER,
                "audiences": [THIRD_AUDIENCE, "other"],
                "algorithms": ["EdDSA"],
                "typ": null,
                "clock_skew_seconds": 0,
                "max_lifetime_seconds": 600,
                "forward": true,
                "local_jwks": jwks,
            },
        },
        "rules": [
            {"match": {"path": "/healthz"}, "public": true},
            {"match": {"prefix": "/api/v1/write", "methods": ["POST"]},
             "requires": {"provider": "local", "scopes": ["instruments:write"]}},
            {"match": {"prefix": "/third"}, "requires": {"provider": "third"}},
            {"match": {"prefix": "/"}, "requires": {"provider": "local"}},
        ],
        "realm": "fuzz",
    })
}

impl Fixture {
    /// A provider of the configuration.
    pub fn provider(&self, name: &str) -> &Provider {
        &self.config.providers[name]
    }

    /// A provider's keys.
    pub fn jwks(&self, name: &str) -> &Jwks {
        self.provider(name)
            .local_jwks()
            .expect("the fixture's keys are local")
    }

    /// The fixture's key for `alg`: ES256 or EdDSA.
    pub fn signer(&self, alg: Algorithm) -> Option<&Signer> {
        match alg {
            Algorithm::Es256 => Some(&self.es256),
            Algorithm::EdDsa => Some(&self.eddsa),
            _ => None,
        }
    }
}

/// A decision reduced to what the caller and the upstream see.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Allowed, with these identity headers and this `Authorization` handling.
    Allow(Option<verifier_core::Identity>, bool),
    /// Refused with this status and code.
    Deny(u16, &'static str),
    /// Waiting for this provider's keys.
    Wait(String),
}

/// `explain` tells the story of `decide`'s verdict: the same status and code, and exactly one
/// failed step on a denial (none otherwise).
fn check_explanation(plain: &Outcome, explanation: &verifier_core::Explanation) {
    use verifier_core::{Outcome as Step, Verdict};
    let failed = explanation
        .steps
        .iter()
        .filter(|s| s.outcome == Step::Fail)
        .count();
    match plain {
        Outcome::Allow(..) => {
            assert_eq!(explanation.decision, Verdict::Allow, "{explanation:?}");
            assert_eq!(failed, 0, "{explanation:?}");
        }
        Outcome::Deny(status, code) => {
            assert_eq!(explanation.decision, Verdict::Deny, "{explanation:?}");
            assert_eq!(explanation.status, Some(*status), "{explanation:?}");
            assert_eq!(explanation.error.as_ref().map(|e| e.code), Some(*code));
            assert_eq!(failed, 1, "{explanation:?}");
        }
        Outcome::Wait(_) => assert_eq!(explanation.decision, Verdict::Wait),
    }
}

/// The [`Outcome`] of `decision`, after checking it could go on the wire.
pub fn outcome(decision: &Decision) -> Outcome {
    match decision {
        Decision::Allow {
            identity,
            strip_authorization,
        } => {
            if let Some(identity) = identity {
                for (name, value) in identity.headers() {
                    assert!(
                        !value.chars().any(char::is_control),
                        "identity header {name} carries a control character: {value:?}"
                    );
                }
            }
            Outcome::Allow(identity.as_deref().cloned(), *strip_authorization)
        }
        Decision::Deny(denial) => {
            check_denial(denial);
            Outcome::Deny(denial.status, denial.error.code())
        }
        Decision::Wait { provider, .. } => Outcome::Wait(provider.clone()),
    }
}

fn printable(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// A denial's status, challenge, body and log facts are what the README promises.
pub fn check_denial(denial: &Denial) {
    assert!(
        matches!(denial.status, 400 | 401 | 403 | 503),
        "unexpected status {} for {}",
        denial.status,
        denial.error.code()
    );
    assert_eq!(denial.status, denial.error.http_status());
    if let Some(challenge) = &denial.www_authenticate {
        assert!(
            printable(challenge),
            "WWW-Authenticate is not printable ASCII: {challenge:?}"
        );
        assert!(challenge.starts_with("Bearer realm=\""), "{challenge:?}");
    }
    let body: Value = serde_json::from_str(&denial.body)
        .unwrap_or_else(|e| panic!("denial body is not JSON ({e}): {:?}", denial.body));
    assert_eq!(body["code"], denial.error.code(), "body {body}");
    assert!(body["error"].is_string() && body["message"].is_string());
    let facts = &denial.facts;
    for fact in [&facts.kid, &facts.iss, &facts.sub].into_iter().flatten() {
        assert!(
            printable(fact) && fact.len() <= 67,
            "log fact not sanitised: {fact:?}"
        );
    }
}

/// Decides `method path` with `authorization` at `now` against `config`'s local keys, without a
/// cache and with one (miss, then hit), and checks the three agree and could go on the wire.
/// Also decides with keys pending and unavailable, which must never allow a token route, and an
/// unknown `kid` with a refetch allowed, which must wait.
pub fn check_decision(
    config: &Config,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    now: u64,
) -> Outcome {
    let request = Request {
        method,
        path,
        authorization,
    };
    let keys = TestKeys::ready(config);
    let plain = outcome(&verifier_core::decide(config, &keys, &request, now));
    let mut cache = TokenCache::new(config.token_cache);
    let miss = outcome(&verifier_core::decide_cached(
        config, &keys, &mut cache, &request, now,
    ));
    let hit = outcome(&verifier_core::decide_cached(
        config, &keys, &mut cache, &request, now,
    ));
    assert_eq!(plain, miss, "decide and decide_cached (miss) disagree");
    assert_eq!(plain, hit, "decide_cached (hit) disagrees with decide");
    let _ = cache.stats();
    check_explanation(
        &plain,
        &verifier_core::explain(config, &keys, &request, now),
    );
    if let Some(token) = authorization.and_then(verifier_core::bearer_token) {
        let _ = verifier_core::decode(token);
    }

    let every = TestKeys::every_provider(config);
    let pending = TestKeys {
        pending: every.clone(),
        ..TestKeys::ready(config)
    };
    let unavailable = TestKeys {
        unavailable: every,
        ..TestKeys::ready(config)
    };
    for (mode, keys) in [("Pending", pending), ("Unavailable", unavailable)] {
        let without_keys = outcome(&verifier_core::decide(config, &keys, &request, now));
        if let Outcome::Allow(identity, _) = &without_keys {
            assert!(
                identity.is_none(),
                "a token was allowed with keys {mode}: {without_keys:?}"
            );
        }
    }
    if plain == Outcome::Deny(401, "kid_unknown") {
        // A host that may refetch waits for fresh keys instead.
        let refetching = TestKeys {
            refetch: true,
            ..TestKeys::ready(config)
        };
        let refetched = outcome(&verifier_core::decide(config, &refetching, &request, now));
        assert!(
            matches!(refetched, Outcome::Wait(_)),
            "an unknown kid with a refetch allowed gave {refetched:?}"
        );
    }
    plain
}

/// [`check_decision`] on a route requiring `provider`, and agreement with `verify`: a token the
/// provider verifies is allowed on a route with no scope, and any other is refused with the
/// code `verify` gave.
pub fn check_against_verify(
    fixture: &Fixture,
    provider: &str,
    authorization: &str,
    now: u64,
) -> Result<verifier_core::Verified, VerifyError> {
    let path = match provider {
        "third" => "/third/x",
        _ => "/api/v1/instruments",
    };
    let decided = check_decision(&fixture.config, "GET", path, Some(authorization), now);
    let Some(token) = bearer_token(authorization) else {
        assert_eq!(decided, Outcome::Deny(401, "token_missing"));
        return Err(VerifyError::TokenMissing);
    };
    let verified = verifier_core::verify(
        token,
        fixture.provider(provider),
        fixture.jwks(provider),
        now,
    );
    match (&verified, &decided) {
        (Ok(v), Outcome::Allow(Some(identity), strip)) => {
            assert_eq!(identity.subject, v.claims.sub.clone().unwrap_or_default());
            assert_eq!(identity.issuer, fixture.provider(provider).issuer);
            assert_eq!(*strip, !fixture.provider(provider).forward);
        }
        (Err(e), Outcome::Deny(status, code)) => {
            assert_eq!((*status, *code), (e.http_status(), e.code()));
        }
        // A delegated token verifies (its chain is well formed), and a provider without
        // `delegation` refuses it at the gateway: the one policy refusal of a valid token here.
        (Ok(v), Outcome::Deny(403, "delegation_not_allowed"))
            if v.claims.delegation.is_some() && fixture.provider(provider).delegation.is_none() => {
        }
        (v, d) => panic!("verify and decide disagree: {v:?} vs {d:?}"),
    }
    verified
}

/// [`check_decision`] of `POST /api/v1/write`, the route that needs `instruments:write`.
pub fn check_write(config: &Config, authorization: &str, now: u64) -> Outcome {
    check_decision(config, "POST", "/api/v1/write", Some(authorization), now)
}

/// The claim set of a token for `third`: another issuer, an audience list, no `typ` required.
pub fn third_claims() -> Value {
    json!({
        "iss": THIRD_ISSUER,
        "sub": "agent-7",
        "aud": [THIRD_AUDIENCE],
        "iat": NOW - 5,
        "exp": NOW + 300,
    })
}

/// Valid tokens: ES256 and EdDSA for `local`, EdDSA for `third`.
pub fn sample_tokens() -> &'static [String; 3] {
    static TOKENS: OnceLock<[String; 3]> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let f = fixture();
        let tokens = [
            f.es256.token(&claims()),
            f.eddsa.token(&claims()),
            f.eddsa
                .token_with(&json!({"alg": "EdDSA", "kid": f.eddsa.kid}), &third_claims()),
        ];
        // A fixture the verifier no longer accepts would leave the fuzzer outside the deep
        // paths without a word: fail loudly instead.
        for (token, provider) in tokens.iter().zip(["local", "local", "third"]) {
            if let Err(e) = verifier_core::verify(token, f.provider(provider), f.jwks(provider), NOW)
            {
                panic!("the fuzz fixture is stale ({provider}: {e}); update verifier-wasm/fuzz/src/lib.rs");
            }
        }
        tokens
    })
}
