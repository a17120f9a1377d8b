//! Scheduled key rotation under load, end to end: the issuer rotates its signing key every 8 s
//! (JWKS `max-age=5`), Envoy's filter follows the issuer's remote JWKS, and several threads mint
//! tokens and send them through Envoy the whole time. Across three scheduled rotations and one
//! emergency rotation (`issuer keys rotate --emergency`, a key nobody has seen, picked up by the
//! filter's unknown-`kid` refetch) not one freshly minted token is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e_tests::issuer::{IssuerOptions, try_token_at};
use e2e_tests::{Client, Diagnose, Stack, StackOptions, check, http, jwt};
use serde_json::Value;

/// `--key-rotation-period`: each key signs for this long.
const ROTATION_PERIOD: &str = "8s";
/// `--jwks-max-age`: the filter refreshes the JWKS this often (its floor is 5 s).
const JWKS_MAX_AGE: &str = "5s";
/// Scheduled rotations the load must span.
const SCHEDULED_ROTATIONS: usize = 3;
/// Threads minting and sending tokens.
const WORKERS: usize = 4;
/// The whole run; with an 8 s period, three rotations and an emergency fit in about 35 s.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// One token that did not make it through.
#[derive(Debug)]
struct Failure {
    /// How long into the load.
    at: Duration,
    /// The token's `kid` ("" when no token was minted).
    kid: String,
    /// What happened.
    what: String,
}

/// What the load threads share with the test.
#[derive(Default)]
struct Tally {
    verified: Mutex<BTreeMap<String, usize>>,
    failures: Mutex<Vec<Failure>>,
    sent: AtomicUsize,
}

impl Tally {
    fn verified(&self, kid: &str) -> usize {
        lock(&self.verified).get(kid).copied().unwrap_or(0)
    }

