//! Authentication of the admin API, two ways:
//!
//! - `Authorization: Bearer <admin credential>`, for scripts. Not ambient (a browser never
//!   adds it by itself), so it needs no CSRF defence.
//! - The admin UI's session cookie (`issuer_admin_session`, see [`super::session`]). Ambient, so
//!   every request other than GET and HEAD must echo the session's CSRF token in
//!   `X-CSRF-Token`, and any request carrying an `Origin` must come from this very host.
//!   The credential that signed in is checked against the database on every request, so
//!   `issuer admin reset-credential` ends its sessions at once.
//!
//! Every presentation of the credential itself (a bearer header or a sign-in) goes through one
//! [`Attempt`]: throttled per source address, failures counted and audited. Requests with a
//! session cookie are not: they present no credential, a session id has 256 bits so guessing
//! one is hopeless, and an expired cookie left in a browser tab must not lock its operator out
//! (nor a neighbour's typos slow the operator's session down).
//!
//! Nor are requests with no credential at all (no `Authorization` header, no session cookie):
//! they are answered 401 and counted in `issuer_admin_auth_failures_total`, but neither
//! throttled nor audited. Any web page can make a browser send them (ten
//! `<img src="http://127.0.0.1:8081/admin/keys">` would otherwise lock the operator's address
//! out, and a loop of them would flood the audit trail), and they guess nothing.

use std::net::IpAddr;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::credential;
use super::error::AdminError;
use super::session::{Session, SessionKey};
use crate::AppState;
use crate::audit::{AuditEvent, Outcome};
use crate::clients::Verdict;
use crate::http::Peer;
use crate::ops::Caller;

/// The name of the admin UI's session cookie.
pub(super) const SESSION_COOKIE: &str = "issuer_admin_session";

/// The header carrying the session's CSRF token on state-changing requests.
const CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

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

impl AdminContext {
    /// The context of a request authenticated by `credential_id` from `peer`.
    pub(super) fn new(credential_id: &str, peer: &Peer) -> Self {
        Self {
            actor: format!("admin:{credential_id}"),
            source: peer.label(),
        }
    }

