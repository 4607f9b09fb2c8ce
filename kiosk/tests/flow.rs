//! The kiosk's controller against a real server on 127.0.0.1 and the printer
//! and ID-card reader simulators on pseudo-terminals: the number on the slip
//! is the number the server issued; a stopped printer stops issuing; a server
//! that restarts, or loses an answer, never gives a visitor two tickets.

use hall_hardware::escpos::{Paper, PaperLevel, PrinterStatus};
use hall_hardware::sim::{PrinterSim, PrinterSimConfig, ReaderSim, ReaderSimConfig, sample_cards};
use hall_proto::v1 as pb;
use hall_tests::{TestServer, always_open};
use kiosk::config::KioskConfig;
use kiosk::controller::Controller;
use kiosk::devices::{self, PrinterHandle, ReaderEvent};
use kiosk::flow::{Input, PrintState, Screen, Touch};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

struct Rig {
    ctl: Controller,
    printer: PrinterSim,
    reader: ReaderSim,
    cards: mpsc::UnboundedReceiver<ReaderEvent>,
    log: Arc<Mutex<Vec<String>>>,
}

fn rig(url: &str) -> Rig {
    hall_tests::speak_as(hall_tests::Role::Kiosk);
    let printer = PrinterSim::start(PrinterSimConfig { paper: Paper::Mm80, out_dir: None }).unwrap();
    let reader = ReaderSim::start(ReaderSimConfig::default()).unwrap();
    let cfg = KioskConfig { server: url.into(), kiosk_id: "kiosk-t".into(), ..Default::default() };
    let handle = PrinterHandle::open(&printer.path().display().to_string(), cfg.printer_line(), Paper::Mm80).unwrap();
    let (tx, cards) = mpsc::unbounded_channel();
    let today = || hall_client::time::HallZone::default().today(hall_client::time::now_ms());
    devices::spawn_reader(&reader.path().display().to_string(), cfg.reader_line(), today, move |ev| tx.send(ev).is_ok()).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let ctl = Controller::new(&cfg, handle, move |line: &str| l.lock().unwrap().push(line.to_string()), |_| {});
    Rig { ctl, printer, reader, cards, log }
}

impl Rig {
    /// Places sample card `i` and hands what the reader read to the kiosk.
    async fn place_card(&mut self, i: usize) {
        self.reader.place(sample_cards()[i].clone());
        let ev = tokio::time::timeout(Duration::from_secs(5), self.cards.recv()).await.expect("the reader reports the card").unwrap();
        let ReaderEvent::Card(v) = ev else { panic!("card read failed: {ev:?}") };
        self.ctl.handle(Input::Card(v)).await;
    }

    async fn tap(&mut self, t: Touch) {
        self.ctl.handle(Input::Touch(t)).await;
    }

    async fn take(&mut self, code: &str) {
        self.tap(Touch::Choose(code.into())).await;
        self.tap(Touch::TakeNumber).await;
    }

    fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn issued_today(server_url: &str) -> u32 {
    let ch = hall_tests::channel_as(server_url, hall_tests::Role::Admin).await;
    let mut admin = pb::admin_service_client::AdminServiceClient::new(ch);
    admin.get_day_report(pb::DayReportRequest {}).await.unwrap().into_inner().issued
}

/// Devices the staff are told about (day report and every counter's queue view).
async fn device_alerts(server_url: &str) -> Vec<(String, String)> {
    let ch = hall_tests::channel_as(server_url, hall_tests::Role::Admin).await;
    let mut admin = pb::admin_service_client::AdminServiceClient::new(ch);
    let r = admin.get_day_report(pb::DayReportRequest {}).await.unwrap().into_inner();
    r.device_alerts.into_iter().map(|d| (d.device_id, d.status)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_category_ticket_and_slip_carry_the_same_number() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), always_open()).await;
    let mut r = rig(&server.url());
    assert!(r.ctl.load_catalog().await);
    r.ctl.poll_printer().await;
    // Card first (王小明, born 1956: the green channel is offered), category second.
    r.place_card(0).await;
    r.take("social_insurance").await;
    assert_eq!(r.ctl.state.screen, Screen::Confirm);
    assert!(r.ctl.state.green_eligible(&r.ctl.settings));
    r.tap(Touch::Green(true)).await;
    r.tap(Touch::Confirm).await;
    assert_eq!(r.ctl.state.screen, Screen::Done, "{:?}", r.lines());
    let done = r.ctl.state.done.clone().unwrap();
    assert_eq!(done.printed, PrintState::Printed);
    assert_eq!(done.priority, "绿色通道");

