//! The supervisor console in a real headless Chromium over the hall's TLS:
//! log in with a staff account, force-logout a stuck window, work a
//! follow-up through to closed, edit the configuration with an error and
//! then fix it, and export a report whose CSV and XLSX hold the page's
//! figures. Screenshots land in `target/screenshots/console-*.png`.

use hall_proto::v1 as pb;
use hall_tests::webdriver::Browser;
use hall_tests::*;
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

async fn set(b: &Browser, id: &str, value: &str) {
    let script = format!(
        "const e = document.getElementById({id:?}); e.value = {value:?}; e.dispatchEvent(new Event('input')); e.dispatchEvent(new Event('change')); return true;"
    );
    b.eval(&script).await;
}

async fn click(b: &Browser, id: &str) {
    b.eval(&format!(
        "document.getElementById({id:?}).click(); return true;"
    ))
    .await;
}

async fn text(b: &Browser, id: &str) -> String {
    b.eval(&format!(
        "return document.getElementById({id:?}).innerText;"
    ))
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}

async fn shot(b: &Browser, name: &str) {
    b.wait_for("return document.fonts.status === 'loaded'", WAIT)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), b.screenshot().await).unwrap();
}

async fn login(b: &Browser, account: &str, password: &str) {
    b.wait_for(
        "return !document.getElementById('login').classList.contains('hidden')",
        WAIT,
    )
    .await;
    set(b, "account", account).await;
    set(b, "password", password).await;
    click(b, "login-btn").await;
    b.wait_for(
        "return !document.getElementById('app').classList.contains('hidden')",
        WAIT,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_works_the_hall_from_the_console() {
    if !super::browser::chromium_or_skip("console") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Open around the clock, with one holiday for the month view (a date
    // this test never runs on: it is in the past).
    let mut cat = always_open();
    cat.calendar.holidays = vec!["2026-10-01".parse().unwrap()];
    let srv = TestServer::start(dir.path(), cat).await;
    // The hall so far: P1 served at window 3 and rated 1 on its pad (a
    // follow-up opens); P2 called at window 3, whose clerk then left.
    let mut kiosk = srv.kiosk().await;
    let mut counter = srv.counter().await;
    let p1 = issue_ok(&mut kiosk, "pension", "").await;
    let p2 = issue_ok(&mut kiosk, "pension", "").await;
    let s = login_counter(&mut counter).await;
    let ws = || pb::WindowRequest {
        session: Some(s.clone()),
    };
    counter.call_next(ws()).await.unwrap();
    counter.start_service(ws()).await.unwrap();
    counter
        .finish(pb::FinishRequest {
            session: Some(s.clone()),
            outcome: pb::FinishOutcome::Resolved as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    srv.pad(3)
        .await
        .rate(pb::PadRatingRequest {
            window: 3,
            number: p1.number.clone(),
            rating: 1,
            comment: "态度生硬".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        counter.call_next(ws()).await.unwrap().into_inner().number,
        p2.number
    );

    let browser = Browser::start(1600, 1000).await;
    let base = format!("https://{}", srv.web_addr);
    browser.goto(&format!("{base}/console")).await;
    // A wrong password is refused, the right one opens the console.
    set(&browser, "account", "s01").await;
    set(&browser, "password", "wrong-password").await;
    click(&browser, "login-btn").await;
    browser
        .wait_for(
            "return document.getElementById('login-msg').innerText.length > 0",
            WAIT,
        )
        .await;
    login(&browser, "s01", "demo-supervisor").await;

    // Windows: force-logout window 3 with a reason; its ticket goes back.
    browser
        .wait_for("return !!document.getElementById('force-3')", WAIT)
        .await;
    shot(&browser, "console-windows.png").await;
    set(&browser, "reason-3", "工作人员离岗未签退").await;
    click(&browser, "force-3").await;
    browser
        .wait_for("return !document.getElementById('force-3') && document.getElementById('msg').innerText.includes('强制签退')", WAIT)
        .await;
    let status = srv
        .kiosk()
        .await
        .get_ticket_status(pb::GetTicketStatusRequest {
            number: p2.number.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.state, pb::TicketState::Waiting as i32, "{status:?}");

    // Follow-ups: assign, a contact attempt, the fix, its rating, closed.
    browser
        .eval("document.querySelector('[data-tab=followups]').click(); return true;")
        .await;
    browser
        .wait_for("return !!document.getElementById('fu-1')", WAIT)
        .await;
    click(&browser, "fu-1").await;
    set(&browser, "fu-assign", "s01").await;
    click(&browser, "fu-assign-btn").await;
    browser
        .wait_for(
            "return document.getElementById('fu-assignee').innerText === 's01'",
            WAIT,
        )
        .await;
    browser
        .eval("document.getElementById('fu-reached').checked = true; return true;")
        .await;
    set(&browser, "fu-contact-note", "已电话回访，市民接受解释").await;
    click(&browser, "fu-contact-btn").await;
    browser
        .wait_for(
            "return document.getElementById('fu-contacts').innerText.includes('已电话回访')",
            WAIT,
        )
        .await;
    set(&browser, "fu-fix", "窗口人员服务规范培训").await;
    click(&browser, "fu-fix-btn").await;
    browser
        .wait_for(
            "return document.getElementById('fu-fix-text').innerText.includes('培训')",
            WAIT,
        )
        .await;
    set(&browser, "fu-fix-rating", "satisfied").await;
    click(&browser, "fu-fix-rating-btn").await;
    browser
        .wait_for(
            "return document.getElementById('fu-fix-rated').innerText === '满意'",
            WAIT,
        )
        .await;
    shot(&browser, "console-followups.png").await;
    set(&browser, "fu-resolution", "已回访并整改，市民满意").await;
    click(&browser, "fu-close-btn").await;
    browser
        .wait_for(
            "return document.getElementById('msg').innerText.includes('工单已办结')",
            WAIT,
        )
        .await;
    let fus = srv
        .admin()
        .await
        .list_follow_ups(pb::ListFollowUpsRequest {
            include_closed: true,
        })
        .await
        .unwrap()
        .into_inner();
    let f = &fus.items[0];
    assert!(f.closed, "{f:?}");
    assert_eq!(
        (f.assignee.as_str(), f.fix_rating.as_str(), f.contacts.len()),
        ("s01", "satisfied", 1)
    );
    assert_eq!(f.contacts[0].by, "s01", "acted in the account's name");

    // Devices: a hall without [ship] says so where the shipping backlog
    // would be (三级协同).
    browser
        .eval("document.querySelector('[data-tab=devices]').click(); return true;")
        .await;
    browser
        .wait_for(
            "return document.getElementById('s-stat').textContent.includes('未配置')",
            WAIT,
        )
        .await;

    // Reports: the page's table equals the CSV and the XLSX it exports.
    browser
        .eval("document.querySelector('[data-tab=reports]').click(); return true;")
        .await;
    browser
        .wait_for(
            "return document.querySelectorAll('#r-table tbody tr').length >= 2",
            WAIT,
        )
        .await;
    let page: Vec<Vec<String>> = serde_json::from_value(
        browser
            .eval("return [...document.querySelectorAll('#r-table tbody tr')].map(r => [...r.cells].map(c => c.innerText));")
            .await,
    )
    .unwrap();
    let csv = browser
        .eval("return fetch(document.getElementById('r-csv').href).then(r => r.text());")
        .await;
    let csv_rows: Vec<Vec<String>> = csv
        .as_str()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert_eq!(csv_rows, page, "the CSV holds the page's figures");
    let xlsx = browser
        .eval("return fetch(document.getElementById('r-xlsx').href).then(r => r.arrayBuffer()).then(b => { let s = ''; for (const x of new Uint8Array(b)) s += String.fromCharCode(x); return btoa(s); });")
        .await;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(xlsx.as_str().unwrap())
        .unwrap();
    assert_eq!(
        super::reports::read_xlsx(&bytes)[1..],
        page[..],
        "the XLSX holds the page's figures"
    );
    let total = page.last().unwrap();
    assert_eq!(
        (total[0].as_str(), total[2].as_str(), total[4].as_str()),
        ("total", "2", "1")
    );
    shot(&browser, "console-reports.png").await;

    // Tickets of the day and one ticket's history (why it was called).
    browser
        .eval("document.querySelector('[data-tab=tickets]').click(); return true;")
        .await;
    click(&browser, "t-search").await;
    browser
        .wait_for(
            "return document.querySelectorAll('#t-rows tr[data-no]').length === 2",
            WAIT,
        )
        .await;
    browser
        .eval("document.querySelector('#t-rows tr[data-no]').click(); return true;")
        .await;
    browser
        .wait_for(
            "return document.getElementById('h-rows').innerText.includes('按取号先后')",
            WAIT,
        )
        .await;

    // Configuration is the admin's: log out, log in as admin.
    click(&browser, "logout").await;
    login(&browser, "admin", "demo-admin-pw").await;
    browser
        .eval("document.querySelector('[data-tab=config]').click(); return true;")
        .await;
    browser
        .wait_for(
            "return document.getElementById('cfg-text').value.includes('[hall]')",
            WAIT,
        )
        .await;
    let toml = browser
        .eval("return document.getElementById('cfg-text').value;")
        .await;
    let toml = toml.as_str().unwrap().to_string();
    let tz_line = toml
        .lines()
        .position(|l| l.starts_with("timezone"))
        .unwrap()
        + 1;
    set(
        &browser,
        "cfg-text",
        &toml.replace(
            "timezone = \"Asia/Shanghai\"",
            "timezone = \"Mars/Olympus\"",
        ),
    )
    .await;
    click(&browser, "cfg-check").await;
    browser
        .wait_for(
            "return document.getElementById('cfg-problems').innerText.length > 0",
            WAIT,
        )
        .await;
    let problems = text(&browser, "cfg-problems").await;
    assert!(problems.contains(&format!("第 {tz_line} 行")), "{problems}");
    let marked = browser
        .eval("return [...document.querySelectorAll('#cfg-lines .bad')].map(e => e.innerText);")
        .await;
    assert_eq!(marked, Value::from(vec![tz_line.to_string()]));
    shot(&browser, "console-config.png").await;
    // Fixed, and one real change: the notice.
    let fixed = toml.replacen("notice = \"", "notice = \"今日新增跨区域通办专窗 · ", 1);
    set(&browser, "cfg-text", &fixed).await;
    click(&browser, "cfg-apply").await;
    browser
        .wait_for(
            "return document.getElementById('cfg-msg').innerText === '配置已应用'",
            WAIT,
        )
        .await;
    assert!(
        text(&browser, "cfg-diff")
            .await
            .contains("+notice = \"今日新增跨区域通办专窗")
    );
    let catalog = srv
        .admin()
        .await
        .get_catalog(pb::GetConfigRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        catalog.notice.starts_with("今日新增跨区域通办专窗"),
        "{}",
        catalog.notice
    );

    // The calendar as a month view.
    browser
        .eval("document.querySelector('[data-tab=calendar]').click(); return true;")
        .await;
    set(&browser, "cal-month", "2026-10").await;
    click(&browser, "cal-show").await;
    browser
        .wait_for("return !!document.getElementById('day-2026-10-01')", WAIT)
        .await;
    assert_eq!(
        browser
            .eval("return document.getElementById('day-2026-10-01').className;")
            .await,
        Value::from("holiday")
    );
    shot(&browser, "console-calendar.png").await;
    browser.quit().await;
    srv.stop().await;
}

async fn login_counter(
    c: &mut pb::counter_service_client::CounterServiceClient<tonic::transport::Channel>,
) -> pb::Session {
    hall_tests::login(c, 3, "c03").await
}
