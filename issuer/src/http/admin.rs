//! Read-only operator views on the admin port. Secrets and hashes are never selected.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::OAuthError;
use crate::keys::{self, KeyInfo};
use crate::state::AppState;
use crate::store::ClientSummary;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/keys", get(list_keys))
        .route("/admin/clients", get(list_clients))
}

async fn list_keys(State(state): State<AppState>) -> Result<Json<Vec<KeyInfo>>, OAuthError> {
    Ok(Json(keys::list(&state.store).await?))
}

async fn list_clients(
    State(state): State<AppState>,
) -> Result<Json<Vec<ClientSummary>>, OAuthError> {
    Ok(Json(state.store.client_summaries().await?))
}
