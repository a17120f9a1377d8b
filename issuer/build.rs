//! Embeds the admin UI (`ui/`) in the binary: writes `$OUT_DIR/ui_assets.rs`, a table of every
//! file under `ui/` (its path below `/ui/`, and its bytes by `include_bytes!`), sorted by path
//! so the server can binary-search it.
//!
//! Hidden files (`.name`) and editor backups (`name~`) are left out. A missing `ui/` gives an
//! empty table: the binary still builds, and `/ui/` answers 404.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let root = manifest_dir.join("ui");
    // The directory itself: cargo then rescans it for changes, so added files are picked up.
    println!("cargo:rerun-if-changed=ui");
    let mut files = Vec::new();
    if root.is_dir() {
        collect(&root, "", &mut files)?;
    }
    files.sort();
    let mut table = String::from(
        "/// Every file under `issuer/ui/`: (path below `/ui/`, contents), sorted by path.\n\
         pub(crate) static UI_ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (path, file) in &files {
        let absolute = file
            .to_str()
            .ok_or_else(|| io::Error::other(format!("{} is not UTF-8", file.display())))?;
        // `{:?}` of a str is a valid Rust string literal (quotes and backslashes escaped).
        writeln!(table, "    ({path:?}, include_bytes!({absolute:?})),")?;
    }
    table.push_str("];\n");
    std::fs::write(out_dir.join("ui_assets.rs"), table)?;
    Ok(())
}

/// Adds every file below `dir` to `files` as (`prefix` + relative path with `/`, absolute path).
fn collect(dir: &Path, prefix: &str, files: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(io::Error::other(format!(
                "{} is not UTF-8: rename it",
                entry.path().display()
            )));
        };
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links, so a linked file is embedded like any other.
        let metadata = std::fs::metadata(&path)?;
        let relative = format!("{prefix}{name}");
        if metadata.is_dir() {
            collect(&path, &format!("{relative}/"), files)?;
        } else if metadata.is_file() {
            println!("cargo:rerun-if-changed={}", path.display());
            files.push((relative, path.canonicalize()?));
        }
    }
    Ok(())
}
