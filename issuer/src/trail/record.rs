//! What callers hand in ([`AuditEvent`]) and what the table gives back ([`AuditRecord`]).

use serde::{Serialize, Serializer};

use super::chain::{self, RecordFields};

/// Whether the audited action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was refused.
    Failure,
}

impl Outcome {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// One thing that happened: who did what to what, from where, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// Who: a client id, `admin:<credential id>`, `cli` or `scheduler`.
    pub actor: String,
    /// What, as a stable dotted name (`token.issued`, `client.auth_failed`, `key.rotated`…).
    pub action: &'static str,
    /// To what: a jti, a client id, a kid.
    pub target: String,
    /// From where: the peer address, or `local` for the CLI and the scheduler.
    pub source: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Facts that matter for this action (scope, expiry, reason…); never secrets or tokens.
    pub detail: serde_json::Value,
}

/// Longest actor, target or source kept (bytes); longer values are cut at a character boundary.
///
/// Some of these come from unauthenticated requests (the client id of a failed login), so an
/// attacker must not be able to grow the table, the batch or the log by sending long ones.
pub const MAX_FIELD_BYTES: usize = 256;

/// Longest `detail` kept (bytes of JSON); a larger one is replaced by a note of its size.
pub const MAX_DETAIL_BYTES: usize = 4096;

/// An event made ready for the table: sanitised, its detail serialised, its time stamped.
///
/// Every value that reaches the database is fixed here, before hashing, so the hash covers
/// exactly the bytes stored and no value can make the database refuse a whole batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewRecord {
    pub(crate) at_ms: i64,
    pub(crate) actor: String,
    pub(crate) action: &'static str,
    pub(crate) target: String,
    pub(crate) source: String,
    pub(crate) outcome: Outcome,
    pub(crate) detail: String,
}

impl NewRecord {
    /// Prepares `event`, which happened at `at_ms` (Unix milliseconds).
    pub(crate) fn new(event: AuditEvent, at_ms: u64) -> Self {
        let detail = event.detail.to_string();
        let detail = if detail.len() > MAX_DETAIL_BYTES {
            serde_json::json!({"truncated": true, "bytes": detail.len()}).to_string()
        } else {
            detail
        };
        Self {
            // Past the year 292 million the clock is broken; keep the record anyway.
            at_ms: i64::try_from(at_ms).unwrap_or(i64::MAX),
            actor: clean(event.actor),
            action: event.action,
            target: clean(event.target),
            source: clean(event.source),
            outcome: event.outcome,
            detail,
        }
    }

    /// The hashed fields of this record once it gets `seq`.
    pub(crate) fn fields(&self, seq: i64) -> RecordFields<'_> {
        RecordFields {
            seq,
            at_ms: self.at_ms,
            actor: &self.actor,
            action: self.action,
            target: &self.target,
            source: &self.source,
            outcome: self.outcome.as_str(),
            detail: &self.detail,
        }
    }
}

/// PostgreSQL refuses NUL in text (which would fail every record of the batch); long values
/// are cut to [`MAX_FIELD_BYTES`].
fn clean(text: String) -> String {
    if text.len() <= MAX_FIELD_BYTES && !text.contains('\0') {
        return text;
    }
    let mut out = String::with_capacity(MAX_FIELD_BYTES.min(text.len()));
    for c in text.chars() {
        let c = if c == '\0' {
            char::REPLACEMENT_CHARACTER
        } else {
            c
        };
        if out.len() + c.len_utf8() > MAX_FIELD_BYTES {
            break;
        }
        out.push(c);
    }
    out
}

/// One stored record, exactly as read back (so a tampered row is shown as it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When it happened, in Unix milliseconds.
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// From where.
    pub source: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The detail, as the JSON text that was hashed.
    pub detail: String,
    /// The hash of the record before (32 zero bytes for the first).
    pub prev_hash: Vec<u8>,
    /// SHA-256 over this record's fields and `prev_hash`.
    pub hash: Vec<u8>,
}

