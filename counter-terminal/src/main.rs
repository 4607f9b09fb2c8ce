//! `counter-terminal`: the clerk's screen at a window.
//!
//! - `counter-terminal --server URL [--window N] [--clerk ID]` opens the
//!   terminal (with a display); `--server` given again for each further
//!   site (三级协同: a district clerk staffing a station's remote window)
//!   puts one tab per site on the screen, each with its own session.
//! - `counter-terminal --screenshot DIR [--server URL]` renders every screen
//!   headless to PNG (sample data without a server) and exits.
//! - `counter-terminal --rating-pad --window N --server URL` is the rating
//!   pad (评价器) facing the citizen at window N (its certificate `pad-N`);
//!   with `--screenshot DIR` it writes its screens as PNG.
//! - `--auto-clerk` lets a simulated clerk work the terminal (the whole-hall
//!   demo); `--headless --out DIR` (chosen by itself without a display)
//!   renders the screen to `DIR/counter-<window>.png` every `--every` seconds.

use anyhow::{Context, Result, bail};
use clap::Parser;
use counter_terminal::core::Input;
use counter_terminal::terminal::{State, Terminal};
use counter_terminal::view;
use counter_terminal::{sample, CounterAdapter, CounterWindow};
use slint::ComponentHandle;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser)]
#[command(name = "counter-terminal", about = "Counter terminal (窗口叫号终端) with the citizen-facing rating pad (评价器, --rating-pad)")]
struct Cli {
    /// The site's server; repeat it to work at several sites (one tab each,
    /// F11 switches). The first is on screen first.
    #[arg(long)]
    server: Vec<String>,
    #[arg(long)]
    screenshot: Option<PathBuf>,
    /// Window number pre-filled on the login screen.
    #[arg(long, default_value_t = 3)]
    window: u32,
    /// Clerk id pre-filled on the login screen.
    #[arg(long)]
    clerk: Option<String>,
    /// Run as the rating pad (评价器) of `--window`: the citizen's screen.
    #[arg(long)]
    rating_pad: bool,
    /// A simulated clerk works this terminal (logs in with --clerk and --pin).
    #[arg(long)]
    auto_clerk: bool,
    #[arg(long, default_value = "1234")]
    pin: String,
    /// Simulated minutes per real minute for the auto clerk.
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    /// Headless mode: no window; the screen goes to `--out DIR` every
    /// `--every` seconds (the board's announcements to `--wav-dir`).
    #[command(flatten)]
    run: hall_client::args::RunArgs,
}

use hall_client::time::now_ms;

fn main() -> Result<()> {
    hall_client::init_logging();
    let mut cli = Cli::parse();
    cli.run = cli.run.with_default_out("counter-out");
    if cli.rating_pad {
        if let Some(dir) = &cli.screenshot {
            return pad_screenshots(cli.window, dir);
        }
        let Some(server) = cli.server.first().cloned() else { bail!("give --server URL (or --screenshot DIR)") };
        return run_pad(cli.window, server);
    }
    if let Some(dir) = &cli.screenshot {
        return screenshots(&cli, dir);
    }
    let Some(server) = cli.server.first().cloned() else { bail!("give --server URL (or --screenshot DIR)") };
    if cli.run.headless() {
        return run_headless(&cli, server);
    }
    if cli.auto_clerk {
        return run_auto(&cli, server);
    }
    run(&cli)
}

fn auto_clerk(cli: &Cli, server: String) -> counter_terminal::auto::AutoClerk {
    counter_terminal::auto::AutoClerk {
        url: server,
        window: cli.window,
        clerk: cli.clerk.clone().unwrap_or_else(|| format!("c{:02}", cli.window)),
        pin: cli.pin.clone(),
        speed: cli.speed,
        seed: 7,
    }
}

