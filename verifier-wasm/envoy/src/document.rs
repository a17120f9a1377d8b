//! The remote documents the filter keeps for its providers (a JWKS, a revocation feed): what sets
//! each kind apart. Every kind is fetched once per Envoy, shared between worker VMs and adopted
//! by the one path in `root.rs`; the core's `refresh.rs` decides when to fetch, whether a
//! document changed and what to report.
//!
//! Adding a kind: implement [`Document`] for a new marker type, give [`Documents`] a map of
//! [`Kept`] for it (the per-request path reads it from there, typed) and list it in `root.rs`'s
//! `DOCUMENTS`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Display;

use verifier_core::limits::MAX_JWKS_BYTES;
use verifier_core::{Compare, FetchTarget, KeySource, Provider, RefreshPolicy, TokenCache};
use verifier_core::{Jwks, JwksError, RevocationError, Revocations};

use crate::metrics::Metrics;
use crate::shared::Endpoint;
use crate::state::{Documents, Kept};

/// Where a provider's document of some kind comes from, and how it is kept.
pub(crate) struct Source<'a> {
    /// Where it is fetched from.
    pub(crate) target: &'a FetchTarget,
    /// When it is fetched and how long it may be used.
    pub(crate) policy: RefreshPolicy,
    /// Largest accepted body, in bytes.
    pub(crate) max_bytes: usize,
}

/// What a kind of document is called in log lines.
pub(crate) struct Words {
    /// The document: `JWKS`, `revocation feed`.
    pub(crate) title: &'static str,
    /// Logged when its stale period starts.
    pub(crate) stale: &'static str,
    /// Logged when its stale period runs out.
    pub(crate) expired: &'static str,
    /// Logged when fetches succeed again.
    pub(crate) fresh: &'static str,
}

/// A kind of remote document a provider may have.
pub(crate) trait Document: 'static {
    /// What the document parses to.
    type Parsed: PartialEq;
    /// Why a body could not be parsed.
    type Error: Display;
    /// The kind in metric names (`<name>.<provider>.fetches`) and shared-data keys; never renamed.
    const NAME: &'static str;
    /// The `accept` header of a fetch.
    const ACCEPT: &'static str;
    /// How a fetched document is told apart from the stored one.
    const COMPARE: Compare;
    /// Whether the response's `Cache-Control: max-age` may shorten its freshness.
    const READS_MAX_AGE: bool = false;
    /// The level of the line for a fetch that brought nothing new.
    const UNCHANGED_LEVEL: log::Level = log::Level::Info;
    /// What it is called in log lines.
    const WORDS: Words;

    /// The provider's document of this kind, if it has one.
    fn source(provider: &Provider) -> Option<Source<'_>>;

    /// Where every VM of this Envoy finds it in shared data.
    fn endpoint(_provider: &Provider, target: &FetchTarget) -> Endpoint {
        Endpoint::new(Self::NAME, target, None)
    }

    /// Parses a body (fetched, or stored by another VM) of at most `max_bytes`.
    fn parse(
        provider: &Provider,
        max_bytes: usize,
        body: &[u8],
    ) -> Result<Self::Parsed, Self::Error>;

    /// Why a fetched body is refused, for the fetch-failed line.
    fn fetch_error(error: &Self::Error) -> String {
        error.to_string()
    }

    /// Looks at a freshly fetched document before it is shared (to log what it dropped).
    fn inspect(_fetched: &Self::Parsed) {}

    /// The fetched document in the fetched line: `fetched <this>, changed`.
    fn describe(fetched: &Self::Parsed) -> String;

    /// This VM now uses `document` (`None`: it expired) for `provider`, whose metric name
    /// segment is `segment`.
    fn adopted(
        provider: &str,
        segment: &str,
        document: Option<&Self::Parsed>,
        cache: &RefCell<TokenCache>,
        metrics: &mut Metrics,
    );

    /// This kind's documents, by provider.
    fn kept(documents: &Documents) -> &BTreeMap<String, Kept<Self::Parsed>>;

    /// This kind's documents, by provider, to change.
    fn kept_mut(documents: &mut Documents) -> &mut BTreeMap<String, Kept<Self::Parsed>>;
}

/// A `remote_jwks` provider's keys.
pub(crate) struct JwksDocument;

