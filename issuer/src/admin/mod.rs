//! The admin port: the admin API, the admin UI's files and sign-in, and the admin credential
//! and browser sessions they authenticate with.
//!
//! [`router`] serves `/health`, `/ready` and `/metrics` open, the UI's files open (`ui`), the
//! UI's sign-in (`sign_in`), and every other `/admin/...` route behind the admin credential, as
//! a bearer header or a UI session cookie (`auth`). The routes are thin: they parse the
//! request, call an operation of [`crate::ops`] (which audits it) and map its error to an
//! `AdminError` (`error`), the one place admin answers are decided.

mod audit;
mod auth;
mod body;
mod clients;
pub mod credential;
mod delegations;
mod documents;
mod error;
mod keys;
mod revocations;
pub mod session;
mod sign_in;
mod ui;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn_with_state, map_response};

use crate::AppState;
use crate::http;

/// Largest body of a client, key or revocation request: room for a client JWKS of the
/// verifier's maximum size (64 KiB).
const MAX_ADMIN_BODY_BYTES: usize = 72 * 1024;

/// The admin port: `/health`, `/ready` and `/metrics` open, the UI's files open, every
/// `/admin/...` route behind the admin credential (bearer header or UI session). Still best
/// bound to a private interface.
pub fn router(state: AppState) -> Router {
    let changes = Router::new()
        .merge(clients::routes())
        .merge(keys::routes())
        .merge(revocations::routes())
        .layer(DefaultBodyLimit::max(MAX_ADMIN_BODY_BYTES));
    let authenticated = Router::new()
        .merge(changes)
        .merge(audit::routes())
        .merge(delegations::routes())
        .merge(documents::routes())
        // A route layer, so unknown paths are a plain 404 and never count as failed logins.
        .route_layer(from_fn_with_state(state.clone(), auth::require_admin));
    let api = Router::new()
        .merge(authenticated)
        // Signing in is how a credential becomes a session, so it is not behind the check.
        .merge(sign_in::routes())
        // Responses carry secrets (client secrets, tokens, CSRF tokens) and operator data:
        // never cached.
        .layer(map_response(http::no_store));
    Router::new()
        .merge(http::health::routes())
        .merge(http::metrics::routes())
        .merge(ui::routes())
        .merge(api)
        .layer(DefaultBodyLimit::max(http::MAX_BODY_BYTES))
        .layer(map_response(http::log_internal_errors))
        .layer(map_response(ui::admin_port_headers))
        .with_state(state)
}
