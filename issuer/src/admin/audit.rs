//! The audit trail on the admin port.
//!
//! - `GET /admin/audit?after=<seq>&limit=<n>`: oldest first, a page at a time, answered with
//!   `{"records", "next_after"}` (for pollers following the trail).
//! - `GET /admin/audit?order=desc[&before=<seq>]`: newest first, paging backwards, answered
//!   with `{"records", "next_before"}` (`null` once there is nothing older): what a person
//!   browsing the trail wants.
//! - Either way, `q=<text>` (a case-insensitive substring of action, actor, target or source),
//!   `outcome=success|failure` and `action=<prefix>` narrow the records; empty means absent.
//! - `GET /admin/audit/chain`: every record's hash and link checked (`audit::verify`).
//!
//! Authentication is the admin router's business; these routes are merged into it.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::audit::{self, AuditRecord, MAX_FIELD_BYTES, Outcome};
use crate::http::OAuthError;
use crate::store::{AuditFilter, AuditOrder};

/// Records per page when `limit` is not given.
const DEFAULT_LIMIT: u32 = 100;

/// Largest `limit` accepted: bounds the memory and time one request can take.
const MAX_LIMIT: u32 = 1000;

/// The audit routes; `require_admin` is layered on by the caller ([`super::router`]).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(list))
        .route("/admin/audit/chain", get(chain))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    after: Option<u64>,
    before: Option<u64>,
    limit: Option<u32>,
    order: Option<String>,
    q: Option<String>,
    outcome: Option<String>,
    action: Option<String>,
}

/// One page, in the shape of its order.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Page {
    /// Oldest first; `next_after` is the `after` of the next request (equal to `after` when
    /// there is nothing new yet, so pollers can keep asking with it).
    Ascending {
        records: Vec<AuditRecord>,
        next_after: i64,
    },
    /// Newest first; `next_before` is the `before` of the next (older) page, `null` when
    /// there is none.
    Descending {
        records: Vec<AuditRecord>,
        next_before: Option<i64>,
    },
}

async fn list(
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page>, OAuthError> {
    let Query(query) = query.map_err(|_| {
        OAuthError::InvalidRequest("after, before and limit must be non-negative integers")
    })?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(OAuthError::InvalidRequest(
            "limit must be between 1 and 1000",
        ));
    }
    let filter = filter(&query)?;
    let seq = |value: u64, name: &'static str| {
        i64::try_from(value).map_err(|_| OAuthError::InvalidRequest(name))
    };
    match query.order.as_deref().filter(|order| !order.is_empty()) {
        None | Some("asc") => {
            if query.before.is_some() {
                return Err(OAuthError::InvalidRequest("before needs order=desc"));
            }
            let after = seq(query.after.unwrap_or(0), "after is too large")?;
            let order = AuditOrder::Ascending { after };
            let records = state.store.audit_search(order, &filter, limit).await?;
            let next_after = records.last().map_or(after, |record| record.seq);
            Ok(Json(Page::Ascending {
                records,
                next_after,
            }))
        }
        Some("desc") => {
            if query.after.is_some() {
                return Err(OAuthError::InvalidRequest(
                    "after is for order=asc; page backwards with before",
                ));
            }
            let before = query
                .before
                .map(|before| seq(before, "before is too large"))
                .transpose()?;
            let order = AuditOrder::Descending { before };
            // One more than asked for tells whether an older page exists.
            let mut records = state.store.audit_search(order, &filter, limit + 1).await?;
            let more = records.len() > limit as usize;
            records.truncate(limit as usize);
            let next_before = if more {
                records.last().map(|record| record.seq)
            } else {
                None
            };
            Ok(Json(Page::Descending {
                records,
                next_before,
            }))
        }
        Some(_) => Err(OAuthError::InvalidRequest("order must be asc or desc")),
    }
}

/// The filters of `query`; an empty parameter is no filter (what an HTML form sends).
fn filter(query: &PageQuery) -> Result<AuditFilter, OAuthError> {
    let given = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    let text = given(&query.q);
    let action_prefix = given(&query.action);
    // Longer than any stored field: it could match nothing anyway.
    if [&text, &action_prefix]
        .iter()
        .any(|value| value.as_ref().is_some_and(|v| v.len() > MAX_FIELD_BYTES))
    {
        return Err(OAuthError::InvalidRequest(
            "q and action are at most 256 bytes",
        ));
    }
    let outcome = match given(&query.outcome).as_deref() {
        None => None,
        Some("success") => Some(Outcome::Success),
        Some("failure") => Some(Outcome::Failure),
        Some(_) => {
            return Err(OAuthError::InvalidRequest(
                "outcome must be success or failure",
            ));
        }
    };
    Ok(AuditFilter {
        text,
        outcome,
        action_prefix,
    })
}

/// The result of checking the whole chain.
#[derive(Debug, Serialize)]
struct ChainStatus {
    /// `intact` or `broken`.
    status: &'static str,
    /// Records that checked out, from seq 1.
    records: u64,
    /// Hex hash of the last record that checked out; `null` when none did.
    head: Option<String>,
    /// What is wrong, in words; `null` when intact.
    problem: Option<String>,
    /// The stable code of what is wrong (`seq_gap`, `hash_mismatch`, `prev_mismatch`).
    reason: Option<&'static str>,
    /// The first seq that cannot be trusted; `null` when intact.
    broken_at: Option<i64>,
}

/// Checks every record's hash and link, as `issuer audit verify` does. Reads the whole trail
/// (a page at a time), so it takes a while on a long one.
async fn chain(State(state): State<AppState>) -> Result<Json<ChainStatus>, OAuthError> {
    let verification = audit::verify(&state.store).await?;
    let head = (verification.records > 0).then(|| audit::chain::hex(&verification.head));
    let broken = verification.broken;
    Ok(Json(ChainStatus {
        status: if broken.is_some() { "broken" } else { "intact" },
        records: verification.records,
        head,
        problem: broken.map(|broken| broken.to_string()),
        reason: broken.map(|broken| broken.reason.code()),
        broken_at: broken.map(|broken| broken.seq),
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
    use crate::keys::KeySettings;
    use crate::keys::{PlaintextSealer, RotationPolicy, SigningAlg};
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
