//! Tokens minted by jwt-simple, the JOSE implementation the issuer uses, over the fixture claims.

use jwt_simple::prelude::{Claims, Duration, HeaderOptions, JWTClaims, RS256KeyPair};

use crate::{AUDIENCE, ISSUER, NOW};

/// The issuer's custom claims, as jwt-simple serializes them beside the registered ones.
#[derive(serde::Serialize)]
pub struct JwtSimpleAccessClaims {
    /// `client_id`.
    pub client_id: String,
    /// `scope`.
    pub scope: String,
}

/// The claims of [`claims`](crate::claims) with this `scope`, as a jwt-simple claim set
/// (issued at [`NOW`], 300 s, `nbf` = `iat`).
pub fn jwt_simple_claims(scope: &str) -> JWTClaims<JwtSimpleAccessClaims> {
    let custom = JwtSimpleAccessClaims {
        client_id: "warehouse".into(),
        scope: scope.into(),
    };
    let mut c = Claims::with_custom_claims(custom, Duration::from_secs(300))
        .with_issuer(ISSUER)
        .with_subject("svc.warehouse")
        .with_audience(AUDIENCE)
        .with_jwt_id("3c0d4a57-jti");
    // jwt-simple stamps the wall clock; pin it to the test clock.
    c.issued_at = Some(Duration::from_secs(NOW));
    c.invalid_before = Some(Duration::from_secs(NOW));
    c.expires_at = Some(Duration::from_secs(NOW + 300));
    c
}

/// jwt-simple header options for `typ: "at+jwt"`.
pub fn jwt_simple_at_jwt() -> HeaderOptions {
    HeaderOptions {
        signature_type: Some("at+jwt".into()),
        ..Default::default()
    }
}

/// Mints a token over `claims` (`typ: at+jwt`) with the jwt-simple key pair `pair` under its
/// RFC 7638 thumbprint as `kid`, as the issuer does; gives `(kid, token, public JWK as JSON)`.
///
/// A macro because jwt-simple's key pair types share no trait; the caller needs
/// `jwt_simple::prelude::*` in scope and `serde_json` among its dependencies.
#[macro_export]
macro_rules! jwt_simple_mint {
    ($pair:expr, $claims:expr) => {{
        let pair = $pair;
        let kid = pair.public_key().jwk_thumbprint();
        let pair = pair.with_key_id(&kid);
        let token = pair
            .sign_with_options($claims, &$crate::jwt_simple_at_jwt())
            .expect("jwt-simple signs");
        let jwk: ::serde_json::Value =
            ::serde_json::from_str(&pair.public_key().to_jwk()).expect("jwt-simple exports JSON");
        (kid, token, jwk)
    }};
}

/// jwt-simple's view of the RSA test key (the key of [`Signer::rs256`](crate::Signer::rs256)).
pub fn rs256_jwt_simple_pair() -> &'static RS256KeyPair {
    use rsa::pkcs8::EncodePrivateKey as _;
    static PAIR: std::sync::OnceLock<RS256KeyPair> = std::sync::OnceLock::new();
    PAIR.get_or_init(|| {
        let der = crate::signer::rsa_key()
            .to_pkcs8_der()
            .expect("RSA key export");
        RS256KeyPair::from_der(der.as_bytes()).expect("RSA key import")
    })
}

#[cfg(test)]
mod tests {
    use jwt_simple::prelude::*;

    use crate::{Signer, code, jwt_simple_claims, provider, public_jwk, rs256_jwt_simple_pair};

    #[test]
    fn jwt_simple_and_the_signer_share_the_rsa_key() {
        let (kid, token, jwk) = jwt_simple_mint!(
            rs256_jwt_simple_pair().clone(),
            jwt_simple_claims("instruments:read")
        );
        assert_eq!(public_jwk(&jwk).unwrap().thumbprint(), kid);
        assert_eq!(public_jwk(&jwk), public_jwk(&Signer::rs256().jwk()));
        assert_eq!(code(&token, &provider(&[jwk])), "valid");
    }
}
