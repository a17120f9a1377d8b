//! The built binary: `client create`, `keys rotate|list`, and `serve` with its announce line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_issuer");

fn issuer(db: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db)
        .env_remove("ISSUER_SIGNING_ALG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run issuer")
}

fn json_stdout(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON value on stdout")
}

fn temp_db() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/nested/dir/issuer.db", dir.path().display());
    (dir, url)
}

/// A raw HTTP/1.1 exchange, so the test needs no HTTP client crate.
fn http(addr: &str, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[test]
fn client_create_prints_json_and_never_overwrites() {
    let (_dir, db) = temp_db();
    let created = json_stdout(&issuer(
        &db,
        &[
            "client",
            "create",
            "svc.warehouse",
            "--scope",
            "instruments:read instruments:write",
        ],
    ));
    assert_eq!(created["client_id"], "svc.warehouse");
    assert_eq!(created["scope"], "instruments:read instruments:write");
    assert_eq!(created["audience"], "quantjourney");
    assert_eq!(created["ttl"], 300);
    let secret = created["client_secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(secret.len(), 43, "256 bits, base64url without padding");

    let again = issuer(
        &db,
        &[
            "client",
            "create",
            "svc.warehouse",
            "--scope",
            "admin",
            "--ttl",
            "60",
        ],
    );
    assert!(!again.status.success());
    assert!(again.stdout.is_empty(), "no secret printed on failure");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");

    // The original registration is untouched.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = issuer::Store::open(&db).await.expect("store");
        let hasher = issuer::clients::SecretHasher::load(&store)
            .await
            .expect("hasher");
        let client = issuer::clients::authenticate(&store, &hasher, "svc.warehouse", &secret)
            .await
            .expect("authenticate")
            .expect("the original secret still works");
        assert_eq!(
            client.scope.to_string(),
            "instruments:read instruments:write"
        );
        assert_eq!(client.ttl.secs(), 300);
        store.close().await;
    });
}

#[test]
fn client_create_validates_its_arguments() {
    let (_dir, db) = temp_db();
    for args in [
        &["client", "create", "bad id", "--scope", "read"][..],
        &["client", "create", "svc.a", "--scope", "  "],
        &["client", "create", "svc.a", "--scope", "re\"ad"],
        &["client", "create", "svc.a", "--scope", "read", "--ttl", "0"],
        &[
            "client", "create", "svc.a", "--scope", "read", "--ttl", "86401",
        ],
        &["client", "create", "svc.a"],
    ] {
        let output = issuer(&db, args);
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    let ok = json_stdout(&issuer(
        &db,
        &[
            "client",
            "create",
            "svc.a",
            "--scope",
            "read",
            "--ttl",
            "86400",
            "--audience",
            "orders",
        ],
    ));
    assert_eq!(ok["ttl"], 86_400);
    assert_eq!(ok["audience"], "orders");
}

#[test]
fn keys_rotate_and_list() {
    let (_dir, db) = temp_db();
    let first = json_stdout(&issuer(&db, &["keys", "rotate"]));
    assert_eq!(first["alg"], "ES256");
    let second = json_stdout(&issuer(&db, &["keys", "rotate", "--signing-alg", "EdDSA"]));
    assert_eq!(second["alg"], "EdDSA");
    assert_eq!(second["status"], "current");

    let listed = json_stdout(&issuer(&db, &["keys", "list", "--json"]));
    let listed = listed.as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["kid"], second["kid"]);
    assert_eq!(listed[0]["alg"], "EdDSA");
    assert_eq!(listed[0]["status"], "current");
    assert_eq!(listed[1]["kid"], first["kid"]);
    assert_eq!(listed[1]["status"], "retired");
    assert!(listed[1]["created_at"].is_u64());

    let table = issuer(&db, &["keys", "list"]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(second["kid"].as_str().unwrap_or("missing")),
        "{text}"
    );
}

/// Kills the server if the test fails before shutting it down.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_announces_real_ports_issues_tokens_and_stops_on_sigterm() {
    let (_dir, db) = temp_db();
    let created = json_stdout(&issuer(
        &db,
        &["client", "create", "svc.e2e", "--scope", "read"],
    ));
    let secret = created["client_secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let child = Command::new(BIN)
        .args([
            "serve",
            "--public-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
        ])
        .env("DATABASE_URL", &db)
        .env_remove("ISSUER_URL")
        .env_remove("ISSUER_SIGNING_ALG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut server = Server(child);
    let stdout = server.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("announce line");
    let announced: Value = serde_json::from_str(&line).expect("announce JSON");
    let mut names: Vec<&String> = announced
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    names.sort();
    assert_eq!(names, ["admin", "event", "public"]);
    assert_eq!(announced["event"], "listening");
    let public = announced["public"].as_str().unwrap_or_default().to_owned();
    let admin = announced["admin"].as_str().unwrap_or_default().to_owned();
    assert!(!public.ends_with(":0") && !admin.ends_with(":0"), "{line}");
    assert_ne!(public, admin);

    let (status, body) = http(
        &admin,
        "GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");

    let form = format!("grant_type=client_credentials&client_id=svc.e2e&client_secret={secret}");
    let request = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    let (status, body) = http(&public, &request);
    assert_eq!(status, 200, "{body}");
    let token: Value = serde_json::from_str(&body).expect("token JSON");
    let jwt = token["access_token"].as_str().unwrap_or_default();
    let payload = jwt.split('.').nth(1).unwrap_or_default();
    use base64::Engine;
    let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null);
    assert_eq!(
        claims["iss"],
        format!("http://{public}"),
        "default issuer URL uses the bound port"
    );

    let pid = server.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}
