//! Time as the clients show it: `now_ms` (the one clock read of a client)
//! and local times in the hall's time zone.
//!
//! The zone is the server's: `Catalog.timezone` (an IANA name). A client keeps
//! a [`HallZone`] in its state, made from the catalogue with
//! [`HallZone::from_name`]; until the first catalogue arrives it holds
//! [`HallZone::default`], the one place that names a fallback zone.
//!
//! Not for the hall's calendar or opening hours: the server decides those.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// The hall's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HallZone(Tz);

impl Default for HallZone {
    /// Asia/Shanghai: only until the first catalogue names the hall's zone.
    fn default() -> Self {
        HallZone(chrono_tz::Asia::Shanghai)
    }
}

impl HallZone {
    /// The zone of a catalogue's `timezone` field; an empty or unknown name
    /// (an older server) keeps the default.
    pub fn from_name(name: &str) -> HallZone {
        match name.trim().parse::<Tz>() {
            Ok(tz) => HallZone(tz),
            Err(_) => {
                if !name.is_empty() {
                    tracing::warn!(zone = name, "unknown time zone from the server; keeping the default");
                }
                HallZone::default()
            }
        }
    }

    /// The zone of a catalogue.
    pub fn of(catalog: &hall_proto::v1::Catalog) -> HallZone {
        HallZone::from_name(&catalog.timezone)
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// `ms` (Unix) as a local date and time, if it is a valid instant.
    pub fn local(&self, ms: i64) -> Option<DateTime<Tz>> {
        DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&self.0))
    }

    /// A local date and time as Unix ms (the earlier one when the clocks
    /// go back; `None` for a time the clocks skip).
    pub fn ms_at(&self, local: chrono::NaiveDateTime) -> Option<i64> {
        local.and_local_timezone(self.0).earliest().map(|t| t.timestamp_millis())
    }

    /// `ms` formatted locally with a chrono format string ("" when invalid).
    pub fn format(&self, ms: i64, fmt: &str) -> String {
        self.local(ms).map(|t| t.format(fmt).to_string()).unwrap_or_default()
    }

    /// Today's local date.
    pub fn today(&self, now_ms: i64) -> chrono::NaiveDate {
        self.local(now_ms).map(|t| t.date_naive()).unwrap_or_default()
    }

    /// The clock line of a screen header: "2026年11月27日 星期五 09:05" or
    /// "Fri 27 Nov 2026 09:05", with ":ss" when `seconds`.
    pub fn clock_text(&self, now_ms: i64, en: bool, seconds: bool) -> String {
        let Some(t) = self.local(now_ms) else { return String::new() };
        let hm = if seconds { "%H:%M:%S" } else { "%H:%M" };
        if en {
            return t.format(&format!("%a %d %b %Y {hm}")).to_string();
        }
        let wd = ["一", "二", "三", "四", "五", "六", "日"][t.weekday().num_days_from_monday() as usize];
        format!("{} 星期{wd} {}", t.format("%Y年%m月%d日"), t.format(hm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-27 01:05:00 UTC.
    const T: i64 = 1_795_741_500_000;

    #[test]
    fn local_times_follow_the_catalogues_zone() {
        let shanghai = HallZone::from_name("Asia/Shanghai");
        assert_eq!(shanghai.clock_text(T, false, false), "2026年11月27日 星期五 09:05");
        assert_eq!(shanghai.clock_text(T, true, true), "Fri 27 Nov 2026 09:05:00");
        let urumqi = HallZone::from_name("Asia/Urumqi");
        assert_eq!(urumqi.format(T, "%H:%M"), "07:05");
        assert_eq!(HallZone::from_name("Europe/Berlin").today(T).to_string(), "2026-11-27");
    }

    #[test]
    fn no_zone_yet_or_an_unknown_one_keeps_the_default() {
        assert_eq!(HallZone::from_name(""), HallZone::default());
        assert_eq!(HallZone::from_name("Mars/Olympus"), HallZone::default());
        assert_eq!(HallZone::default().name(), "Asia/Shanghai");
    }
}
