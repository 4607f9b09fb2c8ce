//! `kiosk`: the visitors' ticket kiosk.
//!
//! - `kiosk [--config FILE] [--server URL]` runs it: with a display it opens
//!   the touch window; without one (or with `--headless`) it renders to PNG in
//!   `--out DIR` every few seconds. With no printer or reader port configured
//!   it starts the device simulators in process.
//! - `kiosk --screenshot DIR [--server URL]` renders every screen headless to
//!   PNG (the live catalogue from the server, or sample data) and exits.
//! - Commands on stdin drive it like touches (for the whole-hall demo and the
//!   end-to-end test): `choose CODE`, `take`, `skip`, `green on|off`,
//!   `confirm`, `back`, `home`, `checkin`, `lang zh|en`, `elder on|off`,
//!   `search TEXT`, `zone CODE|all`, `scan TEXT` (what a QR scanner read:
//!   a booking's or a remote ticket's code checks it in); with the in-process simulators also
//!   `sim-card N`, `sim-remove`, `sim-paper-out`, `sim-paper-ok`. Outcomes are
//!   printed one per line (`issued A001 …`, `printed A001`, …).

use anyhow::{Context, Result};
use clap::Parser;
use hall_hardware::escpos::{Paper, PaperLevel, PrinterStatus};
use kiosk::config::KioskConfig;
use kiosk::controller::{self, Controller, now_ms};
use kiosk::devices::{self, PrinterHandle, ReaderEvent, Simulated};
use kiosk::flow::{self, Input, PrintState, PrinterHealth, Screen, State, Touch};
use hall_client::time::HallZone;
use kiosk::{KioskAdapter, KioskWindow, sample, view};
use slint::ComponentHandle;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "kiosk", about = "Ticket kiosk (取号机)")]
struct Cli {
    /// Configuration file (TOML); flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    server: Option<String>,
    #[arg(long)]
    kiosk_id: Option<String>,
    /// Printer serial port (empty: the simulated printer).
    #[arg(long)]
    printer_port: Option<String>,
    /// Paper width of the printer, 58 or 80 (mm).
    #[arg(long)]
    printer_width: Option<u32>,
    /// ID-card reader serial port (empty: the simulated reader).
    #[arg(long)]
    reader_port: Option<String>,
    #[arg(long)]
    lang: Option<String>,
    /// Render every screen to PNG files in DIR and exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Headless mode: no window; the screen goes to `--out DIR` every
    /// `--every` seconds (the board's announcements to `--wav-dir`).
    #[command(flatten)]
    run: hall_client::args::RunArgs,
    /// Landscape layout (1920×1080) instead of portrait (1080×1920).
    #[arg(long)]
    landscape: bool,
}

fn main() -> Result<()> {
    hall_client::init_logging();
    let mut cli = Cli::parse();
    cli.run = cli.run.with_default_out("kiosk-out");
    let mut cfg = match &cli.config {
        Some(p) => KioskConfig::load(p)?,
        None => KioskConfig::default(),
    };
    if let Some(s) = &cli.server {
        cfg.server = s.clone();
    }
    if let Some(v) = &cli.kiosk_id {
        cfg.kiosk_id = v.clone();
    }
    if let Some(v) = &cli.printer_port {
        cfg.printer.port = v.clone();
    }
    if let Some(v) = cli.printer_width {
        cfg.printer.width = v;
    }
    if let Some(v) = &cli.reader_port {
        cfg.reader.port = v.clone();
    }
    if let Some(v) = &cli.lang {
        cfg.lang = v.clone();
    }
    // The same checks as a file gets, for the flags too.
    cfg.check("command line and configuration")?;
    if let Some(dir) = &cli.screenshot {
        return screenshots(&cli, &cfg, dir);
    }
    run(&cli, cfg)
}

fn paper(cfg: &KioskConfig) -> Paper {
    if cfg.printer.width == 58 { Paper::Mm58 } else { Paper::Mm80 }
}

fn live_catalog(url: &str) -> Result<flow::CatalogView> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let ch = hall_proto::client::connect_with_backoff(url, 20, Duration::from_secs(1))
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let mut c = hall_proto::v1::kiosk_service_client::KioskServiceClient::new(ch);
        let cat = c.get_catalog(hall_proto::v1::GetCatalogRequest {}).await.context("reading the catalogue")?;
        Ok(flow::CatalogView::from_pb(&cat.into_inner()))
    })
}