fn print_line(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// No display: the screen to PNG every few seconds. Without `--auto-clerk`
/// nobody works it, so it shows the login screen.
fn run_headless(cli: &Cli, server: String) -> Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};
    use std::time::Instant;
    std::fs::create_dir_all(cli.run.out()).with_context(|| format!("creating {}", cli.run.out().display()))?;
    view::install_headless(1280, 800);
    let ui = CounterWindow::new()?;
    let file = cli.run.out().join(format!("counter-{}.png", cli.window));
    println!("counter-terminal: headless, window {}, screen every {} s in {}", cli.window, cli.run.every, file.display());
    let (tx, rx) = mpsc::channel::<State>();
    let running = Arc::new(AtomicBool::new(true));
    let worker = if cli.auto_clerk {
        let clerk = auto_clerk(cli, server);
        let r = running.clone();
        Some(std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
            rt.block_on(clerk.run(
                |st| {
                    let _ = tx.send(st.clone());
                },
                print_line,
                move || r.load(Ordering::SeqCst),
            ));
        }))
    } else {
        drop(tx);
        None
    };
    let deadline = cli.run.duration.map(|d| Instant::now() + Duration::from_secs(d));
    let mut state = State::default();
    let mut next_shot = Instant::now();
    while deadline.is_none_or(|d| Instant::now() < d) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(st) => state = st,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) if worker.is_some() => break,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_millis(200)),
        }
        if Instant::now() >= next_shot {
            view::show(&ui, &state, now_ms());
            view::snapshot_png(&ui, &file)?;
            next_shot = Instant::now() + Duration::from_secs(cli.run.every.max(1));
        }
    }
    // The clerk stops at its next step; the server keeps the session.
    running.store(false, Ordering::SeqCst);
    drop(worker);
    Ok(())
}

/// A live state for screenshots: logs in at `window` with its demo clerk,
/// reads the queue, and logs out again.
fn live_state(url: &str, window: u32) -> Result<State> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let mut t = Terminal::connect(url).await?;
        if !t.login(window, &format!("c{window:02}"), "1234").await {
            bail!("logging in at window {window} for the screenshot: {}", t.state.login_error);
        }
        let state = t.state.clone();
        t.act("logout").await;
        Ok(state)
    })
}

fn screenshots(cli: &Cli, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let now = now_ms();
    let state = match cli.server.first() {
        Some(url) => live_state(url, cli.window)?,
        None => sample::state(now),
    };
    view::install_headless(1280, 800);
    let ui = CounterWindow::new()?;
    let a = ui.global::<CounterAdapter>();
    let shot = |name: &str, ui: &CounterWindow| -> Result<()> {
        let p = dir.join(name);
        view::snapshot_png(ui, &p)?;
        println!("{}", p.display());
        Ok(())
    };
    // Login, with the error a wrong PIN gives.
    view::show(&ui, &State { login_error: "工号或密码错误，请重新输入".into(), ..Default::default() }, now);
    shot("login.png", &ui)?;
    view::show(&ui, &state, now);
    shot("main.png", &ui)?;
    a.set_show_transfer(true);
    a.set_transfer_index(1);
    shot("transfer.png", &ui)?;
    a.set_show_transfer(false);
    // 跨区域通办 from a terminal at two sites (the sample's network).
    let mut network = state.clone();
    network.peers = sample::peers();
    network.peers_loaded = true;
    view::show(&ui, &network, now);
    let (mut sites, _inputs) = counter_terminal::sites::Sites::new(vec!["district".into(), "community".into()]);
    sites.update(0, network.clone());
    sites.update(1, sample::remote_state(now));
    view::show_sites(&ui, &sites.tabs());
    a.set_show_send(true);
    a.set_send_index(1);
    shot("send-to-site.png", &ui)?;
    a.set_show_send(false);
    sites.switch(1);
    view::show_sites(&ui, &sites.tabs());
    view::show(&ui, sites.active_state(), now);
    shot("sites.png", &ui)?;
    view::show_sites(&ui, &[]);
    let mut rating = state.clone();
    rating.rating_for = Some(rating.queue.as_ref().and_then(|q| q.current.as_ref()).map(|t| t.number.clone()).unwrap_or("A023".into()));
    view::show(&ui, &rating, now);
    shot("rating.png", &ui)?;
    let mut lost = state.clone();
    lost.connected = false;
    view::show(&ui, &lost, now);
    shot("disconnected.png", &ui)?;
    Ok(())
}

