//! What the supervisor console needs beyond the other services: working
//! follow-ups, pausing a window, checking a configuration (problems at
//! their line, a diff), the calendar of a month, tickets of any day with
//! their whole history (read back from the log), and the enrolled devices.

use super::*;
use crate::engine::report::{DayBuilder, Outcome};
use crate::engine::{FixRating, FollowUpStep};
use crate::writer::LoggedEvent;
use chrono::{Datelike, NaiveDate, Timelike};

/// Who acts: the session's staff account, else the certificate's id.
pub(super) fn acting<T>(req: &Req<T>) -> String {
    match (audit::current().and_then(|c| c.staff), roles::caller(req)) {
        (Some(account), _) => account,
        (None, roles::Caller::Device(s)) => s.id,
        _ => "admin".into(),
    }
}

/// A follow-up step from the console's request.
pub(super) fn step(r: &pb::WorkFollowUpRequest) -> Result<FollowUpStep, Status> {
    Ok(match r.action.as_str() {
        "assign" => FollowUpStep::Assign { to: r.to.clone() },
        "contact" => FollowUpStep::Contact {
            reached: r.reached,
            note: r.note.clone(),
        },
        "fix" => FollowUpStep::Fix {
            text: r.note.clone(),
        },
        "rate_fix" => FollowUpStep::RateFix {
            rating: FixRating::parse(&r.rating).ok_or_else(|| {
                Refusal::invalid_field(
                    "rating",
                    "satisfied, basically_satisfied or dissatisfied (满意/基本满意/不满意)",
                )
                .into_status()
            })?,
        },
        "appeal" => FollowUpStep::Appeal {
            reason: r.note.clone(),
        },
        "review" => FollowUpStep::Review {
            upheld: r.upheld,
            note: r.note.clone(),
        },
        _ => {
            return Err(Refusal::invalid_field(
                "action",
                "one of assign, contact, fix, rate_fix, appeal, review",
            )
            .into_status());
        }
    })
}

/// The configuration's problems, each at its line where the text has one.
pub fn check_config(text: &str, running: &str) -> pb::ConfigCheck {
    let mut problems = Vec::new();
    match toml::from_str::<engine::catalog::Catalog>(text) {
        Err(e) => {
            let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
            problems.push(pb::ConfigProblem {
                line,
                column,
                key: String::new(),
                message: e.message().trim().to_string(),
            });
        }
        Ok(c) => {
            if let Err(ps) = c.validate() {
                for p in ps {
                    problems.push(pb::ConfigProblem {
                        line: locate(text, &p.key).unwrap_or(0),
                        column: 0,
                        key: p.key.clone(),
                        message: p.problem.clone(),
                    });
                }
            }
        }
    }
    let (diff, added, removed) = line_diff(running, text);
    pb::ConfigCheck {
        ok: problems.is_empty(),
        problems,
        diff,
        added,
        removed,
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, at: usize) -> (u32, u32) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    (line, column)
}

/// The line of a validation problem's key (`categories[3].prefix`,
/// `hall.timezone`, `calendar`): its table's header, then the key's line
/// within that table when there is one.
pub fn locate(text: &str, key: &str) -> Option<u32> {
    let (table, field) = match key.split_once('.') {
        Some((t, f)) => (t, Some(f)),
        None => (key, None),
    };
    let (name, index) = match table.split_once('[') {
        Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
        None => (table, None),
    };
    let lines: Vec<&str> = text.lines().collect();
    let header = match index {
        Some(i) => {
            let h = format!("[[{name}]]");
            lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.trim() == h)
                .nth(i)?
                .0
        }
        None => {
            let h = format!("[{name}]");
            lines.iter().position(|l| l.trim() == h)?
        }
    };
    let Some(field) = field.map(|f| f.split(['.', '[']).next().unwrap_or(f)) else {
        return Some(header as u32 + 1);
    };
    for (i, l) in lines.iter().enumerate().skip(header + 1) {
        let t = l.trim_start();
        if t.starts_with('[') {
            break;
        }
        if t.split_once('=')
            .is_some_and(|(k, _)| k.trim().trim_matches('"') == field)
        {
            return Some(i as u32 + 1);
        }
    }
    Some(header as u32 + 1)
}

