//! `issuer serve`: two listeners, one state, graceful shutdown.
//!
//! The admin UI's inputs from disk (the verifier's JS package, the gateway configuration) are
//! read here, once, before anything else: an invalid gateway configuration stops the server
//! before it binds a port.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin;
use crate::admin::credential::{self, AdminCredentialError, IssuedCredential};
use crate::audit::{AuditEvent, Outcome};
use crate::clock::SystemClock;
use crate::config::{IssuerUrl, ServeConfig};
use crate::http::public_router;
use crate::keys;
use crate::keys::KeySettings;
use crate::ops;
use crate::store::{Store, StoreError};
use crate::ui::{GatewayConfig, GatewayConfigError, UiResources, VerifierPackage};
use crate::{AppState, BootstrapError};

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The database could not be opened.
    #[error("cannot open the database")]
    Store(#[from] StoreError),
    /// Keys could not be prepared.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// The first admin credential could not be created.
    #[error(transparent)]
    AdminCredential(#[from] AdminCredentialError),
    /// `--gateway-config` names a file that cannot be read or that the filter would refuse.
    #[error(transparent)]
    GatewayConfig(#[from] GatewayConfigError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Serving, or announcing the bound addresses, failed.
    #[error("I/O error while serving")]
    Io(#[from] std::io::Error),
}

/// The one line written to stdout once both listeners accept connections.
#[derive(Serialize)]
struct Listening {
    event: &'static str,
    public: SocketAddr,
    admin: SocketAddr,
}

/// Runs the issuer until Ctrl-C or SIGTERM.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let ui = load_ui(&config)?;
    let store = Store::open(&config.database_url).await?;
    let public = bind(config.public_addr).await?;
    let admin = bind(config.admin_addr).await?;
    let public_addr = public.local_addr()?;
    let admin_addr = admin.local_addr()?;
    // With port 0 only the bound address is known, and it is what clients will call.
    let issuer = config
        .issuer_url
        .unwrap_or_else(|| IssuerUrl::from_addr(public_addr));
    let keys = KeySettings {
        alg: config.signing_alg,
        rotation: config.rotation,
        sealer: keys::open_sealer(&store, config.master_key)
            .await
            .map_err(BootstrapError::Key)?,
    };
    let state = AppState::bootstrap(store.clone(), keys, Arc::new(SystemClock), issuer)
        .await?
        .with_ui(ui)
        .with_max_delegation_depth(config.max_delegation_depth);
    let maintenance = tokio::spawn(maintain_keys(state.clone()));
    // The audit writer was started by `bootstrap`; this handle stops it last.
    let audit = state.audit.clone();
    // On the very first start only: printed once, before the listening line, never again.
    if let Some(credential) = credential::create_first(&store, state.clock.now()).await? {
        announce_admin_credential(&credential)?;
        record_admin_credential(&state, &credential).await;
    }

    announce(public_addr, admin_addr)?;
    tracing::info!(public = %public_addr, admin = %admin_addr, issuer = %state.issuer, "listening");

    let (stop, stopped) = watch::channel(());
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        // Dropping the sender ends every `changed()` wait, stopping both servers.
        drop(stop);
    });
    // The peer address feeds throttling and the audit trail (see `http::Peer`).
    let public_app =
        public_router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let admin_app = admin::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let public_server =
        axum::serve(public, public_app).with_graceful_shutdown(until_closed(stopped.clone()));
    let admin_server = axum::serve(admin, admin_app).with_graceful_shutdown(until_closed(stopped));
    let result = tokio::try_join!(
        std::future::IntoFuture::into_future(public_server),
        std::future::IntoFuture::into_future(admin_server),
    );
    maintenance.abort();
    // Wait for the abort to land, so the scheduler cannot record anything after the close.
    let _ = maintenance.await;
    // Every request has finished by now; write what is still queued before the pool closes.
    audit.close().await;
    store.close().await;
    result?;
    Ok(())
}

/// Reads what the admin UI serves from disk. A missing verifier package only costs the UI its
/// token checks, so it is a warning; a bad gateway configuration is an error, because the UI
/// would explain decisions from rules no gateway could load.
fn load_ui(config: &ServeConfig) -> Result<UiResources, ServeError> {
    let verifier = match &config.verifier_js_dir {
        None => {
            tracing::warn!(
                "no --verifier-js-dir: the admin UI cannot verify tokens (make build produces the package under target/js/verifier)"
            );
            None
        }
        Some(dir) => match VerifierPackage::load(dir) {
            Ok(package) => {
                let files: Vec<&str> = package.names().collect();
                tracing::info!(dir = %dir.display(), ?files, "serving the verifier JS package at /ui/verifier/");
                Some(package)
            }
            Err(err) => {
                tracing::warn!(error = %err, "the verifier JS package is not available: the admin UI cannot verify tokens");
                None
            }
        },
    };
    let gateway_config = match &config.gateway_config {
        Some(path) => {
            let loaded = GatewayConfig::load(path)?;
            tracing::info!(file = %loaded.source, "serving the gateway configuration to the admin UI");
            Some(loaded)
        }
        None => None,
    };
    Ok(UiResources {
        verifier,
        gateway_config,
    })
}

/// How often each replica checks whether a rotation is due; rotations happen at most this late.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(1);

/// Rotates keys on schedule and removes retired keys whose tokens have all expired.
async fn maintain_keys(state: AppState) {
    let mut ticks = tokio::time::interval(MAINTENANCE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(err) = ops::keys::maintain(state.ctx(), &state.keys).await {
            tracing::warn!(error = %err, "key maintenance failed; retrying");
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Tells whoever started us (the test harness, `make run`) where we listen.
fn announce(public: SocketAddr, admin: SocketAddr) -> Result<(), ServeError> {
    let line = serde_json::to_string(&Listening {
        event: "listening",
        public,
        admin,
    })
    .map_err(std::io::Error::other)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

/// The line carrying the first admin credential: its one and only appearance.
#[derive(Serialize)]
struct AdminCredentialLine<'a> {
    event: &'static str,
    id: &'a str,
    token: &'a str,
}

/// Prints the new admin credential to stdout (never to the log, which may be shipped elsewhere).
fn announce_admin_credential(credential: &IssuedCredential) -> Result<(), ServeError> {
    let line = serde_json::to_string(&AdminCredentialLine {
        event: "admin_credential",
        id: &credential.id,
        token: credential.token.expose(),
    })
    .map_err(std::io::Error::other)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

/// Audits and logs the creation of the first admin credential, by id only.
async fn record_admin_credential(state: &AppState, credential: &IssuedCredential) {
    tracing::warn!(id = %credential.id, "created the admin credential; its token was printed once on stdout");
    let event = AuditEvent {
        actor: "server".to_owned(),
        action: "admin.credential.created",
        target: credential.id.clone(),
        source: "local".to_owned(),
        outcome: Outcome::Success,
        detail: serde_json::json!({}),
    };
    if let Err(err) = state.audit.record(event).await {
        tracing::error!(error = %err, "cannot audit the creation of the admin credential");
    }
}

async fn until_closed(mut stopped: watch::Receiver<()>) {
    while stopped.changed().await.is_ok() {}
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
