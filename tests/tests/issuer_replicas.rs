//! Two issuer replicas on one PostgreSQL database, both running the key scheduler on a short
//! schedule (rotation every 8 s, JWKS `max-age=5`). Over four rotation periods, polled a few times
//! a second: there is always exactly one current key and at most one next key; the current and
//! next keys are in both replicas' JWKS; the two JWKS documents agree (or converge within a
//! second); the keys rotate once per period, never twice (two schedulers racing would); and
//! tokens minted by either replica verify through one Envoy whose filter fetches replica A's
//! JWKS only, so replica B signs with keys A publishes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use e2e_tests::issuer::{IssuerOptions, PostgresDatabase};
use e2e_tests::{Diagnose, Issuer, Stack, StackOptions, check, http, jwt};
use serde_json::Value;

/// `--key-rotation-period` in seconds.
const PERIOD_SECS: u64 = 8;
/// `--jwks-max-age` in seconds (the filter's floor is 5 s).
const MAX_AGE_SECS: u64 = 5;
/// Rotation periods the observation spans.
const PERIODS: u64 = 4;
/// How long two JWKS documents may disagree (a rotation between the two fetches).
const CONVERGENCE: Duration = Duration::from_secs(1);

/// Both replicas' logs, Envoy's log and the files, when something fails.
struct Replicas<'a> {
    stack: &'a Stack,
    b: &'a Issuer,
}

impl Diagnose for Replicas<'_> {
    fn diagnostics(&self) -> String {
        format!(
            "{}\n=== replica B ===\n{}",
            self.stack.diagnostics(),
            self.b.diagnostics()
        )
    }
}

fn str_of<'a>(value: &'a Value, member: &str) -> Option<&'a str> {
    value.get(member).and_then(Value::as_str)
}

fn kids_with_status(keys: &[Value], status: &str) -> Vec<String> {
    keys.iter()
        .filter(|key| str_of(key, "status") == Some(status))
        .filter_map(|key| str_of(key, "kid").map(str::to_owned))
        .collect()
}

/// The `kid`s a JWKS document publishes.
fn jwks_kids(issuer: &Issuer) -> Result<BTreeSet<String>, String> {
    let jwks = issuer.try_jwks()?;
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("no `keys` array in {jwks}"))?;
    Ok(keys
        .iter()
        .filter_map(|key| str_of(key, "kid").map(str::to_owned))
        .collect())
}

