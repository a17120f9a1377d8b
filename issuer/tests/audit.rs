//! The audit trail: what gets recorded, that the hash chain holds under concurrency and
//! restarts, and that tampering is found at the right record. Runs on SQLite and, with
//! `ISSUER_TEST_BACKEND=postgres`, on PostgreSQL.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{TestIssuer, segment};
use issuer::Store;
use issuer::audit::{self, Audit, AuditError, AuditEvent, AuditRecord, BreakReason, Outcome};
use issuer::clock::ManualClock;
use issuer::keys::SigningAlg;
use issuer::store::Backend;
use sqlx::{AnyConnection, Connection};

const BIN: &str = env!("CARGO_BIN_EXE_issuer");

fn event(actor: &str, action: &'static str, target: &str) -> AuditEvent {
    AuditEvent {
        actor: actor.to_owned(),
        action,
        target: target.to_owned(),
        source: "local".to_owned(),
        outcome: Outcome::Success,
        detail: serde_json::json!({"n": target}),
    }
}

/// Every record, oldest first, read a page at a time.
async fn all_records(store: &Store) -> Vec<AuditRecord> {
    let mut records = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit_page(after, 500).await.expect("page");
        let Some(last) = page.last() else {
            return records;
        };
        after = last.seq;
        records.extend(page);
    }
}

/// The seq of the newest record, 0 when there is none.
async fn head_seq(store: &Store) -> i64 {
    let latest = store.audit_latest(1).await.expect("latest");
    latest.last().map_or(0, |record| record.seq)
}

async fn record_n(audit: &Audit, n: usize, prefix: &str) {
    for i in 0..n {
        audit
            .record(event("cli", "client.created", &format!("{prefix}{i}")))
            .await
            .expect("record");
    }
}

/// A connection of our own, as an attacker with database access would have, with the
/// append-only triggers dropped.
async fn tamperer(issuer: &TestIssuer) -> AnyConnection {
    let mut conn = AnyConnection::connect(&issuer.url).await.expect("connect");
    let drops: &[&str] = match issuer.state.store.backend() {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_log_append_only_update",
            "DROP TRIGGER audit_log_append_only_delete",
        ],
        Backend::Postgres => &["DROP TRIGGER audit_log_append_only ON audit_log"],
    };
    for sql in drops {
        sqlx::query(sql)
            .execute(&mut conn)
            .await
            .expect("drop trigger");
    }
    conn
}

async fn verify(issuer: &TestIssuer) -> audit::Verification {
    audit::verify(&issuer.state.store).await.expect("verify")
}

#[tokio::test]
async fn token_issuance_writes_a_record_with_the_jti_and_never_the_token() {
    let issuer = TestIssuer::new().await;
    let secret = issuer.client("svc.warehouse", "read write").await;
    let token = issuer.token("svc.warehouse", &secret, "&scope=read").await;
    let claims = segment(&token, 1);
    let header = segment(&token, 0);

    let records = all_records(&issuer.state.store).await;
    let issued: Vec<&AuditRecord> = records
        .iter()
        .filter(|record| record.action == "token.issued")
        .collect();
    assert_eq!(issued.len(), 1, "{records:?}");
    let record = issued[0];
    assert_eq!(record.actor, "svc.warehouse");
    assert_eq!(Some(record.target.as_str()), claims["jti"].as_str());
    assert_eq!(record.source, "local", "no socket in these tests");
    assert_eq!(record.outcome, "success");
    assert_eq!(record.at_ms, i64::try_from(common::START * 1000).unwrap());
    let detail: serde_json::Value = serde_json::from_str(&record.detail).expect("detail");
    assert_eq!(detail["scope"], "read");
    assert_eq!(detail["aud"], "quantjourney");
    assert_eq!(detail["exp"], claims["exp"]);
    assert_eq!(detail["kid"], header["kid"]);

    let signature = token.rsplit('.').next().expect("signature");
    for record in &records {
        let text = serde_json::to_string(record).expect("json");
        assert!(
            !text.contains(&token) && !text.contains(signature),
            "{text}"
        );
        assert!(!text.contains(&secret), "{text}");
    }
    assert_eq!(verify(&issuer).await.broken, None);
}

