//! Requests that arrive before a provider's first JWKS wait for it (bounded) and are then decided
//! with the keys; if the fetch fails they get 503. Never let through unverified.
//!
//! Between Envoy and the real issuer sits a gate: a loopback server that accepts the filter's JWKS
//! request and holds it until the test opens the gate, then answers with the issuer's real JWKS (or
//! with a 503). That makes "before the first keys" a state the test controls, not a race.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use e2e_tests::{Stack, StackOptions, default_filter_config};

/// What the gate answers once opened.
#[derive(Clone)]
enum Answer {
    Jwks(String),
    Unavailable,
    /// Close the connection without a response.
    Reset,
}

/// The gate's answer once opened, and how many requests reached it.
type GateState = Arc<(Mutex<(Option<Answer>, usize)>, Condvar)>;

/// Holds every JWKS request until [`Gate::open`].
struct Gate {
    addr: SocketAddr,
    state: GateState,
}

impl Gate {
    fn start() -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the gate");
        let addr = listener.local_addr().expect("gate address");
        let state: GateState = Arc::new((Mutex::new((None, 0)), Condvar::new()));
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    if e2e_tests::http::read_request_head(&mut stream).is_none() {
                        return;
                    }
                    let (lock, opened) = &*shared;
                    let mut guard = lock.lock().expect("gate lock");
                    guard.1 += 1;
                    while guard.0.is_none() {
                        guard = opened.wait(guard).expect("gate wait");
                    }
                    let (status, body) = match guard.0.clone() {
                        Some(Answer::Jwks(body)) => ("200 OK", body),
                        Some(Answer::Reset) => return,
                        _ => ("503 Service Unavailable", String::from("down")),
                    };
                    drop(guard);
                    let reply = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes());
                });
            }
        });
        Gate { addr, state }
    }

    fn open(&self, answer: Answer) {
        let (lock, opened) = &*self.state;
        lock.lock().expect("gate lock").0 = Some(answer);
        opened.notify_all();
    }

    /// How many JWKS requests have reached the gate.
    fn requests(&self) -> usize {
        self.state.0.lock().expect("gate lock").1
    }
}

/// A stack whose JWKS comes through `gate`, with a long fetch timeout and wait so that only the
/// gate decides when the keys arrive.
fn stack_behind(gate: &Gate) -> Stack {
    Stack::start(
        StackOptions::default()
            .jwks_cluster_port(gate.addr.port())
            .filter_config(|issuer_url| {
                let mut config = default_filter_config(issuer_url);
                config["providers"]["local"]["remote_jwks"]["timeout_ms"] = 20_000.into();
                config["jwks_wait_ms"] = 15_000.into();
                config
            }),
    )
}

/// Sends `GET target` with `token` on another thread; returns its handle.
fn send_later(
    stack: &Stack,
    target: &str,
    token: &str,
) -> thread::JoinHandle<(u16, Option<String>)> {
    let listener = stack.envoy().listener();
    let target = target.to_owned();
    let bearer = format!("Bearer {token}");
    thread::spawn(move || {
        let response = e2e_tests::http::send(
            listener,
            "GET",
            &target,
            &[("authorization", bearer.as_str())],
            b"",
            Duration::from_secs(30),
        )
        .expect("request through Envoy");
        (response.status, response.json_str("code"))
    })
}

#[test]
fn a_request_before_the_first_keys_waits_and_then_passes() {
    let gate = Gate::start();
    let stack = stack_behind(&gate);
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let token = stack.token(&client);
    let jwks = stack
        .issuer()
        .request("GET", "/.well-known/jwks.json", &[], b"")
        .text();

    let started = Instant::now();
    let pending = send_later(&stack, "/api/v1/instruments?early", &token);
    thread::sleep(Duration::from_millis(800));
    assert!(
        !pending.is_finished(),
        "the request should be held while the JWKS is outstanding"
    );
    assert!(
        !stack.upstream_received("/api/v1/instruments?early"),
        "nothing may pass before the keys"
    );
    assert!(
        gate.requests() >= 1,
        "the filter should have asked for the JWKS"
    );

    gate.open(Answer::Jwks(jwks));
    let (status, code) = pending.join().expect("request thread");
    assert_eq!(
        status,
        200,
        "code {code:?}\n{}",
        stack.envoy().log().tail_without_banner(30)
    );
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert!(stack.upstream_received("/api/v1/instruments?early"));

    // Once the keys are there, a tampered token is refused, not waved through.
    let forged = e2e_tests::jwt::tamper_signature(&token);
    let (status, code) = send_later(&stack, "/api/v1/instruments?forged", &forged)
        .join()
        .expect("thread");
    assert_eq!((status, code.as_deref()), (401, Some("signature_invalid")));
}

