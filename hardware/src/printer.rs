//! The printer driver: generic over `Read + Write` (a serial port, a
//! pseudo-terminal, a buffer). Before every print it asks the printer for its
//! status and refuses, with the specific reason, when the slip cannot come
//! out whole; a printer that stays silent is reported offline.

use crate::escpos::{encode_slip, NotReady, PrinterProfile, PrinterStatus, StatusError, TicketSlip};
use crate::serial::read_some;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("{0}")]
    NotReady(#[from] NotReady),
    #[error("printer does not answer (offline, switched off or disconnected)")]
    NoReply,
    #[error("printer sent an invalid status reply: {0}")]
    BadReply(StatusError),
    #[error("printer link failed: {0}")]
    Io(#[from] io::Error),
}

impl PrintError {
    /// The reason as a stable short code (for logs, device reports and exit messages).
    pub fn code(&self) -> &'static str {
        match self {
            PrintError::NotReady(NotReady::PaperOut) => "paper_out",
            PrintError::NotReady(NotReady::CoverOpen) => "cover_open",
            PrintError::NotReady(NotReady::CutterError) => "cutter_error",
            PrintError::NotReady(NotReady::Unrecoverable) => "unrecoverable_error",
            PrintError::NotReady(NotReady::Recovering) => "recovering",
            PrintError::NotReady(NotReady::Offline) | PrintError::NoReply => "offline",
            PrintError::BadReply(_) => "bad_reply",
            PrintError::Io(_) => "io_error",
        }
    }
}

/// What a successful print reports: the status right after it, so a kiosk can
/// warn staff about paper near end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintReport {
    pub bytes: usize,
    pub after: PrinterStatus,
}

pub struct Printer<P> {
    port: P,
    pub profile: PrinterProfile,
    reply_timeout: Duration,
}

impl<P: Read + Write> Printer<P> {
    /// A reply timeout of 500 ms, as the protocol notes advise (§2.7).
    pub fn new(port: P, profile: PrinterProfile) -> Self {
        Printer { port, profile, reply_timeout: Duration::from_millis(500) }
    }

    pub fn with_reply_timeout(mut self, t: Duration) -> Self {
        self.reply_timeout = t;
        self
    }

    pub fn into_inner(self) -> P {
        self.port
    }

    /// Asks `DLE EOT 1..4` and folds the replies into one status.
    pub fn status(&mut self) -> Result<PrinterStatus, PrintError> {
        let mut status = PrinterStatus::default();
        for n in 1..=4u8 {
            let b = self.query(n)?;
            status.apply_reply(n, b).map_err(PrintError::BadReply)?;
        }
        Ok(status)
    }

    /// One status query. Bytes that fail the fixed-bit pattern (stale ASB
    /// blocks, XON/XOFF, line noise) are skipped until the deadline.
    fn query(&mut self, n: u8) -> Result<u8, PrintError> {
        self.port.write_all(&[0x10, 0x04, n])?;
        self.port.flush()?;
        let deadline = Instant::now() + self.reply_timeout;
        let mut last_bad = None;
        loop {
            let mut b = [0u8; 1];
            if read_some(&mut self.port, &mut b, deadline)? == 0 {
                return Err(match last_bad {
                    Some(b) => PrintError::BadReply(StatusError::BadReply(b)),
                    None => PrintError::NoReply,
                });
            }
            if crate::escpos::status::is_status_reply(b[0]) {
                return Ok(b[0]);
            }
            last_bad = Some(b[0]);
        }
    }

    /// Prints a ticket slip laid out for this printer's profile.
    pub fn print_slip(&mut self, slip: &TicketSlip) -> Result<PrintReport, PrintError> {
        let bytes = encode_slip(slip, &self.profile).into_bytes();
        self.print_raw(&bytes)
    }

    /// Checks the status, sends the bytes, and checks again.
    pub fn print_raw(&mut self, bytes: &[u8]) -> Result<PrintReport, PrintError> {
        self.status()?.ready()?;
        self.port.write_all(bytes)?;
        self.port.flush()?;
        let after = self.status()?;
        Ok(PrintReport { bytes: bytes.len(), after })
    }
}
