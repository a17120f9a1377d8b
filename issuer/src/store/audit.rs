//! Rows of the `audit_log` table: appended in batches, each record chained to the previous.

use std::sync::OnceLock;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};
use crate::trail::chain::{GENESIS, record_hash};
use crate::trail::{AuditRecord, NewRecord, Outcome};

/// Serialises appends across processes and replicas (see the `locks` table): taken before
/// the head is read, so two writers can never chain onto the same head.
const LOCK_AUDIT: &str = "UPDATE locks SET taken = taken + 1 WHERE name = 'audit'";

/// Columns of a full record, in the order rows are inserted and selected.
const COLUMNS: &str = "seq, at_ms, actor, action, target, source, outcome, detail, prev_hash, hash";

const SELECT_PAGE: &str = "SELECT seq, at_ms, actor, action, target, source, outcome, detail, \
     prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2";

const SELECT_LATEST: &str = "SELECT seq, at_ms, actor, action, target, source, outcome, detail, \
     prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT $1";

/// Which way [`Store::audit_search`] reads the trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOrder {
    /// Oldest first, records with a seq above `after`.
    Ascending {
        /// Exclusive lower bound.
        after: i64,
    },
    /// Newest first, records with a seq below `before` (all of them when `None`).
    Descending {
        /// Exclusive upper bound.
        before: Option<i64>,
    },
}

/// Which records [`Store::audit_search`] returns; every filter given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// A substring of the action, actor, target or source, compared case-insensitively
    /// (ASCII letters only on SQLite, whose `LOWER` folds nothing else).
    pub text: Option<String>,
    /// The outcome.
    pub outcome: Option<Outcome>,
    /// A prefix of the action, e.g. `admin.`; actions are lower case, and so is the match.
    pub action_prefix: Option<String>,
}

/// Rows per multi-row INSERT, largest first. A batch is cut into these sizes, so a few
/// statements (each prepared once per connection) cover every batch size; 64 rows bind 640
/// parameters, well under SQLite's and PostgreSQL's limits.
const CHUNKS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// `INSERT INTO audit_log (...) VALUES (...), ...` for each size in [`CHUNKS`].
fn insert_sql(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<(usize, String)>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        CHUNKS
            .iter()
            .map(|&n| {
                let values: Vec<String> = (0..n)
                    .map(|row| {
                        let params: Vec<String> =
                            (1..=10).map(|col| format!("${}", row * 10 + col)).collect();
                        format!("({})", params.join(", "))
                    })
                    .collect();
                (
                    n,
                    format!(
                        "INSERT INTO audit_log ({COLUMNS}) VALUES {}",
                        values.join(", ")
                    ),
                )
            })
            .collect()
    });
    all.iter()
        .find(|(n, _)| *n == rows)
        .map_or("", |(_, sql)| sql.as_str())
}

impl Store {
    /// Appends `records` in one transaction, each chained by hash to the one before, and
    /// returns the seq of the first (the others follow it in order). Nothing is written
    /// unless everything is.
    pub(crate) async fn append_audit(&self, records: &[NewRecord]) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The lock first, then the head: read any earlier and another writer could commit
        // in between (PostgreSQL's READ COMMITTED reads a fresh snapshot per statement, and
        // SQLite's write lock is taken by this UPDATE before anything is read).
        sqlx::query(LOCK_AUDIT).execute(&mut *tx).await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (last_seq, mut prev): (i64, Vec<u8>) = match head {
            Some(row) => (row.try_get("seq")?, row.try_get("hash")?),
            None => (0, GENESIS.to_vec()),
        };
        let first_seq = last_seq
            .checked_add(1)
            .ok_or(StoreError::OutOfRange("seq"))?;
        let mut seq = first_seq;
        let mut rest = records;
        while !rest.is_empty() {
            let size = CHUNKS
                .iter()
                .copied()
                .find(|&n| n <= rest.len())
                .unwrap_or(1);
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            rest = tail;
            let mut insert = sqlx::query(insert_sql(chunk.len()));
            for record in chunk {
                let hash = record_hash(&record.fields(seq), &prev);
                insert = insert
                    .bind(seq)
                    .bind(record.at_ms)
                    .bind(record.actor.as_str())
                    .bind(record.action)
                    .bind(record.target.as_str())
                    .bind(record.source.as_str())
                    .bind(record.outcome.as_str())
                    .bind(record.detail.as_str())
                    .bind(prev)
                    .bind(hash.to_vec());
                prev = hash.to_vec();
                seq = seq.checked_add(1).ok_or(StoreError::OutOfRange("seq"))?;
            }
            insert.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(first_seq)
    }

