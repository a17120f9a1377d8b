//! The audit trail: every issuance, failed authentication, revocation, key state change and
//! admin action becomes an append-only record chained by hash.
//!
//! Callers describe what happened with an [`AuditEvent`] and `await` [`Audit::record`], which
//! returns once the record is committed: a response that depends on an event is sent only
//! after the event is durable. Behind it one writer task per process commits records in
//! groups (`writer`), each chained to the one before ([`chain`]) under a cross-process lock
//! (see `Store::append_audit`), so the chain stays whole with any number of replicas. What a
//! record is and how the chain is hashed live below the store, in [`crate::trail`].
//!
//! When a record cannot be written (the database is down, the writer has stopped) `record`
//! fails and the caller must not go ahead as if it had been audited: the token endpoint then
//! answers 503 instead of issuing a token nobody could account for.

mod writer;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::store::{Store, StoreError};
use crate::trail::NewRecord;

pub use crate::trail::{
    AuditEvent, AuditRecord, BreakReason, ChainBreak, GENESIS, MAX_DETAIL_BYTES, MAX_FIELD_BYTES,
    Outcome, chain, format_ms,
};

/// How long [`Audit::record`] waits for its record to be committed before giving up. Far
/// above a healthy commit (milliseconds), below the point where callers' clients time out; a
/// record that commits after this is still in the chain, the caller has merely stopped waiting.
pub const RECORD_TIMEOUT: Duration = Duration::from_secs(10);

/// Records read per query by [`verify`] and `audit tail --follow`: bounds memory on long chains.
pub const PAGE_SIZE: u32 = 1000;

/// Why an audit record could not be written or read.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading the trail failed.
    #[error("audit storage failed")]
    Store(#[source] Arc<StoreError>),
    /// The transaction holding this record (and the rest of its batch) failed and rolled
    /// back: the record was not written.
    #[error("audit record could not be written")]
    Write(#[source] Arc<StoreError>),
    /// The writer has stopped (the server is shutting down): the record was not written.
    #[error("audit writer has stopped")]
    Closed,
    /// The record was not committed within [`RECORD_TIMEOUT`]; it may still be written later.
    #[error("audit record was not committed in time")]
    Timeout,
}

impl AuditError {
    /// The stable machine code, e.g. `audit_write_failed`. Never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(_) => "audit_store_failed",
            Self::Write(_) => "audit_write_failed",
            Self::Closed => "audit_closed",
            Self::Timeout => "audit_timeout",
        }
    }
}

impl From<StoreError> for AuditError {
    fn from(err: StoreError) -> Self {
        Self::Store(Arc::new(err))
    }
}

/// Appends audit records; cheap to clone, all clones share one writer task.
#[derive(Clone)]
pub struct Audit {
    writer: Arc<Writer>,
    clock: Arc<dyn Clock>,
}

struct Writer {
    queue: mpsc::Sender<writer::Message>,
    /// Held by [`Audit::close`] until the task has ended, so every caller of `close` returns
    /// only once the queue is written, not just the first.
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audit")
    }
}

impl Audit {
    /// An audit trail written to `store`, time-stamped by `clock`; starts its writer task, so
    /// it must be called from within a Tokio runtime.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        let (queue, task) = writer::spawn(store);
        Self {
            writer: Arc::new(Writer {
                queue,
                task: Mutex::new(Some(task)),
            }),
            clock,
        }
    }

    /// Appends `event` and returns once it is committed.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let record = NewRecord::new(event, self.clock.now_ms());
        let (reply, answer) = oneshot::channel();
        let append = async {
            self.writer
                .queue
                .send(writer::Message::Record { record, reply })
                .await
                .map_err(|_| AuditError::Closed)?;
            // A dropped reply means the writer ended without answering (it panicked, or the
            // runtime is going away): the record's fate is unknown, so it counts as unwritten.
            answer.await.map_err(|_| AuditError::Closed)?
        };
        match tokio::time::timeout(RECORD_TIMEOUT, append).await {
            Ok(result) => result.map(|_seq| ()),
            Err(_) => Err(AuditError::Timeout),
        }
    }

    /// Stops the writer once every record already queued is committed, and waits for it.
    /// Later [`record`](Self::record) calls fail with [`AuditError::Closed`]. Idempotent.
    pub async fn close(&self) {
        let mut task = self.writer.task.lock().await;
        // Fails only when the writer is already gone, which is what we want anyway.
        let _ = self.writer.queue.send(writer::Message::Close).await;
        if let Some(handle) = task.take() {
            if let Err(err) = handle.await {
                tracing::error!(error = %err, "the audit writer failed");
            }
        }
    }
}

/// The outcome of [`verify`]: how far the chain checked out, and where it broke if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Records that checked out, from seq 1.
    pub records: u64,
    /// The hash of the last good record ([`GENESIS`] for an empty trail).
    pub head: [u8; 32],
    /// The first bad record, if any.
    pub broken: Option<ChainBreak>,
}

/// Reads the whole trail in seq order, a page at a time, and checks every hash and link.
///
/// Records appended while it runs are checked too when they land in a page still to come.
/// Removing the newest records leaves a shorter chain that still verifies: compare `head`
/// and `records` with a copy kept elsewhere to detect that.
pub async fn verify(store: &Store) -> Result<Verification, AuditError> {
    let mut verifier = chain::ChainVerifier::new();
    // From the very bottom, so a row slipped in below seq 1 is reported, not skipped.
    let mut after = i64::MIN;
    loop {
        let page = store.audit_page(after, PAGE_SIZE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.seq;
        for record in &page {
            if let Err(broken) = verifier.check(&record.fields(), &record.prev_hash, &record.hash) {
                return Ok(Verification {
                    records: verifier.checked(),
                    head: verifier.head(),
                    broken: Some(broken),
                });
            }
        }
        if page.len() < PAGE_SIZE as usize {
            break;
        }
    }
    Ok(Verification {
        records: verifier.checked(),
        head: verifier.head(),
        broken: None,
    })
}
