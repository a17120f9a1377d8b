//! Browser sessions of the admin UI: a random id in an `HttpOnly` cookie, a CSRF token the page
//! keeps in memory, both bound to the admin credential that signed in.
//!
//! Sessions live in this process's memory only: a restart signs everyone out, and with several
//! replicas a browser must keep talking to the one it signed in at (the admin port is one
//! operator's, not a load-balanced service). Only the SHA-256 of a session id is kept, so
//! nothing in memory can be replayed as a cookie. The store is bounded: at most
//! [`MAX_SESSIONS`], expired ones dropped first, then the oldest.
//!
//! No I/O and no clock: every operation takes `now`. Whether the credential behind a session is
//! still active is for the caller to check against the database on every request.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use subtle::ConstantTimeEq;

use crate::clock::UnixTime;
use crate::random::{RandomError, random_base64url};

/// Longest a session lives, however active: 8 hours.
pub const ABSOLUTE_LIFETIME_SECS: u64 = 8 * 3600;

/// A session unused for this long ends: 30 minutes.
pub const IDLE_TIMEOUT_SECS: u64 = 30 * 60;

/// Most sessions kept at once. Signing in needs the admin credential, so only operators can
/// add sessions; the bound keeps a looping script from growing memory without end.
pub const MAX_SESSIONS: usize = 1_000;

/// Length of a session id as sent in the cookie: 32 random bytes, base64url without padding.
const ID_LEN: usize = 43;

/// One signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The admin credential that signed in (`admin:<id>` in audit records).
    pub credential_id: String,
    /// The token every state-changing request must echo in `X-CSRF-Token`.
    pub csrf: String,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it was last used by an authenticated request.
    pub last_used: UnixTime,
    /// When it ends whatever happens: `created_at` + [`ABSOLUTE_LIFETIME_SECS`].
    pub expires_at: UnixTime,
}

impl Session {
    /// Whether it can still be used at `now`.
    fn is_live(&self, now: UnixTime) -> bool {
        now < self.expires_at && now < self.last_used.saturating_add(IDLE_TIMEOUT_SECS)
    }

    /// Whether `presented` is this session's CSRF token, compared in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// A session just created: the id goes in the cookie and is not kept.
#[derive(Debug)]
pub struct NewSession {
    /// The cookie value. Shown once, to the browser that signed in.
    pub id: String,
    /// The key the store knows it by (SHA-256 of `id`).
    pub key: SessionKey,
    /// The session as stored.
    pub session: Session,
}

/// The SHA-256 of a session id: how the store knows a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// The key of the session whose cookie value is `id`; `None` for a value that cannot be
    /// one of ours (wrong length or alphabet), so junk is never hashed or looked up.
    pub fn of(id: &str) -> Option<Self> {
        let well_formed = id.len() == ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self(hmac_sha256::Hash::hash(id.as_bytes())))
    }

    /// A short, non-secret label for audit records and logs: the first 6 bytes of the hash in
    /// hex. It ties a sign-in to its sign-out without revealing anything usable.
    pub fn label(&self) -> String {
        crate::trail::chain::hex(&self.0[..6])
    }
}

