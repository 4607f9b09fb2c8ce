//! The web pages in a real headless Chromium (Debian's `chromium` and
//! `chromedriver`, driven over WebDriver): the data screen follows the hall
//! within a second and rides out a server restart; the visitor's ticket
//! page shows the window when its ticket is called; a wrong secret shows a
//! plain "not found". Screenshots land in `target/screenshots/` (the ones
//! in `docs/images` are copies).

use hall_proto::client::connect_tls;
use hall_proto::v1 as pb;
use hall_tests::webdriver::{self, Browser};
use hall_tests::*;
use std::time::Duration;

/// A screenshot once the page's fonts have loaded.
pub(crate) async fn screenshot(browser: &Browser, name: &str) {
    browser
        .wait_for(
            "return document.fonts.status === 'loaded'",
            Duration::from_secs(10),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    save(name, &browser.screenshot().await);
}

fn save(name: &str, png: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

pub(crate) fn chromium_or_skip(test: &str) -> bool {
    if webdriver::available() {
        return true;
    }
    // The CI machine installs Chromium (.ci/run through hall.sh); a
    // developer machine without it says so instead of failing.
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: chromium and chromedriver are required in CI"
    );
    eprintln!("{test}: skipped, chromium/chromedriver not installed (./hall.sh installs them)");
    false
}

/// The screen of a demo hall (no client certificates: a browser shows
/// none): a ticket issued over gRPC shows within a second, a call turns
/// its window's tile, and a restart of the server is ridden out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_follows_the_hall_within_a_second_and_rides_out_a_restart() {
    if !chromium_or_skip("screen") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = |o: &mut hall_server::Options| o.insecure_demo = true;
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let srv = TestServer::start_on(dir.path(), always_open(), any, any, demo).await;
    let (addr, web_addr) = (srv.addr, srv.web_addr);
    let grpc = || async move {
        connect_tls(
            &format!("http://{addr}"),
            None,
            20,
            Duration::from_millis(100),
        )
        .await
        .unwrap()
    };
    let browser = Browser::start(1920, 1080).await;
    browser.goto(&format!("http://{web_addr}/screen")).await;
    browser
        .wait_for(
            "return document.body.dataset.connected === 'yes' && !!document.body.dataset.seq",
            Duration::from_secs(10),
        )
        .await;
    // A ticket issued over gRPC: on screen within a second.
    let mut k = pb::kiosk_service_client::KioskServiceClient::new(grpc().await);
    issue_ok(&mut k, "social_insurance", "").await;
    let took = browser
        .wait_for(
            "return document.getElementById('k-issued').textContent === '1'",
            Duration::from_secs(1),
        )
        .await;
    eprintln!("screen: ticket shown {took:?} after it was issued");
    // A call: window 1's tile says so within a second.
    let mut c = pb::counter_service_client::CounterServiceClient::new(grpc().await);
    let s = login(&mut c, 1, "c01").await;
    c.call_next(pb::WindowRequest { session: Some(s) })
        .await
        .unwrap();
    browser
        .wait_for(
            "const t = document.querySelector('[data-window=\"1\"]'); return !!t && t.dataset.state === 'calling' && t.textContent.includes('A001')",
            Duration::from_secs(1),
        )
        .await;
    for i in 0..6 {
        issue_ok(
            &mut k,
            ["pension", "medical_insurance", "social_insurance"][i % 3],
            "",
        )
        .await;
    }
    browser
        .wait_for(
            "return document.getElementById('k-issued').textContent === '7'",
            Duration::from_secs(2),
        )
        .await;
    screenshot(&browser, "screen.png").await;

    // The server stops: the screen says so; it comes back: the screen
    // reconnects by itself and shows what happened meanwhile.
    srv.stop().await;
    browser
        .wait_for(
            "return document.body.dataset.connected === 'no' && getComputedStyle(document.getElementById('banner')).display !== 'none'",
            Duration::from_secs(10),
        )
        .await;
    let srv = TestServer::start_on(dir.path(), always_open(), addr, web_addr, demo).await;
    let mut k = pb::kiosk_service_client::KioskServiceClient::new(grpc().await);
    issue_ok(&mut k, "pension", "").await;
    browser
        .wait_for(
            "return document.body.dataset.connected === 'yes' && document.getElementById('k-issued').textContent === '8'",
            Duration::from_secs(15),
        )
        .await;
    browser.quit().await;
    srv.stop().await;
}

