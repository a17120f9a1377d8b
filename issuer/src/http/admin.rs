//! The admin API (admin port only, behind `admin_auth`): clients, keys and revocations, and
//! tokens issued to a client on an operator's say-so (`POST /admin/clients/{id}/token`).
//!
//! JSON in and out; errors are `{"error": code, "error_description": text}`. Every change is
//! audited, refused ones too, with the credential as actor; secrets and tokens are returned
//! once, in the response that created them, and never audited or logged.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::OAuthError;
use super::admin_auth::AdminContext;
use crate::audit::{AuditEvent, Outcome};
use crate::clients::ClientError;
use crate::clock::UnixTime;
use crate::keys::{self, KeyError, KeyInfo, Urgency};
use crate::ops::clients::{self, AuthMethod, ClientOpError, Registration};
use crate::ops::keys::KeyOpError;
use crate::ops::mint::{self, MintError, TokenResponse};
use crate::ops::revocations::{self, ClientRevoked, RevocationError};
use crate::random::RandomError;
use crate::scope::ScopeError;
use crate::state::AppState;
use crate::store::{ClientSummary, RevokedClient, RevokedToken, StoreError};

/// Largest admin request body: room for a client JWKS of the verifier's maximum size (64 KiB).
const MAX_ADMIN_BODY_BYTES: usize = 72 * 1024;

/// Every admin route. `require_admin` is layered on by the caller (`admin_router`).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/clients", get(list_clients).post(create_client))
        .route("/admin/clients/{id}/disable", post(disable_client))
        .route("/admin/clients/{id}/secret", post(rotate_secret))
        .route("/admin/clients/{id}/token", post(issue_token))
        .route(
            "/admin/clients/{id}/revoke-tokens",
            post(revoke_client_tokens),
        )
        .route("/admin/keys", get(list_keys))
        .route("/admin/keys/rotate", post(rotate_keys))
        .route(
            "/admin/revocations",
            get(list_revocations).post(create_revocation),
        )
        .layer(DefaultBodyLimit::max(MAX_ADMIN_BODY_BYTES))
}

/// Why an admin request failed; each maps to one status and one stable code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(super) enum AdminError {
    /// No credential was presented.
    #[error("an admin credential is required: Authorization: Bearer <token>")]
    MissingCredential,
    /// The credential is malformed, unknown or revoked.
    #[error("the admin credential is not valid")]
    InvalidCredential,
    /// Too many failed authentications from this address.
    #[error("too many failed admin authentications from this address; retry later")]
    Locked {
        /// Seconds until the lockout ends.
        retry_after_secs: u64,
    },
    /// A session cookie names no live session (unknown, expired, signed out, or its credential
    /// was reset), or a session endpoint was called without one.
    #[error("no valid admin session: sign in again with the admin credential")]
    SessionRequired,
    /// A cookie-authenticated request failed the CSRF checks (the stable reason is given).
    #[error(
        "request refused by the CSRF checks ({0}): send the session's X-CSRF-Token from this origin"
    )]
    CsrfFailed(&'static str),
    /// A sign-in that did not come from a page of this origin (the stable reason is given):
    /// refused before the credential is looked at, so it is neither throttled nor audited.
    #[error(
        "sign-in refused by the CSRF checks ({0}): sign in from the admin UI's own page, at this origin"
    )]
    CrossSiteSignIn(&'static str),
    /// A body that must be JSON was not sent as `Content-Type: application/json`.
    #[error("send the body as JSON, with Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body or a parameter is malformed or out of range.
    #[error("{0}")]
    InvalidRequest(String),
    /// The body exceeds [`MAX_ADMIN_BODY_BYTES`].
    #[error("request body is too large")]
    PayloadTooLarge,
    /// The requested scope is malformed or wider than the client's.
    #[error("{0}")]
    InvalidScope(String),
    /// No client has this id.
    #[error("no client with this id")]
    ClientNotFound,
    /// Registration of an id that is taken; the existing client was left untouched.
    #[error("a client with this id already exists; nothing was changed")]
    ClientExists,
    /// The request contradicts the current state (code, description).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// The action's audit record could not be written (the cause is logged where it failed).
    #[error("the action could not be recorded in the audit trail; check the server log")]
    AuditFailed,
    /// Anything else: a 500 whose cause is logged by `log_internal_errors`, never sent.
    #[error("internal error")]
    Internal(OAuthError),
}

