//! The issuer: OAuth 2 client credentials (RFC 6749 §4.4) minting RFC 9068 JWT access tokens,
//! with JWKS (RFC 7517), metadata (RFC 8414), revocation (RFC 7009) and introspection (RFC 7662).
//!
//! It refuses to be more than that: no authorization code or refresh tokens, no public
//! clients, no `none` algorithm, no HMAC-signed tokens, no secrets kept in recoverable form.
//! It is not a runtime dependency of the requests it authorizes: gateways verify its tokens
//! locally against the published JWKS.
//!
//! Layout: [`cli`] and [`server`] are the edges; [`http`] holds the two routers; [`clients`],
//! [`keys`], [`scope`] and [`access_token`] hold the logic, which takes `now` as an argument
//! (only [`clock`] reads the time); [`store`] is the only module that talks to the database.
//! The admin port also serves a browser UI: [`ui`] holds its files, [`admin_session`] its
//! cookie sessions.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod access_token;
pub mod admin_credential;
pub mod admin_session;
pub mod audit;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod ops;
pub mod random;
pub mod scope;
pub mod server;
pub mod state;
pub mod store;
pub mod trail;
pub mod ui;

pub use config::{IssuerUrl, ServeConfig};
pub use http::{admin_router, public_router};
pub use state::AppState;
pub use store::Store;
