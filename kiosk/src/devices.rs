//! The kiosk's printer and ID-card reader, each on its own thread (serial I/O
//! blocks), over real serial ports — or the simulators' pseudo-terminals,
//! which the kiosk starts in process when no port is configured.

use crate::flow::{PrinterHealth, Visitor};
use hall_hardware::escpos::{Paper, PrinterProfile, PrinterStatus, TicketSlip};
use hall_hardware::printer::{PrintError, PrintReport, Printer};
use hall_hardware::sam::{Card, Reader};
use hall_hardware::serial::{self, LineSettings};
use hall_hardware::sim::{PrinterSim, PrinterSimConfig, ReaderSim, ReaderSimConfig};
use hall_proto::v1 as pb;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

enum Job {
    Print(Box<TicketSlip>, oneshot::Sender<Result<PrintReport, PrintError>>),
    Status(oneshot::Sender<Result<PrinterStatus, PrintError>>),
}

/// A handle to the printer thread.
#[derive(Clone)]
pub struct PrinterHandle {
    tx: mpsc::Sender<Job>,
}

impl PrinterHandle {
    /// Opens `path` and starts the printer thread.
    pub fn open(path: &str, line: LineSettings, paper: Paper) -> anyhow::Result<PrinterHandle> {
        let port = serial::open(path, line).map_err(|e| anyhow::anyhow!("opening the printer port {path}: {e}"))?;
        let mut printer = Printer::new(port, PrinterProfile::for_paper(paper));
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("printer".into()).spawn(move || {
            for job in rx {
                match job {
                    Job::Print(slip, reply) => {
                        let _ = reply.send(printer.print_slip(&slip));
                    }
                    Job::Status(reply) => {
                        let _ = reply.send(printer.status());
                    }
                }
            }
        })?;
        Ok(PrinterHandle { tx })
    }

    pub async fn print(&self, slip: TicketSlip) -> Result<PrintReport, PrintError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Job::Print(Box::new(slip), tx)).map_err(|_| PrintError::NoReply)?;
        rx.await.map_err(|_| PrintError::NoReply)?
    }

    pub async fn status(&self) -> Result<PrinterStatus, PrintError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Job::Status(tx)).map_err(|_| PrintError::NoReply)?;
        rx.await.map_err(|_| PrintError::NoReply)?
    }
}

/// The kiosk's view of a status query.
pub fn health(r: &Result<PrinterStatus, PrintError>) -> PrinterHealth {
    match r {
        Ok(s) => match s.ready() {
            Err(e) => PrinterHealth::Blocked(PrintError::NotReady(e).code().to_string()),
            Ok(()) if s.paper == hall_hardware::escpos::PaperLevel::NearEnd => PrinterHealth::NearEnd,
            Ok(()) => PrinterHealth::Ok,
        },
        Err(e) => PrinterHealth::Blocked(e.code().to_string()),
    }
}

/// What the reader thread reports.
#[derive(Debug)]
pub enum ReaderEvent {
    Card(Visitor),
    /// A read failed for good (bad card data, reader fault), in words.
    Error(String),
}

/// The visitor as the kiosk keeps it: masked for the screen, plain only in
/// the identity for the server.
pub fn visitor_from(card: &Card, today: chrono::NaiveDate) -> Visitor {
    Visitor {
        masked_name: card.masked_name(),
        masked_number: card.id_number.masked(),
        age: card.age_on(today),
        identity: pb::Identity {
            id_number: card.id_number.expose_to_server().to_string(),
            name: card.name_for_server().to_string(),
            birth_date: card.birth_date.format("%Y-%m-%d").to_string(),
        },
    }
}

/// Opens the reader at `path` and polls it on a thread until `on_event`
/// returns false. Transient errors (noise, a card moved mid-read) are retried
/// by the driver; lasting ones are reported and the thread keeps polling.
/// `today` is the hall's local date (ages and card validity).
pub fn spawn_reader(
    path: &str,
    line: LineSettings,
    today: impl Fn() -> chrono::NaiveDate + Send + 'static,
    mut on_event: impl FnMut(ReaderEvent) -> bool + Send + 'static,
) -> anyhow::Result<()> {
    let port = serial::open(path, line).map_err(|e| anyhow::anyhow!("opening the ID-card reader port {path}: {e}"))?;
    let mut reader = Reader::new(port);
    std::thread::Builder::new().name("id-reader".into()).spawn(move || {
        loop {
            let deadline = Instant::now() + Duration::from_secs(1);
            let event = match reader.wait_card(Duration::from_millis(250), Some(deadline)) {
                Ok(Some(card)) => {
                    let today = today();
                    if !card.valid_on(today) {
                        Some(ReaderEvent::Error("身份证已过有效期，请使用有效证件 / The ID card has expired".into()))
                    } else {
                        Some(ReaderEvent::Card(visitor_from(&card, today)))
                    }
                }
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "ID-card reader");
                    let quiet = matches!(e, hall_hardware::sam::ReaderError::Timeout);
                    std::thread::sleep(Duration::from_millis(if quiet { 1000 } else { 300 }));
                    (!quiet).then(|| ReaderEvent::Error(format!("身份证读取失败，请重新放置 / Please place the card again ({e})")))
                }
            };
            if let Some(ev) = event
                && !on_event(ev)
            {
                return;
            }
        }
    })?;
    Ok(())
}

/// The printer and reader simulators, for a kiosk without devices. They live
/// as long as this value.
pub struct Simulated {
    pub printer: PrinterSim,
    pub reader: ReaderSim,
    pub slips_dir: PathBuf,
}

impl Simulated {
    pub fn start(paper: Paper, slips_dir: PathBuf) -> std::io::Result<Simulated> {
        let printer = PrinterSim::start(PrinterSimConfig { paper, out_dir: Some(slips_dir.clone()) })?;
        let reader = ReaderSim::start(ReaderSimConfig::default())?;
        Ok(Simulated { printer, reader, slips_dir })
    }

    pub fn printer_path(&self) -> String {
        self.printer.path().display().to_string()
    }

    pub fn reader_path(&self) -> String {
        self.reader.path().display().to_string()
    }
}
