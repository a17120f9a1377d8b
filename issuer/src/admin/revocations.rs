//! The admin API's revocations: list them, revoke one token by its `jti`, or every token of a
//! client (`POST /admin/revocations` with `client_id`, or `POST /admin/clients/{id}/revoke-tokens`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::auth::AdminContext;
use super::body::require_body;
use super::error::AdminError;
use crate::AppState;
use crate::clock::UnixTime;
use crate::ops::revocations::{self, ClientRevoked};
use crate::store::{RevokedClient, RevokedToken};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/clients/{id}/revoke-tokens",
            post(revoke_client_tokens),
        )
        .route(
            "/admin/revocations",
            get(list_revocations).post(create_revocation),
        )
}

async fn revoke_client_tokens(
    State(state): State<AppState>,
    admin: AdminContext,
    Path(id): Path<String>,
) -> Result<Json<ClientRevoked>, AdminError> {
    Ok(Json(revoke_client(&state, &admin, &id).await?))
}

/// Revokes every token of the client `id`, for both routes that do it.
async fn revoke_client(
    state: &AppState,
    admin: &AdminContext,
    id: &str,
) -> Result<ClientRevoked, AdminError> {
    let done = revocations::revoke_client(state.ctx(), &admin.caller(), id).await?;
    tracing::info!(client_id = %done.client_id, revoked_before = done.revoked_before, actor = %admin.actor, "admin revoked every token of a client");
    Ok(done)
}

#[derive(Debug, Serialize)]
struct Revocations {
    tokens: Vec<RevokedToken>,
    clients: Vec<RevokedClient>,
}

async fn list_revocations(State(state): State<AppState>) -> Result<Json<Revocations>, AdminError> {
    let (tokens, clients) = state.store.revocations(state.clock.now()).await?;
    Ok(Json(Revocations { tokens, clients }))
}

/// `{"jti", "exp"}` (optionally with the `client_id` it was issued to) revokes one token;
/// `{"client_id"}` alone revokes every token of that client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRevocation {
    jti: Option<String>,
    exp: Option<UnixTime>,
    client_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Revoked {
    Token { jti: String, exp: UnixTime },
    Client(ClientRevoked),
}

async fn create_revocation(
    State(state): State<AppState>,
    admin: AdminContext,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Revoked>, AdminError> {
    let request: CreateRevocation = require_body(body)?;
    match (request.jti, request.exp, request.client_id) {
        (Some(jti), Some(exp), client_id) => {
            let client_id = client_id.as_deref();
            revocations::revoke_token(state.ctx(), &admin.caller(), &jti, exp, client_id).await?;
            tracing::info!(%jti, exp, actor = %admin.actor, "admin revoked an access token");
            Ok(Json(Revoked::Token { jti, exp }))
        }
        (Some(_), None, _) => Err(AdminError::InvalidRequest(
            "exp (the token's expiry, Unix seconds) is required with jti".to_owned(),
        )),
        (None, Some(_), _) => Err(AdminError::InvalidRequest(
            "exp is only meaningful with jti".to_owned(),
        )),
        (None, None, Some(client_id)) => Ok(Json(Revoked::Client(
            revoke_client(&state, &admin, &client_id).await?,
        ))),
        (None, None, None) => Err(AdminError::InvalidRequest(
            "give jti and exp, or client_id".to_owned(),
        )),
    }
}
