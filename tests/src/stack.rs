//! The whole demo stack for one test: issuer, demo upstream and Envoy with the filter.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitStatus;

use serde_json::Value;

use crate::envoy::{self, Clusters, Envoy, EnvoyFailure};
use crate::http::{self, Response};
use crate::issuer::{Client, Issuer, IssuerOptions, NewClient};
use crate::upstream::Upstream;
use crate::{Diagnose, bins};

type ConfigFn = Box<dyn FnOnce(&str) -> Value>;

/// How to start a [`Stack`]. The default is `envoy/envoy.yaml`'s filter configuration pointed at the
/// test's issuer.
#[derive(Default)]
pub struct StackOptions {
    filter_config: Option<ConfigFn>,
    jwks_port: Option<u16>,
    issuer: IssuerOptions,
    running_issuer: Option<(Issuer, tempfile::TempDir)>,
    clusters: Vec<(String, u16)>,
}

impl StackOptions {
    /// The filter configuration, built from the issuer URL (which is only known once the issuer runs).
    /// Start from [`envoy::default_filter_config`] and change what the test is about.
    pub fn filter_config(mut self, build: impl FnOnce(&str) -> Value + 'static) -> Self {
        self.filter_config = Some(Box::new(build));
        self
    }

    /// Points cluster `issuer` (where the filter fetches the JWKS) at `127.0.0.1:port` instead of the
    /// issuer, e.g. a port where nothing listens.
    pub fn jwks_cluster_port(mut self, port: u16) -> Self {
        self.jwks_port = Some(port);
        self
    }

    /// Starts the stack's issuer with `options` (database, more `serve` flags, environment).
    pub fn issuer(mut self, options: IssuerOptions) -> Self {
        self.issuer = options;
        self
    }

    /// Builds the stack around an issuer that already runs, started in `dir` (which the stack then
    /// owns), instead of starting one: e.g. one the test has already crashed and restarted.
    pub fn around_issuer(mut self, issuer: Issuer, dir: tempfile::TempDir) -> Self {
        self.running_issuer = Some((issuer, dir));
        self
    }

    /// Adds cluster `name` pointing at `127.0.0.1:port`, for the filter configuration to name
    /// (e.g. a provider's `revocations` served by a [`crate::FeedServer`]).
    pub fn cluster(mut self, name: &str, port: u16) -> Self {
        self.clusters.push((name.to_owned(), port));
        self
    }
}

/// Why [`Stack::try_start`] failed.
pub enum StartError {
    /// Envoy did not come up (exited, or never served its listener).
    Envoy(EnvoyFailure),
    /// The issuer or the demo upstream did not come up; the text says which and why.
    Other(String),
}

impl StartError {
    /// Envoy's exit status when it exited by itself.
    pub fn envoy_exit(&self) -> Option<ExitStatus> {
        match self {
            StartError::Envoy(failure) => failure.exit,
            StartError::Other(_) => None,
        }
    }

    /// The Envoy log ("" when Envoy was never started).
    pub fn envoy_log(&self) -> &str {
        match self {
            StartError::Envoy(failure) => &failure.log,
            StartError::Other(_) => "",
        }
    }
}

impl fmt::Debug for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Envoy(failure) => failure.fmt(f),
            StartError::Other(message) => f.write_str(message),
        }
    }
}

/// Issuer + demo upstream + Envoy, each on free loopback ports, in a fresh temporary directory.
///
/// Dropping it kills all three. If the test is panicking at that point, the Envoy and issuer log tails
/// are printed (the test harness shows them with the failure) and the directory is kept.
pub struct Stack {
    // Drop order: Envoy first, so it does not log the others going away.
    envoy: Envoy,
    upstream: Upstream,
    issuer: Issuer,
    dir: Option<tempfile::TempDir>,
}

impl Stack {
    /// Starts everything; panics with the logs if anything does not come up.
    pub fn start(options: StackOptions) -> Stack {
        Stack::try_start(options).unwrap_or_else(|err| panic!("{err:?}"))
    }

