//! Why an operation was refused or failed: one error for every operation, each variant with a
//! stable code that admin audit records keep and the edges map to their answers (the admin
//! API's status and code, the public port's OAuth error, the command line's message).

use crate::audit::AuditError;
use crate::clients::{AssertionError, ClientError};
use crate::keys::KeyError;
use crate::ops::exchange::ExchangeError;
use crate::random::RandomError;
use crate::scope::ScopeError;
use crate::store::StoreError;

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// A field of the request is malformed or out of range.
    #[error("{0}")]
    Invalid(String),
    /// A `private_key_jwt` client's JWKS is unusable.
    #[error("invalid client JWKS: {0}")]
    Jwks(AssertionError),
    /// The requested scope is malformed or wider than the client's.
    #[error(transparent)]
    Scope(#[from] ScopeError),
    /// No client has this id.
    #[error("no client with this id")]
    NotFound,
    /// The id is taken; the existing client was left untouched.
    #[error("client {0:?} already exists (refusing to overwrite it)")]
    Exists(String),
    /// The client is disabled and can have no tokens.
    #[error("the client is disabled and can have no tokens")]
    Disabled,
    /// The client authenticates with `private_key_jwt` and has no secret to replace.
    #[error("the client authenticates with private_key_jwt and has no secret")]
    WrongAuthMethod,
    /// A client asked to revoke a token issued to another client (RFC 7009 §2.1).
    #[error("issued to another client")]
    NotYours,
    /// A token exchange was refused.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The keys could not be used or changed as asked.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A stored client is unusable, or storing one failed.
    #[error(transparent)]
    Client(ClientError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The OS RNG failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// What was done (or refused) could not be recorded in the audit trail.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl OpError {
    /// The stable machine code, e.g. `not_found`. Never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) | Self::Jwks(_) => "invalid_request",
            Self::Scope(_) => "invalid_scope",
            Self::NotFound => "not_found",
            Self::Exists(_) => "already_exists",
            Self::Disabled => "client_disabled",
            Self::WrongAuthMethod => "wrong_auth_method",
            Self::NotYours => "unauthorized_client",
            Self::Exchange(err) => err.code(),
            Self::Key(KeyError::NextNotReady { .. }) => "next_key_not_ready",
            Self::Key(KeyError::Concurrent) => "rotation_conflict",
            Self::Key(_) | Self::Client(_) | Self::Store(_) | Self::Random(_) => "server_error",
            Self::Audit(err) => err.code(),
        }
    }
}

impl From<ClientError> for OpError {
    fn from(err: ClientError) -> Self {
        match err {
            ClientError::AlreadyExists(id) => Self::Exists(id),
            ClientError::Jwks(err) => Self::Jwks(err),
            other => Self::Client(other),
        }
    }
}
