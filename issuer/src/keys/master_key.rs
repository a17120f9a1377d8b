//! The master key: 32 bytes under which private keys are sealed at rest ([`AesGcmSealer`]).
//!
//! Where it comes from, in order:
//! 1. `ISSUER_MASTER_KEY`: 64 hex digits or base64 (standard or URL-safe, padded or not) of 32
//!    bytes; surrounding whitespace is ignored.
//! 2. A key file (`ISSUER_MASTER_KEY_FILE` or a command-line path), e.g. rendered by Vault
//!    agent: the same text (a trailing newline is fine), or exactly 32 raw bytes.
//! 3. Otherwise a development key file (e.g. `data/master.key`), generated on first start with
//!    mode 0600; [`MasterKeyOrigin::is_development`] tells the caller to warn loudly.
//!
//! The caller reads the environment and passes the values in ([`MasterKeySource`]), so this
//! module stays testable without touching process state. Nothing here ever prints key bytes:
//! `Debug` is redacted and errors name only the source and lengths, never the input text.
//!
//! [`AesGcmSealer`]: super::AesGcmSealer

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::{Zeroize as _, Zeroizing};

use crate::random::{RandomError, random_bytes};

/// Length of the master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

/// The environment variable holding the key itself.
pub const ENV_MASTER_KEY: &str = "ISSUER_MASTER_KEY";

/// The environment variable naming a file that holds the key.
pub const ENV_MASTER_KEY_FILE: &str = "ISSUER_MASTER_KEY_FILE";

/// Largest key file read: the longest accepted text is under 100 bytes, so anything bigger is
/// the wrong file, and reading it whole (say `/dev/zero`) would never end.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// The 32-byte master key. Wiped from memory on drop; `Debug` never shows it.
pub struct MasterKey {
    // Boxed so moving a `MasterKey` around never leaves stray copies of the bytes on the stack.
    bytes: Box<[u8; MASTER_KEY_LEN]>,
}

impl MasterKey {
    /// A key from raw bytes (the caller's copy is the caller's to wipe).
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> Self {
        Self {
            bytes: Box::new(bytes),
        }
    }

    /// The key bytes, for the sealer.
    pub(crate) fn as_bytes(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.bytes
    }

    /// Copies the bytes straight into the key's own allocation.
    fn copied_from(source: &[u8; MASTER_KEY_LEN]) -> Self {
        let mut bytes = Box::new([0u8; MASTER_KEY_LEN]);
        bytes.copy_from_slice(source);
        Self { bytes }
    }

    /// Loads the key from the first configured source; see the module documentation.
    pub fn load(source: MasterKeySource) -> Result<(Self, MasterKeyOrigin), MasterKeyError> {
        let MasterKeySource {
            env_value,
            file,
            dev_file,
        } = source;
        // Owned so the text is wiped when we are done with it.
        if let Some(text) = env_value.map(Zeroizing::new) {
            let key = decode_text(&text, || ENV_MASTER_KEY.to_owned())?;
            return Ok((key, MasterKeyOrigin::Env));
        }
        if let Some(path) = file {
            let key = read_key_file(&path)?;
            return Ok((key, MasterKeyOrigin::File(path)));
        }
        if let Some(path) = dev_file {
            let (key, created) = load_or_create_dev_key(&path)?;
            return Ok((key, MasterKeyOrigin::DevFile { path, created }));
        }
        Err(MasterKeyError::NotConfigured)
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Where to look for the master key; the caller fills it from flags and the environment.
#[derive(Clone, Default)]
pub struct MasterKeySource {
    /// The value of `ISSUER_MASTER_KEY`, if set (even if empty: an empty value is an error,
    /// not a silent fall-back to the development key).
    pub env_value: Option<String>,
    /// The key file from `ISSUER_MASTER_KEY_FILE` or the command line, if any.
    pub file: Option<PathBuf>,
    /// The development key file to use, or create, when neither of the above is given;
    /// `None` makes a missing key an error (what production should configure).
    pub dev_file: Option<PathBuf>,
}

impl fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeySource")
            .field("env_value", &self.env_value.as_ref().map(|_| "<redacted>"))
            .field("file", &self.file)
            .field("dev_file", &self.dev_file)
            .finish()
    }
}