    /// On whose behalf the operations of this request run.
    pub(super) fn caller(&self) -> Caller {
        Caller::Admin {
            actor: self.actor.clone(),
            source: self.source.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminContext {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Ok(peer) = Peer::from_request_parts(parts, state).await;
        let identity = parts
            .extensions
            .get::<AdminIdentity>()
            .ok_or(AdminError::MissingCredential)?;
        Ok(Self::new(&identity.credential_id, &peer))
    }
}

/// Why the presented credential was refused, as recorded in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
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

/// One presentation of the admin credential from one address, under the per-address throttle.
pub(super) struct Attempt {
    /// The throttle's key for the address (its text, and the address); `None` without a socket.
    key: Option<(String, IpAddr)>,
    peer: Peer,
    now_ms: u64,
}

impl Attempt {
    /// Waits out any delay the throttle imposes on `peer`; a locked-out address is refused
    /// with 429 before anything is checked.
    pub(super) async fn begin(state: &AppState, peer: Peer) -> Result<Self, AdminError> {
        let now_ms = state.clock.now_ms();
        // Keyed by the address alone (both of the throttle's tables): admin requests name no
        // client, and one shared key would let anyone lock every operator out.
        let key = peer.0.map(|ip| (ip.to_string(), ip));
        if let Some((name, ip)) = &key {
            match state.admin_throttle.check(name, *ip, now_ms) {
                Verdict::Allow => {}
                Verdict::Delay(ms) => {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
                Verdict::Locked { retry_after_secs } => {
                    // Not audited one by one: the lockout exists to stop a flood, which would
                    // otherwise flood the audit trail instead. The failures that led here were.
                    state.metrics.count_admin_auth_failure();
                    return Err(AdminError::Locked { retry_after_secs });
                }
            }
        }
        Ok(Self { key, peer, now_ms })
    }

    /// Checks `presented` (a token, or why there is none) as the admin credential: its id, or
    /// a refusal that is counted, throttled and audited (`admin.auth_failed` on `route`).
    pub(super) async fn verify(
        self,
        state: &AppState,
        presented: Result<&str, Refusal>,
        route: &str,
        method: &Method,
    ) -> Result<String, AdminError> {
        let refusal = match presented {
            Ok(token) => match credential::verify(&state.store, token).await? {
                Some(credential_id) => {
                    if let Some((name, _)) = &self.key {
                        state.admin_throttle.record_success(name, self.now_ms);
                    }
                    return Ok(credential_id);
                }
                None => Refusal::Invalid,
            },
            Err(refusal) => refusal,
        };
        state.metrics.count_admin_auth_failure();
        if let Some((name, ip)) = &self.key {
            state.admin_throttle.record_failure(name, *ip, self.now_ms);
        }
        let event = AuditEvent {
            actor: "anonymous".to_owned(),
            action: "admin.auth_failed",
            target: route.to_owned(),
            source: self.peer.label(),
            outcome: Outcome::Failure,
            detail: json!({ "reason": refusal.as_str(), "method": method.as_str() }),
        };
        if let Err(err) = state.audit.record(event).await {
            // The refusal stands either way; a failing audit trail is the operator's to fix.
            tracing::error!(error = %err, "cannot audit a failed admin authentication");
        }
        tracing::info!(source = %self.peer.label(), reason = refusal.as_str(), "admin authentication failed");
        Err(match refusal {
            Refusal::Missing => AdminError::MissingCredential,
            Refusal::Malformed | Refusal::Invalid => AdminError::InvalidCredential,
        })
    }
}

/// Route layer of every admin route: lets the request through only with a valid credential
/// or session.
pub(super) async fn require_admin(
    State(state): State<AppState>,
    peer: Peer,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let (route, method) = (matched_route(&parts), &parts.method);
    // A bearer header wins over a cookie: it is what a script means to use.
    let credential_id = if parts.headers.contains_key(AUTHORIZATION) {
        let token = bearer_token(&parts.headers);
        present(&state, peer, token, route, method).await
    } else {
        match check_session(&state, &peer, &parts).await {
            Ok(Some((_, session))) => Ok(session.credential_id),
            // Neither a bearer header nor a session cookie: nothing was presented.
            Ok(None) => Err(no_credential(&state, &peer, route, method)),
            Err(err) => Err(err),
        }
    };
    match credential_id {
        Ok(credential_id) => {
            parts.extensions.insert(AdminIdentity { credential_id });
            next.run(Request::from_parts(parts, body)).await
        }
        Err(err) => err.into_response(),
    }
}

/// The refusal of a request that presents no credential at all: counted in the metric, logged
/// at debug, and neither throttled nor audited (see the module docs: any web page can send it).
fn no_credential(state: &AppState, peer: &Peer, route: &str, method: &Method) -> AdminError {
    state.metrics.count_admin_auth_failure();
    tracing::debug!(source = %peer.label(), route, method = method.as_str(), "admin request without a credential refused");
    AdminError::MissingCredential
}

/// The template of the route `request` matched (empty outside one), as audit records name it.
fn matched_route(request: &Parts) -> &str {
    request
        .extensions
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str)
}

/// One [`Attempt`] with `presented`, from its throttle check to its verdict.
async fn present(
    state: &AppState,
    peer: Peer,
    presented: Result<&str, Refusal>,
    route: &str,
    method: &Method,
) -> Result<String, AdminError> {
    Attempt::begin(state, peer)
        .await?
        .verify(state, presented, route, method)
        .await
}

/// What the request's session cookie proves: `Ok(None)` when it carries no session cookie,
/// the session (its use recorded) when it is live, its credential active and the request
/// passes the CSRF checks; otherwise why not.
///
/// An unknown or expired session is [`AdminError::SessionRequired`], not audited: it is what
/// every browser left open past its session sends. A session whose credential was reset is
/// ended and audited; a failed CSRF check is audited and leaves the session alone (the page
/// that owns it did nothing wrong).
pub(super) async fn check_session(
    state: &AppState,
    peer: &Peer,
    request: &Parts,
) -> Result<Option<(SessionKey, Session)>, AdminError> {
    let (headers, method, uri) = (&request.headers, &request.method, &request.uri);
    let route = matched_route(request);
    let cookies = session_cookies(headers);
    if cookies.is_empty() {
        return Ok(None);
    }
    let now = state.clock.now();
    let found = cookies
        .iter()
        .filter_map(|value| SessionKey::of(value))
        .find_map(|key| state.sessions.get(&key, now).map(|session| (key, session)));
    let Some((key, session)) = found else {
        return Err(AdminError::SessionRequired);
    };
    let audit = |action: &'static str, detail| AuditEvent {
        actor: format!("admin:{}", session.credential_id),
        action,
        target: route.to_owned(),
        source: peer.label(),
        outcome: Outcome::Failure,
        detail,
    };
    if !credential::is_active(&state.store, &session.credential_id).await? {
        state.sessions.remove(&key);
        let detail = json!({ "reason": "credential_revoked", "session": key.label(), "method": method.as_str() });
        if let Err(err) = state.audit.record(audit("admin.auth_failed", detail)).await {
            tracing::error!(error = %err, "cannot audit the end of a revoked credential's session");
        }
        tracing::info!(source = %peer.label(), "admin session ended: its credential was revoked");
        return Err(AdminError::SessionRequired);
    }
    if let Err(reason) = csrf_check(&session, headers, method, uri) {
        let detail = json!({ "reason": reason, "session": key.label(), "method": method.as_str() });
        if let Err(err) = state.audit.record(audit("admin.csrf_failed", detail)).await {
            tracing::error!(error = %err, "cannot audit a failed CSRF check");
        }
        tracing::warn!(source = %peer.label(), reason, "admin request refused: CSRF check failed");
        return Err(AdminError::CsrfFailed(reason));
    }
    state.sessions.touch(&key, now);
    Ok(Some((key, session)))
}

/// The checks a cookie-authenticated request must pass, as the stable reason it failed.
///
/// `SameSite=Strict` already keeps the cookie off cross-site requests in current browsers;
/// these checks do not rely on it. The token proves the request was made by a page that read
/// it from `GET /admin/session` or the sign-in response, which only same-origin pages can.
fn csrf_check(
    session: &Session,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
) -> Result<(), &'static str> {
    if !origin_is_own(headers, uri) {
        return Err("cross_origin");
    }
    if *method == Method::GET || *method == Method::HEAD {
        return Ok(());
    }
    let mut values = headers.get_all(CSRF_HEADER).iter();
    match (values.next(), values.next()) {
        (None, _) => Err("missing_csrf_token"),
        (Some(value), None) => match value.to_str() {
            Ok(token) if session.csrf_matches(token) => Ok(()),
            _ => Err("wrong_csrf_token"),
        },
        // Two tokens: one of them is not the page's.
        (Some(_), Some(_)) => Err("wrong_csrf_token"),
    }
}

