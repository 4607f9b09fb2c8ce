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
    for f in ["login.png", "main.png", "transfer.png", "send-to-site.png", "sites.png", "rating.png", "disconnected.png"] {
        let bytes = std::fs::read(dir.path().join(f)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{f}");
        assert!(bytes.len() > 10_000, "{f} looks empty ({} bytes)", bytes.len());
    }
    if let Ok(docs) = std::env::var("HALL_SCREENSHOT_DIR") {
        for f in ["login.png", "main.png", "transfer.png", "send-to-site.png", "sites.png", "rating.png"] {
            std::fs::copy(dir.path().join(f), std::path::Path::new(&docs).join(format!("counter-{f}"))).unwrap();
        }
    }
}

#[test]
fn every_pad_screen_renders_headless() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_counter-terminal"))
        .args(["--rating-pad", "--window", "3", "--screenshot"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["pad-idle.png", "pad-serving.png", "pad-rate.png", "pad-reason.png", "pad-thanks.png", "pad-offline.png"] {
        let bytes = std::fs::read(dir.path().join(f)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{f}");
        assert!(bytes.len() > 10_000, "{f} looks empty ({} bytes)", bytes.len());
    }
    if let Ok(docs) = std::env::var("HALL_SCREENSHOT_DIR") {
        for f in ["pad-rate.png", "pad-reason.png"] {
            std::fs::copy(dir.path().join(f), std::path::Path::new(&docs).join(f)).unwrap();
        }
    }
}

/// The pad of window 3 rates what window 3 just finished (不满意 asks for a
/// reason first); a second rating is refused, and so is a pad of window 4.
#[tokio::test]
async fn the_pad_of_the_window_rates_and_nobody_else() {
    use counter_terminal::pad::{Pad, Phase};
    use hall_tests::Role;
    let dir = tempfile::tempdir().unwrap();
    hall_tests::speak_as(Role::Counter);
    let server = TestServer::start(dir.path(), always_open()).await;
    let url = server.url();
    let mut kiosk = server.kiosk().await;
    let p1 = issue_ok(&mut kiosk, "pension", "").await;
    let mut t3 = Terminal::connect(&url).await.unwrap();
    assert!(t3.login(3, "c03", "1234").await);
    let mut pad3 = Pad::on(hall_tests::channel_named(&url, Role::Pad, "pad-3").await, 3).await;
    assert_eq!((pad3.view.phase, pad3.view.clerk_id.as_str()), (Phase::Idle, "c03"));
    assert!(t3.act("call-next").await);
    pad3.refresh().await;
    assert_eq!((pad3.view.phase, pad3.view.ticket.as_str()), (Phase::Serving, p1.number.as_str()));
    assert!(t3.act("start").await);
    assert!(t3.act("finish").await);
    assert_eq!(t3.state.rating_for.as_deref(), Some(p1.number.as_str()), "the clerk's screen waits for the pad");
    pad3.refresh().await;
    assert_eq!((pad3.view.phase, pad3.view.ticket.as_str()), (Phase::Rate, p1.number.as_str()));
    // A pad of window 4 cannot rate it, even naming window 3's ticket.
    let mut pad4 = Pad::on(hall_tests::channel_named(&url, Role::Pad, "pad-4").await, 3).await;
    pad4.view.ticket = p1.number.clone();
    pad4.view.phase = Phase::Rate;
    assert!(!pad4.choose(5).await);
    assert_eq!(pad4.view.message, "本评价器属于其他窗口。");
    // 不满意: a reason first, then it is sent.
    assert!(!pad3.choose(2).await);
    assert_eq!(pad3.view.phase, Phase::Reason);
    assert!(pad3.submit("等候时间太长").await, "{}", pad3.view.message);
    assert_eq!(pad3.view.phase, Phase::Thanks);
    // Once only.
    let mut again = Pad::on(hall_tests::channel_named(&url, Role::Pad, "pad-3").await, 3).await;
    assert_eq!(again.view.phase, Phase::Idle, "nothing left to rate");
    again.view.ticket = p1.number.clone();
    assert!(!again.choose(4).await);
    assert!(again.view.message_is_error);
    let fus = server.admin().await.list_follow_ups(pb::ListFollowUpsRequest { include_closed: false }).await.unwrap().into_inner();
    assert!(fus.items.iter().any(|f| f.ticket_number == p1.number && f.reason == "等候时间太长"), "{fus:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_clerks_day_at_the_window() {
    let dir = tempfile::tempdir().unwrap();
    hall_tests::speak_as(hall_tests::Role::Counter);
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
        device_id: "kiosk-t/printer".into(),
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
        "设备提醒：kiosk-t/printer 打印纸已用完，已暂停取号（paper_out）"
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
    // The citizen rates on window 1's pad (评价器); the terminal only learns it arrived.
    let mut pad = server.pad(1).await;
    pad.rate(pb::PadRatingRequest { window: 1, number: a1.number.clone(), rating: 2, comment: "等候时间太长".into() })
        .await
        .unwrap();
    t1.refresh().await;
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
    hall_tests::speak_as(hall_tests::Role::Counter);
    let server = TestServer::start(&data, always_open()).await;
    t1.reconnect(&server.url()).await.unwrap();
    assert!(t1.state.connected);
    assert_eq!(current(&t1).unwrap().number, a2.number);
    assert!(t1.act("start").await, "{}", t1.state.message);
    server.stop().await;
}

/// What the terminal showed after an input, for the test to wait on.
#[derive(Debug, Clone, Default)]
struct Seen {
    queue_reads: u64,
    waiting_total: u32,
    connected_stream: bool,
}

/// Waits (10 s at most) until the terminal shows what `f` wants.
async fn wait_until(rx: &mut tokio::sync::watch::Receiver<Seen>, what: &str, f: impl Fn(&Seen) -> bool) -> Seen {
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), rx.wait_for(|s| f(s))).await.map(|r| r.map(|s| s.clone()));
    match r {
        Ok(Ok(s)) => s,
        _ => panic!("the terminal never showed {what}: {:?}", *rx.borrow()),
    }
}

/// The terminal follows the event stream but reads its queue (GetMyQueue)
/// only for events that touch its window or its queues, and a burst of
/// them makes a read or two, not one per event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_events_for_this_window_read_its_queue_and_bursts_are_coalesced() {
    use counter_terminal::terminal::{drive, StreamToCore};
    let dir = tempfile::tempdir().unwrap();
    hall_tests::speak_as(hall_tests::Role::Counter);
    let server = TestServer::start(dir.path(), always_open()).await;
    let url = server.url();
    // Window 1 serves social insurance, then employment and pension; not medical insurance.
    let mut t = Terminal::connect(&url).await.unwrap();
    assert!(t.login(1, "c01", "1234").await);
    let (tx, mut inputs) = tokio::sync::mpsc::unbounded_channel();
    let follower = tokio::spawn({
        let url = url.clone();
        let tx = tx.clone();
        async move { hall_client::follow::follow(url, Default::default(), &mut StreamToCore::new(tx)).await }
    });
    let (seen_tx, mut seen) = tokio::sync::watch::channel(Seen::default());
    let driver = tokio::spawn({
        let url = url.clone();
        async move {
            drive(&mut t, &url, &mut inputs, |t| {
                let _ = seen_tx.send(Seen {
                    queue_reads: t.queue_reads,
                    waiting_total: t.state.queue.as_ref().map_or(0, |q| q.waiting_total),
                    connected_stream: t.state.stream.is_some_and(|c| c.is_connected()),
                });
            })
            .await
        }
    });
    let start = wait_until(&mut seen, "a connected stream", |s| s.connected_stream).await;

    // Tickets for another window's queue: no read. Then one for this window: one read.
    let mut kiosk = server.kiosk().await;
    for i in 0..5 {
        issue_ok(&mut kiosk, "medical_insurance", &format!("m{i}")).await;
    }
    issue_ok(&mut kiosk, "social_insurance", "s0").await;
    let after = wait_until(&mut seen, "the social insurance ticket", |s| s.waiting_total == 1).await;
    assert_eq!(after.queue_reads, start.queue_reads + 1, "one read for six events, five of them elsewhere");

    // A burst of ten for this window: a read now and one when due, not ten.
    let t0 = std::time::Instant::now();
    for i in 1..=10 {
        issue_ok(&mut kiosk, "social_insurance", &format!("s{i}")).await;
    }
    let elapsed_ms = t0.elapsed().as_millis() as u64;
    let burst = wait_until(&mut seen, "eleven waiting", |s| s.waiting_total == 11).await;
    let reads = burst.queue_reads - after.queue_reads;
    assert!(reads >= 1 && reads <= 2 + elapsed_ms / 300 && reads < 10, "{reads} reads for ten events in {elapsed_ms} ms");
    drop(tx);
    follower.abort();
    driver.abort();
    server.stop().await;
}

