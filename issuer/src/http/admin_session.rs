//! `/admin/session`: how the admin UI signs in and out.
//!
//! - `POST` with `{"credential": "<admin credential>"}` checks it exactly as a bearer header is
//!   checked (same throttle, same audit of failures), then answers
//!   `{"actor", "csrf", "expires_at"}` and sets the session cookie.
//! - `GET` with the cookie answers the same (same `csrf`), so a reloaded page recovers its
//!   token; without a live session, 401 `unauthorized` (not audited, not throttled: that is
//!   every signed-out page load).
//! - `DELETE` ends the session (with the CSRF token) and expires the cookie; 204 either way.
//!
//! The cookie is `HttpOnly` (no script reads it) and `SameSite=Strict` (no other site's page
//! sends it). It has no `Secure` attribute on purpose: the admin port is plain HTTP, meant for
//! loopback or a private network, and a `Secure` cookie would never be sent back over it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{MatchedPath, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Peer;
use super::admin::{AdminError, audited, require_body};
use super::admin_auth::{AdminContext, Attempt, SESSION_COOKIE, check_session};
use crate::admin_session::{ABSOLUTE_LIFETIME_SECS, Session, Sessions};
use crate::clock::UnixTime;
use crate::state::AppState;

/// The path of every session route.
const PATH: &str = "/admin/session";

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
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    // The throttle first: a locked-out address gets 429 whatever it sends.
    let attempt = Attempt::begin(&state, peer).await?;
    let request: SignIn = require_body(body)?;
    let credential_id = attempt
        .verify(&state, Ok(&request.credential), PATH, &Method::POST)
        .await?;
    let now = state.clock.now();
    let new = Sessions::prepare(&credential_id, now)?;
    let admin = AdminContext::new(&credential_id, &peer);
    // Audited before the session exists: if the record cannot be written, nobody is signed in.
    let detail = json!({ "session": new.key.label(), "expires_at": new.session.expires_at });
    audited(
        &state,
        &admin,
        "admin.session.created",
        &credential_id,
        detail,
        Ok(()),
    )
    .await?;
    let info = SessionInfo::of(&new.session);
    state.sessions.insert(new.key, new.session, now);
    tracing::info!(actor = %admin.actor, source = %admin.source, session = %new.key.label(), "admin signed in to the UI");
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={ABSOLUTE_LIFETIME_SECS}",
        new.id
    );
    Ok(with_cookie(Json(info).into_response(), &cookie))
}

async fn current(
    State(state): State<AppState>,
    peer: Peer,
    method: Method,
    uri: Uri,
    route: MatchedPath,
    headers: HeaderMap,
) -> Result<Json<SessionInfo>, AdminError> {
    match check_session(&state, &peer, &headers, &method, &uri, route.as_str()).await? {
        Some((_, session)) => Ok(Json(SessionInfo::of(&session))),
        None => Err(AdminError::SessionRequired),
    }
}

async fn sign_out(
    State(state): State<AppState>,
    peer: Peer,
    method: Method,
    uri: Uri,
    route: MatchedPath,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    match check_session(&state, &peer, &headers, &method, &uri, route.as_str()).await {
        Ok(Some((key, session))) => {
            state.sessions.remove(&key);
            let admin = AdminContext::new(&session.credential_id, &peer);
            let detail = json!({ "session": key.label() });
            // The session is gone whether or not the record is written; say so in the log.
            let target = session.credential_id.clone();
            if let Err(err) = audited(
                &state,
                &admin,
                "admin.session.deleted",
                &target,
                detail,
                Ok(()),
            )
            .await
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
    let expired = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok(with_cookie(
        StatusCode::NO_CONTENT.into_response(),
        &expired,
    ))
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    // The cookie is built from base64url and fixed text only, so it is always a valid value.
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}