    // What the server has under that number.
    let mut k = server.kiosk().await;
    let t = k.get_ticket_status(pb::GetTicketStatusRequest { number: done.number.clone(), service_date: String::new() }).await.unwrap().into_inner();
    assert_eq!(t.category, "social_insurance");
    assert_eq!(t.masked_name, "王*明");
    assert_eq!(t.priority, pb::PriorityClass::Elderly as i32);

    // What came out of the printer.
    let slips = r.printer.wait_slips(1, Duration::from_secs(5));
    assert_eq!(slips.len(), 1);
    let text = slips[0].lines().join("\n");
    assert!(text.contains(&done.number), "{text}");
    assert!(text.contains("王*明") && !text.contains("王小明") && !text.contains("110101195603010022"), "{text}");
    // The QR is the ticket's page, named by its holder's secret (128 bits,
    // hex), on the server's web face.
    let qr = slips[0].qr_payloads();
    let base = format!("{}/t/", server.web_url());
    assert_eq!(qr.len(), 1);
    let secret = qr[0].strip_prefix(base.as_str()).unwrap_or_else(|| panic!("{qr:?}"));
    assert!(secret.len() == 32 && secret.chars().all(|c| c.is_ascii_hexdigit()), "{qr:?}");
    assert!(slips[0].cut);
    let lines = r.lines();
    assert!(lines.iter().any(|l| l.starts_with(&format!("issued {} category=social_insurance", done.number))), "{lines:?}");
    assert!(lines.contains(&format!("printed {}", done.number)), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("王小明") || l.contains("110101195603010022")), "{lines:?}");

    // The same person cannot hold two active tickets of one category.
    r.tap(Touch::Home).await;
    r.place_card_again().await;
    r.take("social_insurance").await;
    r.tap(Touch::Confirm).await;
    assert_eq!(r.ctl.state.screen, Screen::Failed);
    assert!(r.ctl.state.message.contains(&done.number), "{}", r.ctl.state.message);
    assert_eq!(issued_today(&server.url()).await, 1);
    assert_eq!(r.printer.slips().len(), 1);
    server.stop().await;
}

impl Rig {
    async fn place_card_again(&mut self) {
        self.card_off().await;
        self.place_card(0).await;
    }

