//! Thin wrappers over the proxy-wasm host calls we use, on the current effective context.
//!
//! The SDK's string getters `unwrap` UTF-8 conversions and would panic on a hostile header
//! value, so headers are read as bytes (see `head.rs` for the request's) and converted without
//! panicking.

use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::types::{MapType, Status};

use crate::profile::{self, HostCall};

/// The host's wall clock in nanoseconds since the epoch (0 if the host cannot say).
pub(crate) fn now_ns() -> u64 {
    profile::host_call(HostCall::Clock, hostcalls::get_current_time)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The host's wall clock in milliseconds since the epoch (0 if the host cannot say).
pub(crate) fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

/// A shared-data value and its compare-and-swap token; `(None, None)` when absent.
pub(crate) fn shared_get(key: &str) -> (Option<Vec<u8>>, Option<u32>) {
    hostcalls::get_shared_data(key).unwrap_or((None, None))
}

/// Stores a shared-data value; with `Some(cas)`, only if nobody wrote it since that read.
pub(crate) fn shared_set(key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
    hostcalls::set_shared_data(key, Some(value), cas)
}

/// A header of the HTTP call response being handled, as bytes.
pub(crate) fn call_response_header(name: &str) -> Option<Vec<u8>> {
    hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, name)
        .ok()
        .flatten()
}

/// Sends a local reply; the request never reaches the upstream.
pub(crate) fn send_response(status: u16, headers: Vec<(&str, &str)>, body: &str) {
    let send = || hostcalls::send_http_response(u32::from(status), headers, Some(body.as_bytes()));
    if let Err(s) = profile::host_call(HostCall::SendResponse, send) {
        log::error!("verifier: could not send the {status} reply: {s:?}");
    }
}

/// Resumes a paused request.
pub(crate) fn resume_request() {
    if let Err(status) = hostcalls::resume_http_request() {
        log::warn!("verifier: could not resume a request: {status:?}");
    }
}

/// Makes `context_id` the target of the following host calls; false if it is gone.
pub(crate) fn enter_context(context_id: u32) -> bool {
    hostcalls::set_effective_context(context_id).is_ok()
}

/// Starts a GET through `cluster` asking for `accept`; the answer arrives in the root's
/// `on_http_call_response`.
pub(crate) fn dispatch_get(
    cluster: &str,
    authority: &str,
    path: &str,
    accept: &str,
    timeout: Duration,
) -> Option<u32> {
    let headers = vec![
        (":method", "GET"),
        (":path", path),
        (":authority", authority),
        (":scheme", "http"),
        ("accept", accept),
        ("user-agent", "verifier-envoy"),
    ];
    match hostcalls::dispatch_http_call(cluster, headers, None, vec![], timeout) {
        Ok(token) => Some(token),
        Err(status) => {
            log::warn!("verifier: could not call cluster {cluster}: {status:?}");
            None
        }
    }
}