/// The visitor's page behind the slip's QR, over real TLS, at a phone's
/// size: the number and state, then "请到 1 号窗口" when it is called; a
/// wrong secret shows a plain "not found" and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ticket_page_shows_the_window_when_called_and_nothing_for_a_wrong_secret() {
    if !chromium_or_skip("ticket page") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut k = srv.kiosk().await;
    let t = issue_ok(&mut k, "social_insurance", "").await;
    let browser = Browser::start(390, 844).await;
    browser.goto(&t.status_url).await;
    browser
        .wait_for(
            &format!(
                "return document.getElementById('number').textContent === '{}' && document.getElementById('status').textContent === '排队中'",
                t.number
            ),
            Duration::from_secs(10),
        )
        .await;
    let mut c0 = srv.counter().await;
    let s0 = login(&mut c0, 1, "c01").await;
    c0.call_next(pb::WindowRequest {
        session: Some(s0.clone()),
    })
    .await
    .unwrap();
    let took = browser
        .wait_for(
            "const c = document.getElementById('call'); return c.style.display === 'block' && c.textContent.includes('请到 1 号窗口')",
            Duration::from_secs(2),
        )
        .await;
    eprintln!("ticket page: call shown {took:?} after it was made");
    screenshot(&browser, "ticket.png").await;
    // Served: the page asks for a rating (好差评) and thanks for it.
    c0.start_service(pb::WindowRequest {
        session: Some(s0.clone()),
    })
    .await
    .unwrap();
    c0.finish(pb::FinishRequest {
        session: Some(s0),
        outcome: pb::FinishOutcome::Resolved as i32,
        unresolved_reason: String::new(),
        ..Default::default()
    })
    .await
    .unwrap();
    browser
        .wait_for(
            "return document.getElementById('rate-card').style.display === 'block'",
            Duration::from_secs(3),
        )
        .await;
    browser
        .eval("document.querySelector('[data-level=\"4\"]').click(); document.getElementById('send').click(); return true")
        .await;
    browser
        .wait_for(
            "return document.getElementById('thanks').style.display === 'block' && document.getElementById('rate-card').style.display === 'none'",
            Duration::from_secs(3),
        )
        .await;
    // A wrong secret: a plain page that says only that.
    browser
        .goto(&format!(
            "{}/t/0123456789abcdef0123456789abcdef",
            srv.web_url()
        ))
        .await;
    let text = browser.eval("return document.body.innerText").await;
    let text = text.as_str().unwrap();
    assert!(text.contains("未找到此号"), "{text}");
    assert!(!text.contains(&t.number), "{text}");
    browser.quit().await;
    srv.stop().await;
}

/// Over real TLS a browser has no client certificate: the screen asks for
/// a pairing code, works once paired, and asks again once the screen's
/// device is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_pairs_with_a_code_and_asks_again_when_revoked() {
    if !chromium_or_skip("screen pairing") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let browser = Browser::start(1280, 800).await;
    browser.goto(&format!("{}/screen", srv.web_url())).await;
    browser
        .wait_for(
            "return document.body.dataset.paired === 'no' && getComputedStyle(document.getElementById('pairing')).display !== 'none'",
            Duration::from_secs(10),
        )
        .await;
    let code = hall_server::pki::enroll(dir.path(), Role::Board, "screen-2").unwrap();
    browser
        .eval(&format!(
            "document.getElementById('pair-code').value = '{code}'; document.getElementById('pair-go').click(); return true"
        ))
        .await;
    browser
        .wait_for(
            "return document.body.dataset.connected === 'yes' && !!document.body.dataset.seq && document.body.dataset.paired !== 'no'",
            Duration::from_secs(10),
        )
        .await;
    let mut k = srv.kiosk().await;
    issue_ok(&mut k, "pension", "").await;
    browser
        .wait_for(
            "return document.getElementById('k-issued').textContent === '1'",
            Duration::from_secs(2),
        )
        .await;
    hall_server::pki::revoke(dir.path(), "screen-2").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    issue_ok(&mut k, "pension", "").await;
    browser
        .wait_for(
            "return document.body.dataset.paired === 'no'",
            Duration::from_secs(5),
        )
        .await;
    browser.quit().await;
    srv.stop().await;
}