    fn report(&self) -> String {
        let verified = lock(&self.verified);
        let mut lines = vec![format!(
            "{} tokens sent, {} failed; verified per kid:",
            self.sent.load(Ordering::Relaxed),
            lock(&self.failures).len()
        )];
        lines.extend(verified.iter().map(|(kid, n)| format!("  {kid}: {n}")));
        lines.join("\n")
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn kid_of(token: &str) -> String {
    jwt::header(token)
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Mints a token and sends it through Envoy until `stop`; every outcome lands in `tally`.
fn load(
    worker: usize,
    issuer: SocketAddr,
    envoy: SocketAddr,
    client: &Client,
    stop: &AtomicBool,
    started: Instant,
    tally: &Tally,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let fail = |kid: &str, what: String| {
            lock(&tally.failures).push(Failure {
                at: started.elapsed(),
                kid: kid.to_owned(),
                what,
            });
        };
        let token = match try_token_at(issuer, client) {
            Ok(token) => token,
            Err(err) => {
                fail("", format!("minting: {err}"));
                continue;
            }
        };
        let kid = kid_of(&token);
        let target = format!("/api/v1/instruments?worker={worker}&n={n}");
        tally.sent.fetch_add(1, Ordering::Relaxed);
        let response = match http::send(
            envoy,
            "GET",
            &target,
            &[("authorization", &format!("Bearer {token}"))],
            b"",
            http::DEFAULT_TIMEOUT,
        ) {
            Ok(response) => response,
            Err(err) => {
                fail(&kid, format!("GET {target} through Envoy: {err}"));
                continue;
            }
        };
        // A 200 that is the upstream's echo of an authenticated request, not anything else.
        let echoed_client = response.try_json().ok().and_then(|body| {
            body.pointer("/headers/x-auth-client-id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        if response.status == 200 && echoed_client.as_deref() == Some(client.client_id.as_str()) {
            *lock(&tally.verified).entry(kid).or_default() += 1;
        } else {
            fail(
                &kid,
                format!(
                    "GET {target}: {} {}",
                    response.status,
                    response.json_str("code").unwrap_or_else(|| response.text())
                ),
            );
        }
    }
}

/// The one current key and every published kid, from `issuer keys list --json`; a violated
/// invariant (not exactly one current key, more than one next key) is an error.
fn key_state(stack: &Stack) -> Result<(String, Option<String>, BTreeSet<String>), String> {
    let keys = stack.issuer().keys_list()?;
    let with_status = |status: &str| -> Vec<String> {
        keys.iter()
            .filter(|key| key.get("status").and_then(Value::as_str) == Some(status))
            .filter_map(|key| key.get("kid").and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    let current = with_status("current");
    let next = with_status("next");
    if current.len() != 1 || next.len() > 1 {
        return Err(format!(
            "keys list: {} current and {} next keys (one current, at most one next expected): {keys:?}",
            current.len(),
            next.len()
        ));
    }
    let all = keys
        .iter()
        .filter_map(|key| key.get("kid").and_then(Value::as_str).map(str::to_owned))
        .collect();
    Ok((current[0].clone(), next.first().cloned(), all))
}

#[test]
fn every_token_is_accepted_across_scheduled_and_emergency_rotations_under_load() {
    let stack = Stack::start(
        StackOptions::default().issuer(
            IssuerOptions {
                args: vec![
                    "--key-rotation-period".into(),
                    ROTATION_PERIOD.into(),
                    "--jwks-max-age".into(),
                    JWKS_MAX_AGE.into(),
                ],
                ..IssuerOptions::default()
            }
            .with_test_master_key(),
        ),
    );
    let client = stack.create_client("svc.rotation-load", "instruments:read", "quantjourney");

    // The filter's first JWKS fetch may still be under way; wait for the first 200.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let token = stack.token(&client);
        let response = stack.get(
            "/api/v1/instruments?warm",
            &[("authorization", &format!("Bearer {token}"))],
        );
        if response.status == 200 {
            break;
        }
        check!(
            stack,
            Instant::now() < deadline,
            "the first token was never accepted: {response:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let (first_current, _, _) = key_state(&stack).unwrap_or_else(|err| stack.fail(&err));
    let issuer_addr = stack.issuer().public_addr();
    let envoy_addr = stack.envoy().listener();
    let tally = Tally::default();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    // Kids in the order they became current, and which of them the emergency made current.
    let mut currents = vec![first_current];
    let mut scheduled = 0usize;
    let mut emergency: Option<String> = None;
    let mut problems = Vec::new();

    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            let (client, stop, tally) = (&client, &stop, &tally);
            scope.spawn(move || {
                load(
                    worker,
                    issuer_addr,
                    envoy_addr,
                    client,
                    stop,
                    started,
                    tally,
                )
            });
        }
        loop {
            let (current, next, published) = match key_state(&stack) {
                Ok(state) => state,
                Err(err) => {
                    problems.push(format!("{:?} into the load: {err}", started.elapsed()));
                    break;
                }
            };
            if currents.last() != Some(&current) {
                if emergency.as_ref() != Some(&current) {
                    scheduled += 1;
                }
                currents.push(current.clone());
            }
            let done = scheduled >= SCHEDULED_ROTATIONS
                && emergency.is_some()
                && tally.verified(&current) > 0;
            if done {
                break;
            }
            if started.elapsed() > RUN_LIMIT {
                problems.push(format!(
                    "only {scheduled} scheduled rotations (emergency: {emergency:?}) in {RUN_LIMIT:?} \
                     with --key-rotation-period {ROTATION_PERIOD}; current keys seen: {currents:?}"
                ));
                break;
            }
            // Mid-way (after the first scheduled rotation, once its key has carried traffic):
            // sign with a key no gateway has, as after a compromise.
            if emergency.is_none() && scheduled >= 1 && tally.verified(&current) >= 20 {
                match stack.issuer().try_rotate_keys(&["--emergency"]) {
                    Ok(printed) => {
                        let kid = printed
                            .get("kid")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        if kid.is_empty() || published.contains(&kid) || next.as_ref() == Some(&kid)
                        {
                            problems.push(format!(
                                "the emergency key {kid:?} is not a new key (published before: {published:?})"
                            ));
                            break;
                        }
                        eprintln!(
                            "emergency rotation {:?} into the load: {kid}",
                            started.elapsed()
                        );
                        emergency = Some(kid);
                    }
                    Err(err) => {
                        problems.push(format!("issuer keys rotate --emergency: {err}"));
                        break;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        stop.store(true, Ordering::Relaxed);
    });

    let report = tally.report();
    eprintln!(
        "{report}\ncurrent keys in order: {currents:?}\nscheduled rotations: {scheduled}, emergency key: {emergency:?}, load ran {:?}",
        started.elapsed()
    );
    check!(
        stack,
        problems.is_empty(),
        "{}\n{report}",
        problems.join("\n")
    );
    let failures = lock(&tally.failures);
    check!(
        stack,
        failures.is_empty(),
        "{} of {} tokens were not accepted across the rotations; the first ones:\n{}\n{report}",
        failures.len(),
        tally.sent.load(Ordering::Relaxed),
        failures
            .iter()
            .take(20)
            .map(|f| format!("  at {:?}, kid {:?}: {}", f.at, f.kid, f.what))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Every key that became current carried traffic, the emergency key included: the load
    // really spanned each rotation.
    for kid in &currents {
        check!(
            stack,
            tally.verified(kid) > 0,
            "no token signed by {kid} (current at some point) was verified\n{report}"
        );
    }
}
