//! The address a request came from, for throttling and the audit trail.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// The peer's IP address; `None` when the request did not come through a socket (tests
/// driving the router directly).
///
/// This is the TCP peer, never a forwarded header: behind a proxy every client shares the
/// proxy's address, which throttles conservatively but cannot be spoofed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub Option<IpAddr>);

impl Peer {
    /// The address as written in audit records: the IP, or `local`.
    pub fn label(&self) -> String {
        self.0
            .map_or_else(|| "local".to_owned(), |ip| ip.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let info = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(Self(info.map(|ConnectInfo(addr)| addr.ip())))
    }
}
