//! How HTTP handlers answer when the action they performed could not be audited.

use axum::Json;
use axum::http::header::{CACHE_CONTROL, PRAGMA, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AuditError;

#[derive(Serialize)]
struct ErrorBody {
    error: &'static str,
    error_description: &'static str,
}

/// 503 `temporarily_unavailable` with `Retry-After`, in the RFC 6749 §5.2 error shape.
///
/// 503 rather than 500: nothing is wrong with the request and the same request will succeed
/// once the database answers again, which is what load balancers and client retry logic
/// understand 503 to mean. The cause is never sent; the handler logs it.
impl IntoResponse for AuditError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: "temporarily_unavailable",
            error_description: "the audit trail cannot be written; retry later",
        };
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        response
    }
}
