//! The web face over real HTTPS: the JSON API with the roles and reasons of
//! gRPC, the OpenAPI document against the routes, the event stream as SSE
//! with `Last-Event-ID`, and the visitor's ticket page.

use hall_proto::client::Tls;
use hall_proto::v1 as pb;
use hall_tests::*;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// An HTTPS connection to the web face, with the role's certificate (or
/// none), speaking HTTP/1.1.
pub(crate) async fn connect(
    srv: &TestServer,
    role: Option<Role>,
) -> hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>> {
    let tls = identity(Role::Kiosk);
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(tls.ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match role {
        None => builder.with_no_client_auth(),
        Some(r) => {
            let Tls {
                identity: Some((cert, key)),
                ..
            } = identity(r)
            else {
                unreachable!()
            };
            builder
                .with_client_auth_cert(
                    CertificateDer::pem_slice_iter(cert.as_bytes())
                        .map(Result::unwrap)
                        .collect(),
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
                )
                .unwrap()
        }
    };
    let tcp = tokio::net::TcpStream::connect(srv.web_addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    send
}

pub(crate) fn req(
    method: &str,
    path: &str,
    body: &str,
) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .unwrap()
}

/// Sends a request and reads the whole answer as bytes, with its headers.
pub(crate) async fn fetch_bytes(
    srv: &TestServer,
    role: Option<Role>,
    path: &str,
) -> (u16, http::HeaderMap, bytes::Bytes) {
    let mut s = connect(srv, role).await;
    let resp = s.send_request(req("GET", path, "")).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes)
}

/// Sends a request and reads the whole answer.
pub(crate) async fn fetch(
    srv: &TestServer,
    role: Option<Role>,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let mut s = connect(srv, role).await;
    let resp = s.send_request(req(method, path, body)).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

pub(crate) async fn post(
    srv: &TestServer,
    role: Option<Role>,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let (status, text) = fetch(srv, role, "POST", path, &body.to_string()).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}")),
    )
}

/// Reads Server-Sent Events from an open response: (id, event, data).
struct Sse {
    body: hyper::body::Incoming,
    buf: String,
}

impl Sse {
    async fn open(srv: &TestServer, role: Option<Role>, path: &str, last_id: Option<u64>) -> Sse {
        let mut s = connect(srv, role).await;
        let mut r = req("GET", path, "");
        if let Some(id) = last_id {
            r.headers_mut()
                .insert("last-event-id", id.to_string().parse().unwrap());
        }
        let resp = s.send_request(r).await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Sse {
            body: resp.into_body(),
            buf: String::new(),
        }
    }

    /// The next event with data (comments and keep-alives skipped).
    async fn next(&mut self) -> (Option<u64>, String, Value) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, "message".to_string(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return (id, event, serde_json::from_str(&data).unwrap());
            }
            let frame = tokio::time::timeout(Duration::from_secs(5), self.body.frame())
                .await
                .expect("an event within 5 s")
                .expect("the stream ended")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                self.buf.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
}

