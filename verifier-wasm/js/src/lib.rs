//! The verifier as an ES module for browsers and Node, built by wasm-bindgen.
//!
//! This crate decides nothing. It turns JavaScript values into the bytes and numbers
//! `verifier-core` takes, reads the clock when the caller gives no `now`, and turns the core's
//! answer back into plain objects. The gateway's decisions, codes and messages are the core's, so
//! `explain` in a browser says exactly what the Envoy filter does.
//!
//! It never throws for bad input: every failure is returned as `{error: {code, message}}` (or
//! `{valid: false, error}` from `verify`), with the filter's stable codes.

mod failure;
mod input;
mod supplied;

use serde_json::{Value, json};
use verifier_core::{Config, Request};
use wasm_bindgen::prelude::*;

use crate::failure::Failure;
use crate::input::Options;
use crate::supplied::Supplied;

/// Name of the one provider `verify` builds from its options.
const VERIFY_PROVIDER: &str = "verify";

/// `verify(token, jwks, options)`: checks `token` against `jwks` for the provider described by
/// `options` (the filter's provider fields, plus an optional `now` in Unix seconds).
///
/// Returns `{valid: true, header, claims, alg, kid}` or `{valid: false, error: {code, message}}`.
#[wasm_bindgen]
pub fn verify(token: JsValue, jwks: JsValue, options: JsValue) -> JsValue {
    let answer = match verify_value(&token, &jwks, &options) {
        Ok(verified) => verified,
        Err(failure) => json!({"valid": false, "error": failure.report()}),
    };
    input::to_js(&answer)
}

/// `decode(token)`: the header and claims as written, with nothing verified.
///
/// Returns `{header, claims, signature_bytes}` or `{error: {code, message}}`.
#[wasm_bindgen]
pub fn decode(token: JsValue) -> JsValue {
    let answer = input::token(&token)
        .and_then(|token| verifier_core::decode(token.as_str()).map_err(Failure::from))
        .map_or_else(
            |failure| json!({"error": failure.report()}),
            |decoded| serde_json::to_value(decoded).unwrap_or(Value::Null),
        );
    input::to_js(&answer)
}

/// `explain(token, config, request, options)`: what the gateway configured by `config` (the
/// filter's JSON configuration) decides for `request` (`{method, path}`) carrying `token`, and why.
///
/// `options` may give `now`, `jwks` (`{<provider>: <JWKS>}` for providers with `remote_jwks`) and
/// `revocations` (`{<provider>: <feed>}`). A provider whose keys or feed are not given is treated
/// as the gateway treats one it cannot reach: 503. Returns the core's `Explanation` as an object,
/// or `{decision: "error", error: {code, message}}` when the configuration or options are invalid.
#[wasm_bindgen]
pub fn explain(token: JsValue, config: JsValue, request: JsValue, options: JsValue) -> JsValue {
    let answer = explain_value(&token, &config, &request, &options)
        .unwrap_or_else(|failure| json!({"decision": "error", "error": failure.report()}));
    input::to_js(&answer)
}

fn verify_value(token: &JsValue, jwks: &JsValue, options: &JsValue) -> Result<Value, Failure> {
    let token = input::token(token)?;
    let jwks = input::document(jwks, "jwks")?;
    let Options { now, rest } = Options::read(options)?;
    let mut provider = rest;
    provider.insert("local_jwks".into(), Value::String(jwks.clone()));
    let document = json!({
        "providers": {VERIFY_PROVIDER: provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": VERIFY_PROVIDER}}],
    });
    let config = Config::from_value(&document).map_err(|e| Failure::options(e, &jwks))?;
    let provider = config
        .providers
        .get(VERIFY_PROVIDER)
        .ok_or(Failure::Internal(
            "the provider built from options is missing",
        ))?;
    let verifier_core::KeySource::Local(keys) = &provider.keys else {
        return Err(Failure::Internal(
            "the provider built from options has no local keys",
        ));
    };
    let verified = verifier_core::verify(&token, provider, keys, now)?;
    Ok(json!({
        "valid": true,
        "header": verified.header.raw,
        "claims": verified.claims.raw,
        "alg": verified.alg.name(),
        "kid": verified.kid,
    }))
}

fn explain_value(
    token: &JsValue,
    config: &JsValue,
    request: &JsValue,
    options: &JsValue,
) -> Result<Value, Failure> {
    let token = input::optional_token(token)?;
    let config =
        Config::parse(input::document(config, "config")?.as_bytes()).map_err(Failure::Config)?;
    let (method, path) = input::request(request)?;
    let Options { now, rest } = Options::read(options)?;
    let supplied = Supplied::read(&config, &rest)?;
    let authorization = token.map(|t| format!("Bearer {t}"));
    let request = Request {
        method: &method,
        path: &path,
        authorization: authorization.as_deref(),
    };
    let explanation = verifier_core::explain(&config, &supplied, &request, now);
    serde_json::to_value(explanation)
        .map_err(|_| Failure::Internal("the explanation could not be serialised"))
}
