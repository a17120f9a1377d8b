//! The root context: configuration, the shared JWKS and revocation feed schedules on a timer,
//! and waking waiting requests.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType};
use verifier_core::RevocationFeed;
use verifier_core::limits::MAX_JWKS_BYTES;
use verifier_core::{Config, Denial, Jwks, Provider, Revocations};
use verifier_core::{Freshness, RefreshPolicy, max_age};

use crate::host;
use crate::http::{self, Http, Outcome};
use crate::metrics::{self, Metrics};
use crate::shared::Endpoint;
use crate::state::{Call, Feed, Remote, State, Waiting};

/// How often the timer runs: the shared schedule, stale keys and waiting deadlines are checked
/// this often, so it bounds how long a request on another worker waits for keys one worker
/// fetched.
const TICK: Duration = Duration::from_millis(100);

/// A JWKS response that could be used.
struct Fetched {
    jwks: Jwks,
    body: Vec<u8>,
    max_age: Option<u64>,
}

/// A revocation feed response that could be used: the parsed feed and the bytes to share.
struct FetchedFeed {
    feed: Revocations,
    body: Vec<u8>,
}

/// Where a document is fetched from.
struct Target<'a> {
    cluster: &'a str,
    authority: &'a str,
    path: &'a str,
    accept: &'a str,
    timeout_ms: u64,
}

/// The root context of one VM.
#[derive(Default)]
pub(crate) struct Root {
    state: Rc<RefCell<State>>,
}

impl Root {
    /// Reads every remote provider's shared schedule, adopts new keys, drops expired ones and
    /// starts the fetches this VM wins the lease for. True if a waiting request may now be
    /// decided differently.
    fn sync(&self, now_ms: u64, may_fetch: bool) -> bool {
        let mut guard = self.state.borrow_mut();
        let state = &mut *guard;
        let Some(config) = state.config.clone() else {
            return false;
        };
        let mut wake = false;
        for (name, remote_config) in config.remote_providers() {
            let Some(remote) = state.remotes.get_mut(name) else {
                continue;
            };
            wake |= sync_one(name, remote, &state.cache, &state.metrics, now_ms);
            if !may_fetch {
                continue;
            }
            let target = Target {
                cluster: &remote_config.target.cluster,
                authority: &remote_config.target.authority,
                path: &remote_config.target.path,
                accept: "application/jwk-set+json, application/json",
                timeout_ms: remote_config.target.timeout_ms,
            };
            let policy = *remote.keys.policy();
            if let Some(token) =
                start_fetch(&remote.endpoint, &policy, state.vm_id, now_ms, &target)
            {
                log::debug!("verifier: fetching the JWKS of {name} (call {token})");
                state.calls.insert(token, Call::Jwks(name.to_owned()));
                let metric = format!("jwks.{}.fetches", metrics::segment(name));
                state.metrics.borrow_mut().add(&metric, 1);
            }
        }
        for (provider, feed_config) in config.revocation_feeds() {
            let name = provider.name.as_str();
            let Some(feed) = state.feeds.get_mut(name) else {
                continue;
            };
            wake |= sync_feed(provider, feed_config, feed, &state.metrics, now_ms);
            if !may_fetch {
                continue;
            }
            let target = Target {
                cluster: &feed_config.target.cluster,
                authority: &feed_config.target.authority,
                path: &feed_config.target.path,
                accept: "application/json",
                timeout_ms: feed_config.target.timeout_ms,
            };
            let policy = *feed.feed.policy();
            if let Some(token) = start_fetch(&feed.endpoint, &policy, state.vm_id, now_ms, &target)
            {
                log::debug!("verifier: fetching the revocation feed of {name} (call {token})");
                state
                    .calls
                    .insert(token, Call::Revocations(name.to_owned()));
                let metric = format!("revocations.{}.fetches", metrics::segment(name));
                state.metrics.borrow_mut().add(&metric, 1);
            }
        }
        wake
    }