#[test]
fn two_replicas_on_one_database_rotate_once_per_period_and_publish_the_same_keys() {
    let database = PostgresDatabase::create();
    let options = IssuerOptions {
        database_url: Some(database.url().to_owned()),
        args: vec![
            "--key-rotation-period".into(),
            format!("{PERIOD_SECS}s"),
            "--jwks-max-age".into(),
            format!("{MAX_AGE_SECS}s"),
        ],
        ..IssuerOptions::default()
    }
    .with_test_master_key();
    // Replica A serves Envoy's JWKS; replica B shares its database, master key and issuer URL
    // (replicas behind one name), and Envoy never hears of it.
    let stack = Stack::start(StackOptions::default().issuer(IssuerOptions {
        name: Some("replica-a".into()),
        ..options.clone()
    }));
    let b = Issuer::start_with(
        stack.dir(),
        IssuerOptions {
            name: Some("replica-b".into()),
            issuer_url: Some(stack.issuer_url().to_owned()),
            ..options
        },
    );
    let a = stack.issuer();
    let replicas = Replicas {
        stack: &stack,
        b: &b,
    };
    let client = stack.create_client("svc.replicas", "instruments:read", "quantjourney");

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
            replicas,
            Instant::now() < deadline,
            "the first token was never accepted: {response:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let run = Duration::from_secs(PERIODS * PERIOD_SECS + 1);
    let started = Instant::now();
    // Kids in the order they were seen current; tokens verified per replica and kid.
    let mut currents: Vec<String> = Vec::new();
    let mut verified: BTreeMap<(&str, String), usize> = BTreeMap::new();
    let mut observations = 0usize;
    let mut disagreements = 0usize;
    while started.elapsed() < run {
        observations += 1;
        let at = started.elapsed();
        let keys = a
            .keys_list()
            .unwrap_or_else(|err| replicas.fail(&format!("issuer keys list: {err}")));
        let current = kids_with_status(&keys, "current");
        let next = kids_with_status(&keys, "next");
        check!(
            replicas,
            current.len() == 1 && next.len() <= 1,
            "{at:?} in: {} current and {} next keys; exactly one current and at most one next \
             expected:\n{keys:#?}",
            current.len(),
            next.len()
        );
        if currents.last() != Some(&current[0]) {
            currents.push(current[0].clone());
        }

        // Both replicas publish the keys that sign now and next, and agree on the whole set.
        let fetch = |issuer: &Issuer, name: &str| {
            jwks_kids(issuer).unwrap_or_else(|err| replicas.fail(&format!("replica {name}: {err}")))
        };
        let (mut jwks_a, mut jwks_b) = (fetch(a, "A"), fetch(&b, "B"));
        for kid in current.iter().chain(&next) {
            check!(
                replicas,
                jwks_a.contains(kid) && jwks_b.contains(kid),
                "{at:?} in: key {kid} (current or next) is not published by both replicas\n\
                 A: {jwks_a:?}\nB: {jwks_b:?}"
            );
        }
        if jwks_a != jwks_b {
            disagreements += 1;
            let since = Instant::now();
            while jwks_a != jwks_b {
                check!(
                    replicas,
                    since.elapsed() < CONVERGENCE,
                    "{at:?} in: the replicas' JWKS still differ after {CONVERGENCE:?}\n\
                     A: {jwks_a:?}\nB: {jwks_b:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
                (jwks_a, jwks_b) = (fetch(a, "A"), fetch(&b, "B"));
            }
        }

        // A token from each replica, through the Envoy that only knows A's JWKS.
        for (name, issuer) in [("A", a), ("B", &b)] {
            let token = issuer.try_token(&client).unwrap_or_else(|err| {
                replicas.fail(&format!("{at:?} in: replica {name} minted no token: {err}"))
            });
            let kid = jwt::header(&token)
                .get("kid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let target = format!("/api/v1/instruments?replica={name}&n={observations}");
            let response = http::send(
                stack.envoy().listener(),
                "GET",
                &target,
                &[("authorization", &format!("Bearer {token}"))],
                b"",
                http::DEFAULT_TIMEOUT,
            )
            .unwrap_or_else(|err| replicas.fail(&format!("GET {target} through Envoy: {err}")));
            check!(
                replicas,
                response.status == 200,
                "{at:?} in: a token from replica {name} (kid {kid}) was refused by the Envoy that \
                 fetches replica A's JWKS: {} {:?}",
                response.status,
                response.json_str("code")
            );
            *verified.entry((name, kid)).or_default() += 1;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let elapsed = started.elapsed();

    let keys = a
        .keys_list()
        .unwrap_or_else(|err| replicas.fail(&format!("issuer keys list: {err}")));
    // A rotation between the last `keys list` and the last tokens is seen here.
    if let Some(current) = kids_with_status(&keys, "current").first() {
        if currents.last() != Some(current) {
            currents.push(current.clone());
        }
    }
    let mut activations: Vec<(u64, String)> = keys
        .iter()
        .filter_map(|key| {
            let at = key.get("activated_at")?.as_u64()?;
            Some((at, str_of(key, "kid")?.to_owned()))
        })
        .collect();
    activations.sort();
    let rotations = currents.len().saturating_sub(1);
    let periods = elapsed.as_secs() / PERIOD_SECS;
    let summary = format!(
        "{observations} observations over {elapsed:?} ({periods} periods of {PERIOD_SECS} s); \
         {rotations} rotations seen; current keys in order: {currents:?}\n\
         activations (issuer time): {activations:?}\n\
         JWKS disagreements that converged: {disagreements}\n\
         tokens verified per replica and kid: {verified:?}\n\
         rotations logged by A: {}, by B: {}",
        a.log().read().matches("rotated the signing key").count(),
        b.log().read().matches("rotated the signing key").count(),
    );
    eprintln!("{summary}");

    // As many rotations as periods went by, give or take one (where the window cut them).
    check!(
        replicas,
        rotations.abs_diff(periods as usize) <= 1,
        "{rotations} rotations observed in {periods} rotation periods: two replicas must rotate \
         once per period between them, not once each and not never\n{summary}"
    );
    // No double rotation, even one too quick for the polling to see: each key signed for a
    // full period before the next took over (the issuers' own timestamps).
    for pair in activations.windows(2) {
        let ((first, first_kid), (second, second_kid)) = (&pair[0], &pair[1]);
        check!(
            replicas,
            second - first >= PERIOD_SECS,
            "key {second_kid} became current {} s after {first_kid}, within one rotation period \
             ({PERIOD_SECS} s): a double rotation\n{summary}",
            second - first
        );
    }
    // Each replica followed every rotation, whichever replica made it: it signed with each key
    // that was current for a whole period inside the run (all but the first and the last), and
    // with no key that was never current.
    for name in ["A", "B"] {
        let kids: BTreeSet<&String> = verified
            .keys()
            .filter(|(replica, _)| *replica == name)
            .map(|(_, kid)| kid)
            .collect();
        let inner = &currents[1.min(currents.len())..currents.len().saturating_sub(1)];
        for kid in inner {
            check!(
                replicas,
                kids.contains(kid),
                "replica {name} never signed with {kid}, current for a whole period\n{summary}"
            );
        }
        for kid in &kids {
            check!(
                replicas,
                currents.contains(kid),
                "replica {name} signed with {kid}, which keys list never showed as current\n{summary}"
            );
        }
    }
}
