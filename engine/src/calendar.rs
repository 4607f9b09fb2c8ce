//! Opening days and hours: weekday hours, weekend opening (周末不打烊),
//! public holidays and make-up working days (调休), per-category issuing
//! hours and cutoff, and the service date of an instant.
//!
//! Pure functions of the catalogue and a local date/time; the caller converts
//! the instant with the site's time zone (see `Clock`).

use super::catalog::{Calendar, Catalog, Category};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};

/// Parses "HH:MM" (validated by `config`, so a bad value here is a bug
/// there). "24:00" is the end of the day, for halls open until midnight.
pub fn hhmm(s: &str) -> Option<NaiveTime> {
    if s == "24:00" {
        return NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999);
    }
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

/// Converts instants to the site's local time. Built from the catalogue's
/// `hall.timezone` and `hall.day_starts_at`.
#[derive(Debug, Clone)]
pub struct Clock {
    tz: chrono_tz::Tz,
    day_start: Duration,
}

impl Clock {
    pub fn new(catalog: &Catalog) -> Clock {
        Clock::from_parts(&catalog.hall.timezone, &catalog.hall.day_starts_at)
    }

    /// From a time zone name and a day start ("HH:MM"), as in `hall`.
    pub fn from_parts(timezone: &str, day_starts_at: &str) -> Clock {
        let tz = timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
        let start = hhmm(day_starts_at).unwrap_or(NaiveTime::MIN);
        Clock {
            tz,
            day_start: start.signed_duration_since(NaiveTime::MIN),
        }
    }

    /// The site's time zone.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.tz
    }

    /// Local wall-clock time of `ms` (Unix milliseconds).
    pub fn local(&self, ms: i64) -> NaiveDateTime {
        let utc = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        utc.with_timezone(&self.tz).naive_local()
    }

    /// The service date an instant belongs to: local date, shifted by `day_starts_at`.
    pub fn service_date(&self, ms: i64) -> NaiveDate {
        (self.local(ms) - self.day_start).date()
    }

    /// Unix milliseconds of a local date and time (earliest if ambiguous).
    pub fn instant(&self, local: NaiveDateTime) -> i64 {
        self.tz
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.timestamp_millis())
            .unwrap_or_else(|| local.and_utc().timestamp_millis())
    }
}

/// The kind of day, for the calendar and for categories with weekday-only service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    Workday,
    /// Weekend day with weekend opening hours (周末不打烊).
    WeekendOpening,
    Closed,
}

pub fn day_kind(cal: &Calendar, date: NaiveDate) -> DayKind {
    if cal.makeup_workdays.contains(&date) {
        return DayKind::Workday;
    }
    if cal.holidays.contains(&date) {
        return DayKind::Closed;
    }
    match date.weekday() {
        Weekday::Sat | Weekday::Sun => {
            if cal.weekend_open.is_some() {
                DayKind::WeekendOpening
            } else {
                DayKind::Closed
            }
        }
        _ => DayKind::Workday,
    }
}

/// The date `n` working days after `from` (weekdays and 调休 days, not
/// holidays or weekend openings): when a follow-up is due.
pub fn add_working_days(cal: &Calendar, from: NaiveDate, n: u32) -> NaiveDate {
    let mut d = from;
    let mut left = n;
    // A calendar without any working day would loop forever: give up after a year.
    for _ in 0..366 {
        if left == 0 {
            break;
        }
        d = d.succ_opt().unwrap_or(d);
        if day_kind(cal, d) == DayKind::Workday {
            left -= 1;
        }
    }
    d
}

/// Hall hours of a date, or `None` when closed.
pub fn hall_hours(cal: &Calendar, date: NaiveDate) -> Option<(NaiveTime, NaiveTime)> {
    match day_kind(cal, date) {
        DayKind::Workday => Some((hhmm(&cal.weekday_open)?, hhmm(&cal.weekday_close)?)),
        DayKind::WeekendOpening => Some((
            hhmm(cal.weekend_open.as_deref()?)?,
            hhmm(cal.weekend_close.as_deref()?)?,
        )),
        DayKind::Closed => None,
    }
}

/// Issuing hours of a category on a date: the hall's hours narrowed by the
/// category's own `issue_from` / `issue_until`; `None` when it is not served.
pub fn issuing_hours(
    cal: &Calendar,
    cat: Option<&Category>,
    date: NaiveDate,
) -> Option<(NaiveTime, NaiveTime)> {
    let (open, close) = hall_hours(cal, date)?;
    let Some(cat) = cat else {
        return Some((open, close));
    };
    if day_kind(cal, date) == DayKind::WeekendOpening && !cat.weekend_service {
        return None;
    }
    let from = cat
        .issue_from
        .as_deref()
        .and_then(hhmm)
        .map_or(open, |t| t.max(open));
    let until = cat
        .issue_until
        .as_deref()
        .and_then(hhmm)
        .map_or(close, |t| t.min(close));
    (from < until).then_some((from, until))
}

/// Why issuing is not possible now, and when it next is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedNow {
    pub reason: &'static str,
    pub next_opening: Option<NaiveDateTime>,
}

/// Checks that a ticket of `cat` may be issued at local time `now`.
pub fn check_issuing(
    cal: &Calendar,
    cat: Option<&Category>,
    now: NaiveDateTime,
) -> Result<(), ClosedNow> {
    let date = now.date();
    let reason = match issuing_hours(cal, cat, date) {
        Some((from, until)) if now.time() >= from && now.time() < until => return Ok(()),
        Some((from, _)) if now.time() < from => "not yet issuing today",
        Some(_) => "past today's issuing cutoff",
        None => match day_kind(cal, date) {
            DayKind::Closed => "the hall is closed today",
            _ => "this service is not offered today",
        },
    };
    Err(ClosedNow {
        reason,
        next_opening: next_opening(cal, cat, now),
    })
}

/// The next local time from `now` (exclusive of the current open period) at
/// which `cat` issues tickets, looking ahead 60 days.
pub fn next_opening(
    cal: &Calendar,
    cat: Option<&Category>,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    (0..60).find_map(|d| {
        let date = now.date() + Duration::days(d);
        let (from, _) = issuing_hours(cal, cat, date)?;
        let at = date.and_time(from);
        (at > now).then_some(at)
    })
}

/// Whole years between `birth` and `on` (the same rule the ID-card driver uses).
pub use hall_privacy::age_on;

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(close: &str) -> Calendar {
        Calendar {
            weekday_open: "00:00".into(),
            weekday_close: close.into(),
            weekend_open: None,
            weekend_close: None,
            holidays: vec![],
            makeup_workdays: vec![],
        }
    }

    #[test]
    fn closing_at_24_00_covers_the_last_minute_of_the_day() {
        let at = |t: &str| {
            NaiveDateTime::parse_from_str(&format!("2026-11-27 {t}"), "%Y-%m-%d %H:%M:%S").unwrap()
        };
        assert!(check_issuing(&cal("24:00"), None, at("23:59:59")).is_ok());
        let closed = check_issuing(&cal("23:59"), None, at("23:59:30")).unwrap_err();
        assert_eq!(closed.reason, "past today's issuing cutoff");
        assert_eq!(
            closed.next_opening,
            Some(at("00:00:00") + Duration::days(3)),
            "Friday -> Monday"
        );
    }

    #[test]
    fn age_counts_whole_years() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(age_on(d("1956-11-27"), d("2026-11-27")), 70);
        assert_eq!(age_on(d("1956-11-28"), d("2026-11-27")), 69);
    }
}