    /// Starts everything, returning why it failed instead of panicking (for tests of refused
    /// configurations).
    pub fn try_start(mut options: StackOptions) -> Result<Stack, StartError> {
        let bins = bins();
        let (issuer, dir) = match options.running_issuer.take() {
            Some(running) => running,
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("e2e-")
                    .tempdir()
                    .map_err(|err| {
                        StartError::Other(format!("cannot create a temporary directory: {err}"))
                    })?;
                match Issuer::try_start_with(dir.path(), std::mem::take(&mut options.issuer)) {
                    Ok(issuer) => (issuer, dir),
                    Err(err) => {
                        return Err(StartError::Other(format!(
                            "{err}\n(files kept in {})",
                            keep(dir)
                        )));
                    }
                }
            }
        };
        let upstream = match Upstream::try_start(dir.path()) {
            Ok(upstream) => upstream,
            Err(err) => {
                return Err(StartError::Other(format!(
                    "{err}\n(files kept in {})",
                    keep(dir)
                )));
            }
        };
        let filter_config = match options.filter_config {
            Some(build) => build(issuer.url()),
            None => envoy::default_filter_config(issuer.url()),
        };
        let jwks = match options.jwks_port {
            Some(port) => SocketAddr::from(([127, 0, 0, 1], port)),
            None => issuer.public_addr(),
        };
        let config = envoy::envoy_config(
            Clusters {
                issuer: jwks,
                upstream: upstream.addr(),
                extra: options
                    .clusters
                    .iter()
                    .map(|(name, port)| (name.clone(), SocketAddr::from(([127, 0, 0, 1], *port))))
                    .collect(),
            },
            &bins.filter_wasm,
            &filter_config,
        );
        let envoy = match Envoy::start(dir.path(), &config) {
            Ok(envoy) => envoy,
            // The failure carries the whole log; the directory goes (a refused configuration is an
            // expected outcome in some tests).
            Err(failure) => return Err(StartError::Envoy(failure)),
        };
        Ok(Stack {
            envoy,
            upstream,
            issuer,
            dir: Some(dir),
        })
    }

    /// The issuer.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The test's directory (logs, configuration, the SQLite database), kept when the test fails.
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .map(|dir| dir.path())
            .unwrap_or_else(|| Path::new(""))
    }

    /// The issuer URL (`iss` of every token).
    pub fn issuer_url(&self) -> &str {
        self.issuer.url()
    }

    /// Envoy.
    pub fn envoy(&self) -> &Envoy {
        &self.envoy
    }

    /// The demo upstream.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// See [`Issuer::create_client`].
    pub fn create_client(&self, id: &str, scope: &str, audience: &str) -> Client {
        self.issuer.create_client(id, scope, audience)
    }

    /// See [`Issuer::create_client_with`].
    #[track_caller]
    pub fn create_client_with(&self, spec: NewClient<'_>) -> Client {
        self.issuer
            .try_create_client(spec)
            .unwrap_or_else(|err| self.fail(&format!("issuer client create {}: {err}", spec.id)))
    }

    /// An access token for `client`, obtained over HTTP from the issuer.
    #[track_caller]
    pub fn token(&self, client: &Client) -> String {
        self.issuer.token(client)
    }

    /// A request through Envoy's listener; panics with the logs on a transport error.
    #[track_caller]
    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        http::send(
            self.envoy.listener(),
            method,
            target,
            headers,
            body,
            http::DEFAULT_TIMEOUT,
        )
        .unwrap_or_else(|err| self.fail(&format!("{method} {target} through Envoy: {err}")))
    }

    /// `GET target` through Envoy.
    #[track_caller]
    pub fn get(&self, target: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", target, headers, b"")
    }

    /// `POST target` through Envoy.
    #[track_caller]
    pub fn post(&self, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.request("POST", target, headers, body)
    }

    /// Did the upstream receive a request for exactly `path` (with query)? Use a unique query string per
    /// request to tell requests apart.
    #[track_caller]
    pub fn upstream_received(&self, path: &str) -> bool {
        self.upstream
            .received(path)
            .unwrap_or_else(|err| self.fail(&err))
    }

    /// The upstream's echo of a request that got through: its JSON `headers` object. Panics (with the
    /// logs) unless the response is a 200 echo.
    #[track_caller]
    pub fn echoed_headers(&self, response: &Response) -> serde_json::Map<String, Value> {
        if response.status != 200 {
            self.fail(&format!(
                "expected the upstream's 200 echo, got\n{response:?}"
            ));
        }
        response
            .try_json()
            .ok()
            .and_then(|body| body.get("headers")?.as_object().cloned())
            .unwrap_or_else(|| {
                self.fail(&format!(
                    "the 200 is not the upstream's echo (no `headers` object):\n{response:?}"
                ))
            })
    }

    /// Asserts a denial by the filter: `status`, a JSON body whose `code` is `code`, a `WWW-Authenticate`
    /// challenge for 401 and 403 (returned for further checks), and that the upstream never saw
    /// `target`.
    #[track_caller]
    pub fn assert_denied(
        &self,
        response: &Response,
        target: &str,
        status: u16,
        code: &str,
    ) -> String {
        let mut problems = Vec::new();
        if response.status != status {
            problems.push(format!("status {} (expected {status})", response.status));
        }
        match response.try_json() {
            Ok(body) => {
                if body.get("code").and_then(Value::as_str) != Some(code) {
                    problems.push(format!(
                        "body code {:?} (expected {code:?})",
                        body.get("code")
                    ));
                }
                for member in ["error", "message"] {
                    if !body.get(member).is_some_and(Value::is_string) {
                        problems.push(format!("body has no string {member:?}"));
                    }
                }
            }
            Err(err) => problems.push(err),
        }
        let challenge = response
            .header("www-authenticate")
            .unwrap_or_default()
            .to_owned();
        if matches!(status, 401 | 403) && !challenge.starts_with("Bearer ") {
            problems.push(format!(
                "WWW-Authenticate {challenge:?} is not a Bearer challenge"
            ));
        }
        if self.upstream_received(target) {
            problems.push(format!("the upstream received {target}"));
        }
        if !problems.is_empty() {
            self.fail(&format!(
                "denial of {target} is wrong: {}\n{response:?}",
                problems.join("; ")
            ));
        }
        challenge
    }
}

/// Keeps a temporary directory for inspection; returns its path.
fn keep(dir: tempfile::TempDir) -> String {
    dir.keep().display().to_string()
}

impl Diagnose for Stack {
    fn diagnostics(&self) -> String {
        format!(
            "--- envoy log ({}) ---\n{}\n{}",
            self.envoy.log().path().display(),
            self.envoy.log().tail_without_banner(60),
            self.issuer.diagnostics()
        )
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let kept = self.dir.take().map(keep).unwrap_or_default();
            if crate::already_diagnosed() {
                eprintln!("\ne2e: files of the failed stack kept in {kept}");
            } else {
                eprintln!(
                    "\n=== e2e stack diagnostics (files kept in {kept}) ===\n{}",
                    self.diagnostics()
                );
            }
        }
    }
}