impl AuditRecord {
    /// The fields the hash covers.
    pub fn fields(&self) -> RecordFields<'_> {
        RecordFields {
            seq: self.seq,
            at_ms: self.at_ms,
            actor: &self.actor,
            action: &self.action,
            target: &self.target,
            source: &self.source,
            outcome: &self.outcome,
            detail: &self.detail,
        }
    }

    /// One human-readable line: time, seq, outcome, action, actor, target, source, detail.
    ///
    /// Control characters are escaped: some fields come from unauthenticated requests and
    /// must not be able to move a terminal's cursor or forge extra lines.
    pub fn line(&self) -> String {
        let dash = |text: &str| {
            if text.is_empty() {
                "-".to_owned()
            } else {
                escape_controls(text)
            }
        };
        format!(
            "{} #{} {} {} actor={} target={} source={} {}",
            format_ms(self.at_ms),
            self.seq,
            escape_controls(&self.outcome),
            escape_controls(&self.action),
            dash(&self.actor),
            dash(&self.target),
            dash(&self.source),
            escape_controls(&self.detail),
        )
    }
}

/// The JSON form (tail `--json`, `GET /admin/audit`): hashes in hex, detail as JSON when it
/// parses (it always does unless the row was edited by hand), plus a readable time.
impl Serialize for AuditRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            seq: i64,
            at_ms: i64,
            time: String,
            actor: &'a str,
            action: &'a str,
            target: &'a str,
            source: &'a str,
            outcome: &'a str,
            detail: serde_json::Value,
            prev_hash: String,
            hash: String,
        }
        let detail = serde_json::from_str(&self.detail)
            .unwrap_or_else(|_| serde_json::Value::String(self.detail.clone()));
        Json {
            seq: self.seq,
            at_ms: self.at_ms,
            time: format_ms(self.at_ms),
            actor: &self.actor,
            action: &self.action,
            target: &self.target,
            source: &self.source,
            outcome: &self.outcome,
            detail,
            prev_hash: chain::hex(&self.prev_hash),
            hash: chain::hex(&self.hash),
        }
        .serialize(serializer)
    }
}

fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `at_ms` as RFC 3339 UTC with milliseconds, e.g. `2027-01-15T08:00:00.123Z`.
pub fn format_ms(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000);
    let millis = at_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(actor: &str) -> AuditEvent {
        AuditEvent {
            actor: actor.to_owned(),
            action: "token.issued",
            target: "jti".to_owned(),
            source: "local".to_owned(),
            outcome: Outcome::Success,
            detail: serde_json::json!({"scope": "a b"}),
        }
    }

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_800_000_000_123), "2027-01-15T08:00:00.123Z");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn nul_and_overlong_fields_are_made_storable() {
        let record = NewRecord::new(event("a\0b"), 5);
        assert_eq!(record.actor, "a\u{FFFD}b");
        let long = "é".repeat(MAX_FIELD_BYTES);
        let record = NewRecord::new(event(&long), 5);
        assert!(record.actor.len() <= MAX_FIELD_BYTES);
        assert!(record.actor.chars().all(|c| c == 'é'));
        let short = NewRecord::new(event("svc.a"), 5);
        assert_eq!(short.actor, "svc.a");
        assert_eq!(short.detail, r#"{"scope":"a b"}"#);
    }

    #[test]
    fn oversized_detail_is_replaced_by_its_size() {
        let mut big = event("svc.a");
        big.detail = serde_json::json!({"x": "y".repeat(MAX_DETAIL_BYTES)});
        let record = NewRecord::new(big, 5);
        let detail: serde_json::Value = serde_json::from_str(&record.detail).unwrap();
        assert_eq!(detail["truncated"], true);
    }

    #[test]
    fn lines_escape_control_characters() {
        let record = AuditRecord {
            seq: 1,
            at_ms: 0,
            actor: "evil\n1970-01-01 #2 success".to_owned(),
            action: "client.auth_failed".to_owned(),
            target: String::new(),
            source: "\u{1b}[2J".to_owned(),
            outcome: "failure".to_owned(),
            detail: "{}".to_owned(),
            prev_hash: vec![0; 32],
            hash: vec![0; 32],
        };
        let line = record.line();
        assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line}");
        assert!(line.contains("target=- "), "{line}");
    }
}
