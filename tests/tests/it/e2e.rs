//! End to end with the real binaries as separate processes: the server, the
//! printer and reader simulators on pseudo-terminals, the kiosk (headless,
//! driven on stdin), a counter terminal worked by its simulated clerk, and
//! the lobby board (headless, announcements as WAV). A card on the reader →
//! the kiosk's number is on the decoded slip → the counter calls it → the
//! board shows and announces it. Then the server is killed with SIGKILL and
//! restarted, and every client carries on: nothing lost, nothing twice.

use hall_proto::v1 as pb;
use hall_tests::*;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child process whose stdout lines are collected; killed on drop.
struct Proc {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(name: &'static str, mut cmd: Command) -> Proc {
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l = lines.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        let stdin = child.stdin.take();
        Proc {
            name,
            child,
            stdin,
            lines,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn count(&self, line: &str) -> usize {
        self.lines().iter().filter(|l| l.as_str() == line).count()
    }

    /// Waits for a line matching `f` and returns it.
    fn wait_line(&self, what: &str, f: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| f(l)) {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no line {what} within {timeout:?}; got {:?}",
                self.name,
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(port: u16, data: &Path) -> Proc {
    let mut cmd = Command::new(workspace_bin("hall-server"));
    cmd.args([
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--http",
        "127.0.0.1:0",
        "--always-open",
        "--data-dir",
    ])
    .arg(data);
    let p = Proc::spawn("server", cmd);
    p.wait_line(
        "'listening'",
        |l| l.starts_with("hall-server listening on"),
        Duration::from_secs(30),
    );
    p
}

/// Enrolls a device the way a hall does: `hall-server enroll` on the data
/// dir prints a pairing code, `hall-server redeem` on the device's side
/// turns it into the device's certificate. Returns the folder to give the
/// device as `HALL_TLS_DIR`.
fn enroll(data: &Path, url: &str, role: &str, id: &str, out: &Path) -> std::path::PathBuf {
    let bin = workspace_bin("hall-server");
    let o = Command::new(&bin)
        .args(["enroll", "--role", role, "--id", id, "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "enroll: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8(o.stdout).unwrap();
    let code = stdout.lines().last().unwrap().trim().to_string();
    let dir = out.join(id);
    let o = Command::new(&bin)
        .args(["redeem", "--server", url, "--code", &code, "--ca"])
        .arg(data.join("tls/ca.pem"))
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "redeem: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in ["device.pem", "device.key", "ca.pem"] {
        assert!(dir.join(f).exists(), "redeem wrote no {f}");
    }
    dir
}

fn wavs_for(dir: &Path, number: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .contains(&format!("-{number}-"))
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_hall_in_processes_survives_kill_9() {
    let long = Duration::from_secs(60);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (slips, screens, wavs) = (
        dir.path().join("slips"),
        dir.path().join("screens"),
        dir.path().join("wav"),
    );
    // A fixed port, so the restarted server is where the clients look.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let mut srv = server(port, &data);
    let ids = dir.path().join("devices");
    let kiosk_tls = enroll(&data, &url, "kiosk", "kiosk-1", &ids);
    let board_tls = enroll(&data, &url, "board", "board-1", &ids);
    let counter_tls = enroll(&data, &url, "counter", "counter-1", &ids);
    let pad_tls = enroll(&data, &url, "pad", "pad-1", &ids);

    let hw = workspace_bin("hall-hw");
    let mut cmd = Command::new(&hw);
    cmd.args(["sim-printer", "--width", "80", "--out"])
        .arg(&slips);
    let printer = Proc::spawn("printer", cmd);
    let printer_port = printer.wait_line("(pty path)", |l| l.starts_with("/dev/"), long);
    let mut cmd = Command::new(&hw);
    cmd.args(["sim-reader", "--empty"]);
    let mut reader = Proc::spawn("reader", cmd);
    let reader_port = reader.wait_line("(pty path)", |l| l.starts_with("/dev/"), long);

    let mut cmd = Command::new(workspace_bin("kiosk"));
    cmd.args([
        "--headless",
        "--every",
        "1",
        "--server",
        &url,
        "--printer-port",
        &printer_port,
        "--reader-port",
        &reader_port,
    ])
    .arg("--out")
    .arg(&screens)
    .env("HALL_TLS_DIR", &kiosk_tls);
    let mut kiosk = Proc::spawn("kiosk", cmd);
    let mut cmd = Command::new(workspace_bin("display-board"));
    cmd.args(["--headless", "--every", "1", "--server", &url, "--out"])
        .arg(&screens)
        .arg("--wav-dir")
        .arg(&wavs)
        .env("HALL_TLS_DIR", &board_tls);
    let board = Proc::spawn("board", cmd);
    let mut cmd = Command::new(workspace_bin("counter-terminal"));
    cmd.args([
        "--headless",
        "--every",
        "1",
        "--auto-clerk",
        "--window",
        "1",
        "--speed",
        "600",
        "--server",
        &url,
        "--out",
    ])
    .arg(&screens)
    .env("HALL_TLS_DIR", &counter_tls);
    let counter = Proc::spawn("counter", cmd);
    // Each client says when it is ready: the kiosk has its catalogue, the
    // clerk is logged in and has read the queue, the board shows a snapshot.
    kiosk.wait_line(
        "'kiosk ready'",
        |l| l.starts_with("kiosk ready: catalogue "),
        long,
    );
    counter.wait_line("'logged in'", |l| l == "logged in window 1", long);
    counter.wait_line("'counter ready'", |l| l == "counter ready: window 1", long);
    board.wait_line(
        "'board ready'",
        |l| l.starts_with("board ready: snapshot seq "),
        long,
    );

    // A visitor: card on the reader, social insurance (window 1's own queue).
    reader.send("place 0");
    kiosk.wait_line("'card 王*明'", |l| l == "card 王*明", long);
    // The kiosk takes its commands in order, one after the other.
    for c in ["choose social_insurance", "take", "confirm"] {
        kiosk.send(c);
    }
    let issued = kiosk.wait_line("'issued'", |l| l.starts_with("issued "), long);
    let first = issued.split_whitespace().nth(1).unwrap().to_string();
    kiosk.wait_line("'printed'", |l| *l == format!("printed {first}"), long);
    let slip = printer.wait_line("'slip 1'", |l| l.starts_with("slip 1: "), long);
    assert!(
        slip.split(" / ").any(|part| part == first),
        "the slip carries {first}: {slip}"
    );
    assert!(slip.contains("王*明") && !slip.contains("王小明"), "{slip}");
    // The counter calls it, the board shows it and speaks it.
    counter.wait_line("'called'", |l| *l == format!("called {first}"), long);
    board.wait_line(
        "'called … window 1'",
        |l| *l == format!("called {first} window 1"),
        long,
    );
    let deadline = Instant::now() + long;
    while wavs_for(&wavs, &first) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        wavs_for(&wavs, &first),
        1,
        "one announcement WAV for {first}"
    );
    counter.wait_line(
        "'finished'",
        |l| l.starts_with(&format!("finished {first}")),
        long,
    );
    // The citizen rates on window 1's rating pad (its own certificate).
    let pad_tls = hall_proto::client::Tls::from_dir(&pad_tls).unwrap();
    let pad_ch =
        hall_proto::client::connect_tls(&url, Some(&pad_tls), 50, Duration::from_millis(200))
            .await
            .unwrap();
    pb::pad_service_client::PadServiceClient::new(pad_ch)
        .rate(pb::PadRatingRequest {
            window: 1,
            number: first.clone(),
            rating: 5,
            comment: String::new(),
        })
        .await
        .unwrap();

    // SIGKILL the server; a second visitor confirms while it is down.
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
    // The kiosk's catalogue is still in memory: the visitor can go on.
    kiosk.send("home");
    // Another card: the reader reports it at once (it reports a card once
    // while the same one stays).
    reader.send("remove");
    reader.send("place 1");
    kiosk.wait_line("'card 李*红'", |l| l == "card 李*红", long);
    // The kiosk takes its commands in order, one after the other.
    for c in ["choose social_insurance", "take", "confirm"] {
        kiosk.send(c);
    }
    kiosk.wait_line("'retrying'", |l| l.starts_with("retrying"), long);
    // The server stays down until the clerk's terminal has found it gone
    // too (its idle clerk tries every 1.5 s), so it has to reconnect.
    counter.wait_line("'server unreachable'", |l| l == "server unreachable", long);
    let _srv = server(port, &data);
    let second_line = kiosk.wait_line(
        "a second 'issued'",
        |l| l.starts_with("issued ") && !l.contains(&format!(" {first} ")),
        long,
    );
    let second = second_line.split_whitespace().nth(1).unwrap().to_string();
    assert_ne!(first, second);
    kiosk.wait_line(
        "'printed' (second)",
        |l| *l == format!("printed {second}"),
        long,
    );
    printer.wait_line(
        "'slip 2'",
        |l| l.starts_with("slip 2: ") && l.split(" / ").any(|p| p == second),
        long,
    );
    counter.wait_line(
        "'called' (second)",
        |l| *l == format!("called {second}"),
        long,
    );
    board.wait_line(
        "'called' (second)",
        |l| *l == format!("called {second} window 1"),
        long,
    );
    let deadline = Instant::now() + long;
    while wavs_for(&wavs, &second) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }

    // Nothing lost, nothing twice (asked as an enrolled admin).
    let admin_tls = enroll(&data, &url, "admin", "admin-1", &ids);
    let admin_tls = hall_proto::client::Tls::from_dir(&admin_tls).unwrap();
    let ch =
        hall_proto::client::connect_tls(&url, Some(&admin_tls), 50, Duration::from_millis(200))
            .await
            .unwrap();
    let mut admin = pb::admin_service_client::AdminServiceClient::new(ch.clone());
    let report = admin
        .get_day_report(pb::DayReportRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.issued, 2, "exactly the two visitors' tickets");
    let mut k = pb::kiosk_service_client::KioskServiceClient::new(ch.clone());
    let t1 = k
        .get_ticket_status(pb::GetTicketStatusRequest {
            number: first.clone(),
            service_date: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        t1.state,
        pb::TicketState::Done as i32,
        "the first visit survived the kill as done"
    );
    assert!(t1.rating > 0, "and its rating");
    // Barriers instead of a pause: the clerk has finished the second visit
    // (it calls a ticket once), and a later call at window 5 has reached
    // the board and its speaker (both go in order), so a repeated call or
    // announcement of the two visits would be here by now.
    counter.wait_line(
        "'finished' (second)",
        |l| l.starts_with(&format!("finished {second}")),
        long,
    );
    // Another terminal and another kiosk, each with its own enrollment.
    let as_device = |role: &'static str, id: &'static str| {
        let tls = hall_proto::client::Tls::from_dir(&enroll(&data, &url, role, id, &ids)).unwrap();
        let url = url.clone();
        async move {
            hall_proto::client::connect_tls(&url, Some(&tls), 50, Duration::from_millis(200))
                .await
                .unwrap()
        }
    };
    let mut c = pb::counter_service_client::CounterServiceClient::new(
        as_device("counter", "counter-5").await,
    );
    let s5 = login(&mut c, 5, "c05").await;
    let mut k =
        pb::kiosk_service_client::KioskServiceClient::new(as_device("kiosk", "kiosk-2").await);
    let marker = issue_ok(&mut k, "medical_insurance", "e2e-marker")
        .await
        .number;
    c.call_next(pb::WindowRequest { session: Some(s5) })
        .await
        .unwrap();
    board.wait_line(
        "'called' (marker)",
        |l| *l == format!("called {marker} window 5"),
        long,
    );
    let deadline = Instant::now() + long;
    while wavs_for(&wavs, &marker) == 0 {
        assert!(Instant::now() < deadline, "no announcement of {marker}");
        std::thread::sleep(Duration::from_millis(100));
    }
    for n in [&first, &second] {
        assert_eq!(
            board.count(&format!("called {n} window 1")),
            1,
            "board shows {n} once: {:?}",
            board.lines()
        );
        assert_eq!(
            counter.count(&format!("called {n}")),
            1,
            "{:?}",
            counter.lines()
        );
        assert_eq!(wavs_for(&wavs, n), 1, "one announcement of {n}");
    }
    assert_eq!(
        printer
            .lines()
            .iter()
            .filter(|l| l.starts_with("slip "))
            .count(),
        2
    );
    assert!(
        counter.lines().iter().any(|l| l == "reconnected"),
        "{:?}",
        counter.lines()
    );
    for f in ["kiosk.png", "board.png", "counter-1.png"] {
        assert!(screens.join(f).exists(), "{f}");
    }
}
