//! Spoken calls: the pure [`planner`], replaceable voice [`pack`]s, the mix
//! of one announcement (chime, then the phrase N times), and the
//! [`announcer`] that plays announcements one after another with rodio — or
//! writes them to WAV files when there is no sound device.

pub mod announcer;
pub mod pack;
pub mod planner;

pub use announcer::{Announcer, AudioOut, RodioOut, WavDirOut};
pub use pack::VoicePack;
pub use planner::{plan, Lang, PlanError};

use std::path::Path;

/// Silence between the chime and the phrase, and between repeats.
pub const GAP_MS: u32 = 400;

/// Mixes one announcement: chime, gap, then the phrase `repeat` times with
/// gaps between.
pub fn render(pack: &VoicePack, clips: &[String], repeat: u32) -> Vec<i16> {
    let gap = vec![0i16; (pack.sample_rate as u64 * GAP_MS as u64 / 1000) as usize];
    let mut out = pack.chime.samples.clone();
    for r in 0..repeat.max(1) {
        out.extend_from_slice(&gap);
        let _ = r;
        for id in clips {
            if let Some(c) = pack.clips.get(id) {
                out.extend_from_slice(&c.samples);
            }
        }
    }
    out
}

/// Plans and renders one call.
pub fn announcement(pack: &VoicePack, ticket: &str, window: u32, lang: Lang, repeat: u32) -> Result<Vec<i16>, PlanError> {
    Ok(render(pack, &plan(ticket, window, lang)?, repeat))
}

/// Writes mono 16-bit samples as a WAV file.
pub fn write_wav(path: &Path, rate: u32, samples: &[i16]) -> Result<(), hound::Error> {
    let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec)?;
    for s in samples {
        w.write_sample(*s)?;
    }
    w.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_pack_loads_and_an_announcement_has_the_right_length() {
        let pack = VoicePack::load(&pack::default_dir()).unwrap();
        assert!(pack.licence.contains("espeak-ng"), "{}", pack.licence);
        let clips = plan("A001", 3, Lang::Zh).unwrap();
        let audio = render(&pack, &clips, 2);
        let gap = (pack.sample_rate * GAP_MS / 1000) as usize;
        let phrase: usize = clips.iter().map(|c| pack.clips[c].samples.len()).sum();
        assert_eq!(audio.len(), pack.chime.samples.len() + 2 * (gap + phrase));
        // Not silent: the phrase carries energy.
        let rms = (audio.iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / audio.len() as f64).sqrt();
        assert!(rms > 300.0, "rms {rms}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.wav");
        write_wav(&f, pack.sample_rate, &audio).unwrap();
        let r = hound::WavReader::open(&f).unwrap();
        assert_eq!(r.duration() as usize, audio.len());
    }
}
