//! Name globs: `*` stands for any run of characters (none included); every other character
//! stands for itself. What rules use to name actors (`requires.actors`) and, later, callers.

/// Whether `name` matches `pattern`.
///
/// Iterative, with one remembered star: time is at most the product of the two lengths and
/// there is no recursion for a hostile pattern or name to exhaust.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    // The last star seen, and the position in `name` it has swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                // Let the star swallow one more character of the name and try again.
                Some((sp, sn)) => {
                    star = Some((sp, sn + 1));
                    pi = sp + 1;
                    ni = sn + 1;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_match_any_run_and_the_rest_is_literal() {
        assert!(matches("agent.*", "agent.research"));
        assert!(matches("agent.*", "agent."));
        assert!(!matches("agent.*", "agent"));
        assert!(!matches("agent.*", "xagent.research"));
        assert!(matches("*", ""));
        assert!(matches("*", "anything"));
        assert!(matches("a*b*c", "aXbYc"));
        assert!(matches("a*b*c", "abc"));
        assert!(!matches("a*b*c", "acb"));
        assert!(matches("*.research", "agent.research"));
        assert!(!matches("agent.research", "agent.researcher"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("a**", "a"));
        assert!(matches("ab", "ab"));
        assert!(!matches("a?", "ab"), "'?' is literal");
    }

    /// A naive recursive matcher as the oracle, over every short pattern and name.
    #[test]
    fn agrees_with_a_naive_matcher() {
        fn naive(p: &[u8], n: &[u8]) -> bool {
            match p.split_first() {
                None => n.is_empty(),
                Some((b'*', rest)) => (0..=n.len()).any(|i| naive(rest, &n[i..])),
                Some((c, rest)) => n.first() == Some(c) && naive(rest, &n[1..]),
            }
        }
        let alphabet = [b'a', b'b', b'*'];
        let mut all: alloc::vec::Vec<alloc::vec::Vec<u8>> = alloc::vec![alloc::vec![]];
        let mut layer = all.clone();
        for _ in 0..5 {
            layer = layer
                .iter()
                .flat_map(|s| {
                    alphabet.iter().map(move |c| {
                        let mut t = s.clone();
                        t.push(*c);
                        t
                    })
                })
                .collect();
            all.extend(layer.iter().cloned());
        }
        for p in &all {
            for n in all.iter().filter(|n| !n.contains(&b'*')) {
                let (ps, ns) = (
                    core::str::from_utf8(p).unwrap(),
                    core::str::from_utf8(n).unwrap(),
                );
                assert_eq!(matches(ps, ns), naive(p, n), "{ps:?} ~ {ns:?}");
            }
        }
    }
}
