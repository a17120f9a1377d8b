//! The JSON bodies of admin requests.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::AdminError;

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