fn screenshots(cli: &Cli, cfg: &KioskConfig, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let catalog = match &cli.server {
        Some(url) => live_catalog(url)?,
        None => sample::catalog(),
    };
    let s = controller::settings(cfg);
    let now = now_ms();
    view::install_headless(1080, 1920);
    let ui = KioskWindow::new()?;
    let shot = |name: &str, st: &State, size: (u32, u32)| -> Result<()> {
        ui.window().set_size(slint::PhysicalSize::new(size.0, size.1));
        view::show(&ui, st, &s, now);
        let p = dir.join(name);
        view::snapshot_png(&ui, &p)?;
        println!("{}", p.display());
        Ok(())
    };
    const PORTRAIT: (u32, u32) = (1080, 1920);
    const LANDSCAPE: (u32, u32) = (1920, 1080);
    // Every screen in both orientations: `NAME.png` (portrait) and
    // `NAME-landscape.png`.
    let both = |name: &str, st: &State| -> Result<()> {
        shot(&format!("{name}.png"), st, PORTRAIT)?;
        shot(&format!("{name}-landscape.png"), st, LANDSCAPE)
    };
    let base = State { catalog: catalog.clone(), connected: true, catalog_loads: 1, ..State::new(false) };
    let mut st = base.clone();
    both("home", &st)?;
    st.en = true;
    shot("home-en.png", &st, LANDSCAPE)?;
    st.en = false;
    st.elder = true;
    both("home-elder", &st)?;
    st.elder = false;
    let first = catalog.items.iter().find(|i| i.open_now && !i.bundle).map(|i| i.code.clone()).unwrap_or_default();
    let touch = |st: &mut State, t: Touch| {
        flow::update(st, Input::Touch(t), now, &s);
    };
    touch(&mut st, Touch::Choose(first.clone()));
    both("detail", &st)?;
    if let Some(b) = catalog.items.iter().find(|i| i.bundle) {
        let mut b_st = base.clone();
        touch(&mut b_st, Touch::Choose(b.code.clone()));
        both("detail-bundle", &b_st)?;
        b_st.elder = true;
        both("detail-bundle-elder", &b_st)?;
    }
    touch(&mut st, Touch::TakeNumber);
    both("identity", &st)?;
    flow::update(&mut st, Input::Card(sample::visitor()), now, &s);
    touch(&mut st, Touch::Green(true));
    both("confirm", &st)?;
    let mut issuing = st.clone();
    issuing.screen = Screen::Issuing;
    issuing.retrying = true;
    issuing.connected = false;
    both("issuing-retrying", &issuing)?;
    touch(&mut st, Touch::Confirm);
    let mut t = sample::ticket();
    t.category = first.clone();
    flow::update(&mut st, Input::Issued(Ok(t)), now, &s);
    flow::update(&mut st, Input::Printed(Ok(PrinterHealth::Ok)), now, &s);
    both("done", &st)?;
    let mut elder = st.clone();
    elder.elder = true;
    both("done-elder", &elder)?;
    let mut failed_print = st.clone();
    if let Some(d) = &mut failed_print.done {
        d.printed = PrintState::Failed("paper_out".into());
    }
    failed_print.printer = PrinterHealth::Blocked("paper_out".into());
    both("done-print-failed", &failed_print)?;
    let mut blocked = base.clone();
    blocked.printer = PrinterHealth::Blocked("paper_out".into());
    both("blocked", &blocked)?;
    let mut failed = base.clone();
    failed.screen = Screen::Failed;
    failed.message = "您今天已取过该事项的号 A007，请留意叫号，无需重复取号。".into();
    both("failed", &failed)?;
    let mut checkin = base.clone();
    touch(&mut checkin, Touch::CheckIn);
    both("checkin", &checkin)?;
    let mut offline = base.clone();
    offline.connected = false;
    both("offline", &offline)?;
    Ok(())
}

/// Devices as configured, or the in-process simulators.
struct Devices {
    printer: PrinterHandle,
    reader_path: String,
    sim: Option<Simulated>,
}

