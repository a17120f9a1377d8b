//! The two HTTP faces of the issuer: the public OAuth port and the admin port.
//!
//! Each is a plain `fn(AppState) -> Router`, so tests drive them with `oneshot` and no socket.
//! The admin port also serves the browser UI (`admin_ui`, open) and its sign-in
//! (`admin_session`); every other `/admin/...` route takes the admin credential as a bearer
//! header or a UI session cookie (`admin_auth`).

mod admin;
mod admin_audit;
mod admin_auth;
mod admin_documents;
mod admin_session;
mod admin_ui;
mod client_auth;
mod error;
mod health;
mod introspect;
mod metrics;
mod peer;
mod revocation_feed;
mod revoke;
mod token;
mod well_known;

pub use client_auth::{Authenticated, PostCredentials};
pub use error::{OAuthError, OAuthForm};
pub use peer::Peer;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::middleware::{from_fn, from_fn_with_state, map_response};
use axum::response::Response;

use crate::state::AppState;

/// Largest request body accepted (16 KiB): OAuth forms are a few hundred bytes, a token 8 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The public port: token, revocation, introspection, discovery, health.
pub fn public_router(state: AppState) -> Router {
    let oauth = Router::new()
        .merge(token::routes())
        .merge(revoke::routes())
        .merge(introspect::routes())
        // As kanidm's `dont_cache_me`: nothing from the OAuth endpoints may be cached (RFC 6749 §5.1).
        .layer(map_response(no_store));
    Router::new()
        .merge(oauth)
        .merge(well_known::routes())
        .merge(revocation_feed::routes())
        .merge(health::routes())
        // Inside the router, where the matched route is known; `count` below sees 404s too.
        .route_layer(from_fn(metrics::tag_route))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(map_response(error::log_internal_errors))
        .layer(from_fn_with_state(state.clone(), metrics::count))
        .with_state(state)
}

/// The admin port: `/health`, `/ready` and `/metrics` open, the UI's files open, every
/// `/admin/...` route behind the admin credential (bearer header or UI session). Still best
/// bound to a private interface.
pub fn admin_router(state: AppState) -> Router {
    let authenticated = Router::new()
        .merge(admin::routes())
        .merge(admin_audit::routes())
        .merge(admin_documents::routes())
        // A route layer, so unknown paths are a plain 404 and never count as failed logins.
        .route_layer(from_fn_with_state(state.clone(), admin_auth::require_admin));
    let api = Router::new()
        .merge(authenticated)
        // Signing in is how a credential becomes a session, so it is not behind the check.
        .merge(admin_session::routes())
        // Responses carry secrets (client secrets, tokens, CSRF tokens) and operator data:
        // never cached.
        .layer(map_response(no_store));
    Router::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(admin_ui::routes())
        .merge(api)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(map_response(error::log_internal_errors))
        .layer(map_response(admin_ui::admin_port_headers))
        .with_state(state)
}

/// Marks a response as not to be stored by any cache.
async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
