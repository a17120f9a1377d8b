//! `POST /oauth/revoke`: token revocation (RFC 7009).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::ErrorResponse;
use axum::routing::post;

use super::{Authenticated, OAuthError, Peer, PresentedToken};
use crate::AppState;
use crate::ops::OpError;
use crate::ops::revocations;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/oauth/revoke", post(revoke))
}

/// Revokes the token if it is ours, still valid and was issued to the caller
/// ([`revocations::revoke_presented`]).
///
/// Tokens that are invalid, expired or unknown get 200 as well (RFC 7009 §2.2): there is
/// nothing left to revoke. A valid token of another client is refused (§2.1).
async fn revoke(
    State(state): State<AppState>,
    peer: Peer,
    Authenticated { client, form }: Authenticated<PresentedToken>,
) -> axum::response::Result<StatusCode> {
    // `ErrorResponse` carries both OAuth errors and the 503 of an unwritable audit trail.
    let token = form.token()?;
    revocations::revoke_presented(state.ctx(), &state.issuer, &client, peer.label(), &token)
        .await
        .map_err(|err| match err {
            OpError::NotYours => ErrorResponse::from(OAuthError::UnauthorizedClient(
                "the token was issued to another client",
            )),
            OpError::Audit(err) => ErrorResponse::from(err),
            other => ErrorResponse::from(OAuthError::from(other)),
        })?;
    Ok(StatusCode::OK)
}
