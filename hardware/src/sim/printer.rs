//! The printer simulator: decodes everything it receives into a paper model,
//! answers `DLE EOT` (and Automatic Status Back) from an injectable state, and
//! saves each cut slip as a PNG.

use super::Pty;
use crate::escpos::decode::{Decoder, Event, PrintedSlip};
use crate::escpos::{Paper, PrinterStatus};
use crate::render;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct PrinterSimConfig {
    pub paper: Paper,
    /// Where to save `slip-0001.png`, … (none: keep in memory only).
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct State {
    status: PrinterStatus,
    /// Powered off or unplugged: answers nothing at all.
    silent: bool,
    asb_mask: u8,
    asb_dirty: bool,
    slips: Vec<PrintedSlip>,
    saved: Vec<PathBuf>,
    /// Slips that arrived while the printer could not print (lost, as on a real printer).
    discarded: usize,
    errors: Vec<String>,
    received: usize,
    queries: usize,
    current: PrintedSlip,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
}

/// A running printer simulator. Dropping it stops the simulation.
pub struct PrinterSim {
    path: PathBuf,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl PrinterSim {
    pub fn start(config: PrinterSimConfig) -> std::io::Result<PrinterSim> {
        let pty = Pty::open()?;
        if let Some(dir) = &config.out_dir {
            std::fs::create_dir_all(dir)?;
        }
        let path = pty.path().to_path_buf();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("printer-sim".into())
            .spawn(move || run(pty, config, s))?;
        Ok(PrinterSim { path, shared, thread: Some(thread) })
    }

    /// The slave path a driver opens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn status(&self) -> PrinterStatus {
        self.lock().status
    }

    /// Injects a state (paper near end, paper out, cover open, offline …).
    pub fn set_status(&self, status: PrinterStatus) {
        let mut st = self.lock();
        if st.status != status {
            st.status = status;
            st.asb_dirty = true;
        }
    }

    /// A silent printer answers nothing (switched off, cable pulled).
    pub fn set_silent(&self, silent: bool) {
        self.lock().silent = silent;
    }

    pub fn slips(&self) -> Vec<PrintedSlip> {
        self.lock().slips.clone()
    }

    pub fn saved_files(&self) -> Vec<PathBuf> {
        self.lock().saved.clone()
    }

    /// The slips cut since the first `seen` (a follower polling for new
    /// ones copies only those, not the whole day's paper each time).
    pub fn slips_since(&self, seen: usize) -> Vec<PrintedSlip> {
        let st = self.lock();
        st.slips[seen.min(st.slips.len())..].to_vec()
    }

    /// The PNG files saved since the first `seen`.
    pub fn saved_since(&self, seen: usize) -> Vec<PathBuf> {
        let st = self.lock();
        st.saved[seen.min(st.saved.len())..].to_vec()
    }

    /// Waits until `n` slips were saved as PNG files, or the timeout passes.
    pub fn wait_saved(&self, n: usize, timeout: Duration) -> Vec<PathBuf> {
        self.wait_until(timeout, |st| st.saved.len() >= n).saved.clone()
    }

    pub fn discarded(&self) -> usize {
        self.lock().discarded
    }

    /// Decoder errors seen so far (garbage the host sent).
    pub fn errors(&self) -> Vec<String> {
        self.lock().errors.clone()
    }

    /// Status queries answered so far.
    pub fn queries(&self) -> usize {
        self.lock().queries
    }

    /// Waits until at least `n` slips were cut, or the timeout passes.
    pub fn wait_slips(&self, n: usize, timeout: Duration) -> Vec<PrintedSlip> {
        self.wait_until(timeout, |st| st.slips.len() >= n).slips.clone()
    }

    /// Waits until `done` holds for the state, or the timeout passes.
    fn wait_until(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> std::sync::MutexGuard<'_, State> {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        while !done(&st) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self.shared.changed.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        st
    }

    /// The slip being printed (not yet cut).
    pub fn pending(&self) -> PrintedSlip {
        self.lock().current.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for PrinterSim {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Saves slips as PNGs off the device thread: a real printer answers
/// `DLE EOT` in real time however busy its print head is.
fn spawn_renderer(config: &PrinterSimConfig, shared: Arc<Shared>) -> Option<std::sync::mpsc::Sender<(usize, PrintedSlip)>> {
    let dir = config.out_dir.clone()?;
    let paper = config.paper;
    let (tx, rx) = std::sync::mpsc::channel::<(usize, PrintedSlip)>();
    std::thread::Builder::new()
        .name("printer-sim-png".into())
        .spawn(move || {
            for (n, slip) in rx {
                let path = dir.join(format!("slip-{n:04}.png"));
                let result = render::render(&slip, paper).write_png(&path);
                let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                match result {
                    Ok(()) => st.saved.push(path),
                    Err(e) => st.errors.push(format!("saving {}: {e}", path.display())),
                }
                drop(st);
                shared.changed.notify_all();
            }
        })
        .ok()?;
    Some(tx)
}

fn run(mut pty: Pty, config: PrinterSimConfig, shared: Arc<Shared>) {
    let renderer = spawn_renderer(&config, shared.clone());
    let mut decoder = Decoder::new();
    let mut buf = [0u8; 4096];
    while !shared.stop.load(Ordering::Relaxed) {
        // Status changes reach a host that enabled ASB without being asked.
        let asb = {
            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let send = st.asb_dirty && st.asb_mask != 0 && !st.silent;
            st.asb_dirty = false;
            send.then(|| st.status.asb_block())
        };
        if let Some(block) = asb {
            let _ = pty.write_all(&block);
        }
        let n = match pty.read_timeout(&mut buf, 20) {
            Ok(n) => n,
            Err(_) => break,
        };
        if n == 0 {
            continue;
        }
        let events = decoder.push(&buf[..n]);
        let mut replies = Vec::new();
        {
            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            st.received += n;
            for e in events {
                match e {
                    Event::StatusQuery(q) => {
                        st.queries += 1;
                        if !st.silent
                            && let Some(b) = st.status.reply_byte(q)
                        {
                            replies.push(b);
                        }
                    }
                    Event::AsbMask(m) => {
                        st.asb_mask = m;
                        if m != 0 && !st.silent {
                            replies.extend_from_slice(&st.status.asb_block());
                        }
                    }
                    Event::PaperQuery => {
                        if !st.silent {
                            let out = st.status.paper == crate::escpos::PaperLevel::End;
                            replies.push(if out { 0x0F } else { 0x00 });
                        }
                    }
                    Event::Recover(_) => {
                        st.status.cutter_error = false;
                        st.status.auto_recoverable_error = false;
                    }
                    Event::Cut(slip) => {
                        if st.silent || st.status.ready().is_err() {
                            st.discarded += 1;
                            continue;
                        }
                        if let Some(tx) = &renderer {
                            let _ = tx.send((st.slips.len() + 1, slip.clone()));
                        }
                        st.slips.push(slip);
                    }
                    Event::Error(e) => st.errors.push(e.to_string()),
                }
            }
            st.current = decoder.pending();
        }
        shared.changed.notify_all();
        if !replies.is_empty() && pty.write_all(&replies).is_err() {
            break;
        }
    }
}