/// Where the loaded key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeyOrigin {
    /// `ISSUER_MASTER_KEY`.
    Env,
    /// A configured key file.
    File(PathBuf),
    /// The development key file: fine on a laptop, never in production.
    DevFile {
        /// The file.
        path: PathBuf,
        /// Whether this start generated it (so keys sealed before are lost, if any).
        created: bool,
    },
}

impl MasterKeyOrigin {
    /// Whether the key is the unprotected development key, which the caller must warn about.
    pub fn is_development(&self) -> bool {
        matches!(self, Self::DevFile { .. })
    }
}

/// Why the master key could not be loaded. Messages name the source, never its content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterKeyError {
    /// No source is configured and no development key file was offered.
    #[error("no master key configured: set {ENV_MASTER_KEY} or {ENV_MASTER_KEY_FILE}")]
    NotConfigured,
    /// The source is empty (or only whitespace).
    #[error("the master key in {from} is empty")]
    Empty {
        /// The source, e.g. `ISSUER_MASTER_KEY` or `file /run/secrets/master.key`.
        from: String,
    },
    /// The text is neither hex nor base64.
    #[error(
        "the master key in {from} is not 32 bytes written as 64 hex digits or as base64 \
         (a key file may also hold exactly 32 raw bytes)"
    )]
    Encoding {
        /// The source.
        from: String,
    },
    /// The text decodes, but not to 32 bytes.
    #[error("the master key in {from} decodes to {len} bytes; it must be exactly 32")]
    WrongLength {
        /// The source.
        from: String,
        /// The decoded length.
        len: usize,
    },
    /// A 32-byte key file that reads as text: most likely a password, not random key bytes.
    #[error(
        "the master key file {} holds 32 characters of text, not 32 random bytes; write the \
         key as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)",
        .path.display()
    )]
    TextNotRawKey {
        /// The file.
        path: PathBuf,
    },
    /// Every byte is zero: a placeholder, not a key.
    #[error("the master key in {from} is all zero bytes")]
    AllZero {
        /// The source.
        from: String,
    },
    /// The key file is far larger than any key.
    #[error(
        "the master key file {} is larger than {MAX_KEY_FILE_BYTES} bytes; is it the right file?",
        .path.display()
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The key file is a directory or some other non-regular file.
    #[error("the master key file {} is not a regular file", .path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// An existing development key file may be read by other users.
    #[error(
        "the development master key file {} is readable by group or others (mode {mode:03o}); \
         run `chmod 600` on it, or delete it to have a new key generated",
        .path.display()
    )]
    InsecureDevKeyFile {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading or creating the key file failed.
    #[error("cannot {action} the master key file {}: {source}", .path.display())]
    Io {
        /// What was being done: `read` or `create`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The OS RNG failed while generating the development key.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl MasterKeyError {
    /// The stable machine code, e.g. `master_key_wrong_length`. Never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotConfigured => "master_key_not_configured",
            Self::Empty { .. } => "master_key_empty",
            Self::Encoding { .. } => "master_key_encoding",
            Self::WrongLength { .. } => "master_key_wrong_length",
            Self::TextNotRawKey { .. } => "master_key_text_not_raw",
            Self::AllZero { .. } => "master_key_all_zero",
            Self::FileTooLarge { .. } => "master_key_file_too_large",
            Self::NotAFile { .. } => "master_key_not_a_file",
            Self::InsecureDevKeyFile { .. } => "master_key_dev_file_insecure",
            Self::Io { .. } => "master_key_io",
            Self::Random(_) => "master_key_random_failed",
        }
    }
}

fn file_label(path: &Path) -> String {
    format!("file {}", path.display())
}

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> MasterKeyError + 'a {
    move |source| MasterKeyError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Decodes key text: 64 hex digits, or base64 of 32 bytes, surrounded by optional whitespace.
fn decode_text(text: &str, from: impl Fn() -> String) -> Result<MasterKey, MasterKeyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(MasterKeyError::Empty { from: from() });
    }
    // Even-length all-hex text is hex. No base64 form of 32 bytes is even-length all-hex (44
    // characters end in `=`, 43 are odd), so the two readings never compete for a valid key.
    let decoded = if text.len() % 2 == 0 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        decode_hex(text).ok_or_else(|| MasterKeyError::Encoding { from: from() })?
    } else {
        [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .map(Zeroizing::new)
            .ok_or_else(|| MasterKeyError::Encoding { from: from() })?
    };
    key_from_decoded(&decoded, from)
}

