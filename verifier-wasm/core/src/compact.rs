//! The JWS compact serialization (RFC 7515 §7.1): three canonical base64url segments.

use alloc::vec::Vec;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::VerifyError;
use crate::limits::MAX_TOKEN_BYTES;

/// A token split into its decoded parts. Nothing in it is trusted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compact<'t> {
    /// The decoded protected header (JSON bytes, not yet parsed).
    pub header: Vec<u8>,
    /// The decoded payload (JSON bytes, not yet parsed).
    pub payload: Vec<u8>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`: the bytes the signature covers.
    pub signing_input: &'t [u8],
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS, refusing anything but exactly three canonical segments.
pub fn split(token: &str) -> Result<Compact<'_>, VerifyError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(VerifyError::TokenTooLarge {
            len: token.len(),
            max: MAX_TOKEN_BYTES,
        });
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("a compact JWS has exactly three segments"));
    };
    // An empty signature is left to the algorithm check: `alg: none` with no signature is the
    // classic unsecured-JWT attack (RFC 7519 §6.1), and it should be reported as such.
    if h.is_empty() {
        return Err(malformed("empty header segment"));
    }
    Ok(Compact {
        header: decode(h)?,
        payload: decode(p)?,
        signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
        signature: decode(s)?,
    })
}

/// Decodes canonical base64url: no padding, no whitespace, no stray trailing bits (RFC 7515 §2).
pub fn decode(segment: &str) -> Result<Vec<u8>, VerifyError> {
    // The engine's defaults refuse padding and non-zero trailing bits, which makes the
    // encoding canonical: one byte string has exactly one accepted text.
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| malformed("a segment is not canonical base64url"))
}

fn malformed(reason: &'static str) -> VerifyError {
    VerifyError::TokenMalformed { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_three_segments() {
        let c = split("eyJhIjoxfQ.eyJiIjoyfQ.c2ln").unwrap();
        assert_eq!(c.header, br#"{"a":1}"#);
        assert_eq!(c.payload, br#"{"b":2}"#);
        assert_eq!(c.signing_input, b"eyJhIjoxfQ.eyJiIjoyfQ");
        assert_eq!(c.signature, b"sig");
        assert!(
            split("eyJhIjoxfQ.eyJiIjoyfQ.")
                .unwrap()
                .signature
                .is_empty()
        );
    }

    #[test]
    fn refuses_wrong_segment_counts() {
        for t in ["", "a", "a.b", "a.b.c.d", ".eyJiIjoyfQ.c2ln"] {
            assert_eq!(split(t).unwrap_err().code(), "token_malformed", "{t}");
        }
    }

    #[test]
    fn refuses_non_canonical_base64url() {
        // padding, whitespace, standard alphabet, stray bits ("c2lo" decodes; "c2lp" has the same
        // bytes with a non-zero trailing bit in the short form "c2k" vs "c2l").
        for seg in ["c2ln=", "c2 ln", "c2l+", "c2l/", "c2l\n", "c2m"] {
            assert!(decode(seg).is_err(), "{seg:?} should be refused");
        }
        assert_eq!(decode("c2k").unwrap(), b"si");
    }

    #[test]
    fn refuses_oversized_tokens_before_parsing() {
        let big = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(split(&big).unwrap_err().code(), "token_too_large");
    }
}
