//! Kiosk latency: a visitor's confirm → ticket issued → slip printed and
//! decoded, through the real controller, a real server on 127.0.0.1 and the
//! printer simulator on a pseudo-terminal.
//!
//! `cargo run --release -p kiosk --example kiosk_bench [-- N]`

use hall_hardware::escpos::Paper;
use hall_hardware::sim::{PrinterSim, PrinterSimConfig};
use hall_tests::{TestServer, always_open};
use kiosk::config::KioskConfig;
use kiosk::controller::Controller;
use kiosk::devices::PrinterHandle;
use kiosk::flow::{Input, PrintState, Screen, Touch};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path(), always_open()).await;
    let printer = PrinterSim::start(PrinterSimConfig { paper: Paper::Mm80, out_dir: None }).unwrap();
    let cfg = KioskConfig { server: server.url(), ..Default::default() };
    let handle = PrinterHandle::open(&printer.path().display().to_string(), cfg.printer_line(), Paper::Mm80).unwrap();
    let mut ctl = Controller::new(&cfg, handle, |_: &str| {}, |_| {});
    assert!(ctl.load_catalog().await);
    let codes = ["medical_insurance", "tax_declaration", "invoice", "employment", "pension"];
    let mut issue_print = Vec::with_capacity(n);
    let mut decoded = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        for t in [Touch::Choose(codes[i % codes.len()].into()), Touch::TakeNumber, Touch::SkipId] {
            ctl.handle(Input::Touch(t)).await;
        }
        let start = Instant::now();
        ctl.handle(Input::Touch(Touch::Confirm)).await;
        issue_print.push(start.elapsed());
        assert_eq!(ctl.state.screen, Screen::Done);
        assert_eq!(ctl.state.done.as_ref().unwrap().printed, PrintState::Printed);
        printer.wait_slips(i + 1, Duration::from_secs(5));
        decoded.push(start.elapsed());
        ctl.handle(Input::Touch(Touch::Home)).await;
    }
    let total = t0.elapsed();
    let stats = |v: &mut Vec<Duration>| {
        v.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
        (mean, ms(v[v.len() / 2]), ms(v[v.len() * 95 / 100]), ms(*v.last().unwrap()))
    };
    let (m, p50, p95, max) = stats(&mut issue_print);
    println!("confirm → issued + printed (printer acknowledged): mean {m:.2} ms, p50 {p50:.2}, p95 {p95:.2}, max {max:.2}");
    let (m, p50, p95, max) = stats(&mut decoded);
    println!("confirm → slip decoded by the simulator:          mean {m:.2} ms, p50 {p50:.2}, p95 {p95:.2}, max {max:.2}");
    println!("visitors={n} total_s={:.2} per_visitor_ms={:.2}", total.as_secs_f64(), total.as_secs_f64() * 1000.0 / n as f64);
    server.stop().await;
}
