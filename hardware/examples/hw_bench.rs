//! Figures for the hardware crate: slip encoding and decoding rates, and the
//! latency of a full print (status, bytes, status) and a card read over a
//! pseudo-terminal. `cargo run --release -p hall-hardware --example hw_bench`
use hall_hardware::escpos::{encode_slip, sample_slip, Decoder, Paper, PrinterProfile};
use hall_hardware::printer::Printer;
use hall_hardware::sam::{CardSpec, Reader};
use hall_hardware::serial::{self, LineSettings};
use hall_hardware::sim::{PrinterSim, PrinterSimConfig, ReaderSim, ReaderSimConfig};
use std::time::{Duration, Instant};

fn main() {
    let slip = sample_slip();
    let profile = PrinterProfile::for_paper(Paper::Mm80);
    let n = 20_000;
    let t = Instant::now();
    let mut bytes = Vec::new();
    for _ in 0..n {
        bytes = encode_slip(&slip, &profile).into_bytes();
    }
    let encode_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(Decoder::decode_all(&bytes));
    }
    let decode_mb_s = (bytes.len() * n) as f64 / t.elapsed().as_secs_f64() / 1e6;

    let sim = PrinterSim::start(PrinterSimConfig::default()).unwrap();
    let port = serial::open(sim.path().to_str().unwrap(), LineSettings::PRINTER).unwrap();
    let mut printer = Printer::new(port, profile);
    let prints = 200;
    let t = Instant::now();
    for _ in 0..prints {
        printer.print_slip(&slip).unwrap();
    }
    let print_ms = t.elapsed().as_secs_f64() * 1e3 / prints as f64;

    let rsim = ReaderSim::start(ReaderSimConfig::default()).unwrap();
    let port = serial::open(rsim.path().to_str().unwrap(), LineSettings::ID_READER).unwrap();
    let mut reader = Reader::new(port);
    let reads = 200;
    let t = Instant::now();
    for _ in 0..reads {
        rsim.place(CardSpec::sample());
        reader.wait_card(Duration::from_millis(1), None).unwrap().unwrap();
        rsim.remove();
        assert!(reader.poll().unwrap().is_none());
    }
    let read_ms = t.elapsed().as_secs_f64() * 1e3 / reads as f64;
    println!(
        "slip_bytes={} encode_us={encode_us:.1} decode_mb_s={decode_mb_s:.1} print_ms={print_ms:.2} card_read_ms={read_ms:.2}",
        bytes.len()
    );
}
