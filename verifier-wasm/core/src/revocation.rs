//! The revocation feed: tokens the issuer has withdrawn before their `exp`, and the lookup the
//! decision makes once a token has verified.
//!
//! The issuer publishes
//! `{"iss", "generated_at", "tokens": [{"jti", "exp"}], "clients": [{"client_id", "revoked_before"}]}`
//! and the host fetches it like a JWKS. A token is revoked when its `jti` is listed, or when its
//! client (`client_id`, else `sub`) is listed and the token was issued (`iat`) strictly before
//! `revoked_before`; a listed client's token without `iat` cannot show it is newer, so it is
//! revoked too.
//!
//! The document is read in one streaming pass straight into two sorted vectors: a feed of a few
//! MiB would take several times its size as a `serde_json::Value` tree, in every worker VM, and
//! a sorted vector of boxed strings is the most compact set `alloc` offers with a lookup of
//! `log2(n)` string comparisons (about 17 for 100 000 entries), next to which the signature check
//! costs thousands of times more. Unknown members are ignored at every level, so the issuer can add
//! to the format without breaking gateways; duplicate member names and wrong types are not.

use alloc::borrow::{Cow, ToOwned};
use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::claims::Claims;
use crate::error::Untrusted;
use crate::json::ValueAt;
use crate::limits::MAX_JSON_DEPTH;

/// Longest parse error kept in [`RevocationError::Malformed`]: it lands in a log line.
const MAX_REASON_CHARS: usize = 160;

/// A parsed revocation feed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Revocations {
    issuer: String,
    /// Revoked `jti`s, sorted and unique.
    tokens: Vec<Box<str>>,
    /// Revoked clients and the `iat` before which their tokens are revoked, sorted by client and
    /// unique (a client listed twice keeps the later time, which revokes more).
    clients: Vec<(Box<str>, f64)>,
}

/// What the feed is checked against: parts of a token whose signature and claims verified.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TokenRef<'a> {
    /// The `jti` claim.
    pub jti: Option<&'a str>,
    /// The `client_id` claim, or `sub` when the token has no `client_id`.
    pub client: Option<&'a str>,
    /// The `iat` claim.
    pub iat: Option<f64>,
}

impl<'a> TokenRef<'a> {
    /// The parts of a verified claim set the feed is checked against.
    pub fn from_claims(claims: &'a Claims) -> TokenRef<'a> {
        TokenRef {
            jti: claims.jti.as_deref(),
            client: client_of(claims.client_id.as_deref(), claims.sub.as_deref()),
            iat: claims.iat,
        }
    }
}

/// The client a token is revoked with (whole-client revocation): its `client_id`, or its `sub`
/// when it has none. An empty `sub` names no client (the feed never lists an empty one).
pub(crate) fn client_of<'a>(client_id: Option<&'a str>, sub: Option<&'a str>) -> Option<&'a str> {
    client_id.or(sub.filter(|s| !s.is_empty()))
}

/// Why the feed refuses a token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Revoked {
    /// Its `jti` is listed.
    Token,
    /// Its client is listed and it was issued before `revoked_before` (or has no `iat`).
    Client {
        /// The listed time.
        revoked_before: f64,
    },
    /// A token it was exchanged from is listed (cascade revocation).
    Ancestor,
    /// An actor of its delegation chain, or its principal, is a listed client and it was issued
    /// before `revoked_before`.
    Chain {
        /// The listed time.
        revoked_before: f64,
    },
}

impl Revoked {
    /// Says why, for the refusal's message.
    pub fn reason(self) -> &'static str {
        match self {
            Revoked::Token => "its jti is on the revocation list",
            Revoked::Client { .. } => {
                "its client's tokens issued before a revocation time are revoked"
            }
            Revoked::Ancestor => "a token it was exchanged from is on the revocation list",
            Revoked::Chain { .. } => {
                "an agent of its delegation chain, or its principal, is revoked"
            }
        }
    }
}

