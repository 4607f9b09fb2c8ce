//! Supervisor and admin sessions: `AdminService.StaffLogin` checks an
//! account's password (Argon2id from the configuration, behind the same
//! lockout as clerk PINs) and opens a session; the role gate reads the
//! token from `authorization: Bearer TOKEN` and lets the call act with the
//! account's role, in the account's name (the audit trail's `who`).
//!
//! A session is bound to the device that opened it (its certificate's
//! serial, so a re-enrolled device starts afresh): the token copied to
//! another machine is no session. It
//! ends after `IDLE` without a call, after `MAX_AGE` in any case, on
//! logout, and when its account's role or password changes or the account
//! goes (`StaffSessions::retain`, after every configuration change).
//!
//! Kept in memory only, by the token's SHA-256: neither the event log nor
//! a snapshot holds a usable token, and a restart ends every session (staff
//! log in again; a clerk's window session, in the log, survives).

use crate::pki::Role;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A session without a call for this long has ended.
pub const IDLE: Duration = Duration::from_secs(15 * 60);
/// A session ends this long after login, however busy.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// Sessions at once; beyond it the oldest-used ends (a flood of logins
/// with a valid password cannot grow memory).
const MAX_SESSIONS: usize = 1024;

/// Who a valid session speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffIdentity {
    pub account: String,
    pub role: Role,
}

#[derive(Debug)]
struct Session {
    who: StaffIdentity,
    /// The certificate id of the device that logged in.
    device: String,
    /// The password hash at login: a changed password ends the session.
    hash: String,
    opened: Instant,
    used: Instant,
}

/// Why a token does not open a session (the reason the caller gets is the
/// same for all: `STAFF_SESSION_INVALID`; the log says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Unknown,
    Idle,
    TooOld,
    OtherDevice,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::Unknown => "unknown or logged out",
            Ended::Idle => "idle too long",
            Ended::TooOld => "older than 12 hours",
            Ended::OtherDevice => "opened on another device",
        }
    }
}

#[derive(Debug, Default)]
pub struct StaffSessions {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    by_token: HashMap<[u8; 32], Session>,
    /// Bumped by every configuration change (`retain`): a login that read
    /// its account before a change opens no session after it.
    generation: u64,
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl StaffSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The configuration generation: read it before looking the account
    /// up, and give it to `open`.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Opens a session for `who` on `device` (its certificate serial);
    /// returns its token (128 random bits, hex). `None` when the
    /// configuration changed since `generation` was read (the account
    /// checked may be gone or changed: log in again).
    pub fn open(
        &self,
        who: StaffIdentity,
        device: &str,
        hash: &str,
        generation: u64,
        now: Instant,
    ) -> Option<String> {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let mut inner = self.lock();
        if inner.generation != generation {
            return None;
        }
        let map = &mut inner.by_token;
        map.retain(|_, s| live(s, now).is_ok());
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.used).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            key(&token),
            Session {
                who,
                device: device.to_string(),
                hash: hash.to_string(),
                opened: now,
                used: now,
            },
        );
        Some(token)
    }

    /// The session of `token` used from `device` now: who it speaks for.
    /// A use keeps it from going idle; an ended one is forgotten.
    pub fn touch(&self, token: &str, device: &str, now: Instant) -> Result<StaffIdentity, Ended> {
        let k = key(token);
        let mut inner = self.lock();
        let map = &mut inner.by_token;
        let s = map.get_mut(&k).ok_or(Ended::Unknown)?;
        if let Err(e) = live(s, now) {
            map.remove(&k);
            return Err(e);
        }
        if s.device != device {
            // Not forgotten: the token's owner keeps working.
            return Err(Ended::OtherDevice);
        }
        s.used = now;
        Ok(s.who.clone())
    }

    /// Ends the session of `token` opened on `device`: who it was, or
    /// `None` if there was none (or it is another device's).
    pub fn close(&self, token: &str, device: &str) -> Option<StaffIdentity> {
        let k = key(token);
        let mut inner = self.lock();
        if inner.by_token.get(&k)?.device != device {
            return None;
        }
        inner.by_token.remove(&k).map(|s| s.who)
    }

    /// Ends every session whose account no longer passes `still`
    /// (account, role, password hash at login): after a configuration change.
    /// Returns how many ended.
    pub fn retain(&self, still: impl Fn(&StaffIdentity, &str) -> bool) -> usize {
        let mut inner = self.lock();
        inner.generation += 1;
        let before = inner.by_token.len();
        inner.by_token.retain(|_, s| still(&s.who, &s.hash));
        before - inner.by_token.len()
    }
}

