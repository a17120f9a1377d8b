//! The verified caller, as the gateway forwards it upstream.

use alloc::string::String;
use alloc::vec::Vec;

use crate::claims::Claims;
use crate::delegation::Delegation;
use crate::revocation::client_of;

/// The verified caller, as forwarded upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`: sent as `x-auth-subject`; for a delegated token, the principal at the root of the
    /// chain.
    pub subject: String,
    /// `client_id`: sent as `x-auth-client-id` when present.
    pub client_id: Option<String>,
    /// `scope`: sent as `x-auth-scope` (may be empty).
    pub scope: String,
    /// `iss`: sent as `x-auth-issuer`.
    pub issuer: String,
    /// `sub_profile`: what kind of principal the subject is, if the token says.
    pub profile: Option<String>,
    /// Who acts for the subject, for a delegated token: sent as `x-auth-actor` (the current
    /// actor) and `x-auth-actor-chain`.
    pub delegation: Option<Delegation>,
}

/// Identity headers the filter sets, and removes from every incoming request.
pub const IDENTITY_HEADERS: [&str; 6] = [
    "x-auth-subject",
    "x-auth-client-id",
    "x-auth-scope",
    "x-auth-issuer",
    "x-auth-actor",
    "x-auth-actor-chain",
];

impl Identity {
    /// The identity a verified token's claims carry.
    pub fn from_claims(claims: Claims) -> Identity {
        Identity {
            // validate() has required iss; sub is required by the access-token profile. A
            // third-party token without sub is forwarded with an empty subject rather than a
            // guessed one.
            subject: claims.sub.unwrap_or_default(),
            client_id: claims.client_id,
            scope: claims.scope.unwrap_or_default(),
            issuer: claims.iss.unwrap_or_default(),
            profile: claims.sub_profile,
            delegation: claims.delegation,
        }
    }

    /// The headers to add upstream, as (name, value) pairs.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        let mut headers = alloc::vec![("x-auth-subject", self.subject.as_str())];
        if let Some(client_id) = &self.client_id {
            headers.push(("x-auth-client-id", client_id.as_str()));
        }
        headers.push(("x-auth-scope", self.scope.as_str()));
        headers.push(("x-auth-issuer", self.issuer.as_str()));
        if let Some(delegation) = &self.delegation {
            headers.push(("x-auth-actor", delegation.current()));
            headers.push(("x-auth-actor-chain", delegation.chain.as_str()));
        }
        headers
    }

    /// The scopes it holds.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    /// The client the revocation feed knows it by (an absent `sub` is empty here).
    pub fn revocation_client(&self) -> Option<&str> {
        client_of(self.client_id.as_deref(), Some(&self.subject))
    }
}
