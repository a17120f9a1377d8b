//! A real issuer on a temporary database, driven through its routers without sockets.
//!
//! The database is SQLite, or a fresh PostgreSQL database when `ISSUER_TEST_BACKEND=postgres`
//! (on the server at `POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`):
//! `make test` runs this whole suite once on each.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use issuer::clients::{self, Audience, ClientId, ClientKind, NewClient, Ttl};
use issuer::clock::{Clock, ManualClock};
use issuer::keys::{KeySettings, PlaintextSealer, RotationPolicy, SigningAlg};
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
    pub db: TestDb,
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
        let (db, url) = TestDb::create().await;
        Self::open(db, url, alg).await
    }

    pub async fn open(db: TestDb, url: String, alg: SigningAlg) -> Self {
        Self::open_at(db, url, alg, START).await
    }

    /// Opens the store at `url` as a server started at `now` would.
    pub async fn open_at(db: TestDb, url: String, alg: SigningAlg, now: u64) -> Self {
        let store = Store::open(&url).await.expect("open store");
        let clock = Arc::new(ManualClock::new(now));
        let issuer: IssuerUrl = ISSUER.parse().expect("issuer url");
        let state = AppState::bootstrap(store, key_settings(alg), clock.clone(), issuer)
            .await
            .expect("bootstrap");
        Self {
            db,
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
        self.register(id, ClientKind::Service, scope, audience, ttl)
            .await
    }

    /// Registers an agent and returns its secret.
    pub async fn agent(&self, id: &str, scope: &str) -> String {
        self.register(id, ClientKind::Agent, scope, "quantjourney", 300)
            .await
    }

    pub async fn register(
        &self,
        id: &str,
        kind: ClientKind,
        scope: &str,
        audience: &str,
        ttl: u64,
    ) -> String {
        let new = NewClient {
            id: ClientId::parse(id).expect("client id"),
            kind,
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

    /// A new admin credential (revoking any earlier one); returns its bearer token.
    pub async fn admin_token(&self) -> String {
        let (credential, _) = issuer::admin::credential::reset(&self.state.store, self.clock.now())
            .await
            .expect("admin credential");
        credential.token.expose().to_owned()
    }

    /// `GET` on the admin port with a fresh admin credential.
    pub async fn admin_get(&self, path: &str) -> Reply {
        let token = self.admin_token().await;
        self.admin_call("GET", path, Some(&token), None).await
    }

    /// A request to the admin port, with `Authorization: Bearer <token>` and a JSON body when given.
    pub async fn admin_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        send(self.admin(), request.body(body).expect("request")).await
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

/// Key settings for tests: a one-hour rotation period, a 5-minute JWKS max-age.
pub fn key_settings(alg: SigningAlg) -> KeySettings {
    KeySettings {
        alg,
        rotation: RotationPolicy::new(3600, 300).expect("policy"),
        sealer: Arc::new(PlaintextSealer),
    }
}

/// A throw-away database, removed when dropped.
pub enum TestDb {
    /// A SQLite file in a temporary directory.
    Sqlite(TempDir),
    /// A database of its own on the PostgreSQL test server.
    Postgres { server: String, name: String },
}

impl TestDb {
    /// A new empty database of the backend under test, and its URL.
    pub async fn create() -> (Self, String) {
        match std::env::var("ISSUER_TEST_BACKEND").as_deref() {
            Ok("postgres") => Self::postgres().await,
            Ok("sqlite") | Err(_) => Self::sqlite(),
            Ok(other) => panic!("ISSUER_TEST_BACKEND={other:?}: use sqlite or postgres"),
        }
    }

    /// A SQLite database file that does not exist yet.
    pub fn sqlite() -> (Self, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        // A missing subdirectory checks that the store creates it.
        let url = format!("sqlite://{}/data/issuer.db", dir.path().display());
        (Self::Sqlite(dir), url)
    }

    /// A fresh database on the PostgreSQL server at `POSTGRES_URL`.
    pub async fn postgres() -> (Self, String) {
        use sqlx::Connection;
        let server = postgres_server();
        let name = format!("issuer_test_{}", random_suffix());
        let mut conn = sqlx::PgConnection::connect(&server)
            .await
            .unwrap_or_else(|err| panic!("cannot reach PostgreSQL at {server}: {err}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        conn.close().await.ok();
        let url = database_url(&server, &name);
        (Self::Postgres { server, name }, url)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Self::Postgres { server, name } = self else {
            return;
        };
        let (server, name) = (server.clone(), name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread of its own.
        let dropper = std::thread::spawn(move || {
            use sqlx::Connection;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&server).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    sqlx::query(&drop).execute(&mut conn).await.ok();
                }
            });
        });
        dropper.join().ok();
    }
}

/// The PostgreSQL server tests use.
pub fn postgres_server() -> String {
    std::env::var("POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `server` with its database name replaced by `name`.
pub fn database_url(server: &str, name: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// The JSON of one base64url segment of a compact JWS (0 the header, 1 the claims).
pub fn segment(token: &str, index: usize) -> Value {
    verifier_testkit::decode_segment(token, index)
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

/// Every audit record so far, oldest first, as JSON.
pub async fn audit_records(t: &TestIssuer) -> Vec<Value> {
    let records = t
        .state
        .store
        .audit_page(0, 10_000)
        .await
        .expect("audit records");
    records
        .iter()
        .map(|record| serde_json::to_value(record).expect("record as JSON"))
        .collect()
}
