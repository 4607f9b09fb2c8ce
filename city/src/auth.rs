//! Who may read the city: the same staff roles as a site (supervisor and
//! admin, `[[staff]]` with Argon2id password hashes, written by
//! `hall-server passwd --staff ID --config FILE`), logged in with a
//! password. A session is a 128-bit token kept in memory by its SHA-256,
//! sent back as an HttpOnly, Secure, SameSite=Strict cookie (or as
//! `Authorization: Bearer`); it ends after 15 idle minutes, 12 hours, a
//! logout, or a restart. Five wrong passwords lock the account for 15
//! minutes (an unknown account costs the same hash check).
//!
//! With `--insecure-demo` everyone is the demo caller, as on a site.

use hall_engine::catalog::{StaffAccount, verify_password};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const COOKIE: &str = "__Host-hall_city";
const IDLE: Duration = Duration::from_secs(15 * 60);
const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
const LOCK_AFTER: u32 = 5;
const LOCK_FOR: Duration = Duration::from_secs(15 * 60);

/// A caller the city knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub role: String,
}

struct Session {
    caller: Caller,
    created: Instant,
    last: Instant,
}

pub struct Auth {
    /// `None`: `--insecure-demo`.
    staff: Option<Vec<StaffAccount>>,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Why a login failed.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginError {
    Wrong,
    Locked { minutes: u64 },
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Auth {
    pub fn new(staff: Option<Vec<StaffAccount>>) -> Auth {
        Auth {
            staff,
            sessions: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    pub fn demo(&self) -> bool {
        self.staff.is_none()
    }

    /// Checks a password (slow by design: call off the runtime's workers);
    /// returns a new session's token.
    pub fn login(&self, account: &str, password: &str) -> Result<(String, Caller), LoginError> {
        let Some(staff) = &self.staff else {
            return Ok((
                String::new(),
                Caller {
                    account: "demo".into(),
                    role: "admin".into(),
                },
            ));
        };
        // Counted before the (slow) check, so parallel attempts cannot
        // get more than LOCK_AFTER guesses past the lock.
        {
            let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            if f.len() > 10_000 {
                f.retain(|_, (_, at)| at.elapsed() < LOCK_FOR);
            }
            let e = f.entry(account.to_string()).or_insert((0, Instant::now()));
            if e.1.elapsed() >= LOCK_FOR {
                *e = (0, Instant::now());
            }
            if e.0 >= LOCK_AFTER {
                return Err(LoginError::Locked {
                    minutes: (LOCK_FOR - e.1.elapsed()).as_secs().div_ceil(60),
                });
            }
            e.0 += 1;
            e.1 = Instant::now();
        }
        let found = staff.iter().find(|a| a.id == account);
        // An unknown account costs the same check, so timing tells nothing.
        let ok = match found {
            Some(a) => verify_password(a, password),
            None => {
                let mut dummy = staff.first().cloned().unwrap_or(StaffAccount {
                    id: String::new(),
                    name: String::new(),
                    role: hall_engine::catalog::StaffRole::Supervisor,
                    password_argon2: String::new(),
                });
                dummy.id = account.to_string();
                let _ = verify_password(&dummy, password);
                false
            }
        };
        if !ok {
            return Err(LoginError::Wrong);
        }
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(account);
        let a = found.expect("verified");
        let token = hex::encode(rand::random::<[u8; 16]>());
        let caller = Caller {
            account: a.id.clone(),
            role: a.role.as_str().to_string(),
        };
        let now = Instant::now();
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                digest(&token),
                Session {
                    caller: caller.clone(),
                    created: now,
                    last: now,
                },
            );
        Ok((token, caller))
    }

    pub fn logout(&self, token: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&digest(token));
    }

    /// The caller of a request: its session (cookie or bearer token).
    pub fn caller(&self, headers: &http::HeaderMap) -> Option<Caller> {
        if self.demo() {
            return Some(Caller {
                account: "demo".into(),
                role: "admin".into(),
            });
        }
        let token = token_of(headers)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let key = digest(&token);
        let s = sessions.get_mut(&key)?;
        if s.last.elapsed() > IDLE || s.created.elapsed() > MAX_AGE {
            sessions.remove(&key);
            return None;
        }
        s.last = Instant::now();
        Some(s.caller.clone())
    }
}

/// The session token of a request: `Authorization: Bearer` or the cookie.
pub fn token_of(headers: &http::HeaderMap) -> Option<String> {
    if let Some(b) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(b.trim().to_string());
    }
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}
