//! HTTP Basic authentication against bcrypt hashes, as the Prometheus
//! exporter-toolkit's `basic_auth_users` does.
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10), so it never runs on
//! the I/O thread or the workers that answer `/metrics`: the I/O thread only looks
//! credentials up in a cache of earlier verdicts; an unknown pair goes to the
//! heavy workers (at most that many verifications at once). The cache keys are a
//! keyed hash (SipHash with a random key per process) of user and password, so
//! no password is kept in memory after its request, and it holds at most
//! [`CACHE_MAX`] verdicts.

use super::parse::basic_credentials;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

/// Verdicts kept; past this the cache starts afresh (a flood of random
/// passwords costs bcrypt time, never memory).
pub const CACHE_MAX: usize = 1024;

/// A bcrypt hash of "fakepassword" (exporter-toolkit's), checked for unknown users
/// so that timing does not tell which users exist.
const FAKE_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// What the cache alone can say about a request's credentials.
#[derive(Debug, PartialEq, Eq)]
pub enum Cached {
    Allowed,
    Denied,
    /// Needs a bcrypt verification.
    Unknown,
}

pub struct Auth {
    users: HashMap<String, String>,
    keys: RandomState,
    cache: Mutex<HashMap<u64, bool>>,
}

impl Auth {
    /// `users` maps user names to bcrypt hashes (already checked to parse).
    pub fn new(users: HashMap<String, String>) -> Self {
        Auth {
            users,
            keys: RandomState::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, user: &str, pass: &str) -> u64 {
        self.keys.hash_one((user, pass))
    }

    /// The verdict without bcrypt: no or malformed credentials are denied at once.
    pub fn cached(&self, authorization: Option<&str>) -> Cached {
        let Some((user, pass)) = authorization.and_then(basic_credentials) else {
            return Cached::Denied;
        };
        let key = self.key(&user, &pass);
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match cache.get(&key) {
            Some(true) => Cached::Allowed,
            Some(false) => Cached::Denied,
            None => Cached::Unknown,
        }
    }

    /// Checks the credentials with bcrypt and remembers the verdict.
    pub fn verify(&self, authorization: Option<&str>) -> bool {
        let Some((user, pass)) = authorization.and_then(basic_credentials) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.as_str(), true),
            None => (FAKE_HASH, false),
        };
        let ok = bcrypt::verify(&pass, hash).unwrap_or(false) && known;
        let key = self.key(&user, &pass);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, ok);
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            crate::output::base64(format!("{user}:{pass}").as_bytes())
        )
    }

    #[test]
    fn right_password_passes_wrong_and_unknown_users_do_not_and_verdicts_are_cached() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = Auth::new(HashMap::from([("prom".to_string(), hash)]));
        let good = basic("prom", "s3cret");
        assert_eq!(auth.cached(Some(&good)), Cached::Unknown);
        assert!(auth.verify(Some(&good)));
        assert_eq!(auth.cached(Some(&good)), Cached::Allowed);
        let bad = basic("prom", "nope");
        assert!(!auth.verify(Some(&bad)));
        assert_eq!(auth.cached(Some(&bad)), Cached::Denied);
        // An unknown user with the fake hash's password is still refused.
        assert!(!auth.verify(Some(&basic("nobody", "fakepassword"))));
        assert_eq!(auth.cached(None), Cached::Denied);
        assert_eq!(auth.cached(Some("Bearer x")), Cached::Denied);
    }
}