/// Hex digits (either case) to bytes; `None` unless the text is an even number of hex digits.
fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let nibble = |b: u8| char::from(b).to_digit(16);
    let mut bytes = Zeroizing::new(Vec::with_capacity(text.len() / 2));
    for pair in text.as_bytes().chunks(2) {
        let [high, low] = pair else { return None };
        // Both digits are below 16, so the byte cannot overflow.
        bytes.push(u8::try_from(nibble(*high)? << 4 | nibble(*low)?).ok()?);
    }
    Some(bytes)
}

fn key_from_decoded(
    decoded: &[u8],
    from: impl Fn() -> String,
) -> Result<MasterKey, MasterKeyError> {
    let bytes: &[u8; MASTER_KEY_LEN] =
        decoded
            .try_into()
            .map_err(|_| MasterKeyError::WrongLength {
                from: from(),
                len: decoded.len(),
            })?;
    let key = MasterKey::copied_from(bytes);
    if key.as_bytes().iter().all(|&b| b == 0) {
        return Err(MasterKeyError::AllZero { from: from() });
    }
    Ok(key)
}

/// Reads a key from an open file: 32 raw bytes, or key text.
fn read_key(mut file: File, path: &Path) -> Result<MasterKey, MasterKeyError> {
    let metadata = file.metadata().map_err(io_error("read", path))?;
    if !metadata.is_file() {
        return Err(MasterKeyError::NotAFile {
            path: path.to_owned(),
        });
    }
    let mut contents = Zeroizing::new(Vec::with_capacity(128));
    // `take` bounds the read even if the file grows between the stat and the read.
    (&mut file)
        .take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut contents)
        .map_err(io_error("read", path))?;
    if contents.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(MasterKeyError::FileTooLarge {
            path: path.to_owned(),
        });
    }
    let from = || file_label(path);
    if contents.len() == MASTER_KEY_LEN {
        // Random bytes are all printable with probability (95/256)^32 < 10^-13: text this short
        // is a password or a truncated encoding, and taking it as key bytes would hide that.
        if contents
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
        {
            return Err(MasterKeyError::TextNotRawKey {
                path: path.to_owned(),
            });
        }
        return key_from_decoded(&contents, from);
    }
    let text =
        std::str::from_utf8(&contents).map_err(|_| MasterKeyError::Encoding { from: from() })?;
    decode_text(text, from)
}

/// Reads a configured key file. Its permissions are the deployment's business (Kubernetes
/// mounts secrets 0644 by default), so unlike the development key they are not checked.
fn read_key_file(path: &Path) -> Result<MasterKey, MasterKeyError> {
    let file = File::open(path).map_err(io_error("read", path))?;
    read_key(file, path)
}

/// Loads the development key, generating it on first use; `true` if this call created it.
fn load_or_create_dev_key(path: &Path) -> Result<(MasterKey, bool), MasterKeyError> {
    match File::open(path) {
        Ok(file) => Ok((read_dev_key(file, path)?, false)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => create_dev_key(path),
        Err(err) => Err(io_error("read", path)(err)),
    }
}

/// Reads the development key file, refusing it if other users could have read it: then it
/// protects nothing, and the keys sealed under it must be assumed exposed.
fn read_dev_key(file: File, path: &Path) -> Result<MasterKey, MasterKeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // fstat of the open file: the mode checked is the mode of the file read.
        let mode = file
            .metadata()
            .map_err(io_error("read", path))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(MasterKeyError::InsecureDevKeyFile {
                path: path.to_owned(),
                mode,
            });
        }
    }
    read_key(file, path)
}