/// 掌上办 on a phone: `/book` until the slot is full (a second phone sees
/// it go, and come back when cancelled), the booking's QR checked in at a
/// kiosk, and `/remote`: a number taken remotely that becomes callable when
/// its holder checks in from the ticket page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_books_until_full_cancels_and_takes_a_remote_number() {
    use crate::notify::{Received, SECRET, code_for, receiver};
    use std::sync::{Arc, Mutex};
    if !chromium_or_skip("phone pages") {
        return;
    }
    let state = Arc::new(Mutex::new(Received::default()));
    let (port, cert_pem) = receiver(state.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("receiver.pem");
    std::fs::write(&ca_file, &cert_pem).unwrap();
    let mut catalog = always_open();
    catalog.hall.checkin_networks = vec!["127.0.0.0/8".into()];
    // Noon in the hall whenever this runs: today has slots left.
    catalog.hall.timezone = midday_zone();
    catalog.notify.webhooks = vec![hall_server::engine::notify::Webhook {
        name: "sms".into(),
        url: format!("https://127.0.0.1:{port}/hook"),
        secret: SECRET.into(),
        ca_file: ca_file.display().to_string(),
        ..Default::default()
    }];
    let cat = catalog
        .categories
        .iter_mut()
        .find(|c| c.code == "social_insurance")
        .unwrap();
    cat.booking = Some(hall_server::engine::catalog::Booking {
        slot_minutes: 30,
        capacity: 1,
        horizon_days: 3,
        cutoff_minutes: 0,
    });
    cat.remote = Some(hall_server::engine::catalog::RemoteTickets {
        share_pct: 50,
        grace_minutes: 10,
    });
    let srv = TestServer::start(dir.path(), catalog).await;
    let web = srv.web_url();

    let a = Browser::start(390, 844).await;
    let b = Browser::start(390, 844).await;
    for br in [&a, &b] {
        br.goto(&format!("{web}/book")).await;
        br.wait_for(
            "return document.querySelectorAll('#days button').length === 4",
            Duration::from_secs(10),
        )
        .await;
        // Tomorrow: every slot of the day is still ahead.
        br.eval("document.querySelectorAll('#days button')[1].click(); return true")
            .await;
        br.wait_for(
            "return !!document.querySelector('#slots [data-slot=\"00:00\"]')",
            Duration::from_secs(5),
        )
        .await;
    }
    // A confirms the phone and the ID number, then books 00:00.
    a.eval("document.getElementById('phone').value = '139 0013 9011'; document.getElementById('get-code').click(); return true")
        .await;
    a.wait_for(
        "return document.getElementById('who-msg').textContent.includes('139****9011')",
        Duration::from_secs(10),
    )
    .await;
    let code = code_for(&state, "13900139011");
    a.eval(&format!(
        "document.getElementById('code').value = '{code}'; document.getElementById('id-number').value = '110101199001011237'; document.getElementById('name').value = '张三丰'; document.getElementById('verify').click(); return true"
    ))
    .await;
    a.wait_for(
        "return document.getElementById('verified').textContent.includes('张*丰')",
        Duration::from_secs(5),
    )
    .await;
    a.eval("document.querySelector('#slots [data-slot=\"00:00\"]').click(); document.getElementById('book').click(); return true")
        .await;
    a.wait_for(
        "const q = document.getElementById('qr'); return document.getElementById('confirm').style.display === 'block' && q.complete && q.naturalWidth > 0",
        Duration::from_secs(5),
    )
    .await;
    screenshot(&a, "book.png").await;
    // Full: the slot disappears from the other phone's page by itself.
    let took = b
        .wait_for(
            "return !document.querySelector('#slots [data-slot=\"00:00\"]') && !!document.querySelector('#slots [data-slot=\"00:30\"]')",
            Duration::from_secs(8),
        )
        .await;
    eprintln!("phone pages: the full slot left the other page after {took:?}");
    // Cancelled: it comes back.
    a.wait_for(
        "return !!document.querySelector('#mine .cancel')",
        Duration::from_secs(5),
    )
    .await;
    a.eval("document.querySelector('#mine .cancel').click(); return true")
        .await;
    a.wait_for(
        "return document.getElementById('mine').textContent.includes('已取消')",
        Duration::from_secs(5),
    )
    .await;
    b.wait_for(
        "return !!document.querySelector('#slots [data-slot=\"00:00\"]')",
        Duration::from_secs(8),
    )
    .await;

    // Today's next slot, checked in at a kiosk with the booking's QR: the
    // ticket it issues is an appointment's, called first.
    a.eval("document.querySelectorAll('#days button')[0].click(); return true")
        .await;
    a.wait_for(
        "return document.querySelectorAll('#slots button').length > 0",
        Duration::from_secs(5),
    )
    .await;
    let before = a
        .eval("return document.getElementById('qr').getAttribute('src')")
        .await;
    a.eval("document.querySelector('#slots button').click(); document.getElementById('book').click(); return true")
        .await;
    a.wait_for(
        &format!("return document.getElementById('qr').getAttribute('src') !== {before}"),
        Duration::from_secs(5),
    )
    .await;
    let src = a
        .eval("return document.getElementById('qr').getAttribute('src')")
        .await;
    let secret = src.as_str().unwrap().split('/').nth(2).unwrap().to_string();
    let mut k = srv.kiosk().await;
    let t = k
        .check_in_appointment(pb::CheckInAppointmentRequest {
            request_id: "qr-browser".into(),
            qr: format!("{web}/b/{secret}"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.channel, pb::Channel::Appointment as i32);
    a.eval("location.reload(); return true").await;
    a.wait_for(
        "return document.getElementById('mine').textContent.includes('已签到')",
        Duration::from_secs(8),
    )
    .await;
    let mut c = srv.counter().await;
    let s = login(&mut c, 2, "c02").await;
    let called = c
        .call_next(pb::WindowRequest {
            session: Some(s.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(called.number, t.number);

    // A remote number: not called until its holder checks in on the page.
    a.goto(&format!("{web}/remote")).await;
    a.wait_for(
        "return document.getElementById('category').options.length === 1",
        Duration::from_secs(10),
    )
    .await;
    a.eval("document.getElementById('phone').value = '13900139012'; document.getElementById('get-code').click(); return true")
        .await;
    a.wait_for(
        "return document.getElementById('msg').textContent.includes('139****9012')",
        Duration::from_secs(10),
    )
    .await;
    let code = code_for(&state, "13900139012");
    a.eval(&format!(
        "document.getElementById('code').value = '{code}'; document.getElementById('take').click(); return true"
    ))
    .await;
    a.wait_for(
        "return location.pathname.startsWith('/t/') && !!document.getElementById('arrive-card') && document.getElementById('arrive-card').style.display === 'block'",
        Duration::from_secs(10),
    )
    .await;
    screenshot(&a, "remote-ticket.png").await;
    let number = a
        .eval("return document.getElementById('number').textContent")
        .await;
    let number = number.as_str().unwrap().to_string();
    let mut c = srv.counter().await;
    let s = login(&mut c, 1, "c01").await;
    let ws = || pb::WindowRequest {
        session: Some(s.clone()),
    };
    let e = c.call_next(ws()).await.unwrap_err();
    assert_eq!(
        e.code(),
        tonic::Code::NotFound,
        "not callable before check-in"
    );
    a.eval("document.getElementById('arrive').click(); return true")
        .await;
    a.wait_for(
        "return document.getElementById('arrive-card').style.display === 'none'",
        Duration::from_secs(5),
    )
    .await;
    let called = c.call_next(ws()).await.unwrap().into_inner();
    assert_eq!(called.number, number);
    a.wait_for(
        "const c = document.getElementById('call'); return c.style.display === 'block' && c.textContent.includes('请到 1 号窗口')",
        Duration::from_secs(3),
    )
    .await;
    a.quit().await;
    b.quit().await;
    srv.stop().await;
}
