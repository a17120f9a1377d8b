//! `kill -9` of the issuer under load loses no token or audit record it had acknowledged.
//!
//! Several threads mint tokens as fast as the issuer answers; every token it answered 200 for is
//! recorded. The issuer is then killed with SIGKILL mid-load (no graceful shutdown) and started
//! again on the same database. Every acknowledged token must have its `token.issued` audit record
//! (the audit trail is written before the response is sent), the audit chain must be intact, and
//! every acknowledged token must still verify through a freshly started Envoy that knows only
//! what the restarted issuer publishes (so the keys that signed them survived).
//!
//! Once on SQLite (the embedded default) and once on PostgreSQL.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e_tests::issuer::{IssuerOptions, PostgresDatabase, read_audit_log, try_token_at};
use e2e_tests::{Diagnose, Issuer, Stack, StackOptions, http, jwt};
use serde_json::Value;

/// Threads minting tokens.
const WORKERS: usize = 4;
/// The issuer is killed once it has acknowledged this many tokens…
const KILL_AFTER_TOKENS: usize = 1000;
/// …or after this much load, whichever comes first.
const KILL_AFTER_LOAD: Duration = Duration::from_secs(15);
/// The most records `audit tail` shows; far more than a run writes (checked).
const AUDIT_TAIL: usize = 100_000;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_token_or_audit_record_on_sqlite() {
    kill_9_under_load(None);
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_token_or_audit_record_on_postgres() {
    let database = PostgresDatabase::create();
    kill_9_under_load(Some(&database));
}

fn kill_9_under_load(database: Option<&PostgresDatabase>) {
    let dir = tempfile::Builder::new()
        .prefix("e2e-crash-")
        .tempdir()
        .expect("a temporary directory");
    let options = IssuerOptions {
        database_url: database.map(|db| db.url().to_owned()),
        ..IssuerOptions::default()
    }
    .with_test_master_key();
    let mut issuer = Issuer::start_with(dir.path(), options);
    let client = issuer.create_client("svc.crash", "instruments:read", "quantjourney");
    let addr = issuer.public_addr();

    let acknowledged = Mutex::new(Vec::<String>::new());
    let refused_before_kill = Mutex::new(Vec::<String>::new());
    let killed = AtomicBool::new(false);
    let cut_off = AtomicUsize::new(0);
    let load_started = Instant::now();
    let exit = std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            let (client, acknowledged, refused, killed, cut_off) = (
                &client,
                &acknowledged,
                &refused_before_kill,
                &killed,
                &cut_off,
            );
            scope.spawn(move || {
                loop {
                    // Read before the request: an error after the kill is the kill's doing.
                    let after_kill = killed.load(Ordering::SeqCst);
                    match try_token_at(addr, client) {
                        Ok(token) => lock(acknowledged).push(token),
                        Err(_) if after_kill || killed.load(Ordering::SeqCst) => {
                            // The issuer is gone: this thread's load ends here.
                            cut_off.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        // Not acknowledged, so not the test's business (shown below).
                        Err(err) => lock(refused).push(err),
                    }
                }
            });
        }
        while lock(&acknowledged).len() < KILL_AFTER_TOKENS
            && load_started.elapsed() < KILL_AFTER_LOAD
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        killed.store(true, Ordering::SeqCst);
        issuer.kill()
    });
    let acknowledged = acknowledged.into_inner().unwrap_or_default();
    let refused_before_kill = refused_before_kill.into_inner().unwrap_or_default();
    eprintln!(
        "{} tokens acknowledged in {:?} of load before kill -9 ({} requests not acknowledged \
         before it{}); {} load threads cut off by it",
        acknowledged.len(),
        load_started.elapsed(),
        refused_before_kill.len(),
        refused_before_kill
            .first()
            .map(|err| format!(", e.g. {err}"))
            .unwrap_or_default(),
        cut_off.load(Ordering::SeqCst)
    );
    {
        use std::os::unix::process::ExitStatusExt as _;
        let signal = exit.and_then(|status| status.signal());
        if signal != Some(libc::SIGKILL) {
            issuer.fail(&format!(
                "the issuer was not killed by SIGKILL mid-load; it ended with {exit:?}"
            ));
        }
    }
    if acknowledged.is_empty() {
        issuer.fail("the issuer acknowledged no token before the kill");
    }

    if let Err(err) = issuer.restart() {
        issuer.fail(&format!("restart on the same database: {err}"));
    }
    // It serves again, with the keys it has.
    if let Err(err) = issuer.try_token(&client) {
        issuer.fail(&format!("no token after the restart: {err}"));
    }

    // A fresh Envoy: it knows only what the restarted issuer publishes.
    let stack = Stack::start(StackOptions::default().around_issuer(issuer, dir));
    let mut problems = Vec::new();

    let rejected = verify_through_envoy(&stack, &acknowledged);
    if !rejected.is_empty() {
        problems.push(format!(
            "{} of {} acknowledged tokens no longer verify through Envoy after the restart \
             (their signing keys did not survive?); the first ones:\n{}",
            rejected.len(),
            acknowledged.len(),
            rejected
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }

    let jtis: Vec<String> = acknowledged
        .iter()
        .map(|token| {
            jwt::claims(token)
                .get("jti")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    match issued_jtis(stack.issuer()) {
        Ok((issued, source)) => {
            let missing: Vec<&String> = jtis.iter().filter(|jti| !issued.contains(*jti)).collect();
            eprintln!(
                "audit ({source}): {} token.issued records; {} of {} acknowledged jtis missing",
                issued.len(),
                missing.len(),
                jtis.len()
            );
            if !missing.is_empty() {
                problems.push(format!(
                    "{} of {} acknowledged tokens have no `token.issued` audit record after kill -9 \
                     and restart (read {source}; {} token.issued records in all); e.g. jti {:?}",
                    missing.len(),
                    jtis.len(),
                    issued.len(),
                    missing.iter().take(5).collect::<Vec<_>>()
                ));
            }
        }
        Err(err) => problems.push(format!("cannot read the audit trail: {err}")),
    }
    problems.extend(audit_chain_problems(stack.issuer()));

    if !problems.is_empty() {
        stack.fail(&problems.join("\n\n"));
    }
}

/// Sends every token through Envoy (a few threads at a time); returns those not accepted.
fn verify_through_envoy(stack: &Stack, tokens: &[String]) -> Vec<String> {
    let rejected = Mutex::new(Vec::new());
    let listener = stack.envoy().listener();
    let chunk = tokens.len().div_ceil(WORKERS).max(1);
    std::thread::scope(|scope| {
        for (part, tokens) in tokens.chunks(chunk).enumerate() {
            let rejected = &rejected;
            scope.spawn(move || {
                for (i, token) in tokens.iter().enumerate() {
                    let target = format!("/api/v1/instruments?part={part}&i={i}");
                    let outcome = http::send(
                        listener,
                        "GET",
                        &target,
                        &[("authorization", &format!("Bearer {token}"))],
                        b"",
                        http::DEFAULT_TIMEOUT,
                    );
                    match outcome {
                        Ok(response) if response.status == 200 => {}
                        Ok(response) => lock(rejected).push(format!(
                            "  kid {:?}: {} {}",
                            jwt::header(token).get("kid"),
                            response.status,
                            response.json_str("code").unwrap_or_else(|| response.text())
                        )),
                        Err(err) => lock(rejected).push(format!("  {target}: {err}")),
                    }
                }
            });
        }
    });
    rejected.into_inner().unwrap_or_default()
}

/// The targets (jtis) of every `token.issued` record, and where they were read: `issuer audit tail
/// --json` when the issuer has it, else the `audit_log` table itself.
fn issued_jtis(issuer: &Issuer) -> Result<(HashSet<String>, &'static str), String> {
    let lines = AUDIT_TAIL.to_string();
    let tail = issuer.run_cli(&["audit", "tail", "--json", "-n", &lines])?;
    if tail.unknown_subcommand() {
        let rows = read_audit_log(issuer.database_url())?;
        let issued = rows
            .into_iter()
            .filter(|row| row.action == "token.issued")
            .map(|row| row.target)
            .collect();
        return Ok((issued, "the audit_log table (no `issuer audit tail`)"));
    }
    let tail = tail.success()?;
    // A JSON array, or one JSON object per line.
    let records: Vec<Value> = match serde_json::from_str::<Value>(tail.stdout.trim()) {
        Ok(Value::Array(records)) => records,
        _ => tail
            .stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str::<Value>(line)
                    .map_err(|err| format!("`audit tail --json` line {line:?}: {err}"))
            })
            .collect::<Result<_, _>>()?,
    };
    if records.len() >= AUDIT_TAIL {
        return Err(format!(
            "{} audit records: `audit tail -n {AUDIT_TAIL}` may not show them all",
            records.len()
        ));
    }
    let issued = records
        .iter()
        .filter(|record| record.get("action").and_then(Value::as_str) == Some("token.issued"))
        .filter_map(|record| record.get("target").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    Ok((issued, "`issuer audit tail --json`"))
}

/// What is wrong with the audit chain: `issuer audit verify` when the issuer has it; and, from the
/// table itself, gaps in `seq` or a record whose `prev_hash` is not its predecessor's `hash`.
fn audit_chain_problems(issuer: &Issuer) -> Vec<String> {
    let mut problems = Vec::new();
    match issuer.run_cli(&["audit", "verify"]) {
        Ok(verify) if verify.unknown_subcommand() => {
            eprintln!("audit: the issuer has no `audit verify`; checking the chain links only");
        }
        Ok(verify) => {
            // Exit 0 and {"ok": true, ...}.
            let intact = verify
                .json()
                .ok()
                .and_then(|report| report.get("ok").and_then(Value::as_bool));
            if !verify.status.success() || intact != Some(true) {
                problems.push(format!(
                    "`issuer audit verify` after kill -9 and restart does not say the chain is \
                     intact ({}):\nstdout: {}\nstderr: {}",
                    verify.status, verify.stdout, verify.stderr
                ));
            } else {
                eprintln!("audit verify: {}", verify.stdout.trim());
            }
        }
        Err(err) => problems.push(err),
    }
    match read_audit_log(issuer.database_url()) {
        Ok(rows) => {
            for pair in rows.windows(2) {
                let (before, after) = (&pair[0], &pair[1]);
                if after.seq != before.seq + 1 {
                    problems.push(format!(
                        "audit_log seq jumps from {} to {}",
                        before.seq, after.seq
                    ));
                    break;
                }
                if after.prev_hash != before.hash {
                    problems.push(format!(
                        "audit_log record {} does not chain to record {} (prev_hash != hash)",
                        after.seq, before.seq
                    ));
                    break;
                }
            }
        }
        Err(err) => problems.push(format!("cannot read audit_log: {err}")),
    }
    problems
}
