//! Token verification: the order of checks, from cheapest to dearest.
//!
//! Structure, header, algorithm and `typ` are checked before any key is looked at, so garbage
//! costs microseconds and never waits for keys. The signature is checked before any claim, so an
//! expired token under a wrong key reports `signature_invalid`, never facts an attacker chose.

use alloc::boxed::Box;
use alloc::string::String;

use crate::alg::Algorithm;
use crate::claims::Claims;
use crate::compact::{self, Compact};
use crate::error::VerifyError;
use crate::header::Header;
use crate::jwks::Jwks;
use crate::policy::Provider;

/// A token whose structure and header passed, not yet checked against any key.
#[derive(Debug, Clone)]
pub struct Unverified<'t> {
    compact: Compact<'t>,
    /// The parsed header.
    pub header: Header,
    /// The algorithm the provider allows and the token asked for.
    pub alg: Algorithm,
}

/// A token that verified: signature, header and claims all passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The protected header.
    pub header: Header,
    /// The claims.
    pub claims: Claims,
    /// The algorithm it was verified with.
    pub alg: Algorithm,
    /// The `kid` of the key that verified it.
    pub kid: Option<String>,
}

impl<'t> Unverified<'t> {
    /// The checks that need no key: size, structure, header members, algorithm and `typ`.
    pub fn parse(token: &'t str, provider: &Provider) -> Result<Unverified<'t>, VerifyError> {
        let compact = compact::split(token)?;
        let header = Header::parse(&compact.header)?;
        let alg = header.algorithm(provider)?;
        header.check_typ(provider)?;
        Ok(Unverified {
            compact,
            header,
            alg,
        })
    }

    /// Finds the key, checks the signature, then the claims at time `now` (Unix seconds).
    pub fn verify(
        self,
        provider: &Provider,
        jwks: &Jwks,
        now: u64,
    ) -> Result<Verified, VerifyError> {
        self.verify_reporting(provider, jwks, now)
            .map_err(|failure| failure.error)
    }

    /// [`verify`](Self::verify), keeping the claims of a token whose signature held but whose
    /// claims did not, so the denial can be logged with who it was.
    pub(crate) fn verify_reporting(
        self,
        provider: &Provider,
        jwks: &Jwks,
        now: u64,
    ) -> Result<Verified, Failure> {
        let kid = self.header.kid.clone();
        let kid = kid.as_deref();
        let mut candidates = jwks.candidates(kid, self.alg).peekable();
        let unknown = || VerifyError::KidUnknown {
            kid: kid.map(String::from),
            alg: self.alg.name(),
        };
        if candidates.peek().is_none() {
            return Err(unknown().into());
        }
        let key = if kid.is_some() {
            // Several keys may share a kid across a rotation; any one of them may have signed.
            candidates.find(|k| {
                k.key.verify(
                    self.alg,
                    self.compact.signing_input,
                    &self.compact.signature,
                )
            })
        } else {
            // Without a kid, one key must stand alone (as jose does): trying every key in turn
            // would let one request cost as many verifications as the set has keys.
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Some(only).filter(|k| {
                    k.key.verify(
                        self.alg,
                        self.compact.signing_input,
                        &self.compact.signature,
                    )
                }),
                _ => return Err(unknown().into()),
            }
        };
        let key = key.ok_or(VerifyError::SignatureInvalid)?;
        let kid = key.kid.clone();
        let claims = Claims::parse(&self.compact.payload)?;
        if let Err(error) = claims.validate(provider, now) {
            return Err(Failure {
                error,
                claims: Some(Box::new(claims)),
            });
        }
        Ok(Verified {
            header: self.header,
            claims,
            alg: self.alg,
            kid,
        })
    }
}

/// Why [`Unverified::verify_reporting`] refused a token.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: VerifyError,
    /// The claims, when the signature verified and only they failed.
    pub(crate) claims: Option<Box<Claims>>,
}

impl From<VerifyError> for Failure {
    fn from(error: VerifyError) -> Failure {
        Failure {
            error,
            claims: None,
        }
    }
}

/// Verifies `token` for `provider` against `jwks` at time `now` (Unix seconds).
pub fn verify(
    token: &str,
    provider: &Provider,
    jwks: &Jwks,
    now: u64,
) -> Result<Verified, VerifyError> {
    Unverified::parse(token, provider)?.verify(provider, jwks, now)
}
