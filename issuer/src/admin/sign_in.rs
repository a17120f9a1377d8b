//! `/admin/session`: how the admin UI signs in and out.
//!
//! - `POST` with `{"credential": "<admin credential>"}` checks it exactly as a bearer header is
//!   checked (same throttle, same audit of failures), then answers
//!   `{"actor", "csrf", "expires_at"}` and sets the session cookie. Any session the request's
//!   cookie names is ended first: signing in again leaves one session per browser. Before the
//!   throttle is consulted, a sign-in another site's page may have sent is refused with 403
//!   `csrf_failed` (not counted, not audited: any page can send one): an `Origin` other than this
//!   host, or `Sec-Fetch-Site: cross-site` or `same-site`. The body must be sent as
//!   `Content-Type: application/json` (415 otherwise), which no HTML form can send.
//! - `GET` with the cookie answers the same (same `csrf`), so a reloaded page recovers its
//!   token; without a live session, 401 `unauthorized` (not audited, not throttled: that is
//!   every signed-out page load).
//! - `DELETE` ends the session (with the CSRF token) and expires the cookie; 204 either way.
//!
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page
//! sends it) and `Path=/admin` (only the API gets it; the UI's files need no session). It has
//! no `Secure` attribute on purpose: the admin port is plain HTTP, meant for loopback or a
//! private network, and a `Secure` cookie would never be sent back over it.
//!
//! Cookies ignore ports (RFC 6265 §8.5), and so does `SameSite`. The browser sends this cookie
//! to every port of the admin UI's host name: any other service there (the issuer's public
//! port, a dev server on `127.0.0.1:3000`…) receives the session id on its own `/admin/...`
//! paths, and may set a cookie of this name. A page served by such a port is the same site,
//! so its requests to this port carry the cookie too; the CSRF token and the `Origin` checks
//! still stop it from changing anything. So the admin UI is best given a host name of its own
//! (`admin.issuer.internal`, or at least `localhost` while everything else is reached as
//! `127.0.0.1`).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::{
    AdminContext, Attempt, SESSION_COOKIE, check_session, origin_is_own, session_cookies,
};
use super::body::require_body;
use super::error::AdminError;
use super::session::{ABSOLUTE_LIFETIME_SECS, Session, SessionKey, Sessions};
use crate::AppState;
use crate::audit::{AuditEvent, Outcome};
use crate::clock::UnixTime;
use crate::http::Peer;

/// The path of every session route.
const PATH: &str = "/admin/session";

/// The cookie's `Path`: the admin API, where every request that uses the session goes. Cookies
/// ignore ports (see the module docs), so the path is all that keeps the cookie from other
/// services of this host, and only for their paths outside `/admin`.
const COOKIE_PATH: &str = "/admin";

/// `Sec-Fetch-Site`, sent by current browsers on every request.
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// The session routes. None is behind `require_admin`: signing in is how a credential becomes
/// a session, and the others look at the cookie themselves.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route(PATH, post(sign_in).get(current).delete(sign_out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    credential: String,
}

/// What the page needs to know about its session.
#[derive(Debug, Serialize)]
struct SessionInfo {
    /// `admin:<credential id>`, as audit records name the operator.
    actor: String,
    /// The token to send in `X-CSRF-Token` on every request other than GET and HEAD.
    csrf: String,
    /// When the session ends at the latest (Unix seconds); idleness may end it sooner.
    expires_at: UnixTime,
}

impl SessionInfo {
    fn of(session: &Session) -> Self {
        Self {
            actor: format!("admin:{}", session.credential_id),
            csrf: session.csrf.clone(),
            expires_at: session.expires_at,
        }
    }
}

async fn sign_in(
    State(state): State<AppState>,
    peer: Peer,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    // Before the throttle: another site's page must not be able to spend this address's
    // failures (nor have the browser signed in with a credential of its choosing).
    if let Err(reason) = same_origin_sign_in(&headers, &uri) {
        tracing::debug!(source = %peer.label(), reason, "sign-in refused: not from this origin");
        return Err(AdminError::CrossSiteSignIn(reason));
    }
    if !is_json(&headers) {
        return Err(AdminError::UnsupportedMediaType);
    }
    // The throttle next: a locked-out address gets 429 whatever it sends.
    let attempt = Attempt::begin(&state, peer).await?;
    let request: SignIn = require_body(body)?;
    let credential_id = attempt
        .verify(&state, Ok(&request.credential), PATH, &Method::POST)
        .await?;
    let now = state.clock.now();
    // The sessions this browser had: signing in again ends them, so a browser holds one.
    let mut replaced: Vec<SessionKey> = Vec::new();
    for key in session_cookies(&headers)
        .into_iter()
        .filter_map(SessionKey::of)
    {
        if !replaced.contains(&key) && state.sessions.get(&key, now).is_some() {
            replaced.push(key);
        }
    }
    let new = Sessions::prepare(&credential_id, now)?;
    let admin = AdminContext::new(&credential_id, &peer);
    // Audited before the session exists: if the record cannot be written, nobody is signed in
    // (and the sessions it would replace live on).
    let mut detail = json!({ "session": new.key.label(), "expires_at": new.session.expires_at });
    if !replaced.is_empty() {
        detail["replaced"] = replaced.iter().map(SessionKey::label).collect();
    }
    record(
        &state,
        &admin,
        "admin.session.created",
        &credential_id,
        detail,
    )
    .await?;
    for key in &replaced {
        state.sessions.remove(key);
        tracing::info!(actor = %admin.actor, session = %key.label(), "admin session replaced by a new sign-in");
    }
    let info = SessionInfo::of(&new.session);
    state.sessions.insert(new.key, new.session, now);
    tracing::info!(actor = %admin.actor, source = %admin.source, session = %new.key.label(), "admin signed in to the UI");
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path={COOKIE_PATH}; Max-Age={ABSOLUTE_LIFETIME_SECS}",
        new.id
    );
    Ok(with_cookie(Json(info).into_response(), &cookie))
}

