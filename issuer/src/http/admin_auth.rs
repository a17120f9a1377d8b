//! Authentication of the admin API: `Authorization: Bearer <admin token>` on every admin route,
//! with failed attempts audited, counted and throttled per source address.

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Peer;
use super::admin::AdminError;
use crate::admin_credential;
use crate::audit::{AuditEvent, Outcome};
use crate::clients::Verdict;
use crate::state::AppState;

/// Who made an authenticated admin request; put in the request by [`require_admin`].
#[derive(Debug, Clone)]
struct AdminIdentity {
    credential_id: String,
}

/// The audit fields of an authenticated admin request: `actor` is `admin:<credential id>`,
/// `source` the peer address. Extracting it outside [`require_admin`] fails closed (401).
#[derive(Debug, Clone)]
pub(super) struct AdminContext {
    /// `admin:<credential id>`.
    pub(super) actor: String,
    /// The peer address, or `local`.
    pub(super) source: String,
}

impl<S: Send + Sync> FromRequestParts<S> for AdminContext {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Ok(peer) = Peer::from_request_parts(parts, state).await;
        let identity = parts
            .extensions
            .get::<AdminIdentity>()
            .ok_or(AdminError::MissingCredential)?;
        Ok(Self {
            actor: format!("admin:{}", identity.credential_id),
            source: peer.label(),
        })
    }
}

/// Why the presented credential was refused, as recorded in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No `Authorization` header.
    Missing,
    /// Not exactly one `Authorization: Bearer <token>` header.
    Malformed,
    /// A bearer token that is no active credential.
    Invalid,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Invalid => "invalid",
        }
    }
}

/// Route layer of every admin route: lets the request through only with a valid credential.
pub(super) async fn require_admin(
    State(state): State<AppState>,
    peer: Peer,
    mut request: Request,
    next: Next,
) -> Response {
    let now_ms = state.clock.now_ms();
    // Keyed by the address alone (both of the throttle's tables): admin requests name no
    // client, and one shared key would let anyone lock every operator out.
    let key = peer.0.map(|ip| (ip.to_string(), ip));
    if let Some((name, ip)) = &key {
        match state.admin_throttle.check(name, *ip, now_ms) {
            Verdict::Allow => {}
            Verdict::Delay(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
            Verdict::Locked { retry_after_secs } => {
                // Not audited one by one: the lockout exists to stop a flood, which would
                // otherwise flood the audit trail instead. The failures that led here were.
                state.metrics.count_admin_auth_failure();
                return AdminError::Locked { retry_after_secs }.into_response();
            }
        }
    }
    let verdict = match bearer_token(request.headers()) {
        Ok(token) => match admin_credential::verify(&state.store, token).await {
            Ok(Some(credential_id)) => Ok(credential_id),
            Ok(None) => Err(Refusal::Invalid),
            Err(err) => return AdminError::from(err).into_response(),
        },
        Err(refusal) => Err(refusal),
    };
    match verdict {
        Ok(credential_id) => {
            if let Some((name, _)) = &key {
                state.admin_throttle.record_success(name, now_ms);
            }
            request
                .extensions_mut()
                .insert(AdminIdentity { credential_id });
            next.run(request).await
        }
        Err(refusal) => {
            state.metrics.count_admin_auth_failure();
            if let Some((name, ip)) = &key {
                state.admin_throttle.record_failure(name, *ip, now_ms);
            }
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map_or("", MatchedPath::as_str);
            let event = AuditEvent {
                actor: "anonymous".to_owned(),
                action: "admin.auth_failed",
                target: route.to_owned(),
                source: peer.label(),
                outcome: Outcome::Failure,
                detail: json!({ "reason": refusal.as_str(), "method": request.method().as_str() }),
            };
            if let Err(err) = state.audit.record(event).await {
                // The refusal stands either way; a failing audit trail is the operator's to fix.
                tracing::error!(error = %err, "cannot audit a failed admin authentication");
            }
            tracing::info!(source = %peer.label(), reason = refusal.as_str(), "admin authentication failed");
            match refusal {
                Refusal::Missing => AdminError::MissingCredential,
                Refusal::Malformed | Refusal::Invalid => AdminError::InvalidCredential,
            }
            .into_response()
        }
    }
}

/// The token of the one `Authorization: Bearer` header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, Refusal> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(Refusal::Missing)?;
    if values.next().is_some() {
        return Err(Refusal::Malformed);
    }
    let value = value.to_str().map_err(|_| Refusal::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(Refusal::Malformed)?;
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(Refusal::Malformed);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Refusal::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn parse(values: &[&str]) -> Result<String, Refusal> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        }
        bearer_token(&headers).map(str::to_owned)
    }

    #[test]
    fn bearer_header_forms() {
        assert_eq!(parse(&[]), Err(Refusal::Missing));
        assert_eq!(parse(&["Bearer abc"]), Ok("abc".to_owned()));
        assert_eq!(parse(&["bearer  abc "]), Ok("abc".to_owned()));
        assert_eq!(parse(&["Basic abc"]), Err(Refusal::Malformed));
        assert_eq!(parse(&["Bearer"]), Err(Refusal::Malformed));
        assert_eq!(parse(&["Bearer "]), Err(Refusal::Malformed));
        assert_eq!(parse(&["Bearer a", "Bearer b"]), Err(Refusal::Malformed));
    }
}
