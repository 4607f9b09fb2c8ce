//! The load model of a simulated day, read from TOML: arrivals per category
//! with an hourly profile (a time-varying Poisson process), a priority mix,
//! log-normal service times, no-shows and late arrivals, transfers, and the
//! staff's shifts and breaks.

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

/// The built-in scenario: the new hall on an ordinary Wednesday.
pub const DEFAULT_SCENARIO: &str = include_str!("../config/default-scenario.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The service day (a working day in the hall's calendar).
    pub date: NaiveDate,
    /// Waits up to this count as "served within target".
    #[serde(default = "d15")]
    pub target_wait_minutes: f64,
    /// First hour of arrivals, e.g. "09:00"; `hourly_profile[0]` covers it.
    pub arrivals_from: String,
    /// Last arrival (the issuing cutoff), e.g. "16:30".
    pub arrivals_until: String,
    /// Relative arrival intensity per hour from `arrivals_from`.
    pub hourly_profile: Vec<f64>,
    /// Log-normal shape (σ of the underlying normal) of service times;
    /// 0 draws exponential service times instead (for M/M/c checks).
    #[serde(default = "d06")]
    pub service_sigma: f64,
    /// Share of visitors who do not answer their call.
    #[serde(default)]
    pub no_show_share: f64,
    /// Share of no-shows who come back later and are requeued.
    #[serde(default)]
    pub late_return_share: f64,
    /// They come back this many minutes (uniform range) after being skipped.
    #[serde(default = "late_range")]
    pub late_return_minutes: [f64; 2],
    /// From the call to the visitor sitting down at the window.
    #[serde(default = "d40")]
    pub walk_seconds: f64,
    /// Between recalls of a visitor who does not come.
    #[serde(default = "d60")]
    pub recall_seconds: f64,
    /// Recalls before the clerk marks a no-show.
    #[serde(default = "d2u")]
    pub recalls_before_no_show: u32,
    #[serde(default)]
    pub priority: PriorityMix,
    pub categories: Vec<CategoryLoad>,
    #[serde(default)]
    pub transfers: Vec<TransferLoad>,
    pub shifts: Vec<Shift>,
}

fn d15() -> f64 {
    15.0
}
fn d06() -> f64 {
    0.6
}
fn d40() -> f64 {
    40.0
}
fn d60() -> f64 {
    60.0
}
fn d2u() -> u32 {
    2
}
fn late_range() -> [f64; 2] {
    [5.0, 30.0]
}

/// Shares of visitors in each priority class (the rest are normal).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriorityMix {
    pub elderly: f64,
    pub veteran: f64,
    pub disabled: f64,
    pub pregnant: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryLoad {
    /// Category or bundle code of the hall's catalogue.
    pub code: String,
    /// Expected visitors per day.
    pub visitors: f64,
    /// Mean handling time at the window, minutes.
    pub service_minutes: f64,
}

/// A share of a category's visitors is sent on to another category after
/// their first service (a transfer without return).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferLoad {
    pub from: String,
    pub to: String,
    pub share: f64,
}

/// Windows staffed together: open, close and breaks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    pub windows: Vec<u32>,
    pub open: String,
    pub close: String,
    #[serde(default)]
    pub breaks: Vec<[String; 2]>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: {key}: {problem}")]
    Invalid {
        file: String,
        key: String,
        problem: String,
    },
}

pub fn hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

impl Scenario {
    pub fn builtin() -> Scenario {
        Scenario::parse(DEFAULT_SCENARIO, "built-in scenario")
            .expect("the built-in scenario is valid (tested)")
    }

    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Syntax {
            file: file.into(),
            message: e.to_string().trim_end().into(),
        })?;
        let bad = |key: &str, problem: String| ScenarioError::Invalid {
            file: file.into(),
            key: key.into(),
            problem,
        };
        for (key, v) in [
            ("arrivals_from", &s.arrivals_from),
            ("arrivals_until", &s.arrivals_until),
        ] {
            if hhmm(v).is_none() {
                return Err(bad(key, format!("{v:?} is not HH:MM")));
            }
        }
        if s.hourly_profile.is_empty() || s.hourly_profile.iter().any(|w| w.is_nan() || *w < 0.0) {
            return Err(bad(
                "hourly_profile",
                "needs at least one non-negative weight".into(),
            ));
        }
        for (i, c) in s.categories.iter().enumerate() {
            if c.visitors.is_nan()
                || c.visitors < 0.0
                || c.service_minutes.is_nan()
                || c.service_minutes <= 0.0
            {
                return Err(bad(
                    &format!("categories[{i}]"),
                    "visitors must be >= 0 and service_minutes > 0".into(),
                ));
            }
        }
        for (i, sh) in s.shifts.iter().enumerate() {
            let times = [&sh.open, &sh.close]
                .into_iter()
                .chain(sh.breaks.iter().flatten());
            for t in times {
                if hhmm(t).is_none() {
                    return Err(bad(&format!("shifts[{i}]"), format!("{t:?} is not HH:MM")));
                }
            }
        }
        for (key, v) in [
            ("no_show_share", s.no_show_share),
            ("late_return_share", s.late_return_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(key, format!("{v} is not a share between 0 and 1")));
            }
        }
        Ok(s)
    }

    /// Arrival rate (per minute) of a category at a minute after `arrivals_from`.
    pub fn rate_per_minute(&self, load: &CategoryLoad, hour_index: usize) -> f64 {
        let total: f64 = self.hourly_profile.iter().sum::<f64>();
        if total <= 0.0 {
            return 0.0;
        }
        // The profile's weights spread the day's visitors over the hours
        // (the last hour may be partial: the cutoff ends it early).
        let minutes = self.open_minutes_per_hour();
        let w = self.hourly_profile.get(hour_index).copied().unwrap_or(0.0);
        let weighted_minutes: f64 = self
            .hourly_profile
            .iter()
            .zip(&minutes)
            .map(|(w, m)| w * m)
            .sum();
        if weighted_minutes <= 0.0 {
            return 0.0;
        }
        load.visitors * w / weighted_minutes
    }

    /// Minutes of arrivals in each profile hour (the last may be cut short).
    pub fn open_minutes_per_hour(&self) -> Vec<f64> {
        let from = hhmm(&self.arrivals_from).unwrap_or(NaiveTime::MIN);
        let until = hhmm(&self.arrivals_until).unwrap_or(NaiveTime::MIN);
        let span = (until - from).num_minutes().max(0) as f64;
        (0..self.hourly_profile.len())
            .map(|h| (span - 60.0 * h as f64).clamp(0.0, 60.0))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_is_valid_and_about_1450_visitors() {
        let s = Scenario::builtin();
        let total: f64 = s.categories.iter().map(|c| c.visitors).sum();
        assert!((1400.0..=1500.0).contains(&total), "{total}");
        // The rates integrate back to the day's visitors.
        let minutes = s.open_minutes_per_hour();
        for c in &s.categories {
            let sum: f64 = (0..s.hourly_profile.len())
                .map(|h| s.rate_per_minute(c, h) * minutes[h])
                .sum();
            assert!((sum - c.visitors).abs() < 1e-6);
        }
    }

    #[test]
    fn errors_name_the_key() {
        let text =
            DEFAULT_SCENARIO.replace("arrivals_until = \"16:30\"", "arrivals_until = \"4pm\"");
        let e = Scenario::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(e.contains("x.toml: arrivals_until"), "{e}");
    }
}
