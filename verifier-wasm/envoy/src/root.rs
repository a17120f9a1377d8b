//! The root context: configuration, the timer that keeps every provider's remote documents (its
//! JWKS, its revocation feed) in step with their shared schedules, and waking waiting requests.
//!
//! One path serves every kind of document: adopt what another VM stored, fetch when this VM
//! wins the lease, share what it fetched. [`Driver`] runs it for each kind `document.rs`
//! describes; the core's `refresh.rs` makes its decisions.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType};
use verifier_core::{Config, Denial, Provider, ProviderDocument, TokenCache};
use verifier_core::{FetchTarget, FreshnessLine, FreshnessReport, RefreshPolicy, max_age};

use crate::document::{Document, FeedDocument, JwksDocument, Source};
use crate::host;
use crate::http::{self, Http, Outcome};
use crate::metrics::{self, Metrics};
use crate::shared::Endpoint;
use crate::state::{Call, Documents, Kept, State, Waiting};

/// Every kind of document the filter keeps, in the order the timer brings them up to date.
const DOCUMENTS: &[&dyn Kind] = &[
    &Driver::<JwksDocument>(PhantomData),
    &Driver::<FeedDocument>(PhantomData),
];

/// How often the timer runs: the shared schedule, stale keys and waiting deadlines are checked
/// this often, so it bounds how long a request on another worker waits for keys one worker
/// fetched.
const TICK: Duration = Duration::from_millis(100);

/// What the host says of a finished call: the number of response headers (0: no response at
/// all) and the body's size.
#[derive(Debug, Clone, Copy)]
struct Response {
    headers: usize,
    body_size: usize,
}

/// A response that could be used: the parsed document, the bytes to share, and the
/// `Cache-Control: max-age` when the kind reads it.
struct Fetched<T> {
    parsed: T,
    body: Vec<u8>,
    max_age: Option<u64>,
}

/// The root context of one VM.
#[derive(Default)]
pub(crate) struct Root {
    state: Rc<RefCell<State>>,
}

