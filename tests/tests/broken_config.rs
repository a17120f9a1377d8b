//! A configuration the filter cannot use is refused where Envoy loads it, naming what is wrong; a JWKS
//! that cannot be fetched makes requests fail closed with 503, never pass.
//!
//! Found with the real Envoy 1.40: when the filter's `on_configure` returns false and the plugin has
//! `fail_open: false`, Envoy logs "Plugin configured to fail closed failed to load" and exits with status
//! 1 at start-up, before serving anything. The filter's own log line (at error level) comes just before.

use e2e_tests::{Stack, StackOptions, StartError, default_filter_config, free_port};
use serde_json::{Value, json};

/// Starts a stack that must be refused and returns the failure.
fn refused(build: impl FnOnce(&str) -> Value + 'static) -> StartError {
    match Stack::try_start(StackOptions::default().filter_config(build)) {
        Ok(stack) => {
            let log = stack.envoy().log().tail_without_banner(40);
            drop(stack);
            panic!("Envoy accepted a configuration it must refuse\n--- envoy log ---\n{log}")
        }
        Err(err) => err,
    }
}

fn assert_refused_naming(err: &StartError, name: &str) {
    let exit = err.envoy_exit();
    assert!(
        exit.is_some_and(|status| !status.success()),
        "Envoy should exit non-zero at start-up; got exit {exit:?}\n{err:?}"
    );
    assert!(
        err.envoy_log().contains("failed to load"),
        "Envoy's log does not say the plugin failed to load\n{err:?}"
    );
    // The filter's own message must name the offending field or provider.
    let filter_lines: Vec<&str> = err
        .envoy_log()
        .lines()
        .filter(|line| line.contains("wasm log") && line.contains(name))
        .collect();
    assert!(
        !filter_lines.is_empty(),
        "no filter log line names {name:?}\n{err:?}"
    );
}

#[test]
fn unknown_provider_field_is_refused_and_named() {
    let err = refused(|issuer_url| {
        let mut config = default_filter_config(issuer_url);
        let local = config["providers"]["local"]
            .as_object_mut()
            .expect("provider object");
        let audiences = local.remove("audiences").expect("audiences");
        local.insert("audiencez".into(), audiences);
        config
    });
    assert_refused_naming(&err, "audiencez");
}

#[test]
fn rule_naming_an_undefined_provider_is_refused_and_named() {
    let err = refused(|issuer_url| {
        let mut config = default_filter_config(issuer_url);
        config["rules"].as_array_mut().expect("rules array").insert(
            0,
            json!({"match": {"prefix": "/admin"}, "requires": {"provider": "phantom"}}),
        );
        config
    });
    assert_refused_naming(&err, "phantom");
}

#[test]
fn unreachable_jwks_fails_closed_with_503() {
    let dead = free_port();
    let stack = Stack::start(StackOptions::default().jwks_cluster_port(dead));
    let client = stack.create_client("svc.warehouse", "instruments:read", "quantjourney");
    let bearer = format!("Bearer {}", stack.token(&client));
    // Twice: the first request may be the one waiting for the first fetch, the second comes after the
    // filter has given up on it.
    for attempt in 1..=2 {
        let target = format!("/api/v1/instruments?attempt={attempt}");
        let response = stack.get(&target, &[("Authorization", &bearer)]);
        stack.assert_denied(&response, &target, 503, "jwks_unavailable");
    }
}
