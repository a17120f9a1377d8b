//! Why an admin request failed: one status and one stable code each, in
//! `{"error": code, "error_description": text}`, the same shape as the OAuth errors.

use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::clients::ClientError;
use crate::http::OAuthError;
use crate::keys::KeyError;
use crate::ops::OpError;
use crate::random::RandomError;
use crate::scope::ScopeError;
use crate::store::StoreError;

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
    /// The body exceeds [`super::MAX_ADMIN_BODY_BYTES`].
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

/// What an operation's error is on the admin API.
impl From<OpError> for AdminError {
    fn from(err: OpError) -> Self {
        match err {
            OpError::Invalid(text) => Self::InvalidRequest(text),
            OpError::Jwks(err) => Self::InvalidRequest(format!("jwks: {err}")),
            OpError::Scope(err) => Self::InvalidScope(match err {
                ScopeError::NotAllowed => {
                    "the requested scope is not allowed for this client".to_owned()
                }
                other => format!("invalid scope: {other}"),
            }),
            OpError::NotFound => Self::ClientNotFound,
            OpError::Exists(_) => Self::ClientExists,
            OpError::Disabled
            | OpError::WrongAuthMethod
            | OpError::Key(KeyError::NextNotReady { .. } | KeyError::Concurrent) => {
                Self::Conflict(err.code(), err.to_string())
            }
            OpError::Audit(_) => Self::AuditFailed,
            other => Self::Internal(OAuthError::from(other)),
        }
    }
}
