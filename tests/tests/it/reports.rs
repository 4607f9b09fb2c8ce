//! Reports across dates and the 好差评 loop over the real server: ratings
//! only from the citizen (the window's rating pad, the ticket's own page),
//! the report over gRPC and as JSON, CSV and XLSX with the same figures,
//! the 好差评 records, and the aggregates rebuilt from the log when their
//! files are gone.

use super::web::{fetch, fetch_bytes};
use hall_proto::errors::{ErrorReason, Refusal};
use hall_proto::v1 as pb;
use hall_tests::*;
use serde_json::Value;
use tonic::Code;

fn ws(s: &pb::Session) -> pb::WindowRequest {
    pb::WindowRequest {
        session: Some(s.clone()),
    }
}

/// Calls, starts and finishes the next ticket at a window.
async fn serve(
    c: &mut pb::counter_service_client::CounterServiceClient<tonic::transport::Channel>,
    s: &pb::Session,
    case_no: &str,
) -> pb::Ticket {
    let t = c.call_next(ws(s)).await.unwrap().into_inner();
    c.start_service(ws(s)).await.unwrap();
    c.finish(pb::FinishRequest {
        session: Some(s.clone()),
        outcome: pb::FinishOutcome::Resolved as i32,
        case_no: case_no.into(),
        service_code: if case_no.is_empty() {
            String::new()
        } else {
            "610100-SB-0001".into()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    t
}

#[tokio::test]
async fn the_citizen_rates_and_the_report_agrees_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut kiosk = srv.kiosk().await;
    let mut counter = srv.counter().await;
    let p1 = issue_ok(&mut kiosk, "pension", "").await;
    let p2 = issue_ok(&mut kiosk, "pension", "").await;
    let e1 = issue_ok(&mut kiosk, "employment", "").await;
    issue_ok(&mut kiosk, "employment", "").await; // left waiting
    let s3 = login(&mut counter, 3, "c03").await;
    let s4 = login(&mut counter, 4, "c04").await;

    // Window 3 finishes P1; its pad rates it; a second rating and the pad of
    // window 4 are refused.
    assert_eq!(
        serve(&mut counter, &s3, "BJ2026-0001").await.number,
        p1.number
    );
    let mut pad3 = srv.pad(3).await;
    let mut pad4 = srv.pad(4).await;
    let state = pad3
        .get_pad_state(pb::PadRequest { window: 3 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (state.clerk_id.as_str(), state.rateable.clone()),
        ("c03", vec![p1.number.clone()])
    );
    let rate = |window: u32, number: &str, rating: u32, comment: &str| pb::PadRatingRequest {
        window,
        number: number.into(),
        rating,
        comment: comment.into(),
    };
    let err = pad4.rate(rate(4, &p1.number, 5, "")).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    let err = pad4.rate(rate(3, &p1.number, 5, "")).await.unwrap_err();
    assert_eq!(
        Refusal::from_status(&err).reason,
        ErrorReason::WrongWindow,
        "{err}"
    );
    // 不满意 needs a reason.
    let err = pad3.rate(rate(3, &p1.number, 2, "")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    let rated = pad3
        .rate(rate(3, &p1.number, 5, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rated.rating, 5);
    let err = pad3.rate(rate(3, &p1.number, 4, "")).await.unwrap_err();
    assert_eq!(
        Refusal::from_status(&err).reason,
        ErrorReason::AlreadyRated,
        "{err}"
    );
    // A clerk's terminal has no way to rate: the pad's service refuses it.
    let mut as_counter =
        pb::pad_service_client::PadServiceClient::new(srv.channel_as(Role::Counter).await);
    let err = as_counter
        .rate(rate(3, &p2.number, 5, ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");

    // P2 at window 3, rated 1 on the pad with a reason (a follow-up opens).
    assert_eq!(serve(&mut counter, &s3, "").await.number, p2.number);
    pad3.rate(rate(3, &p2.number, 1, "等候时间太长"))
        .await
        .unwrap();
    // E1 at window 4, rated from the ticket's own page.
    assert_eq!(serve(&mut counter, &s4, "").await.number, e1.number);
    let secret = e1.status_url.rsplit('/').next().unwrap().to_string();
    let body = r#"{"level": 4, "reason": ""}"#;
    let (status, text) = fetch(
        &srv,
        None,
        "POST",
        &format!("/api/v1/tickets/{secret}/rating"),
        body,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = fetch(
        &srv,
        None,
        "POST",
        &format!("/api/v1/tickets/{secret}/rating"),
        body,
    )
    .await;
    assert_eq!(status, 409, "a second rating: {text}");

    // The report over gRPC.
    let date = admin_date(&srv).await;
    let mut reports = srv.reports().await;
    let r = reports
        .get_report(pb::ReportRequest {
            from: date.clone(),
            to: date.clone(),
            by: "category".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let total = r.total.clone().unwrap();
    assert_eq!(
        (total.arrived, total.served, total.rated, total.bad),
        (4, 3, 3, 1)
    );
    assert_eq!(total.ratings, vec![1, 0, 0, 1, 1]);
    assert!((total.satisfaction - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!((r.bad_follow_ups_open, r.bad_follow_ups_closed), (1, 0));
    let pension = r.rows.iter().find(|x| x.key == "pension").unwrap();
    assert_eq!(
        (pension.arrived, pension.served, pension.label.as_str()),
        (2, 2, "养老保险待遇")
    );
    let by_window = reports
        .get_report(pb::ReportRequest {
            from: date.clone(),
            to: date.clone(),
            by: "window".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let keys: Vec<(&str, u32)> = by_window
        .rows
        .iter()
        .map(|x| (x.key.as_str(), x.served))
        .collect();
    assert_eq!(keys, [("3", 2), ("4", 1)]);
    // A kiosk may not read reports; a bad range is named.
    let mut as_kiosk =
        pb::report_service_client::ReportServiceClient::new(srv.channel_as(Role::Kiosk).await);
    let err = as_kiosk
        .get_report(pb::ReportRequest {
            from: date.clone(),
            to: date.clone(),
            by: "category".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = reports
        .get_report(pb::ReportRequest {
            from: "2026-02-30".into(),
            to: date.clone(),
            by: "category".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(Refusal::from_status(&err).field_violations[0].0, "from");

    // The same figures as JSON (the console's table), CSV and XLSX.
    let q = format!("/api/v1/reports?from={date}&to={date}&by=category");
    let (status, text) = fetch(
        &srv,
        Some(Role::Supervisor),
        "GET",
        &format!("{q}&format=json"),
        "",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let json: Value = serde_json::from_str(&text).unwrap();
    let table: Vec<Vec<String>> = json["table"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert_eq!(json["total"]["arrived"], 4);
    let (status, headers, csv) =
        fetch_bytes(&srv, Some(Role::Supervisor), &format!("{q}&format=csv")).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    let csv = String::from_utf8(csv.to_vec()).unwrap();
    let csv_rows: Vec<Vec<String>> = csv
        .trim_start_matches('\u{feff}')
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert_eq!(csv_rows, table, "CSV = the page's table");
    let (status, _, xlsx) =
        fetch_bytes(&srv, Some(Role::Supervisor), &format!("{q}&format=xlsx")).await;
    assert_eq!(status, 200);
    assert_eq!(read_xlsx(&xlsx)[1..], table[..], "XLSX = the page's table");
    let (status, _) = fetch(
        &srv,
        Some(Role::Kiosk),
        "GET",
        &format!("{q}&format=csv"),
        "",
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = fetch(
        &srv,
        Some(Role::Supervisor),
        "GET",
        &format!("{q}&format=pdf"),
        "",
    )
    .await;
    assert_eq!(status, 400);

    // The 好差评 records: case number and item code from the finish,
    // channels, levels; nothing about the citizen.
    let (status, text) = fetch(
        &srv,
        Some(Role::Supervisor),
        "GET",
        &format!("/api/v1/ratings/export?from={date}&to={date}&format=json"),
        "",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let recs: Value = serde_json::from_str(&text).unwrap();
    let recs = recs["records"].as_array().unwrap();
    let got: Vec<(String, String, String, u64, String)> = recs
        .iter()
        .map(|r| {
            (
                r["ticketNumber"].as_str().unwrap().into(),
                r["caseNo"].as_str().unwrap().into(),
                r["channel"].as_str().unwrap().into(),
                r["level"].as_u64().unwrap(),
                r["regionCode"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                p1.number.clone(),
                "BJ2026-0001".into(),
                "pad".into(),
                5,
                "610102".into()
            ),
            (
                p2.number.clone(),
                String::new(),
                "pad".into(),
                1,
                "610102".into()
            ),
            (
                e1.number.clone(),
                String::new(),
                "phone".into(),
                4,
                "610102".into()
            ),
        ]
    );
    assert_eq!(recs[0]["serviceCode"], "610100-SB-0001");
    assert_eq!(recs[1]["clerkId"], "c03");
    let (_, _, csv) = fetch_bytes(
        &srv,
        Some(Role::Supervisor),
        &format!("/api/v1/ratings/export?from={date}&to={date}&format=csv"),
    )
    .await;
    let csv = String::from_utf8(csv.to_vec()).unwrap();
    assert!(
        csv.contains("service_date,ticket_number,case_no,service_code"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 4);

    // Delete the aggregates: the next start rebuilds them from the log.
    srv.stop().await;
    std::fs::remove_dir_all(dir.path().join("reports")).unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let again = srv
        .reports()
        .await
        .get_report(pb::ReportRequest {
            from: date.clone(),
            to: date.clone(),
            by: "category".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, r, "rebuilt from the log");
    srv.stop().await;
}

async fn admin_date(srv: &TestServer) -> String {
    srv.admin()
        .await
        .get_day_report(pb::DayReportRequest {})
        .await
        .unwrap()
        .into_inner()
        .service_date
}

/// The first sheet of an XLSX file as text, numbers as the table shows them.
pub(crate) fn read_xlsx(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::{Data, Reader, Xlsx};
    let mut wb: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = wb.worksheet_range("report").unwrap();
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let decimals = |col: &str| match col {
        c if c.ends_with("_min") || c.ends_with("_pct") => 1,
        "handling_vs_expected" => 2,
        _ => 0,
    };
    range
        .rows()
        .enumerate()
        .map(|(i, row)| {
            row.iter()
                .zip(&header)
                .map(|(c, h)| match c {
                    Data::Float(v) if i > 0 => format!("{v:.*}", decimals(h)),
                    Data::Int(v) => v.to_string(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// The console's other calls over gRPC: a supervisor pauses and resumes a
/// window; devices are listed with their last report and an admin (only)
/// revokes one; a configuration's problem is placed at its line; the
/// calendar month; a ticket's history says why it was called.
#[tokio::test]
async fn the_consoles_calls_pause_list_revoke_check_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut kiosk = srv.kiosk().await;
    let mut counter = srv.counter().await;
    let mut admin = srv.admin().await;
    let mut supervisor =
        pb::admin_service_client::AdminServiceClient::new(srv.channel_as(Role::Supervisor).await);
    let p1 = issue_ok(&mut kiosk, "pension", "").await;
    let s3 = login(&mut counter, 3, "c03").await;

    // Pause with a reason; the clerk cannot call; resume.
    let err = supervisor
        .pause_window(pb::PauseWindowRequest {
            window: 3,
            reason: String::new(),
            resume: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "a reason is required");
    let w = supervisor
        .pause_window(pb::PauseWindowRequest {
            window: 3,
            reason: "临时调离".into(),
            resume: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (w.state, w.pause_reason.as_str()),
        (pb::WindowState::Paused as i32, "临时调离")
    );
    let err = counter.call_next(ws(&s3)).await.unwrap_err();
    assert_eq!(
        Refusal::from_status(&err).reason,
        ErrorReason::WindowPaused,
        "{err}"
    );
    supervisor
        .pause_window(pb::PauseWindowRequest {
            window: 3,
            reason: String::new(),
            resume: true,
        })
        .await
        .unwrap();
    let called = counter.call_next(ws(&s3)).await.unwrap().into_inner();
    assert_eq!(called.number, p1.number);

    // The ticket's history: issued, then called with the policy's reason.
    let date = admin_date(&srv).await;
    let h = supervisor
        .get_ticket_history(pb::TicketHistoryRequest {
            date: date.clone(),
            number: p1.number.to_lowercase(),
        })
        .await
        .unwrap()
        .into_inner();
    let what: Vec<&str> = h.entries.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(what, ["issued", "called"]);
    assert_eq!(
        (h.entries[1].window, h.entries[1].clerk_id.as_str()),
        (3, "c03")
    );
    assert!(
        h.entries[1].detail.contains("按取号先后"),
        "{}",
        h.entries[1].detail
    );
    let found = supervisor
        .search_tickets(pb::TicketSearchRequest {
            date: date.clone(),
            state: "open".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        found
            .tickets
            .iter()
            .map(|t| t.number.as_str())
            .collect::<Vec<_>>(),
        [p1.number.as_str()]
    );
    let err = supervisor
        .search_tickets(pb::TicketSearchRequest {
            date: "2020-01-01".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::NotFound,
        "a day the hall has no records of: {err}"
    );

    // Devices: one enrolled here, with its last report; revoked by an admin only.
    hall_server::pki::Ca::load(&srv.dir)
        .unwrap()
        .issue(Role::Board, "board-9", -1, 30)
        .unwrap();
    let list = supervisor
        .list_devices(pb::ListDevicesRequest {})
        .await
        .unwrap()
        .into_inner();
    let board = list
        .devices
        .iter()
        .find(|d| d.id == "board-9")
        .expect("listed");
    assert!(!board.revoked);
    let revoke = pb::RevokeDeviceRequest {
        id: "board-9".into(),
        reason: "屏幕已拆除".into(),
    };
    let err = supervisor.revoke_device(revoke.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let list = admin.revoke_device(revoke).await.unwrap().into_inner();
    assert!(list.devices.iter().any(|d| d.id == "board-9" && d.revoked));

    // A configuration problem at its line, and the diff.
    let toml = admin
        .get_config(pb::GetConfigRequest {})
        .await
        .unwrap()
        .into_inner()
        .toml;
    let bad = toml.replacen("prefix = \"A\"", "prefix = \"B\"", 1);
    let check = admin
        .check_config(pb::ConfigDocument { toml: bad.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(!check.ok);
    // The duplicate prefix is reported at a line that reads `prefix = "B"`.
    let lines: Vec<&str> = bad.lines().collect();
    assert!(
        check.problems.iter().any(|p| p.key.ends_with(".prefix")
            && p.line > 0
            && lines[p.line as usize - 1] == "prefix = \"B\""),
        "{:?}",
        check.problems
    );
    assert_eq!((check.added, check.removed), (1, 1));
    assert!(
        check.diff.contains("-prefix = \"A\"\n+prefix = \"B\""),
        "{}",
        check.diff
    );

    // The calendar: the built-in hall's National Day holiday and a 调休 Sunday.
    let cal = supervisor
        .get_calendar(pb::CalendarRequest {
            month: "2026-10".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cal.days.len(), 31);
    srv.stop().await;
}