/// A simulated clerk works; the window only shows it.
fn run_auto(cli: &Cli, server: String) -> Result<()> {
    let ui = CounterWindow::new()?;
    let clerk = auto_clerk(cli, server);
    let weak = ui.as_weak();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
        rt.block_on(clerk.run(
            |st| {
                let st = st.clone();
                let _ = weak.upgrade_in_event_loop(move |ui| view::show(&ui, &st, now_ms()));
            },
            print_line,
            || true,
        ));
    });
    ui.run()?;
    Ok(())
}

/// The terminal with a display, at one site or several (one tab each).
fn run(cli: &Cli) -> Result<()> {
    use counter_terminal::sites::{Sites, spawn_site};
    use std::sync::{Arc, Mutex};
    let ui = CounterWindow::new()?;
    let a = ui.global::<CounterAdapter>();
    let first_clerk = cli.clerk.clone().unwrap_or_else(|| format!("c{:02}", cli.window));
    a.set_login_window(cli.window.to_string().into());
    a.set_login_clerk(first_clerk.clone().into());
    let (mut sites, inputs) = Sites::new(cli.server.clone());
    for l in sites.login.iter_mut() {
        *l = (cli.window.to_string(), first_clerk.clone());
    }
    let senders: Vec<_> = (0..sites.len()).map(|i| sites.sender(i)).collect();
    let sites = Arc::new(Mutex::new(sites));
    let several = cli.server.len() > 1;
    if several {
        view::show_sites(&ui, &sites.lock().unwrap_or_else(|p| p.into_inner()).tabs());
    }
    {
        let sites = sites.clone();
        let weak = ui.as_weak();
        a.on_login(move || {
            if let Some(ui) = weak.upgrade() {
                let a = ui.global::<CounterAdapter>();
                let window = a.get_login_window().trim().parse().unwrap_or(0);
                let input = Input::Login { window, clerk: a.get_login_clerk().to_string(), pin: a.get_login_pin().to_string() };
                a.set_login_pin("".into());
                sites.lock().unwrap_or_else(|p| p.into_inner()).send(input);
            }
        });
    }
    let send = {
        let sites = sites.clone();
        move |input: Input| sites.lock().unwrap_or_else(|p| p.into_inner()).send(input)
    };
    let s = send.clone();
    a.on_action(move |action| s(Input::Action(view::action(action))));
    let s = send.clone();
    a.on_call_ticket(move |n| s(Input::CallTicket(n.to_string())));
    let s = send.clone();
    a.on_call_back(move |n| s(Input::CallBack(n.to_string())));
    {
        let s = send.clone();
        let weak = ui.as_weak();
        a.on_transfer(move || {
            if let Some(ui) = weak.upgrade() {
                let a = ui.global::<CounterAdapter>();
                a.set_show_transfer(false);
                s(Input::Transfer { index: a.get_transfer_index().max(0) as usize, with_return: a.get_transfer_return() });
            }
        });
    }
    {
        let s = send.clone();
        let weak = ui.as_weak();
        a.on_open_send(move || {
            if let Some(ui) = weak.upgrade() {
                let a = ui.global::<CounterAdapter>();
                // The list comes fresh from the other sites each time.
                a.set_send_targets(Default::default());
                a.set_send_note("".into());
                a.set_send_status("正在读取各站点的事项…".into());
                a.set_send_index(-1);
                a.set_show_send(true);
                s(Input::LoadPeers);
            }
        });
    }
    {
        let s = send.clone();
        let weak = ui.as_weak();
        a.on_send_to_site(move || {
            if let Some(ui) = weak.upgrade() {
                let a = ui.global::<CounterAdapter>();
                a.set_show_send(false);
                s(Input::SendToSite { index: a.get_send_index().max(0) as usize });
            }
        });
    }
    {
        let sites = sites.clone();
        let weak = ui.as_weak();
        a.on_switch_site(move |i| {
            let Some(ui) = weak.upgrade() else { return };
            let a = ui.global::<CounterAdapter>();
            let mut s = sites.lock().unwrap_or_else(|p| p.into_inner());
            // What was typed on this site's login screen waits for it.
            let from = s.active();
            s.login[from] = (a.get_login_window().to_string(), a.get_login_clerk().to_string());
            if i < 0 {
                s.next();
            } else if !s.switch(i as usize) {
                return;
            }
            let (w, c) = s.login[s.active()].clone();
            a.set_login_window(w.into());
            a.set_login_clerk(c.into());
            a.set_login_pin("".into());
            a.set_show_transfer(false);
            a.set_show_send(false);
            view::show(&ui, s.active_state(), now_ms());
            view::show_sites(&ui, &s.tabs());
        });
    }
    let weak = ui.as_weak();
    let urls = cli.server.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
        let _guard = rt.enter();
        let said = Arc::new(Mutex::new(false));
        for (i, (url, rx)) in urls.into_iter().zip(inputs).enumerate() {
            let (sites, weak, said) = (sites.clone(), weak.clone(), said.clone());
            spawn_site(i, url, senders[i].clone(), rx, move |i, state| {
                if i == 0 {
                    print_ready(&mut said.lock().unwrap_or_else(|p| p.into_inner()), state);
                }
                sites.lock().unwrap_or_else(|p| p.into_inner()).update(i, state.clone());
                // Drawn from the sites as they are when the UI thread runs
                // it: a switch in between must not be undone by this push.
                let sites = sites.clone();
                let _ = weak.upgrade_in_event_loop(move |ui| {
                    let s = sites.lock().unwrap_or_else(|p| p.into_inner());
                    if s.active() == i {
                        view::show(&ui, s.active_state(), now_ms());
                    }
                    if several {
                        view::show_sites(&ui, &s.tabs());
                    }
                });
            });
        }
        rt.block_on(std::future::pending::<()>());
    });
    ui.run()?;
    Ok(())
}

