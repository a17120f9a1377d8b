//! `POST /oauth/introspect`: token introspection (RFC 7662).
//!
//! A delegated token is inactive once any token it was exchanged from is revoked, or its
//! principal or any agent of its chain is revoked as a client: what gateways decide from the
//! revocation feed. An active one shows its chain (`act`, as the token carries it).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use super::{Authenticated, OAuthError, PresentedToken};
use crate::AppState;
use crate::access_token::{self, ValidToken};
use crate::clock::UnixTime;
use crate::ops::revocations;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/oauth/introspect", post(introspect))
}

/// RFC 7662 §2.2. An inactive token is `{"active": false}` and nothing else, so the answer
/// says nothing about why.
#[derive(Debug, Serialize)]
struct Introspection {
    active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    token: Option<ActiveToken>,
}

#[derive(Debug, Serialize)]
struct ActiveToken {
    iss: String,
    sub: String,
    aud: String,
    client_id: String,
    scope: String,
    exp: UnixTime,
    iat: UnixTime,
    jti: String,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<Value>,
}

impl From<ValidToken> for ActiveToken {
    fn from(token: ValidToken) -> Self {
        Self {
            iss: token.iss,
            sub: token.sub,
            aud: token.aud,
            client_id: token.client_id,
            scope: token.scope,
            exp: token.exp,
            iat: token.iat,
            jti: token.jti,
            token_type: "Bearer",
            sub_profile: token.sub_profile,
            act: token.act,
        }
    }
}

/// Any authenticated client may introspect any token: resource servers are clients too.
async fn introspect(
    State(state): State<AppState>,
    Authenticated { form, .. }: Authenticated<PresentedToken>,
) -> Result<Json<Introspection>, OAuthError> {
    let token = form.token()?;
    let now = state.clock.now();
    let keys = state.keyring.verifying_keys(&state.store).await?;
    let valid = match access_token::validate_with(&token, &keys, &state.issuer, now) {
        // Revoked by jti, through a token it was exchanged from, or with every token of a
        // client it names (the admin's revoke-tokens, an agent disabled).
        Some(valid) if revocations::revoked(&state.store, &valid).await?.is_none() => Some(valid),
        _ => None,
    };
    Ok(Json(Introspection {
        active: valid.is_some(),
        token: valid.map(ActiveToken::from),
    }))
}
