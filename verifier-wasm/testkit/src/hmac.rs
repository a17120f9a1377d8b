//! HS tokens keyed with anything: what an attacker signs in the algorithm-confusion attack.

use serde_json::json;

use crate::{b64, claims};

/// HMAC (RFC 2104) with SHA-256, SHA-384 or SHA-512 (`alg` HS256, HS384, HS512), written out so
/// that any key, however short, can be used (jwt-simple refuses keys shorter than the hash).
pub fn hmac(alg: &str, key: &[u8], message: &[u8]) -> Vec<u8> {
    fn mac<D: sha2::Digest>(block: usize, key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut k = if key.len() > block {
            D::digest(key).to_vec()
        } else {
            key.to_vec()
        };
        k.resize(block, 0);
        let pad = |byte: u8| k.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
        let inner = D::new()
            .chain_update(pad(0x36))
            .chain_update(message)
            .finalize();
        D::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize()
            .to_vec()
    }
    match alg {
        "HS256" => mac::<sha2::Sha256>(64, key, message),
        "HS384" => mac::<sha2::Sha384>(128, key, message),
        "HS512" => mac::<sha2::Sha512>(128, key, message),
        other => panic!("{other}"),
    }
}

/// An HS token over [`claims`] with the issuer's header for `alg` and `kid`, keyed with `secret`.
pub fn hs_token(alg: &str, kid: &str, secret: &[u8]) -> String {
    let header = json!({"alg": alg, "typ": "at+jwt", "kid": kid});
    let input = format!("{}.{}", b64(header.to_string()), b64(claims().to_string()));
    format!("{input}.{}", b64(hmac(alg, secret, input.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_test_case_2() {
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let mac = hmac("HS256", b"Jefe", b"what do ya want for nothing?");
        assert_eq!(crate::hex(&mac), expected);
    }
}
