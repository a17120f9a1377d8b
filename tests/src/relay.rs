//! A counting relay in front of the issuer's JWKS, so tests can see how often the filter fetches it.
//!
//! Point the stack's JWKS cluster at [`JwksRelay::port`] (`StackOptions::jwks_cluster_port`) and
//! [`JwksRelay::set_target`] at the issuer once it runs; every request is answered with what the issuer
//! answers at that moment, and counted.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::http;

/// How the relay answers.
#[derive(Debug, Clone, Default)]
struct Mode {
    /// Where the JWKS comes from; `None` answers 503.
    target: Option<SocketAddr>,
    /// An outage: answer 503 even with a target.
    down: bool,
    /// A `Cache-Control` value to add to good answers.
    cache_control: Option<String>,
}

/// The relay; it stops accepting when the test process ends.
pub struct JwksRelay {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    count: Arc<AtomicUsize>,
}

impl JwksRelay {
    /// Starts the relay on a free loopback port. Until a target is set it answers 503.
    pub fn start() -> JwksRelay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the JWKS relay");
        let addr = listener.local_addr().expect("relay address");
        let mode = Arc::new(Mutex::new(Mode::default()));
        let count = Arc::new(AtomicUsize::new(0));
        let (shared_mode, shared_count) = (Arc::clone(&mode), Arc::clone(&count));
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mode = shared_mode.lock().expect("relay lock").clone();
                let count = Arc::clone(&shared_count);
                thread::spawn(move || {
                    if http::read_request_head(&mut stream).is_none() {
                        return;
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let target = mode.target.filter(|_| !mode.down);
                    let answer = target.and_then(|issuer| {
                        let path = "/.well-known/jwks.json";
                        http::send(issuer, "GET", path, &[], b"", Duration::from_secs(5)).ok()
                    });
                    let (status, body) = match answer {
                        Some(response) => (response.status, response.text()),
                        None => (503, "no target".to_owned()),
                    };
                    let cache_control = match (&mode.cache_control, status) {
                        (Some(value), 200) => format!("cache-control: {value}\r\n"),
                        _ => String::new(),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{cache_control}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes());
                });
            }
        });
        JwksRelay { addr, mode, count }
    }

    /// The port to point the JWKS cluster at.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Where to fetch the JWKS from (the issuer's public address).
    pub fn set_target(&self, issuer: SocketAddr) {
        self.mode.lock().expect("relay lock").target = Some(issuer);
    }

    /// Simulates an outage of the JWKS endpoint (503 to every request) or ends it.
    pub fn set_down(&self, down: bool) {
        self.mode.lock().expect("relay lock").down = down;
    }

    /// Adds `Cache-Control: value` to every good answer.
    pub fn set_cache_control(&self, value: &str) {
        self.mode.lock().expect("relay lock").cache_control = Some(value.to_owned());
    }

    /// How many JWKS requests have arrived.
    pub fn fetches(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}
