//! The one integration test binary: real server, real gRPC over TCP on
//! 127.0.0.1, real sled on disk, and the real binary for the crash test.
//!
//! Why one long file: the gRPC contract tests share the harness and small
//! helpers; the crash, end-to-end and simulator tests have their own modules.

use hall_proto::errors::{ErrorReason, Refusal};
use hall_proto::v1 as pb;
use hall_tests::*;
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::Code;

fn ws(s: pb::Session) -> pb::WindowRequest {
    pb::WindowRequest { session: Some(s) }
}

#[tokio::test]
async fn issue_call_finish_rate_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut kiosk = srv.kiosk().await;
    let mut counter = srv.counter().await;

    let cat = kiosk
        .get_catalog(pb::GetCatalogRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(cat.categories.len() >= 20);
    assert_eq!(cat.windows.len(), 30);
    let a1 = issue_ok(&mut kiosk, "social_insurance", "r1").await;
    let a2 = issue_ok(&mut kiosk, "social_insurance", "r2").await;
    assert_eq!((a1.number.as_str(), a2.number.as_str()), ("A001", "A002"));
    assert_eq!(a2.people_ahead, 1);
    assert_eq!(
        a2.estimated_wait_min, 8,
        "one ahead x 8 expected minutes / 1 window"
    );

    let s = login(&mut counter, 1, "c01").await;
    let called = counter.call_next(ws(s.clone())).await.unwrap().into_inner();
    assert_eq!(called.number, "A001");
    assert_eq!(called.state, pb::TicketState::Called as i32);
    assert!(
        called
            .call_reason
            .starts_with("本窗口主办业务，按取号先后（已等 0 分钟）"),
        "{}",
        called.call_reason
    );
    counter.recall(ws(s.clone())).await.unwrap();
    let started = counter
        .start_service(ws(s.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.state, pb::TicketState::Serving as i32);
    let done = counter
        .finish(pb::FinishRequest {
            session: Some(s.clone()),
            outcome: pb::FinishOutcome::Resolved as i32,
            unresolved_reason: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.state, pb::TicketState::Done as i32);
    let rated = srv
        .pad(s.window)
        .await
        .rate(pb::PadRatingRequest {
            window: s.window,
            number: "A001".into(),
            rating: 2,
            comment: "太慢".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rated.rating, 2);
    let mut admin = srv.admin().await;
    let f = admin
        .list_follow_ups(pb::ListFollowUpsRequest {
            include_closed: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(f.items.len(), 1);
    assert_eq!(
        (f.items[0].kind.as_str(), f.items[0].reason.as_str()),
        ("bad_rating", "太慢")
    );

    let q = counter
        .get_my_queue(ws(s.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        q.waiting
            .iter()
            .map(|t| t.number.as_str())
            .collect::<Vec<_>>(),
        ["A002"]
    );
    assert_eq!(q.today.unwrap().served, 1);
    let report = admin
        .get_day_report(pb::DayReportRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (report.issued, report.served, report.open_follow_ups),
        (2, 1, 1)
    );
    srv.stop().await;
}

#[tokio::test]
async fn identity_is_hashed_masked_and_one_ticket_per_person() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut kiosk = srv.kiosk().await;
    let identity = pb::Identity {
        id_number: "11010519491231002X".into(),
        name: "张小三".into(),
        birth_date: String::new(),
    };
    let mut req = issue("social_insurance", "p1");
    req.identity = Some(identity.clone());
    req.priority = pb::PriorityClass::Elderly as i32; // born 1949: the green channel
    let t = kiosk.issue_ticket(req.clone()).await.unwrap().into_inner();
    assert_eq!(t.masked_name, "张*三");
    assert_eq!(t.priority, pb::PriorityClass::Elderly as i32);
    req.request_id = "p2".into();
    let err = kiosk.issue_ticket(req.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err}");
    assert!(err.message().contains("A001"), "{err}");
    // A bad check digit is refused without echoing the number.
    req.identity = Some(pb::Identity {
        id_number: "110105194912310021".into(),
        ..identity
    });
    let err = kiosk.issue_ticket(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(!err.message().contains("110105"), "{err}");
    srv.stop().await;
    // The ID number never reaches the disk.
    let mut found = false;
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        found |= bytes.windows(18).any(|w| w == b"11010519491231002X");
    }
    assert!(!found, "plain ID number found in the data dir");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[tokio::test]
async fn errors_carry_the_right_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cat = always_open();
    cat.categories[0].daily_quota = 1;
    let srv = TestServer::start(dir.path(), cat).await;
    let mut kiosk = srv.kiosk().await;
    let mut counter = srv.counter().await;

    let err = kiosk.issue_ticket(issue("no_such", "")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("no_such"), "{err}");
    // Every refusal carries the rich error model: a stable reason in an
    // ErrorInfo of domain hall.v1, with metadata a client can show.
    let r = Refusal::from_status(&err);
    assert_eq!(r.reason, ErrorReason::UnknownCategory, "{err:?}");
    assert_eq!(r.meta("category"), "no_such");
    issue_ok(&mut kiosk, "social_insurance", "").await;
    let err = kiosk
        .issue_ticket(issue("social_insurance", ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    let r = Refusal::from_status(&err);
    assert_eq!(r.reason, ErrorReason::QuotaExhausted);
    assert_eq!(
        (r.meta("category"), r.meta("quota")),
        ("social_insurance", "1")
    );
    // A bad field names itself in a BadRequest, and the ID number is never echoed.
    let mut bad = issue("pension", "");
    bad.identity = Some(pb::Identity {
        id_number: "110101199001011235".into(),
        name: "王小明".into(),
        birth_date: String::new(),
    });
    let err = kiosk.issue_ticket(bad).await.unwrap_err();
    let r = Refusal::from_status(&err);
    assert_eq!(r.reason, ErrorReason::InvalidIdNumber, "{err:?}");
    assert_eq!(r.field_violations[0].0, "identity.id_number");
    assert!(!format!("{err:?}").contains("110101199001011235"));
    let err = counter
        .call_next(ws(pb::Session {
            window: 1,
            token: "forged".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err}");
    assert_eq!(Refusal::from_status(&err).reason, ErrorReason::NotLoggedIn);
    let err = counter
        .login(pb::LoginRequest {
            window: 1,
            clerk_id: "c01".into(),
            pin: "0000".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    login(&mut counter, 1, "c01").await;
    let err = counter
        .login(pb::LoginRequest {
            window: 1,
            clerk_id: "c02".into(),
            pin: "1234".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("c01"), "says by whom: {err}");
    let r = Refusal::from_status(&err);
    assert_eq!(r.reason, ErrorReason::WindowTaken);
    assert_eq!((r.meta("window"), r.meta("clerk")), ("1", "c01"));
    // A broken config update names the key and changes nothing.
    let mut admin = srv.admin().await;
    let doc = admin
        .get_config(pb::GetConfigRequest {})
        .await
        .unwrap()
        .into_inner();
    let broken = doc.toml.replacen("prefix = \"B\"", "prefix = \"b1\"", 1);
    let err = admin
        .update_config(pb::ConfigDocument { toml: broken })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("categories[1].prefix"), "{err}");
    assert_eq!(Refusal::from_status(&err).field_violations[0].0, "toml");
    let t = kiosk
        .get_ticket_status(pb::GetTicketStatusRequest {
            number: "A001".into(),
            service_date: String::new(),
        })
        .await;
    assert_eq!(
        t.unwrap().into_inner().state,
        pb::TicketState::Waiting as i32,
        "nothing lost"
    );
    srv.stop().await;
}

#[tokio::test]
async fn outside_issuing_hours_says_when_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    let mut cat = always_open();
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive();
    cat.calendar.holidays = vec![today, today.succ_opt().unwrap()];
    let srv = TestServer::start(dir.path(), cat).await;
    let err = srv
        .kiosk()
        .await
        .issue_ticket(issue("social_insurance", ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    let day_after = today.succ_opt().unwrap().succ_opt().unwrap();
    assert!(
        err.message().contains(&format!("{day_after} 00:00")),
        "{err}"
    );
    let r = Refusal::from_status(&err);
    assert_eq!(r.reason, ErrorReason::OutsideHours);
    assert_eq!(r.meta("next_opening"), format!("{day_after} 00:00"));
    srv.stop().await;
}

#[tokio::test]
async fn retried_issue_with_same_request_id_is_answered_once() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut kiosk = srv.kiosk().await;
    let a = issue_ok(&mut kiosk, "tax_declaration", "same").await;
    let b = issue_ok(&mut kiosk, "tax_declaration", "same").await;
    assert_eq!((a.id, a.number.as_str()), (b.id, "F001"));
    srv.stop().await;
    // Also across a restart: the request id is part of the stored state.
    let srv = TestServer::start(dir.path(), always_open()).await;
    let c = issue_ok(&mut srv.kiosk().await, "tax_declaration", "same").await;
    assert_eq!(c.id, a.id);
    let d = issue_ok(&mut srv.kiosk().await, "tax_declaration", "other").await;
    assert_eq!(d.number, "F002");
    srv.stop().await;
}

async fn next_events(stream: &mut tonic::Streaming<pb::Event>, n: usize) -> Vec<pb::Event> {
    let mut out = vec![];
    while out.len() < n {
        let e = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("event in time");
        out.push(e.unwrap().unwrap());
    }
    out
}

#[tokio::test]
async fn subscriber_resumes_with_exactly_the_missed_events() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut events = srv.events().await;
    let snap = events
        .snapshot(pb::SnapshotRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(snap.seq >= 2, "genesis catalogue and day roll are events");
    assert_eq!(snap.windows.len(), 30);
    let mut stream = events
        .subscribe(pb::SubscribeRequest {
            from_seq: snap.seq + 1,
        })
        .await
        .unwrap()
        .into_inner();
    let mut kiosk = srv.kiosk().await;
    let mut counter = srv.counter().await;
    issue_ok(&mut kiosk, "social_insurance", "").await;
    let got = next_events(&mut stream, 1).await;
    assert_eq!(got[0].seq, snap.seq + 1);
    let last_seen = got[0].seq;
    drop(stream); // the board loses its connection

    let s = login(&mut counter, 1, "c01").await;
    for _ in 0..3 {
        issue_ok(&mut kiosk, "social_insurance", "").await;
    }
    let called = counter.call_next(ws(s.clone())).await.unwrap().into_inner();
    assert_eq!(called.number, "A001");

    // Resume: exactly the missed events, in order, then live ones.
    let mut stream = events
        .subscribe(pb::SubscribeRequest {
            from_seq: last_seen + 1,
        })
        .await
        .unwrap()
        .into_inner();
    // The login, its audit entry, three tickets, the call, its audit entry.
    let missed = next_events(&mut stream, 7).await;
    let seqs: Vec<u64> = missed.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (last_seen + 1..=last_seen + 7).collect::<Vec<_>>());
    assert!(matches!(missed[6].body, Some(pb::event::Body::Audited(_))));
    match missed[5].body.as_ref().unwrap() {
        pb::event::Body::TicketCalled(c) => {
            let call = c.call.as_ref().unwrap();
            assert_eq!((call.number.as_str(), call.window), ("A001", 1));
        }
        other => panic!("expected the call, got {other:?}"),
    }
    counter.recall(ws(s)).await.unwrap();
    let live = next_events(&mut stream, 2).await;
    assert_eq!(live[0].seq, last_seen + 8);
    assert!(
        matches!(live[0].body, Some(pb::event::Body::TicketCalled(ref c)) if c.call.as_ref().unwrap().recall)
    );
    assert_eq!(live[1].seq, last_seen + 9);
    assert!(matches!(live[1].body, Some(pb::event::Body::Audited(_))));
    let extra = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(extra.is_err(), "no duplicate or stray event: {extra:?}");
    srv.stop().await;
}

#[tokio::test]
async fn many_subscribers_see_every_event_in_order_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let from = srv
        .events()
        .await
        .snapshot(pb::SnapshotRequest {})
        .await
        .unwrap()
        .into_inner()
        .seq
        + 1;
    let mut streams = vec![];
    for _ in 0..20 {
        streams.push(
            srv.events()
                .await
                .subscribe(pb::SubscribeRequest { from_seq: from })
                .await
                .unwrap()
                .into_inner(),
        );
    }
    let mut tasks = vec![];
    for i in 0..8 {
        let mut k = srv.kiosk().await;
        tasks.push(tokio::spawn(async move {
            for j in 0..25 {
                let cat =
                    ["social_insurance", "tax_declaration", "invoice", "id_card"][(i + j) % 4];
                issue_ok(&mut k, cat, "").await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for s in &mut streams {
        let evs = next_events(s, 200).await;
        assert!(
            evs.windows(2).all(|w| w[1].seq == w[0].seq + 1),
            "gap or disorder"
        );
        assert_eq!(evs[0].seq, from);
    }
    srv.stop().await;
}

#[tokio::test]
async fn restart_keeps_everything_and_the_counter_recovers_its_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut kiosk = srv.kiosk().await;
    let mut counter = srv.counter().await;
    for _ in 0..120 {
        issue_ok(&mut kiosk, "medical_insurance", "").await;
    }
    let s = login(&mut counter, 5, "c05").await;
    let called = counter.call_next(ws(s.clone())).await.unwrap().into_inner();
    counter.start_service(ws(s.clone())).await.unwrap();
    let before = srv
        .events()
        .await
        .snapshot(pb::SnapshotRequest {})
        .await
        .unwrap()
        .into_inner();
    srv.stop().await;

    // Snapshots every 50 events: this restart loads one and replays the tail.
    let srv = TestServer::start(dir.path(), always_open()).await;
    let after = srv
        .events()
        .await
        .snapshot(pb::SnapshotRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.seq, before.seq);
    assert_eq!(after.queues, before.queues);
    let mut counter = srv.counter().await;
    let relog = counter
        .login(pb::LoginRequest {
            window: 5,
            clerk_id: "c05".into(),
            pin: "1234".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let current = relog
        .current
        .expect("the window's ticket survives the restart");
    assert_eq!(
        (current.number, current.state),
        (called.number, pb::TicketState::Serving as i32)
    );
    let next = issue_ok(&mut srv.kiosk().await, "medical_insurance", "").await;
    assert_eq!(next.number, "D121", "numbering continues");
    srv.stop().await;
}

#[tokio::test]
async fn reflection_lists_the_services_and_health_is_serving() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut health = HealthClient::new(srv.channel().await);
    for service in [
        "",
        "hall.v1.KioskService",
        "hall.v1.CounterService",
        "hall.v1.EventService",
        "hall.v1.AdminService",
    ] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status, ServingStatus::Serving as i32, "{service}");
    }
    let mut refl = ServerReflectionClient::new(srv.channel().await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = refl
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let msg = resp.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("{msg:?}")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for s in [
        "hall.v1.KioskService",
        "hall.v1.CounterService",
        "hall.v1.EventService",
        "hall.v1.AdminService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == s), "{s} missing from {names:?}");
    }
    // v1alpha too: Python's grpcio-reflection and older grpcurl speak only it.
    {
        use tonic_reflection::pb::v1alpha::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let mut refl = ServerReflectionClient::new(srv.channel().await);
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut resp = refl
            .server_reflection_info(tokio_stream::iter([req]))
            .await
            .expect("reflection v1alpha is served")
            .into_inner();
        let msg = resp.next().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
            panic!("{msg:?}")
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for s in [
            "hall.v1.KioskService",
            "hall.v1.CounterService",
            "hall.v1.EventService",
            "hall.v1.AdminService",
        ] {
            assert!(
                names.iter().any(|n| n == s),
                "v1alpha: {s} missing from {names:?}"
            );
        }
    }
    // A load balancer's Health/Watch stream never ends by itself: the
    // server must still stop (after its drain time), not wait forever.
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(watch.next().await.is_some());
    tokio::time::timeout(Duration::from_secs(30), srv.stop())
        .await
        .expect("the server stops with a Health/Watch stream open");
}

#[test]
fn check_config_exit_codes() {
    let bin = workspace_bin("hall-server");
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, hall_server::config::BUILTIN_HALL).unwrap();
    let out = std::process::Command::new(&bin)
        .args(["check-config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        hall_server::config::BUILTIN_HALL.replacen("zone = \"general\"", "zone = \"nowhere\"", 1),
    )
    .unwrap();
    let out = std::process::Command::new(&bin)
        .args(["check-config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("categories[0].zone: no zone 'nowhere'"),
        "{err}"
    );
}

mod browser;
mod city;
mod console;
mod crash;
mod e2e;
mod limits;
mod notify;
mod reports;
mod security;
mod sim;
mod web;

#[tokio::test]
async fn a_subscriber_from_seq_1_reads_archived_segments_then_live() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut kiosk = srv.kiosk().await;
    for i in 0..330 {
        let cat = ["invoice", "tax_declaration"][i % 2];
        issue_ok(&mut kiosk, cat, "").await;
    }
    // Segments of 100 events: the log's start is archived (in the background).
    let archive = dir.path().join("archive");
    let mut waited = 0;
    while std::fs::read_dir(&archive).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "log"))
        })
        .count()
    }) == 0
    {
        assert!(waited < 100, "no archived segment after 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    let last = srv
        .events()
        .await
        .snapshot(pb::SnapshotRequest {})
        .await
        .unwrap()
        .into_inner()
        .seq;
    let mut stream = srv
        .events()
        .await
        .subscribe(pb::SubscribeRequest { from_seq: 1 })
        .await
        .unwrap()
        .into_inner();
    let all = next_events(&mut stream, last as usize).await;
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=last).collect::<Vec<_>>()
    );
    assert!(
        matches!(all[0].body, Some(pb::event::Body::CatalogChanged(_))),
        "genesis catalogue first"
    );
    issue_ok(&mut kiosk, "invoice", "").await;
    assert_eq!(next_events(&mut stream, 1).await[0].seq, last + 1);
    srv.stop().await;
    // And a restart recovers from snapshot + segments.
    let srv = TestServer::start(dir.path(), always_open()).await;
    let t = issue_ok(&mut srv.kiosk().await, "invoice", "").await;
    assert_eq!(
        t.number, "G167",
        "165 + 1 before the restart, numbering continues"
    );
    srv.stop().await;
}

#[tokio::test]
async fn admin_calls_need_the_admin_token_when_one_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start_with(
        dir.path(),
        always_open(),
        "127.0.0.1:0".parse().unwrap(),
        |o| {
            o.admin_tokens = vec!["office-secret".into()];
        },
    )
    .await;
    let mut admin = srv.admin().await;
    let err = admin
        .update_config(pb::ConfigDocument::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("x-admin-token"), "{}", err.message());
    let mut wrong = tonic::Request::new(pb::DayReportRequest {});
    wrong
        .metadata_mut()
        .insert("x-admin-token", "guess".parse().unwrap());
    assert_eq!(
        admin.get_day_report(wrong).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let mut right = tonic::Request::new(pb::DayReportRequest {});
    right
        .metadata_mut()
        .insert("x-admin-token", "office-secret".parse().unwrap());
    assert_eq!(
        admin
            .get_day_report(right)
            .await
            .unwrap()
            .into_inner()
            .issued,
        0
    );
    // Kiosks and counters are not affected by the admin token.
    let mut kiosk = srv.kiosk().await;
    issue_ok(&mut kiosk, "social_insurance", "k1").await;
    srv.stop().await;
}

/// 30 windows press "call next" at the same instant, round after round (as
/// at 9:00): every `TicketCalled` in the stream must carry the call its
/// CallNext answer made, whatever else shared its group commit. (The wire
/// form was once encoded after the whole batch, from the hall's last ten
/// calls: most calls of a burst went out empty — no number, window 0.)
#[tokio::test]
async fn burst_of_calls_keeps_every_call_whole() {
    const ROUNDS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let catalog = srv
        .kiosk()
        .await
        .get_catalog(pb::GetCatalogRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut kiosk = srv.kiosk().await;
    for round in 0..ROUNDS * 4 {
        for c in &catalog.categories {
            issue_ok(&mut kiosk, &c.code, &format!("{}-{round}", c.code)).await;
        }
    }
    let mut clerks = Vec::new();
    for w in 1..=30u32 {
        let mut c = srv.counter().await;
        let s = login(&mut c, w, &format!("c{w:02}")).await;
        clerks.push((c, s));
    }
    let mut stream = srv.subscribe_from_now().await;
    let mut answered = Vec::new();
    for _ in 0..ROUNDS {
        // All at once: one task (and one connection) per window.
        let calls: Vec<_> = clerks
            .drain(..)
            .map(|(mut c, s)| {
                tokio::spawn(async move {
                    let t = c.call_next(ws(s.clone())).await.map(|r| r.into_inner());
                    (c, s, t)
                })
            })
            .collect();
        for call in calls {
            let (mut c, s, t) = call.await.unwrap();
            if let Ok(t) = t {
                answered.push((t.number.clone(), s.window));
                c.no_show(ws(s.clone())).await.unwrap();
            }
            clerks.push((c, s));
        }
    }
    assert!(
        answered.len() >= 60,
        "most windows found a ticket: {}",
        answered.len()
    );
    let mut streamed = Vec::new();
    while streamed.len() < answered.len() {
        let e = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("every call reaches the stream")
            .unwrap()
            .unwrap();
        if let Some(pb::event::Body::TicketCalled(c)) = e.body {
            let call = c.call.unwrap();
            if !call.recall {
                streamed.push((call.number, call.window));
            }
        }
    }
    answered.sort();
    streamed.sort();
    assert!(
        streamed.iter().all(|(n, w)| !n.is_empty() && *w != 0),
        "an empty call: {streamed:?}"
    );
    assert_eq!(streamed, answered);
    srv.stop().await;
}

/// No ambiguous defaults: a create without a request id, an unknown enum
/// value, a malformed date are bad requests naming their field; a state
/// conflict is FAILED_PRECONDITION.
#[tokio::test]
async fn ambiguous_requests_are_refused_by_field_and_conflicts_by_state() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut kiosk = srv.kiosk().await;
    let field = |e: tonic::Status| {
        assert_eq!(e.code(), Code::InvalidArgument, "{e}");
        Refusal::from_status(&e).field_violations[0].0.clone()
    };
    let mut no_id = issue("pension", "x");
    no_id.request_id.clear();
    assert_eq!(
        field(kiosk.issue_ticket(no_id).await.unwrap_err()),
        "request_id"
    );
    let mut odd = issue("pension", "odd-priority");
    odd.priority = 999;
    assert_eq!(
        field(kiosk.issue_ticket(odd).await.unwrap_err()),
        "priority"
    );
    let mut odd = issue("pension", "odd-channel");
    odd.channel = 77;
    assert_eq!(field(kiosk.issue_ticket(odd).await.unwrap_err()), "channel");
    let bad_date = kiosk
        .get_ticket_status(pb::GetTicketStatusRequest {
            number: "A001".into(),
            service_date: "30/11/2026".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(field(bad_date), "service_date");
    // Rating a ticket this window did not just finish: a state conflict.
    let t = issue_ok(&mut kiosk, "social_insurance", "to-rate").await;
    let mut counter = srv.counter().await;
    let s = login(&mut counter, 1, "c01").await;
    let err = srv
        .pad(s.window)
        .await
        .rate(pb::PadRatingRequest {
            window: s.window,
            number: t.number.clone(),
            rating: 5,
            comment: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err}");
    assert_eq!(Refusal::from_status(&err).reason, ErrorReason::WrongState);
    srv.stop().await;
}

/// A clerk left with a called ticket: nobody could log in at the window.
/// A supervisor's force-logout frees it; the ticket is back in the queue.
#[tokio::test]
async fn force_logout_frees_a_stuck_window() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut kiosk = srv.kiosk().await;
    let t = issue_ok(&mut kiosk, "social_insurance", "stuck").await;
    let mut counter = srv.counter().await;
    let s = login(&mut counter, 1, "c01").await;
    counter.call_next(ws(s)).await.unwrap();
    let taken = counter
        .login(pb::LoginRequest {
            window: 1,
            clerk_id: "c02".into(),
            pin: "1234".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        Refusal::from_status(&taken).reason,
        ErrorReason::WindowTaken
    );
    let mut admin = srv.admin().await;
    let vague = admin
        .force_logout(pb::ForceLogoutRequest {
            window: 1,
            reason: "left".into(),
            current_ticket: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(
        Refusal::from_status(&vague).field_violations[0].0,
        "current_ticket"
    );
    let w = admin
        .force_logout(pb::ForceLogoutRequest {
            window: 1,
            reason: "clerk went home".into(),
            current_ticket: pb::ForcedTicket::Requeue as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(w.state, pb::WindowState::Closed as i32);
    let back = kiosk
        .get_ticket_status(pb::GetTicketStatusRequest {
            number: t.number.clone(),
            service_date: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.state, pb::TicketState::Waiting as i32);
    let s2 = login(&mut counter, 1, "c02").await;
    let again = counter.call_next(ws(s2)).await.unwrap().into_inner();
    assert_eq!(again.number, t.number, "its place kept");
    srv.stop().await;
}

/// Finish must say how the matter ended: left out, it is refused (it once
/// meant "unresolved" and opened a follow-up nobody asked for).
#[tokio::test]
async fn finish_without_an_outcome_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    issue_ok(&mut srv.kiosk().await, "social_insurance", "f").await;
    let mut counter = srv.counter().await;
    let s = login(&mut counter, 1, "c01").await;
    counter.call_next(ws(s.clone())).await.unwrap();
    counter.start_service(ws(s.clone())).await.unwrap();
    let err = counter
        .finish(pb::FinishRequest {
            session: Some(s.clone()),
            outcome: 0,
            unresolved_reason: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(Refusal::from_status(&err).field_violations[0].0, "outcome");
    let open = srv
        .admin()
        .await
        .list_follow_ups(pb::ListFollowUpsRequest {
            include_closed: true,
        })
        .await
        .unwrap();
    assert!(
        open.into_inner().items.is_empty(),
        "no follow-up was opened"
    );
    // The counter terminal reads the catalogue through its own service.
    let cat = counter.get_catalog(ws(s)).await.unwrap().into_inner();
    assert!(!cat.categories.is_empty() && !cat.timezone.is_empty());
    srv.stop().await;
}

/// Reads come from the read model, off the writer thread, yet a read that
/// starts after a write was acknowledged (to anyone) sees it, and says which
/// sequence number it reflects.
#[tokio::test]
async fn reads_see_every_acknowledged_write_and_carry_their_seq() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut writer = srv.kiosk().await;
    let mut reader = pb::kiosk_service_client::KioskServiceClient::new(srv.channel().await);
    let mut last_seq = 0u64;
    for i in 0..50 {
        let t = issue_ok(&mut writer, "social_insurance", &format!("rm-{i}")).await;
        let r = reader
            .get_ticket_status(pb::GetTicketStatusRequest {
                number: t.number.clone(),
                service_date: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("{} not visible right after it was issued: {e}", t.number));
        let seq: u64 = r
            .metadata()
            .get("x-hall-seq")
            .expect("x-hall-seq")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(seq > last_seq, "{seq} after {last_seq}");
        last_seq = seq;
        assert_eq!(r.into_inner().number, t.number);
    }
    srv.stop().await;
}

/// Events carry what their readers need, as it stands right after them:
/// the queue's waiting count and estimate, and the window's state. A board
/// or kiosk follows the stream without polling.
#[tokio::test]
async fn events_carry_queue_counts_and_window_state() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let mut stream = srv.subscribe_from_now().await;
    let mut kiosk = srv.kiosk().await;
    issue_ok(&mut kiosk, "social_insurance", "q1").await;
    issue_ok(&mut kiosk, "social_insurance", "q2").await;
    let mut counter = srv.counter().await;
    let s = login(&mut counter, 1, "c01").await;
    counter.call_next(ws(s)).await.unwrap();
    // The clerk's login and call each add their audit-trail entry.
    let evs: Vec<pb::Event> = next_events(&mut stream, 6)
        .await
        .into_iter()
        .filter(|e| !matches!(e.body, Some(pb::event::Body::Audited(_))))
        .collect();
    assert_eq!(evs.len(), 4);
    let waiting = |e: &pb::Event| {
        e.queues
            .iter()
            .find(|q| q.code == "social_insurance")
            .map(|q| q.waiting)
    };
    assert_eq!(waiting(&evs[0]), Some(1), "{:?}", evs[0]);
    assert_eq!(waiting(&evs[1]), Some(2));
    assert_eq!(
        evs[2].window.as_ref().map(|w| w.number),
        Some(1),
        "login names its window"
    );
    // ...and the queues it serves, whose estimates it changed: before the
    // login no window served social insurance.
    let est = |e: &pb::Event| {
        e.queues
            .iter()
            .find(|q| q.code == "social_insurance")
            .map(|q| q.estimated_wait_min)
    };
    assert_eq!(waiting(&evs[2]), Some(2), "{:?}", evs[2].queues);
    assert_eq!(est(&evs[2]), Some(16), "two ahead x 8 min / 1 window");
    let Some(pb::event::Body::TicketCalled(_)) = &evs[3].body else {
        panic!("{:?}", evs[3])
    };
    assert_eq!(waiting(&evs[3]), Some(1), "one left after the call");
    assert!(
        evs[3]
            .window
            .as_ref()
            .is_some_and(|w| w.number == 1 && !w.current_ticket.is_empty()),
        "{:?}",
        evs[3].window
    );
    srv.stop().await;
}

/// PINs are checked against Argon2id hashes at the edge; five failures
/// lock the device (and, per clerk, the account) for 15 minutes whatever
/// PIN follows;
/// an unknown clerk id fails like a wrong PIN.
#[tokio::test]
async fn five_failed_logins_lock_the_device_whatever_pin_follows() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let counter = srv.counter().await;
    let try_login = |clerk: &'static str, pin: &'static str, window: u32| {
        let mut counter = counter.clone();
        async move {
            counter
                .login(pb::LoginRequest {
                    window,
                    clerk_id: clerk.into(),
                    pin: pin.into(),
                })
                .await
        }
    };
    let unknown = try_login("nobody", "1234", 2).await.unwrap_err();
    assert_eq!(
        Refusal::from_status(&unknown).reason,
        ErrorReason::BadCredentials
    );
    // The right PIN works and clears the account's count...
    login(&mut counter.clone(), 3, "c03").await;
    for i in 0..3 {
        let e = try_login("c01", "0000", 1).await.unwrap_err();
        assert_eq!(
            Refusal::from_status(&e).reason,
            ErrorReason::BadCredentials,
            "{i}"
        );
    }
    // ...the fifth failure from this device (one was the unknown id) locks
    // it: now even the right PIN, for any clerk, is refused. (The account
    // lock, counted per clerk across devices, is the same mechanism; its
    // unit tests cover it, since every test client here is 127.0.0.1.)
    let e = try_login("c01", "0000", 1).await.unwrap_err();
    assert_eq!(Refusal::from_status(&e).reason, ErrorReason::BadCredentials);
    for (clerk, window) in [("c01", 1), ("c02", 2)] {
        let locked = try_login(clerk, "1234", window).await.unwrap_err();
        assert_eq!(locked.code(), Code::Unauthenticated, "{locked}");
        let r = Refusal::from_status(&locked);
        assert_eq!(r.reason, ErrorReason::LockedOut, "{clerk}: {locked}");
        assert_eq!(r.meta("scope"), "device");
        let secs: u64 = r.meta("retry_after_s").parse().unwrap();
        assert!((14 * 60..=15 * 60).contains(&secs), "{secs}");
    }
    srv.stop().await;
}

/// A burst of concurrent wrong PINs is counted before any check ends: at
/// most five are checked, the rest are refused as locked at once.
#[tokio::test]
async fn a_burst_of_concurrent_logins_gets_at_most_five_checks() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start(dir.path(), always_open()).await;
    let counter = srv.counter().await;
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let mut counter = counter.clone();
            tokio::spawn(async move {
                counter
                    .login(pb::LoginRequest {
                        window: 1,
                        clerk_id: "c01".into(),
                        pin: format!("{:04}", 9000 + i),
                    })
                    .await
                    .unwrap_err()
            })
        })
        .collect();
    let mut checked = 0;
    for a in attempts {
        let e = a.await.unwrap();
        match Refusal::from_status(&e).reason {
            ErrorReason::BadCredentials => checked += 1,
            ErrorReason::LockedOut => {}
            other => panic!("{other:?}: {e}"),
        }
    }
    assert!(checked <= 5, "{checked} PINs were checked");
    srv.stop().await;
}
