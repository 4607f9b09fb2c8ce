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
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("listening"), "said it listens: {stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("opening the data dir"));
}

/// The disk fills up under the writer: the server must not go on answering
/// UNAVAILABLE with health SERVING forever; it says why, stops, and exits
/// non-zero so a supervisor restarts it. (Needs root for the small tmpfs.)
#[test]
fn a_writer_that_cannot_write_stops_the_server_with_a_non_zero_exit() {
    use hall_proto::v1 as pb;
    use std::io::{BufRead, BufReader};
    let mnt = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"])
        .arg(mnt.path())
        .status()
        .expect("mount");
    assert!(
        mounted.success(),
        "this test mounts a 6 MiB tmpfs and needs root"
    );
    struct Unmount<'a>(&'a std::path::Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(self.0).status();
        }
    }
    let _unmount = Unmount(mnt.path());
    let mut server = Command::new(env!("CARGO_BIN_EXE_hall-server"))
        .args([
            "--always-open",
            "--listen",
            "127.0.0.1:0",
            "--snapshot-every",
            "100000000",
            "--data-dir",
        ])
        .arg(mnt.path().join("data"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("hall-server listening on ")
        .expect(&line)
        .to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let refused = rt.block_on(async {
        let mut kiosk =
            pb::kiosk_service_client::KioskServiceClient::connect(format!("http://{addr}"))
                .await
                .unwrap();
        let mut saved = 0;
        for i in 0..200_000u32 {
            // Device reports are stored whole: each one a record of ~600 bytes.
            let r = kiosk
                .report_device(pb::ReportDeviceRequest {
                    device_id: format!("kiosk-{}", i % 50),
                    kind: "printer".into(),
                    status: if i % 100 < 50 { "ok" } else { "paper_out" }.into(),
                    detail: format!("{i:0>400}"),
                })
                .await;
            match r {
                Ok(_) => saved += 1,
                Err(e) => return Some((saved, e)),
            }
        }
        None
    });
    let (after, err) = refused.expect("the disk filled up");
    assert!(after > 0, "some tickets fit first");
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(s) = server.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server kept running without a writer"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(!status.success(), "{status:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("the writer stopped"), "{stderr}");
}
