//! `POST /oauth/revoke`: token revocation (RFC 7009).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;

use super::{Authenticated, OAuthError, PostCredentials};
use crate::access_token;
use crate::keys;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/oauth/revoke", post(revoke))
}

#[derive(Debug, Deserialize)]
pub(super) struct RevokeForm {
    token: Option<String>,
    // `token_type_hint` is accepted and ignored: access tokens are the only kind (RFC 7009 §2.1).
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl PostCredentials for RevokeForm {
    fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_deref()
    }
}

/// Revokes the token by its `jti` if it is ours, still valid and was issued to the caller.
///
/// Tokens that are invalid, expired or unknown get 200 as well (RFC 7009 §2.2): there is
/// nothing left to revoke. A valid token of another client is refused (§2.1).
async fn revoke(
    State(state): State<AppState>,
    Authenticated { client, form }: Authenticated<RevokeForm>,
) -> Result<StatusCode, OAuthError> {
    let token = form
        .token
        .filter(|token| !token.is_empty())
        .ok_or(OAuthError::InvalidRequest("missing token"))?;
    let now = state.clock.now();
    let keys = keys::published(&state.store).await?;
    let Some(valid) = access_token::validate(&token, &keys, &state.issuer, now) else {
        return Ok(StatusCode::OK);
    };
    if valid.client_id != client.id.as_str() {
        return Err(OAuthError::UnauthorizedClient(
            "the token was issued to another client",
        ));
    }
    state
        .store
        .revoke_token(&valid.jti, &valid.client_id, valid.exp, now)
        .await?;
    tracing::info!(client_id = %client.id, jti = %valid.jti, "revoked access token");
    // Piggybacks on revocations (rare) so the table stays as small as the live token set.
    state.store.purge_expired_revocations(now).await?;
    Ok(StatusCode::OK)
}
