//! `explain` and `decode`: what a person is told about a request and a token. The verdicts of the
//! shared vectors are checked in vectors.rs; here, the parts only a person reads.

use serde_json::json;
use verifier_core::{Config, decode, explain};
use verifier_core::{Outcome, Stage, Verdict};
use verifier_testkit::*;

fn config() -> Config {
    let mut public = json!({"match": {"path": "/health"}, "public": true});
    let mut forwarded = json!({"match": {"prefix": "/public-fwd"}, "public": true});
    forwarded["forward"] = json!(true);
    public["forward"] = json!(false);
    parse_config(&json!({
        "providers": {PROVIDER: provider_json(&[Signer::es256(3).jwk()])},
        "rules": [
            public,
            forwarded,
            {"match": {"prefix": "/", "methods": ["GET"]}, "requires": {"provider": PROVIDER}},
        ],
    }))
}

fn outcomes(explanation: &verifier_core::Explanation) -> Vec<(Stage, Outcome)> {
    explanation
        .steps
        .iter()
        .map(|s| (s.name, s.outcome))
        .collect()
}

#[test]
fn allowed_token_reports_every_check_and_the_upstream_headers() {
    let config = config();
    let bearer = format!("Bearer {}", Signer::es256(3).token(&claims()));
    let keys = TestKeys::ready(&config);
    let e = explain(&config, &keys, &request("GET", "/x", Some(&bearer)), NOW);
    assert_eq!(e.decision, Verdict::Allow);
    assert_eq!(e.status, Some(200));
    assert_eq!(e.rule.as_ref().map(|r| r.index), Some(2));
    assert_eq!(e.authorization_forwarded, Some(false));
    let headers = e.upstream_headers.as_ref().expect("identity headers");
    assert_eq!(headers["x-auth-subject"], "svc.warehouse");
    assert_eq!(headers["x-auth-scope"], "instruments:read");
    use Outcome::*;
    use Stage::*;
    assert_eq!(
        outcomes(&e),
        vec![
            (Rule, Pass),
            (Token, Pass),
            (Header, Pass),
            (Keys, Pass),
            (Signature, Pass),
            (Claims, Pass),
            (Revocation, Skip),
            (Delegation, Pass),
            (Scopes, Pass),
        ]
    );
    let claims_step = e.steps.iter().find(|s| s.name == Claims).unwrap();
    assert!(
        claims_step.detail.contains("expires in 290s"),
        "{claims_step:?}"
    );
    let token = e.token.as_ref().expect("decoded token");
    assert_eq!(token.claims["client_id"], "warehouse");
}

#[test]
fn denial_fails_one_step_and_skips_the_rest() {
    let config = config();
    let expired = claims_with(json!({"iat": NOW - 900, "exp": NOW - 300}));
    let bearer = format!("Bearer {}", Signer::es256(3).token(&expired));
    let keys = TestKeys::ready(&config);
    let e = explain(&config, &keys, &request("GET", "/x", Some(&bearer)), NOW);
    assert_eq!(e.decision, Verdict::Deny);
    assert_eq!(e.status, Some(401));
    assert_eq!(e.error.as_ref().map(|e| e.code), Some("token_expired"));
    assert!(
        e.www_authenticate
            .as_deref()
            .unwrap()
            .contains("invalid_token")
    );
    use Outcome::*;
    use Stage::*;
    assert_eq!(
        outcomes(&e)[4..],
        [
            (Signature, Pass),
            (Claims, Fail),
            (Revocation, Skip),
            (Delegation, Skip),
            (Scopes, Skip)
        ]
    );
    assert!(e.upstream_headers.is_none());
}

#[test]
fn public_rules_need_no_token() {
    let config = config();
    let keys = TestKeys::ready(&config);
    let e = explain(&config, &keys, &request("POST", "/health", None), NOW);
    assert_eq!(e.decision, Verdict::Allow);
    assert_eq!(e.rule.as_ref().and_then(|r| r.public), Some(true));
    assert_eq!(outcomes(&e), vec![(Stage::Rule, Outcome::Pass)]);
    assert_eq!(e.authorization_forwarded, Some(false));
    let e = explain(
        &config,
        &keys,
        &request("GET", "/public-fwd/a", Some("Bearer x")),
        NOW,
    );
    assert_eq!(e.authorization_forwarded, Some(true));
    assert!(e.steps[0].detail.contains("forwarded"));
}

#[test]
fn unmatched_request_names_no_rule() {
    let config = config();
    let keys = TestKeys::ready(&config);
    let e = explain(&config, &keys, &request("DELETE", "/x", None), NOW);
    assert_eq!(e.error.as_ref().map(|e| e.code), Some("no_matching_rule"));
    assert_eq!(e.status, Some(403));
    assert!(e.rule.is_none());
    assert_eq!(outcomes(&e), vec![(Stage::Rule, Outcome::Fail)]);
}

#[test]
fn waiting_for_keys_is_explained_as_a_wait() {
    let config = config();
    let bearer = format!("Bearer {}", Signer::es256(3).token(&claims()));
    let keys = TestKeys {
        pending: vec![PROVIDER],
        ..TestKeys::ready(&config)
    };
    let e = explain(&config, &keys, &request("GET", "/x", Some(&bearer)), NOW);
    assert_eq!(e.decision, Verdict::Wait);
    assert_eq!(e.status, None);
    assert!(e.error.is_none());
    let keys_step = e.steps.iter().find(|s| s.name == Stage::Keys).unwrap();
    assert_eq!(keys_step.outcome, Outcome::Skip);
    assert!(e.steps.iter().all(|s| s.outcome != Outcome::Fail));
}

#[test]
fn decode_shows_what_verify_refuses() {
    let signer = Signer::es256(3);
    let mut header = signer.header();
    header["jku"] = json!("https://evil.test/keys");
    let token = signer.token_with(&header, &claims());
    let decoded = decode(&token).expect("decodable");
    assert_eq!(decoded.header["jku"], "https://evil.test/keys");
    assert_eq!(decoded.claims["sub"], "svc.warehouse");
    assert_eq!(decoded.signature_bytes, 64);
    assert_eq!(decode("a.b").unwrap_err().code(), "token_malformed");
    let duplicate = signer.sign_text(r#"{"alg":"ES256","alg":"none"}"#, "{}");
    assert_eq!(decode(&duplicate).unwrap_err().code(), "token_malformed");
    let array = signer.sign_text(signer.header().to_string(), "[1]");
    assert_eq!(decode(&array).unwrap_err().code(), "token_malformed");
}
