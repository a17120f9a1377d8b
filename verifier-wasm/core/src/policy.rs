//! A provider's verification policy: whom a token must come from, for whom, signed how, and
//! where its keys and revocation feed come from.
//!
//! The filter configuration reads one per provider ([`Config`](crate::Config)); anyone else (the
//! issuer checking its own tokens or a client's assertion, the JS package's `verify`) builds one
//! with [`Provider::builder`], with the same defaults, without inventing a configuration.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::alg::Algorithm;
use crate::defaults::{DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_MAX_LIFETIME_SECONDS, DEFAULT_TYP};
use crate::delegation::DelegationPolicy;
use crate::jwks::Jwks;

/// One trusted issuer and the policy its tokens must meet.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    /// The provider's name in the configuration.
    pub name: String,
    /// The exact `iss` its tokens carry.
    pub issuer: String,
    /// Accepted `aud` values; a token must name at least one.
    pub audiences: Vec<String>,
    /// Accept a token whatever its `aud` names. Never set by a filter configuration: only an
    /// issuer checking tokens it minted itself sets it, through
    /// [`ProviderBuilder::dangerous_any_audience`] (not a public field, so no host can flip it
    /// on a configured provider).
    pub(crate) any_audience: bool,
    /// Algorithms accepted, whatever the token says.
    pub algorithms: Vec<Algorithm>,
    /// Required `typ`, or `None` to accept any (for third-party issuers).
    pub typ: Option<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub clock_skew_seconds: u64,
    /// Longest accepted token lifetime, in seconds.
    pub max_lifetime_seconds: u64,
    /// Whether the `Authorization` header is passed upstream.
    pub forward: bool,
    /// Where the keys come from.
    pub keys: KeySource,
    /// The revocation feed its tokens are checked against after they verify, if any.
    pub revocations: Option<RevocationFeed>,
    /// Whether, and how deep, delegated tokens (carrying `act`) are accepted; `None` refuses them.
    pub delegation: Option<DelegationPolicy>,
}

impl Provider {
    /// A policy for tokens from `issuer`, with every default of a configured provider: ES256,
    /// `typ` `at+jwt`, 60 s skew, 24 h lifetime, no audience (set one), no keys (verify with a
    /// key set of your own, or give `local_jwks`).
    pub fn builder(issuer: &str) -> ProviderBuilder {
        ProviderBuilder {
            provider: Provider {
                name: String::new(),
                issuer: issuer.to_owned(),
                audiences: Vec::new(),
                any_audience: false,
                algorithms: alloc::vec![Algorithm::Es256],
                typ: Some(DEFAULT_TYP.to_owned()),
                clock_skew_seconds: DEFAULT_CLOCK_SKEW_SECONDS,
                max_lifetime_seconds: DEFAULT_MAX_LIFETIME_SECONDS,
                forward: false,
                keys: KeySource::Local(Jwks::default()),
                revocations: None,
                delegation: None,
            },
        }
    }

    /// The keys given in the configuration (`local_jwks`); `None` for a `remote_jwks` provider,
    /// whose keys are the host's to fetch.
    pub fn local_jwks(&self) -> Option<&Jwks> {
        match &self.keys {
            KeySource::Local(jwks) => Some(jwks),
            KeySource::Remote(_) => None,
        }
    }

    /// Whether a token naming `aud` is meant for this provider's audience.
    pub fn accepts_audience(&self, aud: &[String]) -> bool {
        self.any_audience || aud.iter().any(|a| self.audiences.contains(a))
    }
}

/// Builds a [`Provider`] without a filter configuration; see [`Provider::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ProviderBuilder {
    provider: Provider,
}

impl ProviderBuilder {
    /// The provider's name (shown in errors such as `jwks_unavailable`).
    pub fn name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.provider.name);
        self
    }

    /// The accepted `aud` values; a token must name at least one.
    pub fn audiences<S: Into<String>>(mut self, audiences: impl IntoIterator<Item = S>) -> Self {
        self.provider.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// Accepts a token whatever its `aud`: only for an issuer checking tokens it minted itself
    /// (introspection, revocation), which holds tokens for every audience. A gateway must not.
    pub fn dangerous_any_audience(mut self) -> Self {
        self.provider.any_audience = true;
        self
    }

    /// The accepted algorithms, whatever a token says.
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.provider.algorithms = algorithms.to_vec();
        self
    }

    /// The required `typ`; `None` accepts any.
    pub fn typ(mut self, typ: Option<&str>) -> Self {
        self.provider.typ = typ.map(str::to_owned);
        self
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub fn clock_skew_seconds(mut self, seconds: u64) -> Self {
        self.provider.clock_skew_seconds = seconds;
        self
    }

    /// The longest accepted token lifetime, in seconds.
    pub fn max_lifetime_seconds(mut self, seconds: u64) -> Self {
        self.provider.max_lifetime_seconds = seconds;
        self
    }

    /// Whether the `Authorization` header is passed upstream.
    pub fn forward(mut self, forward: bool) -> Self {
        self.provider.forward = forward;
        self
    }

    /// The provider's own keys (`local_jwks`).
    pub fn local_jwks(mut self, jwks: Jwks) -> Self {
        self.provider.keys = KeySource::Local(jwks);
        self
    }

    /// Where the keys come from.
    pub fn keys(mut self, keys: KeySource) -> Self {
        self.provider.keys = keys;
        self
    }

    /// The revocation feed its tokens are checked against.
    pub fn revocations(mut self, feed: Option<RevocationFeed>) -> Self {
        self.provider.revocations = feed;
        self
    }

    /// Accepts delegated tokens with chains of at most `max_depth` actors.
    pub fn delegation(mut self, max_depth: usize) -> Self {
        self.provider.delegation = Some(DelegationPolicy { max_depth });
        self
    }

    /// The policy.
    pub fn build(self) -> Provider {
        self.provider
    }
}

/// Where a provider's keys come from.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// Keys given in the configuration.
    Local(Jwks),
    /// Keys fetched by the host from an Envoy cluster.
    Remote(RemoteJwks),
}

/// Where the host fetches a remote document from: an Envoy cluster, a path, an authority and
/// a timeout. Shared by every document the filter keeps (the JWKS, the revocation feed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchTarget {
    /// The Envoy cluster to send the request to.
    pub cluster: String,
    /// The request path, e.g. `/.well-known/jwks.json`.
    pub path: String,
    /// The `:authority` to send; defaults to the cluster name.
    pub authority: String,
    /// How long one fetch may take, in milliseconds.
    pub timeout_ms: u64,
}

/// A JWKS fetched over HTTP through an Envoy cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    /// Where it is fetched from.
    pub target: FetchTarget,
    /// How often the keys are refreshed, in seconds.
    pub refresh_seconds: u64,
    /// Least time between two fetches forced by tokens with an unknown `kid`, in seconds.
    pub refetch_cooldown_seconds: u64,
    /// How long keys stay usable past their freshness while the endpoint fails, in seconds;
    /// after that the provider fails closed (503) until a fetch succeeds.
    pub max_stale_seconds: u64,
}

/// A revocation feed fetched over HTTP through an Envoy cluster, on its own schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationFeed {
    /// Where it is fetched from.
    pub target: FetchTarget,
    /// How often the feed is fetched, in seconds: the longest a revocation goes unnoticed while
    /// the feed endpoint answers.
    pub refresh_seconds: u64,
    /// How old (since its fetch) the last good feed may grow while fetches fail, in seconds;
    /// after that the provider's tokens get 503 until a fetch succeeds.
    pub max_stale_seconds: u64,
    /// Largest accepted feed document, in bytes.
    pub max_bytes: usize,
}
