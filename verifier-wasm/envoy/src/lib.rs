//! The verifier as an Envoy HTTP filter (proxy-wasm ABI, `wasm32-wasip1`).
//!
//! Host work only: read the plugin configuration, fetch each provider's remote documents (JWKS,
//! revocation feed) with `dispatch_http_call` and share them between VMs, read and write
//! headers, send local replies, hold requests that arrive before the first keys. Every
//! decision about a token is made by `verifier-core`. Nothing here may panic on input: a panic
//! kills the VM and with it every request the worker handles afterwards.
#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod document;
mod head;
mod host;
mod http;
mod metrics;
mod profile;
mod root;
mod shared;
mod state;

/// The VM entry point (`_initialize`), which Envoy calls once per worker VM.
#[allow(missing_docs)]
mod entry {
    proxy_wasm::main! {{
        proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
        proxy_wasm::set_root_context(|_| Box::new(crate::root::Root::default()));
    }}
}
