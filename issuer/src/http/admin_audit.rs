//! `GET /admin/audit?after=<seq>&limit=<n>`: the audit trail, oldest first, a page at a time.
//!
//! Authentication is the admin router's business; these routes are merged into it.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::OAuthError;
use crate::audit::AuditRecord;
use crate::state::AppState;

/// Records per page when `limit` is not given.
const DEFAULT_LIMIT: u32 = 100;

/// Largest `limit` accepted: bounds the memory and time one request can take.
const MAX_LIMIT: u32 = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/audit", get(list))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    after: Option<u64>,
    limit: Option<u32>,
}

/// One page; `next_after` is the `after` of the next request (equal to `after` when there is
/// nothing new yet, so pollers can keep asking with it).
#[derive(Debug, Serialize)]
struct Page {
    records: Vec<AuditRecord>,
    next_after: i64,
}

async fn list(
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page>, OAuthError> {
    let Query(query) = query
        .map_err(|_| OAuthError::InvalidRequest("after and limit must be non-negative integers"))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(OAuthError::InvalidRequest(
            "limit must be between 1 and 1000",
        ));
    }
    let after = i64::try_from(query.after.unwrap_or(0))
        .map_err(|_| OAuthError::InvalidRequest("after is too large"))?;
    let records = state.store.audit_page(after, limit).await?;
    let next_after = records.last().map_or(after, |record| record.seq);
    Ok(Json(Page {
        records,
        next_after,
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::audit::{AuditEvent, Outcome};
    use crate::clock::ManualClock;
    use crate::keys::{PlaintextSealer, RotationPolicy, SigningAlg};
    use crate::state::KeySettings;
    use crate::store::Store;

    async fn state(dir: &tempfile::TempDir) -> AppState {
        let url = format!("sqlite://{}/issuer.db", dir.path().display());
        let store = Store::open(&url).await.expect("store");
        let keys = KeySettings {
            alg: SigningAlg::Es256,
            rotation: RotationPolicy::new(3600, 300).expect("policy"),
            sealer: Arc::new(PlaintextSealer),
        };
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let issuer = "https://issuer.test".parse().expect("issuer");
        AppState::bootstrap(store, keys, clock, issuer)
            .await
            .expect("bootstrap")
    }

    async fn get_json(state: &AppState, uri: &str) -> (StatusCode, serde_json::Value) {
        let app = routes().with_state(state.clone());
        let response = app
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, serde_json::from_slice(&body).unwrap_or_default())
    }

    #[tokio::test]
    async fn pages_through_the_trail_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let state = state(&dir).await;
        let before = state.store.audit_latest(1).await.expect("latest");
        let base = before.last().map_or(0, |record| record.seq);
        for i in 0..5 {
            state
                .audit
                .record(AuditEvent {
                    actor: "cli".to_owned(),
                    action: "client.created",
                    target: format!("svc.{i}"),
                    source: "local".to_owned(),
                    outcome: Outcome::Success,
                    detail: serde_json::json!({"n": i}),
                })
                .await
                .expect("record");
        }
        let (status, page) = get_json(&state, &format!("/admin/audit?after={base}&limit=2")).await;
        assert_eq!(status, StatusCode::OK);
        let records = page["records"].as_array().expect("records");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["target"], "svc.0");
        assert_eq!(records[0]["detail"]["n"], 0);
        assert_eq!(records[0]["hash"].as_str().map(str::len), Some(64));
        assert_eq!(records[0]["time"], "2027-01-15T08:00:00.000Z");
        assert_eq!(page["next_after"], base + 2);

        let next = page["next_after"].as_i64().expect("next");
        let (_, page) = get_json(&state, &format!("/admin/audit?after={next}")).await;
        assert_eq!(page["records"].as_array().map(Vec::len), Some(3));
        let (_, page) = get_json(&state, &format!("/admin/audit?after={}", base + 5)).await;
        assert_eq!(page["records"].as_array().map(Vec::len), Some(0));
        assert_eq!(page["next_after"], base + 5);

        for bad in ["limit=0", "limit=1001", "after=-1", "after=x"] {
            let (status, body) = get_json(&state, &format!("/admin/audit?{bad}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(body["error"], "invalid_request", "{bad}");
        }
    }
}
