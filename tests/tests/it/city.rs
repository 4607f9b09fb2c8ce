//! 三级协同 over real processes: three `hall-server` sites (the built-in
//! district, street and community profiles) shipping to a real PostgreSQL
//! started by the test (`hall_tests::pg`), and `hall-city` reading it.
//!
//! Under load the database is stopped for 10 s and one site is killed with
//! SIGKILL and started again; afterwards every event of every site is in
//! PostgreSQL exactly once, and the city's report equals the sum of the
//! sites' own reports.

use hall_proto::v1 as pb;
use hall_tests::pg::Postgres;
use hall_tests::*;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROFILES: [&str; 3] = ["district", "street", "community"];
/// Categories every profile has.
const SHARED: [&str; 3] = ["social_insurance", "medical_insurance", "pension"];

/// One site process and what it needs to be started again.
struct Site {
    profile: &'static str,
    data: PathBuf,
    config: PathBuf,
    child: std::process::Child,
    url: String,
}

impl Site {
    fn start(profile: &'static str, root: &Path, pg: &Postgres) -> Site {
        let data = root.join(profile);
        let config = root.join(format!("{profile}.toml"));
        let text = hall_server::config::profile_text(profile).unwrap();
        std::fs::write(
            &config,
            format!(
                "{text}\n[ship]\nurl = \"{}\"\naggregate_every_s = 1\nbatch = 500\n",
                pg.url()
            ),
        )
        .unwrap();
        let (child, url) = spawn_server_process(&data, &config, "none", &["--always-open"]);
        Site {
            profile,
            data,
            config,
            child,
            url,
        }
    }

    fn restart(&mut self) {
        let (child, url) =
            spawn_server_process(&self.data, &self.config, "none", &["--always-open"]);
        self.child = child;
        self.url = url;
    }

    fn id(&self) -> String {
        hall_server::config::profile(self.profile).unwrap().site.id
    }

    async fn status(&self) -> pb::ServerStatus {
        let ch = channel_as(&self.url, Role::Admin).await;
        pb::admin_service_client::AdminServiceClient::new(ch)
            .get_server_status(pb::ServerStatusRequest {})
            .await
            .unwrap()
            .into_inner()
    }

    /// The health service's word on shipping (`hall.v1.Shipping`).
    async fn ship_health(&self) -> i32 {
        let ch = channel_as(&self.url, Role::Kiosk).await;
        tonic_health::pb::health_client::HealthClient::new(ch)
            .check(tonic_health::pb::HealthCheckRequest {
                service: hall_server::SHIP_HEALTH.into(),
            })
            .await
            .map_or(-1, |r| r.into_inner().status)
    }

    async fn report(&self, day: &str) -> pb::Report {
        let ch = channel_as(&self.url, Role::Admin).await;
        pb::report_service_client::ReportServiceClient::new(ch)
            .get_report(pb::ReportRequest {
                from: day.into(),
                to: day.into(),
                by: "category".into(),
            })
            .await
            .unwrap()
            .into_inner()
    }
}

/// Issues and serves tickets at a site for `ops` rounds; stops quietly at
/// the first error (the site was killed under it). Returns the rounds done.
async fn load(url: String, ops: usize, window: u32, clerk: &'static str) -> usize {
    let Ok(ch) = tokio::time::timeout(Duration::from_secs(10), channel_as(&url, Role::Kiosk)).await
    else {
        return 0;
    };
    let mut kiosk = pb::kiosk_service_client::KioskServiceClient::new(ch);
    let mut counter = pb::counter_service_client::CounterServiceClient::new(
        channel_as(&url, Role::Counter).await,
    );
    let Ok(s) = counter
        .login(pb::LoginRequest {
            window,
            clerk_id: clerk.into(),
            pin: "1234".into(),
        })
        .await
    else {
        return 0;
    };
    let s = s.into_inner().session.unwrap();
    let ws = || pb::WindowRequest {
        session: Some(s.clone()),
    };
    for i in 0..ops {
        match kiosk.issue_ticket(issue(SHARED[i % 3], "")).await {
            Ok(_) => {}
            // The category's daily quota is used up (the street centre's
            // pension takes 60, and how many the load before a kill issued
            // depends on timing): the site working, not failing.
            Err(e) if e.code() == tonic::Code::ResourceExhausted => continue,
            Err(_) => return i,
        }
        if i % 2 == 1 {
            match counter.call_next(ws()).await {
                Ok(_) => {}
                // Nothing this window serves is waiting (another window
                // took it): not a failure of the site.
                Err(e) if e.code() == tonic::Code::NotFound => continue,
                Err(_) => return i,
            }
            let _ = counter.start_service(ws()).await;
            let finished = counter
                .finish(pb::FinishRequest {
                    session: Some(s.clone()),
                    outcome: pb::FinishOutcome::Resolved as i32,
                    ..Default::default()
                })
                .await;
            if finished.is_err() {
                return i;
            }
        }
    }
    ops
}

