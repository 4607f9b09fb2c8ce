//! The 256-byte text block parser: any bytes give a card or an error, never a panic.
#![no_main]
use hall_hardware::sam::card::{parse_read_data, parse_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_read_data(data);
    if data.len() >= 256 {
        if let Ok(card) = parse_text(&data[..256]) {
            let _ = card.masked_name();
            let _ = card.id_number.masked();
        }
    }
});