    /// Up to `limit` records with a seq above `after`, oldest first.
    pub async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(SELECT_PAGE)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_record).collect()
    }

    /// Up to `limit` records matching `filter`, in `order`. The filters run in the database
    /// (`LIKE` on both backends), so a page costs one query however sparse the matches.
    pub async fn audit_search(
        &self,
        order: AuditOrder,
        filter: &AuditFilter,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE ");
        let mut texts: Vec<String> = Vec::new();
        let (bound, direction) = match order {
            AuditOrder::Ascending { after } => {
                sql.push_str("seq > $1");
                (after, "ASC")
            }
            AuditOrder::Descending { before } => {
                sql.push_str("seq < $1");
                (before.unwrap_or(i64::MAX), "DESC")
            }
        };
        // Placeholders are numbered in the order values are pushed to `texts`, after `$1`.
        let mut next = |sql: &mut String, value: String| {
            texts.push(value);
            sql.push_str(&format!("${}", texts.len() + 1));
        };
        if let Some(text) = &filter.text {
            let pattern = format!("%{}%", like_escape(&text.to_lowercase()));
            sql.push_str(" AND (");
            for (i, column) in ["action", "actor", "target", "source"].iter().enumerate() {
                if i > 0 {
                    sql.push_str(" OR ");
                }
                sql.push_str(&format!("LOWER({column}) LIKE "));
                next(&mut sql, pattern.clone());
                sql.push_str(" ESCAPE '\\'");
            }
            sql.push(')');
        }
        if let Some(outcome) = filter.outcome {
            sql.push_str(" AND outcome = ");
            next(&mut sql, outcome.as_str().to_owned());
        }
        if let Some(prefix) = &filter.action_prefix {
            let pattern = format!("{}%", like_escape(&prefix.to_lowercase()));
            sql.push_str(" AND LOWER(action) LIKE ");
            next(&mut sql, pattern);
            sql.push_str(" ESCAPE '\\'");
        }
        sql.push_str(&format!(
            " ORDER BY seq {direction} LIMIT ${}",
            texts.len() + 2
        ));
        let mut query = sqlx::query(&sql).bind(bound);
        for text in texts {
            query = query.bind(text);
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(audit_record).collect()
    }

    /// Successful token exchanges recorded at or after `since_ms`, newest first, at most
    /// `limit`: what the admin API's live delegations are built from. The partial index of
    /// migration 0003 serves exactly this `WHERE`, so it reads only exchange records.
    pub async fn exchanges_since(
        &self,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE action = 'token.exchanged' \
             AND outcome = 'success' AND at_ms >= $1 ORDER BY at_ms DESC, seq DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(since_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_record).collect()
    }

    /// The newest `count` records, oldest first.
    pub async fn audit_latest(&self, count: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(SELECT_LATEST)
            .bind(i64::from(count))
            .fetch_all(&self.pool)
            .await?;
        let mut records = rows
            .iter()
            .map(audit_record)
            .collect::<Result<Vec<_>, _>>()?;
        records.reverse();
        Ok(records)
    }
}

/// `text` with `LIKE`'s wildcards (`%`, `_`) and the escape character itself escaped by `\\`.
fn like_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn audit_record(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        at_ms: row.try_get("at_ms")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        source: row.try_get("source")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}