/// `counter ready: window <W>`, once, when a clerk is logged in and the
/// window's queue has been read: from then on the terminal follows it.
fn print_ready(said: &mut bool, st: &State) {
    if let (false, Some(s), Some(_)) = (*said, &st.session, &st.queue) {
        *said = true;
        print_line(&format!("counter ready: window {}", s.window));
    }
}

use counter_terminal::pad::{self, Pad, Phase};
use counter_terminal::{PadAdapter, PadPhase, RatingPad};

fn show_pad(ui: &RatingPad, v: &pad::View) {
    let a = ui.global::<PadAdapter>();
    a.set_phase(match v.phase {
        Phase::Idle => PadPhase::Idle,
        Phase::Serving => PadPhase::Serving,
        Phase::Rate => PadPhase::Rate,
        Phase::Reason => PadPhase::Reason,
        Phase::Thanks => PadPhase::Thanks,
        Phase::Offline => PadPhase::Offline,
    });
    if !v.window_name.is_empty() {
        a.set_window_name(v.window_name.clone().into());
    }
    a.set_clerk_name(v.clerk_name.clone().into());
    a.set_clerk_id(v.clerk_id.clone().into());
    a.set_ticket(v.ticket.clone().into());
    a.set_chosen(v.chosen as i32);
    a.set_message(v.message.clone().into());
    a.set_message_is_error(v.message_is_error);
    if v.phase != Phase::Reason {
        a.set_reason_index(-1);
        a.set_reason_text("".into());
    }
}

/// Every screen of the pad, headless, from sample states.
fn pad_screenshots(window: u32, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    view::install_headless(1024, 600);
    let ui = RatingPad::new()?;
    let base = pad::View {
        window_name: format!("{window}号窗口"),
        clerk_name: "王晓明".into(),
        clerk_id: format!("c{window:02}"),
        ..Default::default()
    };
    let screens = [
        ("pad-idle.png", pad::View { phase: Phase::Idle, ..base.clone() }),
        ("pad-serving.png", pad::View { phase: Phase::Serving, ticket: "B012".into(), ..base.clone() }),
        ("pad-rate.png", pad::View { phase: Phase::Rate, ticket: "B012".into(), ..base.clone() }),
        ("pad-reason.png", pad::View { phase: Phase::Reason, ticket: "B012".into(), chosen: 2, ..base.clone() }),
        ("pad-thanks.png", pad::View { phase: Phase::Thanks, ticket: "B012".into(), chosen: 5, ..base.clone() }),
        ("pad-offline.png", pad::View { phase: Phase::Offline, message: "无法连接服务器，正在重试…".into(), message_is_error: true, ..base }),
    ];
    for (name, v) in screens {
        show_pad(&ui, &v);
        if v.phase == Phase::Reason {
            ui.global::<PadAdapter>().set_reason_index(0);
        }
        let p = dir.join(name);
        view::snapshot_png(&ui, &p)?;
        println!("{}", p.display());
    }
    Ok(())
}

