//! The root context: configuration, the shared JWKS schedule on a timer, and waking waiting
//! requests.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType};
use verifier_core::limits::MAX_JWKS_BYTES;
use verifier_core::refresh::{Freshness, max_age};
use verifier_core::{Config, Denial, Jwks, VerifyError};

use crate::host;
use crate::http::{self, Http, Outcome};
use crate::metrics::{self, Metrics};
use crate::state::{Remote, State};

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
            let vm = state.vm_id;
            let policy = *remote.keys.policy();
            if remote
                .endpoint
                .update(|s| s.take_lease(vm, now_ms, &policy))
                .is_none()
            {
                continue;
            }
            // Envoy has no atomic create: when two VMs created the schedule at once, the last
            // writer holds the lease. Only it fetches.
            if remote.endpoint.schedule().lease_owner != vm {
                continue;
            }
            let timeout = Duration::from_millis(remote_config.timeout_ms);
            match host::dispatch_get(
                &remote_config.cluster,
                &remote_config.authority,
                &remote_config.path,
                timeout,
            ) {
                Some(token) => {
                    log::debug!("verifier: vm {vm:x} fetching the JWKS of {name} (call {token})");
                    state.calls.insert(token, name.to_owned());
                    let metric = format!("jwks.{}.fetches", metrics::segment(name));
                    state.metrics.borrow_mut().add(&metric, 1);
                }
                None => {
                    let _ = remote.endpoint.update(|s| {
                        let mine = s.lease_owner == vm;
                        if mine {
                            s.on_dispatch_failed(now_ms);
                        }
                        mine
                    });
                }
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
                    let error = VerifyError::JwksUnavailable {
                        provider: w.provider.clone(),
                    };
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
                // for a VM's first keys may now wait for a kid those keys lack.
                Outcome::Wait(provider) => {
                    http::request_fetch(&mut self.state.borrow_mut(), &provider, now_ms);
                    still.push(w);
                }
            }
        }
        self.state.borrow_mut().waiting.extend(still);
    }

    /// Reads a finished JWKS call: the keys, or why there are none.
    fn read_jwks(headers: usize, body_size: usize) -> Result<Fetched, String> {
        // A reset or timed-out call has no response at all; reading its headers would make the
        // host return BadArgument, on which the SDK panics and takes the VM down.
        if headers == 0 {
            return Err("no response (connection failed, reset or timed out)".into());
        }
        let status = host::call_response_header(":status").unwrap_or_default();
        if status != b"200" {
            return Err(format!("status {}", String::from_utf8_lossy(&status)));
        }
        if body_size > MAX_JWKS_BYTES {
            return Err(format!(
                "body of {body_size} bytes exceeds {MAX_JWKS_BYTES}"
            ));
        }
        let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default();
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
    let freshness = remote.keys.freshness();
    if freshness != remote.reported {
        match freshness {
            Freshness::Stale => log::warn!(
                "verifier: provider {name}: JWKS endpoint failing; serving the last good keys \
                 for at most {} s more",
                remote.keys.policy().max_stale_ms / 1000
            ),
            Freshness::Expired => log::error!(
                "verifier: provider {name}: keys expired after the stale period; refusing its \
                 tokens (503) until a fetch succeeds"
            ),
            Freshness::Fresh if remote.reported != Freshness::Missing => {
                log::info!("verifier: provider {name}: JWKS fresh again");
            }
            _ => {}
        }
        metrics.set(
            &format!("jwks.{segment}.stale"),
            u64::from(freshness == Freshness::Stale),
        );
        if freshness == Freshness::Expired {
            metrics.add(&format!("jwks.{segment}.expired"), 1);
        }
        remote.reported = freshness;
    }
    outcome.wake
}

impl Context for Root {
    fn on_done(&mut self) -> bool {
        // The VM is going away: hand any lease back, so another VM fetches without waiting for
        // the lease to lapse.
        let now_ms = host::now_ms();
        let state = self.state.borrow();
        for remote in state.remotes.values() {
            let _ = remote.endpoint.update(|s| {
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
            "verifier: vm {:x}: JWKS call {token_id} answered",
            self.state.borrow().vm_id
        );
        let Some(provider) = self.state.borrow_mut().calls.remove(&token_id) else {
            return;
        };
        let result = Self::read_jwks(headers, body_size);
        self.complete_fetch(&provider, result, now_ms);
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
