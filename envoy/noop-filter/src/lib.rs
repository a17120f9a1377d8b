//! A proxy-wasm HTTP filter that does nothing: every request continues untouched.
//!
//! `make bench` loads it into Envoy (V8, `wasm32-wasip1`) to measure what any wasm filter costs
//! per request (VM entry, context creation, the ABI round trips), so that the verifier's own
//! cost can be read against it rather than against no filter at all.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

/// The VM entry point (`_initialize`), which Envoy calls once per VM.
#[allow(missing_docs)]
mod entry {
    proxy_wasm::main! {{
        proxy_wasm::set_log_level(super::LogLevel::Warn);
        proxy_wasm::set_root_context(|_| Box::new(super::NoopRoot));
    }}
}

struct NoopRoot;

impl Context for NoopRoot {}

impl RootContext for NoopRoot {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Noop))
    }
}

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        Action::Continue
    }
}
