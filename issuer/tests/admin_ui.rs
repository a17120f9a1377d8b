//! The admin UI's side of the admin port: its files and their headers, the verifier package,
//! cookie sessions with their CSRF checks, and the endpoints the UI added (a token for a
//! client, the JWKS and revocation feed mirrors, the gateway configuration, the audit trail
//! newest first with filters, the chain check).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, ORIGIN};
use axum::http::{Request, StatusCode};
use common::{ISSUER, Reply, START, TestIssuer, send};
use issuer::audit::{AuditEvent, Outcome};
use issuer::clock::Clock;
use issuer::ui::{GatewayConfig, UiResources, VerifierPackage};
use serde_json::{Value, json};

const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// The headers every UI response carries.
fn assert_ui_headers(reply: &Reply, what: &str) {
    assert_eq!(reply.header("content-security-policy"), Some(CSP), "{what}");
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        reply.header("referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        reply.header("cross-origin-opener-policy"),
        Some("same-origin"),
        "{what}"
    );
    assert_eq!(reply.header("cache-control"), Some("no-cache"), "{what}");
}

/// A browser signed in to the UI: its cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

/// A request to the admin port as the UI's page makes it: the session cookie, the CSRF token
/// when given, `Host` as a browser sends it, and a JSON body when given.
fn browser_request(
    method: &str,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<&Value>,
) -> axum::http::request::Builder {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "127.0.0.1:8081")
        .header(COOKIE, format!("theme=dark; {cookie}"));
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if body.is_some() {
        request = request.header(CONTENT_TYPE, "application/json");
    }
    request
}

async fn as_browser(
    t: &TestIssuer,
    method: &str,
    path: &str,
    browser: &Browser,
    csrf: bool,
    body: Option<&Value>,
) -> Reply {
    let token = csrf.then_some(browser.csrf.as_str());
    let request = browser_request(method, path, &browser.cookie, token, body);
    let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
    send(t.admin(), request.body(body).expect("request")).await
}

async fn sign_in_reply(t: &TestIssuer, body: &str) -> Reply {
    let request = Request::post("/admin/session")
        .header(CONTENT_TYPE, "application/json")
        .header(HOST, "127.0.0.1:8081")
        .body(Body::from(body.to_owned()))
        .expect("request");
    send(t.admin(), request).await
}

