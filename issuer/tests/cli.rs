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
        &["client", "create", "..", "--scope", "read"],
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
    // On an empty database the first keys are made, then a fresh one signs at once.
    let first = json_stdout(&issuer(&db, &["keys", "rotate", "--emergency"]));
    assert_eq!(first["alg"], "ES256");
    assert_eq!(first["status"], "current");

    // A planned rotation waits until the next key has been published for a JWKS max-age.
    let early = Command::new(BIN)
        .args(["keys", "rotate", "--database-url", &db])
        .output()
        .expect("run issuer");
    assert!(!early.status.success());
    let stderr = String::from_utf8_lossy(&early.stderr);
    assert!(stderr.contains("next key is not ready"), "{stderr}");

    let second = json_stdout(&issuer(
        &db,
        &["keys", "rotate", "--emergency", "--signing-alg", "EdDSA"],
    ));
    assert_eq!(second["alg"], "EdDSA");
    assert_eq!(second["status"], "current");

    let listed = json_stdout(&issuer(&db, &["keys", "list", "--json"]));
    let listed = listed.as_array().cloned().unwrap_or_default();
    let statuses: Vec<_> = listed.iter().map(|k| k["status"].clone()).collect();
    assert_eq!(statuses, ["current", "next", "retired", "retired"]);
    assert_eq!(listed[0]["kid"], second["kid"]);
    assert_eq!(listed[0]["alg"], "EdDSA");
    assert!(
        listed
            .iter()
            .any(|k| k["kid"] == first["kid"] && k["status"] == "retired")
    );
    assert!(listed[1]["created_at"].is_u64());

    let table = issuer(&db, &["keys", "list"]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(second["kid"].as_str().unwrap_or("missing")),
        "{text}"
    );
}

#[test]
fn a_rotation_refused_for_contradictory_settings_is_recorded() {
    let (_dir, db) = temp_db();
    let refused = Command::new(BIN)
        .args(["keys", "rotate", "--emergency", "--database-url", &db])
        .args(["--key-rotation-period", "60", "--jwks-max-age", "300"])
        .output()
        .expect("run issuer");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("at least the JWKS max-age"), "{stderr}");
    let tail = issuer(&db, &["audit", "tail", "--json"]);
    assert!(tail.status.success());
    let records: Vec<Value> = String::from_utf8_lossy(&tail.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON record per line"))
        .collect();
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "key.rotated" && r["outcome"] == "failure"),
        "{records:?}"
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
    let mut stdout = BufReader::new(stdout);
    // A first start on an empty database shows the admin credential once, before it listens.
    let mut line = String::new();
    stdout.read_line(&mut line).expect("credential line");
    let credential: Value = serde_json::from_str(&line).expect("credential JSON");
    assert_eq!(credential["event"], "admin_credential", "{line}");
    assert_eq!(
        credential["token"].as_str().map(str::len),
        Some(43),
        "{line}"
    );
    let mut line = String::new();
    stdout.read_line(&mut line).expect("announce line");
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

#[test]
fn private_keys_are_encrypted_at_rest_and_a_different_master_key_is_refused() {
    let (dir, db) = temp_db();
    let key_a = "a".repeat(64);
    let with_key = |key: Option<&str>, args: &[&str]| {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("DATABASE_URL", &db)
            .env_remove("ISSUER_SIGNING_ALG")
            .env_remove("ISSUER_MASTER_KEY_FILE")
            .env("RUST_LOG", "warn");
        match key {
            Some(key) => command.env("ISSUER_MASTER_KEY", key),
            None => command.env_remove("ISSUER_MASTER_KEY"),
        };
        command.output().expect("run issuer")
    };
    json_stdout(&with_key(Some(&key_a), &["keys", "rotate", "--emergency"]));

    // The rows name AES-GCM, and no private key is stored as a plain PKCS#8 document. What the
    // last command wrote may still be in the write-ahead log rather than the main file: read both.
    let file = dir.path().join("nested/dir/issuer.db");
    let mut bytes = std::fs::read(&file).expect("database file");
    if let Ok(wal) = std::fs::read(dir.path().join("nested/dir/issuer.db-wal")) {
        bytes.extend(wal);
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("aes-256-gcm-v1"),
        "keys are sealed with AES-256-GCM"
    );
    assert!(!text.contains("plaintext"), "no key is left unsealed");

    // Another master key (or none, which would mean a fresh development key) cannot touch them.
    for key in [Some("b".repeat(64)), None] {
        let refused = with_key(key.as_deref(), &["keys", "rotate", "--emergency"]);
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("not the one the signing keys"), "{stderr}");
        assert!(
            !stderr.contains(&"b".repeat(64)),
            "the key is never printed"
        );
    }
    json_stdout(&with_key(Some(&key_a), &["keys", "rotate", "--emergency"]));
}