/// Whether every `Origin` the request carries (browsers send one on every POST, and on
/// cross-origin requests) is this very host, `http://<Host>` or `https://<Host>`; true when
/// there is none (scripts, and same-origin GETs).
pub(super) fn origin_is_own(headers: &HeaderMap, uri: &Uri) -> bool {
    let host = headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| uri.authority().map(|authority| authority.as_str()));
    headers
        .get_all(ORIGIN)
        .iter()
        .all(|origin| match (origin.to_str(), host) {
            (Ok(origin), Some(host)) => ["http://", "https://"].iter().any(|scheme| {
                let part = |range: std::ops::Range<usize>| origin.get(range).unwrap_or_default();
                !host.is_empty()
                    && part(0..scheme.len()).eq_ignore_ascii_case(scheme)
                    && part(scheme.len()..origin.len()).eq_ignore_ascii_case(host)
            }),
            _ => false,
        })
}

/// The values of every `issuer_admin_session` cookie the request carries (several `Cookie`
/// headers and several pairs per header are both allowed, RFC 6265 §5.4).
pub(super) fn session_cookies(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .collect()
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

    #[test]
    fn session_cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("a=1; issuer_admin_session=xyz"),
        );
        headers.append(
            COOKIE,
            HeaderValue::from_static("issuer_admin_session=\"q\";b=2"),
        );
        headers.append(COOKIE, HeaderValue::from_static("issuer_admin_sessionx=no"));
        assert_eq!(session_cookies(&headers), ["xyz", "q"]);
        assert!(session_cookies(&HeaderMap::new()).is_empty());
    }

    fn session() -> Session {
        Session {
            credential_id: "cred".to_owned(),
            csrf: "token".to_owned(),
            created_at: 0,
            last_used: 0,
            expires_at: 1,
        }
    }

    fn check(method: Method, pairs: &[(&str, &str)]) -> Result<(), &'static str> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        csrf_check(
            &session(),
            &headers,
            &method,
            &Uri::from_static("/admin/keys"),
        )
    }

    #[test]
    fn csrf_rules() {
        let host = ("host", "127.0.0.1:8081");
        assert_eq!(check(Method::GET, &[host]), Ok(()));
        assert_eq!(check(Method::HEAD, &[]), Ok(()));
        assert_eq!(check(Method::POST, &[host]), Err("missing_csrf_token"));
        assert_eq!(
            check(Method::DELETE, &[host, ("x-csrf-token", "nope")]),
            Err("wrong_csrf_token")
        );
        assert_eq!(
            check(Method::POST, &[host, ("x-csrf-token", "token")]),
            Ok(())
        );
        assert_eq!(
            check(
                Method::POST,
                &[host, ("x-csrf-token", "token"), ("x-csrf-token", "token")]
            ),
            Err("wrong_csrf_token")
        );
        let token = ("x-csrf-token", "token");
        for origin in [
            "http://127.0.0.1:8081",
            "https://127.0.0.1:8081",
            "HTTP://127.0.0.1:8081",
        ] {
            assert_eq!(
                check(Method::POST, &[host, token, ("origin", origin)]),
                Ok(()),
                "{origin}"
            );
        }
        for origin in [
            "http://evil.example",
            "null",
            "http://127.0.0.1:8082",
            "http://127.0.0.1:8081/",
        ] {
            assert_eq!(
                check(Method::POST, &[host, token, ("origin", origin)]),
                Err("cross_origin"),
                "{origin}"
            );
            assert_eq!(
                check(Method::GET, &[host, ("origin", origin)]),
                Err("cross_origin")
            );
        }
        assert_eq!(
            check(Method::GET, &[("origin", "http://x")]),
            Err("cross_origin"),
            "no host"
        );
        assert_eq!(
            check(
                Method::GET,
                &[
                    host,
                    ("origin", "http://127.0.0.1:8081"),
                    ("origin", "http://evil.example")
                ]
            ),
            Err("cross_origin"),
            "every Origin must be ours"
        );
    }
}
