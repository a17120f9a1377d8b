//! Key operations: a rotation asked for by an operator (planned or emergency), and the
//! scheduler's pass that rotates on time and deletes keys nobody needs.

use serde_json::json;

use super::{Action, Caller, Ctx, OpError};
use crate::keys::{self, KeyError, KeySettings, Maintenance, SigningAlg, Urgency};

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
) -> Result<String, OpError> {
    let result = rotate_now(ctx, settings, urgency).await;
    settle_rotation(ctx, caller, settings.alg, urgency, result).await
}

/// Records a rotation refused before it could start, because the rotation settings it was
/// asked with are invalid, as [`rotate`] records one that failed.
pub async fn refuse_rotation(
    ctx: Ctx<'_>,
    caller: &Caller,
    alg: SigningAlg,
    urgency: Urgency,
    error: KeyError,
) -> Result<String, OpError> {
    settle_rotation(ctx, caller, alg, urgency, Err(error.into())).await
}

async fn settle_rotation(
    ctx: Ctx<'_>,
    caller: &Caller,
    alg: SigningAlg,
    urgency: Urgency,
    result: Result<String, OpError>,
) -> Result<String, OpError> {
    let target = result.as_deref().unwrap_or("signing_keys").to_owned();
    let detail = json!({
        "alg": alg.as_str(),
        "emergency": urgency == Urgency::Emergency,
    });
    ctx.settle(caller, Action::KEY_ROTATED, &target, detail, result)
        .await
}

async fn rotate_now(
    ctx: Ctx<'_>,
    settings: &KeySettings,
    urgency: Urgency,
) -> Result<String, OpError> {
    let sealer = settings.sealer.as_ref();
    if ctx
        .store
        .current_key()
        .await
        .map_err(KeyError::from)?
        .is_none()
    {
        keys::ensure_ready(ctx.store, settings, ctx.now).await?;
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
    // The changes are made and cannot be undone: `settle` only logs a record the scheduler
    // cannot write, so the pass goes on.
    for kid in &done.purged {
        tracing::info!(%kid, "removed a retired key: every token it signed has expired");
        let _ = ctx
            .settle(
                &Caller::Scheduler,
                Action::KEY_PURGED,
                kid,
                json!({}),
                Ok(()),
            )
            .await;
    }
    if let Some(kid) = &done.rotated_to {
        let detail = json!({"alg": settings.alg.as_str(), "reason": "scheduled"});
        let _ = ctx
            .settle(&Caller::Scheduler, Action::KEY_ROTATED, kid, detail, Ok(()))
            .await;
    }
    Ok(done)
}
