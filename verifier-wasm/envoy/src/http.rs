//! Per-request work: read the request, ask the core, apply its decision.

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use verifier_core::IDENTITY_HEADERS;
use verifier_core::{Awaiting, Decision, Denial, Request, VerifyError};

use crate::head::{self, RequestHead};
use crate::host;
use crate::profile::{self, Step};
use crate::state::{State, Waiting};

/// What became of a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Headers rewritten; let it continue.
    Continue,
    /// Answered locally.
    Responded,
    /// Must wait for the named provider's keys or revocation feed.
    Wait(String, Awaiting),
}

/// The filter instance for one HTTP stream.
pub(crate) struct Http {
    pub(crate) context_id: u32,
    pub(crate) state: Rc<RefCell<State>>,
}

impl Context for Http {}

/// A stream that ends while waiting for keys must not be woken later. On drop (the SDK drops the
/// context when Envoy deletes the stream), not in `on_done`: see [`Root`](crate::root::Root)'s
/// drop. If the state is busy (a callback from inside another host call), the root's wake-up
/// skips gone streams.
impl Drop for Http {
    fn drop(&mut self) {
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.waiting.retain(|w| w.context_id != self.context_id);
        }
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        crate::profile::request(|| self.request_headers())
    }
}

impl Http {
    /// Decides for the request whose headers arrived, or holds it.
    fn request_headers(&mut self) -> Action {
        let now_ns = host::now_ns();
        let now_ms = now_ns / 1_000_000;
        let outcome = process(&self.state.borrow(), now_ns);
        match outcome {
            Outcome::Continue => Action::Continue,
            Outcome::Responded => Action::Pause,
            Outcome::Wait(provider, awaiting) => {
                let mut state = self.state.borrow_mut();
                state.metrics.borrow_mut().waited();
                request_fetch(&mut state, &provider, awaiting, now_ms);
                let wait_ms = state.config.as_ref().map_or(0, |c| c.jwks_wait_ms);
                let deadline_ms = now_ms.saturating_add(wait_ms);
                state.waiting.push(Waiting {
                    context_id: self.context_id,
                    provider,
                    awaiting,
                    deadline_ms,
                });
                Action::Pause
            }
        }
    }
}

/// A request waits for `provider`'s keys: if the provider has keys (so the wait is for an
/// unknown `kid`), make a fetch due for the whole Envoy, once per cooldown; whichever VM's tick
/// comes first fetches. Not from here: a call made from an HTTP context answers to that stream,
/// and dies with it. A provider without keys is waiting for a fetch that is already due, and must
/// not spend the cooldown an unknown `kid` may need later. A wait for the first revocation feed
/// forces nothing either: that fetch is due already too.
pub(crate) fn request_fetch(state: &mut State, provider: &str, awaiting: Awaiting, now_ms: u64) {
    if awaiting != Awaiting::Keys {
        return;
    }
    if let Some(keys) = state
        .documents
        .jwks
        .get_mut(provider)
        .filter(|k| k.view.keys().is_some())
    {
        let policy = *keys.view.policy();
        if let Some(schedule) = keys.endpoint.update(|s| s.force(now_ms, &policy)) {
            let _ = keys.view.sync(schedule, None, now_ms);
        }
    }
}

/// Decides for the request of the current effective context and applies the decision.
pub(crate) fn process(state: &State, started_ns: u64) -> Outcome {
    let now_ms = started_ns / 1_000_000;
    let Some(config) = state.config.as_ref() else {
        // on_configure refused the configuration, so Envoy should not have created this stream;
        // if it did, fail closed.
        host::send_response(
            503,
            vec![("content-type", "application/json")],
            r#"{"error":"temporarily_unavailable","code":"not_configured","message":"the filter has no valid configuration"}"#,
        );
        return Outcome::Responded;
    };
    let head = RequestHead::read();
    let text = |name: &str| head.first(name).and_then(|v| std::str::from_utf8(v).ok());
    let method = text(":method").unwrap_or_default();
    let path = text(":path").unwrap_or_default();
    let authorization = match head.first("authorization").map(std::str::from_utf8) {
        None => None,
        Some(Ok(value)) => Some(value),
        Some(Err(_)) => {
            let error = VerifyError::AuthorizationMalformed {
                reason: "not valid UTF-8",
            };
            state.metrics.borrow_mut().denied(error.code());
            respond(&Denial::new(error, &config.realm), method, path);
            return Outcome::Responded;
        }
    };
    let request = Request {
        method,
        path,
        authorization,
    };
    let (decision, missed) = {
        let mut cache = state.cache.borrow_mut();
        let misses = cache.stats().misses;
        let decision = profile::step(Step::Decide, || {
            profile::decide(config, state, &mut cache, &request, now_ms / 1000)
        });
        (decision, cache.stats().misses != misses)
    };
    let mut metrics = state.metrics.borrow_mut();
    if missed {
        // A token not in the cache was parsed and (unless refused earlier) verified.
        let micros = host::now_ns().saturating_sub(started_ns) / 1_000;
        metrics.record("verify_us", micros);
    }
    match decision {
        Decision::Allow {
            identity,
            strip_authorization,
        } => {
            let added = identity.as_ref().map(|i| i.headers()).unwrap_or_default();
            let mut authorizations = 0;
            let forwarded = profile::step(Step::Rewrite, || {
                head.rewritten(
                    |name| {
                        // The upstream trusts the identity headers, so only this filter may set them.
                        if IDENTITY_HEADERS.iter().any(|h| h.as_bytes() == name) {
                            return true;
                        }
                        // Only the Authorization header the decision was made on goes upstream (any
                        // second one the caller slipped in is dropped), and none when stripped.
                        if name == b"authorization" {
                            authorizations += 1;
                            return strip_authorization || authorizations > 1;
                        }
                        false
                    },
                    &added,
                )
            });
            if let Some(pairs) = forwarded {
                if !head::write(&pairs) {
                    // The request must not reach the upstream with a forged identity or a
                    // token it was told to strip: refuse it rather than forward it unchanged.
                    log::error!("verifier: the host refused the rewritten request headers");
                    metrics.denied("headers_unwritable");
                    host::send_response(
                        503,
                        vec![("content-type", "application/json")],
                        r#"{"error":"temporarily_unavailable","code":"headers_unwritable","message":"the gateway could not write the request's identity headers"}"#,
                    );
                    return Outcome::Responded;
                }
            }
            metrics.allowed();
            Outcome::Continue
        }
        Decision::Deny(denial) => {
            metrics.denied(denial.error.code());
            respond(&denial, method, path);
            Outcome::Responded
        }
        Decision::Wait { provider, awaiting } => Outcome::Wait(provider, awaiting),
    }
}

/// Sends the denial and logs one JSON line for it: who the token claimed to be, never the token.
pub(crate) fn respond(denial: &Denial, method: &str, path: &str) {
    const MAX_ROUTE: usize = 256;
    let route: String = path
        .split('?')
        .next()
        .unwrap_or_default()
        .chars()
        .take(MAX_ROUTE)
        .collect();
    let facts = &denial.facts;
    let line = serde_json::json!({
        "event": "verifier.deny",
        "status": denial.status,
        "code": denial.error.code(),
        "kid": facts.kid,
        "iss": facts.iss,
        "sub": facts.sub,
        "method": method,
        "route": route,
        "reason": denial.error.to_string(),
    });
    log::info!("{line}");
    let mut headers = vec![
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
    ];
    if let Some(challenge) = &denial.www_authenticate {
        headers.push(("www-authenticate", challenge.as_str()));
    }
    host::send_response(denial.status, headers, &denial.body);
}
