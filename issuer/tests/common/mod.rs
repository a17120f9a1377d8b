//! A real issuer on a temporary SQLite database, driven through its routers without sockets.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use issuer::clients::{self, Audience, ClientId, NewClient, Ttl};
use issuer::clock::{Clock, ManualClock};
use issuer::keys::SigningAlg;
use issuer::scope::Scope;
use issuer::{AppState, IssuerUrl, Store, admin_router, public_router};
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

/// A fixed, realistic "now" so tests never depend on the wall clock.
pub const START: u64 = 1_800_000_000;

/// The issuer URL the tests configure.
pub const ISSUER: &str = "https://issuer.test";

pub struct TestIssuer {
    pub dir: TempDir,
    pub url: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
}

/// A response, its body parsed as JSON when it is JSON.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestIssuer {
    pub async fn new() -> Self {
        Self::with_alg(SigningAlg::Es256).await
    }

    pub async fn with_alg(alg: SigningAlg) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        // A missing subdirectory checks that the store creates it.
        let url = format!("sqlite://{}/data/issuer.db", dir.path().display());
        Self::open(dir, url, alg).await
    }

    pub async fn open(dir: TempDir, url: String, alg: SigningAlg) -> Self {
        let store = Store::open(&url).await.expect("open store");
        let clock = Arc::new(ManualClock::new(START));
        let issuer: IssuerUrl = ISSUER.parse().expect("issuer url");
        let state = AppState::bootstrap(store, alg, clock.clone(), issuer)
            .await
            .expect("bootstrap");
        Self {
            dir,
            url,
            state,
            clock,
        }
    }

    /// Registers a client and returns its secret.
    pub async fn client(&self, id: &str, scope: &str) -> String {
        self.client_with(id, scope, "quantjourney", 300).await
    }

    pub async fn client_with(&self, id: &str, scope: &str, audience: &str, ttl: u64) -> String {
        let new = NewClient {
            id: ClientId::parse(id).expect("client id"),
            scope: Scope::parse(scope).expect("scope"),
            audience: Audience::parse(audience).expect("audience"),
            ttl: Ttl::try_from(ttl).expect("ttl"),
        };
        let (_, secret) =
            clients::register(&self.state.store, &self.state.hasher, new, self.clock.now())
                .await
                .expect("register");
        secret.expose().to_owned()
    }

    pub fn public(&self) -> Router {
        public_router(self.state.clone())
    }

    pub fn admin(&self) -> Router {
        admin_router(self.state.clone())
    }

    pub async fn get(&self, router: Router, path: &str) -> Reply {
        let request = Request::get(path).body(Body::empty()).expect("request");
        send(router, request).await
    }

    /// POSTs a raw form body, optionally with HTTP Basic credentials.
    pub async fn post_form(&self, path: &str, body: &str, basic: Option<(&str, &str)>) -> Reply {
        let mut request =
            Request::post(path).header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some((id, secret)) = basic {
            request = request.header(AUTHORIZATION, basic_header(id, secret));
        }
        let request = request.body(Body::from(body.to_owned())).expect("request");
        send(self.public(), request).await
    }

    /// A token via client_secret_basic, asserting success.
    pub async fn token(&self, id: &str, secret: &str, extra: &str) -> String {
        let reply = self
            .post_form(
                "/oauth/token",
                &format!("grant_type=client_credentials{extra}"),
                Some((id, secret)),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub async fn introspect(&self, token: &str, id: &str, secret: &str) -> Value {
        let reply = self
            .post_form(
                "/oauth/introspect",
                &format!("token={token}"),
                Some((id, secret)),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        reply.json()
    }
}

pub async fn send(router: Router, request: Request<Body>) -> Reply {
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// RFC 6749 §2.3.1: form-urlencode id and secret, then Basic.
pub fn basic_header(id: &str, secret: &str) -> String {
    let encode = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}

/// The JSON of one base64url segment of a compact JWS.
pub fn segment(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("segment");
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

/// The member names of a JSON object, sorted.
pub fn keys_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}