fn open_devices(cli: &Cli, cfg: &KioskConfig) -> Result<Devices> {
    let sim = if cfg.printer.port.is_empty() || cfg.reader.port.is_empty() {
        let s = Simulated::start(paper(cfg), cli.run.out().join("slips")).context("starting the device simulators")?;
        eprintln!(
            "kiosk: no device configured; simulated printer at {} (slips as PNG in {}), simulated reader at {}",
            s.printer_path(),
            s.slips_dir.display(),
            s.reader_path()
        );
        Some(s)
    } else {
        None
    };
    let printer_path = if cfg.printer.port.is_empty() { sim.as_ref().map(|s| s.printer_path()).unwrap_or_default() } else { cfg.printer.port.clone() };
    let reader_path = if cfg.reader.port.is_empty() { sim.as_ref().map(|s| s.reader_path()).unwrap_or_default() } else { cfg.reader.port.clone() };
    let printer = PrinterHandle::open(&printer_path, cfg.printer_line(), paper(cfg))?;
    Ok(Devices { printer, reader_path, sim })
}

// A handful of messages per touch: their size does not matter.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Input(Input),
    Quit,
}

fn stdin_command(line: &str, sim: Option<&Simulated>) -> Option<Msg> {
    let (cmd, arg) = line.trim().split_once(' ').map(|(a, b)| (a, b.trim())).unwrap_or((line.trim(), ""));
    let t = match cmd {
        "" => return None,
        "quit" => return Some(Msg::Quit),
        // What a QR scanner read (a booking's or a remote ticket's code).
        "scan" => return Some(Msg::Input(Input::Scan(arg.to_string()))),
        sim_cmd if sim_cmd.starts_with("sim-") => {
            let Some(sim) = sim else {
                eprintln!("kiosk: {sim_cmd} needs the in-process simulators (no device port configured)");
                return None;
            };
            let mut status = sim.printer.status();
            match sim_cmd {
                "sim-card" => {
                    let cards = hall_hardware::sim::sample_cards();
                    let i: usize = arg.parse().unwrap_or(0);
                    sim.reader.place(cards[i % cards.len()].clone());
                }
                "sim-remove" => sim.reader.remove(),
                "sim-paper-out" => status.paper = PaperLevel::End,
                "sim-paper-near-end" => status.paper = PaperLevel::NearEnd,
                "sim-paper-ok" => status = PrinterStatus { paper: PaperLevel::Ok, cover_open: false, ..status },
                "sim-cover-open" => status.cover_open = true,
                _ => eprintln!("kiosk: unknown command {sim_cmd}"),
            }
            sim.printer.set_status(status);
            return None;
        }
        // The same names as the screen's touches; "zone all" clears the zone.
        other => match touch_of(other, if other == "zone" && arg == "all" { "" } else { arg }) {
            Some(t) => t,
            None => {
                eprintln!("kiosk: unknown command '{other}'");
                return None;
            }
        },
    };
    Some(Msg::Input(Input::Touch(t)))
}

/// A touch by name: the stdin commands use the names of the screen's
/// `TouchKind` values.
fn touch_of(kind: &str, arg: &str) -> Option<Touch> {
    view::touch_kind(kind).map(|k| view::touch(k, arg))
}

