//! `GET /admin/delegations`: the live delegations ([`ops::delegations`](crate::ops::delegations)),
//! `{"now", "tokens": [{"jti", "parent", "parent_exp", "sub", "sub_profile", "client_id",
//! "actors", "ancestors", "scope", "aud", "iat", "exp"}], "truncated"}`, oldest first. A branch
//! is revoked with `POST /admin/revocations` `{"jti", "exp", "client_id"}` of its top token
//! (or `{"jti": parent, "exp": parent_exp}` for the token a chain started from): every token
//! below it names it among its ancestors and is revoked with it.
//!
//! Authentication is the admin router's business; this route is merged into it.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::error::AdminError;
use crate::AppState;
use crate::ops::delegations::{self, Delegations};

/// The route; `require_admin` is layered on by the caller ([`super::router`]).
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/delegations", get(list))
}

async fn list(State(state): State<AppState>) -> Result<Json<Delegations>, AdminError> {
    let now = state.clock.now();
    Ok(Json(delegations::live(&state.store, now).await?))
}
