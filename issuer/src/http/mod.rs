//! The public OAuth port, and what the admin port ([`crate::admin`]) shares with it: the
//! error shape, the peer address, health and metrics.
//!
//! [`public_router`] is a plain `fn(AppState) -> Router`, so tests drive it with `oneshot` and
//! no socket. Its handlers are thin: they parse the request, call an operation of
//! [`crate::ops`] and map its error to an [`OAuthError`].

mod client_auth;
mod error;
pub(crate) mod health;
mod introspect;
pub(crate) mod metrics;
mod peer;
mod revocation_feed;
mod revoke;
mod token;
mod well_known;

pub use client_auth::Authenticated;
pub(crate) use error::log_internal_errors;
pub use error::{OAuthError, OAuthForm};
pub use peer::Peer;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::middleware::{from_fn, from_fn_with_state, map_response};
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;

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

/// The form of the endpoints a client presents a token to: revocation (RFC 7009 §2.1) and
/// introspection (RFC 7662 §2.1). `token_type_hint` is accepted and ignored: access tokens are
/// the only kind.
#[derive(Debug, Deserialize)]
struct PresentedToken {
    token: Option<String>,
}

impl PresentedToken {
    /// The token, which must be given.
    fn token(self) -> Result<String, OAuthError> {
        self.token
            .filter(|token| !token.is_empty())
            .ok_or(OAuthError::InvalidRequest("missing token"))
    }
}

/// Marks a response as not to be stored by any cache.
pub(crate) async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