/// 三级协同 at the counter: one terminal logged in at the district (window
/// 1) and at the community station's remote window (2), keys going only to
/// the site on screen, the tabs showing each site's waiting count; from the
/// district's tab the current ticket goes to the street centre (跨区域通办),
/// which issues exactly one ticket for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_terminal_works_at_two_sites_and_sends_a_ticket_to_a_third() {
    use counter_terminal::core::{site_targets, Action, Input};
    use counter_terminal::sites::{spawn_site, Sites};
    use counter_terminal::terminal::State;
    use hall_server::config::{around_the_clock, profile};
    use hall_tests::Role;
    hall_tests::speak_as(Role::Counter);
    let open = |p: &str| around_the_clock(profile(p).unwrap());
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let street = TestServer::start(dirs[0].path(), open("street")).await;
    let community = TestServer::start(dirs[1].path(), open("community")).await;
    let mut cfg = open("district");
    let me = cfg.site.id.clone();
    let peer = |site: &str, name: &str, url: String| hall_server::engine::site::Peer {
        site: site.into(),
        name: name.into(),
        url,
        tls_dir: hall_tests::identity_dir(Role::Kiosk, &format!("peer-{me}")).display().to_string(),
    };
    cfg.peers = vec![
        peer("610102-street-1", "街道便民服务中心", street.url()),
        peer("610102-community-9", "某社区站", "https://127.0.0.1:9".into()),
    ];
    let district = TestServer::start(dirs[2].path(), cfg).await;
    let here = issue_ok(&mut district.kiosk().await, "social_insurance", "d1").await;
    let there = issue_ok(&mut community.kiosk().await, "pension", "c1").await;

    let (mut sites, inputs) = Sites::new(vec![district.url(), community.url()]);
    let (seen_tx, mut seen) = tokio::sync::watch::channel(vec![State::default(), State::default()]);
    let seen_tx = std::sync::Arc::new(seen_tx);
    for (i, (url, rx)) in sites.urls.clone().into_iter().zip(inputs).enumerate() {
        let tx = seen_tx.clone();
        spawn_site(i, url, sites.sender(i), rx, move |i, st| {
            let st = st.clone();
            tx.send_modify(|v| v[i] = st);
        });
    }
    async fn until_sites(seen: &mut tokio::sync::watch::Receiver<Vec<State>>, what: &str, f: impl Fn(&[State]) -> bool) -> Vec<State> {
        let wait = async {
            loop {
                if f(&seen.borrow_and_update()) {
                    return seen.borrow().clone();
                }
                seen.changed().await.unwrap();
            }
        };
        match tokio::time::timeout(std::time::Duration::from_secs(20), wait).await {
            Ok(v) => v,
            Err(_) => panic!("waiting for {what}: {:?}", seen.borrow().iter().map(|s| (&s.message, &s.login_error)).collect::<Vec<_>>()),
        }
    }
    until_sites(&mut seen, "both sites connected", |v| v.iter().all(|s| !s.hall_name.is_empty())).await;
    sites.send(Input::Login { window: 1, clerk: "c01".into(), pin: "1234".into() });
    assert!(sites.switch(1));
    sites.send(Input::Login { window: 2, clerk: "d-c12".into(), pin: "1234".into() });
    let v = until_sites(&mut seen, "a session at each site", |v| v.iter().all(|s| s.session.is_some() && s.queue.is_some())).await;
    for (i, st) in v.into_iter().enumerate() {
        sites.update(i, st);
    }
    let tabs = sites.tabs();
    assert_eq!(tabs[0].name, "区政务服务中心");
    assert_eq!(tabs[0].detail, "1号窗口 · 等候 1 人");
    assert!(!tabs[0].active && tabs[0].attention, "someone waits at the site not on screen: {tabs:?}");
    assert_eq!(tabs[1].name, "社区便民服务站");
    assert!(tabs[1].active && tabs[1].detail.ends_with("等候 1 人"), "{tabs:?}");

    // F1 on the community's tab calls there only.
    sites.send(Input::Action(Action::CallNext));
    let v = until_sites(&mut seen, "the call at the community", |v| v[1].queue.as_ref().is_some_and(|q| q.current.is_some())).await;
    assert_eq!(v[1].queue.as_ref().unwrap().current.as_ref().unwrap().number, there.number);
    let w = v[1].queue.as_ref().unwrap().window.clone().unwrap();
    assert!(w.remote && w.staffed_from == me, "{w:?}");
    assert!(v[0].queue.as_ref().unwrap().current.is_none(), "the district's window did not call");

    // Back on the district's tab: call, then send the ticket to the street centre.
    assert!(sites.switch(0));
    sites.send(Input::Action(Action::CallNext));
    until_sites(&mut seen, "the call at the district", |v| v[0].queue.as_ref().is_some_and(|q| q.current.is_some())).await;
    sites.send(Input::LoadPeers);
    let v = until_sites(&mut seen, "the other sites' categories", |v| v[0].peers.len() == 2).await;
    let peers = &v[0].peers;
    assert!(peers[0].reachable && peers[0].name == "街道便民服务中心", "{peers:?}");
    assert!(!peers[1].reachable && !peers[1].error.is_empty(), "{peers:?}");
    let targets = site_targets(&v[0]);
    let index = targets.iter().position(|(_, s, c)| s == "610102-street-1" && c == "pension").expect("the street's pension category");
    assert!(targets[index].0.starts_with("街道便民服务中心 · 养老保险待遇（pension）等候 0 人"), "{}", targets[index].0);
    sites.send(Input::SendToSite { index });
    let v = until_sites(&mut seen, "the ticket sent", |v| v[0].message.contains("已转至")).await;
    assert!(!v[0].message_is_error, "{}", v[0].message);
    assert!(v[0].message.starts_with(&format!("{} 已转至街道便民服务中心办理，对方号码 B", here.number)), "{}", v[0].message);
    assert!(v[0].queue.as_ref().unwrap().current.is_none(), "the ticket left the district's window");
    let street_pension = |c: &pb::Catalog| c.categories.iter().find(|c| c.code == "pension").map(|c| (c.issued_today, c.waiting));
    let c = street.kiosk().await.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner();
    assert_eq!(street_pension(&c), Some((1, 1)), "exactly one ticket at the street centre");
    assert!(v[1].queue.as_ref().unwrap().current.is_some(), "the community's window kept its ticket");
}
