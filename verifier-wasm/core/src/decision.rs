//! The gateway's decision for one request: allow (with identity headers), deny, or wait for keys
//! (or for a revocation feed).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::cache::{CachedToken, TokenCache};
use crate::config::Config;
use crate::error::{Untrusted, VerifyError};
use crate::identity::Identity;
use crate::keys::{FeedState, KeyState, Keys};
use crate::revocation::TokenRef;
use crate::rules::{self, Requirement};
use crate::verify::{Failure, Unverified};

/// The parts of a request the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// The (normalised) path, possibly with a query string.
    pub path: &'a str,
    /// The `Authorization` header, if there is exactly one.
    pub authorization: Option<&'a str>,
}

/// What the host must do with the request.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Decision {
    /// Let it through. Identity headers the caller sent are removed in every case.
    Allow {
        /// The verified identity to forward upstream; `None` on a public route.
        identity: Option<Identity>,
        /// Whether to remove the `Authorization` header before forwarding.
        strip_authorization: bool,
    },
    /// Answer it locally; it never reaches the upstream.
    Deny(Denial),
    /// Hold it until the provider's (first, or fresh) keys or its first revocation feed arrive,
    /// bounded by the configuration's `jwks_wait_ms`; the host makes sure a fetch is under way.
    Wait {
        /// The provider whose keys or feed are awaited.
        provider: String,
        /// Which of the two.
        awaiting: Awaiting,
    },
}

/// What a held request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    /// The provider's first keys, or fresh ones for an unknown `kid`.
    Keys,
    /// The provider's first revocation feed (the token itself has verified).
    Revocations,
}

impl Awaiting {
    /// The refusal when the wait runs out: 503, naming what could not be had.
    pub fn unavailable(self, provider: &str) -> VerifyError {
        let provider = provider.to_owned();
        match self {
            Awaiting::Keys => VerifyError::JwksUnavailable { provider },
            Awaiting::Revocations => VerifyError::RevocationsUnavailable { provider },
        }
    }
}

/// A refusal, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Denial {
    /// Why.
    pub error: VerifyError,
    /// The HTTP status.
    pub status: u16,
    /// The `WWW-Authenticate` value (RFC 6750 §3), for 400, 401 and `insufficient_scope` 403.
    pub www_authenticate: Option<String>,
    /// The JSON body: `{"error", "code", "message"}`.
    pub body: String,
    /// Who the token claimed to be, for the denial's log line.
    pub facts: TokenFacts,
}

/// What a refused token said about itself, for logs: never the token, and every value shown as
/// untrusted text (printable ASCII, at most 64 characters), since it may come from an attacker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFacts {
    /// The header's `kid`.
    pub kid: Option<String>,
    /// The `iss` claim; only from a token whose signature verified.
    pub iss: Option<String>,
    /// The `sub` claim; only from a token whose signature verified.
    pub sub: Option<String>,
}

impl TokenFacts {
    fn new(kid: Option<&str>, iss: Option<&str>, sub: Option<&str>) -> TokenFacts {
        TokenFacts {
            kid: kid.map(|v| Untrusted(v).to_string()),
            iss: iss.map(|v| Untrusted(v).to_string()),
            sub: sub.map(|v| Untrusted(v).to_string()),
        }
    }
}

impl Denial {
    /// Builds the response for `error` in `realm`.
    pub fn new(error: VerifyError, realm: &str) -> Denial {
        let status = error.http_status();
        let message = error.to_string();
        let www_authenticate = match (status, error.bearer_error()) {
            (401, None) => Some(format!("Bearer realm=\"{realm}\"")),
            (400 | 401 | 403, Some(code)) => {
                let mut challenge = format!(
                    "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{}\"",
                    quoted(&message)
                );
                if let VerifyError::InsufficientScope { missing } = &error {
                    challenge.push_str(&format!(", scope=\"{}\"", quoted(&missing.join(" "))));
                }
                Some(challenge)
            }
            _ => None,
        };
        let kind = error.bearer_error().unwrap_or(match status {
            401 => "unauthorized",
            503 => "temporarily_unavailable",
            _ => "access_denied",
        });
        let body = serde_json::json!({"error": kind, "code": error.code(), "message": message})
            .to_string();
        Denial {
            error,
            status,
            www_authenticate,
            body,
            facts: TokenFacts::default(),
        }
    }

    fn with_facts(mut self, facts: TokenFacts) -> Denial {
        self.facts = facts;
        self
    }
}

/// Makes text safe inside an RFC 7230 quoted-string: printable ASCII, no quote or backslash.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The bearer token in an `Authorization` value (RFC 6750 §2.1), if it uses the Bearer scheme.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, rest) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    (!token.is_empty()).then_some(token)
}

/// Decides what happens to `request` at time `now` (Unix seconds), verifying every token in full.
pub fn decide(config: &Config, keys: &impl Keys, request: &Request<'_>, now: u64) -> Decision {
    decide_with(config, keys, None, request, now)
}

/// Like [`decide`], remembering verified tokens in `cache` and answering from it when it can.
/// A hit still re-checks the token's dates and the route's scopes.
pub fn decide_cached(
    config: &Config,
    keys: &impl Keys,
    cache: &mut TokenCache,
    request: &Request<'_>,
    now: u64,
) -> Decision {
    decide_with(config, keys, Some(cache), request, now)
}

