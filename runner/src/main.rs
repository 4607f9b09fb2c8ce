//! `hall`: the whole hall on one machine.
//!
//! Starts, as separate processes, the server (its sled store in `OUT/data`,
//! the built-in hall open around the clock), the printer and ID-card reader
//! simulators on pseudo-terminals, a kiosk on them, two counter terminals
//! worked by simulated clerks (windows 1 and 2), and the lobby board; then
//! simulated visitors and clerks (`sim::drive`, windows 3–30) and a visitor at
//! the kiosk every few seconds (a card on the reader, a category, confirm).
//!
//! With a display the clients open their windows. Without one (or with
//! `--headless`) they write screenshots every few seconds, the printer
//! simulator writes each slip as PNG and the board each announcement as WAV,
//! all under `--out`. Ctrl-C (or `--duration`) stops everything in order: the
//! clients, then the server with SIGTERM, which flushes its log.
//!
//! The binaries are taken from this binary's own folder (`cargo build
//! --release` builds them all; `./hall.sh` does that first).

use anyhow::{Context, Result, bail};
use clap::Parser;
use hall_proto::v1 as pb;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

#[derive(Parser)]
#[command(name = "hall", about = "The whole hall on one machine: server, kiosk, counters, board, device simulators, simulated visitors")]
struct Cli {
    /// No windows: screenshots, slips and announcements go to files (chosen
    /// by itself when there is no display).
    #[arg(long)]
    headless: bool,
    /// Output folder: data, screenshots, slips, announcements, logs.
    #[arg(long, default_value = "hall-out")]
    out: PathBuf,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long)]
    duration: Option<u64>,
    /// Simulated minutes per real minute for visitors and clerks.
    #[arg(long, default_value_t = 5.0)]
    speed: f64,
    /// Seconds between screenshots in headless mode.
    #[arg(long, default_value_t = 5)]
    every: u64,
    /// Seconds between visitors at the kiosk.
    #[arg(long, default_value_t = 8)]
    kiosk_every: u64,
    /// Server address (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: String,
    /// The web face's address (JSON API, events, ticket pages); with
    /// `--listen` on port 0, any free port unless given.
    #[arg(long)]
    http: Option<String>,
}

fn has_display() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()) || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty())
}

/// The running processes, in start order.
struct Procs {
    bin_dir: PathBuf,
    log: Arc<std::sync::Mutex<std::fs::File>>,
    children: Vec<(String, Child)>,
}

impl Procs {
    fn command(&self, bin: &str) -> Result<Command> {
        let path = self.bin_dir.join(bin);
        if !path.exists() {
            bail!(
                "{} is missing: build the hall first (cargo build --release -p hall-server -p hall-hardware -p kiosk -p counter-terminal -p display-board, or ./hall.sh)",
                path.display()
            );
        }
        let mut c = Command::new(path);
        // Own process group: Ctrl-C reaches only this runner, which then
        // stops the others in order.
        c.process_group(0).kill_on_drop(true).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        Ok(c)
    }

    /// Starts a process; its output goes to the log, and the lines `show`
    /// accepts to the console too. Waits for what `until` says (60 s at
    /// most) and returns that line.
    async fn start(&mut self, name: &str, mut cmd: Command, until: Until, show: fn(&str) -> bool) -> Result<(Option<String>, Option<ChildStdin>)> {
        let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
        // Its stderr is read from the start: a full pipe would stall it.
        if let Some(err) = child.stderr.take() {
            let log = self.log.clone();
            let tag = name.to_string();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    write_log(&log, &format!("[{tag}!] {l}"));
                }
            });
        }
        let wanted = |l: &str| match until {
            Until::FirstLine => true,
            Until::Line(prefix) => l.starts_with(prefix),
        };
        let first = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let l = out.next_line().await?.with_context(|| format!("{name} exited at start (see {name} in hall.log)"))?;
                write_log(&self.log, &format!("[{name}] {l}"));
                if show(&l) {
                    println!("[{name}] {l}");
                }
                if wanted(&l) {
                    return anyhow::Ok(l);
                }
            }
        })
        .await
        .with_context(|| format!("{name} was not ready within 60 s (see {name} in hall.log)"))??;
        let first = Some(first);
        let stdin = child.stdin.take();
        let log = self.log.clone();
        let tag = name.to_string();
        tokio::spawn(async move {
            while let Ok(Some(l)) = out.next_line().await {
                if show(&l) {
                    println!("[{tag}] {l}");
                }
                write_log(&log, &format!("[{tag}] {l}"));
            }
        });
        self.children.push((name.to_string(), child));
        Ok((first, stdin))
    }

    /// Stops every process but the server (SIGTERM, then a kill after 15 s).
    /// Returns the ones that had already exited on their own.
    async fn stop_clients(&mut self) -> Vec<String> {
        let mut died = Vec::new();
        for (name, child) in self.children.iter_mut().rev().filter(|(n, _)| n != "server") {
            if let Ok(Some(status)) = child.try_wait() {
                eprintln!("hall: {name} had stopped on its own ({status}); its output is in hall.log");
                died.push(name.clone());
                continue;
            }
            terminate(name, child).await;
        }
        died
    }
}

