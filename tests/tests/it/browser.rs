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
async fn screenshot(browser: &Browser, name: &str) {
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