/// Every live session, by [`SessionKey`].
#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<HashMap<SessionKey, Session>>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<SessionKey, Session>> {
        // Map operations cannot leave it inconsistent; keep using it after a panic elsewhere.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes a session for `credential_id`, without storing it yet: the caller audits the
    /// sign-in first and then [`insert`](Self::insert)s it, so no unaudited session exists.
    pub fn prepare(credential_id: &str, now: UnixTime) -> Result<NewSession, RandomError> {
        let id = random_base64url::<32>()?;
        let key = SessionKey(hmac_sha256::Hash::hash(id.as_bytes()));
        let session = Session {
            credential_id: credential_id.to_owned(),
            csrf: random_base64url::<32>()?,
            created_at: now,
            last_used: now,
            expires_at: now.saturating_add(ABSOLUTE_LIFETIME_SECS),
        };
        Ok(NewSession { id, key, session })
    }

    /// Stores a prepared session, making room first if the store is full: expired sessions
    /// go, then the oldest.
    pub fn insert(&self, key: SessionKey, session: Session, now: UnixTime) {
        let mut sessions = self.lock();
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.is_live(now));
        }
        while sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, s)| (s.created_at, s.last_used))
                .map(|(key, _)| *key);
            match oldest {
                Some(key) => sessions.remove(&key),
                None => break,
            };
        }
        sessions.insert(key, session);
    }

    /// The live session `key`, if any (an expired one is dropped). Does not count as a use:
    /// call [`touch`](Self::touch) once the request is known to be allowed.
    pub fn get(&self, key: &SessionKey, now: UnixTime) -> Option<Session> {
        let mut sessions = self.lock();
        let session = sessions.get(key)?;
        if session.is_live(now) {
            return Some(session.clone());
        }
        sessions.remove(key);
        None
    }

    /// Records a use of `key` at `now`, which restarts its idle timeout.
    pub fn touch(&self, key: &SessionKey, now: UnixTime) {
        if let Some(session) = self.lock().get_mut(key) {
            session.last_used = session.last_used.max(now);
        }
    }

    /// Ends the session `key`; returns whether there was one.
    pub fn remove(&self, key: &SessionKey) -> bool {
        self.lock().remove(key).is_some()
    }

    /// How many sessions are stored (live or not yet swept).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is stored.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = 1_800_000_000;

    fn signed_in(sessions: &Sessions, now: UnixTime) -> (String, SessionKey) {
        let new = Sessions::prepare("cred", now).expect("rng");
        sessions.insert(new.key, new.session, now);
        (new.id, new.key)
    }

    #[test]
    fn ids_and_csrf_tokens_are_random_and_only_their_hash_is_kept() {
        let new = Sessions::prepare("cred", NOW).expect("rng");
        assert_eq!(new.id.len(), ID_LEN);
        assert_eq!(SessionKey::of(&new.id), Some(new.key));
        assert_eq!(new.session.csrf.len(), 43);
        assert_ne!(new.session.csrf, new.id);
        assert!(new.session.csrf_matches(&new.session.csrf.clone()));
        assert!(!new.session.csrf_matches(""));
        assert!(!new.session.csrf_matches(&new.id));
        assert_eq!(new.key.label().len(), 12);
        for junk in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}!", "a".repeat(42)),
        ] {
            assert_eq!(SessionKey::of(junk), None, "{junk}");
        }
    }

    #[test]
    fn sessions_end_when_idle_or_at_their_absolute_expiry() {
        let sessions = Sessions::default();
        let (_, key) = signed_in(&sessions, NOW);
        assert!(sessions.get(&key, NOW + IDLE_TIMEOUT_SECS - 1).is_some());
        assert!(sessions.get(&key, NOW + IDLE_TIMEOUT_SECS).is_none());
        assert!(
            sessions.is_empty(),
            "an expired session is dropped when seen"
        );

        // Kept alive by use, but never past the absolute lifetime.
        let (_, key) = signed_in(&sessions, NOW);
        let mut now = NOW;
        while now + IDLE_TIMEOUT_SECS / 2 < NOW + ABSOLUTE_LIFETIME_SECS {
            now += IDLE_TIMEOUT_SECS / 2;
            assert!(sessions.get(&key, now).is_some(), "at {now}");
            sessions.touch(&key, now);
        }
        assert!(sessions.get(&key, NOW + ABSOLUTE_LIFETIME_SECS).is_none());
    }

    #[test]
    fn the_store_is_bounded_dropping_expired_then_oldest() {
        let sessions = Sessions::default();
        let (_, first) = signed_in(&sessions, NOW);
        let (_, second) = signed_in(&sessions, NOW + 1);
        for i in 2..MAX_SESSIONS {
            signed_in(&sessions, NOW + 2 + i as u64 % 3);
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        let (_, newest) = signed_in(&sessions, NOW + 10);
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(sessions.get(&first, NOW + 10).is_none(), "the oldest went");
        assert!(sessions.get(&second, NOW + 10).is_some());
        assert!(sessions.get(&newest, NOW + 10).is_some());

        // Once they have all expired, a new one sweeps them all away.
        let later = NOW + ABSOLUTE_LIFETIME_SECS + 20;
        signed_in(&sessions, later);
        assert_eq!(sessions.len(), 1);
        assert!(!sessions.remove(&newest), "swept with the others");
    }
}
