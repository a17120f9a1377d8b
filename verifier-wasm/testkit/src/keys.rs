//! A static key set for `decide`: the configuration's own local keys, nothing fetched.

use verifier_core::{Config, KeyState, Keys, Provider};

/// A [`Keys`] for tests: every provider in the configuration is `Ready` with its local keys,
/// except those listed as pending or unavailable; `may_refetch` answers [`TestKeys::refetch`].
pub struct TestKeys<'c> {
    /// The configuration whose local keys are served.
    pub config: &'c Config,
    /// Providers whose keys are still being fetched.
    pub pending: Vec<&'c str>,
    /// Providers whose keys cannot be had.
    pub unavailable: Vec<&'c str>,
    /// Whether a token naming an unknown `kid` may wait for a refetch.
    pub refetch: bool,
}

impl<'c> TestKeys<'c> {
    /// Every provider ready, no refetch.
    pub fn ready(config: &'c Config) -> TestKeys<'c> {
        TestKeys {
            config,
            pending: vec![],
            unavailable: vec![],
            refetch: false,
        }
    }

    /// The names of every provider in the configuration.
    pub fn every_provider(config: &'c Config) -> Vec<&'c str> {
        config.providers.keys().map(String::as_str).collect()
    }
}

impl Keys for TestKeys<'_> {
    fn state(&self, provider: &str) -> KeyState<'_> {
        if self.pending.contains(&provider) {
            return KeyState::Pending;
        }
        if self.unavailable.contains(&provider) {
            return KeyState::Unavailable;
        }
        match self
            .config
            .providers
            .get(provider)
            .and_then(Provider::local_jwks)
        {
            Some(jwks) => KeyState::Ready(jwks),
            // A remote provider nobody fetched for, or a name the configuration lacks.
            None => KeyState::Unavailable,
        }
    }

    fn may_refetch(&self, _provider: &str, _now: u64) -> bool {
        self.refetch
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{PROVIDER, Signer, config_json, parse_config, provider_json};

    #[test]
    fn listed_providers_are_pending_or_unavailable_and_the_rest_ready() {
        let mut remote = provider_json(&[]);
        remote.as_object_mut().unwrap().remove("local_jwks");
        remote["remote_jwks"] = json!({"cluster": "idp", "path": "/jwks"});
        let mut config = config_json(provider_json(&[Signer::es256(1).jwk()]));
        config["providers"]["remote"] = remote;
        let config = parse_config(&config);
        let state = |keys: &TestKeys<'_>, name: &str| match keys.state(name) {
            KeyState::Ready(_) => "ready",
            KeyState::Pending => "pending",
            KeyState::Unavailable => "unavailable",
        };
        let ready = TestKeys::ready(&config);
        assert_eq!(state(&ready, PROVIDER), "ready");
        assert_eq!(state(&ready, "remote"), "unavailable");
        assert_eq!(state(&ready, "absent"), "unavailable");
        assert!(!ready.may_refetch(PROVIDER, 0));
        let pending = TestKeys {
            pending: TestKeys::every_provider(&config),
            refetch: true,
            ..TestKeys::ready(&config)
        };
        assert_eq!(state(&pending, PROVIDER), "pending");
        assert_eq!(state(&pending, "remote"), "pending");
        assert!(pending.may_refetch(PROVIDER, 0));
        let unavailable = TestKeys {
            unavailable: vec![PROVIDER],
            ..TestKeys::ready(&config)
        };
        assert_eq!(state(&unavailable, PROVIDER), "unavailable");
    }
}
