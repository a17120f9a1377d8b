//! Demo upstream: the service Envoy protects in `make run` and in the end-to-end tests.
//!
//! It does no authentication and has no state. Every request, whatever its method and path, gets 200 and
//! `{"method": ..., "path": ..., "headers": {"<lower-case name>": "<value>"}}`, so a caller can see exactly
//! which headers made it past the gateway. Repeated headers are joined with `", "` (never last-wins), so a
//! smuggled duplicate shows up instead of hiding.
//!
//! On start it prints `{"event":"listening","addr":"IP:PORT"}` on stdout; then one
//! `{"event":"request","method":...,"path":...}` line per request, which the test harness reads to prove that
//! a denied request never arrived.

#![warn(missing_docs, unreachable_pub)]

use std::io::Write as _;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

/// Where to listen when neither `--addr` nor `UPSTREAM_ADDR` is given.
const DEFAULT_ADDR: &str = "127.0.0.1:8090";

const USAGE: &str = "usage: demo-upstream [--addr IP:PORT]   (env UPSTREAM_ADDR, default 127.0.0.1:8090; port 0 picks a free port)";

fn main() -> std::process::ExitCode {
    let addr = match parse_addr(
        std::env::args().skip(1),
        std::env::var("UPSTREAM_ADDR").ok(),
    ) {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("demo-upstream: {message}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("demo-upstream: cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(addr)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("demo-upstream: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `--addr` wins over `UPSTREAM_ADDR`, which wins over [`DEFAULT_ADDR`].
fn parse_addr(
    mut args: impl Iterator<Item = String>,
    env: Option<String>,
) -> Result<SocketAddr, String> {
    let mut chosen = None;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--addr" => args.next().ok_or("--addr needs a value")?,
            "-h" | "--help" => return Err("help requested".into()),
            other => match other.strip_prefix("--addr=") {
                Some(value) => value.to_owned(),
                None => return Err(format!("unknown argument {other:?}")),
            },
        };
        chosen = Some(value);
    }
    let text = chosen.or(env).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    text.parse()
        .map_err(|err| format!("invalid address {text:?}: {err}"))
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    emit(&format!(
        r#"{{"event":"listening","addr":{}}}"#,
        Value::String(local.to_string())
    ));
    axum::serve(listener, app())
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// Every method on every path goes to [`echo`].
fn app() -> Router {
    Router::new().fallback(echo)
}

async fn echo(request: Request) -> axum::Json<Value> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    emit(&format!(
        r#"{{"event":"request","method":{},"path":{}}}"#,
        Value::String(method.clone()),
        Value::String(path.clone())
    ));
    axum::Json(json!({"method": method, "path": path, "headers": headers_json(request.headers())}))
}

/// Lower-case names (the `http` crate already stores them so); repeated headers joined with `", "`.
fn headers_json(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match out.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                out.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    Value::Object(out)
}

/// One JSON line on stdout, flushed at once (the harness and `make run` read it as it comes). Built by hand
/// so `event` comes first, as documented (serde_json would sort the keys).
fn emit(event: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout must not take the server down; there is nobody left to tell anyway.
    let _ = writeln!(stdout, "{event}");
    let _ = stdout.flush();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn addr_flag_beats_env_beats_default() {
        assert_eq!(
            parse_addr(args(&[]), None).unwrap(),
            DEFAULT_ADDR.parse().unwrap()
        );
        assert_eq!(
            parse_addr(args(&[]), Some("127.0.0.1:1".into())).unwrap(),
            "127.0.0.1:1".parse().unwrap()
        );
        assert_eq!(
            parse_addr(args(&["--addr", "127.0.0.1:0"]), Some("127.0.0.1:1".into())).unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert_eq!(
            parse_addr(args(&["--addr=127.0.0.1:2"]), None).unwrap(),
            "127.0.0.1:2".parse().unwrap()
        );
        assert!(parse_addr(args(&["--addr"]), None).is_err());
        assert!(parse_addr(args(&["--port", "1"]), None).is_err());
        assert!(parse_addr(args(&["--addr", "nope"]), None).is_err());
    }

    #[test]
    fn repeated_headers_are_joined_not_replaced() {
        let mut headers = HeaderMap::new();
        headers.append("X-Auth-Subject", "admin".parse().unwrap());
        headers.append("x-auth-subject", "svc.warehouse".parse().unwrap());
        headers.insert("accept", "*/*".parse().unwrap());
        assert_eq!(
            headers_json(&headers),
            json!({"x-auth-subject": "admin, svc.warehouse", "accept": "*/*"})
        );
    }
}
