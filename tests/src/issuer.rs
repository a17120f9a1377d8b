//! The real issuer binary: `issuer serve` on a free port, `issuer client create`, `POST /oauth/token`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::http::{self, Response};
use crate::process::{self, Lines, LogFile, Proc};
use crate::{Diagnose, bins};

/// How often a port collision with another process is retried.
const START_ATTEMPTS: usize = 3;

/// A running `issuer serve` with its own SQLite database in the test's directory.
pub struct Issuer {
    // Declared first so it is killed before anything else of ours goes away.
    proc: Proc,
    url: String,
    public_addr: SocketAddr,
    admin_addr: SocketAddr,
    database_url: String,
    log: LogFile,
    stdout: Lines,
}

/// A client registered with `issuer client create`.
#[derive(Clone, Debug)]
pub struct Client {
    /// `client_id` from the command's output.
    pub client_id: String,
    /// `client_secret` from the command's output.
    pub client_secret: String,
    /// The whole JSON object the command printed.
    pub output: Value,
}

/// Arguments for `issuer client create`.
#[derive(Clone, Copy, Debug)]
pub struct NewClient<'a> {
    /// The client id (also the token's `sub`).
    pub id: &'a str,
    /// Space-separated scopes the client may be granted.
    pub scope: &'a str,
    /// `--audience`, if any.
    pub audience: Option<&'a str>,
    /// `--ttl` in seconds, if any.
    pub ttl: Option<u64>,
}

impl Issuer {
    /// Starts the issuer with a database under `dir` and waits for `GET /ready`; panics with the issuer's
    /// log if it does not come up.
    pub fn start(dir: &Path) -> Issuer {
        Issuer::try_start(dir).unwrap_or_else(|err| panic!("{err}"))
    }