impl Root {
    /// Reads every provider's shared schedules, adopts new documents, drops expired ones and
    /// starts the fetches this VM wins the lease for. True if a waiting request may now be
    /// decided differently.
    fn sync(&self, now_ms: u64, may_fetch: bool) -> bool {
        let mut state = self.state.borrow_mut();
        let Some(config) = state.config.clone() else {
            return false;
        };
        let mut wake = false;
        for kind in DOCUMENTS {
            wake |= kind.sync(&mut state, &config, now_ms, may_fetch);
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
}

/// How the root context drives one kind of document, whatever it parses to (what
/// [`DOCUMENTS`] lists).
trait Kind {
    /// The kind's name ([`Document::NAME`]), which a [`Call`] names it by.
    fn name(&self) -> &'static str;

    /// Builds each provider's kept document of this kind for a new configuration.
    fn configure(&self, config: &Config, documents: &mut Documents);

    /// Brings each provider's document up to date with its shared schedule and, if
    /// `may_fetch`, starts the fetches this VM wins the lease for. True if worth waking.
    fn sync(&self, state: &mut State, config: &Config, now_ms: u64, may_fetch: bool) -> bool;

    /// Reads the answer to this VM's fetch of `provider`'s document and records it in the
    /// shared schedule.
    fn complete(&self, state: &State, provider: &Provider, response: Response, now_ms: u64);

    /// Hands back the leases this VM holds: it is going away.
    fn release(&self, state: &State, now_ms: u64);
}

/// The [`Kind`] of the documents `D` describes.
struct Driver<D>(PhantomData<D>);

impl<D: Document> Kind for Driver<D> {
    fn name(&self) -> &'static str {
        D::NAME
    }

    fn configure(&self, config: &Config, documents: &mut Documents) {
        *D::kept_mut(documents) = config
            .providers
            .iter()
            .filter_map(|(name, provider)| {
                let source = D::source(provider)?;
                let kept = Kept {
                    endpoint: D::endpoint(provider, source.target),
                    view: ProviderDocument::new(source.policy),
                };
                Some((name.clone(), kept))
            })
            .collect();
    }

    fn sync(&self, state: &mut State, config: &Config, now_ms: u64, may_fetch: bool) -> bool {
        let State {
            documents,
            calls,
            cache,
            metrics,
            vm_id,
            ..
        } = state;
        let mut wake = false;
        for (name, provider) in &config.providers {
            let Some(source) = D::source(provider) else {
                continue;
            };
            let Some(kept) = D::kept_mut(documents).get_mut(name) else {
                continue;
            };
            wake |= adopt::<D>(name, provider, &source, kept, cache, metrics, now_ms);
            if !may_fetch {
                continue;
            }
            let policy = *kept.view.policy();
            let started = start_fetch(
                &kept.endpoint,
                &policy,
                *vm_id,
                now_ms,
                source.target,
                D::ACCEPT,
            );
            if let Some(token) = started {
                log::debug!(
                    "verifier: fetching the {} of {name} (call {token})",
                    D::WORDS.title
                );
                let call = Call {
                    kind: D::NAME,
                    provider: name.clone(),
                };
                calls.insert(token, call);
                let metric = format!("{}.{}.fetches", D::NAME, metrics::segment(name));
                metrics.borrow_mut().add(&metric, 1);
            }
        }
        wake
    }

    fn complete(&self, state: &State, provider: &Provider, response: Response, now_ms: u64) {
        let Some(source) = D::source(provider) else {
            return;
        };
        let result = read::<D>(provider, source.max_bytes, response);
        if let Some(kept) = D::kept(&state.documents).get(&provider.name) {
            record::<D>(&provider.name, kept, result, &state.metrics, now_ms);
        }
    }

    fn release(&self, state: &State, now_ms: u64) {
        for kept in D::kept(&state.documents).values() {
            let _ = kept
                .endpoint
                .update(|s| s.release_lease(state.vm_id, now_ms));
        }
    }
}

/// Brings one provider's document of kind `D` up to date with the shared schedule: adopts the
/// stored document when it is new, reports a freshness change. True if worth waking.
fn adopt<D: Document>(
    name: &str,
    provider: &Provider,
    source: &Source<'_>,
    kept: &mut Kept<D::Parsed>,
    cache: &RefCell<TokenCache>,
    metrics: &RefCell<Metrics>,
    now_ms: u64,
) -> bool {
    let schedule = kept.endpoint.schedule();
    let document = if kept.view.needs_document(&schedule, now_ms) {
        kept.endpoint.document().and_then(|bytes| {
            match D::parse(provider, source.max_bytes, &bytes) {
                Ok(parsed) => Some(parsed),
                Err(error) => {
                    log::error!(
                        "verifier: provider {name}: stored {} unusable: {error}",
                        D::WORDS.title
                    );
                    None
                }
            }
        })
    } else {
        None
    };
    let outcome = kept.view.sync(schedule, document, now_ms);
    let segment = metrics::segment(name);
    let mut metrics = metrics.borrow_mut();
    if outcome.keys_changed {
        D::adopted(name, &segment, kept.view.document(), cache, &mut metrics);
    }
    if let Some(report) = kept.view.report_freshness() {
        let max_stale_ms = kept.view.policy().max_stale_ms;
        report_freshness::<D>(name, &segment, report, max_stale_ms, &mut metrics);
    }
    outcome.wake
}

/// Logs and counts a change of a provider's document freshness, as the core reported it: the
/// stale gauge, the expired counter, and a line when a stale period starts, runs out or ends.
fn report_freshness<D: Document>(
    name: &str,
    segment: &str,
    report: FreshnessReport,
    max_stale_ms: u64,
    metrics: &mut Metrics,
) {
    let words = &D::WORDS;
    match report.line {
        Some(FreshnessLine::Stale) => log::warn!(
            "verifier: provider {name}: {} for at most {} s more",
            words.stale,
            max_stale_ms / 1000
        ),
        Some(FreshnessLine::Expired) => log::error!("verifier: provider {name}: {}", words.expired),
        Some(FreshnessLine::Fresh) => log::info!("verifier: provider {name}: {}", words.fresh),
        None => {}
    }
    metrics.set(&format!("{}.{segment}.stale", D::NAME), report.stale_gauge);
    if report.count_expired {
        metrics.add(&format!("{}.{segment}.expired", D::NAME), 1);
    }
}

/// Takes the lease on `endpoint`'s schedule for `vm` if a fetch is due, and starts it. The call's
/// token when this VM is now fetching.
fn start_fetch(
    endpoint: &Endpoint,
    policy: &RefreshPolicy,
    vm: u64,
    now_ms: u64,
    target: &FetchTarget,
    accept: &str,
) -> Option<u32> {
    endpoint.update(|s| s.take_lease(vm, now_ms, policy))?;
    // Envoy has no atomic create: when two VMs created the schedule at once, the last writer
    // holds the lease. Only it fetches.
    if endpoint.schedule().lease_owner != vm {
        return None;
    }
    let timeout = Duration::from_millis(target.timeout_ms);
    let token = host::dispatch_get(
        &target.cluster,
        &target.authority,
        &target.path,
        accept,
        timeout,
    );
    if token.is_none() {
        let _ = endpoint.update(|s| s.release_lease(vm, now_ms));
    }
    token
}

/// Reads a finished call for a document of kind `D`: the document, or why there is none.
fn read<D: Document>(
    provider: &Provider,
    max_bytes: usize,
    response: Response,
) -> Result<Fetched<D::Parsed>, String> {
    let body = read_body(response, max_bytes)?;
    let parsed = D::parse(provider, max_bytes, &body).map_err(|e| D::fetch_error(&e))?;
    D::inspect(&parsed);
    let max_age = if D::READS_MAX_AGE {
        host::call_response_header("cache-control")
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| max_age(&v))
    } else {
        None
    };
    Ok(Fetched {
        parsed,
        body,
        max_age,
    })
}

