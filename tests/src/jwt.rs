//! Looking inside tokens and tampering with them, in the spirit of rustls's `transfer_altered`: the
//! helpers change one thing and keep everything else byte for byte.
//!
//! Nothing here verifies anything.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The three segments of a compact JWS; panics if `token` does not have exactly three.
pub fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.as_slice() {
        [header, payload, signature] => [header, payload, signature],
        _ => panic!("not a compact JWS (expected 3 segments): {token:?}"),
    }
}

fn decode_object(segment: &str, what: &str) -> Map<String, Value> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap_or_else(|err| panic!("{what} is not base64url: {err}"));
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => map,
        other => panic!("{what} is not a JSON object: {other:?}"),
    }
}

fn encode_object(object: &Map<String, Value>) -> String {
    URL_SAFE_NO_PAD.encode(Value::Object(object.clone()).to_string())
}

/// The JOSE header, unverified.
pub fn header(token: &str) -> Map<String, Value> {
    decode_object(segments(token)[0], "the JOSE header")
}

/// The claims, unverified.
pub fn claims(token: &str) -> Map<String, Value> {
    decode_object(segments(token)[1], "the payload")
}

/// Replaces one character in the middle of the signature segment with another base64url character.
/// The result is still canonical base64url (the last character, which carries padding bits, is left
/// alone), so a verifier has to check the signature to notice.
pub fn tamper_signature(token: &str) -> String {
    let [header, payload, signature] = segments(token);
    let mut chars: Vec<char> = signature.chars().collect();
    assert!(
        chars.len() > 4,
        "signature segment too short: {signature:?}"
    );
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let signature: String = chars.into_iter().collect();
    format!("{header}.{payload}.{signature}")
}

/// Re-encodes the payload after `change`, keeping the header and signature segments as they were.
pub fn with_claims(token: &str, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let [header, payload, signature] = segments(token);
    let mut claims = decode_object(payload, "the payload");
    change(&mut claims);
    format!("{header}.{}.{signature}", encode_object(&claims))
}

/// Re-encodes the header after `change`, keeping the payload and signature segments as they were.
pub fn with_header(token: &str, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let [header, payload, signature] = segments(token);
    let mut object = decode_object(header, "the JOSE header");
    change(&mut object);
    format!("{}.{payload}.{signature}", encode_object(&object))
}

/// The token with `"alg": "none"` and an empty signature (RFC 7519 §6.1 "unsecured JWT"), the
/// textbook attack.
pub fn unsecured(token: &str) -> String {
    let with_none = with_header(token, |h| {
        h.insert("alg".into(), Value::from("none"));
    });
    let [header, payload, _] = segments(&with_none);
    format!("{header}.{payload}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7515 appendix A.3 (ES256), as a fixed token to tamper with.
    const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

    #[test]
    fn tampering_changes_only_the_named_part() {
        let [h, p, s] = segments(TOKEN);
        let bad_sig = tamper_signature(TOKEN);
        let [h2, p2, s2] = segments(&bad_sig);
        assert_eq!((h, p), (h2, p2));
        assert_ne!(s, s2);
        assert_eq!(s.len(), s2.len());
        assert!(URL_SAFE_NO_PAD.decode(s2).is_ok());

        let bad_claims = with_claims(TOKEN, |c| {
            c.insert("iss".into(), "mallory".into());
        });
        let [h3, _, s3] = segments(&bad_claims);
        assert_eq!((h, s), (h3, s3));
        assert_eq!(claims(&bad_claims)["iss"], "mallory");

        let none = unsecured(TOKEN);
        assert_eq!(header(&none)["alg"], "none");
        assert!(none.ends_with('.'));
        assert_eq!(segments(&none)[1], p);
    }
}
