//! Strict JSON: duplicate member names and excessive nesting are errors, not silently resolved.
//!
//! serde_json keeps the last of two duplicate members; a JOSE header or claim set whose meaning
//! depends on which parser read it is a known attack (RFC 7515 §4, RFC 8725 §3.9), so we refuse it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Not JSON, trailing data, a duplicate member, or too deep.
    Invalid,
    /// Nested deeper than allowed.
    TooDeep,
    /// Two members with the same name.
    Duplicate,
}

impl JsonError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            JsonError::Invalid => "not valid JSON",
            JsonError::TooDeep => "JSON nested too deeply",
            JsonError::Duplicate => "duplicate JSON member name",
        }
    }
}

/// Parses `bytes` as one JSON value, refusing duplicates, nesting beyond `max_depth` and trailing data.
pub(crate) fn parse(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut failure = None;
    let seed = Strict {
        depth: 0,
        max_depth,
        failure: &mut failure,
    };
    let value = seed.deserialize(&mut de);
    match (value, failure) {
        (_, Some(kind)) => Err(kind),
        (Err(_), None) => Err(JsonError::Invalid),
        (Ok(value), None) => de.end().map(|()| value).map_err(|_| JsonError::Invalid),
    }
}

/// Parses `bytes` as a JSON object.
pub(crate) fn parse_object(
    bytes: &[u8],
    max_depth: usize,
) -> Result<Map<String, Value>, JsonError> {
    match parse(bytes, max_depth)? {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::Invalid),
    }
}

/// Reads one JSON value with the same strictness as [`parse`], for readers that walk the outer
/// levels of a document themselves (the revocation feed): `depth` is how deeply the value is
/// nested already, so the document as a whole stays within `max_depth`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueAt {
    /// Levels the value is nested in.
    pub(crate) depth: usize,
    /// Deepest nesting allowed in the whole document.
    pub(crate) max_depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueAt {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        // The cause also travels in the error's own text, which is all such readers report.
        let mut failure = None;
        Strict {
            depth: self.depth,
            max_depth: self.max_depth,
            failure: &mut failure,
        }
        .deserialize(deserializer)
    }
}

struct Strict<'f> {
    depth: usize,
    max_depth: usize,
    // serde errors are opaque strings; the precise cause travels beside them.
    failure: &'f mut Option<JsonError>,
}

impl Strict<'_> {
    fn nested(&mut self) -> Strict<'_> {
        Strict {
            depth: self.depth + 1,
            max_depth: self.max_depth,
            failure: self.failure,
        }
    }

    fn fail<E: de::Error>(&mut self, kind: JsonError) -> E {
        *self.failure = Some(kind);
        E::custom(kind.reason())
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| self.fail(JsonError::Invalid))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth >= self.max_depth {
            return Err(self.fail(JsonError::TooDeep));
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.nested())? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        if self.depth >= self.max_depth {
            return Err(self.fail(JsonError::TooDeep));
        }
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.nested())?;
            if members.insert(name, value).is_some() {
                return Err(self.fail(JsonError::Duplicate));
            }
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_documents() {
        let v = parse(br#"{"a":[1,2.5,"x",null,true],"b":{"c":{}}}"#, 16).unwrap();
        assert_eq!(v["a"][1], 2.5);
    }

    #[test]
    fn refuses_duplicate_members_at_any_depth() {
        assert_eq!(
            parse(br#"{"alg":"ES256","alg":"none"}"#, 16),
            Err(JsonError::Duplicate)
        );
        assert_eq!(
            parse(br#"{"a":{"b":1,"b":2}}"#, 16),
            Err(JsonError::Duplicate)
        );
        assert!(parse(br#"{"a":{"b":1},"c":{"b":2}}"#, 16).is_ok());
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = alloc::format!("{}{}", "[".repeat(17), "]".repeat(17));
        assert_eq!(parse(deep.as_bytes(), 16), Err(JsonError::TooDeep));
        let ok = alloc::format!("{}{}", "[".repeat(16), "]".repeat(16));
        assert!(parse(ok.as_bytes(), 16).is_ok());
        // Far beyond serde_json's own recursion limit: still an error, never a stack overflow.
        let huge = "[".repeat(100_000);
        assert!(parse(huge.as_bytes(), 16).is_err());
    }

    #[test]
    fn refuses_trailing_data_and_non_json() {
        assert_eq!(parse(br#"{"a":1} x"#, 16), Err(JsonError::Invalid));
        assert_eq!(parse(br#"{"a":1}{"a":2}"#, 16), Err(JsonError::Invalid));
        assert_eq!(parse(b"\xff", 16), Err(JsonError::Invalid));
        assert_eq!(parse_object(b"[1]", 16), Err(JsonError::Invalid));
    }
}
