//! Envoy with the verifier filter: the generated configuration (same shape as `envoy/envoy.yaml`) and the
//! process, started on ports the kernel picks.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bins;
use crate::http;
use crate::process::{LogFile, Proc};

/// How long Envoy may take to load the filter (V8 compiles the module) and serve its listener.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The filter configuration of `envoy/envoy.yaml` (DESIGN.md), with `issuer_url` as the provider's
/// issuer: provider `local` fetching its JWKS from cluster `issuer`; `POST /api/v1/entities/register-bulk`
/// needs `instruments:write`, everything else a valid token.
pub fn default_filter_config(issuer_url: &str) -> Value {
    json!({
        "providers": {
            "local": {
                "issuer": issuer_url,
                "audiences": ["quantjourney"],
                "algorithms": ["ES256"],
                "remote_jwks": {"cluster": "issuer", "path": "/.well-known/jwks.json"}
            }
        },
        "rules": [
            {"match": {"prefix": "/api/v1/entities/register-bulk", "methods": ["POST"]},
             "requires": {"provider": "local", "scopes": ["instruments:write"]}},
            {"match": {"prefix": "/"}, "requires": {"provider": "local"}}
        ]
    })
}

/// The filter configuration of the demo (`envoy/envoy.yaml`, what `make run` starts): the
/// [`default_filter_config`] whose provider also polls the issuer's revocation feed and accepts
/// delegated tokens of up to 4 actors, with two delegation rules: `POST /api/v1/orders` only
/// from `agent.planner` acting directly for its principal, `/api/v1/approvals` only with a
/// person at the root.
pub fn demo_filter_config(issuer_url: &str) -> Value {
    let mut config = default_filter_config(issuer_url);
    let local = &mut config["providers"]["local"];
    local["revocations"] = json!({"cluster": "issuer", "path": "/oauth/revocations"});
    local["delegation"] = json!({"max_depth": 4});
    let rules = config["rules"].as_array_mut().expect("rules");
    let catch_all = rules.pop().expect("the catch-all rule");
    rules.push(json!({
        "match": {"prefix": "/api/v1/orders", "methods": ["POST"]},
        "requires": {"provider": "local", "scopes": ["orders:write"],
                     "max_delegation_depth": 1, "actors": ["agent.planner"]}
    }));
    rules.push(json!({
        "match": {"prefix": "/api/v1/approvals"},
        "requires": {"provider": "local", "human_root": true}
    }));
    rules.push(catch_all);
    config
}

/// Where the generated configuration points its clusters.
#[derive(Clone, Debug)]
pub struct Clusters {
    /// Cluster `issuer` (the filter's `remote_jwks` cluster).
    pub issuer: SocketAddr,
    /// Cluster `upstream`, which every route goes to.
    pub upstream: SocketAddr,
    /// More clusters by name, for the filter to fetch from (e.g. a revocation feed).
    pub extra: Vec<(String, SocketAddr)>,
}

/// The Envoy bootstrap for a test, as JSON (which Envoy reads as YAML too): listener and admin on
/// 127.0.0.1 port 0, the same HTTP connection manager settings and filter chain as `envoy/envoy.yaml`,
/// the filter loaded from `wasm`, and `filter_config` as its plugin configuration.
pub fn envoy_config(clusters: Clusters, wasm: &Path, filter_config: &Value) -> Value {
    let cluster = |name: &str, addr: SocketAddr| {
        json!({
            "name": name,
            "type": "STATIC",
            "connect_timeout": "1s",
            "load_assignment": {
                "cluster_name": name,
                "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket_address(addr)}}]}]
            }
        })
    };
    let all_clusters: Vec<Value> = [
        cluster("issuer", clusters.issuer),
        cluster("upstream", clusters.upstream),
    ]
    .into_iter()
    .chain(
        clusters
            .extra
            .iter()
            .map(|(name, addr)| cluster(name, *addr)),
    )
    .collect();
    json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": [{
                "name": "ingress",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "ingress",
                        "normalize_path": true,
                        "merge_slashes": true,
                        "common_http_protocol_options": {"headers_with_underscores_action": "REJECT_REQUEST"},
                        "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
                        "access_log": [{
                            "name": "envoy.access_loggers.stderr",
                            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog"}
                        }],
                        "route_config": {
                            "name": "all",
                            "virtual_hosts": [{
                                "name": "all",
                                "domains": ["*"],
                                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}]
                            }]
                        },
                        "http_filters": [
                            {
                                "name": "envoy.filters.http.wasm",
                                "typed_config": {
                                    "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                                    "config": {
                                        "name": "verifier",
                                        "fail_open": false,
                                        "vm_config": {
                                            "vm_id": "verifier",
                                            "runtime": "envoy.wasm.runtime.v8",
                                            "code": {"local": {"filename": wasm.display().to_string()}}
                                        },
                                        "configuration": {
                                            "@type": "type.googleapis.com/google.protobuf.StringValue",
                                            "value": filter_config.to_string()
                                        }
                                    }
                                }
                            },
                            {
                                "name": "envoy.filters.http.router",
                                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}
                            }
                        ]
                    }
                }]}]
            }],
            "clusters": all_clusters
        }
    })
}