fn run(cli: &Cli, cfg: KioskConfig) -> Result<()> {
    let headless = cli.run.headless();
    let devices = open_devices(cli, &cfg)?;
    // The hall's time zone as the latest catalogue says (the reader's dates
    // and the clock use it).
    let zone = Arc::new(Mutex::new(HallZone::default()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    let (itx, mut irx) = tokio::sync::mpsc::unbounded_channel::<Input>();
    // Reader → controller.
    {
        let itx = itx.clone();
        let zone = zone.clone();
        let today = move || zone.lock().unwrap_or_else(|e| e.into_inner()).today(now_ms());
        devices::spawn_reader(&devices.reader_path, cfg.reader_line(), today, move |ev| {
            let input = match ev {
                ReaderEvent::Card(v) => Input::Card(v),
                ReaderEvent::Error(m) => Input::CardError(m),
            };
            itx.send(input).is_ok()
        })?;
    }
    // Stdin → controller (a closed stdin just ends this thread).
    let sim_handle: Arc<Mutex<Option<Simulated>>> = Arc::new(Mutex::new(devices.sim));
    {
        let tx = tx.clone();
        let sim_handle = sim_handle.clone();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                let guard = sim_handle.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(m) = stdin_command(&line, guard.as_ref()) {
                    let quit = matches!(m, Msg::Quit);
                    if tx.send(m).is_err() || quit {
                        return;
                    }
                }
            }
        });
    }
    // The UI receives every state the controller publishes.
    let (state_tx, state_rx) = std::sync::mpsc::channel::<State>();
    let ui = if headless {
        view::install_headless(if cli.landscape { 1920 } else { 1080 }, if cli.landscape { 1080 } else { 1920 });
        KioskWindow::new()?
    } else {
        let ui = KioskWindow::new()?;
        if cli.landscape {
            ui.window().set_size(slint::LogicalSize::new(1920.0, 1080.0));
        }
        ui
    };
    let weak = ui.as_weak();
    let settings = controller::settings(&cfg);
    let publish_zone = zone.clone();
    let set_zone = move |st: &State| *publish_zone.lock().unwrap_or_else(|e| e.into_inner()) = st.catalog.zone;
    let publish: Box<dyn FnMut(&State) + Send> = if headless {
        Box::new(move |st: &State| {
            set_zone(st);
            let _ = state_tx.send(st.clone());
        })
    } else {
        let s = settings.clone();
        Box::new(move |st: &State| {
            set_zone(st);
            let st = st.clone();
            let s = s.clone();
            let _ = weak.upgrade_in_event_loop(move |ui| view::show(&ui, &st, &s, now_ms()));
        })
    };
    {
        let t = tx.clone();
        ui.global::<KioskAdapter>().on_touch(move |kind, arg| {
            let _ = t.send(Msg::Input(Input::Touch(view::touch(kind, &arg))));
        });
    }
    let printer = devices.printer.clone();
    let ctl_cfg = cfg.clone();
    let quit_ui = ui.as_weak();
    let controller_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
        rt.block_on(async move {
            let mut ctl = Controller::new(
                &ctl_cfg,
                printer,
                |line: &str| {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                },
                publish,
            );
            tokio::spawn(controller::follow_catalog(ctl_cfg.server.clone(), ctl_cfg.device_token.clone(), itx));
            ctl.poll_printer().await;
            ctl.load_catalog().await;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut poll = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    m = rx.recv() => match m {
                        Some(Msg::Input(i)) => ctl.handle(i).await,
                        Some(Msg::Quit) | None => break,
                    },
                    Some(i) = irx.recv() => ctl.handle(i).await,
                    _ = tick.tick() => ctl.handle(Input::Tick).await,
                    _ = poll.tick() => {
                        // Not while a visitor's print may be under way.
                        if !matches!(ctl.state.screen, Screen::Issuing) {
                            ctl.poll_printer().await;
                        }
                    }
                }
            }
        });
        let _ = quit_ui.upgrade_in_event_loop(|ui| {
            let _ = ui.hide();
            let _ = slint::quit_event_loop();
        });
    });
    let deadline = cli.run.duration.map(|d| Instant::now() + Duration::from_secs(d));
    if headless {
        std::fs::create_dir_all(cli.run.out()).with_context(|| format!("creating {}", cli.run.out().display()))?;
        println!("kiosk: headless, screenshots every {} s in {}", cli.run.every, cli.run.out().display());
        let mut last = State::new(cfg.lang == "en");
        let mut next_shot = Instant::now();
        loop {
            match state_rx.recv_timeout(Duration::from_millis(200)) {
                Ok(st) => last = st,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() >= next_shot {
                next_shot = Instant::now() + Duration::from_secs(cli.run.every.max(1));
                view::show(&ui, &last, &settings, now_ms());
                view::snapshot_png(&ui, &cli.run.out().join("kiosk.png"))?;
                // The latest picture of each screen, so a run shows them all.
                view::snapshot_png(&ui, &cli.run.out().join(format!("kiosk-{}.png", last.screen.name())))?;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        let _ = tx.send(Msg::Quit);
        let _ = controller_thread.join();
    } else {
        if let Some(d) = deadline {
            let t = tx.clone();
            std::thread::spawn(move || {
                std::thread::sleep(d.saturating_duration_since(Instant::now()));
                let _ = t.send(Msg::Quit);
            });
        }
        // The clock ticks on its own; the controller redraws only on change.
        let clock = slint::Timer::default();
        let weak = ui.as_weak();
        clock.start(slint::TimerMode::Repeated, Duration::from_secs(1), move || {
            if let Some(ui) = weak.upgrade() {
                let a = ui.global::<KioskAdapter>();
                let zone = *zone.lock().unwrap_or_else(|e| e.into_inner());
                a.set_clock(zone.clock_text(now_ms(), a.get_en(), false).into());
            }
        });
        ui.run()?;
        let _ = tx.send(Msg::Quit);
    }
    drop(sim_handle);
    Ok(())
}
