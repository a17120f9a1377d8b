//! `GET /metrics` on the admin port, and the middleware that counts the public port's requests.
//!
//! Counting happens here, around the handlers, so the OAuth handlers need no metrics code: the
//! route and the status say enough (a 200 from the token endpoint is a token issued; a 401 from
//! an endpoint that authenticates clients is always `invalid_client`).

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::clock::Stopwatch;
use crate::keys::{self, KeyStatus};
use crate::metrics::{self, KeyCounts};

/// The token endpoint, whose latency is a histogram of its own.
const TOKEN_ROUTE: &str = "/oauth/token";

/// Endpoints where a 401 means a client failed to authenticate.
const CLIENT_AUTH_ROUTES: [&str; 3] = [TOKEN_ROUTE, "/oauth/revoke", "/oauth/introspect"];

/// The label of requests that matched no route.
const UNMATCHED: &str = "unmatched";

/// `GET /metrics`, for the admin router (unauthenticated, like `/health`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// The route template a request matched, carried from [`tag_route`] (inside the router, where
/// it is known) out to [`count`] (around it, where unmatched requests are seen too).
#[derive(Debug, Clone)]
struct RouteLabel(MatchedPath);

/// Route layer: marks the response with the template of the route that answered it.
pub(super) async fn tag_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(RouteLabel(matched));
    }
    response
}

/// Outer layer: counts every request of the public port by route and status, and what the
/// status means for tokens and client authentication.
pub(super) async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let stopwatch = Stopwatch::start();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or(UNMATCHED, |RouteLabel(matched)| matched.as_str());
    let status = response.status();
    let metrics = &state.metrics;
    metrics.count_request(route, status.as_u16());
    if route == TOKEN_ROUTE {
        metrics.observe_token_latency(stopwatch.elapsed_secs());
        if status.is_success() {
            metrics.count_token_issued();
        }
    }
    if status == axum::http::StatusCode::UNAUTHORIZED && CLIENT_AUTH_ROUTES.contains(&route) {
        metrics.count_client_auth_failure();
    }
    response
}

/// The exposition; the key gauge is read from the database at each scrape.
async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    let keys = match keys::list(&state.store).await {
        Ok(keys) => {
            let mut counts = KeyCounts::default();
            for key in &keys {
                match key.status {
                    KeyStatus::Next => counts.next += 1,
                    KeyStatus::Current => counts.current += 1,
                    KeyStatus::Retired => counts.retired += 1,
                }
            }
            Some(counts)
        }
        Err(err) => {
            // The other metrics are still worth scraping; the missing gauge shows the gap.
            tracing::warn!(error = %err, "metrics: cannot read the signing keys");
            None
        }
    };
    (
        [(CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.render(keys),
    )
}
