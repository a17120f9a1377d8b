//! Where a request's time goes: the profiling build's instruments (`--features profile`).
//!
//! `make bench` builds the filter a second time with this feature and runs it beside the real
//! one: every host call the request path makes is timed with the host's clock and counted by
//! kind, the time inside `on_http_request_headers` is timed as a whole, and a counting allocator
//! counts the allocations made while a request is decided. The counts reach Envoy as
//! `wasmcustom.verifier.profile.*` counters on the timer, and `envoy/bench.sh` turns them into
//! figures per request. The clock's own cost is measured too (two reads back to back, once per
//! request), so that the report can subtract it. In the real build every function here is an
//! empty inline wrapper: the instruments cost the shipped filter nothing.

/// A kind of host call the request path makes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HostCall {
    /// `proxy_get_current_time_nanoseconds`.
    Clock,
    /// `proxy_get_header_map_pairs` (and the host's call back into `proxy_on_memory_allocate`).
    ReadHeaders,
    /// `proxy_set_header_map_pairs`.
    WriteHeaders,
    /// `proxy_send_local_response`.
    SendResponse,
}

/// A step of our own code on the request path, timed apart from the rest.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    /// Parsing the host's serialisation of the request headers.
    ParseHeaders,
    /// The core's decision (`decide_cached`): rule, cache lookup (a SHA-512/256), dates, checks.
    Decide,
    /// Building the headers to forward.
    Rewrite,
}

/// The core's decision for `request`; with the profile, each stage of it timed.
#[inline(always)]
pub(crate) fn decide(
    config: &verifier_core::Config,
    keys: &impl verifier_core::Keys,
    cache: &mut verifier_core::TokenCache,
    request: &verifier_core::Request<'_>,
    now: u64,
) -> verifier_core::Decision {
    #[cfg(feature = "profile")]
    return verifier_core::decide_traced(
        config,
        keys,
        cache,
        request,
        now,
        &mut instruments::Stages::start(),
    );
    #[cfg(not(feature = "profile"))]
    verifier_core::decide_cached(config, keys, cache, request, now)
}

/// Runs `work`, step `step` of the request path; with the profile, timed.
#[inline(always)]
pub(crate) fn step<R>(step: Step, work: impl FnOnce() -> R) -> R {
    #[cfg(feature = "profile")]
    return instruments::timed(instruments::step_names(step), work);
    #[cfg(not(feature = "profile"))]
    {
        let _ = step;
        work()
    }
}

/// Runs `call`, a host call of kind `kind`; with the profile, timed and counted.
#[inline(always)]
pub(crate) fn host_call<R>(kind: HostCall, call: impl FnOnce() -> R) -> R {
    #[cfg(feature = "profile")]
    return instruments::timed(instruments::host_call_names(kind), call);
    #[cfg(not(feature = "profile"))]
    {
        let _ = kind;
        call()
    }
}

/// Runs `work`, deciding one request; with the profile, timed whole, its allocations counted.
#[inline(always)]
pub(crate) fn request<R>(work: impl FnOnce() -> R) -> R {
    #[cfg(feature = "profile")]
    return instruments::request(work);
    #[cfg(not(feature = "profile"))]
    work()
}

/// With the profile, adds what was counted since the last flush to Envoy's counters
/// (`verifier.profile.*`).
#[inline(always)]
pub(crate) fn flush(metrics: &mut crate::metrics::Metrics) {
    #[cfg(feature = "profile")]
    instruments::flush(metrics);
    #[cfg(not(feature = "profile"))]
    let _ = metrics;
}

#[cfg(feature = "profile")]
#[allow(unsafe_code)]
mod instruments {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;

    use proxy_wasm::hostcalls;

    use super::{HostCall, Step};

    /// Counts allocations made while a request is being decided.
    struct Counting;

    static IN_REQUEST: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    static ALLOCS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    static ALLOC_BYTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

