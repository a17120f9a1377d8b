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
use super::token::{self, IssueError, Requester, TokenResponse};
use crate::audit::{AuditEvent, Outcome};
use crate::clients::{
    self, Audience, Client, ClientError, ClientId, ClientSecret, MAX_TTL_SECS, NewClient, Ttl,
};
use crate::clock::UnixTime;
use crate::keys::{self, KeyError, KeyInfo, Urgency};
use crate::random::RandomError;
use crate::scope::{Scope, ScopeError};
use crate::state::AppState;
use crate::store::{ClientSummary, RevokedClient, RevokedToken, StoreError};

/// Audience of clients registered without one (the same default as `issuer client create`).
const DEFAULT_AUDIENCE: &str = "quantjourney";

/// Token lifetime of clients registered without one, in seconds (as `issuer client create`).
const DEFAULT_TTL_SECS: u64 = 300;

/// Largest admin request body: room for a client JWKS of the verifier's maximum size (64 KiB).
const MAX_ADMIN_BODY_BYTES: usize = 72 * 1024;

/// Longest `jti` accepted for revocation; the issuer's own are 22 characters.
const MAX_JTI_LEN: usize = 256;

/// Added to a client's token lifetime when a whole-client revocation may be forgotten: the
/// gateways' clock skew allowance.
const CLIENT_REVOCATION_SLACK_SECS: u64 = 60;

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

/// The audit target for a client id from a path or body: the id if well formed, else a
/// placeholder, so raw input never lands in the audit trail.
fn client_target(id: &str) -> String {
    ClientId::parse(id).map_or_else(
        |_| "(invalid client_id)".to_owned(),
        |id| id.as_str().to_owned(),
    )
}

/// A path id that is not a valid client id names no client.
fn client_id_from_path(id: &str) -> Result<ClientId, AdminError> {
    ClientId::parse(id).map_err(|_| AdminError::ClientNotFound)
}

fn invalid(err: impl std::fmt::Display) -> AdminError {
    AdminError::InvalidRequest(err.to_string())
}

async fn list_clients(
    State(state): State<AppState>,
) -> Result<Json<Vec<ClientSummary>>, AdminError> {
    Ok(Json(state.store.client_summaries().await?))
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum AuthMethod {
    /// A secret generated here, shown once.
    #[default]
    ClientSecret,
    /// A JWT assertion signed with one of the client's registered keys (RFC 7523).
    PrivateKeyJwt,
}

impl AuthMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecret => "client_secret",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
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
    let target = client_target(&request.client_id);
    let detail = json!({
        "auth_method": request.auth_method.as_str(),
        "scope": request.scope,
        "audience": request.audience,
        "ttl": request.ttl,
    });
    let result = register(&state, request).await;
    let created = audited(
        &state,
        &admin,
        "admin.client.created",
        &target,
        detail,
        result,
    )
    .await?;
    tracing::info!(client_id = %created.client_id, auth_method = created.auth_method, actor = %admin.actor, "admin registered a client");
    Ok((StatusCode::CREATED, Json(created)))
}

