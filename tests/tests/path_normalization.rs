//! Rules match on path prefixes, so Envoy must make the path canonical before the filter sees it
//! (`normalize_path`, `merge_slashes`, `path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT`): a
//! disguised spelling of a protected path gets the protected path's decision.

use e2e_tests::{Stack, StackOptions, check, check_eq};

#[test]
fn disguised_paths_get_the_canonical_paths_decision() {
    let stack = Stack::start(StackOptions::default());
    let reader = stack.create_client("svc.reader", "instruments:read", "quantjourney");
    let bearer = format!("Bearer {}", stack.token(&reader));
    let auth = [("Authorization", bearer.as_str())];

    // Each spelling of POST /api/v1/entities/register-bulk needs instruments:write, which the reader
    // lacks. The second path is what the upstream would have logged had the request got through.
    let disguises = [
        ("dot", "/api/v1/entities/./register-bulk?case=dot"),
        (
            "dotdot",
            "/api/v1/other/../entities/register-bulk?case=dotdot",
        ),
        (
            "double-slash",
            "/api//v1/entities//register-bulk?case=double-slash",
        ),
        (
            "leading-slashes",
            "//api/v1/entities/register-bulk?case=leading-slashes",
        ),
    ];
    for (case, target) in disguises {
        let canonical = format!("/api/v1/entities/register-bulk?case={case}");
        let response = stack.post(target, &auth, b"[]");
        check_eq!(
            stack,
            response.status,
            403,
            "{case}: POST {target}\n{response:?}"
        );
        stack.assert_denied(&response, &canonical, 403, "insufficient_scope");
    }

    // An escaped slash is not decoded silently: Envoy redirects to the unescaped path, and nothing
    // reaches the upstream.
    let target = "/api/v1/entities%2Fregister-bulk?case=escaped";
    let response = stack.post(target, &auth, b"[]");
    check!(
        stack,
        (300..400).contains(&response.status),
        "escaped slash: expected a redirect, got\n{response:?}"
    );
    check!(
        stack,
        response
            .header("location")
            .is_some_and(|location| location.contains("/api/v1/entities/register-bulk")),
        "escaped slash: the redirect does not point at the unescaped path\n{response:?}"
    );
    let seen = stack.upstream_received("/api/v1/entities/register-bulk?case=escaped")
        || stack.upstream_received(target);
    check!(
        stack,
        !seen,
        "escaped slash: the upstream received the request"
    );
}