    /// Re-decides every waiting request whose provider's key state may have changed.
    fn wake(&self, now_ms: u64) {
        let waiting = std::mem::take(&mut self.state.borrow_mut().waiting);
        let mut still = Vec::new();
        for w in waiting {
            if !host::enter_context(w.context_id) {
                continue; // the stream is gone
            }
            // The borrow ends before the request resumes: Envoy may call back into this VM from
            // inside resume_http_request.
            let outcome = {
                let state = self.state.borrow();
                if now_ms >= w.deadline_ms {
                    let Some(config) = state.config.as_ref() else {
                        continue;
                    };
                    let error = w.awaiting.unavailable(&w.provider);
                    state.metrics.borrow_mut().denied(error.code());
                    http::respond(&Denial::new(error, &config.realm), "", "");
                    continue;
                }
                http::process(&state, host::now_ns())
            };
            match outcome {
                Outcome::Continue => host::resume_request(),
                Outcome::Responded => {}
                // Still waiting, perhaps for another reason than before: a request that waited
                // for a VM's first keys may now wait for a kid those keys lack, or for the feed.
                Outcome::Wait(provider, awaiting) => {
                    http::request_fetch(&mut self.state.borrow_mut(), &provider, awaiting, now_ms);
                    still.push(Waiting {
                        provider,
                        awaiting,
                        ..w
                    });
                }
            }
        }
        self.state.borrow_mut().waiting.extend(still);
    }

    /// Reads a finished JWKS call: the keys, or why there are none.
    fn read_jwks(headers: usize, body_size: usize) -> Result<Fetched, String> {
        let body = read_body(headers, body_size, MAX_JWKS_BYTES)?;
        let jwks = Jwks::parse(&body).map_err(|e| e.to_string())?;
        for skipped in &jwks.skipped {
            log::warn!(
                "verifier: JWKS key {:?} skipped: {}",
                skipped.kid,
                skipped.reason
            );
        }
        let max_age = host::call_response_header("cache-control")
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| max_age(&v));
        Ok(Fetched {
            jwks,
            body,
            max_age,
        })
    }

    /// Reads a finished revocation feed call: the feed, or why there is none.
    fn read_feed(
        provider: &Provider,
        feed: &RevocationFeed,
        headers: usize,
        body_size: usize,
    ) -> Result<FetchedFeed, String> {
        let body = read_body(headers, body_size, feed.max_bytes)?;
        let parsed = Revocations::parse(&body, &provider.issuer, feed.max_bytes)
            .map_err(|e| format!("{} ({})", e, e.code()))?;
        Ok(FetchedFeed { feed: parsed, body })
    }

    /// Records the outcome of this VM's feed fetch in the shared schedule. A failure keeps the
    /// last good feed (until it is too old); a feed whose entries did not change keeps its
    /// generation, so the other VMs do not parse it again.
    fn complete_feed_fetch(
        &self,
        provider: &str,
        result: Result<FetchedFeed, String>,
        now_ms: u64,
    ) {
        let state = self.state.borrow();
        let Some(feed) = state.feeds.get(provider) else {
            return;
        };
        let policy = *feed.feed.policy();
        let segment = metrics::segment(provider);
        let stored = result.and_then(|fetched| {
            let schedule = feed.endpoint.schedule();
            // The issuer's generated_at changes on every fetch; only the entries matter. This
            // VM's own copy is the stored generation when it has loaded it.
            let changed =
                if schedule.generation != 0 && feed.feed.generation() == schedule.generation {
                    feed.feed.document() != Some(&fetched.feed)
                } else {
                    feed.endpoint.document().as_deref() != Some(&fetched.body[..])
                };
            // The document is stored before the schedule announces it, so a VM that sees the
            // new generation finds the new document.
            if changed && !feed.endpoint.store_document(&fetched.body) {
                return Err("could not share the feed with the other VMs".to_owned());
            }
            let _ = feed.endpoint.update(|s| {
                s.on_success(now_ms, None, changed, &policy);
                true
            });
            Ok((fetched.feed, changed))
        });
        match stored {
            Ok((fetched, changed)) => {
                let line = format!(
                    "verifier: provider {provider}: fetched the revocation feed ({} tokens, {} \
                     clients), {}",
                    fetched.tokens(),
                    fetched.clients(),
                    if changed { "changed" } else { "unchanged" }
                );
                // Fetched every few seconds: only a change is worth an info line.
                if changed {
                    log::info!("{line}");
                } else {
                    log::debug!("{line}");
                }
            }
            Err(reason) => {
                let stored = feed.endpoint.update(|s| {
                    s.on_failure(now_ms, &policy);
                    true
                });
                let failures = stored.map_or(0, |s| s.failures);
                state
                    .metrics
                    .borrow_mut()
                    .add(&format!("revocations.{segment}.fetch_failures"), 1);
                log::warn!(
                    "verifier: provider {provider}: revocation feed fetch failed ({failures} in a \
                     row): {reason}"
                );
            }
        }
    }

    /// Records the outcome of this VM's fetch in the shared schedule.
    fn complete_fetch(&self, provider: &str, result: Result<Fetched, String>, now_ms: u64) {
        let state = self.state.borrow();
        let Some(remote) = state.remotes.get(provider) else {
            return;
        };
        let policy = *remote.keys.policy();
        let segment = metrics::segment(provider);
        match result {
            Ok(fetched) => {
                let changed = remote.endpoint.document().as_deref() != Some(&fetched.body[..]);
                // The document is stored before the schedule announces it, so a VM that sees
                // the new generation finds the new document.
                if changed && !remote.endpoint.store_document(&fetched.body) {
                    return;
                }
                let _ = remote.endpoint.update(|s| {
                    s.on_success(now_ms, fetched.max_age, changed, &policy);
                    true
                });
                log::info!(
                    "verifier: provider {provider}: fetched {} keys ({} skipped){}{}",
                    fetched.jwks.keys.len(),
                    fetched.jwks.skipped.len(),
                    if changed { ", changed" } else { ", unchanged" },
                    fetched
                        .max_age
                        .map(|a| format!(", max-age {a}s"))
                        .unwrap_or_default()
                );
            }
            Err(reason) => {
                let stored = remote.endpoint.update(|s| {
                    s.on_failure(now_ms, &policy);
                    true
                });
                let failures = stored.map_or(0, |s| s.failures);
                state
                    .metrics
                    .borrow_mut()
                    .add(&format!("jwks.{segment}.fetch_failures"), 1);
                log::warn!(
                    "verifier: provider {provider}: JWKS fetch failed ({failures} in a row): {reason}"
                );
            }
        }
    }
}