fn socket_address(addr: SocketAddr) -> Value {
    json!({"socket_address": {"address": addr.ip().to_string(), "port_value": addr.port()}})
}

/// A running Envoy that serves its listener.
pub struct Envoy {
    proc: Proc,
    admin: SocketAddr,
    listener: SocketAddr,
    log: LogFile,
}

/// Why Envoy did not come up.
pub struct EnvoyFailure {
    /// Envoy's exit status if it exited (`None`: still running but not serving, killed at the timeout).
    pub exit: Option<ExitStatus>,
    /// What went wrong, in a sentence.
    pub reason: String,
    /// The whole Envoy log.
    pub log: String,
}

impl fmt::Debug for EnvoyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Envoy did not start: {} (exit: {:?})\n--- envoy log ---\n{}",
            self.reason,
            self.exit,
            crate::process::tail_text(&crate::process::without_banner(&self.log), 60)
        )
    }
}

impl Envoy {
    /// Writes `config` to `dir/envoy.json` and starts Envoy on it; returns once the admin interface says
    /// LIVE, the listener has a port, and one request through the listener got an HTTP answer.
    pub fn start(dir: &Path, config: &Value) -> Result<Envoy, EnvoyFailure> {
        // Unique per Envoy in this run, so shared-memory names cannot collide even if hot restart were on.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base_id =
            (std::process::id() % 100_000) * 100 + NEXT.fetch_add(1, Ordering::Relaxed) % 100;

        let config_path = dir.join("envoy.json");
        let admin_path = dir.join("envoy-admin.addr");
        let log_path = dir.join("envoy.log");
        let early = |reason: String| EnvoyFailure {
            exit: None,
            reason,
            log: String::new(),
        };
        let pretty = serde_json::to_string_pretty(config).map_err(|err| early(err.to_string()))?;
        std::fs::write(&config_path, pretty)
            .map_err(|err| early(format!("cannot write {}: {err}", config_path.display())))?;
        let (log, file) =
            LogFile::create(log_path).map_err(|err| early(format!("envoy log: {err}")))?;
        let stdout = file
            .try_clone()
            .map_err(|err| early(format!("envoy log: {err}")))?;

        let mut command = Command::new(&bins().envoy);
        command
            .arg("-c")
            .arg(&config_path)
            // Two workers: each has its own VM, as in production.
            .args(["--concurrency", "2"])
            .args(["--base-id", &base_id.to_string()])
            .arg("--disable-hot-restart")
            .args(["-l", "info"])
            // The filter's own log lines are what explain a denial; keep them all.
            .args(["--component-log-level", "wasm:debug"])
            .arg("--admin-address-path")
            .arg(&admin_path)
            .stdout(stdout)
            .stderr(file);
        let proc = Proc::spawn("envoy", command).map_err(|err| early(err.to_string()))?;
        let mut envoy = Envoy {
            proc,
            admin: SocketAddr::from(([127, 0, 0, 1], 0)),
            listener: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        match envoy.wait_serving(&admin_path) {
            Ok(()) => Ok(envoy),
            Err(reason) => {
                let exit = envoy.proc.kill();
                let exited_by_itself = envoy.exited_by_itself(exit);
                Err(EnvoyFailure {
                    exit: exited_by_itself,
                    reason,
                    log: envoy.log.read(),
                })
            }
        }
    }

    /// `exit` as returned by `Proc::kill`: a status from our own SIGKILL does not count as an exit.
    fn exited_by_itself(&self, exit: Option<ExitStatus>) -> Option<ExitStatus> {
        use std::os::unix::process::ExitStatusExt as _;
        exit.filter(|status| status.signal() != Some(libc::SIGKILL))
    }

    fn wait_serving(&mut self, admin_path: &Path) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut stage = "admin address file";
        let mut last = String::new();
        loop {
            if let Some(status) = self.proc.exited() {
                return Err(format!(
                    "Envoy exited with {status} while waiting for the {stage}"
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the {stage} was not ready within {START_TIMEOUT:?}; last: {last}"
                ));
            }
            match stage {
                "admin address file" => {
                    if let Some(addr) = std::fs::read_to_string(admin_path)
                        .ok()
                        .and_then(|text| text.trim().parse().ok())
                    {
                        self.admin = addr;
                        stage = "admin /ready";
                        continue;
                    }
                }
                "admin /ready" => match self.admin_get("/ready") {
                    Ok(response) if response.status == 200 => {
                        stage = "listener port";
                        continue;
                    }
                    Ok(response) => last = format!("{response:?}"),
                    Err(err) => last = err,
                },
                "listener port" => match self.listener_port() {
                    Ok(Some(addr)) => {
                        self.listener = addr;
                        stage = "first response through the listener";
                        continue;
                    }
                    Ok(None) => last = "no bound `ingress` listener yet".into(),
                    Err(err) => last = err,
                },
                _ => {
                    // Any HTTP answer means the listener and the filter chain are up (the filter may
                    // hold the request while the first JWKS arrives; that is bounded by the filter).
                    match http::send(
                        self.listener,
                        "GET",
                        "/__e2e_probe",
                        &[],
                        b"",
                        Duration::from_secs(30),
                    ) {
                        Ok(_) => return Ok(()),
                        Err(err) => last = err.to_string(),
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn listener_port(&self) -> Result<Option<SocketAddr>, String> {
        let response = self.admin_get("/listeners?format=json")?;
        let body = response.try_json()?;
        let statuses = body
            .get("listener_statuses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(statuses
            .iter()
            .find(|status| status.get("name").and_then(Value::as_str) == Some("ingress"))
            .and_then(|status| status.pointer("/local_address/socket_address"))
            .and_then(|sa| {
                let ip = sa.get("address")?.as_str()?.parse().ok()?;
                let port = u16::try_from(sa.get("port_value")?.as_u64()?).ok()?;
                (port != 0).then(|| SocketAddr::new(ip, port))
            }))
    }

    /// `GET` on the admin interface.
    pub fn admin_get(&self, target: &str) -> Result<http::Response, String> {
        http::send(self.admin, "GET", target, &[], b"", Duration::from_secs(10))
            .map_err(|err| format!("admin {target}: {err}"))
    }

    /// The value of one counter or gauge from `/stats` (`None` if Envoy has no such stat).
    pub fn stat(&self, name: &str) -> Result<Option<u64>, String> {
        let response = self.admin_get(&format!("/stats?filter=^{name}$"))?;
        Ok(response.text().lines().find_map(|line| {
            let (stat, value) = line.split_once(": ")?;
            (stat == name).then(|| value.trim().parse().ok()).flatten()
        }))
    }

    /// The listener address (requests to the protected service go here).
    pub fn listener(&self) -> SocketAddr {
        self.listener
    }

    /// The admin interface address.
    pub fn admin(&self) -> SocketAddr {
        self.admin
    }

    /// Envoy's log (stderr and stdout, with the access log).
    pub fn log(&self) -> &LogFile {
        &self.log
    }

    /// Is the process still running?
    pub fn is_running(&mut self) -> bool {
        self.proc.exited().is_none()
    }
}