/// Signs in with `credential`, asserting success.
async fn sign_in(t: &TestIssuer, credential: &str) -> Browser {
    let reply = sign_in_reply(t, &json!({ "credential": credential }).to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    let set_cookie = reply.header("set-cookie").expect("set-cookie").to_owned();
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    let csrf = reply.json()["csrf"].as_str().expect("csrf").to_owned();
    Browser { cookie, csrf }
}

/// The id of the active admin credential.
async fn credential_id(t: &TestIssuer) -> String {
    let active = t
        .state
        .store
        .active_admin_credentials()
        .await
        .expect("credentials");
    active[0].id.clone()
}

#[tokio::test]
async fn the_ui_is_served_without_a_credential_with_strict_headers() {
    let t = TestIssuer::new().await;

    let root = t.get(t.admin(), "/").await;
    assert_eq!(root.status, StatusCode::SEE_OTHER);
    assert_eq!(root.header("location"), Some("/ui/"));
    assert_ui_headers(&root, "/");
    assert_eq!(
        t.get(t.admin(), "/ui").await.header("location"),
        Some("/ui/")
    );

    let index = t.get(t.admin(), "/ui/").await;
    assert_eq!(index.status, StatusCode::OK, "{}", text(&index));
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let on_disk = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/index.html"))
        .expect("issuer/ui/index.html");
    assert_eq!(index.body, on_disk, "the page as built from issuer/ui/");
    assert_ui_headers(&index, "/ui/");

    // Every embedded file, with its media type.
    let mut seen = 0;
    for path in issuer::ui::assets::paths() {
        let reply = t.get(t.admin(), &format!("/ui/{path}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let expected = std::fs::read(format!("{}/ui/{path}", env!("CARGO_MANIFEST_DIR")))
            .expect("file on disk");
        assert_eq!(reply.body, expected, "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some(issuer::ui::assets::content_type(path)),
            "{path}"
        );
        if path.ends_with(".js") {
            assert_eq!(
                reply.header("content-type"),
                Some("text/javascript; charset=utf-8")
            );
        }
        assert_ui_headers(&reply, path);
        seen += 1;
    }
    assert!(seen >= 1);

    // HEAD works too (browsers and probes use it).
    let head = Request::head("/ui/").body(Body::empty()).expect("request");
    let head = send(t.admin(), head).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());

    // Nothing here was an authentication failure.
    let records = common::audit_records(&t).await;
    assert!(!records.iter().any(|r| r["action"] == "admin.auth_failed"));

    // The API and the open endpoints carry the policy and nosniff as well.
    let api = t.admin_get("/admin/clients").await;
    assert_eq!(api.status, StatusCode::OK);
    assert_eq!(api.header("content-security-policy"), Some(CSP));
    assert_eq!(api.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(api.header("cache-control"), Some("no-store"));
    let health = t.get(t.admin(), "/health").await;
    assert_eq!(health.header("x-content-type-options"), Some("nosniff"));
    let refused = t.admin_call("GET", "/admin/keys", None, None).await;
    assert_eq!(refused.header("x-content-type-options"), Some("nosniff"));
    let nowhere = t.get(t.admin(), "/nowhere").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.header("x-content-type-options"), Some("nosniff"));

    // The UI is the admin port's only: the public port has none of it.
    for path in ["/", "/ui/", "/ui/index.html"] {
        assert_eq!(
            t.get(t.public(), path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn traversal_and_unknown_files_are_404() {
    let t = TestIssuer::new().await;
    for path in [
        "/ui/../",
        "/ui/../Cargo.toml",
        "/ui/..%2fCargo.toml",
        "/ui/%2e%2e/Cargo.toml",
        "/ui/%2e%2e%2fsrc%2flib.rs",
        "/ui/pages/../index.html",
        "/ui/./index.html",
        "/ui//etc/passwd",
        "/ui/nope.js",
        "/ui/index.html/",
        "/ui/INDEX.HTML",
    ] {
        let reply = t.get(t.admin(), path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "{path}"
        );
        assert_ui_headers(&reply, path);
        assert!(!text(&reply).contains("[package]"), "{path}");
    }
}

#[tokio::test]
async fn the_verifier_package_is_served_from_memory() {
    let mut t = TestIssuer::new().await;

    // Without --verifier-js-dir: a 404 that says what to do.
    let missing = t.get(t.admin(), "/ui/verifier/verifier.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        text(&missing).contains("--verifier-js-dir"),
        "{}",
        text(&missing)
    );
    assert!(text(&missing).contains("target/js/verifier"));
    assert_ui_headers(&missing, "missing package");

    let dir = tempfile::tempdir().expect("dir");
    let wasm = b"\0asm\x01\0\0\0fake module".to_vec();
    std::fs::write(
        dir.path().join("verifier.js"),
        "export default function init() {}\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("verifier_bg.wasm"), &wasm).expect("write");
    std::fs::write(dir.path().join("verifier.d.ts"), "export {};\n").expect("write");
    std::fs::write(dir.path().join("package.json"), "{\"name\":\"verifier\"}").expect("write");
    std::fs::write(dir.path().join("not allowed.js"), "x").expect("write");
    // The directory may be a shared build output: secrets and other files beside the package
    // are never served.
    std::fs::write(dir.path().join("master.key"), "0123456789abcdef").expect("write");
    std::fs::write(dir.path().join(".env"), "ISSUER_MASTER_KEY=secret\n").expect("write");
    std::fs::write(dir.path().join(".hidden.js"), "x").expect("write");
    std::fs::write(dir.path().join("notes.txt"), "x").expect("write");
    std::fs::create_dir(dir.path().join("snippets")).expect("mkdir");
    std::fs::write(dir.path().join("snippets").join("inner.js"), "x").expect("write");
    let package = VerifierPackage::load(dir.path()).expect("load");
    assert_eq!(
        package.names().collect::<Vec<_>>(),
        [
            "package.json",
            "verifier.d.ts",
            "verifier.js",
            "verifier_bg.wasm"
        ]
    );
    t.state = t.state.clone().with_ui(UiResources {
        verifier: Some(package),
        gateway_config: None,
    });

    let reply = t.get(t.admin(), "/ui/verifier/verifier_bg.wasm").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/wasm"));
    assert_eq!(reply.body, wasm);
    assert_ui_headers(&reply, "wasm");
    for (file, media_type) in [
        ("verifier.js", "text/javascript; charset=utf-8"),
        ("package.json", "application/json"),
        ("verifier.d.ts", "text/plain; charset=utf-8"),
    ] {
        let reply = t.get(t.admin(), &format!("/ui/verifier/{file}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{file}");
        assert_eq!(reply.header("content-type"), Some(media_type), "{file}");
    }

    // Read once at start-up: later changes on disk are not served.
    std::fs::write(dir.path().join("verifier_bg.wasm"), b"changed").expect("write");
    let reply = t.get(t.admin(), "/ui/verifier/verifier_bg.wasm").await;
    assert_eq!(reply.body, wasm);

    for path in [
        "/ui/verifier/master.key",
        "/ui/verifier/.env",
        "/ui/verifier/%2eenv",
        "/ui/verifier/.hidden.js",
        "/ui/verifier/notes.txt",
        "/ui/verifier/not%20allowed.js",
        "/ui/verifier/snippets",
        "/ui/verifier/snippets/inner.js",
        "/ui/verifier/../index.html",
        "/ui/verifier/%2e%2e%2fCargo.toml",
        "/ui/verifier/",
        "/ui/verifier/other.js",
    ] {
        let reply = t.get(t.admin(), path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_wrong_credential_is_refused_audited_and_throttled_like_a_bearer() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;

    let wrong = sign_in_reply(&t, r#"{"credential": "wrong"}"#).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["error"], "invalid_token");
    assert!(wrong.header("set-cookie").is_none());
    let records = common::audit_records(&t).await;
    let failure = records
        .iter()
        .rev()
        .find(|r| r["action"] == "admin.auth_failed")
        .expect("audited");
    assert_eq!(failure["target"], "/admin/session");
    assert_eq!(failure["outcome"], "failure");
    assert_eq!(failure["detail"]["reason"], "invalid");
    assert_eq!(failure["detail"]["method"], "POST");

    // Malformed bodies are 400, and are no failed login.
    for body in [
        "",
        "{",
        "[]",
        r#"{"credential": 1}"#,
        r#"{"credential": "x", "y": 1}"#,
    ] {
        let reply = sign_in_reply(&t, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.json()["error"], "invalid_request", "{body}");
    }
    assert_eq!(common::audit_records(&t).await.len(), records.len());

    // Failed sign-ins and failed bearer requests count against one address together.
    let attacker = std::net::SocketAddr::from(([192, 0, 2, 9], 40_000));
    let from_attacker = |request: Request<Body>| {
        let mut request = request;
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(attacker));
        send(t.admin(), request)
    };
    let sign_in_as = |credential: &str| {
        Request::post("/admin/session")
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "credential": credential }).to_string()))
            .expect("request")
    };
    // An operator behind the same address (a NAT) signed in before the flood.
    let signed_in = from_attacker(sign_in_as(&token)).await;
    assert_eq!(signed_in.status, StatusCode::OK);
    let cookie = signed_in
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_owned();
    for i in 0..10 {
        let request = if i % 2 == 0 {
            sign_in_as("wrong")
        } else {
            Request::get("/admin/clients")
                .header(AUTHORIZATION, "Bearer wrong")
                .body(Body::empty())
                .expect("request")
        };
        assert_eq!(
            from_attacker(request).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = from_attacker(sign_in_as(&token)).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.json()["error"], "temporarily_locked");
    assert_eq!(locked.header("retry-after"), Some("300"));
    assert!(locked.header("set-cookie").is_none());
    let bearer = Request::get("/admin/keys")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        from_attacker(bearer).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The session presents no credential: it is neither throttled nor locked out.
    let with_session = Request::get("/admin/keys")
        .header(COOKIE, &cookie)
        .body(Body::empty())
        .expect("request");
    assert_eq!(from_attacker(with_session).await.status, StatusCode::OK);
    // Elsewhere the right credential signs in.
    sign_in(&t, &token).await;
}

/// A sign-in from `peer` with these headers (besides `Host`) and body.
async fn sign_in_from(
    t: &TestIssuer,
    peer: std::net::SocketAddr,
    headers: &[(&str, &str)],
    body: String,
) -> Reply {
    let mut request = Request::post("/admin/session").header(HOST, "127.0.0.1:8081");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::from(body)).expect("request");
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    send(t.admin(), request).await
}

#[tokio::test]
async fn a_sign_in_from_another_site_is_refused_before_the_throttle() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;
    let operator = std::net::SocketAddr::from(([192, 0, 2, 10], 40_000));
    let json_type = ("content-type", "application/json");
    let wrong = json!({ "credential": "wrong" }).to_string();
    let right = json!({ "credential": token }).to_string();

    // What another site's page can make the operator's browser send, again and again: refused
    // 403 csrf_failed, the right credential included (no cookie is set).
    let cross: [&[(&str, &str)]; 5] = [
        &[json_type, ("origin", "http://evil.example")],
        &[json_type, ("origin", "null")],
        // Another port of this host is the same site, but not this origin.
        &[json_type, ("origin", "http://127.0.0.1:8080")],
        &[json_type, ("sec-fetch-site", "cross-site")],
        &[
            json_type,
            ("origin", "http://127.0.0.1:8081"),
            ("sec-fetch-site", "same-site"),
        ],
    ];
    for _ in 0..3 {
        for headers in cross {
            for body in [&wrong, &right] {
                let reply = sign_in_from(&t, operator, headers, body.clone()).await;
                assert_eq!(reply.status, StatusCode::FORBIDDEN, "{headers:?}");
                assert_eq!(reply.json()["error"], "csrf_failed", "{headers:?}");
                assert!(
                    reply.json()["error_description"]
                        .as_str()
                        .is_some_and(|d| d.contains("sign-in refused")),
                    "{}",
                    text(&reply)
                );
                assert!(reply.header("set-cookie").is_none(), "{headers:?}");
            }
        }
    }
    // A form cannot send JSON: text/plain (the cross-site form trick), urlencoded, multipart or
    // no type at all are refused 415, before anything is checked.
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let headers: Vec<(&str, &str)> = content_type
            .map(|c| ("content-type", c))
            .into_iter()
            .collect();
        for body in [&wrong, &right] {
            let reply = sign_in_from(&t, operator, &headers, body.clone()).await;
            assert_eq!(
                reply.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{content_type:?}"
            );
            assert_eq!(reply.json()["error"], "invalid_request");
            assert!(reply.header("set-cookie").is_none());
        }
    }
    // None of that was a failed sign-in: not audited, not counted, no lockout.
    let records = common::audit_records(&t).await;
    assert!(
        !records
            .iter()
            .any(|r| r["action"] == "admin.auth_failed" || r["action"] == "admin.csrf_failed"),
        "{records:?}"
    );
    let metrics = text(&t.get(t.admin(), "/metrics").await);
    assert!(
        metrics.contains("issuer_admin_auth_failures_total 0"),
        "{metrics}"
    );
    // The operator's own page (same origin, JSON, charset or not) signs in from that address.
    for headers in [
        &[json_type][..],
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("origin", "http://127.0.0.1:8081"),
            ("sec-fetch-site", "same-origin"),
        ],
    ] {
        let reply = sign_in_from(&t, operator, headers, right.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{headers:?}: {}",
            text(&reply)
        );
        assert!(reply.header("set-cookie").is_some());
    }
}

#[tokio::test]
async fn signing_in_again_ends_the_session_the_browser_had() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;
    let first = sign_in(&t, &token).await;
    let other = sign_in(&t, &token).await;

    // A failed sign-in with the cookie leaves the session alone.
    let request = Request::post("/admin/session")
        .header(CONTENT_TYPE, "application/json")
        .header(HOST, "127.0.0.1:8081")
        .header(COOKIE, &first.cookie)
        .body(Body::from(json!({"credential": "wrong"}).to_string()))
        .expect("request");
    assert_eq!(
        send(t.admin(), request).await.status,
        StatusCode::UNAUTHORIZED
    );
    let still = as_browser(&t, "GET", "/admin/keys", &first, false, None).await;
    assert_eq!(still.status, StatusCode::OK);

    // Signing in again from the same browser (it sends its cookie): the old session ends.
    let request = Request::post("/admin/session")
        .header(CONTENT_TYPE, "application/json")
        .header(HOST, "127.0.0.1:8081")
        .header(
            COOKIE,
            format!("{}; issuer_admin_session=not-a-session", first.cookie),
        )
        .body(Body::from(json!({ "credential": token }).to_string()))
        .expect("request");
    let reply = send(t.admin(), request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    let set_cookie = reply.header("set-cookie").expect("set-cookie");
    let second = Browser {
        cookie: set_cookie.split(';').next().expect("pair").to_owned(),
        csrf: reply.json()["csrf"].as_str().expect("csrf").to_owned(),
    };
    assert_ne!(second.cookie, first.cookie);
    for (method, path) in [("GET", "/admin/keys"), ("GET", "/admin/session")] {
        let reply = as_browser(&t, method, path, &first, false, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let reply = as_browser(&t, "GET", "/admin/keys", &second, false, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    // Another browser's session is not this browser's to end.
    let reply = as_browser(&t, "GET", "/admin/keys", &other, false, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(t.state.sessions.len(), 2);

    // The sign-in's record names the session it replaced.
    let records = common::audit_records(&t).await;
    let created: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "admin.session.created")
        .collect();
    assert_eq!(created.len(), 3);
    assert!(created[0]["detail"].get("replaced").is_none());
    let replaced = &created[2]["detail"]["replaced"];
    assert_eq!(replaced.as_array().map(Vec::len), Some(1), "{replaced}");
    assert_eq!(replaced[0], created[0]["detail"]["session"]);
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_and_the_session_can_be_recovered() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;
    let id = credential_id(&t).await;

    let reply = sign_in_reply(&t, &json!({ "credential": token }).to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["actor"], format!("admin:{id}"));
    assert_eq!(body["expires_at"], START + 8 * 3600);
    let csrf = body["csrf"].as_str().expect("csrf").to_owned();
    assert_eq!(csrf.len(), 43);
    assert_eq!(common::keys_of(&body), ["actor", "csrf", "expires_at"]);

    let set_cookie = reply.header("set-cookie").expect("set-cookie");
    let mut parts = set_cookie.split("; ");
    let pair = parts.next().expect("pair");
    let value = pair
        .strip_prefix("issuer_admin_session=")
        .expect("cookie name");
    assert_eq!(value.len(), 43);
    assert!(
        value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let attributes: Vec<&str> = parts.collect();
    for expected in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/admin",
        "Max-Age=28800",
    ] {
        assert!(attributes.contains(&expected), "{set_cookie}");
    }
    // Only the API gets it: not the UI's files, nor anything else this host name serves.
    assert_eq!(
        attributes.iter().filter(|a| a.starts_with("Path=")).count(),
        1,
        "{set_cookie}"
    );
    assert!(
        !set_cookie.to_ascii_lowercase().contains("secure"),
        "plain HTTP admin port: {set_cookie}"
    );
    let browser = Browser {
        cookie: pair.to_owned(),
        csrf: csrf.clone(),
    };

    // A reloaded page gets the same token back with the cookie alone.
    let current = as_browser(&t, "GET", "/admin/session", &browser, false, None).await;
    assert_eq!(current.status, StatusCode::OK);
    assert_eq!(current.json(), body);

    // Without a session: 401 unauthorized, neither audited nor counted (every signed-out page
    // load asks).
    let before = common::audit_records(&t).await.len();
    for cookie in [None, Some("issuer_admin_session=unknown"), Some("other=1")] {
        let mut request = Request::get("/admin/session");
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        let reply = send(t.admin(), request.body(Body::empty()).expect("request")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{cookie:?}");
        assert_eq!(reply.json()["error"], "unauthorized", "{cookie:?}");
    }
    let records = common::audit_records(&t).await;
    assert_eq!(records.len(), before);

    // The sign-in is audited, without the cookie or the CSRF token.
    let created = records
        .iter()
        .find(|r| r["action"] == "admin.session.created")
        .expect("audited");
    assert_eq!(created["actor"], format!("admin:{id}"));
    assert_eq!(created["outcome"], "success");
    let trail = serde_json::to_string(&records).unwrap_or_default();
    assert!(!trail.contains(value) && !trail.contains(&csrf) && !trail.contains(&token));

    // Reads need no CSRF token; the actor of changes is the credential.
    let clients = as_browser(&t, "GET", "/admin/clients", &browser, false, None).await;
    assert_eq!(clients.status, StatusCode::OK);
}

#[tokio::test]
async fn state_changes_with_a_session_need_the_csrf_token_and_the_same_origin() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;
    let id = credential_id(&t).await;
    let browser = sign_in(&t, &token).await;
    let new_client = json!({"client_id": "svc.ui", "scope": "read"});

    // No token, a wrong one, an empty one: 403 csrf_failed, and nothing changed.
    for csrf in [None, Some("wrong"), Some("")] {
        let request = browser_request(
            "POST",
            "/admin/clients",
            &browser.cookie,
            csrf,
            Some(&new_client),
        );
        let reply = send(
            t.admin(),
            request
                .body(Body::from(new_client.to_string()))
                .expect("request"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert_eq!(reply.json()["error"], "csrf_failed", "{csrf:?}");
        assert!(reply.json()["error_description"].is_string());
    }
    let listed = t
        .admin_call("GET", "/admin/clients", Some(&token), None)
        .await
        .json();
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(0),
        "nothing was created"
    );

    // Another origin, even with the token.
    for origin in ["http://evil.example", "null", "http://127.0.0.1:9999"] {
        let request = browser_request(
            "POST",
            "/admin/clients",
            &browser.cookie,
            Some(&browser.csrf),
            Some(&new_client),
        )
        .header(ORIGIN, origin);
        let reply = send(
            t.admin(),
            request
                .body(Body::from(new_client.to_string()))
                .expect("request"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{origin}");
        assert_eq!(reply.json()["error"], "csrf_failed");
    }
    let listed = t
        .admin_call("GET", "/admin/clients", Some(&token), None)
        .await
        .json();
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(0),
        "nothing was created"
    );

    // With the token from this origin: done, as the credential.
    let request = browser_request(
        "POST",
        "/admin/clients",
        &browser.cookie,
        Some(&browser.csrf),
        Some(&new_client),
    )
    .header(ORIGIN, "http://127.0.0.1:8081");
    let reply = send(
        t.admin(),
        request
            .body(Body::from(new_client.to_string()))
            .expect("request"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", text(&reply));
    let records = common::audit_records(&t).await;
    let created = records
        .iter()
        .find(|r| r["action"] == "admin.client.created")
        .expect("audited");
    assert_eq!(created["actor"], format!("admin:{id}"));

    // The refusals were audited, as the session's credential.
    let refusals: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "admin.csrf_failed")
        .collect();
    assert_eq!(refusals.len(), 6);
    assert!(refusals.iter().all(|r| r["actor"] == format!("admin:{id}")));
    let reasons: Vec<&str> = refusals
        .iter()
        .filter_map(|r| r["detail"]["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        [
            "missing_csrf_token",
            "wrong_csrf_token",
            "wrong_csrf_token",
            "cross_origin",
            "cross_origin",
            "cross_origin"
        ]
    );

    // A bearer credential needs no CSRF token: a browser never sends one by itself.
    let reply = t
        .admin_call("POST", "/admin/clients/svc.ui/disable", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;
    let browser = sign_in(&t, &token).await;

    // Signing out is a state change: without the token it is refused and the session lives.
    let refused = as_browser(&t, "DELETE", "/admin/session", &browser, false, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["error"], "csrf_failed");
    let still = as_browser(&t, "GET", "/admin/clients", &browser, false, None).await;
    assert_eq!(still.status, StatusCode::OK);

    let out = as_browser(&t, "DELETE", "/admin/session", &browser, true, None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let expired = out.header("set-cookie").expect("set-cookie");
    assert!(expired.starts_with("issuer_admin_session=;"), "{expired}");
    assert!(expired.contains("Max-Age=0"), "{expired}");
    assert!(
        expired.contains("; Path=/admin;"),
        "the same path, or the browser keeps it: {expired}"
    );

    for (method, path) in [("GET", "/admin/clients"), ("GET", "/admin/session")] {
        let reply = as_browser(&t, method, path, &browser, true, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(reply.json()["error"], "unauthorized", "{path}");
    }
    let records = common::audit_records(&t).await;
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "admin.session.deleted")
    );

    // Signing out again (or without a session) is harmless.
    let again = as_browser(&t, "DELETE", "/admin/session", &browser, true, None).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn sessions_end_when_idle_and_after_eight_hours() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;

    let idle = sign_in(&t, &token).await;
    t.clock.advance(30 * 60);
    let reply = as_browser(&t, "GET", "/admin/keys", &idle, false, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "unauthorized");

    // Used every 20 minutes, it lasts until its absolute end.
    let busy = sign_in(&t, &token).await;
    let started = t.clock.now();
    while t.clock.now() + 20 * 60 < started + 8 * 3600 {
        t.clock.advance(20 * 60);
        let reply = as_browser(&t, "GET", "/admin/keys", &busy, false, None).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    t.clock.advance(started + 8 * 3600 - t.clock.now());
    let reply = as_browser(&t, "GET", "/admin/keys", &busy, false, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn resetting_the_credential_ends_its_sessions() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;
    let browser = sign_in(&t, &token).await;
    assert_eq!(
        as_browser(&t, "GET", "/admin/keys", &browser, false, None)
            .await
            .status,
        StatusCode::OK
    );

    // `issuer admin reset-credential` (another process, the same database).
    let (_fresh, revoked) = issuer::admin::credential::reset(&t.state.store, START)
        .await
        .expect("reset");
    assert_eq!(revoked, 1);
    let reply = as_browser(&t, "GET", "/admin/keys", &browser, false, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"], "unauthorized");
    let reply = as_browser(&t, "GET", "/admin/session", &browser, false, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let records = common::audit_records(&t).await;
    assert!(records.iter().any(
        |r| r["action"] == "admin.auth_failed" && r["detail"]["reason"] == "credential_revoked"
    ));
    // The old credential cannot sign in again either.
    let reply = sign_in_reply(&t, &json!({ "credential": token }).to_string()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

/// Verifies `token` with the verifier's own core against `jwks` (text), as a gateway would.
fn verify_as_gateway(token: &str, jwks: &str, audience: &str) -> verifier_core::Verified {
    let config = json!({
        "providers": {"local": {
            "issuer": ISSUER,
            "audiences": [audience],
            "algorithms": ["ES256"],
            "local_jwks": jwks,
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "local"}}],
    });
    let config = verifier_core::Config::parse(config.to_string().as_bytes()).expect("config");
    let provider = &config.providers["local"];
    let keys = verifier_core::Jwks::parse(jwks.as_bytes()).expect("jwks");
    verifier_core::verify(token, provider, &keys, START).expect("the token verifies")
}

#[tokio::test]
async fn an_admin_has_a_client_issued_a_token_that_gateways_accept() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;
    let id = credential_id(&t).await;
    t.client_with("svc.orders", "read write", "orders", 600)
        .await;

    let reply = t
        .admin_call(
            "POST",
            "/admin/clients/svc.orders/token",
            Some(&token),
            Some(&json!({})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(
        common::keys_of(&body),
        ["access_token", "expires_in", "scope", "token_type"]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "read write");
    let access_token = body["access_token"].as_str().expect("token").to_owned();

    // The mirror of the JWKS is the public document, byte for byte; the token verifies with it.
    let jwks = t.admin_call("GET", "/admin/jwks", Some(&token), None).await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert!(
        jwks.header("content-type")
            .unwrap_or_default()
            .starts_with("application/json")
    );
    let public = t.get(t.public(), "/.well-known/jwks.json").await;
    assert_eq!(jwks.body, public.body);
    let verified = verify_as_gateway(&access_token, &text(&jwks), "orders");
    assert_eq!(verified.claims.sub.as_deref(), Some("svc.orders"));
    assert_eq!(verified.claims.client_id.as_deref(), Some("svc.orders"));
    assert_eq!(verified.claims.scope.as_deref(), Some("read write"));
    assert_eq!(verified.claims.iss.as_deref(), Some(ISSUER));
    assert_eq!(verified.claims.exp, (START + 600) as f64);
    // The same claims a client credentials grant gives.
    assert_eq!(
        common::keys_of(&common::segment(&access_token, 1)),
        [
            "aud",
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "scope",
            "sub",
            "sub_profile"
        ]
    );
    assert_eq!(common::segment(&access_token, 0)["typ"], "at+jwt");

    // Narrowed on request, never widened.
    let narrowed = t
        .admin_call(
            "POST",
            "/admin/clients/svc.orders/token",
            Some(&token),
            Some(&json!({"scope": "read"})),
        )
        .await;
    assert_eq!(narrowed.json()["scope"], "read");
    let empty_body = t
        .admin_call(
            "POST",
            "/admin/clients/svc.orders/token",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(empty_body.status, StatusCode::OK, "an empty body is {{}}");
    for scope in ["admin", "read admin", ""] {
        let reply = t
            .admin_call(
                "POST",
                "/admin/clients/svc.orders/token",
                Some(&token),
                Some(&json!({ "scope": scope })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{scope}");
        assert_eq!(reply.json()["error"], "invalid_scope", "{scope}");
    }
    let unknown_field = t
        .admin_call(
            "POST",
            "/admin/clients/svc.orders/token",
            Some(&token),
            Some(&json!({"ttl": 5})),
        )
        .await;
    assert_eq!(unknown_field.json()["error"], "invalid_request");

    // Unknown and disabled clients get none.
    let unknown = t
        .admin_call(
            "POST",
            "/admin/clients/svc.nobody/token",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"], "not_found");
    t.admin_call(
        "POST",
        "/admin/clients/svc.orders/disable",
        Some(&token),
        None,
    )
    .await;
    let disabled = t
        .admin_call(
            "POST",
            "/admin/clients/svc.orders/token",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(disabled.status, StatusCode::CONFLICT);
    assert_eq!(disabled.json()["error"], "client_disabled");

    // Audited as the operator's action, with the jti and never the token.
    let records = common::audit_records(&t).await;
    let issued: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "admin.client.token_issued")
        .collect();
    let jti = common::segment(&access_token, 1)["jti"].clone();
    let first = issued.first().expect("audited");
    assert_eq!(first["actor"], format!("admin:{id}"));
    assert_eq!(first["target"], "svc.orders");
    assert_eq!(first["outcome"], "success");
    assert_eq!(first["detail"]["jti"], jti);
    assert_eq!(first["detail"]["aud"], "orders");
    assert!(
        issued
            .iter()
            .any(|r| r["outcome"] == "failure" && r["detail"]["error"] == "client_disabled")
    );
    assert!(
        issued
            .iter()
            .any(|r| r["detail"]["error"] == "invalid_scope")
    );
    let trail = serde_json::to_string(&records).unwrap_or_default();
    assert!(!trail.contains(&access_token));
    // Counted with the tokens the token endpoint issues.
    let metrics = text(&t.get(t.admin(), "/metrics").await);
    assert!(
        metrics.contains("issuer_tokens_issued_total 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_ui_can_have_a_token_issued_through_its_session() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;
    t.client("svc.ui", "read").await;
    let browser = sign_in(&t, &token).await;
    let refused = as_browser(
        &t,
        "POST",
        "/admin/clients/svc.ui/token",
        &browser,
        false,
        Some(&json!({})),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let reply = as_browser(
        &t,
        "POST",
        "/admin/clients/svc.ui/token",
        &browser,
        true,
        Some(&json!({})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", text(&reply));
    let jwks = as_browser(&t, "GET", "/admin/jwks", &browser, false, None).await;
    let access_token = reply.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let verified = verify_as_gateway(&access_token, &text(&jwks), "quantjourney");
    assert_eq!(verified.claims.sub.as_deref(), Some("svc.ui"));
}

#[tokio::test]
async fn the_revocation_feed_and_gateway_configuration_are_mirrored() {
    let mut t = TestIssuer::new().await;
    let token = t.admin_token().await;
    t.client("svc.a", "read").await;
    t.admin_call(
        "POST",
        "/admin/clients/svc.a/revoke-tokens",
        Some(&token),
        None,
    )
    .await;
    let mirrored = t
        .admin_call("GET", "/admin/revocation-feed", Some(&token), None)
        .await;
    assert_eq!(mirrored.status, StatusCode::OK);
    let public = t.get(t.public(), "/oauth/revocations").await;
    assert_eq!(mirrored.body, public.body);
    assert_eq!(mirrored.json()["clients"][0]["client_id"], "svc.a");

    let none = t
        .admin_call("GET", "/admin/gateway-config", Some(&token), None)
        .await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(
        none.json(),
        json!({"config": null, "source": null, "issuer": ISSUER})
    );

    let document = json!({
        "providers": {"local": {
            "issuer": ISSUER,
            "audiences": ["quantjourney"],
            "algorithms": ["ES256"],
            "remote_jwks": {"cluster": "issuer", "path": "/.well-known/jwks.json"},
        }},
        "rules": [
            {"match": {"prefix": "/health"}, "public": true},
            {"match": {"prefix": "/"}, "requires": {"provider": "local", "scopes": ["read"]}},
        ],
    });
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("gateway.json");
    std::fs::write(&path, document.to_string()).expect("write");
    let loaded = GatewayConfig::load(&path).expect("valid");
    t.state = t.state.clone().with_ui(UiResources {
        verifier: None,
        gateway_config: Some(loaded),
    });
    let reply = t
        .admin_call("GET", "/admin/gateway-config", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"config": document, "source": path.display().to_string(), "issuer": ISSUER})
    );
    // The issuer named there is the one the mirrored feed is for.
    assert_eq!(mirrored.json()["iss"], reply.json()["issuer"]);

    // All of them need the credential.
    for path in [
        "/admin/jwks",
        "/admin/revocation-feed",
        "/admin/gateway-config",
        "/admin/audit/chain",
    ] {
        let reply = t.admin_call("GET", path, None, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

async fn record(t: &TestIssuer, actor: &str, action: &'static str, target: &str, outcome: Outcome) {
    t.state
        .audit
        .record(AuditEvent {
            actor: actor.to_owned(),
            action,
            target: target.to_owned(),
            source: "local".to_owned(),
            outcome,
            detail: json!({}),
        })
        .await
        .expect("record");
}

fn seqs(reply: &Reply) -> Vec<i64> {
    reply.json()["records"]
        .as_array()
        .map(|records| records.iter().filter_map(|r| r["seq"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_audit_trail_pages_newest_first_with_filters() {
    let t = TestIssuer::new().await;
    let token = t.admin_token().await;
    let base = common::audit_records(&t)
        .await
        .last()
        .and_then(|r| r["seq"].as_i64())
        .unwrap_or(0);
    record(&t, "cli", "client.created", "svc.Alpha", Outcome::Success).await;
    record(&t, "svc.beta", "token.issued", "jti-1", Outcome::Success).await;
    record(
        &t,
        "anonymous",
        "admin.auth_failed",
        "/admin/keys",
        Outcome::Failure,
    )
    .await;
    record(
        &t,
        "admin:x",
        "admin.client.disabled",
        "svc.alpha",
        Outcome::Success,
    )
    .await;
    record(
        &t,
        "cli",
        "client.created",
        "svc.100%_sure",
        Outcome::Failure,
    )
    .await;
    let t = &t;
    let get = |query: &str| {
        let path = format!("/admin/audit?{query}");
        let token = token.clone();
        async move { t.admin_call("GET", &path, Some(&token), None).await }
    };

    // Newest first, paging backwards until next_before is null.
    let all = get("order=desc&limit=1000").await;
    assert_eq!(all.status, StatusCode::OK, "{}", text(&all));
    assert_eq!(all.json()["next_before"], Value::Null);
    let newest = seqs(&all);
    assert!(newest.windows(2).all(|w| w[0] > w[1]), "{newest:?}");
    assert_eq!(newest[0], base + 5);
    let mut paged = Vec::new();
    let mut query = "order=desc&limit=2".to_owned();
    loop {
        let page = get(&query).await;
        assert!(seqs(&page).len() <= 2);
        paged.extend(seqs(&page));
        match page.json()["next_before"].as_i64() {
            Some(before) => query = format!("order=desc&limit=2&before={before}"),
            None => break,
        }
    }
    assert_eq!(paged, newest);
    assert_eq!(common::keys_of(&all.json()), ["next_before", "records"]);
    assert_eq!(
        all.json()["records"][0]["hash"].as_str().map(str::len),
        Some(64)
    );

    // Filters: q (case-insensitive, in action, actor, target or source), outcome, action prefix.
    let q = get("order=desc&q=ALPHA").await;
    assert_eq!(seqs(&q), [base + 4, base + 1]);
    assert_eq!(seqs(&get("order=desc&q=beta").await), [base + 2]);
    assert_eq!(seqs(&get("order=desc&q=%2Fadmin%2Fkeys").await), [base + 3]);
    // `%` and `_` are literal, not wildcards.
    assert_eq!(seqs(&get("order=desc&q=100%25_").await), [base + 5]);
    assert_eq!(seqs(&get("order=desc&q=0%25_s").await), [base + 5]);
    assert!(seqs(&get("order=desc&q=a%25a").await).is_empty());
    assert_eq!(
        seqs(&get("order=desc&outcome=failure").await),
        [base + 5, base + 3]
    );
    assert_eq!(
        seqs(&get("order=desc&action=admin.").await)
            .into_iter()
            .filter(|s| *s > base)
            .collect::<Vec<_>>(),
        [base + 4, base + 3]
    );
    assert_eq!(
        seqs(&get("order=desc&action=client.&outcome=success&q=alpha").await),
        [base + 1]
    );
    assert_eq!(seqs(&get("order=desc&q=&outcome=&action=").await), newest);
    // A filtered page that is full says where the next one starts.
    let page = get("order=desc&q=alpha&limit=1").await;
    assert_eq!(seqs(&page), [base + 4]);
    assert_eq!(page.json()["next_before"], base + 4);
    assert_eq!(
        seqs(&get(&format!("order=desc&q=alpha&limit=1&before={}", base + 4)).await),
        [base + 1]
    );

    // Without `order`, as before: oldest first with next_after; filters apply too.
    let asc = get(&format!("after={base}&limit=2")).await;
    assert_eq!(seqs(&asc), [base + 1, base + 2]);
    assert_eq!(asc.json()["next_after"], base + 2);
    assert_eq!(common::keys_of(&asc.json()), ["next_after", "records"]);
    assert_eq!(
        seqs(&get(&format!("after={base}&q=alpha")).await),
        [base + 1, base + 4]
    );

    for bad in [
        "order=sideways",
        "outcome=maybe",
        "before=3",
        "order=asc&before=3",
        "order=desc&after=3",
        "order=desc&before=-1",
        "order=desc&limit=0",
    ] {
        let reply = get(bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.json()["error"], "invalid_request", "{bad}");
    }
    let long = "x".repeat(257);
    assert_eq!(
        get(&format!("order=desc&q={long}")).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn the_chain_check_reports_intact_and_then_where_it_broke() {
    use sqlx::Connection;

    let t = TestIssuer::new().await;
    let token = t.admin_token().await;
    for i in 0..3 {
        record(
            &t,
            "cli",
            "client.created",
            &format!("svc.{i}"),
            Outcome::Success,
        )
        .await;
    }
    let records = common::audit_records(&t).await;
    let chain = t
        .admin_call("GET", "/admin/audit/chain", Some(&token), None)
        .await;
    assert_eq!(chain.status, StatusCode::OK, "{}", text(&chain));
    let body = chain.json();
    assert_eq!(body["status"], "intact");
    assert_eq!(body["records"], records.len());
    assert_eq!(body["head"], records.last().expect("records")["hash"]);
    assert_eq!(body["problem"], Value::Null);
    assert_eq!(body["broken_at"], Value::Null);

    // Someone with database access edits record 2.
    let mut conn = sqlx::AnyConnection::connect(&t.url).await.expect("connect");
    let drops: &[&str] = match t.state.store.backend() {
        issuer::store::Backend::Sqlite => &["DROP TRIGGER audit_log_append_only_update"],
        issuer::store::Backend::Postgres => &["DROP TRIGGER audit_log_append_only ON audit_log"],
    };
    for sql in drops {
        sqlx::query(sql)
            .execute(&mut conn)
            .await
            .expect("drop trigger");
    }
    sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
        .execute(&mut conn)
        .await
        .expect("tamper");
    conn.close().await.ok();
    let body = t
        .admin_call("GET", "/admin/audit/chain", Some(&token), None)
        .await
        .json();
    assert_eq!(body["status"], "broken");
    assert_eq!(body["broken_at"], 2);
    assert_eq!(body["records"], 1);
    assert_eq!(body["head"], records[0]["hash"]);
    assert_eq!(body["reason"], "hash_mismatch");
    assert!(
        body["problem"]
            .as_str()
            .is_some_and(|p| p.contains("altered"))
    );
}

/// `issuer serve` with both new flags: the package and the configuration are read at start-up
/// and served; a configuration the filter would refuse stops it, naming the field.
#[test]
fn serve_reads_the_verifier_package_and_gateway_configuration_at_start_up() {
    const BIN: &str = env!("CARGO_BIN_EXE_issuer");
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}/issuer.db", dir.path().display());
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"providers": {"local": {"issuer": "http://i", "audiences": ["a"],
            "algorithms": ["ES256"], "remote_jwks": {"cluster": "c", "path": "/j"}}},
            "rules": [{"match": {"prefix": 5}, "requires": {"provider": "local"}}]}"#,
    )
    .expect("write");
    let refused = Command::new(BIN)
        .args([
            "serve",
            "--public-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
        ])
        .env("DATABASE_URL", &db)
        .env("ISSUER_GATEWAY_CONFIG", &bad)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("rules[0].match.prefix"), "{stderr}");
    assert!(stderr.contains("bad.json"), "{stderr}");

    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--verifier-js-dir",
        "ISSUER_VERIFIER_JS_DIR",
        "--gateway-config",
        "ISSUER_GATEWAY_CONFIG",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }

    let package = dir.path().join("js");
    std::fs::create_dir(&package).expect("mkdir");
    std::fs::write(package.join("verifier_bg.wasm"), b"\0asm").expect("write");
    std::fs::write(package.join("verifier.js"), b"export {}").expect("write");
    let good = dir.path().join("gateway.json");
    let document = json!({
        "providers": {"local": {"issuer": "http://i", "audiences": ["a"], "algorithms": ["ES256"],
            "remote_jwks": {"cluster": "c", "path": "/j"}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "local"}}],
    });
    std::fs::write(&good, document.to_string()).expect("write");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--public-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
        ])
        .arg("--verifier-js-dir")
        .arg(&package)
        .arg("--gateway-config")
        .arg(&good)
        .env("DATABASE_URL", &db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut credential = String::new();
    let mut admin = String::new();
    for line in lines.by_ref() {
        let line: Value = serde_json::from_str(&line.expect("line")).expect("json line");
        match line["event"].as_str() {
            Some("admin_credential") => {
                credential = line["token"].as_str().unwrap_or_default().to_owned()
            }
            Some("listening") => {
                admin = line["admin"].as_str().unwrap_or_default().to_owned();
                break;
            }
            _ => {}
        }
    }
    let result = std::panic::catch_unwind(|| {
        let (status, head, body) = http_get(&admin, "/ui/verifier/verifier_bg.wasm", None);
        assert_eq!(status, 200);
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/wasm"),
            "{head}"
        );
        assert_eq!(body, b"\0asm");
        let (status, _, body) = http_get(&admin, "/admin/gateway-config", Some(&credential));
        assert_eq!(status, 200);
        let body: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["config"], document);
        assert_eq!(body["source"], good.display().to_string());
    });
    child.kill().ok();
    child.wait().ok();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// A raw HTTP/1.1 GET: status, head and body.
fn http_get(addr: &str, path: &str, bearer: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let auth = bearer.map_or(String::new(), |token| {
        format!("Authorization: Bearer {token}\r\n")
    });
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, head, response[split + 4..].to_vec())
}
