//! `GET /health` (the process answers) and `GET /ready` (it can issue tokens), on both ports.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;
use crate::keys::KeyError;

/// `/health` and `/ready`, on both ports.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

#[derive(Debug, Serialize)]
struct Status {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

async fn health() -> Json<Status> {
    Json(Status {
        status: "ok",
        reason: None,
    })
}

/// Ready means the database answers and the current signing key can be loaded and unsealed:
/// exactly what the token endpoint needs, so a load balancer sends no traffic before then.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Status>) {
    let not_ready = |reason| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Status {
                status: "not_ready",
                reason: Some(reason),
            }),
        )
    };
    if let Err(err) = state.store.ping().await {
        tracing::warn!(error = %err, "readiness: database unreachable");
        return not_ready("database unreachable");
    }
    match state.keyring.signer(&state.store).await {
        Ok(_) => (
            StatusCode::OK,
            Json(Status {
                status: "ready",
                reason: None,
            }),
        ),
        Err(KeyError::NoCurrentKey) => not_ready("no signing key"),
        Err(KeyError::Store(err)) => {
            tracing::warn!(error = %err, "readiness: cannot read the signing key");
            not_ready("database unreachable")
        }
        Err(err) => {
            tracing::warn!(error = %err, "readiness: the signing key cannot be used");
            not_ready("signing key unusable")
        }
    }
}
