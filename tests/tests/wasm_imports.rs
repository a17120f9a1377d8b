//! The two wasm builds of the verifier import only what their hosts provide: the Envoy filter
//! nothing but the proxy-wasm ABI and WASI (a `__wbindgen_*` import would make Envoy refuse to load
//! it), the JS package nothing but wasm-bindgen's glue module.

use std::path::PathBuf;

use wasmparser::{Parser, Payload, TypeRef};

/// `(module, name, is_function)` for every import of the module at `path`.
fn imports(path: &PathBuf) -> Vec<(String, String, bool)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut found = Vec::new();
    for payload in Parser::new(0).parse_all(&bytes) {
        if let Payload::ImportSection(section) = payload.expect("a well-formed module") {
            for import in section.into_imports() {
                let import = import.expect("a well-formed import");
                found.push((
                    import.module.to_owned(),
                    import.name.to_owned(),
                    matches!(import.ty, TypeRef::Func(_)),
                ));
            }
        }
    }
    found
}

fn artifact(var: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{var} is not set; run the tests with `make test`, which builds both wasm artifacts")
    });
    assert!(
        path.is_file(),
        "{var}={} does not exist; run `make test`",
        path.display()
    );
    path
}

#[test]
fn envoy_filter_imports_only_proxy_wasm_and_wasi() {
    let found = imports(&artifact("FILTER_WASM"));
    assert!(
        found
            .iter()
            .any(|(m, n, _)| m == "env" && n.starts_with("proxy_")),
        "the filter imports no proxy-wasm host function: {found:?}"
    );
    for (module, name, is_function) in &found {
        let allowed = match module.as_str() {
            "env" => name.starts_with("proxy_") && *is_function,
            "wasi_snapshot_preview1" => *is_function,
            _ => false,
        };
        assert!(allowed, "the Envoy filter imports {module}.{name}");
        assert!(
            !name.contains("wbindgen") && !name.contains("wbg"),
            "{module}.{name}"
        );
    }
}

#[test]
fn js_package_imports_only_wasm_bindgen_glue() {
    let found = imports(&artifact("VERIFIER_JS_WASM"));
    for (module, name, _) in &found {
        assert!(
            module == "./verifier_bg.js",
            "the JS package imports {module}.{name}: only wasm-bindgen's glue module is provided"
        );
        assert!(!name.starts_with("proxy_"), "{module}.{name}");
    }
}
