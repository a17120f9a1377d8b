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
mod path;
mod supplied;

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{Value, json};
use verifier_core::{Config, Provider, Request};
use wasm_bindgen::prelude::*;

use crate::failure::Failure;
use crate::input::Options;
use crate::supplied::Supplied;

/// Name of the provider `verify` builds from its options.
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
/// The path is first normalised as Envoy does (`request.normalised_path` in the answer).
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

thread_local! {
    /// The provider `verify` built last, keyed by the JWKS and options it was built from: a page
    /// that verifies many tokens against one key set parses it (and builds an ES256 key's table)
    /// once, as the filter does, instead of on every call.
    static LAST_PROVIDER: RefCell<Option<(String, Rc<Provider>)>> = const { RefCell::new(None) };
}

/// The provider `verify` checks against (its options, with the JWKS as `local_jwks`), from the
/// cache when the JWKS and options are the same as last time.
fn verify_provider(
    jwks: String,
    options: serde_json::Map<String, Value>,
) -> Result<Rc<Provider>, Failure> {
    let mut key = Value::Object(options.clone()).to_string();
    key.push('\n');
    key.push_str(&jwks);
    let cached = LAST_PROVIDER.with(|last| {
        last.borrow()
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, provider)| Rc::clone(provider))
    });
    if let Some(provider) = cached {
        return Ok(provider);
    }
    let mut fields = options;
    fields.insert("local_jwks".into(), Value::String(jwks.clone()));
    let provider = Provider::from_value(VERIFY_PROVIDER, &Value::Object(fields))
        .map_err(|e| Failure::options(e, &jwks))?;
    let provider = Rc::new(provider);
    LAST_PROVIDER.with(|last| *last.borrow_mut() = Some((key, Rc::clone(&provider))));
    Ok(provider)
}

fn verify_value(token: &JsValue, jwks: &JsValue, options: &JsValue) -> Result<Value, Failure> {
    let token = input::token(token)?;
    let jwks = input::document(jwks, "jwks")?;
    let Options { now, rest } = Options::read(options)?;
    let provider = verify_provider(jwks, rest)?;
    let keys = provider.local_jwks().ok_or(Failure::Internal(
        "the provider built from options has no local keys",
    ))?;
    let verified = verifier_core::verify(&token, &provider, keys, now)?;
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
    let (method, sent_path) = input::request(request)?;
    let path = path::normalise(&sent_path);
    let Options { now, rest } = Options::read(options)?;
    let supplied = Supplied::read(&config, &rest)?;
    let authorization = token.map(|t| format!("Bearer {t}"));
    let request = Request {
        method: &method,
        path: &path,
        authorization: authorization.as_deref(),
    };
    let explanation = verifier_core::explain(&config, &supplied, &request, now);
    let mut answer = serde_json::to_value(explanation)
        .map_err(|_| Failure::Internal("the explanation could not be serialised"))?;
    if let Value::Object(answer) = &mut answer {
        // The path the rules were matched against, when Envoy's normalisation changed it.
        answer.insert(
            "request".into(),
            json!({"method": method, "path": sent_path, "normalised_path": path}),
        );
    }
    Ok(answer)
}
