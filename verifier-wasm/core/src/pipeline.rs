//! How the gateway decides: one pipeline of named stages, run in order, each of which may stop
//! the request (deny it, or hold it for keys or a feed).
//!
//! 1. **rule**: the first rule matching the method and path; none is a 403, a public rule
//!    lets the request through unchecked.
//! 2. **token**: the bearer token.
//! 3. **authenticate**: the caller, from the token cache (a hit skips the signature, never the
//!    dates) or by verification ([`Unverified`]: header, keys, signature, claims).
//! 4. **checks** on the authenticated caller, in [`checks`]' order: revocation, scopes.
//!
//! A new check on the caller (delegation, DPoP, caller rules, manifests) is one function with
//! the [`Check`] signature and one entry in [`checks`]. [`explain`](crate::explain) reads the
//! [`Trace`] the same run fills; the filter passes `()`, for which every trace call compiles to
//! nothing, so observing costs the request path nothing.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::cache::{CachedToken, TokenCache};
use crate::config::Config;
use crate::decision::{Awaiting, Decision, Denial, Request, TokenFacts, bearer_token};
use crate::delegation::{self, Admitted, DelegationRule};
use crate::error::{Stage, Untrusted, VerifyError};
use crate::identity::Identity;
use crate::keys::{FeedState, KeyState, Keys};
use crate::policy::Provider;
use crate::revocation::TokenRef;
use crate::rules::{self, Requirement};
use crate::scope;
use crate::verify::{Failure, Unverified, Verified};

/// Decides what happens to `request` at time `now` (Unix seconds), verifying every token in full.
pub fn decide(config: &Config, keys: &impl Keys, request: &Request<'_>, now: u64) -> Decision {
    run(config, keys, None, request, now, &mut ())
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
    run(config, keys, Some(cache), request, now, &mut ())
}

/// Like [`decide_cached`], telling `trace` as each stage passes: how `explain` and a host's
/// profiler observe the one pipeline the request path runs.
pub fn decide_traced(
    config: &Config,
    keys: &impl Keys,
    cache: &mut TokenCache,
    request: &Request<'_>,
    now: u64,
    trace: &mut impl Trace,
) -> Decision {
    run(config, keys, Some(cache), request, now, trace)
}

/// What a run of the pipeline tells an observer, stage by stage. Details are closures, called
/// only by an observer that keeps them.
pub trait Trace {
    /// The rule at `index` applies.
    fn rule(&mut self, index: usize) {
        let _ = index;
    }

    /// `stage` passed; `detail` says what it found, for a person.
    fn pass(&mut self, stage: Stage, detail: impl FnOnce() -> String) {
        let _ = (stage, detail);
    }
}

/// The filter's observer: nothing is kept.
impl Trace for () {}

/// Runs the pipeline for `request`, reporting to `trace`.
pub(crate) fn run<K: Keys, T: Trace>(
    config: &Config,
    keys: &K,
    cache: Option<&mut TokenCache>,
    request: &Request<'_>,
    now: u64,
    trace: &mut T,
) -> Decision {
    let mut run = Run {
        config,
        keys,
        cache,
        now,
        trace,
    };
    match run.stages(request) {
        Ok(decision) => decision,
        Err(halt) => *halt,
    }
}

/// Why a stage stopped the request: the denial or wait to answer with. Boxed: it is the rare
/// path, and a large `Err` would make every stage's `Ok` pay for its size.
pub(crate) type Halt = alloc::boxed::Box<Decision>;

/// The request route once its rule has matched: the provider, the scopes it requires and what
/// it adds to the provider's delegation policy.
pub(crate) struct Route<'c> {
    /// The provider's name.
    pub(crate) name: &'c str,
    /// The provider.
    pub(crate) provider: &'c Provider,
    /// The scopes the rule requires.
    pub(crate) scopes: &'c [String],
    /// The rule's delegation members.
    pub(crate) delegation: &'c DelegationRule,
}

/// The caller, once its token has verified (now, or when it was cached).
pub(crate) struct Caller {
    /// Who it is, as forwarded upstream (shared with the cache entry: a hit copies no string).
    pub(crate) identity: Arc<Identity>,
    /// The `kid` its token's header named; `None` on a cache hit (logs only).
    pub(crate) kid: Option<String>,
    /// Its token's `iat`, for whole-client revocation.
    pub(crate) iat: Option<f64>,
    /// Its token's `jti`, kept only when the provider has a revocation feed.
    pub(crate) jti: Option<String>,
}