#[test]
fn a_request_waiting_for_keys_that_cannot_be_had_gets_503() {
    let gate = Gate::start();
    let stack = stack_behind(&gate);
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let token = stack.token(&client);

    let pending = send_later(&stack, "/api/v1/instruments?doomed", &token);
    thread::sleep(Duration::from_millis(500));
    assert!(
        !pending.is_finished(),
        "the request should be held while the JWKS is outstanding"
    );

    let opened = Instant::now();
    gate.open(Answer::Unavailable);
    let (status, code) = pending.join().expect("request thread");
    assert_eq!((status, code.as_deref()), (503, Some("jwks_unavailable")));
    // Answered when the fetch failed, not when the 15 s wait ran out.
    assert!(
        opened.elapsed() < Duration::from_secs(5),
        "took {:?}",
        opened.elapsed()
    );
    assert!(!stack.upstream_received("/api/v1/instruments?doomed"));
}

#[test]
fn a_jwks_call_that_is_reset_does_not_take_the_filter_down() {
    let gate = Gate::start();
    gate.open(Answer::Reset);
    let stack = stack_behind(&gate);
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let token = stack.token(&client);
    let bearer = format!("Bearer {token}");

    // While every fetch is reset: refused with 503, never let through.
    let response = stack.get(
        "/api/v1/instruments?reset",
        &[("authorization", bearer.as_str())],
    );
    assert_eq!(
        (response.status, response.json_str("code").as_deref()),
        (503, Some("jwks_unavailable"))
    );
    assert!(gate.requests() >= 1);

    // The issuer comes back: the filter (still alive) retries and lets the valid token through.
    let jwks = stack
        .issuer()
        .request("GET", "/.well-known/jwks.json", &[], b"")
        .text();
    gate.open(Answer::Jwks(jwks));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let response = stack.get(
            "/api/v1/instruments?back",
            &[("authorization", bearer.as_str())],
        );
        if response.status == 200 || Instant::now() > deadline {
            break response.status;
        }
        thread::sleep(Duration::from_millis(250));
    };
    let log = stack.envoy().log().tail_without_banner(40);
    assert_eq!(status, 200, "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_request_that_waited_for_the_first_keys_and_finds_its_kid_missing_forces_one_refetch() {
    let gate = Gate::start();
    let stack = stack_behind(&gate);
    // The gate will serve the issuer's current keys; the token is signed by a key rotated in
    // after them, so the first keys to arrive lack its kid.
    let old_jwks = stack
        .issuer()
        .request("GET", "/.well-known/jwks.json", &[], b"")
        .text();
    stack.issuer().rotate_keys();
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let token = stack.token(&client);

    let started = Instant::now();
    let pending = send_later(&stack, "/api/v1/instruments?rotated", &token);
    thread::sleep(Duration::from_millis(500));
    assert!(
        !pending.is_finished(),
        "held while the first JWKS is outstanding"
    );
    gate.open(Answer::Jwks(old_jwks));
    // Re-decided with the first keys, the request now waits for its kid: that must make a
    // fetch due (it would otherwise sit out jwks_wait_ms and get 503). The refetch serves the
    // same keys, so the kid is unknown for good.
    let (status, code) = pending.join().expect("request thread");
    assert_eq!(
        (status, code.as_deref()),
        (401, Some("kid_unknown")),
        "after {:?}\n{}",
        started.elapsed(),
        stack.envoy().log().tail_without_banner(30)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(gate.requests(), 2, "the first fetch and one forced refetch");
}
