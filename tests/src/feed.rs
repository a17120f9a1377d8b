//! A revocation feed the test controls: a loopback HTTP server that answers every request with the
//! body the test last set, and counts the requests.
//!
//! Point a cluster at [`FeedServer::port`] (`StackOptions::cluster`) and a provider's
//! `revocations` at that cluster. Until [`FeedServer::set_feed`] is called it answers 503, which is
//! also how [`FeedServer::set_down`] simulates an outage.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::Value;

use crate::http;

/// How the server answers.
#[derive(Debug, Clone, Default)]
struct Mode {
    /// The JSON document to serve with 200; `None` answers 503.
    body: Option<String>,
    /// An outage: 503 whatever else is set.
    down: bool,
}

/// The feed server; it stops accepting when the test process ends.
pub struct FeedServer {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    count: Arc<AtomicUsize>,
}

impl FeedServer {
    /// Starts the server on a free loopback port, answering 503 until a feed is set.
    pub fn start() -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the feed server");
        let addr = listener.local_addr().expect("feed server address");
        let mode = Arc::new(Mutex::new(Mode::default()));
        let count = Arc::new(AtomicUsize::new(0));
        let (shared_mode, shared_count) = (Arc::clone(&mode), Arc::clone(&count));
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mode = Arc::clone(&shared_mode);
                let count = Arc::clone(&shared_count);
                thread::spawn(move || {
                    if http::read_request_head(&mut stream).is_none() {
                        return;
                    }
                    // The mode when the request arrived: a test that changes the feed and then
                    // sees a fetch counted knows that fetch got the new feed.
                    let mode = mode.lock().expect("feed lock").clone();
                    count.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = match (&mode.body, mode.down) {
                        (_, true) => (503, "down".to_owned()),
                        (Some(body), false) => (200, body.clone()),
                        (None, false) => (503, "no feed yet".to_owned()),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes());
                });
            }
        });
        FeedServer { addr, mode, count }
    }

    /// The port to point the feed's cluster at.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves `feed` (with 200) from now on.
    pub fn set_feed(&self, feed: &Value) {
        self.mode.lock().expect("feed lock").body = Some(feed.to_string());
    }

    /// Simulates an outage of the feed endpoint (503 to every request) or ends it.
    pub fn set_down(&self, down: bool) {
        self.mode.lock().expect("feed lock").down = down;
    }

    /// How many feed requests have arrived.
    pub fn fetches(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}
