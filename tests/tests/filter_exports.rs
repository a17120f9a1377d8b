//! The finished Envoy filter exports exactly the callbacks `verifier-wasm/envoy/finish.sh` keeps,
//! and keeps every callback the filter implements. Envoy never enters the VM for a callback the
//! module does not export, so a context method added without its export (say `on_log`, or
//! `on_http_response_headers`) would compile, pass the unit tests and silently never run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use wasmparser::{Parser, Payload};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The exports `finish.sh` keeps: its `exports=(...)` list.
fn kept() -> BTreeSet<String> {
    let script = std::fs::read_to_string(workspace().join("verifier-wasm/envoy/finish.sh"))
        .expect("finish.sh");
    let start = script
        .find("exports=(")
        .expect("finish.sh lists its exports")
        + "exports=(".len();
    let end = start + script[start..].find(')').expect("the list ends");
    script[start..end]
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The export each proxy-wasm SDK context method is called through.
fn export_of(method: &str) -> Option<&'static str> {
    Some(match method {
        "on_vm_start" => "proxy_on_vm_start",
        "on_configure" => "proxy_on_configure",
        "on_tick" => "proxy_on_tick",
        "on_queue_ready" => "proxy_on_queue_ready",
        "on_http_call_response" => "proxy_on_http_call_response",
        "on_grpc_call_response" | "on_grpc_stream_message" | "on_grpc_stream_close" => {
            "proxy_on_grpc_receive"
        }
        "on_done" => "proxy_on_done",
        "on_log" => "proxy_on_log",
        "on_http_request_headers" => "proxy_on_request_headers",
        "on_http_request_body" => "proxy_on_request_body",
        "on_http_request_trailers" => "proxy_on_request_trailers",
        "on_http_response_headers" => "proxy_on_response_headers",
        "on_http_response_body" => "proxy_on_response_body",
        "on_http_response_trailers" => "proxy_on_response_trailers",
        "create_http_context" => "proxy_on_context_create",
        _ => return None,
    })
}

#[test]
fn every_callback_the_filter_implements_is_kept() {
    let kept = kept();
    let src = workspace().join("verifier-wasm/envoy/src");
    let mut seen = 0;
    for entry in std::fs::read_dir(&src).expect("envoy/src") {
        let path = entry.expect("a file").path();
        let text = std::fs::read_to_string(&path).expect("a source file");
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("fn ") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if let Some(export) = export_of(&name) {
                seen += 1;
                assert!(
                    kept.contains(export),
                    "{} implements {name}, which Envoy calls through {export}, but finish.sh \
                     does not keep that export: add it to the list",
                    path.display()
                );
            }
        }
    }
    assert!(
        seen >= 5,
        "found only {seen} callbacks: the scan no longer reads the filter's source"
    );
}

#[test]
fn the_finished_filter_exports_exactly_what_finish_sh_keeps() {
    let path = std::env::var_os("FILTER_WASM")
        .map(PathBuf::from)
        .expect("FILTER_WASM is not set; run the tests with `make test`");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut exports = BTreeSet::new();
    for payload in Parser::new(0).parse_all(&bytes) {
        if let Payload::ExportSection(section) = payload.expect("a well-formed module") {
            for export in section {
                exports.insert(export.expect("a well-formed export").name.to_owned());
            }
        }
    }
    assert_eq!(
        exports,
        kept(),
        "{} is not the finished filter (make build-filter runs finish.sh)",
        path.display()
    );
}
