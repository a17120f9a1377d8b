//! `POST /oauth/revoke`: token revocation (RFC 7009).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;

use super::{Authenticated, OAuthError, Peer, PostCredentials};
use crate::access_token;
use crate::audit::{AuditEvent, Outcome};
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

/// Revokes the token by its `jti` if it is ours, still valid and was issued to the caller.
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
    let now = state.clock.now();
    let keys = keys::published(&state.store)
        .await
        .map_err(OAuthError::from)?;
    let Some(valid) = access_token::validate(&token, &keys, &state.issuer, now) else {
        return Ok(StatusCode::OK);
    };
    let event = |outcome, detail| AuditEvent {
        actor: client.id.as_str().to_owned(),
        action: "token.revoked",
        target: valid.jti.clone(),
        source: peer.label(),
        outcome,
        detail,
    };
    if valid.client_id != client.id.as_str() {
        // A refusal changes nothing, so failing to audit it does not change the answer.
        let refused = event(
            Outcome::Failure,
            serde_json::json!({"reason": "issued to another client"}),
        );
        if let Err(err) = state.audit.record(refused).await {
            tracing::error!(client_id = %client.id, error = %err, code = err.code(), "cannot audit a refused revocation");
        }
        return Err(
            OAuthError::UnauthorizedClient("the token was issued to another client").into(),
        );
    }
    state
        .store
        .revoke_token(&valid.jti, &valid.client_id, valid.exp, now)
        .await
        .map_err(OAuthError::from)?;
    tracing::info!(client_id = %client.id, jti = %valid.jti, "revoked access token");
    // The revocation stands either way (failing safe); on 503 the client retries, and the
    // retry, finding nothing new to revoke, writes the missing record.
    let revoked = event(Outcome::Success, serde_json::json!({"exp": valid.exp}));
    if let Err(err) = state.audit.record(revoked).await {
        tracing::error!(client_id = %client.id, jti = %valid.jti, error = %err, code = err.code(), "cannot audit a revocation");
        return Err(err.into());
    }
    // Piggybacks on revocations (rare) so the table stays as small as the live token set.
    state
        .store
        .purge_expired_revocations(now)
        .await
        .map_err(OAuthError::from)?;
    Ok(StatusCode::OK)
}
