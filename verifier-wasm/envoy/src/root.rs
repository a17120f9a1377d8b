//! The root context: configuration, JWKS fetching on a timer, and waking waiting requests.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, MapType};
use verifier_core::limits::MAX_JWKS_BYTES;
use verifier_core::{Config, Denial, Jwks, VerifyError};

use crate::host;
use crate::http::{self, Http, Outcome};
use crate::state::State;

/// How often the timer runs: fetch schedule and waiting deadlines are checked this often.
const TICK: Duration = Duration::from_millis(200);

/// The root context of one worker VM.
#[derive(Default)]
pub(crate) struct Root {
    state: Rc<RefCell<State>>,
}

impl Root {
    /// Starts every fetch that is due.
    fn fetch_due(&self, now_ms: u64) {
        let mut guard = self.state.borrow_mut();
        let state = &mut *guard;
        let Some(config) = state.config.clone() else {
            return;
        };
        for (name, remote) in config.remote_providers() {
            let Some(refresh) = state.remotes.get_mut(name) else {
                continue;
            };
            if !refresh.poll_fetch(now_ms) {
                continue;
            }
            let timeout = Duration::from_millis(remote.timeout_ms);
            match host::dispatch_get(&remote.cluster, &remote.authority, &remote.path, timeout) {
                Some(token) => {
                    state.calls.insert(token, name.to_owned());
                }
                None => refresh.on_dispatch_failed(now_ms),
            }
        }
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
                    http::respond(&Denial::new(error, &config.realm), "", "");
                    continue;
                }
                http::process(&state, now_ms)
            };
            match outcome {
                Outcome::Continue => host::resume_request(),
                Outcome::Responded => {}
                Outcome::Wait(_) => still.push(w),
            }
        }
        self.state.borrow_mut().waiting.extend(still);
    }

    /// Reads a finished JWKS call: the keys, or why there are none.
    fn read_jwks(headers: usize, body_size: usize) -> Result<Jwks, String> {
        // A reset or timed-out call has no response at all; reading its headers would make the
        // host return BadArgument, on which the SDK panics and takes the VM down.
        if headers == 0 {
            return Err("no response (connection failed, reset or timed out)".into());
        }
        let status = hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
            .unwrap_or_default();
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
        Jwks::parse(&body).map_err(|e| e.to_string())
    }
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let now_ms = host::now_ms();
        let Some(provider) = self.state.borrow_mut().calls.remove(&token_id) else {
            return;
        };
        let result = Self::read_jwks(headers, body_size);
        {
            let mut guard = self.state.borrow_mut();
            let state = &mut *guard;
            let Some(refresh) = state.remotes.get_mut(&provider) else {
                return;
            };
            match result {
                Ok(jwks) => {
                    log::info!(
                        "verifier: provider {provider}: loaded {} keys ({} skipped)",
                        jwks.keys.len(),
                        jwks.skipped.len()
                    );
                    for skipped in &jwks.skipped {
                        log::warn!(
                            "verifier: provider {provider}: skipped key {:?}: {}",
                            skipped.kid,
                            skipped.reason
                        );
                    }
                    if refresh.on_success(now_ms, jwks) {
                        // A key that left the set must not keep vouching for cached tokens.
                        state.cache.borrow_mut().clear_provider(&provider);
                    }
                }
                Err(reason) => {
                    refresh.on_failure(now_ms);
                    log::warn!(
                        "verifier: provider {provider}: JWKS fetch failed ({} in a row): {reason}",
                        refresh.failures()
                    );
                }
            }
        }
        self.wake(now_ms);
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        match Config::parse(&bytes) {
            Ok(config) => {
                self.state.borrow_mut().configure(config);
                if let Err(status) = hostcalls::set_tick_period(TICK) {
                    log::error!("verifier: could not start the timer: {status:?}");
                    return false;
                }
                self.fetch_due(host::now_ms());
                true
            }
            Err(error) => {
                // Envoy refuses the filter when this returns false; the log line says why.
                log::error!("verifier: {error}");
                false
            }
        }
    }

    fn on_tick(&mut self) {
        let now_ms = host::now_ms();
        self.fetch_due(now_ms);
        self.state
            .borrow()
            .cache
            .borrow_mut()
            .purge_expired(now_ms / 1000);
        if !self.state.borrow().waiting.is_empty() {
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
