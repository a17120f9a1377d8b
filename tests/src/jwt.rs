//! Looking inside tokens and tampering with them, in the spirit of rustls's `transfer_altered`: the
//! helpers change one thing and keep everything else byte for byte. They are the test kit's
//! (`verifier-testkit`), under the names these tests use.
//!
//! Nothing here verifies anything.

use serde_json::{Map, Value};
pub use verifier_testkit::{decode_claims as claims, decode_header as header};
pub use verifier_testkit::{segments, tamper_signature, unsecured};

/// Re-encodes the payload after `change`, keeping the header and signature segments as they were.
pub fn with_claims(token: &str, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    verifier_testkit::alter_payload(token, |claims| change(object(claims, "the payload")))
}

/// Re-encodes the header after `change`, keeping the payload and signature segments as they were.
pub fn with_header(token: &str, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    verifier_testkit::alter_header(token, |header| change(object(header, "the JOSE header")))
}

fn object<'v>(value: &'v mut Value, what: &str) -> &'v mut Map<String, Value> {
    value
        .as_object_mut()
        .unwrap_or_else(|| panic!("{what} is not a JSON object"))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
