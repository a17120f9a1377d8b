//! The admin API's signing keys: list them with their schedule, and rotate (planned or
//! emergency).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::auth::AdminContext;
use super::body::parse_body;
use super::error::AdminError;
use crate::AppState;
use crate::keys::{self, KeyInfo, Urgency};
use crate::ops;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/keys", get(list_keys))
        .route("/admin/keys/rotate", post(rotate_keys))
}

async fn list_keys(State(state): State<AppState>) -> Result<Json<Vec<KeyInfo>>, AdminError> {
    let listed = keys::list(&state.store).await?;
    Ok(Json(keys::with_schedule(listed, &state.keys.rotation)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateKeys {
    /// Sign with a brand-new key at once instead of the pre-published next key.
    #[serde(default)]
    emergency: bool,
}

#[derive(Debug, Serialize)]
struct RotatedKeys {
    /// The key that signs from now on.
    kid: String,
    status: &'static str,
    emergency: bool,
}

async fn rotate_keys(
    State(state): State<AppState>,
    admin: AdminContext,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RotatedKeys>, AdminError> {
    let request: RotateKeys = parse_body(body)?.unwrap_or_default();
    let urgency = if request.emergency {
        Urgency::Emergency
    } else {
        Urgency::Planned
    };
    let kid = ops::keys::rotate(state.ctx(), &state.keys, &admin.caller(), urgency).await?;
    tracing::info!(%kid, emergency = request.emergency, actor = %admin.actor, "admin rotated the signing key");
    Ok(Json(RotatedKeys {
        kid,
        status: "current",
        emergency: request.emergency,
    }))
}
