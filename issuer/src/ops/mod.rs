//! The issuer's operations, each writing its own audit record: minting a token ([`mint`]),
//! exchanging one for an agent ([`exchange`]), managing clients ([`clients`]), rotating keys
//! ([`keys`]) and revoking tokens ([`revocations`]).
//!
//! The edges (the public port, the admin API, the command line, the key scheduler) parse their
//! input, call an operation on behalf of a [`Caller`] and map its error to what they answer;
//! the operation does the work and records it, so an action leaves the same record whichever
//! edge asked for it. Every error has a stable code, which admin records keep.

pub mod clients;
pub mod delegations;
mod error;
pub mod exchange;
pub mod keys;
pub mod mint;
mod named_client;
pub mod revocations;

pub use error::OpError;

use serde_json::Value;

use crate::audit::{Audit, AuditError, AuditEvent, Outcome};
use crate::clock::UnixTime;
use crate::store::Store;

/// What an operation works on: the database, the audit trail and the moment it happens.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The database.
    pub store: &'a Store,
    /// The trail the operation records itself in.
    pub audit: &'a Audit,
    /// Now, read once by the edge.
    pub now: UnixTime,
}

/// On whose behalf an operation runs, which decides the actor, source and action name of its
/// record, and what happens when the record cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A client authenticated at the public port.
    Client {
        /// Its id.
        id: String,
        /// The peer address.
        source: String,
    },
    /// An operator through the admin API.
    Admin {
        /// `admin:<credential id>`.
        actor: String,
        /// The peer address.
        source: String,
    },
    /// An operator at the command line (actor `cli`, source `local`).
    Cli,
    /// The key scheduler (actor `scheduler`, source `local`).
    Scheduler,
}

impl Caller {
    fn actor(&self) -> String {
        match self {
            Self::Client { id, .. } => id.clone(),
            Self::Admin { actor, .. } => actor.clone(),
            Self::Cli => "cli".to_owned(),
            Self::Scheduler => "scheduler".to_owned(),
        }
    }

    fn source(&self) -> String {
        match self {
            Self::Client { source, .. } | Self::Admin { source, .. } => source.clone(),
            Self::Cli | Self::Scheduler => "local".to_owned(),
        }
    }

    fn action(&self, action: Action) -> &'static str {
        match self {
            Self::Admin { .. } => action.admin,
            _ => action.own,
        }
    }

    /// What a refusal's record says: an admin record keeps the request's detail and adds the
    /// error's stable code (what the admin UI filters on); the others say why, in words (the
    /// text names no secret).
    fn refusal(&self, mut detail: Value, err: &OpError) -> Value {
        match self {
            Self::Admin { .. } => {
                if let Value::Object(fields) = &mut detail {
                    fields.insert("error".to_owned(), Value::from(err.code()));
                }
                detail
            }
            _ => serde_json::json!({ "reason": err.to_string() }),
        }
    }
}

/// An audit action, named as a client, the command line or the scheduler records it (`own`)
/// and as the admin API records it for an operator (`admin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// `token.issued`, `client.created`, `key.rotated`…
    pub own: &'static str,
    /// `admin.client.token_issued`, `admin.client.created`, `admin.key.rotated`…
    pub admin: &'static str,
}

/// The actions operations record: stable names, never renamed.
impl Action {
    /// A token minted (by its `jti` for the client, against the client for an operator).
    pub const TOKEN_ISSUED: Self = Self::new("token.issued", "admin.client.token_issued");
    /// A token exchanged by an agent (by the new `jti`), or an exchange refused (by the subject
    /// token's `jti`). Only clients exchange tokens, so there is no admin form; migration 0003
    /// indexes the successful ones under this name.
    pub const TOKEN_EXCHANGED: Self = Self::new("token.exchanged", "token.exchanged");
    /// A client registered.
    pub const CLIENT_CREATED: Self = Self::new("client.created", "admin.client.created");
    /// A client disabled.
    pub const CLIENT_DISABLED: Self = Self::new("client.disabled", "admin.client.disabled");
    /// A client's secret replaced.
    pub const SECRET_ROTATED: Self =
        Self::new("client.secret_rotated", "admin.client.secret_rotated");
    /// A signing key rotation.
    pub const KEY_ROTATED: Self = Self::new("key.rotated", "admin.key.rotated");
    /// A retired key deleted (by the scheduler).
    pub const KEY_PURGED: Self = Self::new("key.purged", "admin.key.purged");
    /// One token revoked.
    pub const TOKEN_REVOKED: Self = Self::new("token.revoked", "admin.token.revoked");
    /// Every token of a client revoked.
    pub const CLIENT_REVOKED: Self =
        Self::new("client.tokens_revoked", "admin.client.tokens_revoked");

    const fn new(own: &'static str, admin: &'static str) -> Self {
        Self { own, admin }
    }
}

impl Ctx<'_> {
    /// Appends the record of `action`, done by `caller` to `target`.
    async fn record(
        &self,
        caller: &Caller,
        action: Action,
        target: &str,
        outcome: Outcome,
        detail: Value,
    ) -> Result<(), AuditError> {
        let event = AuditEvent {
            actor: caller.actor(),
            action: caller.action(action),
            target: target.to_owned(),
            source: caller.source(),
            outcome,
            detail,
        };
        self.audit.record(event).await
    }

    /// Records how an operation ended, then hands its result on.
    ///
    /// A client's refusals are not recorded: the public port answers them and the client
    /// retries (failed authentications are recorded where they happen, and a token exchange
    /// records its own refusals, which say who tried to act for whom). A record that cannot
    /// be written fails a request, which is answered only once its record is committed; a
    /// command or the scheduler carries on, since what it did is done, and the log says so.
    async fn settle<T>(
        &self,
        caller: &Caller,
        action: Action,
        target: &str,
        detail: Value,
        result: Result<T, OpError>,
    ) -> Result<T, OpError> {
        let (outcome, detail) = match &result {
            Ok(_) => (Outcome::Success, detail),
            Err(_) if matches!(caller, Caller::Client { .. }) => return result,
            Err(err) => (Outcome::Failure, caller.refusal(detail, err)),
        };
        let Err(err) = self.record(caller, action, target, outcome, detail).await else {
            return result;
        };
        let action = caller.action(action);
        match caller {
            Caller::Admin { .. } => {
                tracing::error!(error = %err, code = err.code(), action, "cannot write an admin audit record");
            }
            // A client's only recorded success is revoking its own token (minting records its
            // token itself): the line names the jti, as the revocation endpoint always has.
            Caller::Client { id, .. } => {
                tracing::error!(client_id = %id, jti = %target, error = %err, code = err.code(), "cannot audit a revocation");
            }
            Caller::Cli => {
                tracing::error!(action, error = %err, code = err.code(), "cannot write the audit record");
                return result;
            }
            Caller::Scheduler => {
                tracing::error!(kid = %target, action, error = %err, code = err.code(), "cannot audit a key change");
                return result;
            }
        }
        Err(err.into())
    }
}
