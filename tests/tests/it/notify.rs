//! Notifications that are never lost: a real `hall-server` process posts to
//! a local HTTPS webhook receiver (its own self-signed certificate, trusted
//! through the sink's `ca_file`); the receiver refuses the first attempt,
//! and the server is killed with SIGKILL while a delivery is in flight.
//! Every trigger arrives, signatures verify, a repeated delivery carries the
//! same idempotency key, a ticket that did not opt in is never announced,
//! and a sink that never answers ends as a dead letter.

use hall_proto::v1 as pb;
use hall_tests::*;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) const SECRET: &str = "a-webhook-secret-of-some-length";

/// What the receiver got: (idempotency key, signature ok, body).
#[derive(Default)]
pub(crate) struct Received {
    pub(crate) posts: Vec<(String, bool, Value)>,
    /// Answer the first post of these triggers with 503.
    refuse_first: Vec<String>,
    /// Hold the first post of this (trigger, ticket) for a while (the
    /// server dies meanwhile).
    hold_first: Option<(String, String)>,
    /// Told when the held post has arrived.
    held: Option<tokio::sync::oneshot::Sender<()>>,
}

fn sign(body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// An HTTPS webhook receiver on 127.0.0.1; returns its port and its
/// certificate (PEM).
pub(crate) async fn receiver(state: Arc<Mutex<Received>>) -> (u16, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let cert_pem = cert.cert.pem();
    let key = PrivateKeyDer::from_pem_slice(cert.signing_key.serialize_pem().as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, state) = (acceptor.clone(), state.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move {
                            let key = req
                                .headers()
                                .get("idempotency-key")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            let sig = req
                                .headers()
                                .get("x-hall-signature")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            let trigger = v["trigger"].as_str().unwrap_or("").to_string();
                            let (status, hold) = {
                                let mut s = state.lock().unwrap();
                                s.posts.push((key, sig == sign(&body), v));
                                let seen = s
                                    .posts
                                    .iter()
                                    .filter(|p| p.2["trigger"] == trigger.as_str())
                                    .count();
                                let refuse = seen == 1 && s.refuse_first.contains(&trigger);
                                let number = s
                                    .posts
                                    .last()
                                    .map(|p| p.2["number"].as_str().unwrap_or("").to_string())
                                    .unwrap_or_default();
                                let hold = s
                                    .hold_first
                                    .as_ref()
                                    .is_some_and(|(t, n)| *t == trigger && *n == number)
                                    && s.posts
                                        .iter()
                                        .filter(|p| {
                                            p.2["trigger"] == trigger.as_str()
                                                && p.2["number"] == number.as_str()
                                        })
                                        .count()
                                        == 1;
                                if hold && let Some(tx) = s.held.take() {
                                    let _ = tx.send(());
                                }
                                (if refuse { 503 } else { 200 }, hold)
                            };
                            if hold {
                                // The server is killed meanwhile: it never learns
                                // that this one arrived.
                                tokio::time::sleep(Duration::from_secs(5)).await;
                            }
                            Ok::<_, std::convert::Infallible>(
                                http::Response::builder()
                                    .status(status)
                                    .body(http_body_util::Full::new(bytes::Bytes::from_static(
                                        b"{}",
                                    )))
                                    .unwrap(),
                            )
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, cert_pem)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_server(data: &std::path::Path, config: &std::path::Path, web: u16) -> (Child, String) {
    spawn_server_process(data, config, &format!("127.0.0.1:{web}"), &[])
}

/// POSTs JSON to the web face (no client certificate: a visitor's phone).
async fn post_json(web: u16, path: &str, body: &Value) -> (u16, Value) {
    call_json(web, "POST", path, Some(body), None).await
}

/// A request to the web face as a visitor's phone: JSON in and out, the
/// visitor token when given.
async fn call_json(
    web: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let tls = identity(Role::Kiosk);
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(tls.ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", web))
        .await
        .unwrap();
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
        .header("host", format!("127.0.0.1:{web}"))
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("x-visitor-token", t);
    }
    let req = req
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notification_arrives_signed_across_a_kill_9() {
    let state = Arc::new(Mutex::new(Received {
        refuse_first: vec!["ahead".into()],
        ..Received::default()
    }));
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    state.lock().unwrap().held = Some(held_tx);
    let (port, cert_pem) = receiver(state.clone()).await;

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("receiver.pem");
    std::fs::write(&ca_file, &cert_pem).unwrap();
    let mut catalog = always_open();
    catalog.notify.retry_base_ms = 100;
    catalog.notify.max_attempts = 4;
    catalog.notify.webhooks = vec![
        hall_server::engine::notify::Webhook {
            name: "sms".into(),
            url: format!("https://127.0.0.1:{port}/hook"),
            secret: SECRET.into(),
            ca_file: ca_file.display().to_string(),
            ..Default::default()
        },
        // Nobody listens there: it ends as a dead letter.
        hall_server::engine::notify::Webhook {
            name: "down".into(),
            url: format!("http://127.0.0.1:{}/hook", free_port()),
            secret: SECRET.into(),
            ca_file: String::new(),
            ..Default::default()
        },
    ];
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, hall_server::config::to_toml(&catalog)).unwrap();
    let data = dir.path().join("data");
    let web = free_port();
    let (mut child, url) = spawn_server(&data, &config, web);

    let mut k =
        pb::kiosk_service_client::KioskServiceClient::new(channel_as(&url, Role::Kiosk).await);
    let mut tickets = Vec::new();
    for _ in 0..5 {
        tickets.push(issue_ok(&mut k, "social_insurance", "").await);
    }
    state.lock().unwrap().hold_first = Some(("called".into(), tickets[4].number.clone()));
    let path = |t: &pb::Ticket| {
        let secret = t.status_url.rsplit('/').next().unwrap().to_string();
        format!("/api/v1/tickets/{secret}/notify")
    };
    // Tickets 4 and 5 opt in; 3 does not. A bad phone is refused with its field.
    let (status, v) = post_json(
        web,
        &path(&tickets[4]),
        &serde_json::json!({"phone": "12345", "ahead": 2}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["fieldViolations"][0]["field"], "phone", "{v}");
    let (status, v) = post_json(
        web,
        &path(&tickets[4]),
        &serde_json::json!({"phone": "13800138005", "ahead": 2}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["notify"]["phoneMasked"], "138****8005", "{v}");
    assert!(
        !v.to_string().contains("13800138005"),
        "the page never shows the whole number"
    );
    let (status, v) = post_json(
        web,
        &path(&tickets[3]),
        &serde_json::json!({"phone": "13800138004", "ahead": 1}),
    )
    .await;
    assert_eq!(status, 200, "{v}");

    // Serve: each call moves the queue; ticket 4 gets "ahead" at 1, 5 at 2.
    let mut c = pb::counter_service_client::CounterServiceClient::new(
        channel_as(&url, Role::Counter).await,
    );
    let session = login(&mut c, 1, "c01").await;
    let ws = || pb::WindowRequest {
        session: Some(session.clone()),
    };
    let finish = || pb::FinishRequest {
        session: Some(session.clone()),
        outcome: pb::FinishOutcome::Resolved as i32,
        ..Default::default()
    };
    for _ in 0..4 {
        c.call_next(ws()).await.unwrap();
        c.finish(finish()).await.unwrap();
    }
    // Ticket 5 is called: the receiver holds that delivery, and the server
    // dies before it hears back.
    let called = c.call_next(ws()).await.unwrap().into_inner();
    assert_eq!(called.number, tickets[4].number);
    tokio::time::timeout(Duration::from_secs(20), held_rx)
        .await
        .expect("the `called` delivery started")
        .unwrap();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut child, url) = spawn_server(&data, &config, web);
    let mut c = pb::counter_service_client::CounterServiceClient::new(
        channel_as(&url, Role::Counter).await,
    );
    c.recall(ws()).await.unwrap();

    // Every trigger arrives: ahead and called for 4 and 5, recalled for 5.
    let want = [
        ("ahead", &tickets[3].number),
        ("ahead", &tickets[4].number),
        ("called", &tickets[3].number),
        ("called", &tickets[4].number),
        ("recalled", &tickets[4].number),
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = {
            let s = state.lock().unwrap();
            want.iter()
                .filter(|(tr, n)| {
                    s.posts
                        .iter()
                        .any(|p| p.2["trigger"] == *tr && p.2["number"] == n.as_str() && p.1)
                })
                .count()
        };
        // The held `called` must have come again after the restart.
        let repeated = state
            .lock()
            .unwrap()
            .posts
            .iter()
            .filter(|p| p.2["trigger"] == "called" && p.2["number"] == tickets[4].number.as_str())
            .count()
            >= 2;
        if got == want.len() && repeated {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing notifications: {:?}",
            state
                .lock()
                .unwrap()
                .posts
                .iter()
                .map(|p| (p.0.clone(), p.2["trigger"].clone()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = state.lock().unwrap();
    for (key, sig_ok, body) in &s.posts {
        assert!(sig_ok, "signature of {key}");
        assert!(!key.is_empty());
        assert_eq!(
            body["key"].as_str(),
            Some(key.as_str()),
            "the body names its key"
        );
        // Nothing for the ticket that did not opt in.
        for t in &tickets[..3] {
            assert_ne!(body["number"], t.number.as_str(), "{body}");
        }
        assert_eq!(body["phone"].as_str().map(str::len), Some(11));
    }
    // Each (trigger, ticket) has one key, however often it came.
    for (tr, n) in want {
        let keys: std::collections::BTreeSet<&str> = s
            .posts
            .iter()
            .filter(|p| p.2["trigger"] == tr && p.2["number"] == n.as_str())
            .map(|p| p.0.as_str())
            .collect();
        assert_eq!(keys.len(), 1, "{tr} {n}: {keys:?}");
    }
    drop(s);

    // The sink that never answers: dead letters, visible to supervisors.
    let mut admin =
        pb::admin_service_client::AdminServiceClient::new(channel_as(&url, Role::Supervisor).await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let st = admin
            .get_server_status(pb::ServerStatusRequest::default())
            .await
            .unwrap()
            .into_inner();
        let n = st.notifications.unwrap_or_default();
        // Five to the receiver (their outcomes stored), five given up.
        if n.dead >= 5 && n.delivered >= 5 && n.pending == 0 {
            let d = &n.dead_letters[0];
            assert_eq!(d.sink, "down");
            assert!(d.phone_masked.contains("****"), "{d:?}");
            assert!(!d.error.is_empty());
            assert!(d.key.ends_with(&format!("-{}", d.number)), "{d:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dead letters: {n:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The code the receiver got last for `phone` (trigger `code`, signed).
pub(crate) fn code_for(state: &Arc<Mutex<Received>>, phone: &str) -> String {
    let s = state.lock().unwrap();
    let p = s
        .posts
        .iter()
        .rev()
        .find(|p| {
            p.2["trigger"] == "code"
                && (p.2["phone"] == phone || p.2["mobile"] == phone)
                && p.2["code"].as_str().is_some_and(|c| !c.is_empty())
        })
        .expect("a code was sent");
    assert!(p.1, "the code's post is signed");
    assert!(!p.0.is_empty(), "with an idempotency key");
    p.2["code"].as_str().unwrap().to_string()
}

/// A visitor confirms their phone (a one-time code through the webhook)
/// and ID number; the visitor token.
async fn verified(web: u16, state: &Arc<Mutex<Received>>, phone: &str, id_number: &str) -> String {
    let (status, v) = post_json(
        web,
        "/api/v1/book/code",
        &serde_json::json!({"phone": phone}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let code = code_for(state, phone);
    let (status, v) = post_json(
        web,
        "/api/v1/book/verify",
        &serde_json::json!({"phone": phone, "code": code, "idNumber": id_number, "name": "张三丰"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["maskedName"], "张*丰", "{v}");
    assert!(!v.to_string().contains(id_number), "{v}");
    v["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_and_remote_tickets_from_the_phone() {
    let state = Arc::new(Mutex::new(Received::default()));
    let (port, cert_pem) = receiver(state.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("receiver.pem");
    std::fs::write(&ca_file, &cert_pem).unwrap();
    let mut catalog = always_open();
    catalog.hall.checkin_networks = vec!["127.0.0.0/8".into()];
    // Noon in the hall whenever this runs: today has slots left.
    catalog.hall.timezone = midday_zone();
    use hall_server::engine::notify::{SinkKind, Webhook};
    let ca = ca_file.display().to_string();
    catalog.notify.webhooks = vec![
        Webhook {
            name: "hook".into(),
            url: format!("https://127.0.0.1:{port}/hook"),
            secret: SECRET.into(),
            ca_file: ca.clone(),
            ..Default::default()
        },
        // An SMS gateway's own request, and WeChat subscribe messages.
        Webhook {
            name: "sms-gateway".into(),
            url: format!("https://127.0.0.1:{port}/sms"),
            secret: SECRET.into(),
            ca_file: ca.clone(),
            kind: SinkKind::Sms,
            template: r#"{"mobile": "{phone}", "content": "{text}", "ref": "{key}", "trigger": "{trigger}", "code": "{code}"}"#.into(),
            ..Default::default()
        },
        Webhook {
            name: "wechat".into(),
            url: format!("https://127.0.0.1:{port}/wx"),
            secret: SECRET.into(),
            ca_file: ca,
            kind: SinkKind::Wechat,
            template_id: "TPL-1".into(),
            page: "pages/ticket?n={number}".into(),
            fields: [
                ("thing1".to_string(), "{categoryNameZh}".to_string()),
                ("character_string2".to_string(), "{number}".to_string()),
                ("time3".to_string(), "{serviceDate} {slot}".to_string()),
            ]
            .into(),
            ..Default::default()
        },
    ];
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
    let config = dir.path().join("hall.toml");
    std::fs::write(&config, hall_server::config::to_toml(&catalog)).unwrap();
    let web = free_port();
    let (mut child, url) = spawn_server(&dir.path().join("data"), &config, web);

    let (status, cat) = call_json(web, "GET", "/api/v1/book/catalog", None, None).await;
    assert_eq!(status, 200, "{cat}");
    let today: chrono::NaiveDate = cat["serviceDate"].as_str().unwrap().parse().unwrap();
    let offered = cat["categories"].as_array().unwrap();
    assert_eq!(
        offered.len(),
        1,
        "only the category with booking or remote: {cat}"
    );
    assert_eq!(offered[0]["slotMinutes"], 30);
    assert_eq!(offered[0]["remote"], true);

    // The code: a wrong one is refused, one per minute per phone.
    let (status, v) = post_json(
        web,
        "/api/v1/book/code",
        &serde_json::json!({"phone": "13900139001"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["phoneMasked"], "139****9001");
    let (status, v) = post_json(
        web,
        "/api/v1/book/code",
        &serde_json::json!({"phone": "13900139001"}),
    )
    .await;
    assert_eq!(status, 429, "{v}");
    let (status, v) = post_json(
        web,
        "/api/v1/book/verify",
        &serde_json::json!({"phone": "13900139001", "code": "000000x", "idNumber": "110101199001011237"}),
    )
    .await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["reason"], "BAD_CODE", "{v}");
    let (status, v) = post_json(
        web,
        "/api/v1/book/verify",
        &serde_json::json!({"phone": "13900139001", "code": code_for(&state, "13900139001"), "idNumber": "110101199001011234"}),
    )
    .await;
    assert_eq!(status, 400, "a bad ID number, before the code is used: {v}");
    let (status, v) = post_json(
        web,
        "/api/v1/book/verify",
        &serde_json::json!({"phone": "13900139001", "code": code_for(&state, "13900139001"), "idNumber": "110101199001011237", "name": "张三丰"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let alice = v["token"].as_str().unwrap().to_string();

    // Book tomorrow's first slot until it is full: it disappears for others.
    let tomorrow = today.succ_opt().unwrap();
    let slots_of = |date: chrono::NaiveDate| async move {
        let (status, v) = call_json(
            web,
            "GET",
            &format!("/api/v1/book/slots?category=social_insurance&date={date}"),
            None,
            None,
        )
        .await;
        assert_eq!(status, 200, "{v}");
        v["slots"].as_array().unwrap().clone()
    };
    let free = slots_of(tomorrow).await;
    assert_eq!(free[0]["start"], "00:00");
    assert_eq!(free[0]["free"], 1);
    let book = |token: String, date: chrono::NaiveDate, slot: Value, rid: &'static str| async move {
        call_json(
            web,
            "POST",
            "/api/v1/book",
            Some(
                &serde_json::json!({"category": "social_insurance", "date": date.to_string(),
                "slotStart": slot["start"], "slotEnd": slot["end"], "requestId": rid}),
            ),
            Some(&token),
        )
        .await
    };
    let (status, b) = book(alice.clone(), tomorrow, free[0].clone(), "r1").await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["state"], "booked");
    assert_eq!(b["maskedName"], "张*丰");
    // Confirmed by text: the hall's JSON, the SMS gateway's request and
    // the WeChat subscribe message, all signed.
    let booking_no = format!("B{}", b["id"]);
    let slot = format!(
        "{}-{}",
        free[0]["start"].as_str().unwrap(),
        free[0]["end"].as_str().unwrap()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (hook, sms, wx) = {
            let s = state.lock().unwrap();
            let hook = s.posts.iter().any(|p| {
                p.1 && p.2["trigger"] == "booked"
                    && p.2["number"] == booking_no.as_str()
                    && p.2["slot"] == slot.as_str()
                    && p.2["phone"] == "13900139001"
            });
            let sms = s.posts.iter().any(|p| {
                p.1 && p.2["mobile"] == "13900139001"
                    && p.2["content"].as_str().unwrap_or("").contains("您已预约")
                    && p.2["ref"]
                        .as_str()
                        .unwrap_or("")
                        .ends_with(&format!("-booked-{booking_no}"))
            });
            let wx = s.posts.iter().any(|p| {
                p.1 && p.2["template_id"] == "TPL-1"
                    && p.2["trigger"] == "booked"
                    && p.2["data"]["character_string2"]["value"] == booking_no.as_str()
                    && p.2["data"]["time3"]["value"] == format!("{tomorrow} {slot}").as_str()
                    && p.2["page"] == format!("pages/ticket?n={booking_no}").as_str()
            });
            (hook, sms, wx)
        };
        if hook && sms && wx {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "booked: hook {hook} sms {sms} wechat {wx}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The codes went only to the SMS gateway (its template), never to the
    // plain webhook or to WeChat.
    assert!(
        !state
            .lock()
            .unwrap()
            .posts
            .iter()
            .any(|p| p.2["trigger"] == "code" && p.2["mobile"].is_null()),
        "a code went elsewhere than the SMS gateway"
    );
    let code = code_for(&state, "13900139001");
    assert!(
        state
            .lock()
            .unwrap()
            .posts
            .iter()
            .any(|p| p.2["mobile"] == "13900139001"
                && p.2["content"].as_str().unwrap_or("").contains(&code))
    );
    // A retry of the same attempt is the same booking.
    let (status, again) = book(alice.clone(), tomorrow, free[0].clone(), "r1").await;
    assert_eq!((status, &again["id"]), (200, &b["id"]), "{again}");
    assert_ne!(
        slots_of(tomorrow).await[0]["start"],
        "00:00",
        "the full slot is gone"
    );
    let bob = verified(web, &state, "13900139002", "11010519491231002X").await;
    let (status, v) = book(bob.clone(), tomorrow, free[0].clone(), "r2").await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["error"]["reason"], "QUOTA_EXHAUSTED", "{v}");
    // Without a token, or with a forged one: refused.
    // (The signature's last digit changed, whatever it was.)
    let last = if alice.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &alice[..alice.len() - 1]);
    let (status, _) = call_json(web, "GET", "/api/v1/book/mine", None, Some(&forged)).await;
    assert_eq!(status, 401);
    let (status, qr) = call_json(
        web,
        "GET",
        &format!("/b/{}/qr.svg", b["secret"].as_str().unwrap()),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{qr}");

    // My bookings; cancel gives the slot back.
    let (status, mine) = call_json(web, "GET", "/api/v1/book/mine", None, Some(&alice)).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["bookings"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["bookings"][0]["canCancel"], true, "{mine}");
    let (status, mine) = call_json(
        web,
        "POST",
        &format!("/api/v1/book/{}/cancel", b["id"]),
        Some(&serde_json::json!({})),
        Some(&bob),
    )
    .await;
    assert_eq!(status, 404, "not Bob's to cancel: {mine}");
    let (status, mine) = call_json(
        web,
        "POST",
        &format!("/api/v1/book/{}/cancel", b["id"]),
        Some(&serde_json::json!({})),
        Some(&alice),
    )
    .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["bookings"][0]["state"], "cancelled", "{mine}");
    assert_eq!(slots_of(tomorrow).await[0]["start"], "00:00", "free again");

    // A remote ticket: in the queue, not callable until it checks in.
    let (status, v) = post_json(
        web,
        "/api/v1/book/code",
        &serde_json::json!({"phone": "13900139003"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, r) = post_json(
        web,
        "/api/v1/remote",
        &serde_json::json!({"category": "social_insurance", "phone": "13900139003",
            "code": code_for(&state, "13900139003"), "requestId": "remote-1"}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let page = r["page"].as_str().unwrap().to_string();
    let (status, view) = call_json(web, "GET", &format!("{page}/state"), None, None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["awaitingArrival"], true, "{view}");
    let mut c = pb::counter_service_client::CounterServiceClient::new(
        channel_as(&url, Role::Counter).await,
    );
    let session = login(&mut c, 1, "c01").await;
    let ws = || pb::WindowRequest {
        session: Some(session.clone()),
    };
    let e = c.call_next(ws()).await.unwrap_err();
    assert_eq!(
        e.code(),
        tonic::Code::NotFound,
        "not callable before arrival: {e:?}"
    );
    let secret = page.rsplit('/').next().unwrap();
    let (status, view) = post_json(
        web,
        &format!("/api/v1/tickets/{secret}/arrive"),
        &serde_json::json!({}),
    )
    .await;
    assert_eq!(status, 200, "checked in from the hall's network: {view}");
    assert_eq!(view["awaitingArrival"], false, "{view}");
    let called = c.call_next(ws()).await.unwrap().into_inner();
    assert_eq!(called.number, r["number"].as_str().unwrap());
    assert_eq!(called.channel, pb::Channel::Mobile as i32);
    // The remote ticket opted in with its phone: its call is announced.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !state
        .lock()
        .unwrap()
        .posts
        .iter()
        .any(|p| p.2["trigger"] == "called" && p.2["number"] == called.number.as_str() && p.1)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call was announced"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.finish(pb::FinishRequest {
        session: Some(session.clone()),
        outcome: pb::FinishOutcome::Resolved as i32,
        ..Default::default()
    })
    .await
    .unwrap();

    // Check-in at the kiosk with the booking's QR: today's booking issues
    // its ticket; tomorrow's is not checked in today.
    let k = pb::kiosk_service_client::KioskServiceClient::new(channel_as(&url, Role::Kiosk).await);
    let today_free = slots_of(today).await;
    assert!(!today_free.is_empty(), "noon in the hall: slots left today");
    let scan = |b: &Value, rid: &'static str| {
        let mut k = k.clone();
        let qr = format!("https://hall.example/b/{}", b["secret"].as_str().unwrap());
        async move {
            k.check_in_appointment(pb::CheckInAppointmentRequest {
                request_id: rid.into(),
                qr,
                ..Default::default()
            })
            .await
        }
    };
    let (status, later) = book(bob.clone(), tomorrow, free[0].clone(), "r4").await;
    assert_eq!(status, 200, "{later}");
    let e = scan(&later, "qr-0").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
    // Staff cancel it (with a reason, recorded); Bob is told by text.
    let mut admin =
        pb::admin_service_client::AdminServiceClient::new(channel_as(&url, Role::Supervisor).await);
    let id: u64 = later["id"].as_u64().unwrap();
    let e = admin
        .cancel_appointment(pb::CancelAppointmentRequest {
            id,
            reason: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    let done = admin
        .cancel_appointment(pb::CancelAppointmentRequest {
            id,
            reason: "窗口设备检修".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.state, "cancelled");
    let told = format!("B{id}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !state
        .lock()
        .unwrap()
        .posts
        .iter()
        .any(|p| p.1 && p.2["trigger"] == "booking_cancelled" && p.2["number"] == told.as_str())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cancel was told"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, b) = book(bob.clone(), today, today_free[0].clone(), "r3").await;
    assert_eq!(status, 200, "{b}");
    let t = scan(&b, "qr-1").await.unwrap().into_inner();
    assert_eq!(t.channel, pb::Channel::Appointment as i32, "{t:?}");
    // The scanner's retry is the same ticket.
    let again = scan(&b, "qr-1").await.unwrap().into_inner();
    assert_eq!(again.number, t.number);
    let (_, mine) = call_json(web, "GET", "/api/v1/book/mine", None, Some(&bob)).await;
    let states: Vec<&str> = mine["bookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["checked_in", "cancelled"], "{mine}");
    // One address asking codes for phone after phone is stopped (30 in ten
    // minutes, those above included).
    let mut refused = None;
    for i in 0..40 {
        let (status, v) = post_json(
            web,
            "/api/v1/book/code",
            &serde_json::json!({"phone": format!("137{i:08}")}),
        )
        .await;
        if status == 429 {
            refused = Some((i, v));
            break;
        }
        assert_eq!(status, 200, "{v}");
    }
    let (i, v) = refused.expect("the address was stopped");
    assert!(
        i < 30 && v["error"]["message"].as_str().unwrap().contains("address"),
        "{i}: {v}"
    );
    // Nothing personal reached the webhook beyond the phone it is for.
    for p in &state.lock().unwrap().posts {
        assert!(!p.2.to_string().contains("110101199001011237"));
    }
    let _ = child.kill();
    let _ = child.wait();
}
