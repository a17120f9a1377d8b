//! Envoy statistics (proxy-wasm metrics, shown by Envoy as `wasmcustom.verifier.*`).
//!
//! Per-request counts are kept in the VM and added to Envoy's counters on the timer, so a
//! request costs no metric host call; rare events (fetches, key changes) are reported at once.

use std::collections::BTreeMap;

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use verifier_core::CacheStats;

/// This VM's metrics: defined ids, and counts not yet flushed to Envoy.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    ids: BTreeMap<String, u32>,
    /// Request outcomes (`requests.*`) not yet flushed.
    outcomes: BTreeMap<&'static str, u64>,
    /// Denials by error code not yet flushed.
    denials: BTreeMap<&'static str, u64>,
    flushed_cache: CacheStats,
}

impl Metrics {
    /// Counts a request allowed through.
    pub(crate) fn allowed(&mut self) {
        bump(&mut self.outcomes, "requests.allowed");
    }

    /// Counts a request refused with `code`.
    pub(crate) fn denied(&mut self, code: &'static str) {
        bump(&mut self.outcomes, "requests.denied");
        bump(&mut self.denials, code);
    }

    /// Counts a request held for keys.
    pub(crate) fn waited(&mut self) {
        bump(&mut self.outcomes, "requests.waited");
    }

    /// Adds the pending counts and the cache's new hits and misses to Envoy's counters.
    pub(crate) fn flush(&mut self, cache: CacheStats) {
        for (name, count) in std::mem::take(&mut self.outcomes) {
            self.add(name, count);
        }
        for (code, count) in std::mem::take(&mut self.denials) {
            self.add(&format!("denied.{code}"), count);
        }
        let hits = cache.hits.wrapping_sub(self.flushed_cache.hits);
        let misses = cache.misses.wrapping_sub(self.flushed_cache.misses);
        self.add("cache.hits", hits);
        self.add("cache.misses", misses);
        self.flushed_cache = cache;
    }

    /// Adds `count` to a counter at once.
    pub(crate) fn add(&mut self, name: &str, count: u64) {
        if count == 0 {
            return;
        }
        if let Some(id) = self.id(MetricType::Counter, name) {
            let _ = hostcalls::increment_metric(id, i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Sets a gauge.
    pub(crate) fn set(&mut self, name: &str, value: u64) {
        if let Some(id) = self.id(MetricType::Gauge, name) {
            let _ = hostcalls::record_metric(id, value);
        }
    }

    /// Records one value in a histogram.
    pub(crate) fn record(&mut self, name: &str, value: u64) {
        if let Some(id) = self.id(MetricType::Histogram, name) {
            let _ = hostcalls::record_metric(id, value);
        }
    }

    /// The metric id for `verifier.<name>`, defining it on first use.
    fn id(&mut self, kind: MetricType, name: &str) -> Option<u32> {
        if let Some(id) = self.ids.get(name) {
            return Some(*id);
        }
        let id = hostcalls::define_metric(kind, &format!("verifier.{name}")).ok()?;
        self.ids.insert(name.to_owned(), id);
        Some(id)
    }
}

fn bump(counts: &mut BTreeMap<&'static str, u64>, name: &'static str) {
    *counts.entry(name).or_insert(0) += 1;
}

/// A provider name as a metric name segment: letters, digits, `_` and `-` only.
pub(crate) fn segment(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The bytes of this VM's linear memory (what the VM holds, as the host sees it).
pub(crate) fn vm_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size::<0>() as u64).saturating_mul(65_536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}