fn reason(v: &Value) -> &str {
    v["error"]["reason"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_api_answers_in_proto3_json_with_the_roles_and_reasons_of_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let issue = json!({"requestId": "web-1", "category": "social_insurance"});
    let (status, t) = post(
        &srv,
        Some(Role::Kiosk),
        "/api/v1/KioskService/IssueTicket",
        issue.clone(),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["number"], "A001");
    assert_eq!(t["state"], "TICKET_STATE_WAITING");
    // 64-bit integers are strings in proto3 JSON; defaults are present.
    assert!(t["issuedAtMs"].is_string(), "{t}");
    assert_eq!(t["recallCount"], 0);
    let secret = t["holderSecret"].as_str().unwrap();
    assert_eq!(secret.len(), 32);
    assert_eq!(t["statusUrl"], format!("{}/t/{secret}", srv.web_url()));
    // The same retry answers the same ticket.
    let (_, again) = post(
        &srv,
        Some(Role::Kiosk),
        "/api/v1/KioskService/IssueTicket",
        issue.clone(),
    )
    .await;
    assert_eq!(again["number"], "A001");

    // No certificate, the wrong role, a malformed body, an unknown method.
    let (status, e) = post(
        &srv,
        None,
        "/api/v1/KioskService/IssueTicket",
        issue.clone(),
    )
    .await;
    assert_eq!((status, reason(&e)), (401, "CERTIFICATE_REQUIRED"), "{e}");
    assert_eq!(e["error"]["code"], "UNAUTHENTICATED");
    let (status, e) = post(
        &srv,
        Some(Role::Board),
        "/api/v1/KioskService/IssueTicket",
        issue,
    )
    .await;
    assert_eq!((status, reason(&e)), (403, "ROLE_FORBIDDEN"), "{e}");
    assert_eq!(e["error"]["metadata"]["role"], "board");
    let (status, e) = post(
        &srv,
        Some(Role::Kiosk),
        "/api/v1/KioskService/IssueTicket",
        json!({"nope": 1}),
    )
    .await;
    assert_eq!((status, reason(&e)), (400, "INVALID_FIELD"), "{e}");
    assert_eq!(e["error"]["fieldViolations"][0]["field"], "body");
    let (status, e) = post(
        &srv,
        Some(Role::Kiosk),
        "/api/v1/KioskService/IssueTicket",
        json!({"requestId": "web-2", "category": "nope"}),
    )
    .await;
    assert_eq!((status, reason(&e)), (400, "UNKNOWN_CATEGORY"), "{e}");
    let (status, _) = post(
        &srv,
        Some(Role::Admin),
        "/api/v1/KioskService/NoSuch",
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    // What another site's page makes a browser send is refused, and so is
    // a POST that is not JSON (a plain form can be sent cross-site).
    let mut s = connect(&srv, Some(Role::Supervisor)).await;
    let mut r = req("POST", "/api/v1/AdminService/GetDayReport", "{}");
    r.headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    let resp = s.send_request(r).await.unwrap();
    assert_eq!(resp.status(), 403);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("CROSS_SITE_REFUSED"));
    let mut r = req("POST", "/api/v1/AdminService/GetDayReport", "{}");
    r.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let mut s = connect(&srv, Some(Role::Supervisor)).await;
    assert_eq!(s.send_request(r).await.unwrap().status(), 403);
    let mut r = req("POST", "/api/v1/AdminService/GetDayReport", "{}");
    r.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    let mut s = connect(&srv, Some(Role::Supervisor)).await;
    assert_eq!(s.send_request(r).await.unwrap().status(), 403);
    // A read as staff.
    let (status, r) = post(
        &srv,
        Some(Role::Supervisor),
        "/api/v1/AdminService/GetDayReport",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["issued"], 1, "{r}");

    // The OpenAPI document: every path it names is served (none falls
    // through to the "no route" answer), and it names every unary method.
    let (status, text) = fetch(&srv, None, "GET", "/api/v1/openapi.json", "").await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let unary = prost_reflect::DescriptorPool::decode(hall_proto::FILE_DESCRIPTOR_SET)
        .unwrap()
        .services()
        .filter(|s| s.package_name() == "hall.v1")
        .map(|s| s.methods().filter(|m| !m.is_server_streaming()).count())
        .sum::<usize>();
    assert_eq!(
        paths
            .keys()
            .filter(|p| {
                p.starts_with("/api/v1/")
                    && p.matches('/').count() == 4
                    && p.split('/').nth(3).is_some_and(|s| s.ends_with("Service"))
            })
            .count(),
        unary
    );
    for (path, ops) in paths {
        let concrete = path.replace("{secret}", "00000000000000000000000000000000");
        for method in ops.as_object().unwrap().keys() {
            if concrete.ends_with("/events") {
                continue; // streams: served above and below
            }
            let (status, body) = fetch(
                &srv,
                Some(Role::Admin),
                &method.to_uppercase(),
                &concrete,
                "{}",
            )
            .await;
            assert!(
                !body.contains("no route") && !body.contains("no method"),
                "{method} {path}: {status} {body}"
            );
        }
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_over_sse_resume_after_the_last_event_id_without_a_gap_or_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut k = srv.kiosk().await;
    for _ in 0..5 {
        issue_ok(&mut k, "pension", "").await;
    }
    // From the start: ids are the sequence numbers, one after another.
    let mut all = Sse::open(&srv, Some(Role::Board), "/api/v1/events?from_seq=1", None).await;
    let mut ids = vec![];
    let mut issued = vec![];
    while issued.len() < 5 {
        let (id, event, e) = all.next().await;
        assert_eq!(event, "message");
        let id = id.unwrap();
        assert_eq!(e["seq"], id.to_string(), "{e}");
        if let Some(t) = e.get("ticketIssued") {
            issued.push(t["number"].as_str().unwrap().to_string());
        }
        ids.push(id);
    }
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        issued,
        ["B001", "B002", "B003", "B004", "B005"].map(String::from)
    );
    // A reconnect with Last-Event-ID gets exactly the events after it.
    let cut = ids[ids.len() - 3];
    let mut resumed = Sse::open(&srv, Some(Role::Board), "/api/v1/events", Some(cut)).await;
    let (id, _, _) = resumed.next().await;
    assert_eq!(id, Some(cut + 1));
    // Without either: live events from now on, within a second.
    let mut live = Sse::open(&srv, Some(Role::Board), "/api/v1/events", None).await;
    let started = std::time::Instant::now();
    let t = issue_ok(&mut k, "pension", "").await;
    loop {
        let (_, _, e) = live.next().await;
        if e.get("ticketIssued").is_some() {
            assert_eq!(e["ticketIssued"]["number"], t.number);
            break;
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // No certificate: refused with the gate's reason, as a JSON error.
    let (status, body) = fetch(&srv, None, "GET", "/api/v1/events", "").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("CERTIFICATE_REQUIRED"), "{body}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ticket_page_follows_its_ticket_and_a_wrong_secret_reveals_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut k = srv.kiosk().await;
    let t = issue_ok(&mut k, "social_insurance", "").await;
    assert!(
        t.status_url.starts_with(&format!("{}/t/", srv.web_url())),
        "{}",
        t.status_url
    );
    let path = t
        .status_url
        .strip_prefix(&srv.web_url())
        .unwrap()
        .to_string();
    let (status, html) = fetch(&srv, None, "GET", &path, "").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("EventSource"),
        "the page follows its ticket live"
    );
    let (status, state) = fetch(&srv, None, "GET", &format!("{path}/state"), "").await;
    assert_eq!(status, 200, "{state}");
    let v: Value = serde_json::from_str(&state).unwrap();
    assert_eq!(
        (v["number"].as_str(), v["state"].as_str()),
        (Some(t.number.as_str()), Some("WAITING"))
    );
    assert!(
        v["materials"].as_array().is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    // Live: the call shows the window.
    let mut page = Sse::open(&srv, None, &format!("{path}/events"), None).await;
    let (_, _, first) = page.next().await;
    assert_eq!(first["state"], "WAITING");
    let mut c = srv.counter().await;
    let s = login(&mut c, 1, "c01").await;
    c.call_next(pb::WindowRequest {
        session: Some(s.clone()),
    })
    .await
    .unwrap();
    loop {
        let (_, _, v) = page.next().await;
        if v["state"] == "CALLED" {
            assert_eq!(v["window"], 1, "{v}");
            break;
        }
    }
    // Served: the page asks for a rating, once; a bad one needs a reason
    // and opens a follow-up for the window that served.
    let (status, e) = post(&srv, None, &format!("{path}/rating"), json!({"rating": 4})).await;
    assert_eq!(status, 409, "not served yet: {e}");
    c.start_service(pb::WindowRequest {
        session: Some(s.clone()),
    })
    .await
    .unwrap();
    c.finish(pb::FinishRequest {
        session: Some(s.clone()),
        outcome: pb::FinishOutcome::Resolved as i32,
        unresolved_reason: String::new(),
        ..Default::default()
    })
    .await
    .unwrap();
    loop {
        let (_, _, v) = page.next().await;
        if v["state"] == "DONE" {
            assert_eq!(v["canRate"], true, "{v}");
            break;
        }
    }
    let (status, e) = post(&srv, None, &format!("{path}/rating"), json!({"rating": 1})).await;
    assert_eq!((status, reason(&e)), (400, "INVALID_FIELD"), "{e}");
    assert_eq!(e["error"]["fieldViolations"][0]["field"], "comment");
    let (status, v) = post(
        &srv,
        None,
        &format!("{path}/rating"),
        json!({"rating": 1, "comment": "等太久"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["rating"].as_u64(), v["canRate"].as_bool()),
        (Some(1), Some(false))
    );
    let (status, e) = post(&srv, None, &format!("{path}/rating"), json!({"rating": 5})).await;
    assert_eq!((status, reason(&e)), (409, "ALREADY_RATED"), "{e}");
    let f = srv
        .admin()
        .await
        .list_follow_ups(pb::ListFollowUpsRequest {
            include_closed: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        f.items
            .iter()
            .any(|i| i.ticket_number == t.number && i.reason == "等太久" && i.window == 1),
        "{f:?}"
    );
    // A wrong secret and a malformed one: the same plain "not found".
    let (s1, b1) = fetch(&srv, None, "GET", "/t/0123456789abcdef0123456789abcdef", "").await;
    let (s2, b2) = fetch(&srv, None, "GET", "/t/not-a-secret", "").await;
    assert_eq!((s1, s2), (404, 404));
    assert_eq!(b1, b2);
    assert!(!b1.contains(&t.number));
    let (s3, _) = fetch(
        &srv,
        None,
        "GET",
        "/t/0123456789abcdef0123456789abcdef/state",
        "",
    )
    .await;
    assert_eq!(s3, 404);
    srv.stop().await;
}

/// A browser paired as a screen: the pairing code (from `enroll`) gives it
/// a signed device cookie, which reads the screen; a tampered cookie and a
/// revoked device read nothing; a code works once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_paired_with_a_code_reads_the_screen_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let screen = |cookie: Option<String>| {
        let srv = &srv;
        async move {
            let mut s = connect(srv, None).await;
            let mut r = req("POST", "/api/v1/EventService/GetScreen", "{}");
            if let Some(c) = cookie {
                r.headers_mut().insert("cookie", c.parse().unwrap());
            }
            let resp = s.send_request(r).await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let (status, e) = screen(None).await;
    assert_eq!((status, reason(&e)), (401, "CERTIFICATE_REQUIRED"));
    // A kiosk's code does not pair a browser, and is not used up by trying.
    let kiosk_code = hall_server::pki::enroll(dir.path(), Role::Kiosk, "kiosk-9").unwrap();
    let (status, _) = fetch(&srv, None, "GET", &format!("/screen?pair={kiosk_code}"), "").await;
    assert_eq!(status, 403);
    hall_server::pki_client::redeem(
        &srv.url(),
        &dir.path().join("tls/ca.pem"),
        &kiosk_code,
        &dir.path().join("k9"),
    )
    .await
    .expect("the kiosk's code still works for the kiosk");
    let code = hall_server::pki::enroll(dir.path(), Role::Board, "screen-1").unwrap();
    let mut s = connect(&srv, None).await;
    let resp = s
        .send_request(req("GET", &format!("/screen?pair={code}"), ""))
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/screen");
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let (status, state) = screen(Some(cookie.clone())).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["windows"].as_array().unwrap().len(), 30);
    assert!(
        state["hours"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["forecast"].as_f64().unwrap() > 50.0),
        "{state}"
    );
    // Erlang C: more windows at the morning peak than in the lunch dip.
    let needed = |hour: u64| {
        state["hours"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["hour"] == hour)
            .unwrap()["windowsNeeded"]
            .as_u64()
            .unwrap()
    };
    assert!(needed(10) > needed(12) && needed(12) > 0, "{state}");
    // The code is used up; a tampered cookie is no cookie.
    let (status, _) = fetch(&srv, None, "GET", &format!("/screen?pair={code}"), "").await;
    assert_eq!(status, 403);
    let tampered = cookie.replace("board", "admin");
    let (status, _) = screen(Some(tampered)).await;
    assert_eq!(status, 401);
    // `devices` lists the browser; revoking it ends its access.
    assert!(
        hall_server::pki::devices(dir.path())
            .unwrap()
            .iter()
            .any(|d| d.subject.id == "screen-1")
    );
    hall_server::pki::revoke(dir.path(), "screen-1").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _) = screen(Some(cookie)).await;
    assert_eq!(status, 401);
    srv.stop().await;
}
