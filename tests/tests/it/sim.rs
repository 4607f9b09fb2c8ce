//! The hall simulator: its command line, and its visitors and clerks driving
//! a real server over gRPC.

use hall_sim::Scenario;
use hall_sim::drive::{DriveOptions, drive};
use hall_tests::{TestServer, always_open, workspace_bin};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

#[test]
fn hall_sim_prints_the_table_and_writes_csv_and_chart() {
    let bin = workspace_bin("hall-sim");
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(&bin)
        .args(["--seed", "3", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap();
    for key in [
        "policy_mean_wait_min=",
        "policy_p95_wait_min=",
        "policy_max_wait_min=",
        "fifo_mean_wait_min=",
        "fifo_p95_wait_min=",
        "fifo_max_wait_min=",
        "global_fifo_mean_wait_min=",
        "priority_mean_wait_min=",
        "erlang_c_error_pct=",
    ] {
        assert!(last.contains(key), "{key} missing in {last}");
    }
    let csv = std::fs::read_to_string(dir.path().join("summary.csv")).unwrap();
    assert!(csv.starts_with("policy,category,"));
    assert!(csv.contains("\nfifo,all,") && csv.contains("\nglobal_fifo,social_insurance,"));
    let png = std::fs::read(dir.path().join("waiting.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(
        std::fs::read_to_string(dir.path().join("staffing.csv"))
            .unwrap()
            .contains("social_insurance,")
    );

    let out = std::process::Command::new(&bin)
        .args([
            "erlang",
            "--arrivals-per-hour",
            "200",
            "--service-min",
            "3",
            "--windows",
            "11",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // a = 10 erlangs on 11 windows: the textbook 0.6821 and 2.046 min.
    assert!(stdout.contains("probability of waiting 0.6821"), "{stdout}");
    assert!(stdout.contains("mean wait 2.046 min"), "{stdout}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "date = \"2026-11-25\"\n").unwrap();
    let out = std::process::Command::new(&bin)
        .args(["--scenario"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));
}

#[tokio::test]
async fn simulated_visitors_and_clerks_keep_a_real_hall_moving() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), always_open()).await;
    let stats = drive(DriveOptions {
        server: server.url(),
        speed: 600.0,
        duration: Some(Duration::from_secs(4)),
        windows: (1..=6).collect(),
        seed: 5,
        scenario: Scenario::builtin(),
        kiosk_tls: Some(hall_tests::identity(hall_tests::Role::Kiosk)),
        counter_tls: Some(hall_tests::identity(hall_tests::Role::Counter)),
        pad_tls: Default::default(),
    })
    .await
    .unwrap();
    let (issued, served) = (stats.issued.load(Relaxed), stats.served.load(Relaxed));
    assert!(issued >= 20, "issued {issued}");
    assert!(served >= 5, "served {served}");
    assert_eq!(stats.errors.load(Relaxed), 0);
    // The server's own day report agrees that tickets were served.
    let mut admin = server.admin().await;
    let report = admin
        .get_day_report(hall_proto::v1::DayReportRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        u64::from(report.served) >= served,
        "{} < {served}",
        report.served
    );
    // The reports' figures agree with the simulator's own count of what
    // it did: every ticket it took, served and marked no-show.
    let date = report.service_date.clone();
    let r = server
        .reports()
        .await
        .get_report(hall_proto::v1::ReportRequest {
            from: date.clone(),
            to: date,
            by: "category".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let total = r.total.unwrap();
    assert_eq!(
        (
            u64::from(total.arrived),
            u64::from(total.served),
            u64::from(total.no_show)
        ),
        (issued, served, stats.no_shows.load(Relaxed)),
        "report vs simulator"
    );
    server.stop().await;
}