impl Caller {
    /// Who the token said it was, for the denial's log line.
    fn facts(&self) -> TokenFacts {
        TokenFacts::new(
            self.kid.as_deref(),
            Some(&self.identity.issuer),
            Some(&self.identity.subject),
        )
    }
}

/// A check on an authenticated caller: `Err` holds what stops the request.
pub(crate) type Check<K, T> = fn(&mut Run<'_, K, T>, &Route<'_>, &Caller) -> Result<(), Halt>;

/// The checks every authenticated caller goes through, in order: the one place a new one is
/// added.
fn checks<K: Keys, T: Trace>() -> [Check<K, T>; 3] {
    [revocation, delegation, scopes]
}

/// One run of the pipeline: its inputs, and the observer.
pub(crate) struct Run<'a, K, T> {
    config: &'a Config,
    keys: &'a K,
    cache: Option<&'a mut TokenCache>,
    now: u64,
    trace: &'a mut T,
}

impl<K: Keys, T: Trace> Run<'_, K, T> {
    fn stages(&mut self, request: &Request<'_>) -> Result<Decision, Halt> {
        let config = self.config;
        // Stage: rule.
        let Some((index, rule)) = rules::first_match(&config.rules, request.method, request.path)
        else {
            return Err(self.deny(VerifyError::NoMatchingRule {
                method: request.method.to_owned(),
                path: request.path.to_owned(),
            }));
        };
        self.trace.rule(index);
        let (name, scopes, delegation) = match &rule.requirement {
            Requirement::Public { forward } => {
                self.trace.pass(Stage::Rule, || {
                    format!(
                        "rule #{index} is public: no token is checked, and the Authorization \
                         header is {}",
                        if *forward { "forwarded" } else { "removed" }
                    )
                });
                return Ok(Decision::Allow {
                    identity: None,
                    strip_authorization: !forward,
                });
            }
            Requirement::Token {
                provider,
                scopes,
                delegation,
            } => (provider.as_str(), scopes.as_slice(), delegation),
        };
        self.trace.pass(Stage::Rule, || {
            format!("rule #{index} requires a token from provider '{name}'")
        });
        let Some(provider) = config.providers.get(name) else {
            // Config::parse refuses rules naming unknown providers; fail closed if one slips through.
            return Err(self.deny(VerifyError::JwksUnavailable {
                provider: name.to_owned(),
            }));
        };
        let route = Route {
            name,
            provider,
            scopes,
            delegation,
        };
        // Stage: token.
        let Some(token) = request.authorization.and_then(bearer_token) else {
            return Err(self.deny(VerifyError::TokenMissing));
        };
        self.trace
            .pass(Stage::Token, || "a bearer token is present".to_string());
        // Stages: header, keys, signature, claims.
        let caller = self.authenticate(&route, token)?;
        for check in checks::<K, T>() {
            check(self, &route, &caller)?;
        }
        Ok(Decision::Allow {
            identity: Some(caller.identity),
            strip_authorization: !provider.forward,
        })
    }

    /// The caller behind `token`: from the cache, or verified in full (and then cached).
    fn authenticate(&mut self, route: &Route<'_>, token: &str) -> Result<Caller, Halt> {
        let digest = self
            .cache
            .as_ref()
            .map(|_| TokenCache::digest(route.name, token));
        let hit = match (&mut self.cache, &digest) {
            (Some(cache), Some(digest)) => {
                let hit = cache.get(digest, self.now).map(|e| {
                    let caller = Caller {
                        identity: Arc::clone(&e.identity),
                        kid: None,
                        iat: e.lifetime.iat,
                        jti: e.jti.clone(),
                    };
                    (caller, e.lifetime)
                });
                cache.count(hit.is_some());
                hit
            }
            _ => None,
        };
        if let Some((caller, lifetime)) = hit {
            // A hit skips the signature, never the time, the route or the revocation feed: a
            // token cached on a read route must not pass a write route, and none passes after
            // its exp or once revoked.
            if let Err(error) = lifetime.validate(route.provider, self.now) {
                return Err(self.deny_as(error, caller.facts()));
            }
            self.trace.pass(Stage::Signature, || {
                "verified earlier: the token cache remembers it".to_string()
            });
            return Ok(caller);
        }
        let verified = self.verify(route, token)?;
        let lifetime = verified.claims.lifetime();
        // The kid the token named (not the key's): what the denial's log line reports.
        let kid = verified.header.kid.clone();
        let jti = route
            .provider
            .revocations
            .as_ref()
            .and(verified.claims.jti.clone());
        let identity = Arc::new(Identity::from_claims(verified.claims));
        // Cached before the feed is consulted: what is cached is the verification, and every
        // hit consults the feed again (so a request that waits for the first feed is not
        // verified twice).
        if let (Some(cache), Some(digest)) = (&mut self.cache, digest) {
            let entry = CachedToken {
                provider: route.name.to_owned(),
                identity: Arc::clone(&identity),
                lifetime,
                dead_at: lifetime.dead_at(route.provider.clock_skew_seconds),
                jti: jti.clone(),
            };
            cache.insert(digest, entry, self.now);
        }
        Ok(Caller {
            identity,
            kid,
            iat: lifetime.iat,
            jti,
        })
    }

    /// Verifies `token` in full: header, keys, signature, claims.
    fn verify(&mut self, route: &Route<'_>, token: &str) -> Result<Verified, Halt> {
        let provider = route.provider;
        let unverified = Unverified::parse(token, provider).map_err(|error| self.deny(error))?;
        self.trace.pass(Stage::Header, || {
            format!(
                "alg {}, typ {}, kid {}",
                unverified.alg.name(),
                shown(unverified.header.typ.as_deref()),
                shown(unverified.header.kid.as_deref())
            )
        });
        let jwks = match self.keys.state(route.name) {
            KeyState::Ready(jwks) => jwks,
            KeyState::Pending => return Err(wait(route, Awaiting::Keys)),
            KeyState::Unavailable => {
                return Err(self.deny(VerifyError::JwksUnavailable {
                    provider: route.name.to_owned(),
                }));
            }
        };
        self.trace.pass(Stage::Keys, || {
            let kid = unverified.header.kid.as_deref();
            format!(
                "{} key(s) for {} with kid {} among {} published",
                jwks.candidates(kid, unverified.alg).count(),
                unverified.alg.name(),
                shown(kid),
                jwks.keys.len()
            )
        });
        // The header's kid, for the denial's log line (the claims are only trusted once the
        // signature holds).
        let kid = unverified.header.kid.clone();
        match unverified.verify_reporting(provider, jwks, self.now) {
            Ok(verified) => {
                self.trace.pass(Stage::Signature, || {
                    format!(
                        "verified with {} key {}",
                        verified.alg.name(),
                        shown(verified.kid.as_deref())
                    )
                });
                let now = self.now;
                self.trace
                    .pass(Stage::Claims, || claims_detail(provider, &verified, now));
                Ok(verified)
            }
            // A key rotated in at the issuer after our last fetch: wait for fresh keys once.
            Err(Failure {
                error: VerifyError::KidUnknown { .. },
                ..
            }) if self.keys.may_refetch(route.name, self.now) => Err(wait(route, Awaiting::Keys)),
            Err(failure) => {
                let claims = failure.claims.as_deref();
                let facts = TokenFacts::new(
                    kid.as_deref(),
                    claims.and_then(|c| c.iss.as_deref()),
                    claims.and_then(|c| c.sub.as_deref()),
                );
                Err(self.deny_as(failure.error, facts))
            }
        }
    }

    fn deny(&self, error: VerifyError) -> Halt {
        self.deny_as(error, TokenFacts::default())
    }

    fn deny_as(&self, error: VerifyError, facts: TokenFacts) -> Halt {
        Halt::new(Decision::Deny(
            Denial::new(error, &self.config.realm).with_facts(facts),
        ))
    }
}

