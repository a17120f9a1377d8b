//! The real issuer binary: `issuer serve` on a free port, `issuer client create`, `POST /oauth/token`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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

/// A running `issuer serve` with its own SQLite database in the test's directory (or the database
/// [`IssuerOptions::database_url`] names).
pub struct Issuer {
    // Declared first so it is killed before anything else of ours goes away.
    proc: Proc,
    url: String,
    public_addr: SocketAddr,
    admin_addr: SocketAddr,
    database_url: String,
    log: LogFile,
    stdout: Lines,
    /// How it was started, for [`Issuer::restart`] and for the CLI commands run on its database.
    options: IssuerOptions,
    /// Where its logs go.
    dir: PathBuf,
    /// Processes started so far (start attempts included); numbers the log files.
    launches: usize,
}

/// How to start an issuer beyond the defaults ([`Issuer::start_with`]).
#[derive(Clone, Debug, Default)]
pub struct IssuerOptions {
    /// `--database-url`; by default a SQLite file `issuer.db` in the test's directory.
    pub database_url: Option<String>,
    /// `--issuer-url`; by default `http://` + the public address. Replicas behind one name share it.
    pub issuer_url: Option<String>,
    /// More `issuer serve` arguments, e.g. `["--key-rotation-period", "8s"]`.
    pub args: Vec<String>,
    /// Environment of `issuer serve` and of every CLI command run for this issuer (the master key,
    /// say, which replicas and the CLI must share).
    pub env: Vec<(String, String)>,
    /// Stem of the log file names in the test's directory (default `issuer`), so that several issuers
    /// can share one directory.
    pub name: Option<String>,
}

impl IssuerOptions {
    /// Adds `ISSUER_MASTER_KEY` (32 random bytes, hex) to [`IssuerOptions::env`]: processes that share
    /// a database must share the key its private keys are sealed under.
    pub fn with_test_master_key(mut self) -> Self {
        self.env
            .push(("ISSUER_MASTER_KEY".to_owned(), random_hex(32)));
        self
    }
}

