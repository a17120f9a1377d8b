//! Identity headers come from the verified token only: whatever `x-auth-*` headers the caller sends are
//! removed, on protected routes (replaced by the token's values) and on public ones (just removed).

use e2e_tests::{Stack, StackOptions, check, check_eq, default_filter_config};
use serde_json::json;

const IDENTITY: [&str; 4] = [
    "x-auth-subject",
    "x-auth-client-id",
    "x-auth-scope",
    "x-auth-issuer",
];

const FORGED: [(&str, &str); 5] = [
    ("x-auth-subject", "admin"),
    ("X-Auth-Client-Id", "admin"),
    ("x-auth-scope", "instruments:write admin:all"),
    ("X-AUTH-ISSUER", "http://evil.example"),
    // A second copy of the same name, in case only the first is removed.
    ("x-auth-subject", "root"),
];

#[test]
fn caller_supplied_identity_headers_never_reach_the_upstream() {
    let stack = Stack::start(StackOptions::default().filter_config(|issuer_url| {
        let mut config = default_filter_config(issuer_url);
        config["rules"]
            .as_array_mut()
            .expect("rules is an array")
            .insert(0, json!({"match": {"prefix": "/public"}, "public": true}));
        config
    }));
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let token = stack.token(&client);
    let bearer = format!("Bearer {token}");
    let claims = e2e_tests::jwt::claims(&token);

    // Protected route, valid token: the upstream sees the token's identity and nothing the caller said.
    let mut headers = vec![("Authorization", bearer.as_str())];
    headers.extend(FORGED);
    let echoed = stack.echoed_headers(&stack.get("/api/v1/instruments", &headers));
    let expected = [
        ("x-auth-subject", "svc.warehouse"),
        ("x-auth-client-id", client.client_id.as_str()),
        ("x-auth-scope", claims["scope"].as_str().unwrap_or_default()),
        ("x-auth-issuer", stack.issuer_url()),
    ];
    for (name, value) in expected {
        check_eq!(
            stack,
            echoed.get(name).and_then(|v| v.as_str()),
            Some(value),
            "{name} as the upstream saw it (forged values must be gone, not appended)"
        );
    }

    // Public route: let through unchecked, with or without a token, but the forged headers are removed.
    for (case, with_token) in [("anonymous", false), ("with-token", true)] {
        let mut headers = FORGED.to_vec();
        if with_token {
            headers.push(("Authorization", bearer.as_str()));
        }
        let echoed =
            stack.echoed_headers(&stack.get(&format!("/public/status?case={case}"), &headers));
        for name in IDENTITY {
            check!(
                stack,
                !echoed.contains_key(name),
                "public route ({case}): the upstream saw {name}: {:?}",
                echoed.get(name)
            );
        }
        // Nobody verified it, so the caller's Authorization header does not go upstream either.
        check!(
            stack,
            !echoed.contains_key("authorization"),
            "public route ({case}): the upstream saw authorization"
        );
    }

    // `x_auth_subject` reads as X-Auth-Subject to CGI-style upstreams: Envoy refuses the request.
    let response = stack.get(
        "/public/status?case=underscore",
        &[("x_auth_subject", "admin")],
    );
    check_eq!(
        stack,
        response.status,
        400,
        "a header name with an underscore"
    );
    check!(
        stack,
        !stack.upstream_received("/public/status?case=underscore"),
        "the request with x_auth_subject reached the upstream"
    );
}

/// The upstream sees only the Authorization header the decision was made on: none when the
/// provider strips it (the default), the verified one unchanged when it forwards it. A second
/// Authorization header behind a valid token goes nowhere: Envoy joins repeated Authorization
/// headers into one value, which is not a token, so the request is refused.
#[test]
fn only_the_verified_authorization_header_reaches_the_upstream() {
    let stack = Stack::start(StackOptions::default().filter_config(|issuer_url| {
        let mut config = default_filter_config(issuer_url);
        let mut forwarding = config["providers"]["local"].clone();
        forwarding["forward"] = json!(true);
        config["providers"]["forwarding"] = forwarding;
        config["rules"]
            .as_array_mut()
            .expect("rules is an array")
            .insert(
                0,
                json!({"match": {"prefix": "/forwarded"}, "requires": {"provider": "forwarding"}}),
            );
        config
    }));
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let bearer = format!("Bearer {}", stack.token(&client));
    let one = [("Authorization", bearer.as_str())];

    let echoed = stack.echoed_headers(&stack.get("/forwarded/instruments", &one));
    check_eq!(
        stack,
        echoed.get("authorization").and_then(|v| v.as_str()),
        Some(bearer.as_str()),
        "a forwarding provider: the verified Authorization header goes upstream, once, unchanged"
    );
    check_eq!(
        stack,
        echoed.get("x-auth-subject").and_then(|v| v.as_str()),
        Some("svc.warehouse"),
        "and the identity beside it"
    );
    let echoed = stack.echoed_headers(&stack.get("/api/v1/instruments", &one));
    check!(
        stack,
        !echoed.contains_key("authorization"),
        "a stripping provider: the upstream saw authorization: {:?}",
        echoed.get("authorization")
    );

    let two = [
        ("Authorization", bearer.as_str()),
        ("Authorization", "Bearer forged.second.token"),
    ];
    for target in [
        "/forwarded/instruments?case=two",
        "/api/v1/instruments?case=two",
    ] {
        stack.assert_denied(&stack.get(target, &two), target, 401, "token_malformed");
    }
}
