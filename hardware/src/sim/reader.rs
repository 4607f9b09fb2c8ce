//! The ID-card reader simulator: answers the SAM protocol from a queue of
//! configured cards. Tests place and remove cards and corrupt the next frame.

use super::Pty;
use crate::sam::frame::{encode_response, Command, FrameDecoder, FrameError, Sw3};
use crate::sam::CardSpec;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

#[derive(Debug, Clone)]
pub struct ReaderSimConfig {
    /// After a successful read, answer "no card" until the card is removed
    /// and placed again, as many readers do (§3.10).
    pub halt_after_read: bool,
}

impl Default for ReaderSimConfig {
    fn default() -> Self {
        ReaderSimConfig { halt_after_read: true }
    }
}

#[derive(Debug, Default)]
struct State {
    card: Option<CardSpec>,
    queue: VecDeque<CardSpec>,
    halted: bool,
    selected: bool,
    corrupt_next: bool,
    reads: usize,
    frames: usize,
    bad_frames: usize,
}

struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
}

pub struct ReaderSim {
    path: PathBuf,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl ReaderSim {
    pub fn start(config: ReaderSimConfig) -> std::io::Result<ReaderSim> {
        let pty = Pty::open()?;
        let path = pty.path().to_path_buf();
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), stop: AtomicBool::new(false) });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("reader-sim".into())
            .spawn(move || run(pty, config, s))?;
        Ok(ReaderSim { path, shared, thread: Some(thread) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts a card on the reader.
    pub fn place(&self, card: CardSpec) {
        let mut st = self.lock();
        st.card = Some(card);
        st.halted = false;
        st.selected = false;
    }

    /// Takes the card away.
    pub fn remove(&self) {
        let mut st = self.lock();
        st.card = None;
        st.halted = false;
        st.selected = false;
    }

    /// Adds cards to the queue used by [`ReaderSim::place_next`].
    pub fn enqueue(&self, cards: impl IntoIterator<Item = CardSpec>) {
        self.lock().queue.extend(cards);
    }

    /// Places the next queued card (the previous one is removed); `false`
    /// when the queue is empty.
    pub fn place_next(&self) -> bool {
        let next = self.lock().queue.pop_front();
        match next {
            Some(c) => {
                self.place(c);
                true
            }
            None => false,
        }
    }

    /// Flips the checksum of the next reply.
    pub fn corrupt_next(&self) {
        self.lock().corrupt_next = true;
    }

    /// Successful `30 01` reads so far.
    pub fn reads(&self) -> usize {
        self.lock().reads
    }

    /// Host frames received, and how many of them were broken.
    pub fn frames(&self) -> (usize, usize) {
        let st = self.lock();
        (st.frames, st.bad_frames)
    }
}

impl Drop for ReaderSim {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(st: &mut State, config: &ReaderSimConfig, frame: Result<crate::sam::Frame, FrameError>) -> Vec<u8> {
    st.frames += 1;
    let frame = match frame {
        Ok(f) => f,
        Err(FrameError::Checksum { .. }) => {
            st.bad_frames += 1;
            return encode_response(Sw3::BadChecksum, &[]);
        }
        Err(_) => {
            st.bad_frames += 1;
            return encode_response(Sw3::BadLength, &[]);
        }
    };
    let Ok((cmd, para, _)) = frame.request() else {
        return encode_response(Sw3::BadLength, &[]);
    };
    let Some(cmd) = Command::from_cmd_para(cmd, para) else {
        return encode_response(Sw3::BadCommand, &[]);
    };
    let on_field = st.card.is_some() && !st.halted;
    match cmd {
        Command::ResetSam | Command::SamStatus | Command::SetBaud(_) => encode_response(Sw3::Ok, &[]),
        Command::SamId => encode_response(Sw3::Ok, &[5, 0, 1, 0, 0x2D, 0x9E, 0x32, 0x01, 1, 0, 0, 0, 2, 0, 0, 0]),
        Command::FindCard if on_field => encode_response(Sw3::FindOk, &[0, 0, 0, 0]),
        Command::FindCard => encode_response(Sw3::NoCard, &[]),
        Command::SelectCard if on_field => {
            st.selected = true;
            encode_response(Sw3::Ok, &[0; 8])
        }
        Command::SelectCard => encode_response(Sw3::SelectFailed, &[]),
        Command::ReadBase | Command::ReadWithFingerprint if on_field && st.selected => {
            let card = st.card.as_ref().expect("on field");
            let mut data = card.read_data();
            if cmd == Command::ReadWithFingerprint {
                // TL PL FL(0) text photo
                data.splice(4..4, [0, 0]);
            }
            st.reads += 1;
            st.selected = false;
            st.halted = config.halt_after_read;
            encode_response(Sw3::Ok, &data)
        }
        Command::ReadBase | Command::ReadWithFingerprint => encode_response(Sw3::ReadFailed, &[]),
        Command::ReadAppendedAddress => encode_response(Sw3::NoContent, &[]),
        Command::ReadManagementNumber if on_field => encode_response(Sw3::Ok, &[0; 8]),
        Command::ReadManagementNumber => encode_response(Sw3::NoCard, &[]),
    }
}

fn run(mut pty: Pty, config: ReaderSimConfig, shared: Arc<Shared>) {
    let mut decoder = FrameDecoder::new();
    let mut buf = [0u8; 1024];
    while !shared.stop.load(Ordering::Relaxed) {
        let n = match pty.read_timeout(&mut buf, 20) {
            Ok(n) => n,
            Err(_) => break,
        };
        if n == 0 {
            continue;
        }
        decoder.push(&buf[..n]);
        while let Some(frame) = decoder.next_frame() {
            let reply = {
                let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                let mut reply = answer(&mut st, &config, frame);
                if std::mem::take(&mut st.corrupt_next)
                    && let Some(last) = reply.last_mut()
                {
                    *last ^= 0x5A;
                }
                reply
            };
            if pty.write_all(&reply).is_err() {
                return;
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct CardsFile {
    cards: Vec<CardSpec>,
}

/// Cards for the simulator from TOML `[[cards]]` (see `testdata/cards.toml`).
pub fn parse_cards(text: &str) -> Result<Vec<CardSpec>, toml::de::Error> {
    Ok(toml::from_str::<CardsFile>(text)?.cards)
}

/// The fictitious sample cards shipped with the crate.
pub fn sample_cards() -> Vec<CardSpec> {
    parse_cards(include_str!("../../testdata/cards.toml")).expect("testdata/cards.toml parses")
}
