//! `display-board`: the lobby screen and window screens.
//!
//! - `display-board --server URL [--zone Z] [--window N] [--lang zh|en]`
//!   opens the board (with a display) and follows the server.
//! - `display-board --screenshot DIR [--server URL]` renders every screen
//!   headless to PNG (sample data without a server) and exits.
//! - `display-board --announce-wav FILE --ticket A001 --window 3` renders one
//!   announcement to a WAV file and exits.

use anyhow::{Context, Result, bail};
use clap::Parser;
use display_board::model::{Board, Call, Filter};
use display_board::view::{self, ViewOptions};
use display_board::voice::{self, announcer, Announcer, Lang, VoicePack};
use display_board::{follow, sample, BoardAdapter, BoardWindow};
use hall_client::follow::Connection;
use hall_client::time::{HallZone, now_ms};
use slint::ComponentHandle;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Parser)]
#[command(name = "display-board", about = "Lobby screen (综合显示屏) and window screens (窗口屏) with spoken calls")]
struct Cli {
    /// Queue server, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    server: Option<String>,
    /// Render every screen headless to PNG files in DIR and exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Render one announcement (--ticket, --window) to this WAV file and exit.
    #[arg(long)]
    announce_wav: Option<PathBuf>,
    #[arg(long)]
    ticket: Option<String>,
    /// Window number: with --announce-wav the called window; otherwise
    /// run as that window's screen (窗口屏).
    #[arg(long)]
    window: Option<u32>,
    /// Show only this zone's windows and queues (e.g. enterprise).
    #[arg(long)]
    zone: Option<String>,
    #[arg(long, default_value = "zh", value_parser = ["zh", "en"])]
    lang: String,
    /// Times each call is spoken.
    #[arg(long, default_value_t = 2)]
    repeat: u32,
    /// Voice pack folder (manifest.toml + WAV clips).
    #[arg(long)]
    voice: Option<PathBuf>,
    /// Where announcements go when there is no sound device.
    #[arg(long, default_value = "announcements")]
    wav_dir: PathBuf,
    /// No voice at all.
    #[arg(long)]
    mute: bool,
    /// Headless mode: no window; the screen goes to `--out DIR` every
    /// `--every` seconds (the board's announcements to `--wav-dir`).
    #[command(flatten)]
    run: hall_client::args::RunArgs,
}


fn main() -> Result<()> {
    hall_client::init_logging();
    let mut cli = Cli::parse();
    cli.run = cli.run.with_default_out("board-out");
    let lang = if cli.lang == "en" { Lang::En } else { Lang::Zh };
    let voice_dir = cli.voice.clone().unwrap_or_else(voice::pack::default_dir);
    if let Some(file) = &cli.announce_wav {
        let (Some(ticket), Some(window)) = (&cli.ticket, cli.window) else {
            bail!("--announce-wav needs --ticket and --window");
        };
        let pack = VoicePack::load(&voice_dir)?;
        let audio = voice::announcement(&pack, ticket, window, lang, cli.repeat)?;
        voice::write_wav(file, pack.sample_rate, &audio).with_context(|| format!("writing {}", file.display()))?;
        println!(
            "{}: {:.2} s, {} Hz, voice pack {}",
            file.display(),
            audio.len() as f64 / pack.sample_rate as f64,
            pack.sample_rate,
            pack.name
        );
        return Ok(());
    }
    if let Some(dir) = &cli.screenshot {
        return screenshots(&cli, dir, lang);
    }
    let Some(server) = cli.server.clone() else {
        bail!("give --server URL (or --screenshot DIR, or --announce-wav FILE)");
    };
    if cli.run.headless() {
        return run_headless(&cli, server, lang, &voice_dir);
    }
    run(&cli, server, lang, &voice_dir)
}

