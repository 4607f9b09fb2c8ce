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
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "a-webhook-secret-of-some-length";

/// What the receiver got: (idempotency key, signature ok, body).
#[derive(Default)]
struct Received {
    posts: Vec<(String, bool, Value)>,
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
async fn receiver(state: Arc<Mutex<Received>>) -> (u16, String) {
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
    provision(data);
    let mut child = Command::new(workspace_bin("hall-server"))
        .args(["--listen", "127.0.0.1:0", "--http"])
        .arg(format!("127.0.0.1:{web}"))
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting hall-server");
    let addr = listening_addr(&mut child);
    (child, format!("https://{addr}"))
}

/// POSTs JSON to the web face (no client certificate: a visitor's phone).
async fn post_json(web: u16, path: &str, body: &Value) -> (u16, Value) {
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
    let req = http::Request::post(path)
        .header("host", format!("127.0.0.1:{web}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
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
        },
        // Nobody listens there: it ends as a dead letter.
        hall_server::engine::notify::Webhook {
            name: "down".into(),
            url: format!("http://127.0.0.1:{}/hook", free_port()),
            secret: SECRET.into(),
            ca_file: String::new(),
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
