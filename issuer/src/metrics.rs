//! Process-wide counters, rendered in the Prometheus text exposition format 0.0.4.
//!
//! Hand-written on atomics rather than a metrics crate: a handful of counters and one histogram
//! do not justify a registry, and the format is a few lines of text. The HTTP side (what is
//! counted, and `/metrics` itself) is `http::metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// The `Content-Type` of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the token latency histogram: signing takes well under a
/// millisecond with ES256 or EdDSA and a few with RS256; the rest is the database.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The issuer's counters; one per process, shared through `AppState`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by (route template, status). Bounded: routes are the router's templates (or
    /// `unmatched`), never raw paths, so a scanner cannot grow it.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    token_latency: Histogram,
    tokens_issued: AtomicU64,
    client_auth_failures: AtomicU64,
    admin_auth_failures: AtomicU64,
}

/// How many keys are in each lifecycle state, read at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCounts {
    /// Published, not signing yet.
    pub next: u64,
    /// Signing.
    pub current: u64,
    /// Published for tokens they signed, not signing.
    pub retired: u64,
}

impl Metrics {
    /// Counts one request to `route` (a route template) answered with `status`.
    pub fn count_request(&self, route: &str, status: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *requests.entry((route.to_owned(), status)).or_insert(0) += 1;
    }

    /// Records how long a token request took.
    pub fn observe_token_latency(&self, seconds: f64) {
        self.token_latency.observe(seconds);
    }

    /// Counts an access token issued.
    pub fn count_token_issued(&self) {
        self.tokens_issued.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failed client authentication (`invalid_client`).
    pub fn count_client_auth_failure(&self) {
        self.client_auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refused admin API request (missing, wrong or locked-out credential).
    pub fn count_admin_auth_failure(&self) {
        self.admin_auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text; `keys` is `None` when the database could not be read, and the
    /// gauge is then left out rather than reported as zero keys.
    pub fn render(&self, keys: Option<KeyCounts>) -> String {
        let mut out = String::with_capacity(4096);
        family(
            &mut out,
            "issuer_build_info",
            "gauge",
            "Always 1; the labels say which build is running.",
        );
        sample(
            &mut out,
            "issuer_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        );

        family(
            &mut out,
            "issuer_http_requests_total",
            "counter",
            "HTTP requests to the public port, by route template and status.",
        );
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for ((route, status), count) in &requests {
            let status = status.to_string();
            sample(
                &mut out,
                "issuer_http_requests_total",
                &[("route", route), ("status", &status)],
                *count as f64,
            );
        }

        family(
            &mut out,
            "issuer_http_request_duration_seconds",
            "histogram",
            "Time to answer POST /oauth/token, in seconds.",
        );
        self.token_latency.render(
            &mut out,
            "issuer_http_request_duration_seconds",
            ("route", "/oauth/token"),
        );

        for (name, help, counter) in [
            (
                "issuer_tokens_issued_total",
                "Access tokens issued.",
                &self.tokens_issued,
            ),
            (
                "issuer_client_auth_failures_total",
                "Failed client authentications (invalid_client) at the OAuth endpoints.",
                &self.client_auth_failures,
            ),
            (
                "issuer_admin_auth_failures_total",
                "Admin API requests refused for a missing, wrong or locked-out credential.",
                &self.admin_auth_failures,
            ),
        ] {
            family(&mut out, name, "counter", help);
            sample(&mut out, name, &[], counter.load(Ordering::Relaxed) as f64);
        }

        if let Some(keys) = keys {
            family(
                &mut out,
                "issuer_keys",
                "gauge",
                "Signing keys by lifecycle status.",
            );
            for (status, count) in [
                ("next", keys.next),
                ("current", keys.current),
                ("retired", keys.retired),
            ] {
                sample(&mut out, "issuer_keys", &[("status", status)], count as f64);
            }
        }
        out
    }
}

/// A latency histogram: a count per bucket (not cumulative; summed when rendered), the sum in
/// nanoseconds and the total count.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, seconds: f64) {
        if let Some(index) = LATENCY_BUCKETS.iter().position(|&bound| seconds <= bound) {
            self.buckets[index].fetch_add(1, Ordering::Relaxed);
        }
        // Saturating float-to-int cast: a negative or absurd duration cannot wrap the sum.
        let nanos = (seconds * 1e9) as u64;
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, label: (&str, &str)) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += count.load(Ordering::Relaxed);
            let le = bound.to_string();
            sample(out, &bucket, &[label, ("le", &le)], cumulative as f64);
        }
        // Read after the buckets: a concurrent observation may make `+Inf` exceed the last
        // bucket, never fall below it, which keeps the buckets monotonic.
        let count = self.count.load(Ordering::Relaxed);
        sample(out, &bucket, &[label, ("le", "+Inf")], count as f64);
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        sample(out, &format!("{name}_sum"), &[label], sum);
        sample(out, &format!("{name}_count"), &[label], count as f64);
    }
}

/// `# HELP` and `# TYPE` lines of a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One sample line, label values escaped as the format requires.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (index, (key, value)) in labels.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push_str("=\"");
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let metrics = Metrics::default();
        metrics.count_request("/oauth/token", 200);
        metrics.count_request("/oauth/token", 200);
        metrics.count_request("/oauth/token", 401);
        metrics.observe_token_latency(0.003);
        metrics.observe_token_latency(10.0);
        metrics.count_token_issued();
        let text = metrics.render(Some(KeyCounts {
            next: 1,
            current: 1,
            retired: 0,
        }));
        for line in [
            "issuer_http_requests_total{route=\"/oauth/token\",status=\"200\"} 2",
            "issuer_http_requests_total{route=\"/oauth/token\",status=\"401\"} 1",
            "issuer_http_request_duration_seconds_bucket{route=\"/oauth/token\",le=\"0.0025\"} 0",
            "issuer_http_request_duration_seconds_bucket{route=\"/oauth/token\",le=\"0.005\"} 1",
            "issuer_http_request_duration_seconds_bucket{route=\"/oauth/token\",le=\"5\"} 1",
            "issuer_http_request_duration_seconds_bucket{route=\"/oauth/token\",le=\"+Inf\"} 2",
            "issuer_http_request_duration_seconds_sum{route=\"/oauth/token\"} 10.003",
            "issuer_http_request_duration_seconds_count{route=\"/oauth/token\"} 2",
            "issuer_tokens_issued_total 1",
            "issuer_keys{status=\"current\"} 1",
            "issuer_keys{status=\"retired\"} 0",
            "# TYPE issuer_build_info gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert!(!metrics.render(None).contains("issuer_keys"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        sample(&mut out, "m", &[("l", "a\"b\\c\nd")], 1.0);
        assert_eq!(out, "m{l=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}
