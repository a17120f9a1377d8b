//! The hash chain, with no I/O: how a record is hashed and how a sequence of records is checked.
//!
//! `hash = SHA-256(tag ‖ len‖seq ‖ len‖at_ms ‖ len‖actor ‖ … ‖ len‖detail ‖ len‖prev_hash)`, every
//! field prefixed by its length as a big-endian u64, so no two different records encode to the
//! same bytes (moving a byte from one field to the next changes a length). The first record's
//! `prev_hash` is [`GENESIS`]. Changing, removing, inserting or reordering any record changes
//! its hash or breaks the link of the one after it.

/// `prev_hash` of the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// Domain separation and version of the encoding; a new encoding gets a new tag.
const TAG: &[u8] = b"issuer.audit.v1";

/// The hashed fields of one record, borrowed from wherever they live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFields<'a> {
    /// Position in the chain.
    pub seq: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Who.
    pub actor: &'a str,
    /// What.
    pub action: &'a str,
    /// To what.
    pub target: &'a str,
    /// From where.
    pub source: &'a str,
    /// How it ended, in its stored form.
    pub outcome: &'a str,
    /// The detail's JSON text, exactly as stored.
    pub detail: &'a str,
}

/// The hash of the record `fields` whose predecessor hashed to `prev_hash`.
pub fn record_hash(fields: &RecordFields<'_>, prev_hash: &[u8]) -> [u8; 32] {
    let mut hasher = hmac_sha256::Hash::new();
    let mut field = |bytes: &[u8]| {
        // usize always fits in u64 on the platforms Rust supports.
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(TAG);
    field(&fields.seq.to_be_bytes());
    field(&fields.at_ms.to_be_bytes());
    field(fields.actor.as_bytes());
    field(fields.action.as_bytes());
    field(fields.target.as_bytes());
    field(fields.source.as_bytes());
    field(fields.outcome.as_bytes());
    field(fields.detail.as_bytes());
    field(prev_hash);
    hasher.finalize()
}

/// Lower-case hex, for printing hashes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            // Writing to a String cannot fail.
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// What is wrong at the first bad record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BreakReason {
    /// Records are missing (deleted) or an unexpected one was inserted: the record found
    /// after the last good one does not carry the next sequence number.
    #[error("expected seq {expected}, found seq {found}: records were deleted or inserted")]
    SeqGap {
        /// The seq that should have come next.
        expected: i64,
        /// The seq that came.
        found: i64,
    },
    /// The record's stored hash is not the hash of its fields: it was edited (or moved).
    #[error("stored hash does not match the record's contents: the record was altered")]
    HashMismatch,
    /// The record does not point at the hash of the record before it: that record was
    /// altered and re-hashed, or records were swapped or replaced.
    #[error("prev_hash does not match the previous record's hash: the chain was relinked")]
    PrevMismatch,
}

impl BreakReason {
    /// The stable machine code, e.g. `hash_mismatch`. Never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SeqGap { .. } => "seq_gap",
            Self::HashMismatch => "hash_mismatch",
            Self::PrevMismatch => "prev_mismatch",
        }
    }
}

/// The first bad record of a chain and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at seq {seq}: {reason}")]
pub struct ChainBreak {
    /// The first seq that cannot be trusted (for a gap, the first missing one).
    pub seq: i64,
    /// What is wrong there.
    pub reason: BreakReason,
}

