//! JavaScript values in, JSON out: the only place this crate touches `JsValue`s.
//!
//! Objects are read through `JSON.stringify` and the core's own parsers, so an object and its JSON
//! text are one input, held to the same limits.

use serde_json::{Map, Value};
use verifier_core::VerifyError;
use wasm_bindgen::JsValue;

use crate::failure::Failure;

/// The token argument, which must be a string.
pub(crate) fn token(value: &JsValue) -> Result<String, Failure> {
    value
        .as_string()
        .ok_or(Failure::Verify(VerifyError::TokenMalformed {
            reason: "the token is not a string",
        }))
}

/// The token argument of `explain`: `null`, `undefined` or `""` mean "no token".
pub(crate) fn optional_token(value: &JsValue) -> Result<Option<String>, Failure> {
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    token(value).map(|t| Some(t).filter(|t| !t.is_empty()))
}

/// A JSON document given as text or as an object, as text.
pub(crate) fn document(value: &JsValue, name: &str) -> Result<String, Failure> {
    if let Some(text) = value.as_string() {
        return Ok(text);
    }
    if value.is_object() {
        if let Some(text) = js_sys::JSON::stringify(value)
            .ok()
            .and_then(|t| t.as_string())
        {
            return Ok(text);
        }
    }
    Err(Failure::Options(format!(
        "{name} must be a JSON string or an object"
    )))
}

/// An optional object argument as a JSON object (`undefined` and `null` are empty).
fn object(value: &JsValue, name: &str) -> Result<Map<String, Value>, Failure> {
    if value.is_null() || value.is_undefined() {
        return Ok(Map::new());
    }
    let text = document(value, name)?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Failure::Options(format!("{name} must be an object"))),
    }
}

/// `{method, path}` of `explain`; the method defaults to `GET`.
pub(crate) fn request(value: &JsValue) -> Result<(String, String), Failure> {
    let mut request = object(value, "request")?;
    let method = match request.remove("method") {
        None | Some(Value::Null) => "GET".to_owned(),
        // As sent: the filter compares methods case-sensitively, as Envoy's route matching does.
        Some(Value::String(m)) if !m.is_empty() => m,
        Some(_) => return Err(Failure::Options("request.method must be a string".into())),
    };
    let path = match request.remove("path") {
        Some(Value::String(p)) if p.starts_with('/') => p,
        _ => {
            return Err(Failure::Options(
                "request.path must be a string starting with /".into(),
            ));
        }
    };
    if let Some(name) = request.keys().next() {
        return Err(Failure::Options(format!(
            "request.{name} is not a known member (method, path)"
        )));
    }
    Ok((method, path))
}

/// The options object: `now` taken out, the rest left for the caller.
pub(crate) struct Options {
    /// The time to verify at, in Unix seconds: `options.now`, or the host's clock.
    pub(crate) now: u64,
    /// Every other member.
    pub(crate) rest: Map<String, Value>,
}

impl Options {
    /// Reads `options`; `now` must be a finite non-negative number when given.
    pub(crate) fn read(value: &JsValue) -> Result<Options, Failure> {
        let mut rest = object(value, "options")?;
        let now = match rest.remove("now") {
            None => clock_now(),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|n| n.is_finite() && *n >= 0.0)
                // Whole seconds, as the filter's clock: a fraction cannot change a decision
                // the skew allowance does not already cover.
                .map(|n| n as u64)
                .ok_or_else(now_invalid)?,
            Some(_) => return Err(now_invalid()),
        };
        Ok(Options { now, rest })
    }
}

fn now_invalid() -> Failure {
    Failure::Options("options.now must be a finite non-negative number of seconds".into())
}

/// The host's clock, in whole Unix seconds: the only clock read in the package.
fn clock_now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// A JSON value as a plain JavaScript value.
pub(crate) fn to_js(value: &Value) -> JsValue {
    serde_json::to_string(value)
        .ok()
        .and_then(|text| js_sys::JSON::parse(&text).ok())
        .unwrap_or(JsValue::NULL)
}