/// Generates the development key: written to a private temporary file, then hard-linked into
/// place, so the key file appears complete or not at all, and two processes starting at once
/// cannot both create one (the loser of the link race reads the winner's key).
fn create_dev_key(path: &Path) -> Result<(MasterKey, bool), MasterKeyError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(io_error("create", path))?;
    let key = MasterKey::copied_from(&Zeroizing::new(random_bytes::<MASTER_KEY_LEN>()?));
    let suffix: [u8; 8] = random_bytes()?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let temp = dir.join(format!(".master-key-{suffix}.tmp"));
    let written = write_private(&temp, key.as_bytes()).and_then(|()| fs::hard_link(&temp, path));
    // The temporary name has served its purpose whatever happened; a failure to remove it
    // leaves only a stray 0600 file.
    let _ = fs::remove_file(&temp);
    match written {
        Ok(()) => Ok((key, true)),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            let file = File::open(path).map_err(io_error("read", path))?;
            Ok((read_dev_key(file, path)?, false))
        }
        Err(err) => Err(io_error("create", path)(err)),
    }
}

/// Creates `path` (which must not exist) readable by its owner only, and writes `bytes` durably.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Set at creation, so there is no moment when the file is readable by others.
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn expected() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    fn env(value: &str) -> MasterKeySource {
        MasterKeySource {
            env_value: Some(value.to_owned()),
            ..MasterKeySource::default()
        }
    }

    fn file(path: &Path) -> MasterKeySource {
        MasterKeySource {
            file: Some(path.to_owned()),
            ..MasterKeySource::default()
        }
    }

    fn dev(path: &Path) -> MasterKeySource {
        MasterKeySource {
            dev_file: Some(path.to_owned()),
            ..MasterKeySource::default()
        }
    }

    fn load_err(source: MasterKeySource) -> MasterKeyError {
        match MasterKey::load(source) {
            Ok((_, origin)) => panic!("expected an error, got a key from {origin:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn env_accepts_hex_and_every_base64_flavour() -> Result<(), MasterKeyError> {
        let counting = expected();
        // 0xFB bytes encode to `+` in standard base64 and `-` in URL-safe: both alphabets are tried.
        let high = [0xFB; 32];
        let cases = [
            (HEX.to_owned(), counting),
            (HEX.to_uppercase(), counting),
            (format!("  {HEX}\n"), counting),
            (STANDARD.encode(counting), counting),
            (format!("{}\r\n", STANDARD.encode(counting)), counting),
            (STANDARD_NO_PAD.encode(high), high),
            (URL_SAFE.encode(high), high),
            (URL_SAFE_NO_PAD.encode(high), high),
        ];
        for (text, want) in cases {
            let (key, origin) = MasterKey::load(env(&text))?;
            assert_eq!(origin, MasterKeyOrigin::Env);
            assert_eq!(key.as_bytes(), &want, "{text:?}");
        }
        Ok(())
    }

    #[test]
    fn wrong_lengths_are_refused_without_showing_the_key() {
        let short_hex = &HEX[..62];
        let long_b64 = STANDARD.encode([0x5A; 33]);
        let short_b64 = URL_SAFE_NO_PAD.encode([0x5A; 16]);
        for (text, len) in [
            (short_hex, 31),
            (long_b64.as_str(), 33),
            (short_b64.as_str(), 16),
        ] {
            let err = load_err(env(text));
            assert_eq!(err.code(), "master_key_wrong_length", "{text}");
            let message = err.to_string();
            assert!(message.contains(&format!("{len} bytes")), "{message}");
            assert!(!message.contains(text), "{message}");
            assert!(!format!("{err:?}").contains(text));
        }
        for (text, code) in [
            ("", "master_key_empty"),
            ("  \n", "master_key_empty"),
            ("not a key!", "master_key_encoding"),
            (&"0".repeat(64), "master_key_all_zero"),
        ] {
            let err = load_err(env(text));
            assert_eq!(err.code(), code, "{text:?}");
            if !text.trim().is_empty() {
                assert!(!err.to_string().contains(text.trim()));
            }
        }
    }

    #[test]
    fn env_comes_before_the_files() -> Result<(), MasterKeyError> {
        let dir = tempfile::tempdir().map_err(io_error("create", Path::new("tmp")))?;
        let source = MasterKeySource {
            env_value: Some(HEX.to_owned()),
            file: Some(dir.path().join("missing")),
            dev_file: Some(dir.path().join("dev.key")),
        };
        let (key, origin) = MasterKey::load(source)?;
        assert_eq!(
            (key.as_bytes(), origin),
            (&expected(), MasterKeyOrigin::Env)
        );
        assert!(!dir.path().join("dev.key").exists());
        Ok(())
    }

    #[test]
    fn key_files_accept_text_with_newline_and_raw_bytes() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let cases: [(&str, Vec<u8>); 4] = [
            ("hex", format!("{HEX}\n").into_bytes()),
            (
                "b64",
                format!("{}\n", STANDARD.encode(expected())).into_bytes(),
            ),
            ("b64-bare", STANDARD.encode(expected()).into_bytes()),
            ("raw", expected().to_vec()),
        ];
        for (name, contents) in cases {
            let path = dir.path().join(name);
            fs::write(&path, contents)?;
            let (key, origin) = MasterKey::load(file(&path))?;
            assert_eq!(key.as_bytes(), &expected(), "{name}");
            assert_eq!(origin, MasterKeyOrigin::File(path.clone()));
            assert!(!origin.is_development());
        }
        Ok(())
    }

    #[test]
    fn key_files_refuse_wrong_lengths_text_keys_and_huge_files()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let cases: [(&str, Vec<u8>, &str); 7] = [
            ("raw31", vec![0xA5; 31], "master_key_encoding"),
            ("raw33", vec![0xA5; 33], "master_key_encoding"),
            (
                "hex31",
                format!("{}\n", &HEX[..62]).into_bytes(),
                "master_key_wrong_length",
            ),
            (
                "password",
                b"correct horse battery staple 123".to_vec(),
                "master_key_text_not_raw",
            ),
            (
                "password-newline",
                b"correct horse battery staple 12\n".to_vec(),
                "master_key_text_not_raw",
            ),
            ("empty", Vec::new(), "master_key_empty"),
            ("huge", vec![b'a'; 5000], "master_key_file_too_large"),
        ];
        for (name, contents, code) in cases {
            let path = dir.path().join(name);
            fs::write(&path, &contents)?;
            let err = load_err(file(&path));
            assert_eq!(err.code(), code, "{name}: {err}");
        }
        let err = load_err(file(&dir.path().join("missing")));
        assert_eq!(err.code(), "master_key_io");
        assert_eq!(load_err(file(dir.path())).code(), "master_key_not_a_file");
        Ok(())
    }

    #[test]
    fn nothing_configured_is_an_error() {
        assert_eq!(
            load_err(MasterKeySource::default()).code(),
            "master_key_not_configured"
        );
    }

    #[cfg(unix)]
    #[test]
    fn dev_key_is_created_0600_and_then_reused() -> Result<(), Box<dyn std::error::Error>> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("data").join("master.key");
        let (first, origin) = MasterKey::load(dev(&path))?;
        assert_eq!(
            origin,
            MasterKeyOrigin::DevFile {
                path: path.clone(),
                created: true
            }
        );
        assert!(origin.is_development());
        assert_eq!(fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read(&path)?.as_slice(), first.as_bytes());
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(path.parent().ok_or("no parent")?)?.count(), 1);

        let (again, origin) = MasterKey::load(dev(&path))?;
        assert_eq!(again.as_bytes(), first.as_bytes());
        assert_eq!(
            origin,
            MasterKeyOrigin::DevFile {
                path,
                created: false
            }
        );
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn an_over_permissive_dev_key_is_refused() -> Result<(), Box<dyn std::error::Error>> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("master.key");
        MasterKey::load(dev(&path))?;
        for mode in [0o644, 0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
            let err = load_err(dev(&path));
            assert_eq!(err.code(), "master_key_dev_file_insecure", "{mode:o}");
            assert!(err.to_string().contains("chmod 600"), "{err}");
            assert!(err.to_string().contains(&format!("{mode:03o}")), "{err}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400))?;
        assert!(MasterKey::load(dev(&path)).is_ok());
        Ok(())
    }

    #[test]
    fn debug_never_shows_the_key() -> Result<(), MasterKeyError> {
        let (key, _) = MasterKey::load(env(HEX))?;
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
        let source = env(HEX);
        assert!(!format!("{source:?}").contains(HEX));
        Ok(())
    }
}