/// Checks records fed to it in seq order, one page at a time, keeping only the running head.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    next_seq: i64,
    head: [u8; 32],
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// A verifier expecting the chain's first record (seq 1, linked to [`GENESIS`]).
    pub fn new() -> Self {
        Self {
            next_seq: 1,
            head: GENESIS,
            checked: 0,
        }
    }

    /// Checks the next record, given its fields and stored hashes.
    pub fn check(
        &mut self,
        fields: &RecordFields<'_>,
        prev_hash: &[u8],
        hash: &[u8],
    ) -> Result<(), ChainBreak> {
        let broken = |seq, reason| ChainBreak { seq, reason };
        if fields.seq != self.next_seq {
            return Err(broken(
                self.next_seq,
                BreakReason::SeqGap {
                    expected: self.next_seq,
                    found: fields.seq,
                },
            ));
        }
        // The record's own integrity first: an edited record is reported as edited, even if
        // the edit also broke its link.
        let computed = record_hash(fields, prev_hash);
        if computed.as_slice() != hash {
            return Err(broken(fields.seq, BreakReason::HashMismatch));
        }
        if prev_hash != self.head.as_slice() {
            return Err(broken(fields.seq, BreakReason::PrevMismatch));
        }
        self.head = computed;
        self.next_seq = self.next_seq.saturating_add(1);
        self.checked += 1;
        Ok(())
    }

    /// How many records have checked out.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The hash of the last good record ([`GENESIS`] before any).
    pub fn head(&self) -> [u8; 32] {
        self.head
    }

    /// The seq of the last good record (0 before any).
    pub fn last_seq(&self) -> i64 {
        self.next_seq - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(seq: i64, actor: &'a str, action: &'a str) -> RecordFields<'a> {
        RecordFields {
            seq,
            at_ms: 1_800_000_000_000,
            actor,
            action,
            target: "t",
            source: "local",
            outcome: "success",
            detail: "{}",
        }
    }

    fn from_parts(
        seq: i64,
        [actor, action, target, source, outcome, detail]: [&str; 6],
    ) -> RecordFields<'_> {
        RecordFields {
            seq,
            at_ms: 0,
            actor,
            action,
            target,
            source,
            outcome,
            detail,
        }
    }

    #[test]
    fn shifting_bytes_between_fields_changes_the_hash() {
        let base = fields(1, "ab", "c");
        let shifted = fields(1, "a", "bc");
        assert_ne!(
            record_hash(&base, &GENESIS),
            record_hash(&shifted, &GENESIS)
        );
        // Every adjacent pair of string fields, with the boundary moved by one byte.
        for i in 0..5 {
            let mut one = ["x"; 6];
            one[i] = "ab";
            one[i + 1] = "c";
            let mut two = ["x"; 6];
            two[i] = "a";
            two[i + 1] = "bc";
            assert_ne!(
                record_hash(&from_parts(1, one), &GENESIS),
                record_hash(&from_parts(1, two), &GENESIS),
                "fields {i} and {}",
                i + 1
            );
        }
        // The last field against prev_hash, and empty fields in different places.
        let mut one = fields(1, "", "x");
        let mut two = fields(1, "x", "");
        assert_ne!(record_hash(&one, &GENESIS), record_hash(&two, &GENESIS));
        one.detail = "{}\0";
        two = fields(1, "", "x");
        assert_ne!(record_hash(&one, &[0; 31]), record_hash(&two, &GENESIS));
    }

    #[test]
    fn every_field_and_the_link_are_covered() {
        let base = fields(7, "svc.a", "token.issued");
        let hash = record_hash(&base, &GENESIS);
        let variants = [
            RecordFields { seq: 8, ..base },
            RecordFields { at_ms: 1, ..base },
            RecordFields {
                actor: "svc.b",
                ..base
            },
            RecordFields {
                action: "token.revoked",
                ..base
            },
            RecordFields {
                target: "u",
                ..base
            },
            RecordFields {
                source: "10.0.0.1",
                ..base
            },
            RecordFields {
                outcome: "failure",
                ..base
            },
            RecordFields {
                detail: "{\"a\":1}",
                ..base
            },
        ];
        for variant in variants {
            assert_ne!(record_hash(&variant, &GENESIS), hash, "{variant:?}");
        }
        assert_ne!(record_hash(&base, &[1; 32]), hash);
    }

    #[test]
    fn hash_is_stable() {
        // Pinned: a change of encoding must come with a new TAG, never silently.
        let hash = record_hash(&fields(1, "svc.a", "token.issued"), &GENESIS);
        assert_eq!(hex(&hash).len(), 64);
        assert_eq!(
            hash,
            record_hash(&fields(1, "svc.a", "token.issued"), &GENESIS)
        );
    }

    /// A chain of `n` records as (fields owner, prev, hash).
    fn chain(n: i64) -> Vec<(i64, Vec<u8>, [u8; 32])> {
        let mut prev = GENESIS.to_vec();
        (1..=n)
            .map(|seq| {
                let hash = record_hash(&fields(seq, "svc.a", "token.issued"), &prev);
                let entry = (seq, prev.clone(), hash);
                prev = hash.to_vec();
                entry
            })
            .collect()
    }

    #[test]
    fn verifier_accepts_a_good_chain_and_finds_the_first_break() {
        let records = chain(5);
        let mut verifier = ChainVerifier::new();
        for (seq, prev, hash) in &records {
            verifier
                .check(&fields(*seq, "svc.a", "token.issued"), prev, hash)
                .expect("intact");
        }
        assert_eq!(verifier.checked(), 5);
        assert_eq!(verifier.head(), records[4].2);
        assert_eq!(verifier.last_seq(), 5);

        // Record 3 missing.
        let mut verifier = ChainVerifier::new();
        let mut result = Ok(());
        for (seq, prev, hash) in records.iter().filter(|r| r.0 != 3) {
            result = verifier.check(&fields(*seq, "svc.a", "token.issued"), prev, hash);
            if result.is_err() {
                break;
            }
        }
        let err = result.expect_err("gap");
        assert_eq!(err.seq, 3);
        assert_eq!(err.reason.code(), "seq_gap");

        // Record 2 edited.
        let mut verifier = ChainVerifier::new();
        let (seq, prev, hash) = &records[0];
        verifier
            .check(&fields(*seq, "svc.a", "token.issued"), prev, hash)
            .expect("first");
        let (seq, prev, hash) = &records[1];
        let err = verifier
            .check(&fields(*seq, "svc.b", "token.issued"), prev, hash)
            .expect_err("edited");
        assert_eq!((err.seq, err.reason), (2, BreakReason::HashMismatch));
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0x00, 0xab, 0x1f]), "00ab1f");
    }
}