#[tokio::test]
async fn revocation_writes_a_record() {
    let issuer = TestIssuer::new().await;
    let secret = issuer.client("svc.a", "read").await;
    let other = issuer.client("svc.b", "read").await;
    let token = issuer.token("svc.a", &secret, "").await;
    let jti = segment(&token, 1)["jti"].as_str().expect("jti").to_owned();

    // Another client may not revoke it: refused, and recorded as a failure.
    let reply = issuer
        .post_form(
            "/oauth/revoke",
            &format!("token={token}"),
            Some(("svc.b", &other)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = issuer
        .post_form(
            "/oauth/revoke",
            &format!("token={token}"),
            Some(("svc.a", &secret)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);

    let records = all_records(&issuer.state.store).await;
    let revoked: Vec<(&str, &str, &str)> = records
        .iter()
        .filter(|record| record.action == "token.revoked")
        .map(|r| (r.actor.as_str(), r.target.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        revoked,
        [
            ("svc.b", jti.as_str(), "failure"),
            ("svc.a", jti.as_str(), "success")
        ]
    );
    for record in &records {
        assert!(!serde_json::to_string(record).unwrap().contains(&token));
    }
    assert_eq!(verify(&issuer).await.broken, None);
}

#[tokio::test]
async fn the_chain_verifies_and_reports_its_head() {
    let issuer = TestIssuer::new().await;
    record_n(&issuer.state.audit, 25, "svc.").await;
    let records = all_records(&issuer.state.store).await;
    let verification = verify(&issuer).await;
    assert_eq!(verification.broken, None);
    assert_eq!(verification.records, records.len() as u64);
    let last = records.last().expect("records");
    assert_eq!(verification.head.as_slice(), last.hash.as_slice());
    assert_eq!(records[0].seq, 1);
    assert_eq!(records[0].prev_hash, audit::GENESIS);
    for pair in records.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1);
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
}

#[tokio::test]
async fn the_triggers_refuse_edits_and_deletes() {
    let issuer = TestIssuer::new().await;
    record_n(&issuer.state.audit, 2, "svc.").await;
    let mut conn = AnyConnection::connect(&issuer.url).await.expect("connect");
    for sql in [
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
    ] {
        let refused = sqlx::query(sql).execute(&mut conn).await;
        assert!(refused.is_err(), "{sql}");
    }
    assert_eq!(verify(&issuer).await.broken, None);
}

#[tokio::test]
async fn an_edited_field_is_found_at_its_seq() {
    let issuer = TestIssuer::new().await;
    record_n(&issuer.state.audit, 6, "svc.").await;
    let mut conn = tamperer(&issuer).await;
    sqlx::query("UPDATE audit_log SET detail = '{\"n\":\"other\"}' WHERE seq = 3")
        .execute(&mut conn)
        .await
        .expect("tamper");
    let verification = verify(&issuer).await;
    let broken = verification.broken.expect("broken");
    assert_eq!((broken.seq, broken.reason), (3, BreakReason::HashMismatch));
    assert_eq!(verification.records, 2);
}

#[tokio::test]
async fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
    let issuer = TestIssuer::new().await;
    record_n(&issuer.state.audit, 6, "svc.").await;
    let records = all_records(&issuer.state.store).await;
    let mut forged = records[2].clone();
    forged.actor = "mallory".to_owned();
    let hash = audit::chain::record_hash(&forged.fields(), &forged.prev_hash);
    let mut conn = tamperer(&issuer).await;
    sqlx::query("UPDATE audit_log SET actor = $1, hash = $2 WHERE seq = 3")
        .bind("mallory")
        .bind(hash.to_vec())
        .execute(&mut conn)
        .await
        .expect("tamper");
    let broken = verify(&issuer).await.broken.expect("broken");
    assert_eq!((broken.seq, broken.reason), (4, BreakReason::PrevMismatch));
}

#[tokio::test]
async fn a_deleted_record_is_found_as_a_gap() {
    let issuer = TestIssuer::new().await;
    record_n(&issuer.state.audit, 6, "svc.").await;
    let mut conn = tamperer(&issuer).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(&mut conn)
        .await
        .expect("tamper");
    let broken = verify(&issuer).await.broken.expect("broken");
    assert_eq!(broken.seq, 4);
    assert_eq!(
        broken.reason,
        BreakReason::SeqGap {
            expected: 4,
            found: 5
        }
    );
}

#[tokio::test]
async fn swapped_records_are_found_at_the_first_of_them() {
    let issuer = TestIssuer::new().await;
    record_n(&issuer.state.audit, 6, "svc.").await;
    let records = all_records(&issuer.state.store).await;
    let mut conn = tamperer(&issuer).await;
    // Each row gets the other's contents, hashes included; the seqs stay in place.
    for (seq, from) in [(2, &records[4]), (5, &records[1])] {
        sqlx::query(
            "UPDATE audit_log SET at_ms = $1, actor = $2, action = $3, target = $4, source = $5, \
             outcome = $6, detail = $7, prev_hash = $8, hash = $9 WHERE seq = $10",
        )
        .bind(from.at_ms)
        .bind(from.actor.as_str())
        .bind(from.action.as_str())
        .bind(from.target.as_str())
        .bind(from.source.as_str())
        .bind(from.outcome.as_str())
        .bind(from.detail.as_str())
        .bind(from.prev_hash.clone())
        .bind(from.hash.clone())
        .bind(seq)
        .execute(&mut conn)
        .await
        .expect("tamper");
    }
    let broken = verify(&issuer).await.broken.expect("broken");
    assert_eq!(broken.seq, 2, "{broken}");
}

#[tokio::test]
async fn a_row_slipped_in_below_the_first_is_found() {
    let issuer = TestIssuer::new().await;
    record_n(&issuer.state.audit, 2, "svc.").await;
    let mut conn = tamperer(&issuer).await;
    sqlx::query(
        "INSERT INTO audit_log (seq, at_ms, actor, action, target, source, outcome, detail, \
         prev_hash, hash) SELECT 0, at_ms, actor, action, target, source, outcome, detail, \
         prev_hash, hash FROM audit_log WHERE seq = 1",
    )
    .execute(&mut conn)
    .await
    .expect("tamper");
    let broken = verify(&issuer).await.broken.expect("broken");
    assert_eq!(broken.seq, 1);
    assert_eq!(
        broken.reason,
        BreakReason::SeqGap {
            expected: 1,
            found: 0
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_appending_concurrently_keep_one_chain() {
    const TASKS_PER_STORE: usize = 8;
    const RECORDS_PER_TASK: usize = 40;
    let issuer = TestIssuer::new().await;
    let base = head_seq(&issuer.state.store).await;
    let second = Store::open(&issuer.url).await.expect("second store");
    let audits = [
        issuer.state.audit.clone(),
        Audit::new(second.clone(), Arc::new(ManualClock::new(common::START))),
    ];
    let mut tasks = Vec::new();
    for (store, audit) in audits.iter().enumerate() {
        for task in 0..TASKS_PER_STORE {
            let audit = audit.clone();
            tasks.push(tokio::spawn(async move {
                record_n(&audit, RECORDS_PER_TASK, &format!("s{store}.t{task}.")).await;
            }));
        }
    }
    for task in tasks {
        task.await.expect("task");
    }
    let total = 2 * TASKS_PER_STORE * RECORDS_PER_TASK;
    let verification = verify(&issuer).await;
    assert_eq!(verification.broken, None);
    assert_eq!(verification.records, base as u64 + total as u64);
    let records = all_records(&second).await;
    let targets: HashSet<&str> = records
        .iter()
        .filter(|record| record.action == "client.created")
        .map(|record| record.target.as_str())
        .collect();
    assert_eq!(targets.len(), total, "every record exactly once");
    audits[1].close().await;
    second.close().await;
}

#[tokio::test]
async fn records_survive_reopening_and_the_chain_continues() {
    let issuer = TestIssuer::new().await;
    record_n(&issuer.state.audit, 5, "before.").await;
    let before = verify(&issuer).await;
    let TestIssuer { db, url, state, .. } = issuer;
    state.audit.close().await;
    state.store.close().await;
    drop(state);

    let reopened = TestIssuer::open(db, url, SigningAlg::Es256).await;
    let after = verify(&reopened).await;
    assert_eq!(after, before);
    record_n(&reopened.state.audit, 3, "after.").await;
    let verification = verify(&reopened).await;
    assert_eq!(verification.broken, None);
    assert_eq!(verification.records, before.records + 3);
}

#[tokio::test]
async fn closing_writes_everything_queued_then_refuses() {
    let issuer = TestIssuer::new().await;
    let base = head_seq(&issuer.state.store).await;
    let audit = issuer.state.audit.clone();
    let pending: Vec<_> = (0..200)
        .map(|i| {
            let audit = audit.clone();
            tokio::spawn(async move {
                audit
                    .record(event("cli", "client.created", &i.to_string()))
                    .await
            })
        })
        .collect();
    // Let every task queue its record before the close.
    tokio::task::yield_now().await;
    audit.close().await;
    let mut acknowledged = 0;
    for task in pending {
        match task.await.expect("task") {
            Ok(()) => acknowledged += 1,
            Err(AuditError::Closed) => {}
            Err(err) => panic!("unexpected {err}"),
        }
    }
    let written = head_seq(&issuer.state.store).await - base;
    assert_eq!(
        written, acknowledged,
        "every acknowledged record, and only those"
    );
    assert_eq!(
        acknowledged, 200,
        "queued before the close, so written by it"
    );
    let late = audit.record(event("cli", "client.created", "late")).await;
    assert!(matches!(late, Err(AuditError::Closed)), "{late:?}");
    audit.close().await;
}

#[tokio::test]
async fn a_database_failure_fails_every_waiting_caller() {
    let issuer = TestIssuer::new().await;
    let store = Store::open(&issuer.url).await.expect("store");
    let audit = Audit::new(store.clone(), Arc::new(ManualClock::new(common::START)));
    audit
        .record(event("cli", "client.created", "ok"))
        .await
        .expect("record");
    store.close().await;
    let results = futures_join(&audit, 20).await;
    for result in results {
        let err = result.expect_err("database closed");
        assert_eq!(err.code(), "audit_write_failed");
    }
    audit.close().await;
}

async fn futures_join(audit: &Audit, n: usize) -> Vec<Result<(), AuditError>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let audit = audit.clone();
            tokio::spawn(async move {
                audit
                    .record(event("cli", "client.created", &i.to_string()))
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}

#[tokio::test]
async fn no_token_is_issued_when_it_cannot_be_audited() {
    let issuer = TestIssuer::new().await;
    let secret = issuer.client("svc.a", "read").await;
    issuer.state.audit.close().await;
    let reply = issuer
        .post_form(
            "/oauth/token",
            "grant_type=client_credentials",
            Some(("svc.a", &secret)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json()["error"], "temporarily_unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.json().get("access_token").is_none());
}

// The built binary.

fn run(url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("ISSUER_SIGNING_ALG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run issuer")
}

async fn run_async(url: &str, args: &[&str]) -> Output {
    let url = url.to_owned();
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&url, &args)
    })
    .await
    .expect("join")
}

#[tokio::test]
async fn cli_records_operator_actions_verifies_and_tails() {
    let issuer = TestIssuer::new().await;
    let created = run_async(
        &issuer.url,
        &["client", "create", "svc.cli", "--scope", "read"],
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    let secret: serde_json::Value = serde_json::from_slice(&created.stdout).expect("json");
    let secret = secret["client_secret"].as_str().expect("secret").to_owned();
    let duplicate = run_async(
        &issuer.url,
        &["client", "create", "svc.cli", "--scope", "read"],
    )
    .await;
    assert!(!duplicate.status.success());

    let records = all_records(&issuer.state.store).await;
    let created: Vec<(&str, &str, &str, &str)> = records
        .iter()
        .filter(|r| r.action == "client.created")
        .map(|r| {
            (
                r.actor.as_str(),
                r.target.as_str(),
                r.source.as_str(),
                r.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        created,
        [
            ("cli", "svc.cli", "local", "success"),
            ("cli", "svc.cli", "local", "failure")
        ]
    );
    for record in &records {
        assert!(!serde_json::to_string(record).unwrap().contains(&secret));
    }

    let verified = run_async(&issuer.url, &["audit", "verify"]).await;
    assert!(verified.status.success(), "{verified:?}");
    let report: serde_json::Value = serde_json::from_slice(&verified.stdout).expect("json");
    assert_eq!(report["ok"], true);
    assert_eq!(report["records"], records.len());
    let head = audit::chain::hex(&records.last().expect("records").hash);
    assert_eq!(report["head"], head.as_str());

    let tail = run_async(&issuer.url, &["audit", "tail", "-n", "1", "--json"]).await;
    assert!(tail.status.success(), "{tail:?}");
    let lines: Vec<&str> = std::str::from_utf8(&tail.stdout)
        .expect("utf-8")
        .lines()
        .collect();
    assert_eq!(lines.len(), 1);
    let last: serde_json::Value = serde_json::from_str(lines[0]).expect("json line");
    assert_eq!(last["outcome"], "failure");
    assert_eq!(last["hash"], head.as_str());
    let tail = run_async(&issuer.url, &["audit", "tail"]).await;
    let text = String::from_utf8_lossy(&tail.stdout);
    assert_eq!(text.lines().count(), records.len().min(20));
    assert!(
        text.contains("client.created actor=cli target=svc.cli"),
        "{text}"
    );

    let mut conn = tamperer(&issuer).await;
    sqlx::query("UPDATE audit_log SET outcome = 'success' WHERE seq = $1")
        .bind(records.last().expect("records").seq)
        .execute(&mut conn)
        .await
        .expect("tamper");
    let broken = run_async(&issuer.url, &["audit", "verify"]).await;
    assert_eq!(broken.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&broken.stdout).expect("json");
    assert_eq!(report["ok"], false);
    assert_eq!(report["seq"], records.last().expect("records").seq);
    assert_eq!(report["reason"], "hash_mismatch");
}

/// Kills the server if the test fails before it does.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One token request over a fresh connection; the token if the server answered 200.
fn request_token(addr: &str, id: &str, secret: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let request = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    if !response.starts_with("HTTP/1.1 200") {
        return None;
    }
    let body = response.split("\r\n\r\n").nth(1)?;
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    json["access_token"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn kill_9_under_load_loses_no_acknowledged_record() {
    let issuer = TestIssuer::new().await;
    let secret = issuer.client("svc.load", "read").await;
    let url = issuer.url.clone();
    let issued = tokio::task::spawn_blocking(move || {
        let child = Command::new(BIN)
            .args([
                "serve",
                "--public-addr",
                "127.0.0.1:0",
                "--admin-addr",
                "127.0.0.1:0",
            ])
            .env("DATABASE_URL", &url)
            .env_remove("ISSUER_URL")
            .env_remove("ISSUER_SIGNING_ALG")
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn serve");
        let mut server = Server(child);
        let stdout = server.0.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let public = loop {
            let line = lines.next().expect("announce line").expect("read");
            let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if value["event"] == "listening" {
                break value["public"].as_str().expect("public").to_owned();
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (public, secret, stop) = (public.clone(), secret.clone(), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut tokens = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(token) = request_token(&public, "svc.load", &secret) {
                            tokens.push(token);
                        }
                    }
                    tokens
                })
            })
            .collect();
        // Kill while requests are in flight, once a good number have been answered.
        let deadline = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        server.0.kill().expect("kill -9");
        server.0.wait().expect("wait");
        stop.store(true, Ordering::Relaxed);
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("worker"))
            .collect::<Vec<String>>()
    })
    .await
    .expect("load");
    assert!(issued.len() > 10, "only {} tokens issued", issued.len());
    eprintln!("{} tokens acknowledged before kill -9", issued.len());

    let records = all_records(&issuer.state.store).await;
    let audited: HashSet<&str> = records
        .iter()
        .filter(|record| record.action == "token.issued")
        .map(|record| record.target.as_str())
        .collect();
    for token in &issued {
        let jti = segment(token, 1)["jti"].as_str().expect("jti").to_owned();
        assert!(
            audited.contains(jti.as_str()),
            "token {jti} acknowledged but not audited"
        );
    }
    let verification = verify(&issuer).await;
    assert_eq!(verification.broken, None);
    assert_eq!(verification.records, records.len() as u64);
}
