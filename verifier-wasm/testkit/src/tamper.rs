//! Looking inside tokens and tampering with them, in the spirit of rustls' `transfer_altered`:
//! take a good token, change one thing, keep everything else byte for byte (the old signature
//! included). Nothing here verifies anything.

use serde_json::{Map, Value};

use crate::{b64, unb64};

/// The three segments of a compact JWS; panics if `token` does not have exactly three.
pub fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.as_slice() {
        [header, payload, signature] => [header, payload, signature],
        _ => panic!("not a compact JWS (expected 3 segments): {token:?}"),
    }
}

/// The JSON of segment `index` (0 the header, 1 the payload), unverified.
pub fn decode_segment(token: &str, index: usize) -> Value {
    let what = ["the JOSE header", "the payload", "the signature"][index];
    serde_json::from_slice(&unb64(segments(token)[index]))
        .unwrap_or_else(|err| panic!("{what} is not JSON: {err}"))
}

fn object(value: Value, what: &str) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("{what} is not a JSON object: {other:?}"),
    }
}

/// The JOSE header, unverified.
pub fn decode_header(token: &str) -> Map<String, Value> {
    object(decode_segment(token, 0), "the JOSE header")
}

/// The claims, unverified.
pub fn decode_claims(token: &str) -> Map<String, Value> {
    object(decode_segment(token, 1), "the payload")
}

/// The token with one bit of signature byte `index` flipped.
pub fn flip_signature_byte(token: &str, index: usize) -> String {
    let [h, p, s] = segments(token);
    let mut signature = unb64(s);
    signature[index] ^= 0x01;
    format!("{h}.{p}.{}", b64(signature))
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

/// The token with its signature replaced by these bytes.
pub fn with_signature(token: &str, signature: &[u8]) -> String {
    let [h, p, _] = segments(token);
    format!("{h}.{p}.{}", b64(signature))
}

/// The token with its header changed by `f`; the old signature is kept.
pub fn alter_header(token: &str, f: impl FnOnce(&mut Value)) -> String {
    let [_, p, s] = segments(token);
    let mut header = decode_segment(token, 0);
    f(&mut header);
    format!("{}.{p}.{s}", b64(header.to_string()))
}

/// The token with its claims changed by `f`; the old signature is kept.
pub fn alter_payload(token: &str, f: impl FnOnce(&mut Value)) -> String {
    let [h, _, s] = segments(token);
    let mut claims = decode_segment(token, 1);
    f(&mut claims);
    format!("{h}.{}.{s}", b64(claims.to_string()))
}

/// The token with segment `index` (0, 1 or 2) replaced by `f(segment)`; nothing is re-signed.
pub fn alter_segment(token: &str, index: usize, f: impl FnOnce(&str) -> String) -> String {
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    parts[index] = f(&parts[index]);
    parts.join(".")
}

/// The token with `"alg": "none"` and an empty signature (RFC 7519 §6.1 "unsecured JWT"), the
/// textbook attack.
pub fn unsecured(token: &str) -> String {
    let with_none = alter_header(token, |h| h["alg"] = Value::from("none"));
    let [header, payload, _] = segments(&with_none);
    format!("{header}.{payload}.")
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from a fixed-size ECDSA `r || s`: what Java and
/// OpenSSL write, and never a JWS signature.
pub fn der_signature(raw: &[u8]) -> Vec<u8> {
    let half = raw.len() / 2;
    let integer = |bytes: &[u8]| {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
        let mut value = if trimmed.first().is_some_and(|&b| b & 0x80 != 0) {
            vec![0]
        } else {
            vec![]
        };
        value.extend(trimmed);
        let mut out = vec![0x02, value.len() as u8];
        out.extend(value);
        out
    };
    let body = [integer(&raw[..half]), integer(&raw[half..])].concat();
    let mut der = vec![0x30];
    if body.len() >= 0x80 {
        der.push(0x81);
    }
    der.push(body.len() as u8);
    der.extend(body);
    der
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7515 appendix A.3 (ES256), as a fixed token to tamper with.
    const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

    #[test]
    fn each_tamperer_changes_only_its_part() {
        let [h, p, s] = segments(TOKEN);
        let flipped = flip_signature_byte(TOKEN, 3);
        assert_eq!(segments(&flipped)[..2], [h, p]);
        assert_ne!(segments(&flipped)[2], s);
        let altered = alter_payload(TOKEN, |c| c["iss"] = "mallory".into());
        assert_eq!((segments(&altered)[0], segments(&altered)[2]), (h, s));
        assert_eq!(decode_claims(&altered)["iss"], "mallory");
        let altered = alter_header(TOKEN, |h| h["kid"] = "k".into());
        assert_eq!(segments(&altered)[1..], [p, s]);
        assert_eq!(decode_header(&altered)["kid"], "k");
        assert_eq!(
            alter_segment(TOKEN, 2, |_| "x".into()),
            format!("{h}.{p}.x")
        );
    }

    #[test]
    fn der_signatures_use_the_long_form_only_when_needed() {
        let short = der_signature(&[0x80; 64]);
        assert_eq!(&short[..4], [0x30, 0x46, 0x02, 0x21]);
        let long = der_signature(&[0x80; 132]);
        assert_eq!(&long[..3], [0x30, 0x81, 0x8a]);
    }
}