    /// Takes the card away and waits until the kiosk's reader has seen the
    /// empty slot (it reports a card once while it stays).
    async fn card_off(&mut self) {
        let polls = self.reader.frames().0;
        self.reader.remove();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        // Two frames: the one in flight may have seen the card still there.
        while self.reader.frames().0 < polls + 2 {
            assert!(std::time::Instant::now() < deadline, "the reader was not polled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_out_stops_issuing_and_tells_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), always_open()).await;
    let mut events = server.events().await;
    let mut r = rig(&server.url());
    assert!(r.ctl.load_catalog().await);
    r.ctl.poll_printer().await;
    r.take("medical_insurance").await;
    r.tap(Touch::SkipId).await;
    assert_eq!(r.ctl.state.screen, Screen::Confirm);

    // The paper runs out after the last poll: the fresh check before issuing catches it.
    r.printer.set_status(PrinterStatus { paper: PaperLevel::End, ..Default::default() });
    r.tap(Touch::Confirm).await;
    assert_eq!(r.ctl.state.screen, Screen::Confirm);
    assert_eq!(r.ctl.state.blocked(), Some("paper_out"));
    assert_eq!(issued_today(&server.url()).await, 0, "no ticket that cannot be printed");
    // While blocked nothing is issued, and the screen says where to go.
    r.tap(Touch::Confirm).await;
    assert_eq!(issued_today(&server.url()).await, 0);
    assert!(r.lines().contains(&"printer paper_out".to_string()), "{:?}", r.lines());

    // Staff see it: the report is in the server's event log.
    let mut stream = events.subscribe(pb::SubscribeRequest { from_seq: 1 }).await.unwrap().into_inner();
    let report = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(ev) = stream.message().await.unwrap() {
            if let Some(pb::event::Body::DeviceReported(d)) = ev.body {
                return d;
            }
        }
        panic!("stream ended")
    })
    .await
    .unwrap();
    assert_eq!((report.device_id.as_str(), report.kind.as_str(), report.status.as_str()), ("kiosk-t/printer", "printer", "paper_out"));
    let alerts = device_alerts(&server.url()).await;
    assert_eq!(alerts, vec![("kiosk-t/printer".to_string(), "paper_out".to_string())]);

    // Paper back in: the next poll clears the block and the visitor goes on.
    r.printer.set_status(PrinterStatus { paper: PaperLevel::NearEnd, ..Default::default() });
    r.ctl.poll_printer().await;
    assert_eq!(r.ctl.state.blocked(), None);
    r.tap(Touch::Confirm).await;
    assert_eq!(r.ctl.state.screen, Screen::Done);
    assert_eq!(issued_today(&server.url()).await, 1);
    assert!(r.lines().contains(&"printer paper_near_end".to_string()), "{:?}", r.lines());
    assert_eq!(device_alerts(&server.url()).await, vec![("kiosk-t/printer".to_string(), "paper_near_end".to_string())]);

    // Paper out during the print: the number stays on screen.
    r.tap(Touch::Home).await;
    r.take("medical_insurance").await;
    r.tap(Touch::SkipId).await;
    r.tap(Touch::Confirm).await;
    assert_eq!(r.ctl.state.screen, Screen::Done);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_request_gives_one_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), always_open()).await;
    let addr = server.addr;
    let mut r = rig(&server.url());
    assert!(r.ctl.load_catalog().await);
    r.ctl.poll_printer().await;
    r.take("tax_declaration").await;
    r.tap(Touch::SkipId).await;
    server.stop().await;

    // The visitor confirms while the server is down; it comes back 1.5 s later.
    let log = r.log.clone();
    let data = dir.path().to_path_buf();
    let restart = tokio::spawn(async move {
        for _ in 0..100 {
            if log.lock().unwrap().iter().any(|l| l.starts_with("retrying")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        TestServer::start_at(&data, always_open(), addr).await
    });
    r.tap(Touch::Confirm).await;
    let server = restart.await.unwrap();
    assert_eq!(r.ctl.state.screen, Screen::Done, "{:?} {:?}", r.lines(), r.ctl.state.message);
    assert!(r.lines().iter().any(|l| l.starts_with("retrying")), "{:?}", r.lines());
    assert_eq!(issued_today(&server.url()).await, 1);
    assert_eq!(r.printer.wait_slips(1, Duration::from_secs(5)).len(), 1);
    server.stop().await;
}

/// A TCP proxy whose connections can be made to swallow everything the
/// server sends: the request arrives and is committed, the answer is lost.
async fn lossy_proxy(target: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicU64>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Connections opened before this generation swallow the server's bytes.
    let swallow_before = Arc::new(AtomicU64::new(0));
    let gen_flag = swallow_before.clone();
    tokio::spawn(async move {
        let mut generation = 0u64;
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            generation += 1;
            let my_gen = generation;
            let flag = gen_flag.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else { return };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if my_gen < flag.load(Ordering::SeqCst) {
                        continue;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, swallow_before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_retried_with_the_same_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), always_open()).await;
    let (proxy, swallow) = lossy_proxy(server.addr).await;
    let mut r = rig(&format!("https://{proxy}"));
    assert!(r.ctl.load_catalog().await);
    r.ctl.poll_printer().await;
    r.take("tax_declaration").await;
    r.tap(Touch::SkipId).await;
    // From now on the kiosk's open connection (the first) loses every
    // answer; the connection it opens to retry works.
    swallow.store(2, std::sync::atomic::Ordering::SeqCst);
    r.tap(Touch::Confirm).await;
    assert_eq!(r.ctl.state.screen, Screen::Done, "{:?}", r.lines());
    assert!(r.lines().iter().any(|l| l.starts_with("retrying")), "the first answer was lost: {:?}", r.lines());
    assert_eq!(issued_today(&server.url()).await, 1, "the retry returned the first ticket, not a second");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointment_check_in_by_id_card() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), always_open()).await;
    let mut k = server.kiosk().await;
    let date = k.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner().service_date;
    // 李小红 (sample card 1) booked a pension appointment for today.
    k.book_appointment(pb::BookAppointmentRequest {
        request_id: "b1".into(),
        category: "pension".into(),
        identity: Some(pb::Identity { id_number: "610102199003071238".into(), name: "李小红".into(), birth_date: "1990-03-07".into() }),
        date,
        slot_start: "00:00".into(),
        slot_end: "23:59".into(),
    })
    .await
    .unwrap();
    let mut r = rig(&server.url());
    assert!(r.ctl.load_catalog().await);
    r.ctl.poll_printer().await;
    r.tap(Touch::CheckIn).await;
    assert_eq!(r.ctl.state.screen, Screen::CheckIn);
    r.place_card(1).await;
    assert_eq!(r.ctl.state.screen, Screen::Done, "{:?}", r.lines());
    let done = r.ctl.state.done.clone().unwrap();
    assert_eq!(done.priority, "预约");
    assert_eq!(done.category, "养老保险待遇");
    assert_eq!(r.printer.wait_slips(1, Duration::from_secs(5)).len(), 1);
    // Someone without an appointment is told so.
    r.tap(Touch::Home).await;
    r.tap(Touch::CheckIn).await;
    r.reader.remove();
    tokio::time::sleep(Duration::from_millis(400)).await;
    r.place_card(0).await;
    assert_eq!(r.ctl.state.screen, Screen::Failed);
    assert!(r.ctl.state.message.contains("没有查到您今天的预约"), "{}", r.ctl.state.message);
    server.stop().await;
}

