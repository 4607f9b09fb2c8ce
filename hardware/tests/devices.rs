//! End to end over real pseudo-terminals: the drivers open the simulators'
//! slave paths through `serialport`, exactly as they open real ports; plus
//! hostile input for both decoders and the `hall-hw` command line.

use hall_hardware::escpos::decode::{Decoder, Event};
use hall_hardware::escpos::{sample_slip, NotReady, Paper, PaperLevel, PrinterProfile, PrinterStatus};
use hall_hardware::printer::{PrintError, Printer};
use hall_hardware::sam::frame::{encode_response, FrameDecoder, FrameError, Sw3};
use hall_hardware::sam::{CardSpec, Reader, ReaderError};
use hall_hardware::serial::{self, LineSettings};
use hall_hardware::sim::{PrinterSim, PrinterSimConfig, ReaderSim, ReaderSimConfig};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn printer_for(sim: &PrinterSim, paper: Paper) -> Printer<Box<dyn serialport::SerialPort>> {
    let port = serial::open(sim.path().to_str().unwrap(), LineSettings::PRINTER).unwrap();
    Printer::new(port, PrinterProfile::for_paper(paper))
}

#[test]
fn prints_a_slip_through_a_pseudo_terminal_and_saves_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let sim = PrinterSim::start(PrinterSimConfig { paper: Paper::Mm58, out_dir: Some(dir.path().into()) }).unwrap();
    let mut printer = printer_for(&sim, Paper::Mm58);
    let slip = sample_slip();
    let report = printer.print_slip(&slip).unwrap();
    assert_eq!(report.after.paper, PaperLevel::Ok);
    let slips = sim.wait_slips(1, Duration::from_secs(5));
    assert_eq!(slips.len(), 1);
    assert!(slips[0].lines().contains(&slip.ticket_no), "{:?}", slips[0].lines());
    assert_eq!(slips[0].qr_payloads(), vec![slip.status_url.as_str()]);
    assert!(sim.errors().is_empty(), "{:?}", sim.errors());
    let files = sim.wait_saved(1, Duration::from_secs(10));
    assert_eq!(files.len(), 1);
    let png = std::fs::read(&files[0]).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    if let Ok(dir) = std::env::var("HALL_SLIP_PNG_DIR") {
        std::fs::copy(&files[0], std::path::Path::new(&dir).join("slip-58mm.png")).unwrap();
    }
}

#[test]
fn paper_out_and_cover_open_fail_with_that_reason_and_print_nothing() {
    let sim = PrinterSim::start(PrinterSimConfig::default()).unwrap();
    let mut printer = printer_for(&sim, Paper::Mm80);
    let cases = [
        (PrinterStatus { paper: PaperLevel::End, ..Default::default() }, NotReady::PaperOut, "paper_out"),
        (PrinterStatus { cover_open: true, ..Default::default() }, NotReady::CoverOpen, "cover_open"),
        (PrinterStatus { offline: true, ..Default::default() }, NotReady::Offline, "offline"),
        (PrinterStatus { cutter_error: true, ..Default::default() }, NotReady::CutterError, "cutter_error"),
    ];
    for (state, reason, code) in cases {
        sim.set_status(state);
        let err = printer.print_slip(&sample_slip()).unwrap_err();
        assert!(matches!(err, PrintError::NotReady(r) if r == reason), "{err:?}");
        assert_eq!(err.code(), code);
    }
    // Nothing partial reached the paper: no slip, no pending text.
    std::thread::sleep(Duration::from_millis(100));
    assert!(sim.slips().is_empty());
    assert!(sim.pending().is_empty(), "{:?}", sim.pending());
    // Near end still prints, and says so.
    sim.set_status(PrinterStatus { paper: PaperLevel::NearEnd, ..Default::default() });
    let report = printer.print_slip(&sample_slip()).unwrap();
    assert_eq!(report.after.paper, PaperLevel::NearEnd);
    assert_eq!(sim.wait_slips(1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn a_silent_printer_is_reported_offline() {
    let sim = PrinterSim::start(PrinterSimConfig::default()).unwrap();
    sim.set_silent(true);
    let mut printer = printer_for(&sim, Paper::Mm80).with_reply_timeout(Duration::from_millis(150));
    let t = Instant::now();
    let err = printer.print_slip(&sample_slip()).unwrap_err();
    assert!(matches!(err, PrintError::NoReply), "{err:?}");
    assert_eq!(err.code(), "offline");
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(sim.slips().is_empty());
}

fn reader_for(sim: &ReaderSim) -> Reader<Box<dyn serialport::SerialPort>> {
    let port = serial::open(sim.path().to_str().unwrap(), LineSettings::ID_READER).unwrap();
    Reader::new(port).with_timeout(Duration::from_millis(500))
}

#[test]
fn a_card_placed_is_read_exactly_once() {
    for halt in [true, false] {
        let sim = ReaderSim::start(ReaderSimConfig { halt_after_read: halt }).unwrap();
        let mut reader = reader_for(&sim);
        reader.check_sam().unwrap();
        assert!(reader.poll().unwrap().is_none(), "no card yet");
        sim.place(CardSpec::sample());
        let card = reader.wait_card(Duration::from_millis(10), Some(Instant::now() + Duration::from_secs(5))).unwrap().unwrap();
        assert_eq!(card.masked_name(), "张*");
        assert_eq!(card.id_number.masked(), "110105********002X");
        for _ in 0..5 {
            assert!(reader.poll().unwrap().is_none(), "reported twice (halt = {halt})");
        }
        // Taken away and placed again: a new visit, read again.
        sim.remove();
        assert!(reader.poll().unwrap().is_none());
        sim.place(CardSpec::sample());
        assert!(reader.poll().unwrap().is_some());
        let expected_reads = if halt { 2 } else { 7 };
        assert_eq!(sim.reads(), expected_reads, "halt = {halt}");
    }
}

#[test]
fn a_corrupted_frame_is_a_specific_error_and_the_next_poll_recovers() {
    let sim = ReaderSim::start(ReaderSimConfig::default()).unwrap();
    let mut reader = reader_for(&sim);
    sim.place(CardSpec::sample());
    sim.corrupt_next();
    let err = reader.poll().unwrap_err();
    assert!(matches!(err, ReaderError::Frame(FrameError::Checksum { .. })), "{err:?}");
    assert!(err.is_transient());
    let card = reader.wait_card(Duration::from_millis(10), Some(Instant::now() + Duration::from_secs(5))).unwrap();
    assert!(card.is_some());
}

#[test]
fn queued_cards_come_in_order() {
    let sim = ReaderSim::start(ReaderSimConfig::default()).unwrap();
    let mut reader = reader_for(&sim);
    let second = CardSpec { name: "李小红".into(), id_number: "610102199003071238".into(), birth: "19900307".into(), gender: hall_hardware::sam::Gender::Male, ..CardSpec::sample() };
    sim.enqueue([CardSpec::sample(), second]);
    let mut names = Vec::new();
    while sim.place_next() {
        let c = reader.wait_card(Duration::from_millis(10), Some(Instant::now() + Duration::from_secs(5))).unwrap().unwrap();
        names.push(c.masked_name());
    }
    assert_eq!(names, vec!["张*", "李*红"]);
}

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u8 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as u8
    }
}

#[test]
fn frame_decoder_survives_garbage_and_finds_valid_frames_behind_it() {
    let good = encode_response(Sw3::FindOk, &[9, 8, 7, 6]);
    let mut rng = Lcg(7);
    for round in 0..300 {
        let mut d = FrameDecoder::new();
        let noise: Vec<u8> = (0..(round * 7 % 600)).map(|_| rng.next()).collect();
        // Noise biased towards preamble bytes, to hit the resync paths.
        let noise: Vec<u8> = noise.iter().map(|b| if b % 3 == 0 { 0xAA } else { *b }).collect();
        d.push(&noise);
        d.push(&good);
        let mut found = false;
        let mut steps = 0;
        while let Some(f) = d.next_frame() {
            steps += 1;
            assert!(steps < 2000, "decoder loops");
            if let Ok(f) = f
                && f.response().map(|r| r.data == [9, 8, 7, 6]).unwrap_or(false)
            {
                found = true;
            }
        }
        assert!(found, "round {round}: valid frame after noise not found");
    }
    // Truncated frame: waits, then completes.
    let mut d = FrameDecoder::new();
    d.push(&good[..good.len() - 1]);
    assert_eq!(d.next_frame(), None);
    d.push(&good[good.len() - 1..]);
    assert!(d.next_frame().unwrap().is_ok());
    // Oversized LEN is rejected at once, not awaited.
    let mut d = FrameDecoder::new();
    d.push(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x10, 0x00]);
    assert_eq!(d.next_frame(), Some(Err(FrameError::TooLong(0x1000))));
}

