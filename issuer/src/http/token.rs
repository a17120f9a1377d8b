//! `POST /oauth/token`: the client credentials grant (RFC 6749 §4.4) minting RFC 9068 tokens.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{Authenticated, OAuthError, PostCredentials};
use crate::access_token;
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
}

impl PostCredentials for TokenForm {
    fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_deref()
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
    Authenticated { client, form }: Authenticated<TokenForm>,
) -> Result<Json<TokenResponse>, OAuthError> {
    match form.grant_type.as_deref() {
        Some(CLIENT_CREDENTIALS) => {}
        Some(_) => return Err(OAuthError::UnsupportedGrantType),
        None => return Err(OAuthError::InvalidRequest("missing grant_type")),
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
    let signer = state.keyring.signer(&state.store).await?;
    // 128 bits: unguessable and collision-free for the life of the revocation table.
    let jti = random_base64url::<16>()?;
    let claims = access_token::claims(&state.issuer, &client, &scope, jti.clone(), now);
    let access_token = signer.sign_access_token(claims)?;
    tracing::info!(client_id = %client.id, kid = %signer.kid(), %jti, scope = %scope, "issued access token");
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.ttl.secs(),
        scope: scope.to_string(),
    }))
}
