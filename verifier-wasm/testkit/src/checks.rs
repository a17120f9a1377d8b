//! Verifying and deciding at the test clock, reduced to what tests assert on: stable codes.

use verifier_core::{Decision, Denial, Jwks, Provider, Request, Verified, VerifyError};

use crate::{NOW, local_jwks};

/// Verifies `token` for `provider` against its local keys at [`NOW`].
pub fn check(token: &str, provider: &Provider) -> Result<Verified, VerifyError> {
    check_at(token, provider, NOW)
}

/// Verifies `token` for `provider` against its local keys at `now`.
pub fn check_at(token: &str, provider: &Provider, now: u64) -> Result<Verified, VerifyError> {
    verifier_core::verify(token, provider, local_jwks(provider), now)
}

/// `"valid"` or the error's stable code.
pub fn outcome(result: &Result<Verified, VerifyError>) -> &'static str {
    match result {
        Ok(_) => "valid",
        Err(e) => e.code(),
    }
}

/// The outcome of verifying `token` for `provider` at [`NOW`].
pub fn code(token: &str, provider: &Provider) -> &'static str {
    outcome(&check(token, provider))
}

/// The outcome at `now`.
pub fn code_at(token: &str, provider: &Provider, now: u64) -> &'static str {
    outcome(&check_at(token, provider, now))
}

/// The `Jwks::parse` outcome for a document: `"ok"` or the error's code.
pub fn jwks_code(document: &str) -> &'static str {
    match Jwks::parse(document.as_bytes()) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// A request for `decide`.
pub fn request<'a>(method: &'a str, path: &'a str, authorization: Option<&'a str>) -> Request<'a> {
    Request {
        method,
        path,
        authorization,
    }
}

/// The `Authorization` value carrying `token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The denial `decision` must be; panics with the decision otherwise.
pub fn denial(decision: Decision) -> Denial {
    match decision {
        Decision::Deny(d) => d,
        other => panic!("expected a denial, got {other:?}"),
    }
}