#[test]
fn escpos_decoder_survives_garbage() {
    let mut rng = Lcg(11);
    for _ in 0..200 {
        let mut d = Decoder::new();
        let bytes: Vec<u8> = (0..2000).map(|_| rng.next()).collect();
        for chunk in bytes.chunks(37) {
            for e in d.push(chunk) {
                if let Event::Cut(s) = e {
                    assert!(s.cut);
                }
            }
        }
    }
}

fn hall_hw() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hall-hw"))
}

/// A child process killed when the test ends, even by a failed assertion.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Starts a simulator subcommand and returns it with the path it printed.
fn spawn_sim(args: &[&str]) -> (KillOnDrop, String) {
    let mut child = KillOnDrop(hall_hw().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap());
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (child, line.trim().to_string())
}

#[test]
fn cli_reads_one_card_as_json_and_prints_or_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let cards = dir.path().join("cards.toml");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/cards.toml"), &cards).unwrap();
    let (mut reader_sim, path) = spawn_sim(&["sim-reader", "--cards", cards.to_str().unwrap()]);
    assert!(path.starts_with("/dev/pts/"), "{path}");
    let out = hall_hw().args(["read-card", "--port", &path, "--once", "--timeout", "10"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["masked_name"], "王*明");
    assert_eq!(json["masked_number"], "110101********0022");
    assert_eq!(json["nation"], "汉");
    assert_eq!(json["card_type"], "resident");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("110101195603010022"));
    reader_sim.kill().unwrap();
    reader_sim.wait().unwrap();

    let out_dir = dir.path().join("slips");
    let (mut printer_sim, path) = spawn_sim(&["sim-printer", "--out", out_dir.to_str().unwrap(), "--width", "58"]);
    let out = hall_hw().args(["print-test", "--port", &path, "--width", "58"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdin = printer_sim.stdin.as_mut().unwrap();
    stdin.write_all(b"paper-out\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let out = hall_hw().args(["print-test", "--port", &path]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("out of paper"), "{err}");
    let png = out_dir.join("slip-0001.png");
    let t = Instant::now();
    while !png.exists() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    printer_sim.kill().unwrap();
    printer_sim.wait().unwrap();
    assert!(png.exists());
    assert!(!out_dir.join("slip-0002.png").exists());

    // A reader error exits non-zero with the reason.
    let out = hall_hw().args(["read-card", "--port", "/dev/does-not-exist", "--once"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("opening reader port"));
}
