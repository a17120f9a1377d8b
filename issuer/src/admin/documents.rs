//! The documents a gateway works from, on the admin port for the admin UI: the live JWKS and
//! revocation feed (byte for byte what the public port serves, so the UI checks tokens against
//! exactly what gateways see) and the gateway's filter configuration (`--gateway-config`).
//!
//! Served here rather than fetched by the browser from the public port: the UI's
//! `connect-src 'self'` only allows the admin origin. Authentication is the admin router's.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::error::AdminError;
use crate::AppState;
use crate::keys::Jwks;
use crate::ops::revocations::{self, Feed};

/// The mirrors; `require_admin` is layered on by the caller ([`super::router`]).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/jwks", get(jwks))
        .route("/admin/revocation-feed", get(revocation_feed))
        .route("/admin/gateway-config", get(gateway_config))
}

async fn jwks(State(state): State<AppState>) -> Result<Json<Jwks>, AdminError> {
    Ok(Json(Jwks::load(&state.store).await?))
}

async fn revocation_feed(State(state): State<AppState>) -> Result<Json<Feed>, AdminError> {
    let now = state.clock.now();
    Ok(Json(
        revocations::feed(&state.store, &state.issuer, now).await?,
    ))
}

/// `{"config": <the filter configuration>, "source": "<file>", "issuer": "<this issuer>"}`;
/// `config` and `source` are `null` when the server was started without `--gateway-config`.
///
/// `issuer` is this issuer's identifier (the `iss` of its tokens and of its revocation feed):
/// the UI hands the live JWKS and feed above only to the providers whose `issuer` it is, since
/// a gateway gets another provider's keys and feed from that provider's issuer, not this one.
async fn gateway_config(State(state): State<AppState>) -> Json<Value> {
    let loaded = state.ui.gateway_config.as_ref();
    Json(json!({
        "config": loaded.map(|loaded| &loaded.document),
        "source": loaded.map(|loaded| loaded.source.as_str()),
        "issuer": state.issuer.as_str(),
    }))
}
