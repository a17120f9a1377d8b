//! `issuer serve`: two listeners, one state, graceful shutdown.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::SystemClock;
use crate::config::{IssuerUrl, ServeConfig};
use crate::http::{admin_router, public_router};
use crate::state::{AppState, BootstrapError};
use crate::store::{Store, StoreError};

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
    let store = Store::open(&config.database_url).await?;
    let public = bind(config.public_addr).await?;
    let admin = bind(config.admin_addr).await?;
    let public_addr = public.local_addr()?;
    let admin_addr = admin.local_addr()?;
    // With port 0 only the bound address is known, and it is what clients will call.
    let issuer = config
        .issuer_url
        .unwrap_or_else(|| IssuerUrl::from_addr(public_addr));
    let state = AppState::bootstrap(
        store.clone(),
        config.signing_alg,
        Arc::new(SystemClock),
        issuer,
    )
    .await?;

    announce(public_addr, admin_addr)?;
    tracing::info!(public = %public_addr, admin = %admin_addr, issuer = %state.issuer, "listening");

    let (stop, stopped) = watch::channel(());
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        // Dropping the sender ends every `changed()` wait, stopping both servers.
        drop(stop);
    });
    let public_server = axum::serve(public, public_router(state.clone()))
        .with_graceful_shutdown(until_closed(stopped.clone()));
    let admin_server =
        axum::serve(admin, admin_router(state)).with_graceful_shutdown(until_closed(stopped));
    let result = tokio::try_join!(
        std::future::IntoFuture::into_future(public_server),
        std::future::IntoFuture::into_future(admin_server),
    );
    store.close().await;
    result?;
    Ok(())
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
