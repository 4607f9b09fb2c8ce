//! Reports and 好差评 records as downloads, and the supervisor console's
//! login.
//!
//! `GET /api/v1/reports?from=&to=&by=&format=json|csv|xlsx` and `GET
//! /api/v1/ratings/export?from=&to=&format=json|csv` call
//! `ReportService` in-process through the gRPC stack (so the same role
//! table applies), then shape the answer. CSV and XLSX hold one table, the
//! same [`table`] the console shows: the figures on screen and in the files
//! cannot differ.
//!
//! The console (`/console`) is a browser without a certificate: `POST
//! /console/login` checks a supervisor's or admin's password
//! (`AdminService.StaffLogin`, with its lockout) on behalf of a fresh
//! browser identity (role `console`, a random serial) and sets two
//! cookies: the signed identity the session is bound to, and the session
//! token. Both are HttpOnly and SameSite=Strict; every POST is also checked
//! for its origin (`api::same_origin`).

use super::api::{self, error};
use super::{ConnCaller, Peer, Web};
use crate::grpc::roles::Caller;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hall_proto::errors::Refusal;
use hall_proto::v1 as pb;
use prost::Message;
use prost_reflect::DynamicMessage;

/// The console's browser identity cookie (signed like a paired screen's).
pub const CONSOLE_COOKIE: &str = "__Host-hall_console";
/// The console's staff session token.
pub const STAFF_COOKIE: &str = "__Host-hall_staff";

#[derive(Debug, serde::Deserialize)]
pub(super) struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    by: String,
    #[serde(default)]
    format: String,
}

/// The columns of the report table (CSV, XLSX, the console): key, label,
/// counts, then waits and handling in minutes (one decimal), shares in
/// percent (one decimal), then the ratings by level.
pub const COLUMNS: [&str; 25] = [
    "key",
    "label",
    "arrived",
    "moved_in",
    "served",
    "unresolved",
    "no_show",
    "cancelled",
    "transferred",
    "expired",
    "mean_wait_min",
    "median_wait_min",
    "p90_wait_min",
    "max_wait_min",
    "within_limit_pct",
    "mean_handling_min",
    "handling_vs_expected",
    "rated",
    "satisfaction_pct",
    "bad",
    "level_1",
    "level_2",
    "level_3",
    "level_4",
    "level_5",
];

/// A table cell: text or a number (XLSX keeps numbers as numbers).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Num(f64, u8),
}

impl Cell {
    pub fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Num(v, d) => format!("{v:.*}", usize::from(*d)),
        }
    }
    /// The value as shown (rounded to its decimals), for XLSX.
    fn shown(v: f64, d: u8) -> f64 {
        let f = 10f64.powi(i32::from(d));
        (v * f).round() / f
    }
}

/// The rows of a report (and the total last) as the console shows them.
pub fn table(r: &pb::Report) -> Vec<Vec<Cell>> {
    let min = |s: f64| Cell::Num(s / 60.0, 1);
    let int = |n: u32| Cell::Num(f64::from(n), 0);
    let pct = |x: f64| Cell::Num(x * 100.0, 1);
    r.rows
        .iter()
        .chain(r.total.iter())
        .map(|x| {
            let mut row = vec![
                Cell::Text(x.key.clone()),
                Cell::Text(x.label.clone()),
                int(x.arrived),
                int(x.moved_in),
                int(x.served),
                int(x.unresolved),
                int(x.no_show),
                int(x.cancelled),
                int(x.transferred),
                int(x.expired),
                min(x.mean_wait_s),
                min(x.median_wait_s),
                min(x.p90_wait_s),
                min(f64::from(x.max_wait_s)),
                pct(x.within_limit),
                min(x.mean_handling_s),
                Cell::Num(x.handling_vs_expected, 2),
                int(x.rated),
                pct(x.satisfaction),
                int(x.bad),
            ];
            row.extend((0..5).map(|i| int(x.ratings.get(i).copied().unwrap_or(0))));
            row
        })
        .collect()
}

/// CSV (RFC 4180, UTF-8 with a BOM so spreadsheet programs read the Chinese).
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let field = |s: &str| {
        // A leading = + - @ (or a tab or CR before one) would be a formula
        // in a spreadsheet: quote it away.
        let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err() {
            format!("'{s}")
        } else {
            s.to_string()
        };
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let mut out = String::from("\u{feff}");
    out.push_str(
        &header
            .iter()
            .map(|h| field(h))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

fn xlsx(sheet: &str, header: &[&str], rows: &[Vec<Cell>]) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(sheet).map_err(|e| e.to_string())?;
    let bold = Format::new().set_bold();
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(|e| e.to_string())?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 1, c as u16);
            match cell {
                Cell::Text(s) => ws.write_string(r, c, s),
                Cell::Num(v, d) => ws.write_number(r, c, Cell::shown(*v, *d)),
            }
            .map_err(|e| e.to_string())?;
        }
    }
    wb.save_to_buffer().map_err(|e| e.to_string())
}