fn decide_with(
    config: &Config,
    keys: &impl Keys,
    mut cache: Option<&mut TokenCache>,
    request: &Request<'_>,
    now: u64,
) -> Decision {
    let deny_as =
        |error, facts| Decision::Deny(Denial::new(error, &config.realm).with_facts(facts));
    let deny = |error| deny_as(error, TokenFacts::default());
    let Some(rule) = rules::first_match(&config.rules, request.method, request.path) else {
        return deny(VerifyError::NoMatchingRule {
            method: request.method.to_owned(),
            path: request.path.to_owned(),
        });
    };
    let (provider_name, scopes) = match &rule.requirement {
        Requirement::Public { forward } => {
            return Decision::Allow {
                identity: None,
                strip_authorization: !forward,
            };
        }
        Requirement::Token { provider, scopes } => (provider, scopes),
    };
    let Some(provider) = config.providers.get(provider_name) else {
        // Config::parse refuses rules naming unknown providers; fail closed if one slips through.
        return deny(VerifyError::JwksUnavailable {
            provider: provider_name.clone(),
        });
    };
    let Some(token) = request.authorization.and_then(bearer_token) else {
        return deny(VerifyError::TokenMissing);
    };
    let digest = cache
        .as_ref()
        .map(|_| TokenCache::digest(provider_name, token));
    let hit = match (&mut cache, &digest) {
        (Some(cache), Some(digest)) => {
            let hit = cache
                .get(digest, now)
                .map(|e| (e.identity.clone(), e.lifetime, e.jti.clone()));
            cache.count(hit.is_some());
            hit
        }
        _ => None,
    };
    let (identity, kid, iat, jti) = match hit {
        Some((identity, lifetime, jti)) => {
            // A hit skips the signature, never the time, the route or the revocation feed: a
            // token cached on a read route must not pass a write route, and none passes after
            // its exp or once revoked.
            if let Err(error) = lifetime.validate(provider, now) {
                let facts = TokenFacts::new(None, Some(&identity.issuer), Some(&identity.subject));
                return deny_as(error, facts);
            }
            (identity, None, lifetime.iat, jti)
        }
        None => {
            let unverified = match Unverified::parse(token, provider) {
                Ok(unverified) => unverified,
                Err(error) => return deny(error),
            };
            let kid = unverified.header.kid.clone();
            let deny_token = |error, claims: Option<&crate::claims::Claims>| {
                let facts = TokenFacts::new(
                    kid.as_deref(),
                    claims.and_then(|c| c.iss.as_deref()),
                    claims.and_then(|c| c.sub.as_deref()),
                );
                deny_as(error, facts)
            };
            let jwks = match keys.state(provider_name) {
                KeyState::Ready(jwks) => jwks,
                KeyState::Pending => {
                    return Decision::Wait {
                        provider: provider_name.clone(),
                        awaiting: Awaiting::Keys,
                    };
                }
                KeyState::Unavailable => {
                    return deny(VerifyError::JwksUnavailable {
                        provider: provider_name.clone(),
                    });
                }
            };
            let verified = match unverified.verify_reporting(provider, jwks, now) {
                Ok(verified) => verified,
                // A key rotated in at the issuer after our last fetch: wait for fresh keys once.
                Err(Failure {
                    error: VerifyError::KidUnknown { .. },
                    ..
                }) if keys.may_refetch(provider_name, now) => {
                    return Decision::Wait {
                        provider: provider_name.clone(),
                        awaiting: Awaiting::Keys,
                    };
                }
                Err(failure) => return deny_token(failure.error, failure.claims.as_deref()),
            };
            let lifetime = verified.claims.lifetime();
            let jti = provider
                .revocations
                .as_ref()
                .and(verified.claims.jti.clone());
            let identity = Identity::from_claims(verified.claims);
            // Cached before the feed is consulted: what is cached is the verification, and
            // every hit consults the feed again (so a request that waits for the first feed is
            // not verified twice).
            if let (Some(cache), Some(digest)) = (cache, digest) {
                let entry = CachedToken {
                    provider: provider_name.clone(),
                    identity: identity.clone(),
                    lifetime,
                    dead_at: lifetime.dead_at(provider.clock_skew_seconds),
                    jti: jti.clone(),
                };
                cache.insert(digest, entry, now);
            }
            // verify() has checked the dates already.
            (identity, kid, lifetime.iat, jti)
        }
    };
    let facts = || {
        TokenFacts::new(
            kid.as_deref(),
            Some(&identity.issuer),
            Some(&identity.subject),
        )
    };
    // Only a token whose signature and claims verified gets here: a forged one never learns
    // from a 401 whether its jti or client is revoked, nor waits for the feed.
    if provider.revocations.is_some() {
        let feed = match keys.revocations(provider_name) {
            FeedState::Ready(feed) => feed,
            FeedState::Pending => {
                return Decision::Wait {
                    provider: provider_name.clone(),
                    awaiting: Awaiting::Revocations,
                };
            }
            FeedState::Unavailable => {
                return deny(VerifyError::RevocationsUnavailable {
                    provider: provider_name.clone(),
                });
            }
        };
        // The client is `client_id`, or `sub` when the token has none (identity() leaves an
        // absent `sub` empty, and the feed never lists an empty client).
        let client = identity
            .client_id
            .as_deref()
            .or(Some(identity.subject.as_str()).filter(|s| !s.is_empty()));
        let token = TokenRef {
            jti: jti.as_deref(),
            client,
            iat,
        };
        if let Some(revoked) = feed.check(&token) {
            let error = VerifyError::TokenRevoked {
                reason: revoked.reason(),
            };
            return deny_as(error, facts());
        }
    }
    let held = || identity.scope.split(' ').filter(|s| !s.is_empty());
    let missing: Vec<String> = scopes
        .iter()
        .filter(|s| !held().any(|h| h == s.as_str()))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return deny_as(VerifyError::InsufficientScope { missing }, facts());
    }
    Decision::Allow {
        identity: Some(identity),
        strip_authorization: !provider.forward,
    }
}