    /// Like [`Issuer::start`], returning the failure instead of panicking.
    pub fn try_start(dir: &Path) -> Result<Issuer, String> {
        let database_url = format!("sqlite://{}", dir.join("issuer.db").display());
        let log_path = dir.join("issuer.log");
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            // The issuer URL must equal the address it really serves on, so the port is chosen here.
            let port = process::free_port();
            let url = format!("http://127.0.0.1:{port}");
            let (log, stderr) = LogFile::create(log_path.with_extension(format!("{attempt}.log")))
                .map_err(|err| format!("cannot create the issuer log: {err}"))?;
            let mut command = Command::new(&bins().issuer);
            command
                .args(["serve", "--database-url", &database_url])
                .args(["--public-addr", &format!("127.0.0.1:{port}")])
                .args(["--admin-addr", "127.0.0.1:0"])
                .args(["--issuer-url", &url])
                .stdout(Stdio::piped())
                .stderr(stderr);
            let mut proc = Proc::spawn("issuer", command).map_err(|err| err.to_string())?;
            let stdout = proc.take_stdout().ok_or("issuer stdout was not piped")?;
            let (lines, rx) = Lines::drain(stdout, process::is_listening_line);
            let line = match process::wait_line(&mut proc, &rx, Duration::from_secs(30)) {
                Ok(line) => line,
                Err(err) => {
                    let tail = log.tail(30);
                    failures.push(format!(
                        "attempt {attempt} (port {port}): issuer {err}\n--- issuer log ---\n{tail}\n--- issuer stdout ---\n{}",
                        lines.snapshot().join("\n")
                    ));
                    continue;
                }
            };
            let public_addr = process::listening_addr(&line, "public")?;
            let admin_addr = process::listening_addr(&line, "admin")?;
            if public_addr.port() != port {
                return Err(format!(
                    "issuer listens on {public_addr}, not on the requested port {port}: {line}"
                ));
            }
            let issuer = Issuer {
                proc,
                url,
                public_addr,
                admin_addr,
                database_url,
                log,
                stdout: lines,
            };
            issuer.wait_ready(Duration::from_secs(30))?;
            return Ok(issuer);
        }
        Err(format!(
            "the issuer did not start ({START_ATTEMPTS} attempts):\n{}",
            failures.join("\n\n")
        ))
    }

    fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            match http::send(
                self.public_addr,
                "GET",
                "/ready",
                &[],
                b"",
                Duration::from_secs(5),
            ) {
                Ok(response) if response.status == 200 => return Ok(()),
                Ok(response) => last = format!("{response:?}"),
                Err(err) => last = err.to_string(),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "issuer /ready did not answer 200 within {timeout:?}; last: {last}\n{}",
            self.diagnostics()
        ))
    }

    /// The issuer URL (`iss`), `http://127.0.0.1:<public port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The public listener (token, JWKS, metadata).
    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    /// The admin listener.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The `--database-url` this issuer and its CLI calls share.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The issuer's stderr.
    pub fn log(&self) -> &LogFile {
        &self.log
    }

    /// `issuer keys rotate` on this issuer's database: new tokens are signed with a new key,
    /// the old one stays published. Panics with the issuer's stderr if it fails.
    pub fn rotate_keys(&self) {
        let output = Command::new(&bins().issuer)
            .args(["keys", "rotate", "--database-url", self.database_url()])
            .output()
            .expect("run issuer keys rotate");
        assert!(
            output.status.success(),
            "issuer keys rotate: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `issuer client create <id> --scope <scope> --audience <audience>`; panics if it fails.
    #[track_caller]
    pub fn create_client(&self, id: &str, scope: &str, audience: &str) -> Client {
        self.create_client_with(NewClient {
            id,
            scope,
            audience: Some(audience),
            ttl: None,
        })
    }

    /// `issuer client create` with every option; panics if it fails.
    #[track_caller]
    pub fn create_client_with(&self, spec: NewClient<'_>) -> Client {
        self.try_create_client(spec)
            .unwrap_or_else(|err| self.fail(&format!("issuer client create {}: {err}", spec.id)))
    }

    /// `issuer client create`, returning the failure (exit status and stderr) instead of panicking.
    pub fn try_create_client(&self, spec: NewClient<'_>) -> Result<Client, String> {
        let mut command = Command::new(&bins().issuer);
        command.args(["client", "create", spec.id, "--scope", spec.scope]);
        if let Some(audience) = spec.audience {
            command.args(["--audience", audience]);
        }
        if let Some(ttl) = spec.ttl {
            command.args(["--ttl", &ttl.to_string()]);
        }
        command.args(["--database-url", &self.database_url]);
        command.stdin(Stdio::null());
        let output = command
            .output()
            .map_err(|err| format!("cannot run {}: {err}", bins().issuer.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(format!(
                "exited with {}\nstdout: {stdout}\nstderr: {stderr}",
                output.status
            ));
        }
        // One JSON object on stdout; tolerate log lines around it.
        let json = serde_json::from_str::<Value>(stdout.trim())
            .ok()
            .or_else(|| {
                stdout
                    .lines()
                    .rev()
                    .find_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
            })
            .filter(Value::is_object)
            .ok_or_else(|| {
                format!("stdout is not one JSON object: {stdout:?}\nstderr: {stderr}")
            })?;
        let field = |name: &str| {
            json.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("no string {name:?} in {json}"))
        };
        Ok(Client {
            client_id: field("client_id")?,
            client_secret: field("client_secret")?,
            output: json.clone(),
        })
    }

    /// `POST /oauth/token` with `grant_type=client_credentials` (client_secret_basic); panics unless the
    /// issuer answers 200 with an `access_token`.
    #[track_caller]
    pub fn token(&self, client: &Client) -> String {
        self.token_for(client, None)
    }

    /// Like [`Issuer::token`], asking for a narrower `scope`.
    #[track_caller]
    pub fn token_with_scope(&self, client: &Client, scope: &str) -> String {
        self.token_for(client, Some(scope))
    }

    #[track_caller]
    fn token_for(&self, client: &Client, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self.token_request(
            &form,
            Some((client.client_id.as_str(), client.client_secret.as_str())),
        );
        if response.status != 200 {
            self.fail(&format!(
                "token request for {} failed:\n{response:?}",
                client.client_id
            ));
        }
        let body = response
            .try_json()
            .unwrap_or_else(|err| self.fail(&format!("token response: {err}")));
        body.get("access_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| self.fail(&format!("no access_token in the token response {body}")))
    }

    /// A raw `POST /oauth/token` with `form` as the body and, if given, HTTP Basic client
    /// authentication (RFC 6749 §2.3.1: id and secret form-encoded before base64).
    pub fn token_request(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Response {
        let authorization = basic.map(|(id, secret)| {
            let pair = format!(
                "{}:{}",
                http::percent_encode(id),
                http::percent_encode(secret)
            );
            format!("Basic {}", STANDARD.encode(pair))
        });
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        if let Some(value) = authorization.as_deref() {
            headers.push(("Authorization", value));
        }
        self.request(
            "POST",
            "/oauth/token",
            &headers,
            http::form_encode(form).as_bytes(),
        )
    }

    /// Any request to the public port; panics (with the issuer log) on a transport error.
    #[track_caller]
    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        http::send(
            self.public_addr,
            method,
            target,
            headers,
            body,
            http::DEFAULT_TIMEOUT,
        )
        .unwrap_or_else(|err| self.fail(&format!("{method} {target} at the issuer: {err}")))
    }

    /// Is the process still running?
    pub fn is_running(&mut self) -> bool {
        self.proc.exited().is_none()
    }
}

impl Diagnose for Issuer {
    fn diagnostics(&self) -> String {
        format!(
            "--- issuer log ({}) ---\n{}\n--- issuer stdout ---\n{}",
            self.log.path().display(),
            self.log.tail(40),
            process::tail_text(&self.stdout.snapshot().join("\n"), 10)
        )
    }
}