/// Why a revocation feed was refused as a whole (the host keeps the last good one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The document is larger than the provider's `max_bytes`.
    #[error("the revocation feed is {len} bytes; at most {max} are accepted")]
    TooLarge {
        /// Size of the document, in bytes.
        len: usize,
        /// The limit, in bytes.
        max: usize,
    },
    /// Not JSON, a duplicate member name, or a member of the wrong type or missing.
    #[error("the revocation feed is malformed: {reason}")]
    Malformed {
        /// What is wrong with it (printable ASCII, shortened).
        reason: String,
    },
    /// The feed's `iss` is not the provider's issuer: it speaks for someone else.
    #[error("the revocation feed is for issuer {iss}, not this provider's")]
    IssuerMismatch {
        /// The feed's `iss` (printable ASCII, shortened).
        iss: String,
    },
}

impl RevocationError {
    /// The stable machine code, e.g. `revocations_malformed`.
    pub fn code(&self) -> &'static str {
        match self {
            RevocationError::TooLarge { .. } => "revocations_too_large",
            RevocationError::Malformed { .. } => "revocations_malformed",
            RevocationError::IssuerMismatch { .. } => "revocations_issuer_mismatch",
        }
    }
}

fn malformed(reason: &str) -> RevocationError {
    // serde_json's messages quote pieces of the document; keep them printable and short.
    let reason = reason
        .chars()
        .take(MAX_REASON_CHARS)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    RevocationError::Malformed { reason }
}

