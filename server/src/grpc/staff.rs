//! Supervisor and admin sessions: `AdminService.StaffLogin` checks an
//! account's password (Argon2id from the configuration, behind the same
//! lockout as clerk PINs) and opens a session; the role gate reads the
//! token from `authorization: Bearer TOKEN` and lets the call act with the
//! account's role, in the account's name (the audit trail's `who`).
//!
//! A session is bound to the device that opened it (its certificate id),
//! like a clerk's: the token copied to another machine is no session. It
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
    by_token: Mutex<HashMap<[u8; 32], Session>>,
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl StaffSessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.by_token.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session for `who` on `device`; returns its token (128 random
    /// bits, hex).
    pub fn open(&self, who: StaffIdentity, device: &str, hash: &str, now: Instant) -> String {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let mut map = self.map();
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
        token
    }

    /// The session of `token` used from `device` now: who it speaks for.
    /// A use keeps it from going idle; an ended one is forgotten.
    pub fn touch(&self, token: &str, device: &str, now: Instant) -> Result<StaffIdentity, Ended> {
        let k = key(token);
        let mut map = self.map();
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

    /// Ends the session of `token`; false if there was none.
    pub fn close(&self, token: &str) -> bool {
        self.map().remove(&key(token)).is_some()
    }

    /// Ends every session whose account no longer passes `still`
    /// (account, role, password hash at login): after a configuration change.
    /// Returns how many ended.
    pub fn retain(&self, still: impl Fn(&StaffIdentity, &str) -> bool) -> usize {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, s| still(&s.who, &s.hash));
        before - map.len()
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
        let tok = s.open(sup(), "counter-1", "h", t0);
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

        let tok = s.open(sup(), "counter-1", "h", t0);
        let mut t = t0;
        while t.duration_since(t0) < MAX_AGE - Duration::from_secs(600) {
            t += Duration::from_secs(600);
            assert!(s.touch(&tok, "counter-1", t).is_ok());
        }
        assert_eq!(s.touch(&tok, "counter-1", t0 + MAX_AGE), Err(Ended::TooOld));

        let tok = s.open(sup(), "counter-1", "h", t0);
        assert!(s.close(&tok));
        assert!(!s.close(&tok));
        assert_eq!(s.touch(&tok, "counter-1", t0), Err(Ended::Unknown));
    }

    #[test]
    fn a_changed_account_ends_its_sessions() {
        let s = StaffSessions::default();
        let t0 = Instant::now();
        let a = s.open(sup(), "counter-1", "old-hash", t0);
        let b = s.open(sup(), "counter-2", "new-hash", t0);
        assert_eq!(s.retain(|_, hash| hash == "new-hash"), 1);
        assert_eq!(s.touch(&a, "counter-1", t0), Err(Ended::Unknown));
        assert!(s.touch(&b, "counter-2", t0).is_ok());
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
