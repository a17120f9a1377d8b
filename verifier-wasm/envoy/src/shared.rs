//! One copy of each remote document (a JWKS, a revocation feed) per Envoy: the fetch schedule and
//! the document live in proxy-wasm shared data, which every VM of the process sees, and the
//! schedule changes only by compare-and-swap.
//!
//! The keys are per endpoint (cluster, authority, path), not per provider or per configuration:
//! two providers reading the same JWKS share one fetch, and a configuration reload starts with
//! the keys the previous one fetched. A feed's endpoint also names the issuer it must speak for,
//! so two providers that read one feed URL for different issuers never adopt each other's.

use proxy_wasm::types::Status;
use verifier_core::{FetchTarget, Schedule};

use crate::host;

/// How many times a compare-and-swap is retried before giving up until the next tick.
const CAS_ATTEMPTS: usize = 8;

/// The shared-data keys of one remote document's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    schedule_key: String,
    document_key: String,
}

impl Endpoint {
    /// The keys for a document of kind `kind` (`jwks`, `revocations`) fetched from `target`;
    /// with `issuer`, only for providers of that issuer.
    pub(crate) fn new(kind: &str, target: &FetchTarget, issuer: Option<&str>) -> Endpoint {
        let FetchTarget {
            cluster,
            authority,
            path,
            ..
        } = target;
        Endpoint::at(match issuer {
            None => format!("verifier.{kind}/{cluster}/{authority}{path}"),
            Some(issuer) => format!("verifier.{kind}/{cluster}/{authority}{path} for {issuer}"),
        })
    }

    fn at(base: String) -> Endpoint {
        Endpoint {
            schedule_key: format!("{base}#schedule"),
            document_key: format!("{base}#document"),
        }
    }

    /// The shared schedule (the default one before any VM wrote it).
    pub(crate) fn schedule(&self) -> Schedule {
        host::shared_get(&self.schedule_key)
            .0
            .and_then(|bytes| Schedule::decode(&bytes))
            .unwrap_or_default()
    }

    /// Applies `change` to the shared schedule atomically; `change` returns false to leave it
    /// alone. The schedule as stored, or `None` if nothing was stored.
    pub(crate) fn update(&self, mut change: impl FnMut(&mut Schedule) -> bool) -> Option<Schedule> {
        for _ in 0..CAS_ATTEMPTS {
            let (bytes, cas) = host::shared_get(&self.schedule_key);
            let mut schedule = bytes.and_then(|b| Schedule::decode(&b)).unwrap_or_default();
            if !change(&mut schedule) {
                return None;
            }
            // With no cas (the key does not exist yet) the write is unconditional: Envoy has no
            // atomic create. Callers that need exclusivity read back what they wrote.
            match host::shared_set(&self.schedule_key, &schedule.encode(), cas) {
                Ok(()) => return Some(schedule),
                Err(Status::CasMismatch) => continue,
                Err(status) => {
                    log::warn!(
                        "verifier: could not store the schedule {}: {status:?}",
                        self.schedule_key
                    );
                    return None;
                }
            }
        }
        None
    }

    /// The stored document, if any.
    pub(crate) fn document(&self) -> Option<Vec<u8>> {
        host::shared_get(&self.document_key).0
    }

    /// Stores a document for every VM (before the schedule announces it).
    pub(crate) fn store_document(&self, document: &[u8]) -> bool {
        match host::shared_set(&self.document_key, document, None) {
            Ok(()) => true,
            Err(status) => {
                log::warn!(
                    "verifier: could not store the document {}: {status:?}",
                    self.document_key
                );
                false
            }
        }
    }
}