/// The checks a sign-in must pass to be looked at, as the stable reason it failed: any
/// `Origin` is this host, and `Sec-Fetch-Site` (when sent) says this origin or the user
/// (`same-origin`, `none`). `same-site` is refused too: another port of this host is the same
/// site (see the module docs).
fn same_origin_sign_in(headers: &HeaderMap, uri: &Uri) -> Result<(), &'static str> {
    if !origin_is_own(headers, uri) {
        return Err("cross_origin");
    }
    let foreign = headers.get_all(SEC_FETCH_SITE).iter().any(|site| {
        let site = site.as_bytes();
        site.eq_ignore_ascii_case(b"cross-site") || site.eq_ignore_ascii_case(b"same-site")
    });
    if foreign {
        return Err("cross_site");
    }
    Ok(())
}

/// Whether the body is declared as JSON: exactly one `Content-Type`, `application/json` with
/// any parameters (`; charset=utf-8`). A form (`text/plain`, `application/x-www-form-urlencoded`,
/// `multipart/form-data`) never is, and a script cannot send anything else cross-origin without
/// a CORS preflight this server never approves.
fn is_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().is_ok_and(|value| {
            let essence = value.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
        }),
        _ => false,
    }
}

async fn current(
    State(state): State<AppState>,
    peer: Peer,
    request: Parts,
) -> Result<Json<SessionInfo>, AdminError> {
    match check_session(&state, &peer, &request).await? {
        Some((_, session)) => Ok(Json(SessionInfo::of(&session))),
        None => Err(AdminError::SessionRequired),
    }
}

async fn sign_out(
    State(state): State<AppState>,
    peer: Peer,
    request: Parts,
) -> Result<Response, AdminError> {
    match check_session(&state, &peer, &request).await {
        Ok(Some((key, session))) => {
            state.sessions.remove(&key);
            let admin = AdminContext::new(&session.credential_id, &peer);
            let detail = json!({ "session": key.label() });
            // The session is gone whether or not the record is written; say so in the log.
            let target = &session.credential_id;
            if let Err(err) = record(&state, &admin, "admin.session.deleted", target, detail).await
            {
                tracing::error!(error = %err, "admin session ended without its audit record");
            }
            tracing::info!(actor = %admin.actor, session = %key.label(), "admin signed out of the UI");
        }
        // Nothing to end; clearing the browser's cookie is still right.
        Ok(None) | Err(AdminError::SessionRequired) => {}
        // A live session without its CSRF token (or from another origin) stays signed in.
        Err(err) => return Err(err),
    }
    let expired =
        format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path={COOKIE_PATH}; Max-Age=0");
    Ok(with_cookie(
        StatusCode::NO_CONTENT.into_response(),
        &expired,
    ))
}

/// Records that `admin` signed in or out with the credential `credential_id`. If the record
/// cannot be written the request fails (the log says why).
async fn record(
    state: &AppState,
    admin: &AdminContext,
    action: &'static str,
    credential_id: &str,
    detail: serde_json::Value,
) -> Result<(), AdminError> {
    let event = AuditEvent {
        actor: admin.actor.clone(),
        action,
        target: credential_id.to_owned(),
        source: admin.source.clone(),
        outcome: Outcome::Success,
        detail,
    };
    if let Err(err) = state.audit.record(event).await {
        tracing::error!(error = %err, code = err.code(), action, "cannot write an admin audit record");
        return Err(AdminError::AuditFailed);
    }
    Ok(())
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    // The cookie is built from base64url and fixed text only, so it is always a valid value.
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        headers
    }

    #[test]
    fn sign_in_must_come_from_this_origin() {
        let uri = Uri::from_static("/admin/session");
        let check = |pairs: &[(&str, &str)]| same_origin_sign_in(&headers(pairs), &uri);
        let host = ("host", "127.0.0.1:8081");
        assert_eq!(check(&[host]), Ok(()), "a script sends neither");
        assert_eq!(check(&[host, ("origin", "http://127.0.0.1:8081")]), Ok(()));
        for site in ["same-origin", "none"] {
            assert_eq!(check(&[host, ("sec-fetch-site", site)]), Ok(()), "{site}");
        }
        for origin in ["http://evil.example", "null", "http://127.0.0.1:8080"] {
            assert_eq!(
                check(&[host, ("origin", origin)]),
                Err("cross_origin"),
                "{origin}"
            );
        }
        for site in ["cross-site", "same-site", "Cross-Site"] {
            assert_eq!(
                check(&[
                    host,
                    ("origin", "http://127.0.0.1:8081"),
                    ("sec-fetch-site", site)
                ]),
                Err("cross_site"),
                "{site}"
            );
        }
    }

    #[test]
    fn the_body_must_be_declared_json() {
        for json in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
        ] {
            assert!(is_json(&headers(&[("content-type", json)])), "{json}");
        }
        for other in [
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "application/json-patch+json",
            "",
        ] {
            assert!(!is_json(&headers(&[("content-type", other)])), "{other}");
        }
        assert!(!is_json(&HeaderMap::new()), "none");
        assert!(
            !is_json(&headers(&[
                ("content-type", "application/json"),
                ("content-type", "text/plain")
            ])),
            "two"
        );
    }
}