    // SAFETY: every call is passed to the system allocator unchanged; only counters are added.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count(layout.size());
            // SAFETY: the caller's contract is the system allocator's.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            count(layout.size());
            // SAFETY: as above.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count(new_size);
            // SAFETY: as above.
            unsafe { System.realloc(ptr, layout, new_size) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as above.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    fn count(bytes: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        if IN_REQUEST.load(Relaxed) {
            ALLOCS.fetch_add(1, Relaxed);
            ALLOC_BYTES.fetch_add(bytes as u64, Relaxed);
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    thread_local! {
        /// Counter name -> value not yet flushed.
        static PENDING: RefCell<BTreeMap<&'static str, u64>> = const { RefCell::new(BTreeMap::new()) };
        static DEPTH: Cell<u32> = const { Cell::new(0) };
    }

    fn clock() -> u64 {
        hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64)
    }

    fn add(name: &'static str, value: u64) {
        PENDING.with(|p| *p.borrow_mut().entry(name).or_insert(0) += value);
    }

    pub(super) fn host_call_names(kind: HostCall) -> (&'static str, &'static str) {
        match kind {
            HostCall::Clock => ("host.clock.calls", "host.clock.ns"),
            HostCall::ReadHeaders => ("host.read_headers.calls", "host.read_headers.ns"),
            HostCall::WriteHeaders => ("host.write_headers.calls", "host.write_headers.ns"),
            HostCall::SendResponse => ("host.send_response.calls", "host.send_response.ns"),
        }
    }

    pub(super) fn step_names(step: Step) -> (&'static str, &'static str) {
        match step {
            Step::ParseHeaders => ("step.parse_headers.calls", "step.parse_headers.ns"),
            Step::Decide => ("step.decide.calls", "step.decide.ns"),
            Step::Rewrite => ("step.rewrite.calls", "step.rewrite.ns"),
        }
    }

    /// Runs `work`, timing it under `(calls, ns)` when inside a request.
    pub(super) fn timed<R>(
        (calls, ns): (&'static str, &'static str),
        work: impl FnOnce() -> R,
    ) -> R {
        if DEPTH.with(Cell::get) == 0 {
            return work();
        }
        let start = clock();
        let out = work();
        let end = clock();
        add(calls, 1);
        add(ns, end.saturating_sub(start));
        out
    }

    /// Runs `work`, timing it as one request, counting its allocations, and measuring the
    /// clock's own cost once.
    pub(super) fn request<R>(work: impl FnOnce() -> R) -> R {
        use std::sync::atomic::Ordering::Relaxed;
        let a = clock();
        let b = clock();
        add("clock_overhead_ns", b.saturating_sub(a));
        add("clock_overhead_samples", 1);
        DEPTH.with(|d| d.set(d.get() + 1));
        let (allocs, bytes) = (ALLOCS.load(Relaxed), ALLOC_BYTES.load(Relaxed));
        IN_REQUEST.store(true, Relaxed);
        let start = clock();
        let out = work();
        let end = clock();
        IN_REQUEST.store(false, Relaxed);
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        add("requests", 1);
        add("request_ns", end.saturating_sub(start));
        add("allocs", ALLOCS.load(Relaxed) - allocs);
        add("alloc_bytes", ALLOC_BYTES.load(Relaxed) - bytes);
        out
    }

    /// Times each stage of the core's pipeline: the time since the previous stage passed.
    pub(super) struct Stages {
        last: u64,
    }

    impl Stages {
        /// Starts timing: the first stage is timed from now.
        pub(super) fn start() -> Stages {
            Stages { last: clock() }
        }
    }

    impl verifier_core::Trace for Stages {
        fn pass(&mut self, stage: verifier_core::Stage, _detail: impl FnOnce() -> String) {
            use verifier_core::Stage::*;
            let now = clock();
            let (calls, ns) = match stage {
                Rule => ("stage.rule.calls", "stage.rule.ns"),
                Token => ("stage.token.calls", "stage.token.ns"),
                Header => ("stage.header.calls", "stage.header.ns"),
                Keys => ("stage.keys.calls", "stage.keys.ns"),
                Signature => ("stage.signature.calls", "stage.signature.ns"),
                Claims => ("stage.claims.calls", "stage.claims.ns"),
                Revocation => ("stage.revocation.calls", "stage.revocation.ns"),
                Scopes => ("stage.scopes.calls", "stage.scopes.ns"),
            };
            add(calls, 1);
            add(ns, now.saturating_sub(self.last));
            self.last = now;
        }
    }

    /// Adds what was counted since the last flush to Envoy's counters, through the filter's
    /// own metric ids.
    pub(super) fn flush(metrics: &mut crate::metrics::Metrics) {
        let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
        for (name, value) in pending {
            metrics.add(&format!("profile.{name}"), value);
        }
    }
}
