//! The issuer's token endpoint refuses bad client credentials with RFC 6749 §5.2 JSON:
//! 401 and `"error": "invalid_client"`.

use e2e_tests::{Diagnose, Issuer, check, check_eq};

#[test]
fn wrong_client_credentials_get_401_invalid_client() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let issuer = Issuer::start(dir.path());
    let client = issuer.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let grant = [("grant_type", "client_credentials")];

    // Control: the right secret works.
    let ok = issuer.token_request(&grant, Some((&client.client_id, &client.client_secret)));
    check_eq!(issuer, ok.status, 200, "right secret\n{ok:?}");

    let wrong_secret = format!("{}x", client.client_secret);
    let post_form = [
        ("grant_type", "client_credentials"),
        ("client_id", client.client_id.as_str()),
        ("client_secret", wrong_secret.as_str()),
    ];
    let cases = [
        (
            "wrong secret (basic)",
            issuer.token_request(&grant, Some((&client.client_id, &wrong_secret))),
        ),
        (
            "wrong secret (post)",
            issuer.token_request(&post_form, None),
        ),
        (
            "unknown client (basic)",
            issuer.token_request(&grant, Some(("svc.nobody", &client.client_secret))),
        ),
    ];
    for (case, response) in &cases {
        check_eq!(issuer, response.status, 401, "{case}\n{response:?}");
        let body = response
            .try_json()
            .unwrap_or_else(|err| issuer.fail(&format!("{case}: {err}")));
        check_eq!(
            issuer,
            body["error"].as_str(),
            Some("invalid_client"),
            "{case}: error\n{response:?}"
        );
        check!(
            issuer,
            body.get("access_token").is_none(),
            "{case}: a token came with the error\n{response:?}"
        );
        check!(
            issuer,
            response
                .header("content-type")
                .is_some_and(|ct| ct.starts_with("application/json")),
            "{case}: Content-Type is not JSON\n{response:?}"
        );
        // RFC 6749 §5.2: a client that tried HTTP Basic gets a challenge for that scheme back.
        if case.contains("basic") {
            check!(
                issuer,
                response
                    .header("www-authenticate")
                    .is_some_and(|value| value.to_ascii_lowercase().starts_with("basic")),
                "{case}: no `WWW-Authenticate: Basic ...` challenge\n{response:?}"
            );
        }
    }
}