async fn terminate(name: &str, child: &mut Child) -> Option<std::process::ExitStatus> {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
    }
    match tokio::time::timeout(Duration::from_secs(15), child.wait()).await {
        Ok(Ok(s)) => Some(s),
        _ => {
            eprintln!("hall: {name} did not stop on SIGTERM; killing it");
            let _ = child.kill().await;
            None
        }
    }
}

/// What [`Procs::start`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// Its first stdout line (the server's address, a simulator's port).
    FirstLine,
    /// A line starting with this: the client's readiness line.
    Line(&'static str),
}

fn write_log(log: &std::sync::Mutex<std::fs::File>, line: &str) {
    use std::io::Write;
    let mut f = log.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(f, "{line}");
}

fn show_none(_: &str) -> bool {
    false
}

fn show_events(l: &str) -> bool {
    ["issued ", "printed ", "print_failed", "printer ", "failed ", "called ", "recalled ", "slip "].iter().any(|p| l.starts_with(p))
}

/// A visitor at the kiosk every few seconds: a card on the reader (or none,
/// for a category that does not need it), a category, confirm, card off.
async fn kiosk_visitors(mut kiosk: ChildStdin, mut reader: ChildStdin, every: Duration) {
    // Categories of the built-in hall, with and without the card.
    const WITH_CARD: [&str; 6] = ["social_insurance", "pension", "medical_claims", "id_card", "real_estate", "business_registration"];
    const WITHOUT: [&str; 4] = ["medical_insurance", "tax_declaration", "invoice", "employment"];
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut n = 0u32;
    // The kiosk said it is ready (its catalogue is in) before this starts:
    // a visitor now, and another every `every`.
    loop {
        n += 1;
        let card = !n.is_multiple_of(3);
        let mut lines = Vec::new();
        if card {
            let _ = reader.write_all(format!("place {}\n", rng.random_range(0..3)).as_bytes()).await;
            tokio::time::sleep(Duration::from_millis(1200)).await;
            lines.push(format!("choose {}", WITH_CARD[rng.random_range(0..WITH_CARD.len())]));
            lines.push("take".into());
            lines.push("green on".into());
        } else {
            lines.push(format!("choose {}", WITHOUT[rng.random_range(0..WITHOUT.len())]));
            lines.push("take".into());
            lines.push("skip".into());
        }
        lines.push("confirm".into());
        for l in lines {
            if kiosk.write_all(format!("{l}\n").as_bytes()).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _ = kiosk.write_all(b"home\n").await;
        if card {
            let _ = reader.write_all(b"remove\n").await;
        }
        tokio::time::sleep(every).await;
    }
}

/// Enrolls a device as a hall does: `hall-server enroll` prints a pairing
/// code, `hall-server redeem` (the device's side) turns it into the
/// device's certificate in `out/devices/<id>`, the folder the device gets
/// as `HALL_TLS_DIR`.
async fn enroll(procs: &Procs, data: &Path, url: &str, role: &str, id: &str, out: &Path) -> Result<PathBuf> {
    let bin = procs.bin_dir.join("hall-server");
    let o = Command::new(&bin).args(["enroll", "--role", role, "--id", id, "--data-dir"]).arg(data).output().await?;
    if !o.status.success() {
        bail!("enrolling {id}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let stdout = String::from_utf8(o.stdout)?;
    let code = stdout.lines().last().context("no pairing code")?.trim().to_string();
    if role == "board" && id.starts_with("screen") {
        // A browser pairs itself with the code (the data screen).
        return Ok(PathBuf::from(code));
    }
    let dir = out.join("devices").join(id);
    let o = Command::new(&bin)
        .args(["redeem", "--server", url, "--code", &code, "--ca"])
        .arg(data.join("tls").join("ca.pem"))
        .arg("--out")
        .arg(&dir)
        .output()
        .await?;
    if !o.status.success() {
        bail!("redeeming {id}'s pairing code: {}", String::from_utf8_lossy(&o.stderr));
    }
    Ok(dir)
}

/// One ticket taken for the sample link (a visitor like any other).
async fn sample_ticket(url: &str, tls: &hall_proto::client::Tls) -> Option<pb::Ticket> {
    let ch = hall_proto::client::connect_tls(url, Some(tls), 3, Duration::from_millis(300)).await.ok()?;
    let mut kiosk = pb::kiosk_service_client::KioskServiceClient::new(ch);
    let req = pb::IssueTicketRequest {
        request_id: hall_proto::client::new_request_id(),
        category: "social_insurance".into(),
        ..Default::default()
    };
    kiosk.issue_ticket(req).await.ok().map(|r| r.into_inner())
}

/// The data screen as a headless Chromium shows it, paired with a code of
/// its own, saved beside the other screens. Skipped (and said so) without
/// Chromium.
async fn screen_shot(procs: &Procs, data: &Path, url: &str, web: &str, screens: &Path, out: &Path) {
    let has = std::process::Command::new("which").arg("chromium").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if !has {
        println!("hall: no chromium here; the data screen's screenshot is skipped");
        return;
    }
    let code = match enroll(procs, data, url, "board", "screen-shot", out).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hall: pairing the screenshot browser: {e:#}");
            return;
        }
    };
    let file = screens.join("screen.png");
    let mut cmd = Command::new("chromium");
    cmd.args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--ignore-certificate-errors", "--hide-scrollbars", "--window-size=1920,1080", "--timeout=8000"])
        .arg(format!("--screenshot={}", file.display()))
        .arg(format!("{web}/screen?pair={}", code.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(60), cmd.status()).await {
        Ok(Ok(s)) if s.success() && file.exists() => println!("hall: data screen saved to {}", file.display()),
        Ok(r) => eprintln!("hall: the data screen's screenshot failed: {r:?}"),
        Err(_) => eprintln!("hall: the data screen's screenshot took over 60 s; skipped"),
    }
}

async fn day_report(url: &str, tls: &hall_proto::client::Tls) -> Option<pb::DayReport> {
    let ch = hall_proto::client::connect_tls(url, Some(tls), 3, Duration::from_millis(300)).await.ok()?;
    let mut admin = pb::admin_service_client::AdminServiceClient::new(ch);
    admin.get_day_report(pb::DayReportRequest {}).await.ok().map(|r| r.into_inner())
}

fn count_files(dir: &Path, ext: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == ext)).count())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let headless = cli.headless || !has_display();
    let out = std::path::absolute(&cli.out)?;
    for d in ["data", "slips", "announcements", "screens"] {
        std::fs::create_dir_all(out.join(d)).with_context(|| format!("creating {}", out.join(d).display()))?;
    }
    let log = std::fs::File::create(out.join("hall.log"))?;
    let bin_dir = std::env::current_exe()?.parent().context("binary folder")?.to_path_buf();
    let mut procs = Procs { bin_dir, log: Arc::new(std::sync::Mutex::new(log)), children: Vec::new() };
    let screens = out.join("screens");
    let every = cli.every.to_string();

    // The server.
    let mut cmd = procs.command("hall-server")?;
    // The web face's address is chosen here (a free port when the gRPC
    // port is "any"), so the runner can print its pages' URLs.
    let http = match &cli.http {
        Some(h) => h.clone(),
        None if cli.listen.ends_with(":0") => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            format!("127.0.0.1:{port}")
        }
        None => "127.0.0.1:8080".into(),
    };
    let web = format!("https://{http}");
    cmd.args(["--listen", &cli.listen, "--http", &http, "--always-open", "--data-dir"]).arg(out.join("data"));
    let (first, _) = procs.start("server", cmd, Until::FirstLine, show_none).await?;
    let first = first.unwrap_or_default();
    let addr = first.strip_prefix("hall-server listening on ").with_context(|| format!("unexpected first line '{first}'"))?.to_string();
    let url = format!("https://{addr}");
    // Every device enrolled with its own certificate, as in a real hall.
    let data = out.join("data");
    let kiosk_tls = enroll(&procs, &data, &url, "kiosk", "kiosk-1", &out).await?;
    let board_tls = enroll(&procs, &data, &url, "board", "board-1", &out).await?;
    let sim_tls = |dir: PathBuf| hall_proto::client::Tls::from_dir(&dir).with_context(|| format!("reading {}", dir.display()));
    let sim_kiosk = sim_tls(enroll(&procs, &data, &url, "kiosk", "sim-kiosk", &out).await?)?;
    let sim_kiosk_copy = sim_kiosk.clone();
    let sim_counter = sim_tls(enroll(&procs, &data, &url, "counter", "sim-counter", &out).await?)?;
    let supervisor = sim_tls(enroll(&procs, &data, &url, "supervisor", "runner", &out).await?)?;
    // Rating pads (评价器) at the first simulated windows: their citizens rate there.
    let mut pad_tls = std::collections::BTreeMap::new();
    for w in 3..=8u32 {
        pad_tls.insert(w, sim_tls(enroll(&procs, &data, &url, "pad", &format!("pad-{w}"), &out).await?)?);
    }

    // Devices: the printer and the reader on pseudo-terminals.
    let mut cmd = procs.command("hall-hw")?;
    cmd.args(["sim-printer", "--width", "80", "--out"]).arg(out.join("slips")).stdin(Stdio::piped());
    let (printer_port, _printer_in) = procs.start("printer", cmd, Until::FirstLine, show_events).await?;
    let mut cmd = procs.command("hall-hw")?;
    cmd.args(["sim-reader", "--empty"]).stdin(Stdio::piped());
    let (reader_port, reader_in) = procs.start("reader", cmd, Until::FirstLine, show_none).await?;
    let (printer_port, reader_port) = (printer_port.unwrap_or_default(), reader_port.unwrap_or_default());

    // The clients.
    let mut cmd = procs.command("kiosk")?;
    cmd.args(["--server", &url, "--kiosk-id", "kiosk-1", "--printer-port", &printer_port, "--reader-port", &reader_port, "--every", &every, "--out"])
        .arg(&screens)
        .env("HALL_TLS_DIR", &kiosk_tls)
        .stdin(Stdio::piped());
    if headless {
        cmd.arg("--headless");
    } else {
        // Fits a 1920×1080 monitor (portrait is for a kiosk's own screen).
        cmd.arg("--landscape");
    }
    let (_, kiosk_in) = procs.start("kiosk", cmd, Until::Line("kiosk ready: "), show_events).await?;
    for w in [1u32, 2] {
        let counter_tls = enroll(&procs, &data, &url, "counter", &format!("counter-{w}"), &out).await?;
        let mut cmd = procs.command("counter-terminal")?;
        cmd.args(["--server", &url, "--window", &w.to_string(), "--auto-clerk", "--speed", &cli.speed.to_string(), "--every", &every, "--out"])
            .arg(&screens)
            .env("HALL_TLS_DIR", &counter_tls);
        if headless {
            cmd.arg("--headless");
        }
        procs.start(&format!("counter-{w}"), cmd, Until::Line("counter ready: "), show_none).await?;
    }
    let mut cmd = procs.command("display-board")?;
    cmd.args(["--server", &url, "--every", &every, "--out"])
        .arg(&screens)
        .arg("--wav-dir")
        .arg(out.join("announcements"))
        .env("HALL_TLS_DIR", &board_tls);
    if headless {
        cmd.arg("--headless");
    }
    procs.start("board", cmd, Until::Line("board ready: "), show_events).await?;

    // Visitors and clerks.
    let drive = tokio::spawn(hall_sim::drive::drive(hall_sim::drive::DriveOptions {
        server: url.clone(),
        speed: cli.speed,
        duration: None,
        windows: (3..=30).collect(),
        seed: 1,
        scenario: hall_sim::Scenario::builtin(),
        kiosk_tls: Some(sim_kiosk),
        counter_tls: Some(sim_counter),
        pad_tls,
    }));
    let visitors = match (kiosk_in, reader_in) {
        (Some(k), Some(r)) => Some(tokio::spawn(kiosk_visitors(k, r, Duration::from_secs(cli.kiosk_every.max(3))))),
        _ => None,
    };

    println!("hall: server {url} (data in {})", out.join("data").display());
    // The web face: the data screen (a pairing code makes a browser a
    // screen device once) and one sample ticket's page.
    let screen_code = enroll(&procs, &data, &url, "board", "screen-1", &out).await?;
    println!("hall: data screen {web}/screen?pair={} (pairs one browser, within 10 minutes)", screen_code.display());
    if let Some(t) = sample_ticket(&url, &sim_kiosk_copy).await {
        println!("hall: a sample ticket's page {}", t.status_url);
    }
    println!("hall: printer simulator {printer_port}, ID-card reader simulator {reader_port}");
    if headless {
        println!("hall: headless; every {} s the screens go to {}", cli.every, screens.display());
    } else {
        println!("hall: the kiosk, two counter terminals and the board open their windows");
    }
    println!("hall: slips (PNG) in {}, announcements (WAV) in {}", out.join("slips").display(), out.join("announcements").display());
    println!("hall: log of every process in {}", out.join("hall.log").display());
    match cli.duration {
        Some(d) => println!("hall: running for {d} s (Ctrl-C stops earlier)"),
        None => println!("hall: running; Ctrl-C stops everything"),
    }

    let stop = async {
        match cli.duration {
            Some(d) => {
                tokio::select! { _ = tokio::time::sleep(Duration::from_secs(d)) => {}, _ = tokio::signal::ctrl_c() => {} }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    // A process that dies early is reported, not silently lost.
    tokio::select! {
        _ = stop => {}
        r = server_exit(&mut procs) => bail!("the server stopped unexpectedly: {r}"),
    }

    if headless {
        screen_shot(&procs, &data, &url, &web, &screens, &out).await;
    }
    println!("hall: stopping");
    if let Some(v) = visitors {
        v.abort();
    }
    drive.abort();
    let report = day_report(&url, &supervisor).await;
    let died = procs.stop_clients().await;
    let (_, server) = procs.children.iter_mut().find(|(n, _)| n == "server").context("server process")?;
    let status = terminate("server", server).await;
    if let Some(r) = report {
        println!("hall: {} tickets issued, {} served, {} waiting; average rating {:.2}", r.issued, r.served, r.waiting, r.avg_rating);
    }
    println!(
        "hall: {} screens, {} slips, {} announcements in {}",
        count_files(&screens, "png"),
        count_files(&out.join("slips"), "png"),
        count_files(&out.join("announcements"), "wav"),
        out.display()
    );
    match status {
        Some(s) if s.success() && died.is_empty() => {
            println!("hall: server stopped cleanly (log flushed)");
            Ok(())
        }
        Some(s) if s.success() => bail!("server stopped cleanly, but {} stopped early", died.join(", ")),
        Some(s) => bail!("the server exited with {s}"),
        None => bail!("the server had to be killed"),
    }
}

/// Resolves when the server process exits (it should not before the end).
async fn server_exit(procs: &mut Procs) -> String {
    match procs.children.iter_mut().find(|(n, _)| n == "server") {
        Some((_, c)) => match c.wait().await {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        },
        None => std::future::pending().await,
    }
}
