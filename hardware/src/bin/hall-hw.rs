//! `hall-hw`: print a test slip, read cards, or run a device simulator.
//!
//! - `hall-hw read-card --port PATH [--once]` prints each card as one JSON
//!   object (masked) on stdout.
//! - `hall-hw print-test --port PATH [--width 58|80]` prints a sample slip.
//! - `hall-hw sim-printer --out DIR` / `hall-hw sim-reader --cards FILE` print
//!   their pseudo-terminal path on the first stdout line and run until stopped;
//!   they take commands on stdin (`help` lists them).

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use hall_hardware::escpos::{sample_slip, Paper, PaperLevel, PrinterProfile, PrinterStatus};
use hall_hardware::printer::Printer;
use hall_hardware::sam::{CardSpec, Reader};
use hall_hardware::serial::{self, Flow, LineSettings};
use hall_hardware::sim::{PrinterSim, PrinterSimConfig, ReaderSim, ReaderSimConfig};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "hall-hw", about = "Ticket printer and ID-card reader tools")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Read ID cards from a reader and print each as JSON (personal data masked).
    ReadCard {
        #[arg(long)]
        port: String,
        /// Exit after the first card.
        #[arg(long)]
        once: bool,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// Give up after this many seconds without a card (0 = wait forever).
        #[arg(long, default_value_t = 0)]
        timeout: u64,
    },
    /// Print a sample ticket slip.
    PrintTest {
        #[arg(long)]
        port: String,
        #[arg(long, default_value_t = 80)]
        width: u32,
        #[arg(long, default_value_t = 9_600)]
        baud: u32,
        /// Use RTS/CTS flow control.
        #[arg(long)]
        rtscts: bool,
    },
    /// Run the printer simulator; saves each slip as a PNG in DIR.
    SimPrinter {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 80)]
        width: u32,
    },
    /// Run the ID-card reader simulator with the cards in FILE (TOML
    /// `[[cards]]`; the built-in fictitious sample cards without it).
    SimReader {
        #[arg(long)]
        cards: Option<PathBuf>,
        /// Start with no card on the reader (default: the first card).
        #[arg(long)]
        empty: bool,
        /// Replace the card on the reader with the next one every N seconds.
        #[arg(long)]
        cycle: Option<u64>,
        /// Keep answering "card found" after a read (some readers do).
        #[arg(long)]
        no_halt: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("hall-hw: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

fn paper(width: u32) -> Result<Paper> {
    Paper::from_mm(width).with_context(|| format!("--width must be 58 or 80, not {width}"))
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::ReadCard { port, once, baud, timeout } => {
            let link = serial::open(&port, LineSettings { baud, flow: Flow::None })
                .with_context(|| format!("opening reader port {port}"))?;
            let mut reader = Reader::new(link);
            reader.check_sam().context("reader SAM check")?;
            let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_secs(timeout));
            loop {
                match reader.wait_card(Duration::from_millis(300), deadline)? {
                    Some(card) => {
                        let today = chrono::Local::now().date_naive();
                        println!("{}", card.masked_json(today));
                        std::io::stdout().flush()?;
                        if once {
                            return Ok(());
                        }
                    }
                    None => bail!("no card within {timeout} s"),
                }
            }
        }
        Cmd::PrintTest { port, width, baud, rtscts } => {
            let paper = paper(width)?;
            let link = serial::open(&port, LineSettings { baud, flow: if rtscts { Flow::Hardware } else { Flow::None } })
                .with_context(|| format!("opening printer port {port}"))?;
            let mut printer = Printer::new(link, PrinterProfile::for_paper(paper));
            match printer.print_slip(&sample_slip()) {
                Ok(report) => {
                    println!("printed {} bytes; paper {:?}", report.bytes, report.after.paper);
                    Ok(())
                }
                Err(e) => bail!("cannot print: {e} ({})", e.code()),
            }
        }
        Cmd::SimPrinter { out, width } => {
            let sim = PrinterSim::start(PrinterSimConfig { paper: paper(width)?, out_dir: Some(out.clone()) })?;
            println!("{}", sim.path().display());
            std::io::stdout().flush()?;
            eprintln!("printer simulator: slips go to {}; commands: {PRINTER_HELP}", out.display());
            let (mut seen, mut printed) = (0, 0);
            control_loop(|line| {
                if let Some(line) = line {
                    let mut s = sim.status();
                    match line {
                        "paper-ok" => s.paper = PaperLevel::Ok,
                        "paper-near-end" => s.paper = PaperLevel::NearEnd,
                        "paper-out" => s.paper = PaperLevel::End,
                        "cover-open" => s.cover_open = true,
                        "cover-closed" => s.cover_open = false,
                        "offline" => s.offline = true,
                        "online" => s = PrinterStatus { offline: false, ..s },
                        "silent" => sim.set_silent(true),
                        "answer" => sim.set_silent(false),
                        "status" => eprintln!("{s:?}"),
                        _ => eprintln!("unknown command; {PRINTER_HELP}"),
                    }
                    sim.set_status(s);
                }
                // Each decoded slip, one stdout line: what a person would read on the paper.
                // (Written without panicking: a reader of the first line may have gone.)
                let mut out = std::io::stdout().lock();
                for slip in sim.slips_since(printed) {
                    printed += 1;
                    let lines = slip.lines();
                    let text: Vec<&str> = lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
                    let _ = writeln!(out, "slip {printed}: {}", text.join(" / "));
                }
                let _ = out.flush();
                for f in sim.saved_since(seen) {
                    seen += 1;
                    eprintln!("slip saved: {}", f.display());
                }
            })
        }
        Cmd::SimReader { cards, empty, cycle, no_halt } => {
            let list = match &cards {
                Some(cards) => {
                    let text = std::fs::read_to_string(cards).with_context(|| format!("reading {}", cards.display()))?;
                    parse_cards(&text).with_context(|| format!("in {}", cards.display()))?
                }
                None => hall_hardware::sim::sample_cards(),
            };
            if list.is_empty() {
                bail!("the card file holds no cards");
            }
            let sim = ReaderSim::start(ReaderSimConfig { halt_after_read: !no_halt })?;
            println!("{}", sim.path().display());
            std::io::stdout().flush()?;
            eprintln!("reader simulator with {} cards; commands: {READER_HELP}", list.len());
            let mut i = 0;
            if !empty {
                sim.place(list[0].clone());
            }
            let mut last = Instant::now();
            control_loop(|line| {
                match line {
                    Some("next") => {
                        i = (i + 1) % list.len();
                        sim.place(list[i].clone());
                    }
                    Some("place") => sim.place(list[i].clone()),
                    Some(cmd) if cmd.starts_with("place ") => match cmd[6..].trim().parse::<usize>() {
                        Ok(n) if n < list.len() => {
                            i = n;
                            sim.place(list[i].clone());
                        }
                        _ => eprintln!("place N: N is a card index below {}", list.len()),
                    },
                    Some("remove") => sim.remove(),
                    Some("corrupt") => sim.corrupt_next(),
                    Some(_) => eprintln!("unknown command; {READER_HELP}"),
                    None => {}
                }
                if let Some(c) = cycle
                    && last.elapsed() >= Duration::from_secs(c)
                {
                    last = Instant::now();
                    i = (i + 1) % list.len();
                    sim.place(list[i].clone());
                }
            })
        }
    }
}

const PRINTER_HELP: &str =
    "paper-ok, paper-near-end, paper-out, cover-open, cover-closed, offline, online, silent, answer, status";
const READER_HELP: &str = "next, place, place N, remove, corrupt";

fn parse_cards(text: &str) -> Result<Vec<CardSpec>> {
    Ok(hall_hardware::sim::parse_cards(text)?)
}

/// Runs until stdin closes (or forever when stdin is not interactive and
/// already closed), calling `tick` with each command line and every 200 ms.
fn control_loop(mut tick: impl FnMut(Option<&str>)) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stdin_open = true;
    loop {
        if stdin_open {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => tick(Some(line.trim())),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => tick(None),
                // stdin closed (e.g. /dev/null): keep simulating until
                // killed, ticking on a timer rather than spinning.
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => stdin_open = false,
            }
        } else {
            std::thread::sleep(Duration::from_millis(200));
            tick(None);
        }
    }
}