impl Document for JwksDocument {
    type Parsed = Jwks;
    type Error = JwksError;
    const NAME: &'static str = "jwks";
    const ACCEPT: &'static str = "application/jwk-set+json, application/json";
    const COMPARE: Compare = Compare::Bytes;
    const READS_MAX_AGE: bool = true;
    const WORDS: Words = Words {
        title: "JWKS",
        stale: "JWKS endpoint failing; serving the last good keys",
        expired: "keys expired after the stale period; refusing its tokens (503) until a fetch \
                  succeeds",
        fresh: "JWKS fresh again",
    };

    fn source(provider: &Provider) -> Option<Source<'_>> {
        match &provider.keys {
            KeySource::Remote(remote) => Some(Source {
                target: &remote.target,
                policy: RefreshPolicy::from_remote(remote),
                max_bytes: MAX_JWKS_BYTES,
            }),
            KeySource::Local(_) => None,
        }
    }

    fn parse(_provider: &Provider, _max_bytes: usize, body: &[u8]) -> Result<Jwks, JwksError> {
        Jwks::parse(body)
    }

    fn inspect(jwks: &Jwks) {
        for skipped in &jwks.skipped {
            log::warn!(
                "verifier: JWKS key {:?} skipped: {}",
                skipped.kid,
                skipped.reason
            );
        }
    }

    fn describe(jwks: &Jwks) -> String {
        format!("{} keys ({} skipped)", jwks.keys.len(), jwks.skipped.len())
    }

    fn adopted(
        provider: &str,
        segment: &str,
        jwks: Option<&Jwks>,
        cache: &RefCell<TokenCache>,
        metrics: &mut Metrics,
    ) {
        // A key that left the set must not keep vouching for cached tokens.
        cache.borrow_mut().clear_provider(provider);
        let count = jwks.map_or(0, |k| k.keys.len());
        metrics.set(&format!("jwks.{segment}.keys"), count as u64);
        log::info!("verifier: provider {provider}: now using {count} keys");
    }

    fn kept(documents: &Documents) -> &BTreeMap<String, Kept<Jwks>> {
        &documents.jwks
    }

    fn kept_mut(documents: &mut Documents) -> &mut BTreeMap<String, Kept<Jwks>> {
        &mut documents.jwks
    }
}

/// A provider's revocation feed.
pub(crate) struct FeedDocument;

impl Document for FeedDocument {
    type Parsed = Revocations;
    type Error = RevocationError;
    const NAME: &'static str = "revocations";
    const ACCEPT: &'static str = "application/json";
    // The issuer's generated_at changes on every fetch; only the entries matter.
    const COMPARE: Compare = Compare::Content;
    // Fetched every few seconds: only a change is worth an info line.
    const UNCHANGED_LEVEL: log::Level = log::Level::Debug;
    const WORDS: Words = Words {
        title: "revocation feed",
        stale: "revocation feed endpoint failing; serving the last good feed",
        expired: "revocation feed older than max_stale_seconds; refusing its tokens (503) until a \
                  fetch succeeds",
        fresh: "revocation feed fresh again",
    };

    fn source(provider: &Provider) -> Option<Source<'_>> {
        provider.revocations.as_ref().map(|feed| Source {
            target: &feed.target,
            policy: RefreshPolicy::from_revocations(feed),
            max_bytes: feed.max_bytes,
        })
    }

    fn endpoint(provider: &Provider, target: &FetchTarget) -> Endpoint {
        // Two providers reading one feed URL for different issuers never adopt each other's.
        Endpoint::new(Self::NAME, target, Some(&provider.issuer))
    }

    fn parse(
        provider: &Provider,
        max_bytes: usize,
        body: &[u8],
    ) -> Result<Revocations, RevocationError> {
        Revocations::parse(body, &provider.issuer, max_bytes)
    }

    fn fetch_error(error: &RevocationError) -> String {
        format!("{error} ({})", error.code())
    }

    fn describe(feed: &Revocations) -> String {
        format!(
            "the revocation feed ({} tokens, {} clients)",
            feed.tokens(),
            feed.clients()
        )
    }

    fn adopted(
        provider: &str,
        segment: &str,
        feed: Option<&Revocations>,
        _cache: &RefCell<TokenCache>,
        metrics: &mut Metrics,
    ) {
        let entries = feed.map_or(0, Revocations::len);
        metrics.set(&format!("revocations.{segment}.entries"), entries as u64);
        log::debug!(
            "verifier: provider {provider}: now using a revocation feed of {entries} entries"
        );
    }

    fn kept(documents: &Documents) -> &BTreeMap<String, Kept<Revocations>> {
        &documents.revocations
    }

    fn kept_mut(documents: &mut Documents) -> &mut BTreeMap<String, Kept<Revocations>> {
        &mut documents.revocations
    }
}
