//! The verifier's JS package (the wasm-bindgen output `make build` puts under
//! `target/js/verifier`), read into memory once at start-up and served at `/ui/verifier/`.
//!
//! Read once rather than per request: the files are a build artifact that does not change
//! while the server runs, and serving from memory means no request ever names a path on disk.
//! Only the package's own kinds of file directly in the directory are taken: names ending
//! `.js`, `.wasm` or `.d.ts`, and `package.json`, made of `[A-Za-z0-9_.-]` and not starting
//! with a dot. The directory may be a shared build output, so anything else (`.env`,
//! `master.key`, notes, editor files) is never served; those are skipped and logged at debug.
//! Subdirectories, links to directories and files larger than 8 MiB are skipped with a warning.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use axum::body::Bytes;

/// Largest file taken from the package directory: the verifier's wasm is well under 1 MiB.
pub const MAX_VERIFIER_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The files the UI loads; a package without them is served, with a warning at start-up.
const EXPECTED: [&str; 2] = ["verifier.js", "verifier_bg.wasm"];

/// Why the package directory could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierPackageError {
    /// The directory does not exist, or is not a directory.
    #[error("{0} is not a directory (make build produces the package under target/js/verifier)")]
    NotADirectory(String),
    /// Listing the directory failed.
    #[error("cannot read {path}")]
    Read {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The package's files, by name.
#[derive(Debug, Clone)]
pub struct VerifierPackage {
    dir: PathBuf,
    files: BTreeMap<String, Bytes>,
}

impl VerifierPackage {
    /// Reads every acceptable file of `dir`. Files that cannot be taken are logged and skipped;
    /// only a directory that cannot be listed at all is an error.
    pub fn load(dir: &Path) -> Result<Self, VerifierPackageError> {
        let shown = dir.display().to_string();
        if !dir.is_dir() {
            return Err(VerifierPackageError::NotADirectory(shown));
        }
        let read_error = |source| VerifierPackageError::Read {
            path: shown.clone(),
            source,
        };
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                tracing::debug!(file = %path.display(), "verifier package: skipped a file whose name is not UTF-8");
                continue;
            };
            if !package_file_name(&name) {
                tracing::debug!(file = %path.display(), "verifier package: skipped a file that is not part of a JS package (*.js, *.wasm, *.d.ts, package.json)");
                continue;
            }
            match read_file(&path) {
                Ok(Some(bytes)) => {
                    files.insert(name, Bytes::from(bytes));
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(file = %path.display(), error = %err, "verifier package: skipped a file");
                }
            }
        }
        let missing: Vec<&str> = EXPECTED
            .into_iter()
            .filter(|name| !files.contains_key(*name))
            .collect();
        if !missing.is_empty() {
            tracing::warn!(dir = %shown, missing = ?missing, "verifier package is incomplete: the UI cannot verify tokens without it");
        }
        Ok(Self {
            dir: dir.to_owned(),
            files,
        })
    }

    /// The file `name`, if the package has it.
    pub fn file(&self, name: &str) -> Option<Bytes> {
        self.files.get(name).cloned()
    }

    /// The names of the files served, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The directory it was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The suffixes of the files a wasm-bindgen package is made of (besides `package.json`).
const PACKAGE_SUFFIXES: [&str; 3] = [".js", ".wasm", ".d.ts"];

/// Whether `name` may be served: `^[A-Za-z0-9_-][A-Za-z0-9_.-]*$` (so never a dotfile, `.` or
/// `..`), and either `package.json` or a name ending in one of [`PACKAGE_SUFFIXES`].
fn package_file_name(name: &str) -> bool {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    // Not starting with a dot, a name ending in a suffix is longer than the suffix.
    plain && (name == "package.json" || PACKAGE_SUFFIXES.iter().any(|s| name.ends_with(s)))
}

/// A regular file's bytes; `None` (with a warning) for a directory, something else or one too
/// large. The size is checked while reading too, in case the file grows in between.
fn read_file(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    // Follows links: a link to a file is served like the file (wasm-pack setups use them).
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        tracing::warn!(file = %path.display(), "verifier package: skipped something that is not a regular file");
        return Ok(None);
    }
    if metadata.len() > MAX_VERIFIER_FILE_BYTES {
        tracing::warn!(file = %path.display(), bytes = metadata.len(), "verifier package: skipped a file larger than 8 MiB");
        return Ok(None);
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_VERIFIER_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_VERIFIER_FILE_BYTES {
        tracing::warn!(file = %path.display(), "verifier package: skipped a file larger than 8 MiB");
        return Ok(None);
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_package_files_with_plain_names_are_taken() {
        for good in [
            "verifier.js",
            "verifier_bg.wasm",
            "verifier.d.ts",
            "verifier_bg.wasm.d.ts",
            "package.json",
            "a-b.js",
        ] {
            assert!(package_file_name(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".env",
            ".js",
            ".wasm",
            ".d.ts",
            ".hidden.js",
            "..js",
            "master.key",
            "a-b",
            "README.md",
            "verifier.ts",
            "verifier.js.map",
            "package.json.bak",
            "other.json",
            "Package.json",
            "a/b.js",
            "a b.js",
            "ü.js",
            "a\\b.js",
        ] {
            assert!(!package_file_name(bad), "{bad}");
        }
    }

    #[test]
    fn reads_plain_files_and_skips_the_rest() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("verifier.js"), b"export {}").expect("write");
        std::fs::write(dir.path().join("verifier_bg.wasm"), b"\0asm").expect("write");
        std::fs::write(dir.path().join("bad name.js"), b"x").expect("write");
        std::fs::write(dir.path().join(".env"), b"SECRET=1").expect("write");
        std::fs::write(dir.path().join("master.key"), b"k").expect("write");
        std::fs::create_dir(dir.path().join("snippets")).expect("mkdir");
        std::fs::create_dir(dir.path().join("dir.js")).expect("mkdir");
        let package = VerifierPackage::load(dir.path()).expect("load");
        assert_eq!(
            package.names().collect::<Vec<_>>(),
            ["verifier.js", "verifier_bg.wasm"]
        );
        assert_eq!(
            package.file("verifier_bg.wasm").as_deref(),
            Some(&b"\0asm"[..])
        );
        assert!(package.file("snippets").is_none());

        let missing = dir.path().join("nope");
        assert!(matches!(
            VerifierPackage::load(&missing),
            Err(VerifierPackageError::NotADirectory(_))
        ));
    }
}