/// Takes the lease on `endpoint`'s schedule for `vm` if a fetch is due, and starts it. The call's
/// token when this VM is now fetching.
fn start_fetch(
    endpoint: &Endpoint,
    policy: &RefreshPolicy,
    vm: u64,
    now_ms: u64,
    target: &Target<'_>,
) -> Option<u32> {
    endpoint.update(|s| s.take_lease(vm, now_ms, policy))?;
    // Envoy has no atomic create: when two VMs created the schedule at once, the last writer
    // holds the lease. Only it fetches.
    if endpoint.schedule().lease_owner != vm {
        return None;
    }
    let timeout = Duration::from_millis(target.timeout_ms);
    let token = host::dispatch_get(
        target.cluster,
        target.authority,
        target.path,
        target.accept,
        timeout,
    );
    if token.is_none() {
        let _ = endpoint.update(|s| {
            let mine = s.lease_owner == vm;
            if mine {
                s.on_dispatch_failed(now_ms);
            }
            mine
        });
    }
    token
}

/// Reads a finished call's 200 body of at most `max_bytes`, or says why it cannot be used.
fn read_body(headers: usize, body_size: usize, max_bytes: usize) -> Result<Vec<u8>, String> {
    // A reset or timed-out call has no response at all; reading its headers would make the
    // host return BadArgument, on which the SDK panics and takes the VM down.
    if headers == 0 {
        return Err("no response (connection failed, reset or timed out)".into());
    }
    let status = host::call_response_header(":status").unwrap_or_default();
    if status != b"200" {
        return Err(format!("status {}", String::from_utf8_lossy(&status)));
    }
    if body_size > max_bytes {
        return Err(format!("body of {body_size} bytes exceeds {max_bytes}"));
    }
    Ok(
        hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default(),
    )
}