/// Holds the request for what `route`'s provider does not have yet.
fn wait(route: &Route<'_>, awaiting: Awaiting) -> Halt {
    Halt::new(Decision::Wait {
        provider: route.name.to_owned(),
        awaiting,
    })
}

/// Check: the provider's revocation feed lists neither the token nor its client. Only a token
/// whose signature and claims verified gets here: a forged one never learns from a 401 whether
/// its jti or client is revoked, nor waits for the feed.
fn revocation<K: Keys, T: Trace>(
    run: &mut Run<'_, K, T>,
    route: &Route<'_>,
    caller: &Caller,
) -> Result<(), Halt> {
    if route.provider.revocations.is_none() {
        return Ok(());
    }
    let feed = match run.keys.revocations(route.name) {
        FeedState::Ready(feed) => feed,
        FeedState::Pending => return Err(wait(route, Awaiting::Revocations)),
        FeedState::Unavailable => {
            return Err(run.deny(VerifyError::RevocationsUnavailable {
                provider: route.name.to_owned(),
            }));
        }
    };
    let token = TokenRef {
        jti: caller.jti.as_deref(),
        client: caller.identity.revocation_client(),
        iat: caller.iat,
    };
    let identity = &caller.identity;
    let revoked = feed.check(&token).or_else(|| {
        let delegation = identity.delegation.as_ref()?;
        feed.check_chain(
            &identity.subject,
            delegation.ancestors.iter().map(String::as_str),
            delegation.actors.iter().map(|a| a.sub.as_str()),
            caller.iat,
        )
    });
    if let Some(revoked) = revoked {
        let error = VerifyError::TokenRevoked {
            reason: revoked.reason(),
        };
        return Err(run.deny_as(error, caller.facts()));
    }
    run.trace
        .pass(Stage::Revocation, || match &identity.delegation {
            None => "neither the token's jti nor its client is on the revocation list".to_string(),
            Some(d) => format!(
                "neither the token's jti, nor its client, nor any of the {} token(s) it was \
             exchanged from, nor any agent of its chain or its principal is on the revocation list",
                d.ancestors.len()
            ),
        });
    Ok(())
}

