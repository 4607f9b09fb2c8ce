//! Plays announcements one at a time, in call order, on its own thread:
//! calls queue up and never overlap. Output goes to a sound device through
//! rodio, or — with no device — to WAV files, paced in real time so the
//! board behaves the same either way.

use super::{render, write_wav, Lang, VoicePack};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Where announcements are heard. `play` returns when the audio has ended.
pub trait AudioOut: Send {
    fn play(&mut self, label: &str, rate: u32, samples: &[i16]) -> anyhow::Result<()>;
    fn describe(&self) -> String;
}

/// The sound card, through rodio.
pub struct RodioOut {
    sink: rodio::stream::MixerDeviceSink,
}

impl RodioOut {
    /// Opens the default output device; fails (no panic) where there is none.
    pub fn open() -> anyhow::Result<RodioOut> {
        let sink = rodio::DeviceSinkBuilder::open_default_sink()?;
        Ok(RodioOut { sink })
    }
}

impl AudioOut for RodioOut {
    fn play(&mut self, _label: &str, rate: u32, samples: &[i16]) -> anyhow::Result<()> {
        let player = rodio::Player::connect_new(self.sink.mixer());
        let data: Vec<f32> = samples.iter().map(|s| *s as f32 / 32768.0).collect();
        let rate = std::num::NonZero::new(rate).ok_or_else(|| anyhow::anyhow!("sample rate 0"))?;
        let mono = std::num::NonZero::new(1u16).expect("1 is not zero");
        player.append(rodio::buffer::SamplesBuffer::new(mono, rate, data));
        player.sleep_until_end();
        Ok(())
    }

    fn describe(&self) -> String {
        "the default sound device".into()
    }
}

/// No sound device: each announcement becomes `announce-NNNN-<ticket>.wav`.
pub struct WavDirOut {
    dir: PathBuf,
    count: usize,
    written: std::collections::VecDeque<PathBuf>,
    /// Take as long as the audio would (so queueing behaves as with a speaker).
    pub realtime: bool,
    /// Keep only the newest this many files (0 = all): a hall that runs for
    /// days must not fill its disk (≈0.5 MB per announcement).
    pub keep: usize,
}

impl WavDirOut {
    pub fn new(dir: PathBuf, realtime: bool) -> std::io::Result<WavDirOut> {
        std::fs::create_dir_all(&dir)?;
        Ok(WavDirOut { dir, count: 0, written: Default::default(), realtime, keep: 0 })
    }
}

impl AudioOut for WavDirOut {
    fn play(&mut self, label: &str, rate: u32, samples: &[i16]) -> anyhow::Result<()> {
        self.count += 1;
        let safe: String = label.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        let path = self.dir.join(format!("announce-{:04}-{safe}.wav", self.count));
        write_wav(&path, rate, samples)?;
        self.written.push_back(path);
        while self.keep > 0 && self.written.len() > self.keep {
            if let Some(old) = self.written.pop_front() {
                let _ = std::fs::remove_file(old);
            }
        }
        if self.realtime {
            std::thread::sleep(Duration::from_secs_f64(samples.len() as f64 / rate as f64));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("WAV files in {}", self.dir.display())
    }
}

/// One announcement as it was played.
#[derive(Debug, Clone)]
pub struct Played {
    pub ticket: String,
    pub window: u32,
    pub start: Instant,
    pub end: Instant,
    pub samples: usize,
}

#[derive(Default)]
struct Log {
    played: Vec<Played>,
    pending: usize,
}

/// The queue of announcements. Cloning shares the queue.
#[derive(Clone)]
pub struct Announcer {
    tx: mpsc::Sender<(String, u32)>,
    log: Arc<(Mutex<Log>, Condvar)>,
}

impl Announcer {
    pub fn start(pack: VoicePack, mut out: Box<dyn AudioOut>, lang: Lang, repeat: u32) -> Announcer {
        let (tx, rx) = mpsc::channel::<(String, u32)>();
        let log: Arc<(Mutex<Log>, Condvar)> = Arc::default();
        let l = log.clone();
        std::thread::Builder::new()
            .name("announcer".into())
            .spawn(move || {
                for (ticket, window) in rx {
                    let start = Instant::now();
                    let mut samples = 0;
                    match super::plan(&ticket, window, lang) {
                        Ok(clips) => {
                            let audio = render(&pack, &clips, repeat);
                            samples = audio.len();
                            if let Err(e) = out.play(&format!("{ticket}-w{window}"), pack.sample_rate, &audio) {
                                tracing::warn!(error = %e, "announcement could not be played");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "call cannot be announced"),
                    }
                    let (m, cv) = &*l;
                    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
                    g.played.push(Played { ticket, window, start, end: Instant::now(), samples });
                    g.pending = g.pending.saturating_sub(1);
                    cv.notify_all();
                }
            })
            .expect("spawning the announcer thread");
        Announcer { tx, log }
    }

    /// Queues a call; returns at once.
    pub fn announce(&self, ticket: &str, window: u32) {
        self.log.0.lock().unwrap_or_else(|e| e.into_inner()).pending += 1;
        let _ = self.tx.send((ticket.to_string(), window));
    }

    /// Waits until every queued announcement was played (or the timeout).
    pub fn wait_idle(&self, timeout: Duration) -> Vec<Played> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.log;
        let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
        while g.pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            g = cv.wait_timeout(g, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        g.played.clone()
    }
}

/// The sound device if there is one, else WAV files in `fallback_dir`.
pub fn open_output(fallback_dir: PathBuf) -> anyhow::Result<Box<dyn AudioOut>> {
    match RodioOut::open() {
        Ok(o) => Ok(Box::new(o)),
        Err(e) => {
            tracing::info!(error = %e, dir = %fallback_dir.display(), "no sound device; announcements go to WAV files");
            Ok(Box::new(WavDirOut::new(fallback_dir, true)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_queue_and_never_overlap() {
        let pack = VoicePack::load(&super::super::pack::default_dir()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = WavDirOut::new(dir.path().to_path_buf(), true).unwrap();
        let a = Announcer::start(pack, Box::new(out), Lang::Zh, 1);
        a.announce("A001", 3);
        a.announce("B002", 12);
        a.announce("A001", 3); // a recall is announced again
        let played = a.wait_idle(Duration::from_secs(60));
        assert_eq!(played.iter().map(|p| p.ticket.as_str()).collect::<Vec<_>>(), ["A001", "B002", "A001"]);
        for pair in played.windows(2) {
            assert!(pair[1].start >= pair[0].end, "announcements overlap");
        }
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 3);
    }

    #[test]
    fn a_long_run_keeps_only_the_newest_wav_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = WavDirOut::new(dir.path().to_path_buf(), false).unwrap();
        out.keep = 2;
        for label in ["A001-w1", "A002-w1", "A003-w2"] {
            out.play(label, 16_000, &[0, 100, -100, 0]).unwrap();
        }
        let mut names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["announce-0002-A002-w1.wav", "announce-0003-A003-w2.wav"]);
    }

    #[test]
    fn a_machine_without_a_sound_card_falls_back_to_wav() {
        // On CI there is no device: the real rodio path must fail cleanly.
        let dir = tempfile::tempdir().unwrap();
        let out = open_output(dir.path().to_path_buf()).unwrap();
        let d = out.describe();
        assert!(d.contains("WAV") || d.contains("sound device"), "{d}");
    }
}
