//! Scope containment: when one scope-token grants what another names. The one definition the
//! issuer (narrowing at client credentials and token exchange) and the gateway (a route's
//! required scopes) share.
//!
//! A scope-token ending in `:*` covers every scope-token that starts with what precedes the `*`
//! and goes on past it: `repo:read:*` covers `repo:read:x`, `repo:read:x:y` and the narrower
//! glob `repo:read:x:*`, but not `repo:read:` nor `repo:write`. No other wildcard exists: a `*`
//! anywhere else, or a bare `*`, is an ordinary character.

/// The suffix that makes a scope-token a glob.
pub const GLOB_SUFFIX: &str = ":*";

/// Whether holding `held` grants `wanted`: the same token, or `held` is a `:*` glob whose prefix
/// `wanted` extends by at least one character.
pub fn covers(held: &str, wanted: &str) -> bool {
    if held == wanted {
        return true;
    }
    match held.strip_suffix('*') {
        // `prefix` keeps its ':'; `wanted` must go on past it.
        Some(prefix) if held.ends_with(GLOB_SUFFIX) => {
            wanted.len() > prefix.len() && wanted.starts_with(prefix)
        }
        _ => false,
    }
}

/// Whether some token of `held` covers `wanted`.
pub fn covered_by<'a>(mut held: impl Iterator<Item = &'a str>, wanted: &str) -> bool {
    held.any(|h| covers(h, wanted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use alloc::string::String;
    use alloc::vec::Vec;

    #[test]
    fn the_contract_examples() {
        assert!(covers("repo:read:*", "repo:read:x"));
        assert!(covers("repo:read:*", "repo:read:x:y"));
        assert!(covers("repo:read:*", "repo:read:x:*"));
        assert!(covers("repo:read:*", "repo:read:*"));
        assert!(!covers("repo:read:*", "repo:write"));
        assert!(!covers("repo:read:*", "repo:read"));
        assert!(!covers("repo:read:*", "repo:read:"));
        assert!(!covers("repo:read:x", "repo:read:*"));
        // Only a trailing ":*" is a glob.
        assert!(!covers("*", "anything"));
        assert!(!covers("repo*", "repo:x"));
        assert!(!covers("a:*:b", "a:x:b"));
        assert!(covers("*", "*"));
    }

    /// What a scope-token grants, spelled out over a finite universe: itself, and for a glob
    /// every longer token starting with its prefix. The oracle knows nothing of `covers`.
    fn grants<'u>(token: &str, universe: &'u [String]) -> BTreeSet<&'u str> {
        let glob = token.ends_with(":*");
        let prefix = &token[..token.len().saturating_sub(1)];
        universe
            .iter()
            .map(String::as_str)
            .filter(|s| *s == token || (glob && s.len() > prefix.len() && s.starts_with(prefix)))
            .collect()
    }

    fn all_strings(alphabet: &[char], max_len: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut layer = alloc::vec![String::new()];
        for _ in 0..max_len {
            let next: Vec<String> = layer
                .iter()
                .flat_map(|p| alphabet.iter().map(move |c| alloc::format!("{p}{c}")))
                .collect();
            out.extend(next.iter().cloned());
            layer = next;
        }
        out
    }

    /// Brute force: for every pair of tokens up to 4 characters over `a`, `b`, `:`, `*`,
    /// `covers(h, w)` holds exactly when everything `w` grants (over all tokens up to 6
    /// characters) is granted by `h`.
    #[test]
    fn covers_is_set_containment_of_what_tokens_grant() {
        let alphabet = ['a', 'b', ':', '*'];
        let tokens = all_strings(&alphabet, 4);
        let universe = all_strings(&alphabet, 6);
        let granted: Vec<BTreeSet<&str>> = tokens.iter().map(|t| grants(t, &universe)).collect();
        let mut checked = 0;
        for (h, by_h) in tokens.iter().zip(&granted) {
            for (w, by_w) in tokens.iter().zip(&granted) {
                let oracle = by_w.is_subset(by_h);
                assert_eq!(covers(h, w), oracle, "covers({h:?}, {w:?})");
                checked += 1;
            }
        }
        assert_eq!(checked, 340 * 340);
    }
}
