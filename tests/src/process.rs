//! Child processes that cannot outlive the test, free ports, and log files.

use std::collections::HashSet;
use std::io::{self, BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

/// A child process that is killed (SIGKILL) and reaped when dropped.
///
/// It also gets `PR_SET_PDEATHSIG = SIGKILL`, so it dies with the test process even when the test
/// crashes without unwinding. Linux sends that signal when the *thread* that spawned the child exits, so a
/// child must be owned by the thread that started it: start the stack inside the `#[test]` function, never
/// in a shared static.
pub(crate) struct Proc {
    name: String,
    child: Child,
}

impl Proc {
    /// Spawns `command` with stdin closed and the parent-death signal set.
    pub(crate) fn spawn(name: &str, mut command: Command) -> io::Result<Proc> {
        command.stdin(Stdio::null());
        // SAFETY: the closure runs between fork and exec and calls only async-signal-safe libc
        // functions (prctl, getppid, _exit); it allocates nothing and takes no locks.
        let parent = std::process::id();
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|err| io::Error::new(err.kind(), format!("cannot start {name}: {err}")))?;
        Ok(Proc {
            name: name.to_owned(),
            child,
        })
    }

    /// The exit status if the process has ended.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Takes the piped stdout (once).
    pub(crate) fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// Kills the process now and returns how it ended.
    pub(crate) fn kill(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        if let Err(err) = self.child.kill() {
            eprintln!("e2e: cannot kill {}: {err}", self.name);
        }
        self.child.wait().ok()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port: bound to port 0, read and released. Never hands out the same port twice in one
/// test process, so parallel tests do not race each other for it (other processes still can, which is
/// why the issuer start is retried).
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(Default::default);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .unwrap_or_else(|err| panic!("cannot bind a loopback port: {err}"));
        let mut given = given.lock().unwrap_or_else(|poison| poison.into_inner());
        if given.insert(port) {
            return port;
        }
    }
}

/// Lines a child writes on stdout, read by a background thread so the child never blocks on a full pipe.
#[derive(Clone, Default)]
pub(crate) struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    /// Starts draining `stdout`. Every line is kept; the first line that `is_ready` accepts is also sent
    /// on the returned channel.
    pub(crate) fn drain(
        stdout: ChildStdout,
        is_ready: impl Fn(&str) -> bool + Send + 'static,
    ) -> (Lines, mpsc::Receiver<String>) {
        let lines = Lines::default();
        let (tx, rx) = mpsc::channel();
        let sink = lines.clone();
        thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && is_ready(&line) {
                    sent = true;
                    let _ = tx.send(line.clone());
                }
                sink.0
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .push(line);
            }
        });
        (lines, rx)
    }

    /// A copy of every line read so far.
    pub(crate) fn snapshot(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }
}

/// Waits for the "listening" line on `rx`, watching for the process dying first.
pub(crate) fn wait_line(
    proc: &mut Proc,
    rx: &mpsc::Receiver<String>,
    timeout: Duration,
) -> Result<String, String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => return Ok(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = proc.kill();
                return Err(format!(
                    "stdout closed before it printed its address ({status:?})"
                ));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(status) = proc.exited() {
            return Err(format!(
                "exited with {status} before it printed its address"
            ));
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("printed no address within {timeout:?}"));
        }
    }
}

/// Parses `{"event":"listening", <key>: "IP:PORT"}`.
pub(crate) fn listening_addr(line: &str, key: &str) -> Result<SocketAddr, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|err| format!("bad listening line {line:?}: {err}"))?;
    value
        .get(key)
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no socket address in {key:?} of {line:?}"))
}

/// True for a `{"event":"listening",...}` line.
pub(crate) fn is_listening_line(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v.get("event")?.as_str().map(|e| e == "listening"))
        .unwrap_or(false)
}

/// A log file a child writes (its stderr, or Envoy's log).
#[derive(Clone, Debug)]
pub struct LogFile(PathBuf);

impl LogFile {
    pub(crate) fn create(path: PathBuf) -> io::Result<(LogFile, std::fs::File)> {
        let file = std::fs::File::create(&path)?;
        Ok((LogFile(path), file))
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The whole file (lossy UTF-8; empty if unreadable).
    pub fn read(&self) -> String {
        std::fs::read(&self.0)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines, each cut to a readable length (Envoy's start-up lines are kilobytes long).
    pub fn tail(&self, lines: usize) -> String {
        tail_text(&self.read(), lines)
    }

    /// Like [`LogFile::tail`], without Envoy's start-up banner (`[info][main]` lines: version, the list of
    /// compiled-in extensions, header map sizes), which would otherwise fill the tail of a short run.
    pub fn tail_without_banner(&self, lines: usize) -> String {
        tail_text(&without_banner(&self.read()), lines)
    }
}

/// `text` without Envoy's `[info][main]` start-up lines.
pub(crate) fn without_banner(text: &str) -> String {
    text.lines()
        .filter(|line| !line.contains("[info][main]"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn tail_text(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..]
        .iter()
        .map(|line| {
            if line.len() > 600 {
                let mut cut = 600;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!("{}…", &line[..cut])
            } else {
                (*line).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