/// Brings one provider's feed up to date with the shared schedule. True if worth waking.
fn sync_feed(
    provider: &Provider,
    config: &RevocationFeed,
    feed: &mut Feed,
    metrics: &RefCell<Metrics>,
    now_ms: u64,
) -> bool {
    let name = provider.name.as_str();
    let schedule = feed.endpoint.schedule();
    let document = if feed.feed.needs_document(&schedule, now_ms) {
        feed.endpoint.document().and_then(|bytes| {
            match Revocations::parse(&bytes, &provider.issuer, config.max_bytes) {
                Ok(parsed) => Some(parsed),
                Err(error) => {
                    log::error!(
                        "verifier: provider {name}: stored revocation feed unusable: {error}"
                    );
                    None
                }
            }
        })
    } else {
        None
    };
    let outcome = feed.feed.sync(schedule, document, now_ms);
    let segment = metrics::segment(name);
    let mut metrics = metrics.borrow_mut();
    if outcome.keys_changed {
        let entries = feed.feed.document().map_or(0, Revocations::len);
        metrics.set(&format!("revocations.{segment}.entries"), entries as u64);
        log::debug!("verifier: provider {name}: now using a revocation feed of {entries} entries");
    }
    report_freshness(
        &FEED_FRESHNESS,
        name,
        &segment,
        feed.feed.freshness(),
        &mut feed.reported,
        feed.feed.policy().max_stale_ms,
        &mut metrics,
    );
    outcome.wake
}

/// Brings one provider's view up to date with the shared schedule. True if worth waking.
fn sync_one(
    name: &str,
    remote: &mut Remote,
    cache: &RefCell<verifier_core::TokenCache>,
    metrics: &RefCell<Metrics>,
    now_ms: u64,
) -> bool {
    let schedule = remote.endpoint.schedule();
    let document = if remote.keys.needs_document(&schedule, now_ms) {
        remote
            .endpoint
            .document()
            .and_then(|bytes| match Jwks::parse(&bytes) {
                Ok(jwks) => Some(jwks),
                Err(error) => {
                    log::error!("verifier: provider {name}: stored JWKS unusable: {error}");
                    None
                }
            })
    } else {
        None
    };
    let outcome = remote.keys.sync(schedule, document, now_ms);
    let segment = metrics::segment(name);
    let mut metrics = metrics.borrow_mut();
    if outcome.keys_changed {
        // A key that left the set must not keep vouching for cached tokens.
        cache.borrow_mut().clear_provider(name);
        let count = remote.keys.keys().map_or(0, |k| k.keys.len());
        metrics.set(&format!("jwks.{segment}.keys"), count as u64);
        log::info!("verifier: provider {name}: now using {count} keys");
    }
    report_freshness(
        &JWKS_FRESHNESS,
        name,
        &segment,
        remote.keys.freshness(),
        &mut remote.reported,
        remote.keys.policy().max_stale_ms,
        &mut metrics,
    );
    outcome.wake
}

/// What a shared document's freshness changes are called in logs and metrics.
struct FreshnessWords {
    /// Metric prefix: `jwks` or `revocations`.
    metric: &'static str,
    /// Logged when the stale period starts.
    stale: &'static str,
    /// Logged when the stale period runs out.
    expired: &'static str,
    /// Logged when fetches succeed again.
    fresh: &'static str,
}

const JWKS_FRESHNESS: FreshnessWords = FreshnessWords {
    metric: "jwks",
    stale: "JWKS endpoint failing; serving the last good keys",
    expired: "keys expired after the stale period; refusing its tokens (503) until a fetch succeeds",
    fresh: "JWKS fresh again",
};

const FEED_FRESHNESS: FreshnessWords = FreshnessWords {
    metric: "revocations",
    stale: "revocation feed endpoint failing; serving the last good feed",
    expired: "revocation feed older than max_stale_seconds; refusing its tokens (503) until a \
              fetch succeeds",
    fresh: "revocation feed fresh again",
};