/// The voice of a lobby board (window screens and `--mute` have none):
/// headless, WAV files written as soon as rendered (a demo at many times real
/// speed calls faster than a speaker could say the calls), the newest 500
/// kept; with a window, the
/// sound device, or WAV files when there is none.
fn start_announcer(cli: &Cli, lang: Lang, voice_dir: &std::path::Path, headless: bool) -> Result<Option<Announcer>> {
    if cli.mute || cli.window.is_some() {
        return Ok(None);
    }
    let pack = VoicePack::load(voice_dir)?;
    let out: Box<dyn announcer::AudioOut> =
        if headless {
            let mut wav = announcer::WavDirOut::new(cli.wav_dir.clone(), false)?;
            wav.keep = 500;
            Box::new(wav)
        } else {
            announcer::open_output(cli.wav_dir.clone())?
        };
    eprintln!("announcements go to {}", out.describe());
    Ok(Some(Announcer::start(pack, out, lang, cli.repeat)))
}

/// Prints one line per call (`called A001 window 3`, `recalled …`), for the
/// whole-hall runner and the end-to-end test.
fn print_call(c: &Call) {
    print_line(&format!("{} {} window {}", if c.recall { "recalled" } else { "called" }, c.number, c.window));
}

/// `board ready: snapshot seq <S>`, once, when the first snapshot is on the
/// screen: from then on every call is shown and announced.
fn print_ready(said: &mut bool, board: &Board) {
    if !std::mem::replace(said, true) {
        print_line(&format!("board ready: snapshot seq {}", board.seq));
    }
}

fn print_line(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// No display: the same screen rendered to PNG every few seconds (and right
/// after each call), announcements as WAV files.
fn run_headless(cli: &Cli, server: String, lang: Lang, voice_dir: &std::path::Path) -> Result<()> {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};
    std::fs::create_dir_all(cli.run.out()).with_context(|| format!("creating {}", cli.run.out().display()))?;
    view::install_headless(1920, 1080);
    let ui = BoardWindow::new()?;
    let opts = ViewOptions { lang, window: cli.window };
    view::set_labels(&ui, lang);
    let announcer = start_announcer(cli, lang, voice_dir, true)?;
    println!(
        "display-board: headless, screen every {} s in {}, announcements as WAV in {}",
        cli.run.every,
        cli.run.out().display(),
        cli.wav_dir.display()
    );
    enum Update {
        Board(Box<Board>, bool),
    }
    struct ToLoop {
        tx: mpsc::Sender<Update>,
        announcer: Option<Announcer>,
        ready: bool,
    }
    impl follow::Sink for ToLoop {
        fn changed(&mut self, board: &Board, call: Option<&Call>) {
            if let Some(c) = call {
                print_call(c);
                if let Some(a) = &self.announcer {
                    a.announce(&c.number, c.window);
                }
            }
            let _ = self.tx.send(Update::Board(Box::new(board.clone()), call.is_some()));
        }
        // The board carries its connection; `changed` redraws it.
        fn connection(&mut self, _state: Connection) {}
        fn snapshot_applied(&mut self, board: &Board) {
            print_ready(&mut self.ready, board);
        }
    }
    let (tx, rx) = mpsc::channel();
    let board = Board::new(Filter { zone: cli.zone.clone() });
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
        rt.block_on(follow::follow(server, board, Box::new(ToLoop { tx, announcer, ready: false })));
    });
    let deadline = cli.run.duration.map(|d| Instant::now() + Duration::from_secs(d));
    let mut next_shot = Instant::now();
    let mut zone = HallZone::default();
    let a = ui.global::<BoardAdapter>();
    a.set_connected(false);
    while deadline.is_none_or(|d| Instant::now() < d) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Update::Board(b, call)) => {
                view::show(&ui, &b, &opts);
                zone = b.zone;
                if call {
                    a.set_call_serial(a.get_call_serial().wrapping_add(1));
                    // The flashing call is worth a picture of its own.
                    next_shot = Instant::now() + Duration::from_millis(400);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        // The window's own timers (the flash ends by itself).
        slint::platform::update_timers_and_animations();
        if Instant::now() >= next_shot {
            a.set_clock(view::clock_text(lang, zone, now_ms()).into());
            view::snapshot_png(&ui, &cli.run.out().join("board.png"))?;
            next_shot = Instant::now() + Duration::from_secs(cli.run.every.max(1));
        }
    }
    Ok(())
}

/// Fetches a snapshot for representative screenshots.
fn fetch_snapshot(url: &str) -> Result<hall_proto::v1::BoardState> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let ch = hall_proto::client::connect_with_backoff(url, 5, std::time::Duration::from_secs(1)).await?;
        let mut c = hall_proto::v1::event_service_client::EventServiceClient::new(ch);
        Ok(c.snapshot(hall_proto::v1::SnapshotRequest {}).await?.into_inner())
    })
}