/// A line diff (longest common subsequence): `-` lines only in `old`, `+`
/// only in `new`, with two lines of context, `@@ line N` before each hunk.
pub fn line_diff(old: &str, new: &str) -> (String, u32, u32) {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Trim the common head and tail first: edits are usually small.
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    if am.len() * bm.len() > 4_000_000 {
        return (
            format!(
                "(too many changes to show: {} lines against {})\n",
                am.len(),
                bm.len()
            ),
            bm.len() as u32,
            am.len() as u32,
        );
    }
    let mut lcs = vec![vec![0u32; bm.len() + 1]; am.len() + 1];
    for i in (0..am.len()).rev() {
        for j in (0..bm.len()).rev() {
            lcs[i][j] = if am[i] == bm[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // (kind, new line number, text): ' ' same, '-' removed, '+' added.
    let mut ops: Vec<(char, usize, &str)> = a[..head]
        .iter()
        .enumerate()
        .map(|(k, l)| (' ', k + 1, *l))
        .collect();
    let (mut i, mut j) = (0, 0);
    while i < am.len() || j < bm.len() {
        if i < am.len() && j < bm.len() && am[i] == bm[j] {
            ops.push((' ', head + j + 1, am[i]));
            i += 1;
            j += 1;
        } else if j < bm.len() && (i == am.len() || lcs[i][j + 1] > lcs[i + 1][j]) {
            ops.push(('+', head + j + 1, bm[j]));
            j += 1;
        } else {
            ops.push(('-', head + j + 1, am[i]));
            i += 1;
        }
    }
    let tail_from = b.len() - tail;
    ops.extend(
        b[tail_from..]
            .iter()
            .enumerate()
            .map(|(k, l)| (' ', tail_from + k + 1, *l)),
    );
    let (mut added, mut removed) = (0, 0);
    let mut out = String::new();
    let mut last_shown: Option<usize> = None;
    for (k, op) in ops.iter().enumerate() {
        let near = ops[k.saturating_sub(2)..(k + 3).min(ops.len())]
            .iter()
            .any(|o| o.0 != ' ');
        if !near {
            continue;
        }
        if last_shown.is_none_or(|l| l + 1 != k) {
            out.push_str(&format!("@@ line {}\n", op.1));
        }
        last_shown = Some(k);
        match op.0 {
            '+' => added += 1,
            '-' => removed += 1,
            _ => {}
        }
        out.push_str(&format!("{}{}\n", op.0, op.2));
    }
    (out, added, removed)
}

/// The days of a month on the hall's calendar.
pub fn calendar_month(
    c: &engine::catalog::Catalog,
    month: &str,
) -> Result<pb::CalendarMonth, Status> {
    use engine::calendar::{DayKind, day_kind, hall_hours};
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| {
        Refusal::invalid_field("month", format!("{month:?} is not a month YYYY-MM")).into_status()
    })?;
    let mut days = Vec::new();
    let mut d = first;
    while d.month() == first.month() {
        let cal = &c.calendar;
        let kind = match day_kind(cal, d) {
            DayKind::Workday if cal.makeup_workdays.contains(&d) => "makeup_workday",
            DayKind::Workday => "workday",
            DayKind::WeekendOpening => "weekend_opening",
            DayKind::Closed if cal.holidays.contains(&d) => "holiday",
            DayKind::Closed => "closed",
        };
        let hours = hall_hours(cal, d);
        days.push(pb::CalendarDay {
            date: d.to_string(),
            kind: kind.into(),
            open: hours
                .map(|h| h.0.format("%H:%M").to_string())
                .unwrap_or_default(),
            close: hours
                .map(|h| h.1.format("%H:%M").to_string())
                .unwrap_or_default(),
        });
        d = d.succ_opt().unwrap_or(d);
        if d == first {
            break;
        }
    }
    Ok(pb::CalendarMonth {
        month: month.to_string(),
        days,
    })
}

/// One day of the log, folded: its tickets and their events.
pub struct DayLog {
    pub builder: DayBuilder,
    pub events: Vec<LoggedEvent>,
}

impl Hub {
    /// Reads the log of one service day (at most a day's worth of events).
    pub(super) async fn day_log(&self, date: NaiveDate) -> Result<DayLog, Status> {
        let committed = self
            .shared
            .committed
            .load(std::sync::atomic::Ordering::Acquire);
        self.reports.caught_up(committed).await;
        let Some((first, last)) = self.reports.day_range(date, committed) else {
            return Err(refusal(
                Code::NotFound,
                Reason::Unspecified,
                format!("the hall has no records of {date}"),
            ));
        };
        let store = self.store.clone();
        let catalog = self
            .read(|h: &Hall, _, _| Ok(h.catalog.clone()))
            .await?
            .into_inner();
        tokio::task::spawn_blocking(move || {
            let mut builder = DayBuilder::new(&catalog);
            let mut events = Vec::new();
            let mut next = first.max(1);
            while next <= last {
                let records = store
                    .read_from(next, 4096)
                    .map_err(|e| Status::unavailable(format!("reading the log: {e}")))?;
                if records.is_empty() {
                    break;
                }
                let mut ended = false;
                for r in records {
                    if r.seq > last {
                        break;
                    }
                    let e: LoggedEvent = serde_json::from_slice(&r.json)
                        .map_err(|e| Status::internal(format!("log record {}: {e}", r.seq)))?;
                    next = r.seq + 1;
                    match &e.event {
                        // The day's own DayRolled starts it; the next one
                        // (a report task behind the log) ends it.
                        engine::Event::DayRolled { to, .. } if *to != date => {
                            ended = true;
                            break;
                        }
                        engine::Event::DayRolled { .. } => builder.date = Some(date),
                        _ => {
                            builder.apply(e.seq, e.at, &e.event);
                        }
                    }
                    events.push(e);
                }
                if ended {
                    break;
                }
            }
            builder.date = Some(date);
            Ok(DayLog { builder, events })
        })
        .await
        .map_err(|e| Status::internal(format!("reading the log: {e}")))?
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Open => "open",
        Outcome::Served => "served",
        Outcome::Unresolved => "unresolved",
        Outcome::NoShow => "no_show",
        Outcome::Cancelled => "cancelled",
        Outcome::Transferred => "transferred",
        Outcome::Expired => "expired",
    }
}

/// Every ticket of a folded day, in issue order. On a past day (`closed`)
/// a ticket still open at its end expired, as the reports count it.
pub fn summaries(day: &DayLog, closed: bool) -> Vec<(engine::TicketId, pb::TicketSummary)> {
    let b = &day.builder;
    let mut out: Vec<(engine::TicketId, pb::TicketSummary)> = b
        .tickets
        .iter()
        .map(|(id, f)| {
            let legs: Vec<&engine::report::Leg> =
                b.legs.iter().filter(|l| l.ticket == *id).collect();
            let first = legs.first();
            let last = b.legs.get(f.leg);
            let summary = pb::TicketSummary {
                number: f.number.clone(),
                category: last.map(|l| l.category.clone()).unwrap_or_default(),
                origin: first.map(|l| l.category.clone()).unwrap_or_default(),
                state: match last.map(|l| l.outcome) {
                    Some(Outcome::Open) | None if closed => "expired",
                    Some(o) => outcome_name(o),
                    None => "open",
                }
                .into(),
                issued_at_ms: f.issued_at,
                called_at_ms: first.and_then(|l| l.first_call).unwrap_or(0),
                finished_at_ms: last.and_then(|l| l.ended_at).unwrap_or(0),
                window: legs.iter().rev().find_map(|l| l.window).unwrap_or(0),
                clerk_id: legs
                    .iter()
                    .rev()
                    .find_map(|l| l.clerk.clone())
                    .unwrap_or_default(),
                rating: legs.iter().find_map(|l| l.rating).map_or(0, u32::from),
                wait_s: first
                    .and_then(|l| {
                        l.first_call
                            .map(|c| ((c - l.entered_at).max(0) / 1000) as u32)
                    })
                    .unwrap_or(0),
            };
            (*id, summary)
        })
        .collect();
    out.sort_by_key(|(id, _)| *id);
    out
}

/// Whether a ticket matches a search.
pub fn matches(
    t: &pb::TicketSummary,
    r: &pb::TicketSearchRequest,
    clock: &engine::calendar::Clock,
) -> bool {
    let hm = |ms: i64| {
        let l = clock.local(ms);
        l.hour() * 60 + l.minute()
    };
    let parse = |s: &str| engine::calendar::hhmm(s).map(|t| t.hour() * 60 + t.minute());
    (r.number.is_empty() || t.number.starts_with(&r.number.to_uppercase()))
        && (r.category.is_empty() || t.category == r.category || t.origin == r.category)
        && (r.state.is_empty() || t.state == r.state || (r.state == "waiting" && t.state == "open"))
        && parse(&r.from_time).is_none_or(|f| hm(t.issued_at_ms) >= f)
        && parse(&r.to_time).is_none_or(|to| hm(t.issued_at_ms) < to)
}

/// One event of a ticket, for its history.
pub fn history_entry(l: &LoggedEvent, clerk_of: &mut Option<String>) -> Option<pb::HistoryEntry> {
    use engine::Event as E;
    let (what, window, detail) = match &l.event {
        E::TicketIssued { ticket, .. } => (
            "issued",
            0,
            format!(
                "{} · {} · {}",
                ticket.queue,
                ticket.priority.zh(),
                channel_zh(ticket.channel)
            ),
        ),
        E::TicketCalled {
            window,
            clerk,
            reason,
            ..
        } => {
            *clerk_of = Some(clerk.clone());
            ("called", *window, reason.zh())
        }
        E::TicketRecalled { window, count, .. } => {
            ("recalled", *window, format!("第 {count} 次重呼"))
        }
        E::ServiceStarted { window, .. } => ("started", *window, String::new()),
        E::TicketFinished {
            window,
            resolved,
            reason,
            after,
            ..
        } => (
            if *resolved { "finished" } else { "unresolved" },
            *window,
            match after {
                engine::AfterFinish::Closed => reason.clone(),
                engine::AfterFinish::NextStage { queue, .. } => format!("下一阶段：{queue}"),
                engine::AfterFinish::Returned { window, .. } => format!("返回 {window} 号窗口"),
                engine::AfterFinish::SentAway { to } => {
                    format!("跨区域通办：{} {}", to.site, to.number)
                }
            },
        ),
        E::TicketNoShow { window, auto, .. } => (
            "no_show",
            *window,
            if *auto {
                "重呼后未到，自动过号".into()
            } else {
                String::new()
            },
        ),
        E::TicketRequeued { .. } => ("requeued", 0, "迟到，重新排队".into()),
        E::TicketSuspended { window, reason, .. } => ("suspended", *window, reason.clone()),
        E::TicketTransferred {
            from_window,
            target,
            reason,
            ..
        } => (
            "transferred",
            *from_window,
            match target {
                engine::TransferTarget::Queue(q) => format!("转至 {q}：{reason}"),
                engine::TransferTarget::Window(w) => format!("转至 {w} 号窗口：{reason}"),
            },
        ),
        E::TicketCancelled { reason, .. } => ("cancelled", 0, reason.clone()),
        E::RatingSubmitted {
            window,
            rating,
            comment,
            channel,
            ..
        } => (
            "rated",
            *window,
            format!("{rating} 分（{}）{comment}", channel.name()),
        ),
        E::CaseRecorded {
            case_no,
            service_code,
            ..
        } => (
            "case",
            0,
            format!("办件编号 {case_no} · 事项 {service_code}"),
        ),
        _ => return None,
    };
    Some(pb::HistoryEntry {
        seq: l.seq,
        at_ms: l.at,
        what: what.into(),
        window,
        clerk_id: if window > 0 {
            clerk_of.clone().unwrap_or_default()
        } else {
            String::new()
        },
        detail,
    })
}

fn channel_zh(c: engine::Channel) -> &'static str {
    match c {
        engine::Channel::Kiosk => "取号机",
        engine::Channel::Mobile => "手机",
        engine::Channel::Counter => "窗口",
        engine::Channel::Appointment => "预约",
        engine::Channel::Site => "跨站点",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_placed_at_their_line() {
        let text = "[hall]\nname_zh = \"x\"\ntimezone = \"Mars/Base\"\n\n[[categories]]\ncode = \"a\"\n\n[[categories]]\ncode = \"b\"\nprefix = \"B\"\n";
        assert_eq!(locate(text, "hall.timezone"), Some(3));
        assert_eq!(locate(text, "categories[1].prefix"), Some(10));
        assert_eq!(locate(text, "categories[1].zone"), Some(8));
        assert_eq!(locate(text, "categories[2].code"), None);
        let c = check_config("[hall\nname = 1\n", "");
        assert!(!c.ok);
        assert_eq!(c.problems[0].line, 1, "{:?}", c.problems);
    }

    #[test]
    fn the_diff_shows_changed_lines_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nD\ne\nf\ng\nh\ni\n";
        let (d, added, removed) = line_diff(old, new);
        assert_eq!((added, removed), (2, 1));
        assert_eq!(d, "@@ line 2\n b\n c\n-d\n+D\n e\n f\n g\n h\n+i\n");
        let (d, _, _) = line_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\nX\n3\n4\n5\n6\n7\n8\nY\n");
        assert_eq!(
            d,
            "@@ line 1\n 1\n-2\n+X\n 3\n 4\n@@ line 7\n 7\n 8\n-9\n+Y\n"
        );
        assert_eq!(line_diff(old, old), (String::new(), 0, 0));
    }
}
