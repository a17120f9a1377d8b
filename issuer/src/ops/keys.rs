//! Key operations: a rotation asked for by an operator (planned or emergency), and the
//! scheduler's pass that rotates on time and deletes keys nobody needs.

use serde_json::json;

use super::{Action, Caller, Coded, Ctx};
use crate::audit::AuditError;
use crate::keys::{self, KeyError, KeySettings, Maintenance, Urgency};

const ROTATED: Action = Action {
    own: "key.rotated",
    admin: "admin.key.rotated",
};
const PURGED: Action = Action {
    own: "key.purged",
    admin: "admin.key.purged",
};

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyOpError {
    /// The keys could not be changed as asked (see [`KeyError`]).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// What was done could not be recorded in the audit trail.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl Coded for KeyOpError {
    fn code(&self) -> &'static str {
        match self {
            Self::Key(KeyError::NextNotReady { .. }) => "next_key_not_ready",
            Self::Key(KeyError::Concurrent) => "rotation_conflict",
            Self::Key(_) => "server_error",
            Self::Audit(err) => err.code(),
        }
    }
}

/// Rotates now: the next key signs (or, with [`Urgency::Emergency`], a brand-new one), and a
/// fresh next key is published. Returns the kid that signs from now on.
///
/// On a database without keys (a fresh installation where the command line runs before any
/// server) the first keys are made before rotating.
pub async fn rotate(
    ctx: Ctx<'_>,
    settings: &KeySettings,
    caller: &Caller,
    urgency: Urgency,
) -> Result<String, KeyOpError> {
    let result = rotate_now(ctx, settings, urgency).await;
    let target = result.as_deref().unwrap_or("signing_keys").to_owned();
    let detail = json!({
        "alg": settings.alg.as_str(),
        "emergency": urgency == Urgency::Emergency,
    });
    ctx.settle(caller, ROTATED, &target, detail, result).await
}

async fn rotate_now(
    ctx: Ctx<'_>,
    settings: &KeySettings,
    urgency: Urgency,
) -> Result<String, KeyOpError> {
    let sealer = settings.sealer.as_ref();
    if ctx
        .store
        .current_key()
        .await
        .map_err(KeyError::from)?
        .is_none()
    {
        keys::ensure_ready(ctx.store, sealer, settings.alg, &settings.rotation, ctx.now).await?;
    }
    Ok(keys::rotate(
        ctx.store,
        sealer,
        settings.alg,
        &settings.rotation,
        ctx.now,
        urgency,
    )
    .await?)
}

/// One pass of the key scheduler (see [`keys::maintain`]), with a record of each change.
pub async fn maintain(ctx: Ctx<'_>, settings: &KeySettings) -> Result<Maintenance, KeyError> {
    let done = keys::maintain(
        ctx.store,
        settings.sealer.as_ref(),
        settings.alg,
        &settings.rotation,
        ctx.now,
    )
    .await?;
    // The changes are made and cannot be undone, so a record that cannot be written is logged
    // loudly rather than retried forever.
    for kid in &done.purged {
        tracing::info!(%kid, "removed a retired key: every token it signed has expired");
        let purged: Result<(), KeyOpError> = Ok(());
        let _ = ctx
            .settle(&Caller::Scheduler, PURGED, kid, json!({}), purged)
            .await;
    }
    if let Some(kid) = &done.rotated_to {
        let detail = json!({"alg": settings.alg.as_str(), "reason": "scheduled"});
        let rotated: Result<(), KeyOpError> = Ok(());
        let _ = ctx
            .settle(&Caller::Scheduler, ROTATED, kid, detail, rotated)
            .await;
    }
    Ok(done)
}
