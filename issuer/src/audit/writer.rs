//! Group commit: one task per process writes every audit record, many per transaction.
//!
//! Callers put a record and a one-shot reply channel on a bounded queue. The writer takes
//! everything queued (up to [`MAX_BATCH`]), appends it in one transaction, commits (one fsync
//! for the lot), and only then answers each caller. Under load thousands of records share a
//! commit while each caller still waits for its own record to be durable; when idle a lone
//! record is committed at once, with no timer adding latency.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::AuditError;
use crate::store::Store;
use crate::trail::NewRecord;

/// Most records committed in one transaction: bounds the time the database's write lock is
/// held (a few milliseconds on SQLite) and so the latency added to the first of them.
pub(super) const MAX_BATCH: usize = 1024;

/// Records that may wait for the writer. When full, callers wait for room (back-pressure on
/// the requests producing records) rather than the queue growing without bound.
pub(super) const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;

/// What callers send the writer.
pub(super) enum Message {
    /// Append this record, then reply with its seq or why it was not written.
    Record {
        record: NewRecord,
        reply: oneshot::Sender<Result<i64, AuditError>>,
    },
    /// Stop taking records, write those already queued, then end.
    Close,
}

/// Starts the writer for `store`; it ends after a [`Message::Close`] or when every sender is gone,
/// in both cases once everything queued has been written.
pub(super) fn spawn(store: Store) -> (mpsc::Sender<Message>, tokio::task::JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    (sender, tokio::spawn(run(store, receiver)))
}

async fn run(store: Store, mut queue: mpsc::Receiver<Message>) {
    let mut inbox = Vec::with_capacity(MAX_BATCH);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    // `recv_many` returns 0 only once the queue is closed (or every sender dropped) and empty.
    while queue.recv_many(&mut inbox, MAX_BATCH).await > 0 {
        for message in inbox.drain(..) {
            match message {
                Message::Record { record, reply } => {
                    batch.push(record);
                    replies.push(reply);
                }
                // Refuses new records but keeps those already queued, which the loop still
                // drains: a record accepted before shutdown is written, never dropped.
                Message::Close => queue.close(),
            }
        }
        if batch.is_empty() {
            continue;
        }
        match store.append_audit(&batch).await {
            Ok(first_seq) => {
                for (seq, reply) in (first_seq..).zip(replies.drain(..)) {
                    // A caller that gave up (its request was cancelled) no longer listens;
                    // its record is written all the same.
                    let _ = reply.send(Ok(seq));
                }
            }
            Err(err) => {
                // The transaction rolled back: none of these records exists, and every
                // caller is told so. The writer carries on; the next batch may succeed.
                tracing::error!(error = %err, records = batch.len(), "cannot write audit records");
                let err = Arc::new(err);
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(AuditError::Write(Arc::clone(&err))));
                }
            }
        }
        batch.clear();
    }
}
