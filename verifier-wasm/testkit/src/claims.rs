//! The fixture claim set and ways to change it.

use serde_json::{Value, json};

use crate::{AUDIENCE, ISSUER, NOW};

/// A complete RFC 9068 claim set, valid at [`NOW`], with scope `instruments:read`.
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "svc.warehouse",
        "aud": AUDIENCE,
        "client_id": "warehouse",
        "iat": NOW - 10,
        "exp": NOW + 290,
        "jti": "4f1c2a0e-jti",
        "scope": "instruments:read",
    })
}

/// [`claims`] with some members replaced (a `null` in `changes` REMOVES the member).
pub fn claims_with(changes: Value) -> Value {
    let mut c = claims();
    merge(&mut c, changes);
    c
}

/// Shallow merge: members of `changes` replace those of `target`; `null` removes.
pub fn merge(target: &mut Value, changes: Value) {
    let target = target.as_object_mut().expect("object");
    for (name, value) in changes.as_object().expect("object").clone() {
        if value.is_null() {
            target.remove(&name);
        } else {
            target.insert(name, value);
        }
    }
}

/// The JSON text of [`claims`] with `name` set to the raw JSON text `raw`, verbatim (for values
/// `serde_json` would not write: huge numbers, odd spellings).
pub fn claims_text_with(name: &str, raw: &str) -> String {
    let mut c = claims();
    c.as_object_mut().unwrap().remove(name);
    let text = c.to_string();
    format!("{},\"{name}\":{raw}}}", &text[..text.len() - 1])
}

/// JSON nested `depth` levels deep: `depth` arrays around a 0 (`depth == 0` is just `0`).
pub fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(0), |inner, _| json!([inner]))
}

/// The RFC 8693 `act` claim naming `actors`, outermost (current) first, each an `ai_agent`.
pub fn act(actors: &[&str]) -> Value {
    actors.iter().rev().fold(Value::Null, |inner, actor| {
        let mut node = json!({"sub": actor, "sub_profile": "ai_agent"});
        if !inner.is_null() {
            node["act"] = inner;
        }
        node
    })
}

/// Changes that make [`claims`] a token exchanged by `actors` (outermost first) from tokens
/// with the jtis `ancestors` (nearest first): `act`, `client_id` the current actor, and
/// `ancestor_jtis`.
pub fn delegated(actors: &[&str], ancestors: &[&str]) -> Value {
    json!({
        "act": act(actors),
        "client_id": actors.first().copied().unwrap_or_default(),
        "sub_profile": "service",
        "ancestor_jtis": ancestors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_replace_add_and_remove_members() {
        let c = claims_with(json!({"scope": "x", "nbf": 1, "jti": null}));
        assert_eq!(
            (c["scope"].as_str(), c["nbf"].as_u64()),
            (Some("x"), Some(1))
        );
        assert!(c.get("jti").is_none());
        let raw: Value = serde_json::from_str(&claims_text_with("exp", "1e3")).unwrap();
        assert_eq!(raw["exp"].as_f64(), Some(1000.0));
        assert_eq!(nested(2), json!([[0]]));
    }
}
