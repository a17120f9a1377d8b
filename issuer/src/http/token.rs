//! `POST /oauth/token`: the client credentials grant (RFC 6749 §4.4) minting RFC 9068 tokens
//! with [`ops::mint`](crate::ops::mint).

use axum::extract::State;
use axum::response::ErrorResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::{Authenticated, OAuthError, Peer};
use crate::AppState;
use crate::ops::mint::{self, TokenResponse};
use crate::ops::{Caller, OpError};
use crate::scope::ScopeError;

/// The only grant this issuer supports.
const CLIENT_CREDENTIALS: &str = "client_credentials";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/oauth/token", post(token))
}

/// The grant's own parameters; the client's credentials are read beside them.
#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
}

async fn token(
    State(state): State<AppState>,
    peer: Peer,
    Authenticated { client, form }: Authenticated<TokenForm>,
) -> axum::response::Result<Json<TokenResponse>> {
    // `ErrorResponse` carries both OAuth errors and the 503 of an unwritable audit trail.
    match form.grant_type.as_deref() {
        Some(CLIENT_CREDENTIALS) => {}
        Some(_) => return Err(OAuthError::UnsupportedGrantType.into()),
        None => return Err(OAuthError::InvalidRequest("missing grant_type").into()),
    }
    let caller = Caller::Client {
        id: client.id.as_str().to_owned(),
        source: peer.label(),
    };
    let scope = form.scope.as_deref();
    let minted = mint::mint(state.ctx(), state.minter(), &caller, &client, scope)
        .await
        .map_err(|err| match err {
            OpError::Scope(err) => ErrorResponse::from(scope_error(err)),
            OpError::Audit(err) => ErrorResponse::from(err),
            other => ErrorResponse::from(OAuthError::from(other)),
        })?;
    Ok(Json(minted.response))
}

/// The token endpoint's `invalid_scope` for a scope the client may not have.
fn scope_error(err: ScopeError) -> OAuthError {
    match err {
        ScopeError::Empty => OAuthError::InvalidScope("scope is empty"),
        ScopeError::InvalidCharacter => OAuthError::InvalidScope("scope is malformed"),
        _ => OAuthError::InvalidScope("requested scope is not allowed for this client"),
    }
}