async fn register(state: &AppState, request: CreateClient) -> Result<CreatedClient, AdminError> {
    let new = NewClient {
        id: ClientId::parse(&request.client_id).map_err(invalid)?,
        scope: Scope::parse(&request.scope)
            .map_err(|err| invalid(format!("invalid scope: {err}")))?,
        audience: Audience::parse(request.audience.as_deref().unwrap_or(DEFAULT_AUDIENCE))
            .map_err(invalid)?,
        ttl: Ttl::try_from(request.ttl.unwrap_or(DEFAULT_TTL_SECS)).map_err(invalid)?,
    };
    let now = state.clock.now();
    let summary = |secret: Option<String>, new: NewClient| CreatedClient {
        client_id: new.id.as_str().to_owned(),
        auth_method: request.auth_method.as_str(),
        client_secret: secret,
        scope: new.scope.to_string(),
        audience: new.audience.as_str().to_owned(),
        ttl: new.ttl.secs(),
        created_at: now,
    };
    match (request.auth_method, &request.jwks) {
        (AuthMethod::ClientSecret, None) => {
            match clients::register(&state.store, &state.hasher, new.clone(), now).await {
                Ok((_, secret)) => Ok(summary(Some(secret.expose().to_owned()), new)),
                Err(ClientError::AlreadyExists(_)) => Err(AdminError::ClientExists),
                Err(err) => Err(err.into()),
            }
        }
        (AuthMethod::ClientSecret, Some(_)) => Err(invalid(
            "jwks is only for private_key_jwt clients; set auth_method",
        )),
        (AuthMethod::PrivateKeyJwt, None) => Err(invalid("a private_key_jwt client needs jwks")),
        (AuthMethod::PrivateKeyJwt, Some(jwks)) => {
            let document = match jwks {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            // `register_with_jwks` checks it with the parser authentication will use: it
            // refuses private members, weak or unusable keys, and RSA keys without a pinned
            // algorithm.
            match clients::register_with_jwks(&state.store, new.clone(), &document, now).await {
                Ok(_) => Ok(summary(None, new)),
                Err(ClientError::Jwks(err)) => Err(invalid(format!("jwks: {err}"))),
                Err(ClientError::AlreadyExists(_)) => Err(AdminError::ClientExists),
                Err(err) => Err(err.into()),
            }
        }
    }
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
    let result = async {
        let id = client_id_from_path(&id)?;
        if !state
            .store
            .disable_client(id.as_str(), state.clock.now())
            .await?
        {
            return Err(AdminError::ClientNotFound);
        }
        Ok(id)
    }
    .await;
    let target = client_target(&id);
    let id = audited(
        &state,
        &admin,
        "admin.client.disabled",
        &target,
        json!({}),
        result,
    )
    .await?;
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
    let result = async {
        let id = client_id_from_path(&id)?;
        let record = state
            .store
            .client(id.as_str())
            .await?
            .ok_or(AdminError::ClientNotFound)?;
        if record.auth_method != AuthMethod::ClientSecret.as_str() {
            return Err(AdminError::Conflict(
                "wrong_auth_method",
                "the client authenticates with private_key_jwt and has no secret".to_owned(),
            ));
        }
        let secret = ClientSecret::generate()?;
        let hash = state.hasher.hash(secret.expose());
        if !state.store.set_client_secret(id.as_str(), &hash).await? {
            return Err(AdminError::ClientNotFound);
        }
        Ok((id, secret))
    }
    .await;
    let target = client_target(&id);
    let (id, secret) = audited(
        &state,
        &admin,
        "admin.client.secret_rotated",
        &target,
        json!({}),
        result,
    )
    .await?;
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

/// Issues a token to the client `id` without its secret, exactly as the client credentials
/// grant would (same claims, lifetime, audience, key and scope rules): for operators trying
/// a gateway route, or the UI explaining a decision. Audited as the operator's action.
async fn issue_token(
    State(state): State<AppState>,
    admin: AdminContext,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TokenResponse>, AdminError> {
    let request: IssueToken = parse_body(body)?.unwrap_or_default();
    let target = client_target(&id);
    let client = async {
        let id = client_id_from_path(&id)?;
        let record = state
            .store
            .client(id.as_str())
            .await?
            .ok_or(AdminError::ClientNotFound)?;
        if record.disabled_at.is_some() {
            return Err(AdminError::Conflict(
                "client_disabled",
                "the client is disabled and can have no tokens".to_owned(),
            ));
        }
        let client = Client::try_from(record)?;
        // Checked here too, so a refused scope is audited with the other refusals.
        client
            .scope
            .narrow(request.scope.as_deref())
            .map_err(scope_error)?;
        Ok(client)
    }
    .await;
    let requester = Requester::Admin {
        actor: admin.actor.clone(),
        source: admin.source.clone(),
    };
    // `issue` writes the success record itself, with the jti: the token is handed out only
    // once that record is committed. Refusals are audited here, like other admin actions.
    let issued = match client {
        Ok(client) => token::issue(&state, &client, request.scope.as_deref(), requester)
            .await
            .map(|issued| (client, issued))
            .map_err(|err| match err {
                IssueError::Scope(err) => scope_error(err),
                IssueError::Internal(err) => AdminError::Internal(err),
                IssueError::Audit(_) => AdminError::AuditFailed,
            }),
        Err(err) => Err(err),
    };
    let (client, issued) = match issued {
        Ok(issued) => issued,
        // Nothing more can be recorded when the trail itself failed.
        Err(AdminError::AuditFailed) => return Err(AdminError::AuditFailed),
        Err(err) => {
            let detail = json!({ "scope": request.scope });
            return audited(
                &state,
                &admin,
                token::ADMIN_ISSUED,
                &target,
                detail,
                Err(err),
            )
            .await;
        }
    };
    // As the token endpoint's 200s are counted by the public router's metrics layer.
    state.metrics.count_token_issued();
    tracing::info!(client_id = %client.id, jti = %issued.jti, actor = %admin.actor, "admin had a token issued to a client");
    Ok(Json(issued.response))
}

fn scope_error(err: ScopeError) -> AdminError {
    AdminError::InvalidScope(match err {
        ScopeError::NotAllowed => "the requested scope is not allowed for this client".to_owned(),
        other => format!("invalid scope: {other}"),
    })
}

#[derive(Debug, Serialize)]
struct RevokedClientTokens {
    client_id: String,
    /// Every token of the client issued before this time (`iat` < it) is revoked.
    revoked_before: UnixTime,
}

async fn revoke_client_tokens(
    State(state): State<AppState>,
    admin: AdminContext,
    Path(id): Path<String>,
) -> Result<Json<RevokedClientTokens>, AdminError> {
    let result = revoke_whole_client(&state, &id).await;
    finish_client_revocation(&state, &admin, &id, result).await
}

/// Revokes every token `id` holds: all issued up to and including this second.
async fn revoke_whole_client(
    state: &AppState,
    id: &str,
) -> Result<RevokedClientTokens, AdminError> {
    let id = client_id_from_path(id)?;
    let record = state
        .store
        .client(id.as_str())
        .await?
        .ok_or(AdminError::ClientNotFound)?;
    let now = state.clock.now();
    // `iat` has whole seconds: a token issued earlier in this very second must be caught too;
    // and another replica may accept the client's cached record for up to `CLIENT_RECHECK`
    // after a disable, so tokens it issues meanwhile are covered as well.
    let revoked_before = now
        .saturating_add(1)
        .saturating_add(crate::store::CLIENT_RECHECK.as_secs());
    // Every token it covers has expired by then (plus the gateways' skew), so the entry can go.
    let expires_at = revoked_before
        .saturating_add(record.ttl_secs)
        .saturating_add(CLIENT_REVOCATION_SLACK_SECS);
    state
        .store
        .revoke_client(id.as_str(), revoked_before, expires_at)
        .await?;
    Ok(RevokedClientTokens {
        client_id: id.as_str().to_owned(),
        revoked_before,
    })
}

async fn finish_client_revocation(
    state: &AppState,
    admin: &AdminContext,
    id: &str,
    result: Result<RevokedClientTokens, AdminError>,
) -> Result<Json<RevokedClientTokens>, AdminError> {
    let detail = match &result {
        Ok(done) => json!({ "revoked_before": done.revoked_before }),
        Err(_) => json!({}),
    };
    let target = client_target(id);
    let done = audited(
        state,
        admin,
        "admin.client.tokens_revoked",
        &target,
        detail,
        result,
    )
    .await?;
    tracing::info!(client_id = %done.client_id, revoked_before = done.revoked_before, actor = %admin.actor, "admin revoked every token of a client");
    Ok(Json(done))
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
    let settings = &state.keys;
    let result = keys::rotate(
        &state.store,
        settings.sealer.as_ref(),
        settings.alg,
        &settings.rotation,
        state.clock.now(),
        urgency,
    )
    .await
    .map_err(|err| match err {
        KeyError::NextNotReady { .. } => {
            AdminError::Conflict("next_key_not_ready", err.to_string())
        }
        KeyError::Concurrent => AdminError::Conflict("rotation_conflict", err.to_string()),
        other => other.into(),
    });
    let target = result.as_deref().unwrap_or("signing_keys").to_owned();
    let detail = json!({ "emergency": request.emergency });
    let kid = audited(&state, &admin, "admin.key.rotated", &target, detail, result).await?;
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
    Client(RevokedClientTokens),
}

async fn create_revocation(
    State(state): State<AppState>,
    admin: AdminContext,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Revoked>, AdminError> {
    let request: CreateRevocation = require_body(body)?;
    match (request.jti, request.exp, request.client_id) {
        (Some(jti), Some(exp), client_id) => {
            let result = revoke_token(&state, &jti, exp, client_id.as_deref()).await;
            let target = if valid_jti(&jti) {
                jti.clone()
            } else {
                "(invalid jti)".to_owned()
            };
            audited(
                &state,
                &admin,
                "admin.token.revoked",
                &target,
                json!({ "exp": exp }),
                result,
            )
            .await?;
            tracing::info!(%jti, exp, actor = %admin.actor, "admin revoked an access token");
            Ok(Json(Revoked::Token { jti, exp }))
        }
        (Some(_), None, _) => Err(invalid(
            "exp (the token's expiry, Unix seconds) is required with jti",
        )),
        (None, Some(_), _) => Err(invalid("exp is only meaningful with jti")),
        (None, None, Some(client_id)) => {
            let result = revoke_whole_client(&state, &client_id).await;
            let Json(done) = finish_client_revocation(&state, &admin, &client_id, result).await?;
            Ok(Json(Revoked::Client(done)))
        }
        (None, None, None) => Err(invalid("give jti and exp, or client_id")),
    }
}

async fn revoke_token(
    state: &AppState,
    jti: &str,
    exp: UnixTime,
    client_id: Option<&str>,
) -> Result<(), AdminError> {
    if !valid_jti(jti) {
        return Err(invalid(format!(
            "jti must be 1 to {MAX_JTI_LEN} printable ASCII characters"
        )));
    }
    let now = state.clock.now();
    // No token of ours lives longer than the longest TTL; a later `exp` is a mistake, and
    // would keep the entry in the feed for no token.
    let latest = now
        .saturating_add(MAX_TTL_SECS)
        .saturating_add(CLIENT_REVOCATION_SLACK_SECS);
    if exp > latest {
        return Err(invalid(format!(
            "exp is more than {MAX_TTL_SECS} seconds away: no token lives that long"
        )));
    }
    let client_id = match client_id {
        Some(id) => ClientId::parse(id).map_err(invalid)?.as_str().to_owned(),
        // The column is required; an empty id means "not given by the operator".
        None => String::new(),
    };
    state.store.revoke_token(jti, &client_id, exp, now).await?;
    Ok(())
}

fn valid_jti(jti: &str) -> bool {
    !jti.is_empty() && jti.len() <= MAX_JTI_LEN && jti.bytes().all(|b| (0x21..=0x7E).contains(&b))
}