impl AdminError {
    /// The stable `error` code.
    pub(super) fn code(&self) -> &'static str {
        match self {
            Self::MissingCredential | Self::SessionRequired => "unauthorized",
            Self::InvalidCredential => "invalid_token",
            Self::Locked { .. } => "temporarily_locked",
            Self::CsrfFailed(_) | Self::CrossSiteSignIn(_) => "csrf_failed",
            Self::InvalidRequest(_) | Self::PayloadTooLarge | Self::UnsupportedMediaType => {
                "invalid_request"
            }
            Self::InvalidScope(_) => "invalid_scope",
            Self::ClientNotFound => "not_found",
            Self::ClientExists => "already_exists",
            Self::Conflict(code, _) => code,
            Self::AuditFailed | Self::Internal(_) => "server_error",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::MissingCredential | Self::InvalidCredential | Self::SessionRequired => {
                StatusCode::UNAUTHORIZED
            }
            Self::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::CsrfFailed(_) | Self::CrossSiteSignIn(_) => StatusCode::FORBIDDEN,
            Self::InvalidRequest(_) | Self::InvalidScope(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ClientNotFound => StatusCode::NOT_FOUND,
            Self::ClientExists | Self::Conflict(..) => StatusCode::CONFLICT,
            Self::AuditFailed | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let challenge = match &self {
            // RFC 6750 §3.1: no error code when no credential was sent at all.
            Self::MissingCredential | Self::SessionRequired => {
                Some("Bearer realm=\"issuer-admin\"")
            }
            Self::InvalidCredential => {
                Some("Bearer realm=\"issuer-admin\", error=\"invalid_token\"")
            }
            _ => None,
        };
        let retry_after = match &self {
            Self::Locked { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        if let Self::Internal(inner) = self {
            return inner.into_response();
        }
        let body = json!({ "error": self.code(), "error_description": self.to_string() });
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = challenge {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(secs) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

macro_rules! internal_from {
    ($($err:ty),*) => {$(
        impl From<$err> for AdminError {
            fn from(err: $err) -> Self {
                Self::Internal(OAuthError::from(err))
            }
        }
    )*};
}

internal_from!(StoreError, KeyError, ClientError, RandomError);

// What an operation's errors are on the admin API: one status and code each.

impl From<ClientOpError> for AdminError {
    fn from(err: ClientOpError) -> Self {
        match err {
            ClientOpError::Invalid(text) => Self::InvalidRequest(text),
            ClientOpError::Jwks(err) => Self::InvalidRequest(format!("jwks: {err}")),
            ClientOpError::NotFound => Self::ClientNotFound,
            ClientOpError::Exists(_) => Self::ClientExists,
            ClientOpError::WrongAuthMethod => Self::Conflict(
                "wrong_auth_method",
                ClientOpError::WrongAuthMethod.to_string(),
            ),
            ClientOpError::Audit(_) => Self::AuditFailed,
            other => Self::Internal(OAuthError::from(other)),
        }
    }
}

impl From<MintError> for AdminError {
    fn from(err: MintError) -> Self {
        match err {
            MintError::Scope(err) => Self::InvalidScope(match err {
                ScopeError::NotAllowed => {
                    "the requested scope is not allowed for this client".to_owned()
                }
                other => format!("invalid scope: {other}"),
            }),
            MintError::NotFound => Self::ClientNotFound,
            MintError::Disabled => Self::Conflict("client_disabled", err.to_string()),
            MintError::Audit(_) => Self::AuditFailed,
            other => Self::Internal(OAuthError::from(other)),
        }
    }
}

impl From<KeyOpError> for AdminError {
    fn from(err: KeyOpError) -> Self {
        match err {
            KeyOpError::Key(KeyError::NextNotReady { .. }) => {
                Self::Conflict("next_key_not_ready", err.to_string())
            }
            KeyOpError::Key(KeyError::Concurrent) => {
                Self::Conflict("rotation_conflict", err.to_string())
            }
            KeyOpError::Audit(_) => Self::AuditFailed,
            other => Self::Internal(OAuthError::from(other)),
        }
    }
}

impl From<RevocationError> for AdminError {
    fn from(err: RevocationError) -> Self {
        match err {
            RevocationError::Invalid(text) => Self::InvalidRequest(text),
            RevocationError::NotFound => Self::ClientNotFound,
            RevocationError::Audit(_) => Self::AuditFailed,
            other => Self::Internal(OAuthError::from(other)),
        }
    }
}

/// Records an admin action and its outcome, then hands the result on. A refused action is
/// audited with the error code added to `detail`; if the record cannot be written, the
/// request fails (the action itself may have happened: the log says so).
pub(super) async fn audited<T>(
    state: &AppState,
    admin: &AdminContext,
    action: &'static str,
    target: &str,
    mut detail: Value,
    result: Result<T, AdminError>,
) -> Result<T, AdminError> {
    let outcome = match &result {
        Ok(_) => Outcome::Success,
        Err(err) => {
            if let Value::Object(fields) = &mut detail {
                fields.insert("error".to_owned(), Value::from(err.code()));
            }
            Outcome::Failure
        }
    };
    let event = AuditEvent {
        actor: admin.actor.clone(),
        action,
        target: target.to_owned(),
        source: admin.source.clone(),
        outcome,
        detail,
    };
    if let Err(err) = state.audit.record(event).await {
        tracing::error!(error = %err, code = err.code(), action, "cannot write an admin audit record");
        return Err(AdminError::AuditFailed);
    }
    result
}

/// Parses a JSON body; `Ok(None)` when it is empty.
pub(super) fn parse_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<Option<T>, AdminError> {
    let bytes = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AdminError::PayloadTooLarge,
        _ => AdminError::InvalidRequest("cannot read the request body".to_owned()),
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|err| AdminError::InvalidRequest(format!("malformed JSON body: {err}")))
}

/// Parses a JSON body that must be present.
pub(super) fn require_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, AdminError> {
    parse_body(body)?
        .ok_or_else(|| AdminError::InvalidRequest("a JSON body is required".to_owned()))
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
    tracing::info!(client_id = %client.id, auth_method = created.auth_method.as_str(), actor = %admin.actor, "admin registered a client");
    Ok((
        StatusCode::CREATED,
        Json(CreatedClient {
            client_id: client.id.as_str().to_owned(),
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
    let (keyring, issuer) = (&state.keyring, &state.issuer);
    let scope = request.scope.as_deref();
    let (client, minted) =
        mint::mint_for(state.ctx(), keyring, issuer, &admin.caller(), &id, scope).await?;
    // As the token endpoint's 200s are counted by the public router's metrics layer.
    state.metrics.count_token_issued();
    tracing::info!(client_id = %client.id, jti = %minted.jti, actor = %admin.actor, "admin had a token issued to a client");
    Ok(Json(minted.response))
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

async fn list_keys(State(state): State<AppState>) -> Result<Json<Vec<KeyInfo>>, AdminError> {
    let listed = keys::list(&state.store).await?;
    Ok(Json(keys::with_schedule(listed, &state.keys.rotation)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateKeys {
    /// Sign with a brand-new key at once instead of the pre-published next key.
    #[serde(default)]
    emergency: bool,
}

#[derive(Debug, Serialize)]
struct RotatedKeys {
    /// The key that signs from now on.
    kid: String,
    status: &'static str,
    emergency: bool,
}

async fn rotate_keys(
    State(state): State<AppState>,
    admin: AdminContext,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RotatedKeys>, AdminError> {
    let request: RotateKeys = parse_body(body)?.unwrap_or_default();
    let urgency = if request.emergency {
        Urgency::Emergency
    } else {
        Urgency::Planned
    };
    let kid = crate::ops::keys::rotate(state.ctx(), &state.keys, &admin.caller(), urgency).await?;
    tracing::info!(%kid, emergency = request.emergency, actor = %admin.actor, "admin rotated the signing key");
    Ok(Json(RotatedKeys {
        kid,
        status: "current",
        emergency: request.emergency,
    }))
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
