//! `GET /oauth/revocations`: the revocation feed gateways poll like the JWKS.
//!
//! A signature check alone cannot tell a revoked token from a good one, so gateways fetch this
//! every few seconds and refuse what it lists: tokens by `jti` until their `exp`, and clients
//! whose every token issued before `revoked_before` is revoked. It is as public as the JWKS:
//! `jti`s are random and say nothing; client ids are the names of services.

use axum::extract::State;
use axum::http::HeaderName;
use axum::http::header::CACHE_CONTROL;
use axum::routing::get;
use axum::{Json, Router};

use super::OAuthError;
use crate::AppState;
use crate::ops::revocations::{self, Feed};

/// Where the feed is served; advertised in the metadata as `revocation_feed_endpoint`.
pub(super) const PATH: &str = "/oauth/revocations";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(feed))
}

/// Every revocation in force now. Never cached by intermediaries: a stale copy would stretch
/// the bound within which a revocation reaches the gateways.
async fn feed(
    State(state): State<AppState>,
) -> Result<([(HeaderName, &'static str); 1], Json<Feed>), OAuthError> {
    Ok(([(CACHE_CONTROL, "no-cache")], Json(document(&state).await?)))
}

/// The feed as of now; also served on the admin port (`GET /admin/revocation-feed`).
pub(super) async fn document(state: &AppState) -> Result<Feed, OAuthError> {
    Ok(revocations::feed(&state.store, &state.issuer, state.clock.now()).await?)
}
