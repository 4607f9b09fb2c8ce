//! `ReportService` (reports across dates, the 好差评 records) and
//! `PadService` (the citizen-facing rating pad of one window).

use super::*;
use crate::engine::report::{Dimension, RatingRecord, Report, ReportRow};
use chrono::NaiveDate;

/// The longest range one report covers (a leap year).
pub const MAX_DAYS: i64 = 366;

/// Reads `from` and `to` (YYYY-MM-DD); the range must be ordered and at most
/// `MAX_DAYS` long.
pub fn date_range(from: &str, to: &str) -> Result<(NaiveDate, NaiveDate), Status> {
    let day = |field: &str, v: &str| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
            Refusal::invalid_field(field, format!("{v:?} is not a date YYYY-MM-DD")).into_status()
        })
    };
    let (f, t) = (day("from", from)?, day("to", to)?);
    if t < f {
        return Err(Refusal::invalid_field("to", "the range ends before it starts").into_status());
    }
    if (t - f).num_days() >= MAX_DAYS {
        return Err(Refusal::invalid_field(
            "to",
            format!("at most {MAX_DAYS} days per report; ask for a year at a time"),
        )
        .into_status());
    }
    Ok((f, t))
}

/// A report row on the wire (the city's reports use it too).
pub fn row(r: &ReportRow, label: String) -> pb::ReportRow {
    pb::ReportRow {
        key: r.key.clone(),
        label,
        arrived: r.arrived,
        moved_in: r.moved_in,
        served: r.served,
        unresolved: r.unresolved,
        no_show: r.no_show,
        cancelled: r.cancelled,
        transferred: r.transferred,
        expired: r.expired,
        called: r.called,
        mean_wait_s: r.mean_wait_s,
        median_wait_s: r.median_wait_s,
        p90_wait_s: r.p90_wait_s,
        max_wait_s: r.max_wait_s,
        within_limit: r.within_limit,
        mean_handling_s: r.mean_handling_s,
        handling_vs_expected: r.handling_vs_expected,
        wait_hist: r.wait_hist.clone(),
        handling_hist: r.handling_hist.clone(),
        ratings: r.ratings.to_vec(),
        rated: r.rated,
        satisfaction: r.satisfaction,
        bad: r.bad,
    }
}

/// The name a key has in the configuration.
fn label(h: &Hall, by: Dimension, key: &str) -> String {
    let c = &h.catalog;
    match by {
        Dimension::Category => c
            .category(key)
            .map(|x| x.name_zh.clone())
            .or_else(|| c.bundle(key).map(|b| b.name_zh.clone()))
            .unwrap_or_default(),
        Dimension::Zone => c
            .zones
            .iter()
            .find(|z| z.code == key)
            .map(|z| z.name_zh.clone())
            .unwrap_or_default(),
        Dimension::Window => key
            .parse()
            .ok()
            .and_then(|n| c.window(n))
            .map(|w| w.name.clone())
            .unwrap_or_default(),
        Dimension::Clerk => c.clerk(key).map(|x| x.name.clone()).unwrap_or_default(),
        Dimension::Hour => format!("{key}:00–{key}:59"),
    }
}

/// A 好差评 record on the wire (the city's export uses it too).
pub fn record(r: &RatingRecord) -> pb::RatingRecord {
    pb::RatingRecord {
        service_date: r.service_date.to_string(),
        ticket_number: r.ticket_number.clone(),
        case_no: r.case_no.clone(),
        service_code: r.service_code.clone(),
        category: r.category.clone(),
        department: r.department.clone(),
        region_code: r.region_code.clone(),
        channel: r.channel.clone(),
        level: u32::from(r.level),
        reason: r.reason.clone(),
        window: r.window,
        clerk_id: r.clerk.clone(),
        issued_at_ms: r.issued_at,
        finished_at_ms: r.finished_at,
        rated_at_ms: r.rated_at,
    }
}

impl Hub {
    /// Waits until the aggregates hold everything committed now.
    async fn reports_now(&self) {
        let committed = self
            .shared
            .committed
            .load(std::sync::atomic::Ordering::Acquire);
        self.reports.caught_up(committed).await;
    }
}

