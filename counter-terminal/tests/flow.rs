//! The counter terminal against a real server: login errors, the call the
//! policy says, recall, transfer with return, the rating, and a server
//! restart in the middle of a call; plus headless screenshots.

use counter_terminal::terminal::{Target, Terminal};
use hall_proto::v1 as pb;
use hall_tests::{always_open, issue_ok, TestServer};

fn current(t: &Terminal) -> Option<pb::Ticket> {
    t.state.queue.as_ref().and_then(|q| q.current.clone())
}

#[test]
fn every_screen_renders_headless() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_counter-terminal")).arg("--screenshot").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["login.png", "main.png", "transfer.png", "rating.png", "disconnected.png"] {
        let bytes = std::fs::read(dir.path().join(f)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{f}");
        assert!(bytes.len() > 10_000, "{f} looks empty ({} bytes)", bytes.len());
    }
    if let Ok(docs) = std::env::var("HALL_SCREENSHOT_DIR") {
        for f in ["login.png", "main.png", "transfer.png", "rating.png"] {
            std::fs::copy(dir.path().join(f), std::path::Path::new(&docs).join(format!("counter-{f}"))).unwrap();
        }
    }
}

#[tokio::test]
async fn a_clerks_day_at_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), always_open()).await;
    let url = server.url();

    // Login: a wrong PIN and a taken window say so in plain words.
    let mut t1 = Terminal::connect(&url).await.unwrap();
    assert!(!t1.login(1, "c01", "0000").await);
    assert_eq!(t1.state.login_error, "工号或密码错误，请重新输入");
    assert!(t1.login(1, "c01", "1234").await);
    let mut other = Terminal::connect(&url).await.unwrap();
    assert!(!other.login(1, "c02", "1234").await);
    assert!(other.state.login_error.contains("该窗口已由") && other.state.login_error.contains("c01"), "{}", other.state.login_error);

    // Call next takes what the policy lists first.
    let mut kiosk = server.kiosk().await;
    let a1 = issue_ok(&mut kiosk, "social_insurance", "t1").await;
    let a2 = issue_ok(&mut kiosk, "social_insurance", "t2").await;
    t1.refresh().await;
    let first = t1.state.queue.as_ref().unwrap().waiting[0].number.clone();
    assert_eq!(first, a1.number);
    assert!(t1.state.queue.as_ref().unwrap().device_alerts.is_empty());

    // A kiosk's printer runs out of paper: every counter shows it until it is fixed.
    let report = |status: &str| pb::ReportDeviceRequest {
        device_id: "kiosk-2/printer".into(),
        kind: "printer".into(),
        status: status.into(),
        detail: String::new(),
    };
    kiosk.report_device(report("paper_out")).await.unwrap();
    t1.refresh().await;
    let alerts = &t1.state.queue.as_ref().unwrap().device_alerts;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        counter_terminal::view::device_alert_text(alerts),
        "设备提醒：kiosk-2/printer 打印纸已用完，已暂停取号（paper_out）"
    );
    kiosk.report_device(report("ok")).await.unwrap();
    t1.refresh().await;
    assert!(t1.state.queue.as_ref().unwrap().device_alerts.is_empty());
    assert!(t1.act("call-next").await, "{}", t1.state.message);
    assert_eq!(current(&t1).unwrap().number, a1.number);
    assert!(t1.state.message.contains(&a1.number));

    // Recall counts.
    assert!(t1.act("recall").await);
    assert_eq!(current(&t1).unwrap().recall_count, 1);

    // Transfer with return: medical insurance (window 5) serves it, then it
    // comes back to window 1 ahead of A2, which was issued after it.
    assert!(t1.act("start").await);
    assert!(t1.transfer(Target::Category("medical_insurance".into()), true).await, "{}", t1.state.message);
    assert!(current(&t1).is_none());
    let mut t5 = Terminal::connect(&url).await.unwrap();
    assert!(t5.login(5, "c05", "1234").await);
    assert!(t5.act("call-next").await, "{}", t5.state.message);
    assert_eq!(current(&t5).unwrap().number, a1.number);
    assert!(t5.act("start").await);
    assert!(t5.act("finish").await);
    t1.refresh().await;
    let waiting: Vec<String> = t1.state.queue.as_ref().unwrap().waiting.iter().map(|t| t.number.clone()).collect();
    assert_eq!(waiting, vec![a1.number.clone(), a2.number.clone()], "the returning ticket keeps its place");
    assert!(t1.act("call-next").await);
    assert_eq!(current(&t1).unwrap().number, a1.number);

    // Finish and the citizen's rating: 不满意 with a reason opens a follow-up.
    assert!(t1.act("start").await);
    assert!(t1.act("finish").await);
    assert_eq!(t1.state.rating_for.as_deref(), Some(a1.number.as_str()));
    assert!(t1.rate(2, "等候时间太长").await, "{}", t1.state.message);
    assert!(t1.state.rating_for.is_none());
    let mut admin = server.admin().await;
    let fus = admin.list_follow_ups(pb::ListFollowUpsRequest { include_closed: false }).await.unwrap().into_inner();
    assert!(fus.items.iter().any(|f| f.ticket_number == a1.number && f.kind == "bad_rating"), "{fus:?}");
    let figures = t1.state.queue.as_ref().unwrap().today.unwrap();
    assert_eq!((figures.ratings, figures.avg_rating), (1, 2.0));

    // An action that makes no sense says why, in words.
    assert!(!t1.act("recall").await);
    assert_eq!(t1.state.message, "当前没有正在办理的号");

    // A server restart in the middle of a call: the terminal finds its ticket again.
    assert!(t1.act("call-next").await);
    assert_eq!(current(&t1).unwrap().number, a2.number);
    let data = server.dir.clone();
    server.stop().await;
    t1.refresh().await;
    assert!(!t1.state.connected, "the terminal notices the server is gone");
    let server = TestServer::start(&data, always_open()).await;
    t1.reconnect(&server.url()).await.unwrap();
    assert!(t1.state.connected);
    assert_eq!(current(&t1).unwrap().number, a2.number);
    assert!(t1.act("start").await, "{}", t1.state.message);
    server.stop().await;
}
