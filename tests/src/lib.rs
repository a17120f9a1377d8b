//! End-to-end harness: the real issuer, the demo upstream and Envoy with the verifier filter, on loopback.
//!
//! What it refuses to do: skip. The binaries under test come from `ENVOY_BIN`, `ISSUER_BIN`,
//! `UPSTREAM_BIN` and `FILTER_WASM` (absolute paths; `make test` builds them and sets the variables); a
//! missing one fails the test with a message saying so. It never fakes a component or a response.
//!
//! A test starts a [`Stack`] (each component on free ports, in its own temporary directory), sends
//! requests through Envoy with the tiny blocking client in [`http`], and asserts on status,
//! `WWW-Authenticate` and the JSON body's `code`, never on message text. Every child process dies with the
//! stack (and with the test process, through `PR_SET_PDEATHSIG`). When a test fails, the tail of Envoy's
//! log, which carries the filter's own log lines and the access log, is part of the failure output.
//!
//! Start a stack inside the `#[test]` function that uses it: Linux sends the parent-death signal when the
//! *thread* that spawned a child exits, so a stack kept in a shared static would die with its first user.

#![warn(missing_docs, unreachable_pub)]

use std::path::PathBuf;
use std::sync::OnceLock;

pub mod envoy;
mod feed;
pub mod http;
pub mod issuer;
pub mod jwt;
mod process;
mod relay;
mod stack;
pub mod upstream;

pub use envoy::{default_filter_config, demo_filter_config};
pub use feed::FeedServer;
pub use http::Response;
pub use issuer::{Client, Issuer, NewClient};
pub use process::{LogFile, free_port};
pub use relay::JwksRelay;
pub use stack::{Stack, StackOptions, StartError};

/// The artefacts under test, from the environment.
#[derive(Debug)]
pub struct Bins {
    /// `ENVOY_BIN`: the real Envoy binary (not the Python wrapper).
    pub envoy: PathBuf,
    /// `ISSUER_BIN`: the issuer binary.
    pub issuer: PathBuf,
    /// `UPSTREAM_BIN`: the demo upstream binary.
    pub upstream: PathBuf,
    /// `FILTER_WASM`: the filter, `verifier_envoy.wasm` built for `wasm32-wasip1`.
    pub filter_wasm: PathBuf,
}

/// Reads and checks the four variables once; panics with instructions if one is missing or wrong.
pub fn bins() -> &'static Bins {
    static BINS: OnceLock<Result<Bins, String>> = OnceLock::new();
    match BINS.get_or_init(load_bins) {
        Ok(bins) => bins,
        Err(message) => panic!("{message}"),
    }
}

fn load_bins() -> Result<Bins, String> {
    let var = |name: &str| -> Result<PathBuf, String> {
        let value = std::env::var_os(name).ok_or_else(|| {
            format!(
                "{name} is not set. The end-to-end tests run the real Envoy, issuer, demo upstream and \
                 filter; run them with `make test`, which installs and builds everything and sets \
                 ENVOY_BIN, ISSUER_BIN, UPSTREAM_BIN and FILTER_WASM."
            )
        })?;
        let path = PathBuf::from(value);
        if !path.is_absolute() {
            return Err(format!(
                "{name}={} must be an absolute path",
                path.display()
            ));
        }
        if !path.is_file() {
            return Err(format!(
                "{name}={} does not exist; run `make test` to build it",
                path.display()
            ));
        }
        Ok(path)
    };
    Ok(Bins {
        envoy: var("ENVOY_BIN")?,
        issuer: var("ISSUER_BIN")?,
        upstream: var("UPSTREAM_BIN")?,
        filter_wasm: var("FILTER_WASM")?,
    })
}

/// Something whose logs explain a failure.
pub trait Diagnose {
    /// Log tails worth reading when a test fails.
    fn diagnostics(&self) -> String;

    /// Panics with `message` followed by [`Diagnose::diagnostics`].
    #[track_caller]
    fn fail(&self, message: &str) -> ! {
        DIAGNOSED.set(true);
        panic!("{message}\n{}", self.diagnostics())
    }
}

thread_local! {
    /// Set once a panic message on this thread carries the diagnostics, so a [`Stack`] dropped while
    /// unwinding does not print them a second time.
    static DIAGNOSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread's panic already carried the diagnostics.
pub(crate) fn already_diagnosed() -> bool {
    DIAGNOSED.get()
}

impl<T: Diagnose + ?Sized> Diagnose for &T {
    fn diagnostics(&self) -> String {
        (**self).diagnostics()
    }
}

/// `check!(stack, condition, "format", args…)`: like `assert!`, with the stack's log tails in the panic.
#[macro_export]
macro_rules! check {
    ($ctx:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            $crate::Diagnose::fail(&$ctx, &format!($($fmt)+));
        }
    };
}

/// `check_eq!(stack, left, right, "format", args…)`: like `assert_eq!`, with the stack's log tails in the
/// panic.
#[macro_export]
macro_rules! check_eq {
    ($ctx:expr, $left:expr, $right:expr, $($fmt:tt)+) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    $crate::Diagnose::fail(
                        &$ctx,
                        &format!("{}\n  left: {:?}\n right: {:?}", format!($($fmt)+), left, right),
                    );
                }
            }
        }
    };
}