fn live(s: &Session, now: Instant) -> Result<(), Ended> {
    if now.duration_since(s.opened) >= MAX_AGE {
        Err(Ended::TooOld)
    } else if now.duration_since(s.used) >= IDLE {
        Err(Ended::Idle)
    } else {
        Ok(())
    }
}

/// The token of `authorization: Bearer TOKEN`, if the request has one.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sup() -> StaffIdentity {
        StaffIdentity {
            account: "s01".into(),
            role: Role::Supervisor,
        }
    }

    #[test]
    fn a_session_lives_while_used_and_ends_idle_old_or_closed() {
        let s = StaffSessions::default();
        let t0 = Instant::now();
        let tok = s.open(sup(), "counter-1", "h", 0, t0).unwrap();
        assert_eq!(tok.len(), 32);
        // Used every 10 minutes: alive past the idle period.
        let mut t = t0;
        for _ in 0..6 {
            t += Duration::from_secs(600);
            assert_eq!(s.touch(&tok, "counter-1", t), Ok(sup()));
        }
        // From another device: refused, and the owner goes on.
        assert_eq!(s.touch(&tok, "counter-2", t), Err(Ended::OtherDevice));
        assert!(s.touch(&tok, "counter-1", t).is_ok());
        // Idle for 15 minutes: ended, then unknown.
        assert_eq!(s.touch(&tok, "counter-1", t + IDLE), Err(Ended::Idle));
        assert_eq!(s.touch(&tok, "counter-1", t), Err(Ended::Unknown));

        let tok = s.open(sup(), "counter-1", "h", 0, t0).unwrap();
        let mut t = t0;
        while t.duration_since(t0) < MAX_AGE - Duration::from_secs(600) {
            t += Duration::from_secs(600);
            assert!(s.touch(&tok, "counter-1", t).is_ok());
        }
        assert_eq!(s.touch(&tok, "counter-1", t0 + MAX_AGE), Err(Ended::TooOld));

        let tok = s.open(sup(), "counter-1", "h", 0, t0).unwrap();
        assert_eq!(s.close(&tok, "counter-2"), None, "another device's");
        assert_eq!(s.close(&tok, "counter-1"), Some(sup()));
        assert_eq!(s.close(&tok, "counter-1"), None);
        assert_eq!(s.touch(&tok, "counter-1", t0), Err(Ended::Unknown));
    }

    #[test]
    fn a_changed_account_ends_its_sessions() {
        let s = StaffSessions::default();
        let t0 = Instant::now();
        let generation = s.generation();
        let a = s
            .open(sup(), "counter-1", "old-hash", generation, t0)
            .unwrap();
        let b = s
            .open(sup(), "counter-2", "new-hash", generation, t0)
            .unwrap();
        assert_eq!(s.retain(|_, hash| hash == "new-hash"), 1);
        assert_eq!(s.touch(&a, "counter-1", t0), Err(Ended::Unknown));
        assert!(s.touch(&b, "counter-2", t0).is_ok());
        // A login that looked its account up before the change opens nothing.
        assert_eq!(s.open(sup(), "counter-3", "old-hash", generation, t0), None);
        assert!(
            s.open(sup(), "counter-3", "new-hash", s.generation(), t0)
                .is_some()
        );
    }

    #[test]
    fn the_bearer_token_is_read_from_the_authorization_header() {
        let mut h = http::HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(http::header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(http::header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
