//! The SAM frame decoder on arbitrary bytes, fed in arbitrary chunks: it must
//! never panic, never loop, and keep its buffer bounded.
#![no_main]
use hall_hardware::sam::frame::{FrameDecoder, MAX_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut d = FrameDecoder::new();
    let split = data.first().map_or(1, |b| (*b as usize % 64) + 1);
    for chunk in data.chunks(split) {
        d.push(chunk);
        let mut n = 0;
        while let Some(frame) = d.next_frame() {
            n += 1;
            assert!(n <= data.len() + 1, "decoder made no progress");
            if let Ok(f) = frame {
                assert!(f.body.len() < MAX_LEN);
                let _ = f.response();
                let _ = f.request();
            }
        }
    }
});
