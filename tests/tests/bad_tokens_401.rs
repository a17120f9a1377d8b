//! Tokens that must not pass: each gets 401 with `error="invalid_token"` and the stable `code` that
//! names what is wrong with it, and none reaches the upstream.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e_tests::{Diagnose, NewClient, Stack, StackOptions, default_filter_config, jwt};
use serde_json::Value;

#[test]
fn bad_tokens_get_401_invalid_token_with_the_right_code() {
    let stack = Stack::start(StackOptions::default().filter_config(|issuer_url| {
        let mut config = default_filter_config(issuer_url);
        // No clock skew, so the expired token is refused as soon as its one second is over.
        config["providers"]["local"]["clock_skew_seconds"] = Value::from(0);
        config
    }));

    // Taken first: its three-second lifetime runs while the other cases are checked.
    let short = stack.create_client_with(NewClient {
        id: "svc.short",
        scope: "instruments:read",
        audience: Some("quantjourney"),
        ttl: Some(3),
    });
    let expiring = stack.token(&short);
    // Used while valid, so the filter has it in its verified-token cache when it expires: the cache
    // must not keep accepting it.
    let response = stack.get(
        "/api/v1/instruments?case=expiring-while-valid",
        &[("Authorization", &format!("Bearer {expiring}"))],
    );
    stack.echoed_headers(&response);

    let good =
        stack.token(&stack.create_client("svc.warehouse", "instruments:read", "quantjourney"));
    let elsewhere = stack.token(&stack.create_client("svc.elsewhere", "instruments:read", "other"));

    // Control: the same configuration lets a good token through, so the denials below are about the
    // tokens and not about a filter that refuses everything.
    let response = stack.get(
        "/api/v1/instruments?case=control",
        &[("Authorization", &format!("Bearer {good}"))],
    );
    stack.echoed_headers(&response);

    let mut cases: Vec<(&str, String, &str)> = vec![
        (
            "tampered signature",
            format!("Bearer {}", jwt::tamper_signature(&good)),
            "signature_invalid",
        ),
        (
            "tampered payload",
            format!(
                "Bearer {}",
                jwt::with_claims(&good, |claims| {
                    claims.insert("sub".into(), Value::from("admin"));
                })
            ),
            "signature_invalid",
        ),
        (
            "wrong audience",
            format!("Bearer {elsewhere}"),
            "audience_mismatch",
        ),
        ("garbage", "Bearer abc".to_owned(), "token_malformed"),
        (
            "alg changed to none",
            format!(
                "Bearer {}",
                jwt::with_header(&good, |header| {
                    header.insert("alg".into(), Value::from("none"));
                })
            ),
            "alg_not_allowed",
        ),
        (
            "unsecured (alg none, no signature)",
            format!("Bearer {}", jwt::unsecured(&good)),
            "alg_not_allowed",
        ),
    ];

    // Wait until the short token is past `exp` with no skew (a second of margin for whole-second clocks).
    let exp = jwt::claims(&expiring)["exp"]
        .as_f64()
        .unwrap_or_else(|| stack.fail("the short-lived token has no numeric exp"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let wait = exp + 1.0 - now;
    if wait > 10.0 {
        stack.fail(&format!("--ttl 3 gave a token that expires in {wait:.0} s"));
    }
    if wait > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(wait));
    }
    cases.push(("expired", format!("Bearer {expiring}"), "token_expired"));

    let mut wrong = Vec::new();
    for (i, (name, authorization, code)) in cases.iter().enumerate() {
        let target = format!("/api/v1/instruments?case={i}");
        let response = stack.get(&target, &[("Authorization", authorization)]);
        let challenge = response.header("www-authenticate").unwrap_or_default();
        let got_code = response.json_str("code");
        let reached_upstream = stack.upstream_received(&target);
        if response.status != 401
            || !challenge.starts_with("Bearer ")
            || !challenge.contains(r#"error="invalid_token""#)
            || got_code.as_deref() != Some(*code)
            || reached_upstream
        {
            wrong.push(format!(
                "{name}: expected 401, Bearer error=\"invalid_token\", code {code:?}; got {}, \
                 WWW-Authenticate {challenge:?}, code {got_code:?}, reached upstream: {reached_upstream}\n{response:?}",
                response.status
            ));
        }
    }
    if !wrong.is_empty() {
        stack.fail(&format!(
            "{} of {} bad tokens were mishandled:\n\n{}",
            wrong.len(),
            cases.len(),
            wrong.join("\n\n")
        ));
    }
}
