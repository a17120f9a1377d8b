//! The admin UI's files on the admin port: `/` redirects to `/ui/`, `/ui/` is the page,
//! `/ui/<path>` its embedded files, `/ui/verifier/<file>` the verifier's JS package.
//!
//! No credential is needed: the files hold no secrets, and the page signs in through
//! `/admin/session` like any client of the API. Every response carries a strict
//! Content-Security-Policy (scripts from this origin only, WebAssembly allowed, nothing
//! inline, no framing) and the headers that stop sniffing, referrers and cross-window access.
//! `Cache-Control: no-cache` makes the browser revalidate, so a new build is picked up at once.
//!
//! The `verifier/` prefix belongs to the package: an embedded file under `ui/verifier/` would
//! be shadowed by it.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::ui::assets;

/// The policy of every UI response, and (as defence in depth) of every admin-port response.
///
/// `'wasm-unsafe-eval'` lets the page compile the verifier's WebAssembly and nothing else: it
/// does not allow `eval` of JavaScript. `connect-src 'self'` keeps the page talking to this
/// port only, which is why the JWKS and revocation feed are mirrored under `/admin/`.
pub(super) const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; \
     script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// Where the UI lives.
const UI_ROOT: &str = "/ui/";

/// The path prefix (below `/ui/`) of the verifier's JS package.
const VERIFIER_PREFIX: &str = "verifier/";

/// What `/ui/verifier/...` answers when the server was started without the package.
const NO_VERIFIER: &str = "The verifier JS package is not available: start the issuer with \
     --verifier-js-dir <DIR> (make build produces it under target/js/verifier).\n";

/// The open UI routes, each response with the UI's headers.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(to_ui))
        .route("/ui", get(to_ui))
        .route(UI_ROOT, get(index))
        .route("/ui/{*path}", get(file))
        .layer(map_response(ui_headers))
}

/// 303, so the browser follows with a GET whatever it sent.
async fn to_ui() -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, UI_ROOT)]).into_response()
}

async fn index() -> Response {
    match assets::asset(assets::INDEX) {
        Some(bytes) => serve(assets::INDEX, Body::from(bytes)),
        None => not_found("The admin UI was not built into this binary (issuer/ui/index.html).\n"),
    }
}

async fn file(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    if let Some(name) = path.strip_prefix(VERIFIER_PREFIX) {
        return match &state.ui.verifier {
            None => not_found(NO_VERIFIER),
            Some(package) => match package.file(name) {
                Some(bytes) => serve(name, Body::from(bytes)),
                None => not_found("No such file in the verifier JS package.\n"),
            },
        };
    }
    match assets::asset(&path) {
        Some(bytes) => serve(&path, Body::from(bytes)),
        None => not_found("Not found.\n"),
    }
}

fn serve(name: &str, body: Body) -> Response {
    ([(CONTENT_TYPE, assets::content_type(name))], body).into_response()
}

fn not_found(text: &'static str) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// The headers of every UI response (see the module docs).
async fn ui_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The headers of every admin-port response: no content sniffing, and the UI's policy, which
/// costs nothing on JSON and stops anything the API returns from running if opened as a page.
pub(super) async fn admin_port_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    response
}