/// The next input from the follower (5 s at most).
async fn next_input(rx: &mut mpsc::UnboundedReceiver<Input>) -> Input {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("an input from the follower").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_figures_follow_the_event_stream_without_rereading_the_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), always_open()).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    hall_tests::speak_as(hall_tests::Role::Kiosk);
    let follower = tokio::spawn(kiosk::controller::follow_catalog(server.url(), String::new(), tx));
    // The first catalogue comes at once.
    let mut catalog = loop {
        if let Input::Catalog(c) = next_input(&mut rx).await {
            break c;
        }
    };
    let item = |c: &kiosk::flow::CatalogView| c.item("medical_insurance").map(|x| (x.waiting, x.issued_today)).unwrap();
    assert_eq!(item(&catalog), (0, 0));
    // Another kiosk issues two tickets: each event's figures, no catalogue read.
    let mut k = server.kiosk().await;
    hall_tests::issue_ok(&mut k, "medical_insurance", "x1").await;
    hall_tests::issue_ok(&mut k, "medical_insurance", "x2").await;
    for _ in 0..2 {
        match next_input(&mut rx).await {
            Input::Figures(f) => catalog.apply(&f),
            other => panic!("figures expected, got {other:?}"),
        }
    }
    assert_eq!(item(&catalog), (2, 2));
    let wait_min = catalog.item("medical_insurance").unwrap().wait_min;
    assert!(wait_min > 0, "an estimate for two people waiting");
    // What the kiosk now shows is what a fresh catalogue says.
    let fresh = kiosk::flow::CatalogView::from_pb(&k.get_catalog(pb::GetCatalogRequest {}).await.unwrap().into_inner());
    assert_eq!((item(&fresh), fresh.item("medical_insurance").unwrap().wait_min), (item(&catalog), wait_min));
    // The catalogue itself changes: read again.
    let mut admin = server.admin().await;
    let doc = admin.get_config(pb::GetConfigRequest {}).await.unwrap().into_inner();
    let renamed = doc.toml.replacen("name_zh = \"医保参保缴费\"", "name_zh = \"医保参保缴费（新）\"", 1);
    assert_ne!(renamed, doc.toml, "the test renames medical insurance");
    admin.update_config(pb::ConfigDocument { toml: renamed }).await.unwrap();
    let reread = loop {
        match next_input(&mut rx).await {
            Input::Catalog(c) => break c,
            Input::Figures(_) | Input::Connected(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(reread.item("medical_insurance").unwrap().name_zh, "医保参保缴费（新）");
    assert_eq!(item(&reread), (2, 2));
    follower.abort();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_device_tokens_admits_only_provisioned_kiosks() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), always_open(), "127.0.0.1:0".parse().unwrap(), |o| {
        o.device_tokens = vec!["kiosk-1-secret".into()];
    })
    .await;
    // No token: refused with a reason staff can act on, shown on the screen.
    let mut r = rig(&server.url());
    assert!(!r.ctl.load_catalog().await);
    assert!(r.ctl.state.fault.contains("设备令牌无效"), "{}", r.ctl.state.fault);
    assert!(r.lines().iter().any(|l| l.starts_with("failed 本机未获授权")), "{:?}", r.lines());
    // The provisioned token: admitted, and a ticket is issued.
    let printer = PrinterSim::start(PrinterSimConfig { paper: Paper::Mm80, out_dir: None }).unwrap();
    let cfg = KioskConfig { server: server.url(), device_token: "kiosk-1-secret".into(), ..Default::default() };
    let handle = PrinterHandle::open(&printer.path().display().to_string(), cfg.printer_line(), Paper::Mm80).unwrap();
    let mut ctl = Controller::new(&cfg, handle, |_: &str| {}, |_| {});
    assert!(ctl.load_catalog().await);
    assert!(ctl.state.fault.is_empty());
    for t in [Touch::Choose("invoice".into()), Touch::TakeNumber, Touch::SkipId, Touch::Confirm] {
        ctl.handle(Input::Touch(t)).await;
    }
    assert_eq!(ctl.state.screen, Screen::Done, "{}", ctl.state.message);
    server.stop().await;
}
