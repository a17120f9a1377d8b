//! Discovery: the JWKS (RFC 7517) and authorization server metadata (RFC 8414).

use axum::extract::State;
use axum::http::HeaderName;
use axum::http::header::CACHE_CONTROL;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::OAuthError;
use crate::AppState;
use crate::keys::Jwks;
use crate::ops::exchange::TOKEN_EXCHANGE;

/// Client authentication methods of every endpoint that authenticates clients.
const AUTH_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        // Served too because many clients only probe the OpenID path; the content is the same.
        .route("/.well-known/openid-configuration", get(metadata))
}

/// The published keys, cacheable for the publication lead: a next key is published at least
/// that long before it signs, so a gateway that honours `max-age` always holds it in time.
async fn jwks(
    State(state): State<AppState>,
) -> Result<([(HeaderName, String); 1], Json<Jwks>), OAuthError> {
    let max_age = state.keys.rotation.publication_lead_secs;
    let cache = (CACHE_CONTROL, format!("public, max-age={max_age}"));
    Ok(([cache], Json(document(&state).await?)))
}

/// The live JWKS; also served on the admin port (`GET /admin/jwks`).
pub(super) async fn document(state: &AppState) -> Result<Jwks, OAuthError> {
    Ok(Jwks::load(&state.store).await?)
}

/// RFC 8414 §2. `scopes_supported` is left out: listing every client's scopes would tell
/// anonymous callers what the fleet can do.
#[derive(Debug, Serialize)]
struct Metadata {
    issuer: String,
    token_endpoint: String,
    jwks_uri: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    /// Not registered with IANA: where gateways poll revocations (see `revocation_feed`).
    revocation_feed_endpoint: String,
    grant_types_supported: [&'static str; 2],
    response_types_supported: [&'static str; 0],
    token_endpoint_auth_methods_supported: [&'static str; 2],
    revocation_endpoint_auth_methods_supported: [&'static str; 2],
    introspection_endpoint_auth_methods_supported: [&'static str; 2],
}

async fn metadata(State(state): State<AppState>) -> Json<Metadata> {
    let issuer = &state.issuer;
    Json(Metadata {
        issuer: issuer.as_str().to_owned(),
        token_endpoint: issuer.endpoint("/oauth/token"),
        jwks_uri: issuer.endpoint("/.well-known/jwks.json"),
        revocation_endpoint: issuer.endpoint("/oauth/revoke"),
        introspection_endpoint: issuer.endpoint("/oauth/introspect"),
        revocation_feed_endpoint: issuer.endpoint(super::revocation_feed::PATH),
        grant_types_supported: ["client_credentials", TOKEN_EXCHANGE],
        response_types_supported: [],
        token_endpoint_auth_methods_supported: AUTH_METHODS,
        revocation_endpoint_auth_methods_supported: AUTH_METHODS,
        introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    })
}
