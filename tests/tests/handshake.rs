//! The whole handshake, for real: a client gets a token from the issuer over HTTP, Envoy's filter verifies
//! it against the JWKS it fetched from the issuer, and the upstream sees who called and nothing else.

use e2e_tests::{Stack, StackOptions, check, check_eq, jwt};

const REGISTER_BULK: &str = "/api/v1/entities/register-bulk";

#[test]
fn token_from_the_issuer_gets_through_envoy_with_identity_headers() {
    let stack = Stack::start(StackOptions::default());
    let writer = stack.create_client(
        "svc.warehouse",
        "instruments:read instruments:write",
        "quantjourney",
    );
    let token = stack.token(&writer);
    let claims = jwt::claims(&token);
    let bearer = format!("Bearer {token}");

    // Any path needs just a valid token.
    let response = stack.get("/api/v1/instruments", &[("Authorization", &bearer)]);
    let headers = stack.echoed_headers(&response);
    let seen = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    check_eq!(
        stack,
        seen("x-auth-subject").as_deref(),
        Some("svc.warehouse"),
        "x-auth-subject"
    );
    check_eq!(
        stack,
        seen("x-auth-client-id").as_deref(),
        Some(writer.client_id.as_str()),
        "x-auth-client-id"
    );
    check_eq!(
        stack,
        seen("x-auth-scope").as_deref(),
        claims["scope"].as_str(),
        "x-auth-scope is the token's scope"
    );
    check_eq!(
        stack,
        seen("x-auth-issuer").as_deref(),
        Some(stack.issuer_url()),
        "x-auth-issuer"
    );
    check!(
        stack,
        !headers.contains_key("authorization"),
        "the Authorization header reached the upstream: {headers:?}"
    );

    // POST register-bulk needs instruments:write, which this token has.
    let target = format!("{REGISTER_BULK}?case=writer");
    let response = stack.post(&target, &[("Authorization", &bearer)], b"[]");
    let headers = stack.echoed_headers(&response);
    check_eq!(
        stack,
        headers.get("x-auth-subject").and_then(|v| v.as_str()),
        Some("svc.warehouse"),
        "x-auth-subject on register-bulk"
    );
    check!(
        stack,
        stack.upstream_received(&target),
        "the upstream did not log {target}"
    );
}

#[test]
fn token_without_the_required_scope_gets_403_and_never_reaches_the_upstream() {
    let stack = Stack::start(StackOptions::default());
    let reader = stack.create_client("svc.reader", "instruments:read", "quantjourney");
    let bearer = format!("Bearer {}", stack.token(&reader));

    // The scope rule is for POST only: a GET on the same path is let through.
    let response = stack.get(
        &format!("{REGISTER_BULK}?case=get"),
        &[("Authorization", &bearer)],
    );
    stack.echoed_headers(&response);

    let target = format!("{REGISTER_BULK}?case=reader");
    let response = stack.post(&target, &[("Authorization", &bearer)], b"[]");
    let challenge = stack.assert_denied(&response, &target, 403, "insufficient_scope");
    check!(
        stack,
        challenge.contains(r#"error="insufficient_scope""#),
        "WWW-Authenticate {challenge:?} lacks error=\"insufficient_scope\""
    );

    // A client allowed to write that asked the issuer for a read-only token is refused the same way:
    // the token's scope decides, not the client's registration.
    let writer = stack.create_client(
        "svc.writer",
        "instruments:read instruments:write",
        "quantjourney",
    );
    let narrowed = stack.issuer().token_with_scope(&writer, "instruments:read");
    let target = format!("{REGISTER_BULK}?case=narrowed");
    let response = stack.post(
        &target,
        &[("Authorization", &format!("Bearer {narrowed}"))],
        b"[]",
    );
    stack.assert_denied(&response, &target, 403, "insufficient_scope");
}
