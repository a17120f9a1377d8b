//! The admin API's clients: list, register, disable, replace the secret, and mint a token on
//! an operator's say-so (`POST /admin/clients/{id}/token`).
//!
//! Every change is an operation of [`crate::ops`], audited there, refused ones too, with the
//! credential as actor; secrets and tokens are returned once, in the response that created
//! them, and never audited or logged.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::AdminContext;
use super::body::{parse_body, require_body};
use super::error::AdminError;
use crate::AppState;
use crate::clients::ClientKind;
use crate::clock::UnixTime;
use crate::ops::clients::{self, AuthMethod, Registration};
use crate::ops::mint::{self, TokenResponse};
use crate::store::ClientSummary;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/clients", get(list_clients).post(create_client))
        .route("/admin/clients/{id}/disable", post(disable_client))
        .route("/admin/clients/{id}/secret", post(rotate_secret))
        .route("/admin/clients/{id}/token", post(issue_token))
}

async fn list_clients(
    State(state): State<AppState>,
) -> Result<Json<Vec<ClientSummary>>, AdminError> {
    Ok(Json(state.store.client_summaries().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateClient {
    client_id: String,
    /// `service` (the default) or `agent`.
    #[serde(default)]
    kind: ClientKind,
    scope: String,
    audience: Option<String>,
    ttl: Option<u64>,
    #[serde(default)]
    auth_method: AuthMethod,
    /// The public JWKS of a `private_key_jwt` client: an object, or a string holding one.
    jwks: Option<Value>,
}

/// The answer to a registration: the only time a `client_secret` is ever shown.
#[derive(Debug, Serialize)]
struct CreatedClient {
    client_id: String,
    kind: &'static str,
    auth_method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    scope: String,
    audience: String,
    ttl: u64,
    created_at: UnixTime,
}

async fn create_client(
    State(state): State<AppState>,
    admin: AdminContext,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<CreatedClient>), AdminError> {
    let request: CreateClient = require_body(body)?;
    let registration = Registration {
        client_id: request.client_id,
        kind: request.kind,
        scope: request.scope,
        audience: request.audience,
        ttl: request.ttl,
        auth_method: request.auth_method,
        jwks: request.jwks.map(|jwks| match jwks {
            Value::String(text) => text,
            other => other.to_string(),
        }),
    };
    let created =
        clients::register(state.ctx(), &state.hasher, &admin.caller(), registration).await?;
    let client = &created.client;
    tracing::info!(client_id = %client.id, kind = client.kind.as_str(), auth_method = created.auth_method.as_str(), actor = %admin.actor, "admin registered a client");
    Ok((
        StatusCode::CREATED,
        Json(CreatedClient {
            client_id: client.id.as_str().to_owned(),
            kind: client.kind.as_str(),
            auth_method: created.auth_method.as_str(),
            client_secret: created.secret.map(|secret| secret.expose().to_owned()),
            scope: client.scope.to_string(),
            audience: client.audience.as_str().to_owned(),
            ttl: client.ttl.secs(),
            created_at: client.created_at,
        }),
    ))
}

#[derive(Debug, Serialize)]
struct DisabledClient {
    client_id: String,
    disabled: bool,
}

async fn disable_client(
    State(state): State<AppState>,
    admin: AdminContext,
    Path(id): Path<String>,
) -> Result<Json<DisabledClient>, AdminError> {
    let id = clients::disable(state.ctx(), &admin.caller(), &id).await?;
    tracing::info!(client_id = %id, actor = %admin.actor, "admin disabled a client");
    Ok(Json(DisabledClient {
        client_id: id.as_str().to_owned(),
        disabled: true,
    }))
}

#[derive(Debug, Serialize)]
struct RotatedSecret {
    client_id: String,
    client_secret: String,
}

async fn rotate_secret(
    State(state): State<AppState>,
    admin: AdminContext,
    Path(id): Path<String>,
) -> Result<Json<RotatedSecret>, AdminError> {
    let (id, secret) =
        clients::rotate_secret(state.ctx(), &state.hasher, &admin.caller(), &id).await?;
    tracing::info!(client_id = %id, actor = %admin.actor, "admin rotated a client secret");
    Ok(Json(RotatedSecret {
        client_id: id.as_str().to_owned(),
        client_secret: secret.expose().to_owned(),
    }))
}

/// `{}` for every scope the client has, or `{"scope": "a b"}` to narrow it (never widen).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueToken {
    scope: Option<String>,
}

/// Issues a token to the client `id` without its secret ([`mint::mint_for`]): for operators
/// trying a gateway route, or the UI explaining a decision.
async fn issue_token(
    State(state): State<AppState>,
    admin: AdminContext,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TokenResponse>, AdminError> {
    let request: IssueToken = parse_body(body)?.unwrap_or_default();
    let scope = request.scope.as_deref();
    let (client, minted) =
        mint::mint_for(state.ctx(), state.minter(), &admin.caller(), &id, scope).await?;
    // As the token endpoint's 200s are counted by the public router's metrics layer.
    state.metrics.count_token_issued();
    tracing::info!(client_id = %client.id, jti = %minted.jti, actor = %admin.actor, "admin had a token issued to a client");
    Ok(Json(minted.response))
}
