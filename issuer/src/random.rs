//! Unguessable values from the operating system's RNG.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The OS RNG could not be read; nothing secret can be generated without it.
#[derive(Debug, thiserror::Error)]
#[error("operating system random number generator failed: {0}")]
pub struct RandomError(getrandom::Error);

/// `N` random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(RandomError)?;
    Ok(bytes)
}

/// `N` random bytes, base64url without padding (RFC 4648 §5), safe in URLs, forms and JSON.
pub fn random_base64url<const N: usize>() -> Result<String, RandomError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<N>()?))
}
