//! The real issuer's admin port: the credential printed once on the first start, the bearer check,
//! `/metrics`, and JSON logs that never hold a secret or a token.

use e2e_tests::issuer::IssuerOptions;
use e2e_tests::{Client, Issuer, http};
use serde_json::Value;

#[test]
fn the_admin_credential_is_shown_once_and_guards_the_admin_port() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = IssuerOptions {
        env: vec![("ISSUER_LOG_FORMAT".to_owned(), "json".to_owned())],
        ..IssuerOptions::default()
    };
    let mut issuer = Issuer::start_with(dir.path(), options);
    let token = issuer
        .admin_token()
        .expect("the first start prints {\"event\":\"admin_credential\",...}");

    assert_eq!(
        issuer
            .admin_request("GET", "/admin/clients", "wrong", b"")
            .status,
        401
    );
    let created = issuer.admin_request(
        "POST",
        "/admin/clients",
        &token,
        br#"{"client_id": "svc.e2e", "scope": "read"}"#,
    );
    assert_eq!(created.status, 201, "{created:?}");
    let body = created.try_json().expect("json");
    let client = Client {
        client_id: "svc.e2e".to_owned(),
        client_secret: body["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
        output: body.clone(),
    };
    let access_token = issuer.token(&client);

    // The public port has no admin route, credential or not.
    let bearer = format!("Bearer {token}");
    let public = issuer.request(
        "GET",
        "/admin/clients",
        &[("Authorization", bearer.as_str())],
        b"",
    );
    assert_eq!(public.status, 404);

    // Metrics need no credential and count the token.
    let metrics = http::send(
        issuer.admin_addr(),
        "GET",
        "/metrics",
        &[],
        b"",
        http::DEFAULT_TIMEOUT,
    )
    .expect("GET /metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .text()
            .lines()
            .any(|line| line == "issuer_tokens_issued_total 1"),
        "{}",
        metrics.text()
    );

    // A restart shows no credential; the one shown still works.
    issuer.restart().expect("restart");
    assert_eq!(issuer.admin_token(), None);
    assert_eq!(
        issuer
            .admin_request("GET", "/admin/clients", &token, b"")
            .status,
        200
    );

    // `admin reset-credential` revokes it and prints a new one.
    let new_token = issuer.reset_admin_credential().expect("reset-credential");
    assert_ne!(new_token, token);
    assert_eq!(
        issuer
            .admin_request("GET", "/admin/clients", &token, b"")
            .status,
        401
    );
    assert_eq!(
        issuer
            .admin_request("GET", "/admin/keys", &new_token, b"")
            .status,
        200
    );

    // Every log line of both processes is JSON, and none holds a secret or a token.
    let logs: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect();
    assert!(logs.len() >= 2, "a log per process");
    for line in logs.iter().flat_map(|log| log.lines()) {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not a JSON log line: {line}");
        for secret in [&token, &new_token, &client.client_secret, &access_token] {
            assert!(
                !line.contains(secret.as_str()),
                "a secret in the log: {line}"
            );
        }
    }
}
