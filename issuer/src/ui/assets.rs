//! The admin UI's own files, embedded by `build.rs`, and the media type of each.

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// The page served at `/ui/`.
pub const INDEX: &str = "index.html";

/// The embedded file at `path` (relative to `/ui/`, e.g. `pages/keys.js`), if there is one.
///
/// Only exact paths of embedded files match, so `..`, `.` or an absolute path names nothing:
/// there is no file system behind this lookup to escape from.
pub fn asset(path: &str) -> Option<&'static [u8]> {
    UI_ASSETS
        .binary_search_by(|(candidate, _)| (*candidate).cmp(path))
        .ok()
        .map(|at| UI_ASSETS[at].1)
}

/// Every embedded path, in order.
pub fn paths() -> impl Iterator<Item = &'static str> {
    UI_ASSETS.iter().map(|(path, _)| *path)
}

/// The `Content-Type` of a file named `path`, by its extension; unknown ones are
/// `application/octet-stream`, which browsers will neither render nor run (with `nosniff`).
pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        let paths: Vec<&str> = paths().collect();
        assert!(paths.windows(2).all(|pair| pair[0] < pair[1]), "{paths:?}");
        for path in &paths {
            assert!(asset(path).is_some(), "{path}");
            assert!(!path.starts_with('/') && !path.split('/').any(|s| s == ".."));
        }
        assert_eq!(asset("../Cargo.toml"), None);
        assert_eq!(asset(""), None);
    }

    #[test]
    fn media_types_by_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("a/b.MJS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("verifier_bg.wasm"), "application/wasm");
        assert_eq!(content_type("verifier.d.ts"), "text/plain; charset=utf-8");
        assert_eq!(content_type("package.json"), "application/json");
        assert_eq!(content_type("logo.svg"), "image/svg+xml");
        assert_eq!(content_type("Makefile"), "application/octet-stream");
        assert_eq!(content_type("dir.js/file"), "application/octet-stream");
    }
}
