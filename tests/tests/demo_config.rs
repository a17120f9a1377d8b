//! `envoy/envoy.yaml` (what `make run` starts) is a configuration Envoy accepts with the real filter, and
//! its filter configuration is the one the delegation tests use, so the demo and the tests cannot drift apart.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e_tests::{bins, demo_filter_config};
use serde_json::Value;

const WASM_IN_YAML: &str = "target/wasm32-wasip1/release/verifier_envoy.wasm";

fn demo_yaml() -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../envoy/envoy.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    (path, text)
}

/// The JSON block scalar under `configuration: ... value: |` (the only `value: |` in the file).
fn embedded_filter_config(yaml: &str) -> Value {
    let mut lines = yaml
        .lines()
        .skip_while(|line| !line.trim_end().ends_with("value: |"));
    let header = lines.next().expect("envoy.yaml has no `value: |` block");
    let key_indent = header.len() - header.trim_start().len();
    let block: Vec<&str> = lines
        .take_while(|line| {
            line.trim().is_empty() || line.len() - line.trim_start().len() > key_indent
        })
        .collect();
    serde_json::from_str(&block.join("\n"))
        .unwrap_or_else(|err| panic!("the filter configuration in envoy.yaml is not JSON: {err}"))
}

#[test]
fn demo_envoy_yaml_embeds_the_demo_filter_config() {
    let (_, yaml) = demo_yaml();
    assert_eq!(
        embedded_filter_config(&yaml),
        demo_filter_config("http://127.0.0.1:8080"),
        "envoy/envoy.yaml and e2e_tests::demo_filter_config disagree"
    );
    assert!(
        yaml.contains(WASM_IN_YAML),
        "envoy.yaml does not load {WASM_IN_YAML}"
    );
}

#[test]
fn demo_envoy_yaml_validates_with_the_real_filter() {
    let bins = bins();
    let (path, yaml) = demo_yaml();
    // Same file, with the filter from FILTER_WASM (the target directory may not be ./target).
    let dir = tempfile::tempdir().expect("temporary directory");
    let copy = dir.path().join("envoy.yaml");
    std::fs::write(
        &copy,
        yaml.replace(WASM_IN_YAML, &bins.filter_wasm.display().to_string()),
    )
    .expect("write the copy");
    // Validation mode builds every filter, so the plugin is loaded and configured for real.
    let output = Command::new(&bins.envoy)
        .args([
            "--mode",
            "validate",
            "--disable-hot-restart",
            "-l",
            "info",
            "-c",
        ])
        .arg(&copy)
        .output()
        .expect("run envoy --mode validate");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let tail: Vec<&str> = log
        .lines()
        .rev()
        .take(30)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(
        output.status.success(),
        "envoy --mode validate refused {} ({}):\n{}",
        path.display(),
        output.status,
        tail.join("\n")
    );
}