impl Revocations {
    /// Parses a feed for the provider whose issuer is `issuer`, refusing documents over
    /// `max_bytes`, documents for another issuer, and anything malformed.
    pub fn parse(
        document: &[u8],
        issuer: &str,
        max_bytes: usize,
    ) -> Result<Revocations, RevocationError> {
        if document.len() > max_bytes {
            return Err(RevocationError::TooLarge {
                len: document.len(),
                max: max_bytes,
            });
        }
        let mut de = serde_json::Deserializer::from_slice(document);
        let parts = FeedSeed
            .deserialize(&mut de)
            .and_then(|parts| de.end().map(|()| parts))
            .map_err(|e| malformed(&e.to_string()))?;
        let iss = parts.iss.ok_or_else(|| malformed("no \"iss\" member"))?;
        if iss != issuer {
            return Err(RevocationError::IssuerMismatch {
                iss: Untrusted(&iss).to_string(),
            });
        }
        let mut tokens = parts
            .tokens
            .ok_or_else(|| malformed("no \"tokens\" array"))?;
        let mut clients = parts
            .clients
            .ok_or_else(|| malformed("no \"clients\" array"))?;
        tokens.sort_unstable();
        tokens.dedup();
        clients.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        clients.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = kept.1.max(later.1);
            }
            same
        });
        tokens.shrink_to_fit();
        clients.shrink_to_fit();
        Ok(Revocations {
            issuer: iss,
            tokens,
            clients,
        })
    }

    /// Whether the feed revokes this verified token, and why.
    pub fn check(&self, token: &TokenRef<'_>) -> Option<Revoked> {
        if let Some(jti) = token.jti {
            if self.tokens.binary_search_by(|t| (**t).cmp(jti)).is_ok() {
                return Some(Revoked::Token);
            }
        }
        let revoked_before = self.client_revoked(token.client?, token.iat)?;
        Some(Revoked::Client { revoked_before })
    }

    /// Whether the feed revokes a delegated token through its chain: a token it was exchanged
    /// from (`ancestors`) is listed, or an actor or the principal `subject` is a listed client
    /// whose revocation time is after the token's `iat` (a token exchanged from a revoked
    /// client's token is never newer than it).
    pub fn check_chain<'a>(
        &self,
        subject: &'a str,
        ancestors: impl IntoIterator<Item = &'a str>,
        actors: impl IntoIterator<Item = &'a str>,
        iat: Option<f64>,
    ) -> Option<Revoked> {
        if ancestors
            .into_iter()
            .any(|jti| self.tokens.binary_search_by(|t| (**t).cmp(jti)).is_ok())
        {
            return Some(Revoked::Ancestor);
        }
        let named = actors.into_iter().chain(client_of(None, Some(subject)));
        named
            .filter_map(|client| self.client_revoked(client, iat))
            .map(|revoked_before| Revoked::Chain { revoked_before })
            .next()
    }

    /// When `client`'s tokens issued before some time are revoked and one issued at `iat` is
    /// among them, that time.
    fn client_revoked(&self, client: &str, iat: Option<f64>) -> Option<f64> {
        let index = self
            .clients
            .binary_search_by(|(c, _)| (**c).cmp(client))
            .ok()?;
        let &(_, revoked_before) = self.clients.get(index)?;
        // Strictly before: a token issued at the revocation instant is a new one.
        iat.is_none_or(|iat| iat < revoked_before)
            .then_some(revoked_before)
    }

    /// The issuer the feed speaks for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Revoked `jti`s held.
    pub fn tokens(&self) -> usize {
        self.tokens.len()
    }

    /// Revoked clients held.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// Entries held (`jti`s and clients).
    pub fn len(&self) -> usize {
        self.tokens.len() + self.clients.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// ---------------------------------------------------------------------------------------------
// The streaming reader. Levels: the feed object (0), its members (1), list entries (2), their
// members (3); values read whole go through the strict reader at their level, so unknown members
// are checked for duplicates and depth like everything else, then dropped.

/// The members of the feed, as read.
#[derive(Default)]
struct Parts {
    iss: Option<String>,
    tokens: Option<Vec<Box<str>>>,
    clients: Option<Vec<(Box<str>, f64)>>,
}

/// Member names already seen in one object, to refuse duplicates among the ones we ignore.
#[derive(Default)]
struct Seen(BTreeSet<String>);

impl Seen {
    fn first<E: de::Error>(&mut self, name: &str) -> Result<(), E> {
        if self.0.insert(name.to_owned()) {
            Ok(())
        } else {
            Err(duplicate())
        }
    }
}

fn duplicate<E: de::Error>() -> E {
    E::custom("duplicate JSON member name")
}

/// Refuses a second occurrence of a known member.
fn once<T, E: de::Error>(slot: &Option<T>) -> Result<(), E> {
    if slot.is_some() {
        Err(duplicate())
    } else {
        Ok(())
    }
}

/// A member name, borrowed from the document when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

/// Reads a member's value at `depth` and drops it.
fn skip<'de, A: MapAccess<'de>>(map: &mut A, depth: usize) -> Result<(), A::Error> {
    map.next_value_seed(ValueAt {
        depth,
        max_depth: MAX_JSON_DEPTH,
    })
    .map(drop)
}

/// Reads a member's value at `depth` as a non-empty string.
fn text<'de, A: MapAccess<'de>>(
    map: &mut A,
    depth: usize,
    what: &'static str,
) -> Result<String, A::Error> {
    match map.next_value_seed(ValueAt {
        depth,
        max_depth: MAX_JSON_DEPTH,
    })? {
        Value::String(s) if !s.is_empty() => Ok(s),
        _ => Err(de::Error::custom(format_args!(
            "{what} must be a non-empty string"
        ))),
    }
}

/// Reads a member's value at `depth` as an RFC 7519 NumericDate: finite, non-negative.
fn date<'de, A: MapAccess<'de>>(
    map: &mut A,
    depth: usize,
    what: &'static str,
) -> Result<f64, A::Error> {
    let value = map.next_value_seed(ValueAt {
        depth,
        max_depth: MAX_JSON_DEPTH,
    })?;
    match value.as_f64() {
        Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(de::Error::custom(format_args!(
            "{what} must be a non-negative number of seconds"
        ))),
    }
}

struct FeedSeed;

impl<'de> DeserializeSeed<'de> for FeedSeed {
    type Value = Parts;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Parts, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FeedSeed {
    type Value = Parts;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a revocation feed object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parts, A::Error> {
        let mut parts = Parts::default();
        let mut generated_at = None;
        let mut seen = Seen::default();
        while let Some(Key(name)) = map.next_key()? {
            match &*name {
                "iss" => {
                    once(&parts.iss)?;
                    parts.iss = Some(text(&mut map, 1, "iss")?);
                }
                // Not used for any decision (freshness is when the gateway fetched the feed),
                // but a feed that says something odd about itself is not trusted either.
                "generated_at" => {
                    once(&generated_at)?;
                    generated_at = Some(date(&mut map, 1, "generated_at")?);
                }
                "tokens" => {
                    once(&parts.tokens)?;
                    parts.tokens = Some(map.next_value_seed(List(PhantomData::<TokenEntry>))?);
                }
                "clients" => {
                    once(&parts.clients)?;
                    parts.clients = Some(map.next_value_seed(List(PhantomData::<ClientEntry>))?);
                }
                other => {
                    seen.first(other)?;
                    skip(&mut map, 1)?;
                }
            }
        }
        Ok(parts)
    }
}

/// One kind of list entry.
trait Entry: Sized {
    /// What the entry becomes.
    type Item;
    /// What the list must be, for error messages.
    const EXPECTING: &'static str;
    /// What each entry must be, for error messages.
    const ENTRY: &'static str;
    /// Reads the entry's members.
    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Self::Item, A::Error>;
}

/// A list member (`tokens`, `clients`): an array of entry objects.
struct List<E>(PhantomData<E>);

impl<'de, E: Entry> DeserializeSeed<'de> for List<E> {
    type Value = Vec<E::Item>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, E: Entry> Visitor<'de> for List<E> {
    type Value = Vec<E::Item>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(E::EXPECTING)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(EntrySeed(PhantomData::<E>))? {
            items.push(item);
        }
        Ok(items)
    }
}

struct EntrySeed<E>(PhantomData<E>);

impl<'de, E: Entry> DeserializeSeed<'de> for EntrySeed<E> {
    type Value = E::Item;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<E::Item, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, E: Entry> Visitor<'de> for EntrySeed<E> {
    type Value = E::Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(E::ENTRY)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<E::Item, A::Error> {
        E::read(map)
    }
}

/// `{"jti": "…", "exp": …}`.
struct TokenEntry;

impl Entry for TokenEntry {
    type Item = Box<str>;
    const EXPECTING: &'static str = "an array of {\"jti\", \"exp\"} objects";
    const ENTRY: &'static str = "a {\"jti\", \"exp\"} object";

    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Box<str>, A::Error> {
        let (mut jti, mut exp) = (None, None);
        let mut seen = Seen::default();
        while let Some(Key(name)) = map.next_key()? {
            match &*name {
                "jti" => {
                    once(&jti)?;
                    jti = Some(text(&mut map, 3, "tokens[].jti")?);
                }
                // When the entry leaves the feed; the token is expired by then anyway.
                "exp" => {
                    once(&exp)?;
                    exp = Some(date(&mut map, 3, "tokens[].exp")?);
                }
                other => {
                    seen.first(other)?;
                    skip(&mut map, 3)?;
                }
            }
        }
        jti.map(String::into_boxed_str)
            .ok_or_else(|| de::Error::custom("a tokens[] entry has no jti"))
    }
}

/// `{"client_id": "…", "revoked_before": …}`.
struct ClientEntry;

impl Entry for ClientEntry {
    type Item = (Box<str>, f64);
    const EXPECTING: &'static str = "an array of {\"client_id\", \"revoked_before\"} objects";
    const ENTRY: &'static str = "a {\"client_id\", \"revoked_before\"} object";

    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<(Box<str>, f64), A::Error> {
        let (mut client, mut before) = (None, None);
        let mut seen = Seen::default();
        while let Some(Key(name)) = map.next_key()? {
            match &*name {
                "client_id" => {
                    once(&client)?;
                    client = Some(text(&mut map, 3, "clients[].client_id")?);
                }
                "revoked_before" => {
                    once(&before)?;
                    before = Some(date(&mut map, 3, "clients[].revoked_before")?);
                }
                other => {
                    seen.first(other)?;
                    skip(&mut map, 3)?;
                }
            }
        }
        match (client, before) {
            (Some(client), Some(before)) => Ok((client.into_boxed_str(), before)),
            (None, _) => Err(de::Error::custom("a clients[] entry has no client_id")),
            (_, None) => Err(de::Error::custom("a clients[] entry has no revoked_before")),
        }
    }
}