/// Logs and counts a change of a provider's document freshness, once per change: the stale
/// gauge, the expired counter, and a line when a stale period starts, runs out or ends.
fn report_freshness(
    words: &FreshnessWords,
    name: &str,
    segment: &str,
    freshness: Freshness,
    reported: &mut Freshness,
    max_stale_ms: u64,
    metrics: &mut Metrics,
) {
    if freshness == *reported {
        return;
    }
    match freshness {
        Freshness::Stale => log::warn!(
            "verifier: provider {name}: {} for at most {} s more",
            words.stale,
            max_stale_ms / 1000
        ),
        Freshness::Expired => log::error!("verifier: provider {name}: {}", words.expired),
        Freshness::Fresh if *reported != Freshness::Missing => {
            log::info!("verifier: provider {name}: {}", words.fresh);
        }
        _ => {}
    }
    let metric = words.metric;
    metrics.set(
        &format!("{metric}.{segment}.stale"),
        u64::from(freshness == Freshness::Stale),
    );
    if freshness == Freshness::Expired {
        metrics.add(&format!("{metric}.{segment}.expired"), 1);
    }
    *reported = freshness;
}

impl Context for Root {
    fn on_done(&mut self) -> bool {
        // The VM is going away: hand any lease back, so another VM fetches without waiting for
        // the lease to lapse.
        let now_ms = host::now_ms();
        let state = self.state.borrow();
        let endpoints = state.remotes.values().map(|r| &r.endpoint);
        for endpoint in endpoints.chain(state.feeds.values().map(|f| &f.endpoint)) {
            let _ = endpoint.update(|s| {
                let mine = s.lease_owner == state.vm_id && s.fetching(now_ms);
                if mine {
                    s.on_dispatch_failed(now_ms);
                }
                mine
            });
        }
        true
    }

    fn on_http_call_response(
        &mut self,
        token_id: u32,
        headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let now_ms = host::now_ms();
        log::debug!(
            "verifier: vm {:x}: call {token_id} answered",
            self.state.borrow().vm_id
        );
        let Some(call) = self.state.borrow_mut().calls.remove(&token_id) else {
            return;
        };
        match call {
            Call::Jwks(provider) => {
                let result = Self::read_jwks(headers, body_size);
                self.complete_fetch(&provider, result, now_ms);
            }
            Call::Revocations(provider) => {
                let config = self.state.borrow().config.clone();
                let Some(config) = config else {
                    return;
                };
                let Some((provider, feed)) = config
                    .providers
                    .get(&provider)
                    .and_then(|p| Some((p, p.revocations.as_ref()?)))
                else {
                    return;
                };
                let result = Self::read_feed(provider, feed, headers, body_size);
                self.complete_feed_fetch(&provider.name, result, now_ms);
            }
        }
        // This VM's own waiting requests need not wait for the next tick.
        let _ = self.sync(now_ms, false);
        self.wake(now_ms);
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        let config = match Config::parse(&bytes) {
            Ok(config) => config,
            Err(error) => {
                // Envoy refuses the filter when this returns false; the log line says why.
                log::error!("verifier: {error}");
                return false;
            }
        };
        let vm_id = match getrandom::u64() {
            Ok(id) => id.max(1),
            Err(error) => {
                log::error!("verifier: no randomness for the VM id: {error}");
                return false;
            }
        };
        self.state.borrow_mut().configure(config, vm_id);
        if let Err(status) = hostcalls::set_tick_period(TICK) {
            log::error!("verifier: could not start the timer: {status:?}");
            return false;
        }
        // Adopt keys another VM already fetched, but leave fetching to the timer: Envoy also
        // configures short-lived VMs (on the main thread, to validate the configuration), and
        // a fetch they start dies with them and holds the lease until it times out.
        let _ = self.sync(host::now_ms(), false);
        true
    }

    fn on_tick(&mut self) {
        let now_ms = host::now_ms();
        let wake = self.sync(now_ms, true);
        {
            let state = self.state.borrow();
            let mut cache = state.cache.borrow_mut();
            cache.purge_expired(now_ms / 1000);
            let mut metrics = state.metrics.borrow_mut();
            metrics.flush(cache.stats());
            metrics.set("vm_memory_bytes", metrics::vm_memory_bytes());
        }
        if wake || !self.state.borrow().waiting.is_empty() {
            self.wake(now_ms);
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http {
            context_id,
            state: Rc::clone(&self.state),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