/// Check: a delegated token is accepted by its provider and rule (no loop, depth, actors), and
/// the principal is a person where the rule requires one.
fn delegation<K: Keys, T: Trace>(
    run: &mut Run<'_, K, T>,
    route: &Route<'_>,
    caller: &Caller,
) -> Result<(), Halt> {
    let identity = &caller.identity;
    let admitted = delegation::admit(
        &identity.subject,
        identity.profile.as_deref(),
        identity.delegation.as_ref(),
        route.provider.delegation.as_ref(),
        route.delegation,
    )
    .map_err(|error| run.deny_as(error, caller.facts()))?;
    run.trace.pass(Stage::Delegation, || match admitted {
        Admitted::Direct => format!(
            "not delegated: '{}' calls for itself{}",
            Untrusted(&identity.subject),
            if route.delegation.human_root {
                " (a person, as the rule requires)"
            } else {
                ""
            }
        ),
        Admitted::Delegated { depth, max } => {
            let chain = identity
                .delegation
                .as_ref()
                .map_or_else(String::new, |d| Untrusted(&d.chain).to_string());
            format!(
                "'{}' acts for '{}' through {depth} actor(s) [{chain}], at most {max} accepted; \
                 no actor repeats{}",
                Untrusted(identity.delegation.as_ref().map_or("", |d| d.current())),
                Untrusted(&identity.subject),
                if route.delegation.actors.is_empty() {
                    String::new()
                } else {
                    format!("; the actor matches {}", route.delegation.actors.join(" "))
                }
            )
        }
    });
    Ok(())
}

/// Check: the caller holds every scope the rule requires.
fn scopes<K: Keys, T: Trace>(
    run: &mut Run<'_, K, T>,
    route: &Route<'_>,
    caller: &Caller,
) -> Result<(), Halt> {
    let missing: Vec<String> = route
        .scopes
        .iter()
        .filter(|s| !scope::covered_by(caller.identity.scopes(), s))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(run.deny_as(VerifyError::InsufficientScope { missing }, caller.facts()));
    }
    run.trace.pass(Stage::Scopes, || {
        if route.scopes.is_empty() {
            return "the rule requires no scope".to_string();
        }
        let held: Vec<&str> = caller.identity.scopes().collect();
        format!(
            "requires {}; the token holds {}",
            route.scopes.join(" "),
            if held.is_empty() {
                "none".to_string()
            } else {
                held.join(" ")
            }
        )
    });
    Ok(())
}

/// The claims step's detail: whose, for whom, until when.
fn claims_detail(provider: &Provider, verified: &Verified, now: u64) -> String {
    let claims = &verified.claims;
    let expires = claims.exp - now as f64;
    let when = if expires >= 0.0 {
        format!("expires in {}s", expires as i64)
    } else {
        format!(
            "expired {}s ago, within the {}s clock skew",
            (-expires) as i64,
            provider.clock_skew_seconds
        )
    };
    format!(
        "issuer {} trusted, audience accepted, {when}",
        shown(claims.iss.as_deref())
    )
}

/// An untrusted optional value for a detail line.
fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "(none)".to_string(), |v| format!("'{}'", Untrusted(v)))
}
