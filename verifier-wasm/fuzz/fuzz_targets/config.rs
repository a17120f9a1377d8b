//! Arbitrary bytes as the filter configuration: `Config::parse`, and for one it accepts, the
//! same document through `Config::from_value`, then `decide` on a few requests with and without
//! a valid token. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use verifier_core::Config;
use verifier_fuzz::{NOW, ROUTES, check_decision, sample_tokens};

fuzz_target!(|data: &[u8]| {
    let config = match Config::parse(data) {
        Ok(config) => config,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    assert!(!config.providers.is_empty() && !config.rules.is_empty());
    let _ = config.remote_providers().count();

    let value: Value = serde_json::from_slice(data).expect("an accepted configuration is JSON");
    assert_eq!(
        Config::from_value(&value).as_ref(),
        Ok(&config),
        "Config::parse and Config::from_value disagree"
    );

    let authorization = format!("Bearer {}", sample_tokens()[0]);
    for (method, path, _) in ROUTES {
        check_decision(&config, method, path, None, NOW);
        check_decision(&config, method, path, Some(&authorization), NOW);
    }
    check_decision(&config, "DELETE", "/", Some("Basic dXNlcjpwYXNz"), NOW);
});