#[test]
fn without_a_master_key_a_private_development_key_is_made_with_a_warning() {
    let (dir, db) = temp_db();
    let output = Command::new(BIN)
        .args(["keys", "rotate", "--emergency"])
        .env("DATABASE_URL", &db)
        .env_remove("ISSUER_MASTER_KEY")
        .env_remove("ISSUER_MASTER_KEY_FILE")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run issuer");
    json_stdout(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DEVELOPMENT MASTER KEY"), "{stderr}");
    let key_file = dir.path().join("nested/dir/master.key");
    let mode =
        std::os::unix::fs::MetadataExt::mode(&std::fs::metadata(&key_file).expect("key file"));
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn client_create_registers_agents_with_kind_agent() {
    let (_dir, db) = temp_db();
    let service = json_stdout(&issuer(
        &db,
        &["client", "create", "svc.k", "--scope", "read"],
    ));
    assert_eq!(service["kind"], "service", "the default");
    let agent = json_stdout(&issuer(
        &db,
        &[
            "client", "create", "agent.k", "--kind", "agent", "--scope", "read",
        ],
    ));
    assert_eq!(agent["kind"], "agent");
    assert_eq!(agent["client_id"], "agent.k");
    let refused = issuer(
        &db,
        &[
            "client", "create", "robot.k", "--kind", "robot", "--scope", "read",
        ],
    );
    assert!(!refused.status.success());
    assert!(refused.stdout.is_empty());
    for depth in ["0", "11", "x"] {
        let output = issuer(&db, &["serve", "--max-delegation-depth", depth]);
        assert!(!output.status.success(), "--max-delegation-depth {depth}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("max-delegation-depth"), "{stderr}");
    }
}

/// A `POST /oauth/token` with `client_secret_post`: the status and the JSON answer.
fn token_request(addr: &str, client: (&str, &str), form: &str) -> (u16, Value) {
    let form = format!("client_id={}&client_secret={}&{form}", client.0, client.1);
    let request = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    let (status, body) = http(addr, &request);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn serve_limits_delegation_chains_to_max_delegation_depth() {
    let (_dir, db) = temp_db();
    let secret = |created: Value| {
        created["client_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let svc = secret(json_stdout(&issuer(
        &db,
        &["client", "create", "svc.e2e", "--scope", "read"],
    )));
    let mut agents = Vec::new();
    for id in ["agent.one", "agent.two", "agent.three"] {
        let created = json_stdout(&issuer(
            &db,
            &["client", "create", id, "--kind", "agent", "--scope", "read"],
        ));
        agents.push((id, secret(created)));
    }
    let child = Command::new(BIN)
        .args([
            "serve",
            "--public-addr",
            "127.0.0.1:0",
            "--admin-addr",
            "127.0.0.1:0",
            "--max-delegation-depth",
            "2",
        ])
        .env("DATABASE_URL", &db)
        .env_remove("ISSUER_URL")
        .env_remove("ISSUER_SIGNING_ALG")
        .env_remove("ISSUER_MAX_DELEGATION_DEPTH")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut server = Server(child);
    let mut stdout = BufReader::new(server.0.stdout.take().expect("stdout"));
    let public = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("line") > 0,
            "no listening line"
        );
        let event: Value = serde_json::from_str(&line).expect("JSON line");
        if event["event"] == "listening" {
            break event["public"].as_str().unwrap_or_default().to_owned();
        }
    };

    let (status, body) = token_request(&public, ("svc.e2e", &svc), "grant_type=client_credentials");
    assert_eq!(status, 200, "{body}");
    let mut subject = body["access_token"].as_str().unwrap_or_default().to_owned();
    for (hop, (id, secret)) in agents.iter().enumerate() {
        let form = format!(
            "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token={subject}\
             &subject_token_type=urn:ietf:params:oauth:token-type:access_token"
        );
        let (status, body) = token_request(&public, (id, secret), &form);
        if hop < 2 {
            assert_eq!(status, 200, "hop {}: {body}", hop + 1);
            assert_eq!(
                body["issued_token_type"],
                "urn:ietf:params:oauth:token-type:access_token"
            );
            subject = body["access_token"].as_str().unwrap_or_default().to_owned();
        } else {
            assert_eq!(status, 400, "a third hop: {body}");
            assert_eq!(body["error"], "invalid_grant", "{body}");
            assert!(body.get("access_token").is_none());
        }
    }
    drop(server);

    let tail = issuer(&db, &["audit", "tail", "--json", "-n", "50"]);
    let records: Vec<Value> = String::from_utf8_lossy(&tail.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|r: &Value| r["action"] == "token.exchanged")
        .collect();
    let outcomes: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap_or_default(),
                r["detail"]["code"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("success", "-"),
            ("success", "-"),
            ("failure", "delegation_too_deep")
        ]
    );
}
