//! Secure by default: the role matrix (every hall.v1 method × every role,
//! and no certificate, a revoked one, an expired one, plaintext), device
//! enrollment with one-time pairing codes, clerk sessions bound to their
//! terminal, revocation, and `--insecure-demo`.

use crate::limits::Raw;
use hall_proto::client::{Tls, connect_tls};
use hall_proto::errors::{ErrorReason, Refusal};
use hall_proto::v1 as pb;
use hall_server::grpc::roles::{self, Rule};
use hall_tests::*;
use prost_reflect::DescriptorPool;
use std::time::Duration;
use tonic::Code;
use tonic::transport::Channel;

/// Calls `path` with an empty request; the error, or `None` if it answered.
async fn call(channel: &Channel, path: &str, streaming: bool) -> Option<tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.ok()?;
    let rpc: tonic::codegen::http::uri::PathAndQuery = path.parse().unwrap();
    let req = tonic::Request::new(Vec::new());
    if streaming {
        grpc.server_streaming(req, rpc, Raw).await.err()
    } else {
        grpc.unary(req, rpc, Raw).await.err()
    }
}

fn reason(s: &tonic::Status) -> ErrorReason {
    Refusal::from_status(s).reason
}

/// A role-table refusal (not the handler's own answer to an empty request).
fn gate_refused(e: &Option<tonic::Status>) -> bool {
    e.as_ref().is_some_and(|e| {
        matches!(
            reason(e),
            ErrorReason::RoleForbidden | ErrorReason::CertificateRequired
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_times_every_role_is_allowed_or_refused_as_the_table_says() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let url = srv.url();
    let pool = DescriptorPool::decode(hall_proto::FILE_DESCRIPTOR_SET).unwrap();
    let methods: Vec<(String, bool)> = pool
        .services()
        .filter(|s| s.package_name() == "hall.v1")
        .flat_map(|s| {
            s.methods()
                .map(|m| {
                    (
                        format!("/{}/{}", s.full_name(), m.name()),
                        m.is_server_streaming(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(methods.len() >= 35, "{methods:?}");

    // Every role with its own certificate.
    for role in Role::ALL {
        let ch = srv.channel_as(role).await;
        for (path, streaming) in &methods {
            let rule = roles::rule(path).unwrap_or_else(|| panic!("{path}: no rule"));
            let allowed = match rule {
                Rule::Anyone => true,
                Rule::Roles(r) => r.contains(&role),
            };
            let e = call(&ch, path, *streaming).await;
            if allowed {
                assert!(
                    !gate_refused(&e),
                    "{role} {path}: refused by the gate: {e:?}"
                );
            } else {
                let e = e.unwrap_or_else(|| panic!("{role} {path}: answered"));
                assert_eq!(e.code(), Code::PermissionDenied, "{role} {path}: {e:?}");
                assert_eq!(reason(&e), ErrorReason::RoleForbidden, "{role} {path}");
                let r = Refusal::from_status(&e);
                assert_eq!(
                    r.metadata.get("role").map(String::as_str),
                    Some(role.as_str())
                );
            }
        }
    }

    // No certificate (TLS with the hall CA pinned, nothing to show), and a
    // revoked one: only the `Anyone` methods answer.
    let anonymous = Tls {
        ca_pem: identity(Role::Kiosk).ca_pem,
        identity: None,
    };
    let revoked = identity_named(Role::Admin, "admin-revoked");
    let revoked_serial = hall_server::pki::devices(ca_dir())
        .unwrap()
        .into_iter()
        .find(|d| d.subject.id == "admin-revoked")
        .unwrap()
        .subject
        .serial;
    // The server reads the revocation list of its own data dir.
    std::fs::write(
        dir.path().join("tls/revoked"),
        format!("{revoked_serial} admin admin-revoked test\n"),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for (who, tls) in [
        ("no certificate", anonymous),
        ("a revoked certificate", revoked),
    ] {
        let ch = connect_tls(&url, Some(&tls), 5, Duration::from_millis(200))
            .await
            .unwrap();
        for (path, streaming) in &methods {
            let e = call(&ch, path, *streaming).await;
            match roles::rule(path).unwrap() {
                Rule::Anyone => assert!(!gate_refused(&e), "{who} {path}: {e:?}"),
                Rule::Roles(_) => {
                    let e = e.unwrap_or_else(|| panic!("{who} {path}: answered"));
                    assert_eq!(e.code(), Code::Unauthenticated, "{who} {path}: {e:?}");
                    assert_eq!(reason(&e), ErrorReason::CertificateRequired, "{who} {path}");
                }
            }
        }
        // Health answers without a certificate.
        let mut health = tonic_health::pb::health_client::HealthClient::new(ch);
        health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap_or_else(|e| panic!("{who}: health: {e:?}"));
    }

    // An expired certificate: the TLS handshake itself fails.
    let ca = hall_server::pki::Ca::load(ca_dir()).unwrap();
    let expired = ca.issue(Role::Admin, "admin-expired", -30, 10).unwrap();
    let expired = Tls {
        ca_pem: expired.ca_pem,
        identity: Some((expired.cert_pem, expired.key_pem)),
    };
    match connect_tls(&url, Some(&expired), 1, Duration::from_millis(100)).await {
        Err(_) => {}
        Ok(ch) => {
            // Refused in the handshake: a transport error, not a hall answer
            // (not even CERTIFICATE_REQUIRED, which a missing certificate gets).
            let e = call(&ch, "/hall.v1.AdminService/GetServerStatus", false).await;
            let e = e.expect("an expired certificate got an answer");
            assert_eq!(reason(&e), ErrorReason::Unspecified, "{e:?}");
        }
    }

    // Plaintext to the TLS port: no answer at all.
    let plain = format!("http://{}", srv.addr);
    match connect_tls(&plain, None, 1, Duration::from_millis(100)).await {
        Err(_) => {}
        Ok(ch) => {
            let e = call(&ch, "/hall.v1.EventService/Snapshot", false).await;
            // A transport error, not an answer of the hall (no reason).
            let e = e.expect("plaintext answered");
            assert_eq!(reason(&e), ErrorReason::Unspecified, "{e:?}");
        }
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pairing_code_enrolls_a_device_once() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let code = hall_server::pki::enroll(dir.path(), Role::Kiosk, "kiosk-9").unwrap();
    let ca = dir.path().join("tls/ca.pem");
    let out = dir.path().join("kiosk-9");
    // Never over plaintext; and a malformed request does not use the code up.
    let e = hall_server::pki_client::redeem(&format!("http://{}", srv.addr), &ca, &code, &out)
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("https://"), "{e:#}");
    let anonymous = Tls {
        ca_pem: std::fs::read_to_string(&ca).unwrap(),
        identity: None,
    };
    let ch = connect_tls(&srv.url(), Some(&anonymous), 5, Duration::from_millis(200))
        .await
        .unwrap();
    let e = pb::device_service_client::DeviceServiceClient::new(ch)
        .redeem(pb::RedeemRequest {
            pairing_code: code.clone(),
            csr_pem:
                "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
                    .into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let done = hall_server::pki_client::redeem(&srv.url(), &ca, &code, &out)
        .await
        .unwrap();
    assert_eq!(
        (done.role.as_str(), done.device_id.as_str()),
        ("kiosk", "kiosk-9")
    );
    // The device speaks with what it received: as kiosk-9, a kiosk.
    let tls = Tls::from_dir(&out).unwrap();
    let ch = connect_tls(&srv.url(), Some(&tls), 5, Duration::from_millis(200))
        .await
        .unwrap();
    let mut k = pb::kiosk_service_client::KioskServiceClient::new(ch.clone());
    let ch_for_stream = ch.clone();
    issue_ok(&mut k, "invoice", "").await;
    let e = pb::admin_service_client::AdminServiceClient::new(ch)
        .get_server_status(pb::ServerStatusRequest {})
        .await
        .unwrap_err();
    assert_eq!(reason(&e), ErrorReason::RoleForbidden);
    // The key never left the device; its file is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out.join("device.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "device.key is readable by others: {mode:o}"
    );

    // The same code again: refused, and it enrolled nothing.
    let e = hall_server::pki_client::redeem(&srv.url(), &ca, &code, &dir.path().join("again"))
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("unknown, already used or expired"),
        "{e:#}"
    );
    assert!(!dir.path().join("again/device.pem").exists());
    // A made-up code: the same answer.
    let e = hall_server::pki_client::redeem(&srv.url(), &ca, "AAAAA-BBBBB", &dir.path().join("x"))
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("PermissionDenied") || format!("{e:#}").contains("permission"),
        "{e:#}"
    );

    // Listed, then revoked: the server refuses it within about a second.
    let listed = hall_server::pki::devices(dir.path()).unwrap();
    assert!(
        listed
            .iter()
            .any(|d| d.subject.id == "kiosk-9" && !d.revoked),
        "{listed:?}"
    );
    // A stream it opened before the revocation ends at the next event.
    let snap = pb::event_service_client::EventServiceClient::new(ch_for_stream.clone())
        .snapshot(pb::SnapshotRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut stream = pb::event_service_client::EventServiceClient::new(ch_for_stream)
        .subscribe(pb::SubscribeRequest {
            from_seq: snap.seq + 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(hall_server::pki::revoke(dir.path(), "kiosk-9").unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let e = k.get_catalog(pb::GetCatalogRequest {}).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    assert_eq!(reason(&e), ErrorReason::CertificateRequired);
    issue_ok(&mut srv.kiosk().await, "invoice", "").await;
    let e = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_stream::StreamExt::next(&mut stream),
    )
    .await
    .expect("the stream answers")
    .expect("an item")
    .expect_err("no event for a revoked device");
    assert_eq!(reason(&e), ErrorReason::CertificateRequired, "{e:?}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_session_works_only_from_the_terminal_that_logged_in() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut k = srv.kiosk().await;
    issue_ok(&mut k, "invoice", "").await;
    let mine = channel_named(&srv.url(), Role::Counter, "counter-a").await;
    let other = channel_named(&srv.url(), Role::Counter, "counter-b").await;
    let mut mine = pb::counter_service_client::CounterServiceClient::new(mine);
    let mut other = pb::counter_service_client::CounterServiceClient::new(other);
    let session = login(&mut mine, 1, "c01").await;
    // The token copied to another terminal is no session there.
    let e = other
        .call_next(pb::WindowRequest {
            session: Some(session.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert_eq!(reason(&e), ErrorReason::NotLoggedIn);
    // At its own terminal it works.
    mine.get_my_queue(pb::WindowRequest {
        session: Some(session),
    })
    .await
    .unwrap();
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_makes_its_ca_refuses_plaintext_and_serves_plaintext_only_as_a_demo() {
    let bin = workspace_bin("hall-server");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // init: the CA where the interface says; enroll: the code as the last line.
    let out = std::process::Command::new(&bin)
        .args(["init", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(data.join("tls/ca.pem").exists());
    let key_mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(data.join("tls/ca.key"))
            .unwrap()
            .permissions()
            .mode()
    };
    assert_eq!(key_mode & 0o077, 0, "ca.key: {key_mode:o}");
    let out = std::process::Command::new(&bin)
        .args(["enroll", "--role", "board", "--id", "board-7", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let code = String::from_utf8(out.stdout).unwrap();
    let code = code.lines().last().unwrap();
    assert_eq!(code.len(), 11, "{code}");
    let out = std::process::Command::new(&bin)
        .args(["enroll", "--role", "janitor", "--id", "x", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role 'janitor'"));

    for demo in [false, true] {
        let mut cmd = std::process::Command::new(&bin);
        cmd.args([
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--always-open",
            "--data-dir",
        ])
        .arg(dir.path().join(format!("d{demo}")));
        if demo {
            cmd.arg("--insecure-demo");
        }
        let log = dir.path().join(format!("log{demo}"));
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let addr = listening_addr(&mut child);
        let plain = connect_tls(
            &format!("http://{addr}"),
            None,
            3,
            Duration::from_millis(100),
        )
        .await;
        let answered = match plain {
            Ok(ch) => pb::event_service_client::EventServiceClient::new(ch)
                .snapshot(pb::SnapshotRequest {})
                .await
                .is_ok(),
            Err(_) => false,
        };
        assert_eq!(
            answered, demo,
            "plaintext answered: {answered}, demo: {demo}"
        );
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(&log).unwrap();
        assert_eq!(log.contains("--insecure-demo: plaintext"), demo, "{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_is_cancelled_from_a_kiosk_only_with_its_secret_and_by_staff_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut k = srv.kiosk().await;
    let mut events = srv.subscribe_from_now().await;
    let t = issue_ok(&mut k, "invoice", "secret-1").await;
    // 128 bits, once, to the issuer; the same on a retry of the request.
    assert_eq!(t.holder_secret.len(), 32, "{t:?}");
    assert!(t.holder_secret.chars().all(|c| c.is_ascii_hexdigit()));
    let again = issue_ok(&mut k, "invoice", "secret-1").await;
    assert_eq!(
        (again.number.as_str(), again.holder_secret.as_str()),
        (t.number.as_str(), t.holder_secret.as_str())
    );
    let other = issue_ok(&mut k, "invoice", "secret-2").await;
    assert_ne!(other.holder_secret, t.holder_secret);
    // Never in a read or an event.
    let status = k
        .get_ticket_status(pb::GetTicketStatusRequest {
            number: t.number.clone(),
            service_date: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(status.holder_secret.is_empty());
    let issued = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_stream::StreamExt::next(&mut events),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    let bytes = prost::Message::encode_to_vec(&issued);
    assert!(
        !bytes.windows(32).any(|w| w == t.holder_secret.as_bytes()),
        "the secret is in the event stream"
    );

    let cancel = |number: &str, secret: &str, reason: &str| pb::CancelTicketRequest {
        number: number.into(),
        secret: secret.into(),
        reason: reason.into(),
    };
    // The number alone (it is on the board) or another ticket's secret: refused.
    for secret in [
        "",
        other.holder_secret.as_str(),
        "0123456789abcdef0123456789abcdef",
    ] {
        let e = k
            .cancel_ticket(cancel(&t.number, secret, ""))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        assert_eq!(reason(&e), ErrorReason::TicketSecretMismatch);
    }
    let done = k
        .cancel_ticket(cancel(&t.number, &t.holder_secret, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.state, pb::TicketState::Cancelled as i32);

    // Staff: any ticket by number, with a reason.
    let mut staff =
        pb::kiosk_service_client::KioskServiceClient::new(srv.channel_as(Role::Supervisor).await);
    let e = staff
        .cancel_ticket(cancel(&other.number, "", " "))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let done = staff
        .cancel_ticket(cancel(&other.number, "", "visitor left, asked at the desk"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.state, pb::TicketState::Cancelled as i32);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_actions_reads_of_personal_data_and_enrollments_are_in_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut k = srv.kiosk().await;
    let t = issue_ok(&mut k, "social_insurance", "").await;
    let mut c = srv.counter().await;
    let s = login(&mut c, 1, "c01").await;
    let called = c
        .call_next(pb::WindowRequest {
            session: Some(s.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(called.number, t.number);
    // A refused action is recorded too.
    c.call_next(pb::WindowRequest {
        session: Some(s.clone()),
    })
    .await
    .unwrap_err();
    c.pause(pb::PauseRequest {
        session: Some(s.clone()),
        reason: "午休".into(),
    })
    .await
    .unwrap_err();
    // c01's token sent from another terminal: refused, and recorded as that
    // terminal's, not in c01's name. A wrong PIN is recorded too.
    let mut other = pb::counter_service_client::CounterServiceClient::new(
        channel_named(&srv.url(), Role::Counter, "counter-x").await,
    );
    other
        .recall(pb::WindowRequest {
            session: Some(s.clone()),
        })
        .await
        .unwrap_err();
    other
        .login(pb::LoginRequest {
            window: 2,
            clerk_id: "c02".into(),
            pin: "0000".into(),
        })
        .await
        .unwrap_err();
    // A supervisor looks the ticket up and frees the window.
    let mut sup_k =
        pb::kiosk_service_client::KioskServiceClient::new(srv.channel_as(Role::Supervisor).await);
    sup_k
        .get_ticket_status(pb::GetTicketStatusRequest {
            number: t.number.clone(),
            service_date: String::new(),
        })
        .await
        .unwrap();
    let mut admin =
        pb::admin_service_client::AdminServiceClient::new(srv.channel_as(Role::Supervisor).await);
    admin
        .force_logout(pb::ForceLogoutRequest {
            window: 1,
            reason: "terminal frozen".into(),
            current_ticket: pb::ForcedTicket::Requeue as i32,
        })
        .await
        .unwrap();
    // An enrollment.
    let code = hall_server::pki::enroll(dir.path(), Role::Board, "board-9").unwrap();
    hall_server::pki_client::redeem(
        &srv.url(),
        &dir.path().join("tls/ca.pem"),
        &code,
        &dir.path().join("b9"),
    )
    .await
    .unwrap();
    // A revocation (the CLI appends to tls/revoked beside the running
    // server): recorded once, within a few seconds.
    assert_eq!(hall_server::pki::revoke(dir.path(), "board-9").unwrap(), 1);
    let revocations = async || {
        admin
            .clone()
            .list_audit(pb::ListAuditRequest {
                who: "revoke".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries
            .into_iter()
            .filter(|e| e.action == "revoke certificate" && e.subject.contains("board-9"))
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while revocations().await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "revocation not audited"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = revocations().await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        r[0].subject,
        format!("board board-9, certificate {}", {
            hall_server::pki::devices(dir.path())
                .unwrap()
                .into_iter()
                .find(|d| d.subject.id == "board-9")
                .unwrap()
                .subject
                .serial
        })
    );

    let list = admin
        .list_audit(pb::ListAuditRequest {
            as_csv: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rows: Vec<String> = list
        .entries
        .iter()
        .map(|e| {
            format!(
                "{} | {} | {} | {} | {} | {} | {}",
                e.who, e.role, e.device, e.action, e.subject, e.why, e.outcome
            )
        })
        .collect();
    let has = |want: &str| rows.iter().any(|r| r.starts_with(want));
    // Newest first.
    assert!(
        list.entries.windows(2).all(|w| w[0].seq > w[1].seq),
        "{rows:#?}"
    );
    assert!(
        has("c01 | counter | counter-t | CounterService/Login | window 1 |  | ok"),
        "{rows:#?}"
    );
    assert!(
        has("c01 | counter | counter-t | CounterService/CallNext | window 1 |  | ok"),
        "{rows:#?}"
    );
    assert!(
        has("c01 | counter | counter-t | CounterService/CallNext | window 1 |  | refused: "),
        "{rows:#?}"
    );
    assert!(
        has("supervisor-t | supervisor | supervisor-t | KioskService/GetTicketStatus | ticket "),
        "{rows:#?}"
    );
    assert!(
        has(
            "supervisor-t | supervisor | supervisor-t | AdminService/ForceLogout | window 1 | terminal frozen | ok"
        ),
        "{rows:#?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("DeviceService/Redeem | board board-9 enrolled")),
        "{rows:#?}"
    );
    assert!(
        has("counter-x | counter | counter-x | CounterService/Recall | window 1 |  | refused: "),
        "{rows:#?}"
    );
    assert!(
        !rows
            .iter()
            .any(|r| r.starts_with("c01") && r.contains("Recall")),
        "{rows:#?}"
    );
    assert!(
        has(
            "counter-x | counter | counter-x | CounterService/Login | clerk c02 |  | refused: wrong clerk id or PIN"
        ),
        "{rows:#?}"
    );
    // A kiosk taking a number is no staff action.
    assert!(!rows.iter().any(|r| r.contains("IssueTicket")), "{rows:#?}");
    // The CSV: a header and one line per entry, the comma-holding reason quoted.
    let lines: Vec<&str> = list.csv.lines().collect();
    assert_eq!(
        lines[0],
        "seq,time,who,role,device,action,subject,why,outcome"
    );
    assert_eq!(lines.len(), list.entries.len() + 1);
    // Filtered by who.
    let only = admin
        .list_audit(pb::ListAuditRequest {
            who: "supervisor-t".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !only.entries.is_empty()
            && only
                .entries
                .iter()
                .all(|e| e.device == "supervisor-t" || e.who == "supervisor-t")
    );
    // The stream tells boards only that the number is taken.
    let snap = srv
        .events()
        .await
        .snapshot(pb::SnapshotRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut sub = srv
        .events()
        .await
        .subscribe(pb::SubscribeRequest { from_seq: 1 })
        .await
        .unwrap()
        .into_inner();
    let mut audited = 0;
    while let Some(e) = tokio_stream::StreamExt::next(&mut sub).await {
        let e = e.unwrap();
        if let Some(pb::event::Body::Audited(a)) = &e.body {
            assert_eq!(*a, pb::Audited {});
            audited += 1;
        }
        if e.seq >= snap.seq {
            break;
        }
    }
    assert!(audited >= 6, "{audited}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_reports_only_for_itself() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut k = srv.kiosk().await;
    for id in ["kiosk-t/printer", "kiosk-9/printer"] {
        k.report_device(pb::ReportDeviceRequest {
            device_id: id.into(),
            kind: "printer".into(),
            status: "paper_out".into(),
            detail: String::new(),
        })
        .await
        .unwrap();
    }
    let report = srv
        .admin()
        .await
        .get_day_report(pb::DayReportRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut ids: Vec<String> = report
        .device_alerts
        .into_iter()
        .map(|d| d.device_id)
        .collect();
    ids.sort();
    // Its own printer as named; another kiosk's name only under its own.
    assert_eq!(ids, ["kiosk-t/kiosk-9/printer", "kiosk-t/printer"]);
    srv.stop().await;
}

/// PIPL retention: persons older than the period leave the live state, the
/// stored log (its archive rewritten) and the snapshots, with a report of
/// what went; the day's figures and the gap-free stream stay as they were.
#[tokio::test]
async fn a_retention_run_leaves_no_person_older_than_the_period_anywhere_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut k = srv.kiosk().await;
    let people = [
        ("11010519491231002X", "张小三"),
        ("110105198001010016", "李四光"),
    ];
    for (i, (id, name)) in people.iter().enumerate() {
        let mut req = issue("social_insurance", &format!("p{i}"));
        req.identity = Some(pb::Identity {
            id_number: (*id).into(),
            name: (*name).into(),
            birth_date: String::new(),
        });
        k.issue_ticket(req).await.unwrap();
    }
    // Enough events for closed, archived segments (the harness rotates
    // every 100) besides the current one.
    for _ in 0..120 {
        issue_ok(&mut k, "pension", "").await;
    }
    let mut c = srv.counter().await;
    let s = login(&mut c, 1, "c01").await;
    let ws = || pb::WindowRequest {
        session: Some(s.clone()),
    };
    assert_eq!(
        c.call_next(ws()).await.unwrap().into_inner().masked_name,
        "张*三"
    );
    c.start_service(ws()).await.unwrap();
    c.finish(pb::FinishRequest {
        session: Some(s.clone()),
        outcome: pb::FinishOutcome::Resolved as i32,
        unresolved_reason: String::new(),
        ..Default::default()
    })
    .await
    .unwrap();
    srv.pad(s.window)
        .await
        .rate(pb::PadRatingRequest {
            window: s.window,
            number: "A001".into(),
            rating: 1,
            comment: "太慢".into(),
        })
        .await
        .unwrap();
    let mut admin = srv.admin().await;
    let report = |r: pb::DayReport| (r.issued, r.served, r.open_follow_ups);
    let before = report(
        admin
            .get_day_report(pb::DayReportRequest {})
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(before, (122, 1, 1));
    srv.stop().await;

    // What to look for: the person keys (the site secret's keyed hashes)
    // and the masked names; each is on disk now, so the scan can find them.
    let secret = hall_server::store::Store::open(dir.path(), false)
        .unwrap()
        .site_secret()
        .unwrap();
    let mut needles: Vec<Vec<u8>> = vec!["张*三".into(), "李*光".into()];
    for (id, _) in people {
        needles.push(
            hall_privacy::IdNumber::parse(id)
                .unwrap()
                .keyed_hash(&secret)
                .into_bytes(),
        );
    }
    let found = |needle: &[u8]| -> Vec<std::path::PathBuf> {
        super::walk(dir.path())
            .into_iter()
            .filter(|p| {
                let mut bytes = std::fs::read(p).unwrap();
                // Archived log segments are gzip streams: search what they hold.
                if bytes.starts_with(&[0x1f, 0x8b]) {
                    let mut plain = Vec::new();
                    std::io::Read::read_to_end(
                        &mut flate2::read::GzDecoder::new(&bytes[..]),
                        &mut plain,
                    )
                    .unwrap();
                    bytes = plain;
                }
                bytes.windows(needle.len()).any(|w| w == needle)
            })
            .collect()
    };
    for n in &needles {
        assert!(
            !found(n).is_empty(),
            "{} is not on disk before the run: the scan proves nothing",
            String::from_utf8_lossy(n)
        );
    }

    // A period of 1 ms: everything so far is older.
    let srv = TestServer::start_with(
        dir.path(),
        always_open(),
        "127.0.0.1:0".parse().unwrap(),
        |o| o.retention_override_ms = Some(1),
    )
    .await;
    let mut admin = srv.admin().await;
    let after = report(
        admin
            .get_day_report(pb::DayReportRequest {})
            .await
            .unwrap()
            .into_inner(),
    );
    assert_eq!(after, before, "the figures stay");
    let f = admin
        .list_follow_ups(pb::ListFollowUpsRequest {
            include_closed: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(f.items.len(), 1);
    assert_eq!(f.items[0].masked_name, "", "the follow-up lost its name");
    // The whole log from 1, gap-free, with the run's report in it.
    let mut events = srv.events().await;
    let last = events
        .snapshot(pb::SnapshotRequest {})
        .await
        .unwrap()
        .into_inner()
        .seq;
    let mut stream = events
        .subscribe(pb::SubscribeRequest { from_seq: 1 })
        .await
        .unwrap()
        .into_inner();
    let mut expect = 1;
    let mut retention = None;
    while expect <= last {
        let e = stream.message().await.unwrap().unwrap();
        assert_eq!(e.seq, expect, "gap or duplicate in the rewritten log");
        expect += 1;
        match e.body {
            Some(pb::event::Body::RetentionApplied(r)) => retention = Some(r),
            Some(pb::event::Body::TicketIssued(t)) => {
                assert_eq!(t.masked_name, "", "ticket {} kept its name", t.number)
            }
            Some(pb::event::Body::TicketCalled(t)) => {
                assert_eq!(t.call.unwrap().masked_name, "", "a call kept its name")
            }
            _ => {}
        }
    }
    let r = retention.expect("a RetentionApplied event");
    assert_eq!((r.tickets, r.follow_ups), (2, 1), "{r:?}");
    assert!(r.log_records >= 4, "issues x2, call, follow-up: {r:?}");
    srv.stop().await;

    for n in &needles {
        let files = found(n);
        assert!(
            files.is_empty(),
            "{} is still in {files:?}",
            String::from_utf8_lossy(n)
        );
    }
}

/// A supervisor logs in with a password from a counter terminal: calls with
/// the session's token act as a supervisor, in the account's name, from
/// that terminal only, until logout; five wrong passwords lock the account.
#[tokio::test]
async fn a_supervisor_password_session_acts_in_their_name_and_five_failures_lock_the_account() {
    use hall_server::engine::catalog::{StaffAccount, StaffRole, hash_pin};
    let dir = tempfile::tempdir().unwrap();
    let mut cat = always_open();
    cat.staff.push(StaffAccount {
        id: "sup9".into(),
        name: "赵主任".into(),
        role: StaffRole::Supervisor,
        password_argon2: hash_pin("sup9", "correct horse 9", [7; 16]),
    });
    let srv = TestServer::start(dir.path(), cat).await;
    let terminal = channel_named(&srv.url(), Role::Counter, "counter-7").await;
    let mut admin = pb::admin_service_client::AdminServiceClient::new(terminal);
    // The terminal alone may not read the day report.
    let e = admin
        .get_day_report(pb::DayReportRequest {})
        .await
        .unwrap_err();
    assert_eq!(reason(&e), ErrorReason::RoleForbidden, "{e:?}");
    let s = admin
        .staff_login(pb::StaffLoginRequest {
            account: "sup9".into(),
            password: "correct horse 9".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((s.role.as_str(), s.name.as_str()), ("supervisor", "赵主任"));
    assert_eq!(s.idle_minutes, 15);
    fn with<T>(token: &str, msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        r
    }
    admin
        .get_day_report(with(&s.token, pb::DayReportRequest {}))
        .await
        .unwrap();
    admin
        .list_follow_ups(with(&s.token, pb::ListFollowUpsRequest::default()))
        .await
        .unwrap();
    // A supervisor, not an admin.
    let e = admin
        .get_config(with(&s.token, pb::GetConfigRequest {}))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), ErrorReason::RoleForbidden, "{e:?}");
    // The token from another terminal, or a made-up one: refused.
    let mut other = pb::admin_service_client::AdminServiceClient::new(
        channel_named(&srv.url(), Role::Counter, "counter-8").await,
    );
    for token in [s.token.as_str(), "00112233445566778899aabbccddeeff"] {
        let e = other
            .get_day_report(with(token, pb::DayReportRequest {}))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        assert_eq!(reason(&e), ErrorReason::StaffSessionInvalid, "{e:?}");
    }
    // Logged out: the token opens nothing any more.
    let out = admin
        .staff_logout(pb::StaffLogoutRequest {
            token: s.token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(out.ended);
    let e = admin
        .get_day_report(with(&s.token, pb::DayReportRequest {}))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), ErrorReason::StaffSessionInvalid, "{e:?}");

    // Five wrong passwords from counter-8: the account is locked, and the
    // right password no longer opens a session (from any device).
    for _ in 0..5 {
        let e = other
            .staff_login(pb::StaffLoginRequest {
                account: "sup9".into(),
                password: "wrong horse 99".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(reason(&e), ErrorReason::BadCredentials, "{e:?}");
    }
    let e = admin
        .staff_login(pb::StaffLoginRequest {
            account: "sup9".into(),
            password: "correct horse 9".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&e), ErrorReason::LockedOut, "{e:?}");
    assert_eq!(
        Refusal::from_status(&e)
            .metadata
            .get("scope")
            .map(String::as_str),
        Some("account")
    );

    // The trail names the account, the device and the outcome.
    let mut sup =
        pb::admin_service_client::AdminServiceClient::new(srv.channel_as(Role::Supervisor).await);
    let trail = sup
        .list_audit(pb::ListAuditRequest::default())
        .await
        .unwrap()
        .into_inner();
    let seen: Vec<(String, String, String, String)> = trail
        .entries
        .iter()
        .map(|e| {
            (
                e.who.clone(),
                e.device.clone(),
                e.action.clone(),
                format!("{} {}", e.subject, e.outcome),
            )
        })
        .collect();
    let has = |who: &str, device: &str, action: &str, outcome: &str| {
        seen.iter().any(|(w, d, a, o)| {
            w == who && d == device && a.ends_with(action) && o.starts_with(outcome)
        })
    };
    assert!(
        has("sup9", "counter-7", "StaffLogin", "staff sup9 ok"),
        "{seen:#?}"
    );
    assert!(
        has("sup9", "counter-7", "ListFollowUps", "follow-ups ok"),
        "{seen:#?}"
    );
    assert!(
        has(
            "counter-8",
            "counter-8",
            "StaffLogin",
            "staff sup9 refused: wrong account or password"
        ),
        "{seen:#?}"
    );
    srv.stop().await;
}