enum PadInput {
    Level(u32),
    Reason(String),
    Refresh,
}

/// The pad with a display: follows the window, sends the citizen's rating.
fn run_pad(window: u32, server: String) -> Result<()> {
    let ui = RatingPad::new()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PadInput>();
    let a = ui.global::<PadAdapter>();
    let t = tx.clone();
    a.on_rate(move |level| {
        let _ = t.send(PadInput::Level(level.max(1) as u32));
    });
    let t = tx.clone();
    let weak = ui.as_weak();
    a.on_submit_reason(move || {
        if let Some(ui) = weak.upgrade() {
            let a = ui.global::<PadAdapter>();
            let mut reason: Vec<String> = Vec::new();
            let i = a.get_reason_index();
            if i >= 0 {
                let reasons = a.get_reasons();
                if let Some(r) = slint::Model::row_data(&reasons, i as usize) {
                    reason.push(r.to_string());
                }
            }
            let text = a.get_reason_text().to_string();
            if !text.trim().is_empty() {
                reason.push(text);
            }
            if !reason.is_empty() {
                let _ = t.send(PadInput::Reason(reason.join("：")));
            }
        }
    });
    let weak = ui.as_weak();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
        rt.block_on(async move {
            let show = |v: &pad::View| {
                let v = v.clone();
                let _ = weak.upgrade_in_event_loop(move |ui| show_pad(&ui, &v));
            };
            let mut p = loop {
                match Pad::connect(&server, window).await {
                    Ok(p) => break p,
                    Err(_) => {
                        show(&pad::View { phase: Phase::Offline, ..Default::default() });
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            };
            show(&p.view);
            print_line(&format!("rating pad ready: window {window}"));
            // Events touching this window make it read its state again.
            let follow_tx = tx.clone();
            let url = server.clone();
            tokio::spawn(async move {
                let mut h = PadFollower { window, tx: follow_tx };
                hall_client::follow::follow(url, Default::default(), &mut h).await;
            });
            let mut thanks_until: Option<tokio::time::Instant> = None;
            loop {
                let wait = thanks_until.map_or(Duration::from_secs(10), |t| t.saturating_duration_since(tokio::time::Instant::now()));
                match tokio::time::timeout(wait, rx.recv()).await {
                    Ok(Some(PadInput::Level(l))) => {
                        if p.choose(l).await {
                            thanks_until = Some(tokio::time::Instant::now() + Duration::from_secs(5));
                        }
                    }
                    Ok(Some(PadInput::Reason(r))) => {
                        if p.submit(&r).await {
                            thanks_until = Some(tokio::time::Instant::now() + Duration::from_secs(5));
                        }
                    }
                    Ok(Some(PadInput::Refresh)) => p.refresh().await,
                    Ok(None) => return,
                    Err(_) => {
                        if thanks_until.take().is_some() {
                            p.done().await;
                        } else {
                            p.refresh().await;
                        }
                    }
                }
                show(&p.view);
            }
        });
    });
    ui.run()?;
    Ok(())
}

struct PadFollower {
    window: u32,
    tx: tokio::sync::mpsc::UnboundedSender<PadInput>,
}

impl hall_client::follow::Handler for PadFollower {
    fn event(&mut self, e: &hall_proto::v1::Event) {
        if pad::touches(self.window, e) {
            let _ = self.tx.send(PadInput::Refresh);
        }
    }
    fn connection(&mut self, _: hall_client::follow::Connection) {
        let _ = self.tx.send(PadInput::Refresh);
    }
    fn finished(&self) -> bool {
        self.tx.is_closed()
    }
}
