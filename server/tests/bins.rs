//! The server binary from outside. (Being an integration test of this
//! package also makes `cargo test --workspace` build the binary, so the
//! integration binary in `tests/` finds it next to its own.)

use std::process::Command;

#[test]
fn hall_server_refuses_a_bad_flag_with_a_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_hall-server"))
        .args(["--listen", "not-an-address", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("binding not-an-address"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_data_dir_it_cannot_open_exits_non_zero_without_saying_listening() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"a file, not a folder").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hall-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("listening"), "said it listens: {stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("opening the data dir"));
}

/// A tmpfs of `size` mounted for one test (root only), unmounted on drop.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let mnt = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(mnt.path())
            .status()
            .expect("mount");
        assert!(
            mounted.success(),
            "this test mounts a {size} tmpfs and needs root"
        );
        SmallDisk(mnt)
    }

    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// A `hall-server` process on `data` (stderr into `log`), with the address
/// it printed once it served.
struct Server {
    child: std::process::Child,
    url: String,
}

impl Server {
    fn start(data: &std::path::Path, log: &std::path::Path) -> Server {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_hall-server"))
            // About the disk, not about TLS (the integration tests run TLS).
            .args([
                "--insecure-demo",
                "--always-open",
                "--listen",
                "127.0.0.1:0",
                "--http",
                "none",
                "--snapshot-every",
                "100000000",
                "--data-dir",
            ])
            .arg(data)
            .stdout(std::process::Stdio::piped())
            // A file, not a pipe: a pipe nobody reads would block the server.
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("hall-server listening on ")
            .unwrap_or_else(|| panic!("no listening line: {line:?}"))
            .to_string();
        Server {
            child,
            url: format!("http://{addr}"),
        }
    }

    /// Waits (up to 20 s) for the process to end on its own.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server kept running"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        self.wait_exit()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server on an 8 MiB tmpfs of its own, with a 3 MiB file on it to free
/// later (stderr into `logs/1.log`). Field order: the server stops before
/// the disk is unmounted.
struct FullDiskRig {
    server: Server,
    filler: std::path::PathBuf,
    logs: tempfile::TempDir,
    data: std::path::PathBuf,
    mnt: SmallDisk,
}

impl FullDiskRig {
    fn start() -> FullDiskRig {
        let mnt = SmallDisk::mount("8m");
        let filler = mnt.path().join("filler");
        std::fs::write(&filler, vec![1u8; 3 << 20]).unwrap();
        let logs = tempfile::tempdir().unwrap();
        let data = mnt.path().join("data");
        let server = Server::start(&data, &logs.path().join("1.log"));
        FullDiskRig {
            server,
            filler,
            logs,
            data,
            mnt,
        }
    }
}

mod disk {
    use hall_proto::errors::{ErrorReason, Refusal};
    use hall_proto::v1 as pb;
    use std::time::{Duration, Instant};
    use tonic::transport::Channel;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

    pub fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Runtime::new().unwrap()
    }