fn download(body: impl Into<axum::body::Body>, mime: &str, name: String) -> Response {
    (
        [
            (http::header::CONTENT_TYPE, mime.to_string()),
            (
                http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (http::header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body.into(),
    )
        .into_response()
}

/// Calls a unary method in-process for a GET (no body of its own).
async fn call<M: Message + Default>(
    web: &Web,
    conn: &ConnCaller,
    headers: &http::HeaderMap,
    peer: std::net::SocketAddr,
    path: &str,
    req: impl Message,
) -> Result<M, Response> {
    let caller = web.caller(conn, headers);
    match web
        .unary(
            caller,
            path,
            Bytes::from(req.encode_to_vec()),
            headers,
            peer,
        )
        .await
    {
        Ok(b) => M::decode(b).map_err(|e| {
            error(Refusal::new(
                tonic::Code::Internal,
                hall_proto::errors::ErrorReason::Unspecified,
                format!("answer not decodable: {e}"),
            ))
        }),
        Err(s) => Err(error(Refusal::from_status(&s))),
    }
}

fn bad_format(allowed: &str) -> Response {
    error(Refusal::invalid_field(
        "format",
        format!("one of {allowed}"),
    ))
}

/// `GET /api/v1/reports`.
pub(super) async fn report(
    State(web): State<Web>,
    conn: axum::Extension<ConnCaller>,
    peer: axum::Extension<Peer>,
    headers: http::HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Response {
    let format = if q.format.is_empty() {
        "json"
    } else {
        q.format.as_str()
    };
    if !matches!(format, "json" | "csv" | "xlsx") {
        return bad_format("json, csv, xlsx");
    }
    let req = pb::ReportRequest {
        from: q.from,
        to: q.to,
        by: if q.by.is_empty() {
            "category".into()
        } else {
            q.by
        },
    };
    let r: pb::Report = match call(
        &web,
        &conn.0,
        &headers,
        (peer.0).0,
        "/hall.v1.ReportService/GetReport",
        req,
    )
    .await
    {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    report_answer(&r, format)
}

/// A report as the reports API answers it: JSON (proto3 JSON plus the
/// console's table), CSV or XLSX (`format` checked by the caller). The
/// city's reports answer with it too.
pub fn report_answer(r: &pb::Report, format: &str) -> Response {
    let rows = table(r);
    let name = format!("report-{}-{}-{}", r.from, r.to, r.by);
    match format {
        "csv" => {
            let text: Vec<Vec<String>> = rows
                .iter()
                .map(|r| r.iter().map(Cell::text).collect())
                .collect();
            download(
                csv(&COLUMNS, &text),
                "text/csv; charset=utf-8",
                format!("{name}.csv"),
            )
        }
        "xlsx" => match xlsx("report", &COLUMNS, &rows) {
            Ok(b) => download(
                b,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                format!("{name}.xlsx"),
            ),
            Err(e) => error(Refusal::new(
                tonic::Code::Internal,
                hall_proto::errors::ErrorReason::Unspecified,
                format!("writing the XLSX: {e}"),
            )),
        },
        _ => {
            let msg = DynamicMessage::decode(
                api::method("ReportService", "GetReport")
                    .expect("in hall.v1")
                    .output(),
                r.encode_to_vec().as_slice(),
            )
            .expect("re-reads");
            let mut v = api::to_json(&msg);
            v["table"] = serde_json::json!({
                "header": COLUMNS,
                "rows": rows.iter().map(|r| r.iter().map(Cell::text).collect::<Vec<_>>()).collect::<Vec<_>>(),
            });
            ([(http::header::CACHE_CONTROL, "no-store")], axum::Json(v)).into_response()
        }
    }
}

/// The columns of the 好差评 export (JSON has the same names in lowerCamelCase).
pub const RATING_COLUMNS: [&str; 15] = [
    "service_date",
    "ticket_number",
    "case_no",
    "service_code",
    "category",
    "department",
    "region_code",
    "channel",
    "level",
    "reason",
    "window",
    "clerk_id",
    "issued_at",
    "finished_at",
    "rated_at",
];

/// Unix ms as local ISO 8601 with offset (what a platform import reads).
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8"))
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
}

/// `GET /api/v1/ratings/export`.
pub(super) async fn ratings(
    State(web): State<Web>,
    conn: axum::Extension<ConnCaller>,
    peer: axum::Extension<Peer>,
    headers: http::HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Response {
    let format = if q.format.is_empty() {
        "json"
    } else {
        q.format.as_str()
    };
    if !matches!(format, "json" | "csv") {
        return bad_format("json, csv");
    }
    let req = pb::RatingExportRequest {
        from: q.from,
        to: q.to,
    };
    let r: pb::RatingExport = match call(
        &web,
        &conn.0,
        &headers,
        (peer.0).0,
        "/hall.v1.ReportService/ExportRatings",
        req.clone(),
    )
    .await
    {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    ratings_answer(&r, format!("ratings-{}-{}", req.from, req.to), format, &[])
}

/// The 好差评 records as the export answers them: JSON (proto3 JSON) or
/// CSV (`format` checked by the caller). `sites`, when not empty, is each
/// record's site (the city's export): a first column in the CSV, a `site`
/// field in the JSON.
pub fn ratings_answer(
    r: &pb::RatingExport,
    name: String,
    format: &str,
    sites: &[String],
) -> Response {
    if format == "csv" {
        let rows: Vec<Vec<String>> = r
            .records
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let mut row = Vec::with_capacity(RATING_COLUMNS.len() + 1);
                if !sites.is_empty() {
                    row.push(sites.get(i).cloned().unwrap_or_default());
                }
                row.extend([
                    x.service_date.clone(),
                    x.ticket_number.clone(),
                    x.case_no.clone(),
                    x.service_code.clone(),
                    x.category.clone(),
                    x.department.clone(),
                    x.region_code.clone(),
                    x.channel.clone(),
                    x.level.to_string(),
                    x.reason.clone(),
                    x.window.to_string(),
                    x.clerk_id.clone(),
                    iso(x.issued_at_ms),
                    iso(x.finished_at_ms),
                    iso(x.rated_at_ms),
                ]);
                row
            })
            .collect();
        let mut header: Vec<&str> = Vec::new();
        if !sites.is_empty() {
            header.push("site");
        }
        header.extend(RATING_COLUMNS);
        return download(
            csv(&header, &rows),
            "text/csv; charset=utf-8",
            format!("{name}.csv"),
        );
    }
    let msg = DynamicMessage::decode(
        api::method("ReportService", "ExportRatings")
            .expect("in hall.v1")
            .output(),
        r.encode_to_vec().as_slice(),
    )
    .expect("re-reads");
    let mut v = api::to_json(&msg);
    if !sites.is_empty()
        && let Some(records) = v.get_mut("records").and_then(|r| r.as_array_mut())
    {
        for (rec, site) in records.iter_mut().zip(sites) {
            rec["site"] = serde_json::Value::String(site.clone());
        }
    }
    ([(http::header::CACHE_CONTROL, "no-store")], axum::Json(v)).into_response()
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct Login {
    account: String,
    password: String,
}

fn cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// `POST /console/login`: a supervisor's or admin's password, for this browser.
pub(super) async fn login(
    State(web): State<Web>,
    peer: axum::Extension<Peer>,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(resp) = api::same_origin(&headers, &uri) {
        return resp;
    }
    let Ok(l) = serde_json::from_slice::<Login>(&body) else {
        return error(Refusal::invalid_field(
            "body",
            "{\"account\": \"…\", \"password\": \"…\"}",
        ));
    };
    let peer = (peer.0).0;
    let subject = crate::pki::Subject {
        role: crate::pki::Role::Console,
        id: format!("console@{}", peer.ip()),
        serial: hex::encode(rand::random::<[u8; 16]>()),
    };
    let caller = if web.revocations.is_some() {
        Caller::Device(subject.clone())
    } else {
        Caller::Demo
    };
    let req = pb::StaffLoginRequest {
        account: l.account,
        password: l.password,
    };
    // The session's own header must not ride along.
    let mut plain = headers.clone();
    plain.remove(http::header::AUTHORIZATION);
    let s = match web
        .unary(
            caller,
            "/hall.v1.AdminService/StaffLogin",
            Bytes::from(req.encode_to_vec()),
            &plain,
            peer,
        )
        .await
        .map(pb::StaffSession::decode)
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return error(Refusal::invalid_field("answer", e.to_string())),
        Err(st) => return error(Refusal::from_status(&st)),
    };
    let max_age = crate::grpc::staff::MAX_AGE.as_secs() as i64;
    let paired = crate::grpc::PairedBrowser {
        subject,
        expires_ms: crate::now_ms() + max_age * 1000,
    };
    let secure = web.revocations.is_some();
    let mut resp = axum::Json(serde_json::json!({
        "account": s.account, "name": s.name, "role": s.role,
        "idleMinutes": s.idle_minutes,
    }))
    .into_response();
    let h = resp.headers_mut();
    for c in [
        cookie(
            CONSOLE_COOKIE,
            &web.hub.browser_cookie(&paired),
            max_age,
            secure,
        ),
        cookie(STAFF_COOKIE, &s.token, max_age, secure),
    ] {
        if let Ok(v) = http::HeaderValue::from_str(&c) {
            h.append(http::header::SET_COOKIE, v);
        }
    }
    resp
}

/// `POST /console/logout`: ends the session and forgets the cookies.
pub(super) async fn logout(
    State(web): State<Web>,
    conn: axum::Extension<ConnCaller>,
    peer: axum::Extension<Peer>,
    uri: http::Uri,
    headers: http::HeaderMap,
) -> Response {
    if let Err(resp) = api::same_origin(&headers, &uri) {
        return resp;
    }
    if let Some(token) = super::cookie(&headers, STAFF_COOKIE) {
        let req = pb::StaffLogoutRequest {
            token: token.to_string(),
        };
        let _ = call::<pb::StaffLogoutResponse>(
            &web,
            &conn.0,
            &headers,
            (peer.0).0,
            "/hall.v1.AdminService/StaffLogout",
            req,
        )
        .await;
    }
    let secure = web.revocations.is_some();
    let mut resp = axum::Json(serde_json::json!({"ended": true})).into_response();
    for name in [CONSOLE_COOKIE, STAFF_COOKIE] {
        if let Ok(v) = http::HeaderValue::from_str(&cookie(name, "", 0, secure)) {
            resp.headers_mut().append(http::header::SET_COOKIE, v);
        }
    }
    resp
}

/// `GET /console`: the page (it logs in through `/console/login`).
pub(super) async fn page() -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (http::header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../web/console.html"),
    )
        .into_response()
}

/// `GET /metrics`: the server's state in the Prometheus text format, for
/// the hall's monitoring — the committed log, shipping to the city (its
/// backlog above all), the notification outbox, storage. It is
/// `AdminService.GetServerStatus` called in-process, so the same roles
/// read it.
pub(super) async fn metrics(
    State(web): State<Web>,
    conn: axum::Extension<ConnCaller>,
    peer: axum::Extension<Peer>,
    headers: http::HeaderMap,
) -> Response {
    let s: pb::ServerStatus = match call(
        &web,
        &conn.0,
        &headers,
        (peer.0).0,
        "/hall.v1.AdminService/GetServerStatus",
        pb::ServerStatusRequest {},
    )
    .await
    {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let ship = s.shipping.unwrap_or_default();
    let n = s.notifications.unwrap_or_default();
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, v: f64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
        ));
    };
    gauge(
        "hall_committed_seq",
        "The last sequence number on disk.",
        s.committed_seq as f64,
    );
    gauge(
        "hall_writable",
        "1 while the store takes writes.",
        f64::from(u8::from(s.writable)),
    );
    gauge(
        "hall_data_dir_free_bytes",
        "Free space under the data directory.",
        s.data_dir_free_bytes as f64,
    );
    gauge(
        "hall_ship_configured",
        "1 when [ship] is configured.",
        f64::from(u8::from(ship.configured)),
    );
    gauge(
        "hall_ship_connected",
        "1 while the city database answers.",
        f64::from(u8::from(ship.connected)),
    );
    gauge(
        "hall_ship_shipped_seq",
        "The last sequence number in the city database.",
        ship.shipped_seq as f64,
    );
    gauge(
        "hall_ship_backlog_events",
        "Committed events not yet in the city database.",
        ship.backlog as f64,
    );
    gauge(
        "hall_ship_last_ok_ms",
        "When the city database last answered (unix ms).",
        ship.last_ok_ms as f64,
    );
    gauge(
        "hall_notify_pending",
        "Notifications not yet taken by every sink.",
        n.pending as f64,
    );
    gauge(
        "hall_notify_dead_total",
        "Deliveries given up since the log began.",
        n.dead as f64,
    );
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}
