//! No bearer token: 401 with a bare `Bearer realm=...` challenge (RFC 6750 §3.1: no error code when the
//! request carried no token at all), and the upstream never sees the request.

use e2e_tests::{Stack, StackOptions, check};

fn assert_bare_challenge(stack: &Stack, headers: &[(&str, &str)], case: &str) {
    let target = format!("/api/v1/instruments?case={case}");
    let response = stack.get(&target, headers);
    let challenge = stack.assert_denied(&response, &target, 401, "token_missing");
    check!(
        stack,
        challenge.starts_with("Bearer ") && challenge.contains("realm="),
        "{case}: WWW-Authenticate {challenge:?} is not `Bearer realm=...`"
    );
    check!(
        stack,
        !challenge.contains("error="),
        "{case}: WWW-Authenticate {challenge:?} has an error code, but no token was sent"
    );
}

#[test]
fn requests_without_a_bearer_token_get_401_with_a_bare_challenge() {
    let stack = Stack::start(StackOptions::default());
    assert_bare_challenge(&stack, &[], "none");
    assert_bare_challenge(
        &stack,
        &[("Authorization", "Basic c3ZjOnNlY3JldA==")],
        "basic",
    );
}
