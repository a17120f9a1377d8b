//! `POST /oauth/token`: the client credentials grant (RFC 6749 §4.4) minting RFC 9068 tokens.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{Authenticated, OAuthError, Peer, PostCredentials};
use crate::access_token;
use crate::audit::{AuditEvent, Outcome};
use crate::random::random_base64url;
use crate::scope::ScopeError;
use crate::state::AppState;

/// The only grant this issuer supports.
const CLIENT_CREDENTIALS: &str = "client_credentials";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/oauth/token", post(token))
}

#[derive(Debug, Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

impl PostCredentials for TokenForm {
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

/// RFC 6749 §5.1 successful response.
#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
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
    let scope = client
        .scope
        .narrow(form.scope.as_deref())
        .map_err(|err| match err {
            ScopeError::Empty => OAuthError::InvalidScope("scope is empty"),
            ScopeError::InvalidCharacter => OAuthError::InvalidScope("scope is malformed"),
            _ => OAuthError::InvalidScope("requested scope is not allowed for this client"),
        })?;
    let now = state.clock.now();
    let signer = state
        .keyring
        .signer(&state.store)
        .await
        .map_err(OAuthError::from)?;
    // 128 bits: unguessable and collision-free for the life of the revocation table.
    let jti = random_base64url::<16>().map_err(OAuthError::from)?;
    let claims = access_token::claims(&state.issuer, &client, &scope, jti.clone(), now);
    let exp = claims.expires_at.map(|at| at.as_secs());
    let access_token = signer.sign_access_token(claims).map_err(OAuthError::from)?;
    // No token leaves without its record committed: if the trail cannot be written the
    // signed token is dropped and the client gets 503 (and retries), never an unaudited token.
    let event = AuditEvent {
        actor: client.id.as_str().to_owned(),
        action: "token.issued",
        target: jti.clone(),
        source: peer.label(),
        outcome: Outcome::Success,
        detail: serde_json::json!({
            "scope": scope.to_string(),
            "aud": client.audience.as_str(),
            "exp": exp,
            "kid": signer.kid(),
        }),
    };
    if let Err(err) = state.audit.record(event).await {
        tracing::error!(client_id = %client.id, %jti, error = %err, code = err.code(), "token not issued: cannot audit it");
        return Err(err.into());
    }
    tracing::info!(client_id = %client.id, kid = %signer.kid(), %jti, scope = %scope, "issued access token");
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.ttl.secs(),
        scope: scope.to_string(),
    }))
}
