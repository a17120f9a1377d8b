//! The demo upstream (`envoy/demo-upstream`): echoes each request as JSON and logs one line per request,
//! which is how a test proves that a denied request never arrived.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bins;
use crate::http;
use crate::process::{self, Lines, LogFile, Proc};

/// A running demo upstream on a free loopback port.
pub struct Upstream {
    proc: Proc,
    addr: SocketAddr,
    stdout: Lines,
    log: LogFile,
}

/// One request the upstream received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Request method.
    pub method: String,
    /// Path with query.
    pub path: String,
}

impl Upstream {
    /// Starts `UPSTREAM_BIN --addr 127.0.0.1:0` and reads the port it printed.
    pub fn try_start(dir: &Path) -> Result<Upstream, String> {
        let (log, stderr) = LogFile::create(dir.join("upstream.log"))
            .map_err(|err| format!("cannot create the upstream log: {err}"))?;
        let mut command = Command::new(&bins().upstream);
        command
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut proc = Proc::spawn("demo-upstream", command).map_err(|err| err.to_string())?;
        let stdout = proc
            .take_stdout()
            .ok_or("demo-upstream stdout was not piped")?;
        let (lines, rx) = Lines::drain(stdout, process::is_listening_line);
        let line = process::wait_line(&mut proc, &rx, Duration::from_secs(20))
            .map_err(|err| format!("demo-upstream {err}\n{}", log.tail(20)))?;
        let addr = process::listening_addr(&line, "addr")?;
        Ok(Upstream {
            proc,
            addr,
            stdout: lines,
            log,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Seen> {
        self.stdout
            .snapshot()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|event| event.get("event").and_then(Value::as_str) == Some("request"))
            .map(|event| Seen {
                method: str_member(&event, "method"),
                path: str_member(&event, "path"),
            })
            .collect()
    }

    /// Has the upstream received a request whose path (with query) is exactly `path`?
    ///
    /// Waits until the upstream's log has caught up first: it sends its own request straight to the
    /// upstream and waits for that line, so a request that completed before this call is either in the
    /// log or was never received.
    pub fn received(&self, path: &str) -> Result<bool, String> {
        static SYNC: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SYNC.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let marker = format!("/__e2e_sync/{}/{n}", std::process::id());
        let response = http::send(self.addr, "GET", &marker, &[], b"", http::DEFAULT_TIMEOUT)
            .map_err(|err| format!("direct request to the upstream: {err}"))?;
        if response.status != 200 {
            return Err(format!(
                "the upstream answered a direct request with {response:?}"
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.requests();
            if seen.iter().any(|s| s.path == marker) {
                return Ok(seen.iter().any(|s| s.path == path));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the upstream never logged {marker}; stderr:\n{}",
                    self.log.tail(20)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Is the process still running?
    pub fn is_running(&mut self) -> bool {
        self.proc.exited().is_none()
    }
}

fn str_member(value: &Value, name: &str) -> String {
    value
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
