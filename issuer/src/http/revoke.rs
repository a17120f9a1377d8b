//! `POST /oauth/revoke`: token revocation (RFC 7009).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::ErrorResponse;
use axum::routing::post;
use serde::Deserialize;

use super::{Authenticated, OAuthError, Peer, PostCredentials};
use crate::AppState;
use crate::ops::revocations::{self, RevocationError};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/oauth/revoke", post(revoke))
}

#[derive(Debug, Deserialize)]
pub(super) struct RevokeForm {
    token: Option<String>,
    // `token_type_hint` is accepted and ignored: access tokens are the only kind (RFC 7009 §2.1).
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

impl PostCredentials for RevokeForm {
    fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_deref()
    }

    fn client_assertion_type(&self) -> Option<&str> {
        self.client_assertion_type.as_deref()
    }

    fn client_assertion(&self) -> Option<&str> {
        self.client_assertion.as_deref()
    }
}

/// Revokes the token if it is ours, still valid and was issued to the caller
/// ([`revocations::revoke_presented`]).
///
/// Tokens that are invalid, expired or unknown get 200 as well (RFC 7009 §2.2): there is
/// nothing left to revoke. A valid token of another client is refused (§2.1).
async fn revoke(
    State(state): State<AppState>,
    peer: Peer,
    Authenticated { client, form }: Authenticated<RevokeForm>,
) -> axum::response::Result<StatusCode> {
    // `ErrorResponse` carries both OAuth errors and the 503 of an unwritable audit trail.
    let token = form
        .token
        .filter(|token| !token.is_empty())
        .ok_or(OAuthError::InvalidRequest("missing token"))?;
    revocations::revoke_presented(state.ctx(), &state.issuer, &client, peer.label(), &token)
        .await
        .map_err(|err| match err {
            RevocationError::NotYours => ErrorResponse::from(OAuthError::UnauthorizedClient(
                "the token was issued to another client",
            )),
            RevocationError::Audit(err) => ErrorResponse::from(err),
            other => ErrorResponse::from(OAuthError::from(other)),
        })?;
    Ok(StatusCode::OK)
}
