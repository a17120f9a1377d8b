//! The path the filter sees: what Envoy makes of the request's path before any HTTP filter runs.
//!
//! The filter's rules match on the normalised path (DESIGN.md, and `envoy/envoy.yaml`'s connection
//! manager: `path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT`, `normalize_path: true`,
//! `merge_slashes: true`). `explain` is asked about the path a caller sent, so it applies the same
//! steps first; otherwise `/api/x/../admin` would be explained against the wrong rule.

/// The path after Envoy's normalisation, query string kept as sent.
pub(crate) fn normalise(path: &str) -> String {
    let (path, query) = match path.find(['?', '#']) {
        Some(at) => path.split_at(at),
        None => (path, ""),
    };
    let unescaped = unescape_slashes(path);
    let resolved = remove_dot_segments(&unescaped);
    let mut merged = String::with_capacity(resolved.len() + query.len());
    for c in resolved.chars() {
        if !(c == '/' && merged.ends_with('/')) {
            merged.push(c);
        }
    }
    merged.push_str(query);
    merged
}

/// `%2F` and `%5C` (any case) are unescaped, as Envoy's redirect does (the retried request is the
/// one the filter decides), and a backslash is a slash (as URL canonicalisation reads it).
fn unescape_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let owned = path.replace('\\', "/");
    let mut rest = owned.as_str();
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3).unwrap_or("");
        if escape.eq_ignore_ascii_case("%2f") || escape.eq_ignore_ascii_case("%5c") {
            out.push('/');
            rest = &rest[at + 3..];
        } else {
            out.push('%');
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// RFC 3986 §5.2.4, with `%2E` read as `.` (as URL canonicalisation does).
fn remove_dot_segments(path: &str) -> String {
    let is_dot = |s: &str| s == "." || s.eq_ignore_ascii_case("%2e");
    let is_dot_dot = |s: &str| {
        matches!(s.len(), 2 | 4 | 6)
            && (s == ".."
                || s.eq_ignore_ascii_case(".%2e")
                || s.eq_ignore_ascii_case("%2e.")
                || s.eq_ignore_ascii_case("%2e%2e"))
    };
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        if is_dot(segment) {
            if i == last {
                out.push("");
            }
        } else if is_dot_dot(segment) {
            out.pop();
            if i == last {
                out.push("");
            }
        } else {
            out.push(segment);
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn normalises_as_envoy_does() {
        for (sent, seen) in [
            ("/api/v1/x", "/api/v1/x"),
            (
                "/api/v1/entities/x/../register-bulk",
                "/api/v1/entities/register-bulk",
            ),
            (
                "//api//v1/entities/register-bulk",
                "/api/v1/entities/register-bulk",
            ),
            (
                "/api/v1/entities%2Fregister-bulk",
                "/api/v1/entities/register-bulk",
            ),
            (
                "/api/v1/entities%2fregister-bulk?x=%2F",
                "/api/v1/entities/register-bulk?x=%2F",
            ),
            ("/api/./v1/%2e%2E/v2", "/api/v2"),
            ("/a/.", "/a/"),
            ("/a/..", "/"),
            ("/..", "/"),
            ("/../../etc", "/etc"),
            ("/", "/"),
            ("/a%20b/%", "/a%20b/%"),
            ("/a/..?q=/../", "/?q=/../"),
            ("/api\\..\\admin", "/admin"),
            ("/api%5c..%5Cadmin", "/admin"),
        ] {
            assert_eq!(normalise(sent), seen, "{sent}");
        }
    }
}