/// Reads a finished call's 200 body of at most `max_bytes`, or says why it cannot be used.
fn read_body(response: Response, max_bytes: usize) -> Result<Vec<u8>, String> {
    let Response { headers, body_size } = response;
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

/// Records the outcome of this VM's fetch in the shared schedule. A failure keeps the last good
/// document (until it is too old); a document that did not change keeps its generation, so the
/// other VMs do not parse it again.
fn record<D: Document>(
    name: &str,
    kept: &Kept<D::Parsed>,
    result: Result<Fetched<D::Parsed>, String>,
    metrics: &RefCell<Metrics>,
    now_ms: u64,
) {
    let policy = *kept.view.policy();
    let stored = result.and_then(|fetched| {
        let changed = kept.view.changed(
            D::COMPARE,
            &kept.endpoint.schedule(),
            &fetched.parsed,
            &fetched.body,
            || kept.endpoint.document(),
        );
        // The document is stored before the schedule announces it, so a VM that sees the new
        // generation finds the new document.
        if changed && !kept.endpoint.store_document(&fetched.body) {
            let title = D::WORDS.title;
            return Err(format!("could not share the {title} with the other VMs"));
        }
        let _ = kept.endpoint.update(|s| {
            s.on_success(now_ms, fetched.max_age, changed, &policy);
            true
        });
        Ok((fetched, changed))
    });
    match stored {
        Ok((fetched, changed)) => {
            let level = if changed {
                log::Level::Info
            } else {
                D::UNCHANGED_LEVEL
            };
            log::log!(
                level,
                "verifier: provider {name}: fetched {}, {}{}",
                D::describe(&fetched.parsed),
                if changed { "changed" } else { "unchanged" },
                fetched
                    .max_age
                    .map(|a| format!(", max-age {a}s"))
                    .unwrap_or_default()
            );
        }
        Err(reason) => {
            let stored = kept.endpoint.update(|s| {
                s.on_failure(now_ms, &policy);
                true
            });
            let failures = stored.map_or(0, |s| s.failures);
            let metric = format!("{}.{}.fetch_failures", D::NAME, metrics::segment(name));
            metrics.borrow_mut().add(&metric, 1);
            log::warn!(
                "verifier: provider {name}: {} fetch failed ({failures} in a row): {reason}",
                D::WORDS.title
            );
        }
    }
}

/// The VM is going away (the SDK drops the root context when Envoy deletes it): hand any lease
/// back, so another VM fetches without waiting for the lease to lapse. Done on drop rather than
/// in `on_done`, so that the filter need not export `proxy_on_done`, which Envoy would otherwise
/// call into the VM for at the end of every request.
impl Drop for Root {
    fn drop(&mut self) {
        let Ok(state) = self.state.try_borrow() else {
            return;
        };
        if state.config.is_none() {
            return;
        }
        let now_ms = host::now_ms();
        for kind in DOCUMENTS {
            kind.release(&state, now_ms);
        }
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
        log::debug!(
            "verifier: vm {:x}: call {token_id} answered",
            self.state.borrow().vm_id
        );
        let Some(call) = self.state.borrow_mut().calls.remove(&token_id) else {
            return;
        };
        let config = self.state.borrow().config.clone();
        let provider = config
            .as_ref()
            .and_then(|c| c.providers.get(&call.provider));
        let kind = DOCUMENTS.iter().find(|kind| kind.name() == call.kind);
        if let (Some(provider), Some(kind)) = (provider, kind) {
            let response = Response { headers, body_size };
            kind.complete(&self.state.borrow(), provider, response, now_ms);
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
        let mut documents = Documents::default();
        for kind in DOCUMENTS {
            kind.configure(&config, &mut documents);
        }
        self.state.borrow_mut().configure(config, vm_id, documents);
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
            crate::profile::flush(&mut metrics);
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