#[tonic::async_trait]
impl pb::report_service_server::ReportService for Hub {
    async fn get_report(
        &self,
        req: Req<pb::ReportRequest>,
    ) -> Result<Response<pb::Report>, Status> {
        let r = limits::checked(req)?;
        let (from, to) = date_range(&r.from, &r.to)?;
        let by = Dimension::parse(&r.by).ok_or_else(|| {
            Refusal::invalid_field("by", "one of category, zone, window, clerk, hour").into_status()
        })?;
        self.reports_now().await;
        let reports = self.reports.clone();
        let report: Report = tokio::task::spawn_blocking(move || reports.report(from, to, by))
            .await
            .map_err(|e| Status::internal(format!("the report: {e}")))?;
        self.read(move |h: &Hall, _, _| {
            let (mut open, mut closed) = (0, 0);
            for f in h.follow_ups.values() {
                if f.kind == engine::FollowUpKind::BadRating
                    && (from..=to).contains(&f.service_date)
                {
                    if f.closed.is_some() {
                        closed += 1;
                    } else {
                        open += 1;
                    }
                }
            }
            Ok(pb::Report {
                from: from.to_string(),
                to: to.to_string(),
                by: by.name().into(),
                days: report.days,
                rows: report
                    .rows
                    .iter()
                    .map(|x| row(x, label(h, by, &x.key)))
                    .collect(),
                total: Some(row(&report.total, "合计".into())),
                bad_follow_ups_open: open,
                bad_follow_ups_closed: closed,
            })
        })
        .await
    }

    async fn export_ratings(
        &self,
        req: Req<pb::RatingExportRequest>,
    ) -> Result<Response<pb::RatingExport>, Status> {
        let r = limits::checked(req)?;
        let (from, to) = date_range(&r.from, &r.to)?;
        self.reports_now().await;
        // Finished days' records are read from their files: off the workers.
        let reports = self.reports.clone();
        let records = tokio::task::spawn_blocking(move || reports.ratings(from, to))
            .await
            .map_err(|e| Status::internal(format!("reading the 好差评 records: {e}")))?
            .iter()
            .map(record)
            .collect();
        Ok(Response::new(pb::RatingExport { records }))
    }
}

/// The window a pad may act for: its certificate's `pad-N` (a demo hall
/// takes the request's word).
fn pad_window(caller: roles::Caller, asked: u32) -> Result<engine::WindowNo, Status> {
    match caller {
        roles::Caller::Device(s) => match crate::pki::Role::pad_window(&s.id) {
            Some(w) if w == asked || asked == 0 => Ok(w),
            Some(w) => Err(refusal(
                Code::PermissionDenied,
                Reason::WrongWindow,
                format!("this rating pad belongs to window {w}, not {asked}"),
            )),
            None => Err(refusal(
                Code::PermissionDenied,
                Reason::WrongWindow,
                "a rating pad's id is pad-N (N its window): enroll it as --role pad --id pad-N",
            )),
        },
        _ if asked > 0 => Ok(asked),
        _ => Err(Refusal::invalid_field("window", "name the pad's window").into_status()),
    }
}

#[tonic::async_trait]
impl pb::pad_service_server::PadService for Hub {
    async fn get_pad_state(
        &self,
        req: Req<pb::PadRequest>,
    ) -> Result<Response<pb::PadState>, Status> {
        let caller = roles::caller(&req);
        let window = pad_window(caller, limits::checked(req)?.window)?;
        self.read(move |h: &Hall, _, _| {
            let w = h
                .catalog
                .window(window)
                .ok_or_else(|| status(EngineError::UnknownWindow(window).into()))?;
            let rt = h.windows.get(&window);
            let clerk_id = rt.and_then(|r| r.clerk.clone()).unwrap_or_default();
            let current = rt.and_then(|r| r.current).and_then(|id| h.ticket(id));
            Ok(pb::PadState {
                window,
                window_name: w.name.clone(),
                clerk_name: h
                    .catalog
                    .clerk(&clerk_id)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                clerk_id,
                current_number: current.map(|t| t.number.clone()).unwrap_or_default(),
                current_state: current
                    .map(|t| t.state.name().to_string())
                    .unwrap_or_default(),
                rateable: rt
                    .map(|r| {
                        r.rateable
                            .iter()
                            .rev()
                            .filter_map(|id| h.ticket(*id))
                            .filter(|t| t.rating.is_none())
                            .map(|t| t.number.clone())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .await
    }

    async fn rate(&self, req: Req<pb::PadRatingRequest>) -> Result<Response<pb::Ticket>, Status> {
        let caller = roles::caller(&req);
        let r = limits::checked(req)?;
        let window = pad_window(caller, r.window)?;
        let cmd = Command::RateFromPad {
            window,
            number: r.number,
            rating: u8::try_from(r.rating).unwrap_or(u8::MAX),
            comment: r.comment,
        };
        self.ask(Some(cmd), Box::new(render_subject))
            .await
            .map(Response::new)
    }
}