fn screenshots(cli: &Cli, dir: &std::path::Path, lang: Lang) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let state = match &cli.server {
        Some(url) => fetch_snapshot(url).with_context(|| format!("taking a snapshot from {url}"))?,
        None => sample::snapshot(),
    };
    let mut board = Board::new(Filter { zone: cli.zone.clone() });
    board.apply_snapshot(&state);
    view::install_headless(1920, 1080);
    let ui = BoardWindow::new()?;
    let now = now_ms();
    let shots: [(&str, Lang, Option<u32>, bool, bool); 5] = [
        ("board.png", lang, None, true, false),
        ("board-flash.png", lang, None, true, true),
        ("board-disconnected.png", lang, None, false, false),
        ("board-en.png", Lang::En, None, true, false),
        ("window-screen.png", lang, Some(cli.window.or_else(|| board.recent.front().map(|c| c.window)).unwrap_or(1)), true, false),
    ];
    for (name, l, window, connected, flash) in shots {
        view::set_labels(&ui, l);
        view::show(&ui, &board, &ViewOptions { lang: l, window });
        let a = ui.global::<BoardAdapter>();
        a.set_clock(view::clock_text(l, board.zone, now).into());
        a.set_connected(connected);
        a.set_flash(flash);
        a.set_ticker_running(false);
        // Let the flash's colour animation finish.
        std::thread::sleep(std::time::Duration::from_millis(350));
        let path = dir.join(name);
        view::snapshot_png(&ui, &path)?;
        println!("{}", path.display());
    }
    Ok(())
}

/// The screen: Slint on the main thread, the follower on a tokio thread.
fn run(cli: &Cli, server: String, lang: Lang, voice_dir: &std::path::Path) -> Result<()> {
    let ui = BoardWindow::new()?;
    let opts = ViewOptions { lang, window: cli.window };
    view::set_labels(&ui, lang);
    let announcer = start_announcer(cli, lang, voice_dir, false)?;

    struct ToUi {
        ui: slint::Weak<BoardWindow>,
        opts: ViewOptions,
        announcer: Option<Announcer>,
        zone: Arc<Mutex<HallZone>>,
        ready: bool,
    }
    impl follow::Sink for ToUi {
        fn changed(&mut self, board: &Board, call: Option<&Call>) {
            if let Some(c) = call {
                print_call(c);
            }
            if let (Some(a), Some(c)) = (&self.announcer, call) {
                a.announce(&c.number, c.window);
            }
            *self.zone.lock().unwrap_or_else(|e| e.into_inner()) = board.zone;
            let (board, opts, flash) = (board.clone(), self.opts.clone(), call.is_some());
            let _ = self.ui.upgrade_in_event_loop(move |ui| {
                view::show(&ui, &board, &opts);
                if flash {
                    // The window flashes the call for a few seconds by itself.
                    let a = ui.global::<BoardAdapter>();
                    a.set_call_serial(a.get_call_serial().wrapping_add(1));
                }
            });
        }
        // The board carries its connection; `changed` redraws it.
        fn connection(&mut self, _state: Connection) {}
        fn snapshot_applied(&mut self, board: &Board) {
            print_ready(&mut self.ready, board);
        }
    }
    let zone = Arc::new(Mutex::new(HallZone::default()));
    let sink = ToUi { ui: ui.as_weak(), opts, announcer, zone: zone.clone(), ready: false };
    let board = Board::new(Filter { zone: cli.zone.clone() });
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
        rt.block_on(follow::follow(server, board, Box::new(sink)));
    });

    // The clock (the notice scrolls in the .slint file).
    let clock = slint::Timer::default();
    let weak = ui.as_weak();
    clock.start(slint::TimerMode::Repeated, std::time::Duration::from_secs(1), move || {
        if let Some(ui) = weak.upgrade() {
            let zone = *zone.lock().unwrap_or_else(|e| e.into_inner());
            ui.global::<BoardAdapter>().set_clock(view::clock_text(lang, zone, now_ms()).into());
        }
    });
    ui.run()?;
    Ok(())
}
