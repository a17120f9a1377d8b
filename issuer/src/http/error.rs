//! The one error type of the HTTP layer: RFC 6749 §5.2 JSON, never cached, never leaking.

use std::error::Error;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequest, Request};
use axum::http::header::{CACHE_CONTROL, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::audit::AuditError;
use crate::clients::ClientError;
use crate::keys::KeyError;
use crate::ops::OpError;
use crate::random::RandomError;
use crate::store::StoreError;

/// The challenge sent with every 401 (RFC 6749 §5.2, RFC 9110 §15.5.2 requires one).
const BASIC_CHALLENGE: &str = "Basic realm=\"issuer\"";

/// An OAuth error response (RFC 6749 §5.2, RFC 7009 §2.2.1).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum OAuthError {
    /// `invalid_request`: a parameter is missing, repeated or malformed.
    InvalidRequest(&'static str),
    /// `invalid_request` with 413: the body exceeds the limit.
    PayloadTooLarge,
    /// `invalid_client` with 401: unknown client, wrong secret, or no authentication.
    /// The same response in every case, so it never reveals whether a client id exists.
    InvalidClient,
    /// `unauthorized_client`: the client may not do this (e.g. revoke another client's token).
    UnauthorizedClient(&'static str),
    /// `unsupported_grant_type`: anything but `client_credentials` and token exchange.
    UnsupportedGrantType,
    /// `invalid_scope`: the requested scope is malformed or exceeds the client's.
    InvalidScope(&'static str),
    /// `invalid_grant`: the grant is refused (a delegation the issuer will not make).
    InvalidGrant(&'static str),
    /// `invalid_target` (RFC 8707, RFC 8693 §2.2.2): an audience or resource not allowed.
    InvalidTarget(&'static str),
    /// `invalid_client` with 429 and `Retry-After`: too many failed authentications from this
    /// client id or address. Unknown ids are locked out alike, so this reveals nothing.
    TooManyAttempts {
        /// Seconds until the lockout ends.
        retry_after_secs: u64,
    },
    /// `server_error` with 500; the cause is logged, never sent.
    Internal(InternalError),
}

impl OAuthError {
    /// The RFC 6749 `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) | Self::PayloadTooLarge => "invalid_request",
            Self::InvalidClient | Self::TooManyAttempts { .. } => "invalid_client",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::InvalidTarget(_) => "invalid_target",
            Self::Internal(_) => "server_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The human-readable `error_description`; fixed texts, so no input is ever echoed.
    pub fn description(&self) -> &'static str {
        match self {
            Self::InvalidRequest(text)
            | Self::UnauthorizedClient(text)
            | Self::InvalidScope(text)
            | Self::InvalidGrant(text)
            | Self::InvalidTarget(text) => text,
            Self::PayloadTooLarge => "request body is too large",
            Self::InvalidClient => "client authentication failed",
            Self::TooManyAttempts { .. } => "too many failed authentication attempts; retry later",
            Self::UnsupportedGrantType => {
                "grant_type must be client_credentials or urn:ietf:params:oauth:grant-type:token-exchange"
            }
            Self::Internal(_) => "internal error",
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: &'static str,
    error_description: &'static str,
}

/// An RFC 6749 §5.2 error response that no cache may keep.
fn error_response(status: StatusCode, error: &'static str, description: &'static str) -> Response {
    let body = ErrorBody {
        error,
        error_description: description,
    };
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = error_response(self.status(), self.code(), self.description());
        let headers = response.headers_mut();
        if matches!(self, Self::InvalidClient) {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(BASIC_CHALLENGE));
        }
        if let Self::TooManyAttempts { retry_after_secs } = self {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if let Self::Internal(detail) = self {
            // Logged by `log_internal_errors`, so building a response has no side effects.
            response.extensions_mut().insert(detail);
        }
        response
    }
}

/// 503 `temporarily_unavailable` with `Retry-After`, for an action whose audit record could
/// not be written.
///
/// 503 rather than 500: nothing is wrong with the request and the same request will succeed
/// once the database answers again, which is what load balancers and client retry logic
/// understand 503 to mean. The cause is never sent; the handler logs it.
impl IntoResponse for AuditError {
    fn into_response(self) -> Response {
        let mut response = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the audit trail cannot be written; retry later",
        );
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        response
    }
}

/// The cause of a `server_error`, carried to the logging middleware on the response.
#[derive(Debug, Clone)]
pub struct InternalError(Arc<dyn Error + Send + Sync>);

impl InternalError {
    /// The error and its chain of sources, for the log.
    fn chain(&self) -> String {
        let mut text = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

macro_rules! internal_from {
    ($($err:ty),*) => {$(
        impl From<$err> for OAuthError {
            fn from(err: $err) -> Self {
                Self::Internal(InternalError(Arc::new(err)))
            }
        }
    )*};
}

// An operation's errors that an endpoint has no answer of its own for are internal too.
internal_from!(
    StoreError,
    KeyError,
    ClientError,
    RandomError,
    AuditError,
    OpError
);

/// Logs the cause of any `server_error` response.
pub(crate) async fn log_internal_errors(response: Response) -> Response {
    if let Some(detail) = response.extensions().get::<InternalError>() {
        tracing::error!(error = %detail.chain(), "request failed");
    }
    response
}

/// `axum::Form`, but a body that cannot be read as the form becomes `invalid_request` JSON
/// instead of axum's plain-text rejection.
#[derive(Debug, Clone)]
pub struct OAuthForm<T>(pub T);

impl<T, S> FromRequest<S> for OAuthForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

impl From<FormRejection> for OAuthError {
    fn from(rejection: FormRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::InvalidRequest("body must be application/x-www-form-urlencoded")
            }
            // Includes repeated parameters, which RFC 6749 §3.1 forbids.
            _ => Self::InvalidRequest("malformed form body or repeated parameter"),
        }
    }
}
