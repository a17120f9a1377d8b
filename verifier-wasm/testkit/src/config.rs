//! JWKS documents, provider objects and configurations around the fixture issuer.

use serde_json::{Value, json};
use verifier_core::{Algorithm, Config, Jwks, Provider, PublicJwk};

use crate::{AUDIENCE, ISSUER, PROVIDER};

/// A JWKS document with these keys.
pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// The RFC 7638 members of a JWK (what its thumbprint covers); `None` for an unknown `kty` or
/// a required member that is missing or not a string.
pub fn public_jwk(jwk: &Value) -> Option<PublicJwk> {
    let text = |name: &str| jwk[name].as_str().map(String::from);
    match jwk["kty"].as_str()? {
        "EC" => Some(PublicJwk::Ec {
            crv: text("crv")?,
            x: text("x")?,
            y: text("y")?,
        }),
        "OKP" => Some(PublicJwk::Okp {
            crv: text("crv")?,
            x: text("x")?,
        }),
        "AKP" => Some(PublicJwk::Akp {
            alg: text("alg")?,
            public: text("pub")?,
        }),
        "RSA" => Some(PublicJwk::Rsa {
            n: text("n")?,
            e: text("e")?,
        }),
        _ => None,
    }
}

/// The provider object of the test configuration: issuer [`ISSUER`], audience [`AUDIENCE`], the
/// issuer's three algorithms, and `keys` as `local_jwks` (a JSON string, as `inline_string`).
pub fn provider_json(keys: &[Value]) -> Value {
    json!({
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "algorithms": ["ES256", "EdDSA", "RS256"],
        "local_jwks": jwks(keys),
    })
}

/// Provider overrides (for [`provider_with`]) allowing every algorithm the verifier knows.
pub fn every_algorithm() -> Value {
    let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
    json!({ "algorithms": names })
}

/// A configuration with one provider named [`PROVIDER`] and one catch-all rule requiring it.
pub fn config_json(provider: Value) -> Value {
    json!({
        "providers": { PROVIDER: provider },
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": PROVIDER}}],
    })
}

/// Parses a configuration, panicking with the error's path and message.
pub fn parse_config(config: &Value) -> Config {
    Config::parse(config.to_string().as_bytes()).unwrap_or_else(|e| panic!("config refused: {e}"))
}

/// The provider of [`provider_json`]`(keys)` with `overrides` applied (here `null` is kept as a
/// value, e.g. `{"typ": null}`; to drop a member, edit [`provider_json`]'s output).
pub fn provider_with(keys: &[Value], overrides: Value) -> Provider {
    let mut p = provider_json(keys);
    for (name, value) in overrides.as_object().expect("object").clone() {
        p[name] = value;
    }
    provider_from(p)
}

/// The provider of [`provider_json`]`(keys)`.
pub fn provider(keys: &[Value]) -> Provider {
    provider_with(keys, json!({}))
}

/// The provider parsed from this provider object, through [`Config::parse`].
pub fn provider_from(provider: Value) -> Provider {
    let config = parse_config(&config_json(provider));
    config.providers[PROVIDER].clone()
}

/// The provider's `local_jwks`; panics for a remote provider.
pub fn local_jwks(provider: &Provider) -> &Jwks {
    provider.local_jwks().expect("provider has local keys")
}