/// The service date at the sites (Asia/Shanghai).
fn today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_sites_ship_every_event_once_through_an_outage_and_a_kill_9() {
    let pg = Postgres::start();
    let root = tempfile::tempdir().unwrap();
    let mut sites: Vec<Site> = PROFILES
        .iter()
        .map(|p| Site::start(p, root.path(), &pg))
        .collect();

    // Load at every site while the database goes away for 10 s.
    let loads: Vec<_> = sites
        .iter()
        .map(|s| tokio::spawn(load(s.url.clone(), 60, 1, "c01")))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    pg.stop();
    let down_at = Instant::now();
    // The sites keep serving with the database down: a ticket is issued
    // and the backlog grows (shipping never blocks the writer).
    let mut kiosk = pb::kiosk_service_client::KioskServiceClient::new(
        channel_as(&sites[0].url, Role::Kiosk).await,
    );
    issue_ok(&mut kiosk, "pension", "").await;
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let st = sites[0].status().await.shipping.unwrap();
        assert!(st.configured);
        let not_serving = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
        if !st.connected && st.backlog > 0 && sites[0].ship_health().await == not_serving {
            assert!(!st.last_error.is_empty());
            assert_eq!(st.url, pg.url(), "the URL, without any password");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backlog never showed: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(down_at.elapsed())).await;
    pg.start_again();
    for l in loads {
        assert_eq!(
            l.await.unwrap(),
            60,
            "a site refused work during the outage"
        );
    }

    // The street centre is killed (SIGKILL) under load and started again.
    let street = tokio::spawn(load(sites[1].url.clone(), 400, 2, "c02"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    sites[1].child.kill().unwrap();
    sites[1].child.wait().unwrap();
    let done_before_kill = street.await.unwrap();
    assert!(done_before_kill < 400, "the kill came too late to matter");
    sites[1].restart();
    // Window 4 serves medical_insurance (among others) at the street centre.
    assert_eq!(load(sites[1].url.clone(), 20, 4, "c04").await, 20);

    // Everything arrives exactly once.
    let mut client = hall_pg::connect(&pg.url(), None).await.unwrap();
    hall_pg::migrate::migrate(&mut client).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let committed = loop {
        let mut all = true;
        let mut committed = Vec::new();
        for s in &sites {
            let st = s.status().await;
            let ship = st.shipping.unwrap();
            all &= ship.connected && ship.backlog == 0 && ship.shipped_seq == st.committed_seq;
            committed.push(st.committed_seq as i64);
        }
        if all {
            break committed;
        }
        assert!(Instant::now() < deadline, "shipping never caught up");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    for s in &sites {
        let deadline = Instant::now() + Duration::from_secs(5);
        while s.ship_health().await != serving {
            assert!(
                Instant::now() < deadline,
                "{}: shipping health never SERVING",
                s.profile
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let counts = hall_pg::city::event_counts(&client).await.unwrap();
    for (s, committed) in sites.iter().zip(&committed) {
        let c = counts
            .iter()
            .find(|c| c.site == s.id())
            .unwrap_or_else(|| panic!("nothing of {} in PostgreSQL", s.id()));
        assert_eq!(
            (c.rows, c.distinct_seqs, c.min_seq, c.max_seq),
            (*committed, *committed, 1, *committed),
            "{}: every event exactly once",
            s.profile
        );
    }
    // No personal data left the sites: no masked name, person key or phone.
    let leaked: i64 = client
        .query_one(
            "select count(*) from events where body::text ~ '\"(person|phone)\":\\s*(\\{|\"[^\"])'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0, "personal data in the shipped events");

    // The city's report of today equals the sum of the sites' own.
    let day = today();
    let date = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (city, own) = loop {
        let city = hall_pg::city::report(
            &client,
            date,
            date,
            hall_pg::city::By::Dim(hall_server::engine::report::Dimension::Category),
            &[],
        )
        .await
        .unwrap();
        let mut own = Vec::new();
        for s in &sites {
            own.push(s.report(&day).await.total.unwrap());
        }
        let sum = |f: fn(&pb::ReportRow) -> u32| own.iter().map(f).sum::<u32>();
        let t = &city.total;
        if (t.arrived, t.served, t.called, t.expired)
            == (
                sum(|r| r.arrived),
                sum(|r| r.served),
                sum(|r| r.called),
                sum(|r| r.expired),
            )
        {
            break (city, own);
        }
        assert!(
            Instant::now() < deadline,
            "the city's report never matched: {t:?} vs {own:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let t = &city.total;
    assert!(t.arrived >= 3 * 60 + 20, "{t:?}");
    let sum_u = |f: fn(&pb::ReportRow) -> u32| own.iter().map(f).sum::<u32>();
    assert_eq!(t.unresolved, sum_u(|r| r.unresolved));
    assert_eq!(t.no_show, sum_u(|r| r.no_show));
    assert_eq!(t.moved_in, sum_u(|r| r.moved_in));
    assert_eq!(
        t.max_wait_s,
        own.iter().map(|r| r.max_wait_s).max().unwrap()
    );
    let waited: f64 = own
        .iter()
        .map(|r| r.mean_wait_s * f64::from(r.called))
        .sum();
    assert!(
        (t.mean_wait_s * f64::from(t.called) - waited).abs() < 1.0,
        "the city's mean wait is the sites' mean weighted by calls"
    );

    // hall-city serves the same over HTTPS, to a logged-in supervisor only.
    let city_dir = root.path().join("city");
    // The city's staff: the built-in hall's accounts (a hall configuration
    // works as the staff file; only [[staff]] is read).
    let staff = root.path().join("staff.toml");
    std::fs::write(&staff, hall_server::config::BUILTIN_HALL).unwrap();
    let mut city_proc = std::process::Command::new(workspace_bin("hall-city"))
        .args(["--pg", &pg.url(), "--http", "127.0.0.1:0", "--config"])
        .arg(&staff)
        .arg("--data")
        .arg(&city_dir)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting hall-city");
    let addr = ready_addr(&mut city_proc);
    let ca = std::fs::read_to_string(city_dir.join("tls/ca.pem")).unwrap();
    let (status, _) = city_get(&addr, &ca, "/api/v1/city/sites", None).await;
    assert_eq!(status, 401, "the city is not open to anyone");
    let (status, login) = city_send(
        &addr,
        &ca,
        "POST",
        "/city/login",
        r#"{"account":"s01","password":"demo-supervisor"}"#,
        None,
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let token = login["token"].as_str().unwrap().to_string();
    let (status, screen) = city_get(&addr, &ca, "/api/v1/city/sites", Some(&token)).await;
    assert_eq!(status, 200, "{screen}");
    let listed: Vec<&str> = screen["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["level"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["district", "street", "community"]);
    for s in screen["sites"].as_array().unwrap() {
        assert_eq!(s["offline"], false, "{s}");
        assert!(s["live"]["issued"].as_u64().is_some(), "{s}");
    }
    let (status, by_site) = city_get(
        &addr,
        &ca,
        &format!("/api/v1/reports?from={day}&to={day}&by=site"),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "{by_site}");
    let rows = by_site["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for (s, own) in sites.iter().zip(&own) {
        let row = rows.iter().find(|r| r["key"] == s.id()).unwrap();
        assert_eq!(
            row["arrived"].as_u64().unwrap_or(0),
            u64::from(own.arrived),
            "{row}"
        );
        assert_eq!(
            row["served"].as_u64().unwrap_or(0),
            u64::from(own.served),
            "{row}"
        );
    }
    assert_eq!(
        by_site["total"]["arrived"].as_u64().unwrap(),
        u64::from(t.arrived)
    );
    let (status, _) = city_get(
        &addr,
        &ca,
        &format!("/api/v1/reports?from={day}&to=2001-01-01"),
        Some(&token),
    )
    .await;
    assert_eq!(status, 400, "a range that ends before it starts");

    // The city screen in a real headless Chromium: the login, then the three
    // sites under each other and the report by site.
    if super::browser::chromium_or_skip("city screen") {
        let browser = hall_tests::webdriver::Browser::start(1440, 900).await;
        browser.goto(&format!("https://{addr}/city")).await;
        browser
            .wait_for(
                "return !document.getElementById('login').classList.contains('hidden')",
                Duration::from_secs(10),
            )
            .await;
        browser
            .eval(
                "document.getElementById('account').value = 's01';
                 document.getElementById('password').value = 'demo-supervisor';
                 document.getElementById('loginBtn').click(); return true;",
            )
            .await;
        browser
            .wait_for(
                "return document.querySelectorAll('#sites tbody tr').length === 3
                    && document.querySelectorAll('#report tbody tr').length === 4",
                Duration::from_secs(15),
            )
            .await;
        let levels = browser
            .eval("return [...document.querySelectorAll('#sites tbody tr')].map(r => r.className)")
            .await;
        assert_eq!(
            levels,
            serde_json::json!(["level-district", "level-street", "level-community"])
        );
        let online = browser
            .eval("return document.getElementById('t-sites').textContent")
            .await;
        assert_eq!(online, "3 / 3");
        super::browser::screenshot(&browser, "city.png").await;
        browser.quit().await;
    }
    let _ = city_proc.kill();

    // Another installation under the street centre's id (a second centre
    // set up from the same profile) is refused, and says so; the database
    // keeps the first one's log only.
    let other_root = tempfile::tempdir().unwrap();
    let mut twin = Site::start("street", other_root.path(), &pg);
    let mut kiosk =
        pb::kiosk_service_client::KioskServiceClient::new(channel_as(&twin.url, Role::Kiosk).await);
    issue_ok(&mut kiosk, "pension", "").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let st = twin.status().await.shipping.unwrap();
        if st.last_error.contains("another installation") {
            assert!(!st.connected && st.backlog > 0, "{st:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the twin was never refused: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = hall_pg::city::event_counts(&client).await.unwrap();
    assert_eq!(after, counts, "nothing of the twin's log was shipped");
    let _ = twin.child.kill();
    let _ = twin.child.wait();
    for s in &mut sites {
        let _ = s.child.kill();
        let _ = s.child.wait();
    }
}

/// The address from hall-city's readiness line.
fn ready_addr(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("city ready: https://")
        .unwrap_or_else(|| panic!("no readiness line: {line:?}"));
    url.trim_end_matches("/city").to_string()
}

async fn city_get(addr: &str, ca: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    city_send(addr, ca, "GET", path, "", token).await
}

/// One request to hall-city over HTTPS, trusting its own CA.
async fn city_send(
    addr: &str,
    ca: &str,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (u16, Value) {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = send
        .send_request(
            req.body(http_body_util::Full::new(bytes::Bytes::from(
                body.to_string(),
            )))
            .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

/// 跨区域通办: a clerk at the district hall sends the current ticket to a
/// category at the street centre. The street centre issues exactly one
/// ticket with its origin (a retry of the same request gets the same one),
/// the district's ticket closes with the street's number, an origin from
/// anyone but that site's own certificate is refused, and an unreachable
/// site leaves the ticket at the window.
#[tokio::test]
async fn a_ticket_sent_to_another_site_is_issued_there_exactly_once() {
    let (d_dir, s_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let open =
        |p: &str| hall_server::config::around_the_clock(hall_server::config::profile(p).unwrap());
    let street = TestServer::start(s_dir.path(), open("street")).await;
    let mut district_cfg = open("district");
    let me = district_cfg.site.id.clone();
    district_cfg.peers = vec![
        hall_server::engine::site::Peer {
            site: "610102-street-1".into(),
            name: "街道便民服务中心".into(),
            url: street.url(),
            // Enrolled at the street centre as its kiosk peer-<our id>.
            tls_dir: identity_dir(Role::Kiosk, &format!("peer-{me}"))
                .display()
                .to_string(),
        },
        hall_server::engine::site::Peer {
            site: "610102-community-1".into(),
            name: "社区便民服务站".into(),
            url: "https://127.0.0.1:9".into(),
            tls_dir: identity_dir(Role::Kiosk, &format!("peer-{me}"))
                .display()
                .to_string(),
        },
    ];
    let district = TestServer::start(d_dir.path(), district_cfg).await;

    let mut kiosk = district.kiosk().await;
    let mut counter = district.counter().await;
    let a = issue_ok(&mut kiosk, "social_insurance", "").await;
    let s = login(&mut counter, 1, "c01").await;
    let called = counter
        .call_next(pb::WindowRequest {
            session: Some(s.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(called.number, a.number);

    // The community station is down: the ticket stays at the window.
    let err = counter
        .send_to_site(pb::SendToSiteRequest {
            session: Some(s.clone()),
            site: "610102-community-1".into(),
            category: "pension".into(),
        })
        .await
        .unwrap_err();
    let r = hall_proto::errors::Refusal::from_status(&err);
    assert_eq!(
        (err.code(), r.reason, r.meta("site")),
        (
            tonic::Code::Unavailable,
            hall_proto::errors::ErrorReason::SiteUnreachable,
            "610102-community-1"
        )
    );
    let mine = counter
        .get_my_queue(pb::WindowRequest {
            session: Some(s.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        mine.current.unwrap().number,
        a.number,
        "still at the window"
    );
    // A category the street centre does not have: its own refusal, named.
    let err = counter
        .send_to_site(pb::SendToSiteRequest {
            session: Some(s.clone()),
            site: "610102-street-1".into(),
            category: "notary".into(),
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("610102-street-1: "), "{err:?}");

    let sent = counter
        .send_to_site(pb::SendToSiteRequest {
            session: Some(s.clone()),
            site: "610102-street-1".into(),
            category: "pension".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let there = sent.there.unwrap();
    let here = sent.ticket.unwrap();
    assert_eq!(here.number, a.number);
    assert_eq!(here.sent_to.as_ref().unwrap().number, there.number);
    assert_eq!(here.state, pb::TicketState::Done as i32);

    // At the street centre: one ticket, with its origin.
    let mut s_kiosk = street.kiosk().await;
    let at_street = s_kiosk
        .get_ticket_status(pb::GetTicketStatusRequest {
            number: there.number.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let from = at_street.from_site.clone().unwrap();
    assert_eq!(
        (from.site.as_str(), from.number.as_str()),
        (me.as_str(), a.number.as_str())
    );
    assert_eq!(at_street.channel, pb::Channel::Site as i32);
    let issued_at_street = |srv: &TestServer| {
        let url = srv.url();
        async move {
            let ch = channel_as(&url, Role::Admin).await;
            pb::report_service_client::ReportServiceClient::new(ch)
                .get_report(pb::ReportRequest {
                    from: today(),
                    to: today(),
                    by: "category".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .total
                .unwrap()
                .arrived
        }
    };
    assert_eq!(issued_at_street(&street).await, 1);

    // The district's own request again (a lost answer, a restart): the same
    // ticket, not a second; an origin from any other certificate: refused.
    let origin = pb::SiteTicket {
        site: me.clone(),
        number: a.number.clone(),
        category: "social_insurance".into(),
    };
    let as_peer = channel_named(&street.url(), Role::Kiosk, &format!("peer-{me}")).await;
    let mut peer = pb::kiosk_service_client::KioskServiceClient::new(as_peer);
    let once = pb::IssueTicketRequest {
        request_id: "xs-retry".into(),
        category: "pension".into(),
        origin: Some(origin.clone()),
        ..Default::default()
    };
    let first = peer.issue_ticket(once.clone()).await.unwrap().into_inner();
    let again = peer.issue_ticket(once.clone()).await.unwrap().into_inner();
    assert_eq!(first.number, again.number);
    assert_eq!(issued_at_street(&street).await, 2);
    let err = s_kiosk.issue_ticket(once.clone()).await.unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::PermissionDenied,
        "a plain kiosk cannot claim an origin"
    );
    let forged = pb::IssueTicketRequest {
        origin: Some(pb::SiteTicket {
            site: "610102-community-1".into(),
            ..origin
        }),
        request_id: "xs-forged".into(),
        ..once
    };
    let err = peer.issue_ticket(forged).await.unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::PermissionDenied,
        "one site cannot speak for another"
    );
    assert_eq!(issued_at_street(&street).await, 2);

    // The district's report counts the ticket as transferred on, not served.
    let ch = channel_as(&district.url(), Role::Admin).await;
    let rep = pb::report_service_client::ReportServiceClient::new(ch)
        .get_report(pb::ReportRequest {
            from: today(),
            to: today(),
            by: "category".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .total
        .unwrap();
    assert_eq!((rep.transferred, rep.served), (1, 0));
    district.stop().await;
    street.stop().await;
}

/// 远程虚拟窗口: a district clerk, from a counter terminal enrolled at the
/// community station, opens the station's remote window and calls its
/// visitor; the call the station's board follows names the clerk's desk at
/// the district, and the window carries its video room. A local clerk
/// cannot open the remote window, nor the remote clerk a local one.
#[tokio::test]
async fn a_district_clerk_calls_a_community_ticket_at_its_remote_window() {
    let dir = tempfile::tempdir().unwrap();
    let community = TestServer::start(
        dir.path(),
        hall_server::config::around_the_clock(hall_server::config::profile("community").unwrap()),
    )
    .await;
    let mut kiosk = community.kiosk().await;
    let t = issue_ok(&mut kiosk, "pension", "").await;
    let mut counter = community.counter().await;
    let refused = |window: u32, clerk: &str| pb::LoginRequest {
        window,
        clerk_id: clerk.into(),
        pin: "1234".into(),
    };
    let err = counter.login(refused(2, "c01")).await.unwrap_err();
    assert!(
        err.message()
            .contains("remote window staffed from 610102-district"),
        "{err:?}"
    );
    let err = counter.login(refused(1, "d-c12")).await.unwrap_err();
    assert!(err.message().contains("remote windows"), "{err:?}");

    let s = login(&mut counter, 2, "d-c12").await;
    let mut board = community.subscribe_from_now().await;
    let called = counter
        .call_next(pb::WindowRequest {
            session: Some(s.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(called.number, t.number);
    let call = loop {
        let e = tokio::time::timeout(Duration::from_secs(5), board.message())
            .await
            .expect("the board hears the call")
            .unwrap()
            .unwrap();
        if let Some(pb::event::Body::TicketCalled(c)) = e.body {
            break c.call.unwrap();
        }
    };
    assert_eq!(call.number, t.number);
    assert_eq!(call.window, 2);
    assert_eq!(call.window_name, "2号远程窗口 · 区政务服务中心 12号窗口");
    let w = counter
        .get_my_queue(pb::WindowRequest { session: Some(s) })
        .await
        .unwrap()
        .into_inner()
        .window
        .unwrap();
    assert!(w.remote);
    assert_eq!(w.staffed_from, "610102-district");
    assert_eq!(w.remote_desk, "区政务服务中心 12号窗口");
    assert!(w.video_url.starts_with("https://"), "{}", w.video_url);
    community.stop().await;
}