/// What one `issuer serve` process announced.
struct Launched {
    proc: Proc,
    url: String,
    public_addr: SocketAddr,
    admin_addr: SocketAddr,
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
        Issuer::try_start_with(dir, IssuerOptions::default())
    }

    /// Like [`Issuer::start`], with `options` (database, issuer URL, more flags, environment).
    pub fn start_with(dir: &Path, options: IssuerOptions) -> Issuer {
        Issuer::try_start_with(dir, options).unwrap_or_else(|err| panic!("{err}"))
    }

    /// Like [`Issuer::start_with`], returning the failure instead of panicking.
    pub fn try_start_with(dir: &Path, options: IssuerOptions) -> Result<Issuer, String> {
        let database_url = options
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("issuer.db").display()));
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            // The issuer URL must equal the address it really serves on, so the port is chosen here.
            let port = process::free_port();
            let launched = match launch(dir, &options, &database_url, port, attempt) {
                Ok(launched) => launched,
                Err(err) => {
                    failures.push(format!("attempt {attempt} (port {port}): issuer {err}"));
                    continue;
                }
            };
            let issuer = Issuer {
                proc: launched.proc,
                url: launched.url,
                public_addr: launched.public_addr,
                admin_addr: launched.admin_addr,
                database_url,
                log: launched.log,
                stdout: launched.stdout,
                options,
                dir: dir.to_owned(),
                launches: attempt,
            };
            issuer.wait_ready(Duration::from_secs(30))?;
            return Ok(issuer);
        }
        Err(format!(
            "the issuer did not start ({START_ATTEMPTS} attempts):\n{}",
            failures.join("\n\n")
        ))
    }

    /// Kills the process with SIGKILL (`kill -9`: no graceful shutdown, nothing flushed that was not
    /// already) and returns how it ended.
    pub fn kill(&mut self) -> Option<std::process::ExitStatus> {
        self.proc.kill()
    }

    /// Starts `issuer serve` again, after [`Issuer::kill`], on the same port, database, issuer URL and
    /// options, and waits for `GET /ready`.
    pub fn restart(&mut self) -> Result<(), String> {
        self.proc.kill();
        self.launches += 1;
        let port = self.public_addr.port();
        let launched = launch(
            &self.dir,
            &self.options,
            &self.database_url,
            port,
            self.launches,
        )
        .map_err(|err| format!("issuer restart on port {port}: {err}"))?;
        if launched.url != self.url {
            return Err(format!(
                "the restarted issuer calls itself {}, not {}",
                launched.url, self.url
            ));
        }
        self.proc = launched.proc;
        self.public_addr = launched.public_addr;
        self.admin_addr = launched.admin_addr;
        self.log = launched.log;
        self.stdout = launched.stdout;
        self.wait_ready(Duration::from_secs(30))
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
        let output = self
            .cli()
            // An emergency rotation: the new key signs at once without being pre-published,
            // which is what the filter's unknown-`kid` refetch is for.
            .args([
                "keys",
                "rotate",
                "--emergency",
                "--database-url",
                self.database_url(),
            ])
            .output()
            .expect("run issuer keys rotate");
        assert!(
            output.status.success(),
            "issuer keys rotate: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `issuer` with this issuer's environment ([`IssuerOptions::env`]), for a CLI command.
    fn cli(&self) -> Command {
        let mut command = Command::new(&bins().issuer);
        command
            .envs(self.options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        command
    }

    /// Runs `issuer <args…> --database-url <this issuer's database>` to completion.
    pub fn run_cli(&self, args: &[&str]) -> Result<CliOutput, String> {
        let output = self
            .cli()
            .args(args)
            .args(["--database-url", &self.database_url])
            .output()
            .map_err(|err| format!("cannot run {}: {err}", bins().issuer.display()))?;
        Ok(CliOutput {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// `issuer keys list --json`: every key with its status, current first.
    pub fn keys_list(&self) -> Result<Vec<Value>, String> {
        let output = self.run_cli(&["keys", "list", "--json"])?.success()?;
        match output.json()? {
            Value::Array(keys) => Ok(keys),
            other => Err(format!("keys list --json printed {other}, not an array")),
        }
    }

    /// `issuer keys rotate <extra…>` (e.g. `--emergency`) with this issuer's rotation flags; returns
    /// the JSON object it printed (`kid` is the key that now signs).
    pub fn try_rotate_keys(&self, extra: &[&str]) -> Result<Value, String> {
        let mut args = vec!["keys", "rotate"];
        args.extend(rotation_flags(&self.options.args));
        args.extend_from_slice(extra);
        self.run_cli(&args)?.success()?.json()
    }

    /// `GET /.well-known/jwks.json`, without panicking.
    pub fn try_jwks(&self) -> Result<Value, String> {
        let response = http::send(
            self.public_addr,
            "GET",
            "/.well-known/jwks.json",
            &[],
            b"",
            http::DEFAULT_TIMEOUT,
        )
        .map_err(|err| format!("GET /.well-known/jwks.json: {err}"))?;
        if response.status != 200 {
            return Err(format!("GET /.well-known/jwks.json:\n{response:?}"));
        }
        response.try_json()
    }

    /// An access token for `client`, or why there is none (transport error, or a response other than
    /// 200 with an `access_token`).
    pub fn try_token(&self, client: &Client) -> Result<String, String> {
        try_token_at(self.public_addr, client)
    }

    /// The admin API token this process printed (`{"event":"admin_credential",...}`): only on the
    /// first start on an empty database, so `None` after a restart or for a second replica (use
    /// [`Issuer::reset_admin_credential`] then).
    pub fn admin_token(&self) -> Option<String> {
        self.stdout.snapshot().iter().find_map(|line| {
            let value: Value = serde_json::from_str(line).ok()?;
            if value.get("event")?.as_str()? != "admin_credential" {
                return None;
            }
            value.get("token")?.as_str().map(str::to_owned)
        })
    }

    /// `issuer admin reset-credential`: revokes every admin credential and returns the new token.
    pub fn reset_admin_credential(&self) -> Result<String, String> {
        let output = self.run_cli(&["admin", "reset-credential"])?.success()?;
        output
            .json()?
            .get("token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("no token in {:?}", output.stdout))
    }

    /// A request to the admin port with `Authorization: Bearer <token>` (a JSON body when not empty);
    /// panics (with the issuer log) on a transport error.
    #[track_caller]
    pub fn admin_request(&self, method: &str, target: &str, token: &str, body: &[u8]) -> Response {
        let authorization = format!("Bearer {token}");
        let mut headers = vec![("Authorization", authorization.as_str())];
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        http::send(
            self.admin_addr,
            method,
            target,
            &headers,
            body,
            http::DEFAULT_TIMEOUT,
        )
        .unwrap_or_else(|err| self.fail(&format!("{method} {target} at the admin port: {err}")))
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

    /// `issuer client create <id> --kind agent`: an agent that may exchange other principals'
    /// tokens for delegated ones; panics if it fails.
    #[track_caller]
    pub fn create_agent(&self, id: &str, scope: &str, audience: &str) -> Client {
        let spec = NewClient {
            id,
            scope,
            audience: Some(audience),
            ttl: None,
        };
        self.try_create_client_as(spec, &["--kind", "agent"])
            .unwrap_or_else(|err| {
                self.fail(&format!("issuer client create {id} --kind agent: {err}"))
            })
    }

    /// `POST /oauth/token` with the token exchange grant (RFC 8693): `agent` trades
    /// `subject_token` for a delegated token, narrowed to `scope` if given.
    pub fn exchange(&self, agent: &Client, subject_token: &str, scope: Option<&str>) -> Response {
        let mut form = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", subject_token),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.token_request(
            &form,
            Some((agent.client_id.as_str(), agent.client_secret.as_str())),
        )
    }

    /// [`Issuer::exchange`], panicking unless it answers 200 with an `access_token`.
    #[track_caller]
    pub fn exchanged(&self, agent: &Client, subject_token: &str, scope: Option<&str>) -> String {
        let response = self.exchange(agent, subject_token, scope);
        response
            .try_json()
            .ok()
            .filter(|_| response.status == 200)
            .and_then(|body| body.get("access_token")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                self.fail(&format!(
                    "token exchange by {} failed:\n{response:?}",
                    agent.client_id
                ))
            })
    }

    /// `issuer client create`, returning the failure (exit status and stderr) instead of panicking.
    pub fn try_create_client(&self, spec: NewClient<'_>) -> Result<Client, String> {
        self.try_create_client_as(spec, &[])
    }

    /// `issuer client create` with `extra` arguments (e.g. `--kind agent`).
    fn try_create_client_as(&self, spec: NewClient<'_>, extra: &[&str]) -> Result<Client, String> {
        let mut command = self.cli();
        command.args(["client", "create", spec.id, "--scope", spec.scope]);
        command.args(extra);
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

/// What a CLI command printed and how it exited.
#[derive(Debug)]
pub struct CliOutput {
    /// The exit status.
    pub status: std::process::ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliOutput {
    /// `self` if the command succeeded; otherwise an error with its status and output.
    pub fn success(self) -> Result<CliOutput, String> {
        if self.status.success() {
            Ok(self)
        } else {
            Err(format!(
                "exited with {}\nstdout: {}\nstderr: {}",
                self.status, self.stdout, self.stderr
            ))
        }
    }

    /// Standard output as one JSON document (log lines around it are tolerated: the last line that
    /// parses is taken when the whole does not).
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_str::<Value>(self.stdout.trim())
            .ok()
            .or_else(|| {
                self.stdout
                    .lines()
                    .rev()
                    .find_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
            })
            .ok_or_else(|| {
                format!(
                    "stdout is not JSON: {:?}\nstderr: {}",
                    self.stdout, self.stderr
                )
            })
    }

    /// Did clap refuse the subcommand (the binary does not have it)?
    pub fn unknown_subcommand(&self) -> bool {
        !self.status.success() && self.stderr.contains("unrecognized subcommand")
    }
}

/// The `--key-rotation-period` and `--jwks-max-age` flags (with their values) among `args`: `keys
/// rotate` follows the same policy as `serve`.
fn rotation_flags(args: &[String]) -> Vec<&str> {
    let mut flags = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--key-rotation-period" || arg == "--jwks-max-age" || arg == "--signing-alg" {
            flags.push(arg.as_str());
            if let Some(value) = iter.next() {
                flags.push(value.as_str());
            }
        } else if arg.starts_with("--key-rotation-period=")
            || arg.starts_with("--jwks-max-age=")
            || arg.starts_with("--signing-alg=")
        {
            flags.push(arg.as_str());
        }
    }
    flags
}

/// `POST /oauth/token` (client_credentials, client_secret_basic) to the issuer at `addr`: the access
/// token, or why there is none. Needs no [`Issuer`], so load threads can go on while the test kills
/// and restarts the process.
pub fn try_token_at(addr: SocketAddr, client: &Client) -> Result<String, String> {
    let pair = format!(
        "{}:{}",
        http::percent_encode(&client.client_id),
        http::percent_encode(&client.client_secret)
    );
    let authorization = format!("Basic {}", STANDARD.encode(pair));
    let response = http::send(
        addr,
        "POST",
        "/oauth/token",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", &authorization),
        ],
        http::form_encode(&[("grant_type", "client_credentials")]).as_bytes(),
        http::DEFAULT_TIMEOUT,
    )
    .map_err(|err| format!("POST /oauth/token: {err}"))?;
    if response.status != 200 {
        return Err(format!("POST /oauth/token:\n{response:?}"));
    }
    response
        .try_json()?
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no access_token in\n{response:?}"))
}

/// `n` random bytes from the kernel, as lower-case hex.
fn random_hex(n: usize) -> String {
    use std::io::Read as _;
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut bytes))
        .unwrap_or_else(|err| panic!("cannot read /dev/urandom: {err}"));
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts one `issuer serve` on `port` and waits for its "listening" line.
fn launch(
    dir: &Path,
    options: &IssuerOptions,
    database_url: &str,
    port: u16,
    number: usize,
) -> Result<Launched, String> {
    let url = options
        .issuer_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
    let name = options.name.as_deref().unwrap_or("issuer");
    let (log, stderr) = LogFile::create(dir.join(format!("{name}.{number}.log")))
        .map_err(|err| format!("cannot create the issuer log: {err}"))?;
    let mut command = Command::new(&bins().issuer);
    command
        .args(["serve", "--database-url", database_url])
        .args(["--public-addr", &format!("127.0.0.1:{port}")])
        .args(["--admin-addr", "127.0.0.1:0"])
        .args(["--issuer-url", &url])
        .args(&options.args)
        .envs(options.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(stderr);
    let mut proc = Proc::spawn(name, command).map_err(|err| err.to_string())?;
    let stdout = proc.take_stdout().ok_or("issuer stdout was not piped")?;
    // Other lines (e.g. `{"event":"admin_credential",...}`) may come first; they are kept, not waited for.
    let (lines, rx) = Lines::drain(stdout, process::is_listening_line);
    let line = process::wait_line(&mut proc, &rx, Duration::from_secs(30)).map_err(|err| {
        format!(
            "{err}\n--- issuer log ---\n{}\n--- issuer stdout ---\n{}",
            log.tail(30),
            lines.snapshot().join("\n")
        )
    })?;
    let public_addr = process::listening_addr(&line, "public")?;
    let admin_addr = process::listening_addr(&line, "admin")?;
    if public_addr.port() != port {
        return Err(format!(
            "issuer listens on {public_addr}, not on the requested port {port}: {line}"
        ));
    }
    Ok(Launched {
        proc,
        url,
        public_addr,
        admin_addr,
        log,
        stdout: lines,
    })
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

/// A fresh database on the PostgreSQL server at `POSTGRES_URL` (default
/// `postgres://postgres@127.0.0.1:5432/test`), for issuers that share one database; dropped
/// `WITH (FORCE)` when this value is.
pub struct PostgresDatabase {
    server: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    /// Creates `issuer_e2e_<unique>`; panics if the server cannot be reached.
    pub fn create() -> PostgresDatabase {
        PostgresDatabase::try_create().unwrap_or_else(|err| panic!("{err}"))
    }

    /// Like [`PostgresDatabase::create`], returning the failure instead of panicking.
    pub fn try_create() -> Result<PostgresDatabase, String> {
        let server = std::env::var("POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let name = format!("issuer_e2e_{}", unique_suffix());
        block_on(async {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&server).await.map_err(|err| {
                format!(
                    "cannot reach PostgreSQL at {server} (set POSTGRES_URL; `make test` starts one): {err}"
                )
            })?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .map_err(|err| format!("CREATE DATABASE {name}: {err}"))?;
            conn.close().await.ok();
            Ok::<(), String>(())
        })??;
        let url = database_url_named(&server, &name);
        Ok(PostgresDatabase { server, name, url })
    }

    /// Its URL, for `--database-url`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let server = self.server.clone();
        let result = block_on(async move {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&server)
                .await
                .map_err(|err| err.to_string())?;
            sqlx::query(&drop)
                .execute(&mut conn)
                .await
                .map_err(|err| err.to_string())?;
            conn.close().await.ok();
            Ok::<(), String>(())
        });
        if let Err(err) | Ok(Err(err)) = result {
            eprintln!("e2e: cannot drop database {}: {err}", self.name);
        }
    }
}

/// `server` (a PostgreSQL URL) with its database name replaced by `name`.
fn database_url_named(server: &str, name: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(base, query)| (base, Some(query)));
    let base = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Unique within this machine for a while: process id, clock and a counter.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One row of the issuer's `audit_log` table, read straight from the database.
#[derive(Clone, Debug)]
pub struct AuditRow {
    /// Position in the chain.
    pub seq: i64,
    /// E.g. `token.issued`.
    pub action: String,
    /// E.g. the jti for `token.issued`.
    pub target: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The previous record's hash.
    pub prev_hash: Vec<u8>,
    /// This record's hash.
    pub hash: Vec<u8>,
}

/// Every row of `audit_log` in `database_url` (SQLite or PostgreSQL), in `seq` order. For when the
/// issuer has no command that shows them.
pub fn read_audit_log(database_url: &str) -> Result<Vec<AuditRow>, String> {
    use sqlx::Row as _;
    static DRIVERS: std::sync::Once = std::sync::Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
    let url = match database_url.strip_prefix("sqlite:") {
        // Read-only: the test only looks.
        Some(_) if !database_url.contains('?') => format!("{database_url}?mode=ro"),
        _ => database_url.to_owned(),
    };
    block_on(async move {
        use sqlx::Connection as _;
        let mut conn = sqlx::AnyConnection::connect(&url)
            .await
            .map_err(|err| format!("cannot open {url}: {err}"))?;
        let rows = sqlx::query(
            "SELECT seq, action, target, outcome, prev_hash, hash FROM audit_log ORDER BY seq",
        )
        .fetch_all(&mut conn)
        .await
        .map_err(|err| format!("reading audit_log: {err}"))?;
        conn.close().await.ok();
        rows.iter()
            .map(|row| {
                Ok(AuditRow {
                    seq: row.try_get("seq")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    outcome: row.try_get("outcome")?,
                    prev_hash: row.try_get("prev_hash")?,
                    hash: row.try_get("hash")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(|err| format!("decoding audit_log: {err}"))
    })?
}

/// Runs `future` on a runtime of its own (the harness is synchronous).
fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|runtime| runtime.block_on(future))
        .map_err(|err| format!("cannot start a tokio runtime: {err}"))
}
