//! `POST /oauth/token`: the client credentials grant (RFC 6749 §4.4) minting RFC 9068 tokens
//! with [`ops::mint`](crate::ops::mint), and token exchange (RFC 8693) for agents with
//! [`ops::exchange`](crate::ops::exchange).

use axum::extract::State;
use axum::response::{ErrorResponse, IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::{Authenticated, OAuthError, Peer};
use crate::AppState;
use crate::ops::exchange::{self, ErrorClass, ExchangeError, ExchangeRequest, TOKEN_EXCHANGE};
use crate::ops::mint;
use crate::ops::{Caller, OpError};
use crate::scope::ScopeError;

/// The client credentials grant.
const CLIENT_CREDENTIALS: &str = "client_credentials";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/oauth/token", post(token))
}

/// Every grant's own parameters; the client's credentials are read beside them. A repeated
/// parameter is refused (RFC 6749 §3.1), so one `audience` at most.
#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
    subject_token: Option<String>,
    subject_token_type: Option<String>,
    actor_token: Option<String>,
    actor_token_type: Option<String>,
    audience: Option<String>,
    resource: Option<String>,
    requested_token_type: Option<String>,
}

async fn token(
    State(state): State<AppState>,
    peer: Peer,
    Authenticated { client, form }: Authenticated<TokenForm>,
) -> axum::response::Result<Response> {
    // `ErrorResponse` carries both OAuth errors and the 503 of an unwritable audit trail.
    match form.grant_type.as_deref() {
        Some(CLIENT_CREDENTIALS) => {
            let caller = Caller::Client {
                id: client.id.as_str().to_owned(),
                source: peer.label(),
            };
            let scope = form.scope.as_deref();
            let minted = mint::mint(state.ctx(), state.minter(), &caller, &client, scope)
                .await
                .map_err(answer)?;
            Ok(Json(minted.response).into_response())
        }
        Some(TOKEN_EXCHANGE) => {
            let request = ExchangeRequest {
                subject_token: form.subject_token,
                subject_token_type: form.subject_token_type,
                actor_token: form.actor_token,
                actor_token_type: form.actor_token_type,
                scope: form.scope,
                audience: form.audience,
                resource: form.resource,
                requested_token_type: form.requested_token_type,
            };
            let exchanged = exchange::exchange(
                state.ctx(),
                state.minter(),
                &client,
                peer.label(),
                &request,
                state.max_delegation_depth,
            )
            .await
            .map_err(answer)?;
            Ok(Json(exchanged.response).into_response())
        }
        Some(_) => Err(OAuthError::UnsupportedGrantType.into()),
        None => Err(OAuthError::InvalidRequest("missing grant_type").into()),
    }
}

/// The token endpoint's answer to an operation's error.
fn answer(err: OpError) -> ErrorResponse {
    match err {
        OpError::Scope(err) => ErrorResponse::from(scope_error(err)),
        OpError::Exchange(err) => ErrorResponse::from(exchange_error(&err)),
        OpError::Audit(err) => ErrorResponse::from(err),
        other => ErrorResponse::from(OAuthError::from(other)),
    }
}

/// The token endpoint's `invalid_scope` for a scope the client may not have.
fn scope_error(err: ScopeError) -> OAuthError {
    match err {
        ScopeError::Empty => OAuthError::InvalidScope("scope is empty"),
        ScopeError::InvalidCharacter => OAuthError::InvalidScope("scope is malformed"),
        _ => OAuthError::InvalidScope("requested scope is not allowed for this client"),
    }
}

/// A refused exchange, in the class RFC 8693 §2.2.2 gives it.
fn exchange_error(err: &ExchangeError) -> OAuthError {
    let text = err.description();
    match err.class() {
        ErrorClass::InvalidRequest => OAuthError::InvalidRequest(text),
        ErrorClass::InvalidGrant => OAuthError::InvalidGrant(text),
        ErrorClass::InvalidScope => OAuthError::InvalidScope(text),
        ErrorClass::InvalidTarget => OAuthError::InvalidTarget(text),
        ErrorClass::UnauthorizedClient => OAuthError::UnauthorizedClient(text),
    }
}
