//! The ESC/POS decoder on arbitrary bytes in arbitrary chunks: no panic, and
//! the same paper whether the bytes come at once or in pieces.
#![no_main]
use hall_hardware::escpos::decode::{Decoder, Event};
use libfuzzer_sys::fuzz_target;

fn cuts(events: Vec<Event>, out: &mut Vec<hall_hardware::escpos::PrintedSlip>) {
    for e in events {
        if let Event::Cut(s) = e {
            out.push(s);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut whole = Decoder::new();
    let mut a = Vec::new();
    cuts(whole.push(data), &mut a);
    let mut pieces = Decoder::new();
    let mut b = Vec::new();
    let split = data.first().map_or(1, |b| (*b as usize % 16) + 1);
    for chunk in data.chunks(split) {
        cuts(pieces.push(chunk), &mut b);
    }
    assert_eq!(a, b);
    assert_eq!(whole.pending(), pieces.pending());
});