    pub async fn channel(url: &str) -> Channel {
        Channel::from_shared(url.to_string())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// One device report: a record of ~600 bytes, each with its own detail.
    pub async fn report(ch: &Channel, i: u32) -> Result<(), tonic::Status> {
        pb::kiosk_service_client::KioskServiceClient::new(ch.clone())
            .report_device(pb::ReportDeviceRequest {
                device_id: format!("kiosk-{}", i % 50),
                kind: "printer".into(),
                status: if i % 100 < 50 { "ok" } else { "paper_out" }.into(),
                detail: format!("{i:0>400}"),
            })
            .await
            .map(|_| ())
    }

    pub async fn health(ch: &Channel, service: &str) -> ServingStatus {
        let r = HealthClient::new(ch.clone())
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        ServingStatus::try_from(r.status).unwrap()
    }

    /// Polls until `service` reports `want` (health follows the writer
    /// through a watch channel, a moment later).
    pub async fn health_becomes(ch: &Channel, service: &str, want: ServingStatus) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while health(ch, service).await != want {
            assert!(Instant::now() < deadline, "{service} never became {want:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn status(ch: &Channel) -> pb::ServerStatus {
        pb::admin_service_client::AdminServiceClient::new(ch.clone())
            .get_server_status(pb::ServerStatusRequest {})
            .await
            .unwrap()
            .into_inner()
    }

    /// The details of every stored device report, in log order.
    pub async fn stored_reports(ch: &Channel) -> Vec<String> {
        stored_reports_from(ch, 1).await
    }

    /// The details of the device reports stored from `from_seq` on.
    pub async fn stored_reports_from(ch: &Channel, from_seq: u64) -> Vec<String> {
        let committed = status(ch).await.committed_seq;
        let mut events = pb::event_service_client::EventServiceClient::new(ch.clone())
            .subscribe(pb::SubscribeRequest { from_seq })
            .await
            .unwrap()
            .into_inner();
        let mut out = vec![];
        // Up to the committed number, or until the stream is idle: after a
        // torn tail the lost numbers never come (numbering skips them).
        while let Ok(Some(e)) = tokio::time::timeout(
            Duration::from_secs(2),
            tokio_stream::StreamExt::next(&mut events),
        )
        .await
        {
            let e = e.unwrap();
            if let Some(pb::event::Body::DeviceReported(d)) = e.body {
                out.push(d.detail);
            }
            if e.seq >= committed {
                break;
            }
        }
        out
    }

    pub fn is_disk_full(e: &tonic::Status) -> bool {
        e.code() == tonic::Code::Unavailable
            && Refusal::from_status(e).reason == ErrorReason::StorageFull
    }
}

/// The disk fills up under the writer: writes are refused with
/// STORAGE_FULL and health says so, reads go on, nothing acknowledged is
/// lost, and once space is freed writes resume by themselves; a restart
/// then finds every acknowledged write. (Needs root for the small tmpfs.)
#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_resumes_by_itself() {
    use disk::*;
    use hall_proto::v1 as pb;
    use tonic_health::pb::health_check_response::ServingStatus;
    let FullDiskRig {
        mnt: _mnt,
        filler,
        logs,
        data,
        mut server,
    } = FullDiskRig::start();
    let rt = rt();
    let acked: Vec<u32> = rt.block_on(async {
        let ch = channel(&server.url).await;
        assert_eq!(health(&ch, "hall.v1.Storage").await, ServingStatus::Serving);
        let mut acked = vec![];
        let mut i = 0;
        let refused = loop {
            match report(&ch, i).await {
                Ok(()) => acked.push(i),
                Err(e) => break e,
            }
            i += 1;
            assert!(i < 200_000, "the disk never filled");
        };
        assert!(acked.len() > 100, "some reports fit first");
        assert!(is_disk_full(&refused), "{refused:?}");
        // Health says so, and why; the overall status stays SERVING:
        // restarting would not free any space.
        health_becomes(&ch, "hall.v1.Storage", ServingStatus::NotServing).await;
        health_becomes(&ch, "hall.v1.KioskService", ServingStatus::NotServing).await;
        assert_eq!(health(&ch, "").await, ServingStatus::Serving);
        assert_eq!(
            health(&ch, "hall.v1.EventService").await,
            ServingStatus::Serving
        );
        let st = status(&ch).await;
        assert!(!st.writable);
        assert!(st.storage_problem.contains("No space left"), "{st:?}");
        assert!(st.refusing_since_ms > 0);
        // Later writes are refused the same way, at once.
        for j in 0..20 {
            let e = report(&ch, 1_000_000 + j).await.unwrap_err();
            assert!(is_disk_full(&e), "{e:?}");
        }
        // Reads go on: the catalogue, and the whole event log.
        let cat = pb::kiosk_service_client::KioskServiceClient::new(ch.clone())
            .get_catalog(pb::GetCatalogRequest {})
            .await
            .unwrap()
            .into_inner();
        assert!(!cat.categories.is_empty());
        // A subscriber catching up on the last 100 events (a board that
        // reconnects) gets them from memory; older history needs the disk.
        let recent = stored_reports_from(&ch, st.committed_seq - 99).await;
        let want: Vec<String> = acked.iter().map(|i| format!("{i:0>400}")).collect();
        assert!(recent.len() > 50, "{}", recent.len());
        assert!(want.ends_with(&recent), "the newest acknowledged reports");

        // Space comes back: writes resume by themselves.
        std::fs::remove_file(&filler).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let mut j = 2_000_000;
        loop {
            match report(&ch, j).await {
                Ok(()) => break,
                Err(e) => assert!(is_disk_full(&e), "{e:?}"),
            }
            assert!(std::time::Instant::now() < deadline, "writes never resumed");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        acked.push(j);
        j += 1;
        for _ in 0..50 {
            report(&ch, j).await.unwrap();
            acked.push(j);
            j += 1;
        }
        health_becomes(&ch, "hall.v1.Storage", ServingStatus::Serving).await;
        health_becomes(&ch, "hall.v1.KioskService", ServingStatus::Serving).await;
        assert!(status(&ch).await.writable);
        // The whole log: every acknowledged report once, in order (a refused
        // one may stand too, if it reached the disk after all).
        let stored = stored_reports(&ch).await;
        let mut it = stored.iter();
        for i in &acked {
            let d = format!("{i:0>400}");
            assert!(
                it.any(|s| *s == d),
                "acknowledged report {i} missing or out of order"
            );
        }
        assert!(
            stored.len() <= acked.len() + 1,
            "{} stored, {} acked",
            stored.len(),
            acked.len()
        );
        acked
    });
    assert!(server.terminate().success(), "a clean stop");
    let log = std::fs::read_to_string(logs.path().join("1.log")).unwrap();
    assert!(log.contains("the disk is full"), "{log}");
    assert!(log.contains("service resumed"), "{log}");

    // After a restart every acknowledged report is there, once, in order
    // (a refused one may stand too, if it reached the disk: then once).
    let server = Server::start(&data, &logs.path().join("2.log"));
    rt.block_on(async {
        let ch = channel(&server.url).await;
        let stored = stored_reports(&ch).await;
        let mut seen = std::collections::HashSet::new();
        for d in &stored {
            assert!(seen.insert(d.clone()), "stored twice: {d}");
        }
        for i in &acked {
            assert!(
                seen.contains(&format!("{i:0>400}")),
                "acknowledged report {i} lost"
            );
        }
    });
}

/// Storage that fails in a way waiting cannot fix (here: while the disk
/// was full, the log segment was deleted, so acknowledged events are gone
/// when the writer reopens it): the server must not go on answering with
/// health SERVING; it says why, stops, and exits non-zero so a supervisor
/// restarts it. (Needs root for the small tmpfs.)
#[test]
fn a_writer_that_cannot_write_stops_the_server_with_a_non_zero_exit() {
    use disk::*;
    let FullDiskRig {
        mnt: _mnt,
        filler,
        logs,
        data,
        mut server,
    } = FullDiskRig::start();
    rt().block_on(async {
        let ch = channel(&server.url).await;
        let mut i = 0;
        while report(&ch, i).await.is_ok() {
            i += 1;
        }
        // Lose the log while the writer waits for space.
        std::fs::remove_dir_all(data.join("log")).unwrap();
        std::fs::remove_file(&filler).unwrap();
    });
    let status = server.wait_exit();
    assert!(!status.success(), "{status:?}");
    let log = std::fs::read_to_string(logs.path().join("1.log")).unwrap();
    assert!(log.contains("the writer stopped"), "{log}");
    assert!(log.contains("were acknowledged"), "{log}");
}

/// A crash or power cut in the middle of a write leaves a torn record at
/// the log's tail (simulated: the server is killed, then the last bytes
/// written are overwritten). The restart cuts the log back to its last
/// whole record, says what was cut, and serves: the log is a gap-free
/// prefix of what was written, and numbering goes on from it.
#[test]
fn a_torn_tail_is_cut_back_with_a_log_line_saying_what_was_cut() {
    use disk::*;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data, &dir.path().join("1.log"));
    let rt = rt();
    let written = 300;
    let acked_seq = rt.block_on(async {
        let ch = channel(&server.url).await;
        for i in 0..written {
            report(&ch, i).await.unwrap();
        }
        status(&ch).await.committed_seq
    });
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // Tear the last ~2 KiB written into sled's data file (its tail: the
    // file is zero after the last write).
    let db = data.join("log").join(format!("{:020}", 1)).join("db");
    let mut bytes = std::fs::read(&db).unwrap();
    let end = bytes.iter().rposition(|b| *b != 0).unwrap() + 1;
    for b in &mut bytes[end - 2048..end] {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();

    let log = dir.path().join("2.log");
    let server = Server::start(&data, &log);
    rt.block_on(async {
        let ch = channel(&server.url).await;
        let stored = stored_reports(&ch).await;
        assert!(stored.len() < written as usize, "something was cut");
        assert!(stored.len() > written as usize / 2, "only the tail was cut");
        let want: Vec<String> = (0..stored.len()).map(|i| format!("{i:0>400}")).collect();
        assert!(stored == want, "a gap-free prefix of what was written");
        // Numbering goes on after the highest number ever acknowledged (a
        // subscriber may have seen the lost ones): none is given twice.
        assert!(status(&ch).await.committed_seq >= acked_seq);
        report(&ch, 1_000_000).await.unwrap();
        assert!(status(&ch).await.committed_seq > acked_seq);
        let again = stored_reports(&ch).await;
        assert_eq!(again.last().unwrap(), &format!("{:0>400}", 1_000_000));
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("torn tail"), "{text}");
    assert!(text.contains("were lost"), "{text}");
}
