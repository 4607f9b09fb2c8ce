//! Login lockout. After `MAX_FAILURES` failed logins within `LOCK` for one
//! clerk account, or from one device, further logins for that account or
//! from that device are refused for `LOCK`, whatever PIN they carry: a
//! 4-digit PIN has 10,000 values, and without this they could be tried at
//! the speed of the PIN check.
//!
//! An attempt is counted *before* its PIN is checked (`begin`) and refunded
//! only if the PIN was right (`succeeded`): a burst of concurrent attempts
//! cannot all slip past the count while the slow checks run. A success
//! never lifts a lock that is in force.
//!
//! Kept in memory: a restart forgets the counts (restarting the server
//! takes far more than a login does). A device is its peer IP address
//! until devices are enrolled with certificates of their own. Anyone who
//! can reach the service can lock a clerk's account by failing on purpose:
//! that is the price of account lockout, bounded to 15 minutes.

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
    /// Failed attempts plus attempts being checked, since `first`.
    attempts: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

impl Entry {
    fn locked_at(&self, now: Instant) -> Option<Instant> {
        self.locked_until.filter(|u| now < *u)
    }
}

#[derive(Debug, Default)]
pub struct Lockout {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Lockout {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts an attempt for `keys` (account, device): refused if any is
    /// locked, or if this attempt would exceed the budget (then the key is
    /// locked now). Otherwise counted against every key, as a failure
    /// until `succeeded` refunds it.
    pub fn begin(&self, keys: &[String], now: Instant) -> Result<(), Locked> {
        let mut entries = self.entries();
        for k in keys {
            if let Some(until) = entries.get(k).and_then(|e| e.locked_at(now)) {
                return Err(Locked {
                    key: k.clone(),
                    until,
                });
            }
        }
        let mut over = None;
        for k in keys {
            let e = entries.entry(k.clone()).or_insert(Entry {
                attempts: 0,
                first: now,
                locked_until: None,
            });
            if now.duration_since(e.first) >= LOCK {
                // The counting window is over (and no lock is in force).
                *e = Entry {
                    attempts: 0,
                    first: now,
                    locked_until: None,
                };
            }
            e.attempts += 1;
            if e.attempts > MAX_FAILURES && over.is_none() {
                let until = now + LOCK;
                e.locked_until = Some(until);
                over = Some(Locked {
                    key: k.clone(),
                    until,
                });
            }
        }
        match over {
            Some(l) => Err(l),
            None => Ok(()),
        }
    }

    /// The attempt begun for `keys` failed: it stays counted; returns the
    /// keys it locked.
    pub fn failed(&self, keys: &[String], now: Instant) -> Vec<Locked> {
        let mut entries = self.entries();
        let mut locked = vec![];
        for k in keys {
            let Some(e) = entries.get_mut(k) else {
                continue;
            };
            if e.attempts >= MAX_FAILURES && e.locked_at(now).is_none() {
                let until = now + LOCK;
                e.locked_until = Some(until);
                locked.push(Locked {
                    key: k.clone(),
                    until,
                });
            }
        }
        // Forget what no longer counts, so the map holds only recent
        // failures (a failure is rare; this is not on the success path).
        entries.retain(|_, e| now.duration_since(e.first) < LOCK || e.locked_at(now).is_some());
        locked
    }

    /// The attempt begun for `keys` succeeded: the account's count is
    /// cleared and the device's refunded (a device trying other clerks'
    /// PINs stays counted). A lock in force stays.
    pub fn succeeded(&self, keys: &[String], now: Instant) {
        let mut entries = self.entries();
        for (i, k) in keys.iter().enumerate() {
            if let Some(e) = entries.get_mut(k)
                && e.locked_at(now).is_none()
            {
                e.attempts = if i == 0 {
                    0
                } else {
                    e.attempts.saturating_sub(1)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(clerk: &str, device: &str) -> Vec<String> {
        vec![format!("clerk:{clerk}"), format!("device:{device}")]
    }

    fn fail(l: &Lockout, k: &[String], at: Instant) -> Vec<Locked> {
        l.begin(k, at).unwrap();
        l.failed(k, at)
    }

    #[test]
    fn five_failures_lock_the_account_and_the_device_for_fifteen_minutes() {
        let l = Lockout::default();
        let t0 = Instant::now();
        let k = keys("c01", "10.0.0.5");
        for i in 0..4 {
            assert!(fail(&l, &k, t0).is_empty(), "{i}");
        }
        let locked = fail(&l, &k, t0);
        assert_eq!(locked.len(), 2, "account and device");
        assert_eq!(locked[0].until, t0 + LOCK);
        // Another device cannot log in as c01 either...
        let other = l.begin(&keys("c01", "10.0.0.9"), t0).unwrap_err();
        assert_eq!(other.key, "clerk:c01");
        // ...nor can this device log in as anyone.
        let dev = l.begin(&keys("c02", "10.0.0.5"), t0).unwrap_err();
        assert_eq!(dev.key, "device:10.0.0.5");
        // After 15 minutes both are free again.
        assert!(l.begin(&k, t0 + LOCK).is_ok());
    }

    #[test]
    fn failures_spread_over_more_than_the_window_do_not_lock() {
        let l = Lockout::default();
        let t0 = Instant::now();
        for i in 0..10u32 {
            let at = t0 + LOCK / 4 * i;
            assert!(fail(&l, &keys("c01", "d"), at).is_empty(), "{i}");
        }
    }

    #[test]
    fn success_clears_the_account_but_not_the_device_and_never_a_lock() {
        let l = Lockout::default();
        let t0 = Instant::now();
        let k = keys("c01", "d");
        for _ in 0..3 {
            fail(&l, &k, t0);
        }
        l.begin(&k, t0).unwrap();
        l.succeeded(&k, t0);
        // Account back to 0, device at 3: two more failures lock the device only.
        assert!(fail(&l, &k, t0).is_empty());
        let locked = fail(&l, &k, t0);
        assert_eq!(locked.len(), 1);
        assert_eq!(locked[0].key, "device:d");
        // A success that completes after the lock does not lift it.
        l.succeeded(&k, t0);
        assert!(l.begin(&keys("c02", "d"), t0).is_err());
    }

    #[test]
    fn a_burst_of_concurrent_attempts_is_counted_before_any_check_ends() {
        let l = Lockout::default();
        let t0 = Instant::now();
        let k = keys("c01", "d");
        let started = (0..20).filter(|_| l.begin(&k, t0).is_ok()).count();
        assert_eq!(started as u32, MAX_FAILURES, "only five checks may run");
        assert!(
            l.begin(&keys("c02", "d"), t0).is_err(),
            "the device is locked"
        );
    }
}
