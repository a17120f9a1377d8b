//! The audit trail's data, with no I/O: the events callers describe ([`AuditEvent`]), the
//! records the table holds ([`AuditRecord`]) and the hash chain that links them ([`chain`]).
//!
//! It sits below both the store, which appends and reads records, and [`crate::audit`], which
//! writes them through the store, so neither needs the other's types.

pub mod chain;
mod record;

pub use chain::{BreakReason, ChainBreak, GENESIS};
pub(crate) use record::NewRecord;
pub use record::{AuditEvent, AuditRecord, MAX_DETAIL_BYTES, MAX_FIELD_BYTES, Outcome, format_ms};
