//! Login lockout. After `MAX_FAILURES` failed logins within `LOCK` for one
//! clerk account, or from one device, further logins for that account or
//! from that device are refused for `LOCK`, whatever PIN they carry: a
//! 4-digit PIN has 10,000 values, and without this they could be tried at
//! the speed of the PIN check.
//!
//! Kept in memory: a restart forgets the counts (restarting the server
//! takes far more than a login does). A device is its peer IP address
//! until devices are enrolled with certificates of their own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts that lock an account or a device.
pub const MAX_FAILURES: u32 = 5;
/// How long a lock lasts, and the window in which failures are counted.
pub const LOCK: Duration = Duration::from_secs(15 * 60);

/// Who is locked (`clerk:ID` or `device:ADDR`) and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub key: String,
    pub until: Instant,
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Lockout {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Lockout {
    /// The first of `keys` that is locked at `now`, if any.
    pub fn check(&self, keys: &[String], now: Instant) -> Option<Locked> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter().find_map(|k| {
            let until = entries.get(k)?.locked_until?;
            (now < until).then(|| Locked {
                key: k.clone(),
                until,
            })
        })
    }

    /// Counts a failed attempt against every key; returns the keys this
    /// attempt locked.
    pub fn failed(&self, keys: &[String], now: Instant) -> Vec<Locked> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Forget what no longer counts, so the map stays as small as the
        // recent failures.
        entries.retain(|_, e| {
            now.duration_since(e.first) < LOCK || e.locked_until.is_some_and(|u| now < u)
        });
        let mut locked = vec![];
        for k in keys {
            let e = entries.entry(k.clone()).or_insert(Entry {
                failures: 0,
                first: now,
                locked_until: None,
            });
            if now.duration_since(e.first) >= LOCK {
                *e = Entry {
                    failures: 0,
                    first: now,
                    locked_until: None,
                };
            }
            e.failures += 1;
            if e.failures >= MAX_FAILURES && e.locked_until.is_none_or(|u| u <= now) {
                let until = now + LOCK;
                e.locked_until = Some(until);
                locked.push(Locked {
                    key: k.clone(),
                    until,
                });
            }
        }
        locked
    }

    /// A successful login clears the account's count (not the device's: a
    /// device guessing other clerks' PINs stays counted).
    pub fn succeeded(&self, account: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(clerk: &str, device: &str) -> Vec<String> {
        vec![format!("clerk:{clerk}"), format!("device:{device}")]
    }

    #[test]
    fn five_failures_lock_the_account_and_the_device_for_fifteen_minutes() {
        let l = Lockout::default();
        let t0 = Instant::now();
        for i in 0..4 {
            assert!(l.failed(&keys("c01", "10.0.0.5"), t0).is_empty(), "{i}");
            assert_eq!(l.check(&keys("c01", "10.0.0.5"), t0), None);
        }
        let locked = l.failed(&keys("c01", "10.0.0.5"), t0);
        assert_eq!(locked.len(), 2, "account and device");
        assert_eq!(locked[0].until, t0 + LOCK);
        // Another device cannot log in as c01 either...
        let other = l.check(&keys("c01", "10.0.0.9"), t0).unwrap();
        assert_eq!(other.key, "clerk:c01");
        // ...nor can this device log in as anyone.
        let dev = l.check(&keys("c02", "10.0.0.5"), t0).unwrap();
        assert_eq!(dev.key, "device:10.0.0.5");
        // After 15 minutes both are free again.
        assert_eq!(l.check(&keys("c01", "10.0.0.5"), t0 + LOCK), None);
    }

    #[test]
    fn failures_spread_over_more_than_the_window_do_not_lock() {
        let l = Lockout::default();
        let t0 = Instant::now();
        for i in 0..10u32 {
            let at = t0 + LOCK / 4 * i;
            assert!(l.failed(&keys("c01", "d"), at).is_empty(), "{i}");
        }
    }

    #[test]
    fn success_clears_the_account_but_not_the_device() {
        let l = Lockout::default();
        let t0 = Instant::now();
        for _ in 0..4 {
            l.failed(&keys("c01", "d"), t0);
        }
        l.succeeded("clerk:c01");
        assert_eq!(
            l.failed(&keys("c01", "d"), t0).len(),
            1,
            "only the device locks"
        );
    }
}
