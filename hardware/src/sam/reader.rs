//! The ID-card reader driver: find → select → read, over any `Read + Write`.
//! A card is reported once while it stays on the reader, whether the reader
//! halts a read card (answers "no card" until it leaves) or keeps finding it.

use super::card::{parse_read_data, Card, CardError};
use super::frame::{Command, FrameDecoder, FrameError, Response, Sw3};
use crate::serial::read_some;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error("reader does not answer")]
    Timeout,
    #[error("reader sent a broken frame: {0}")]
    Frame(#[from] FrameError),
    #[error("reader: {} (SW3 {:#04x})", .0.describe(), .0.code())]
    Status(Sw3),
    #[error("card data is invalid: {0}")]
    Card(#[from] CardError),
    #[error("reader link failed: {0}")]
    Io(#[from] io::Error),
}

impl ReaderError {
    /// Errors that a second try usually cures (noise, a card moved while read).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ReaderError::Frame(_)
                | ReaderError::Status(Sw3::ReadFailed | Sw3::SelectFailed | Sw3::BadChecksum | Sw3::BadLength)
        )
    }
}

pub struct Reader<P> {
    port: P,
    decoder: FrameDecoder,
    timeout: Duration,
    /// Identity (keyed with a per-process key) of the card last reported,
    /// while it is still on the reader.
    present: Option<String>,
    key: [u8; 16],
}

impl<P: Read + Write> Reader<P> {
    pub fn new(port: P) -> Self {
        Reader {
            port,
            decoder: FrameDecoder::new(),
            timeout: Duration::from_millis(1000),
            present: None,
            key: rand_key(),
        }
    }

    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Sends one command and waits for its reply frame.
    pub fn transact(&mut self, cmd: Command) -> Result<Response, ReaderError> {
        self.decoder.clear();
        self.port.write_all(&cmd.frame())?;
        self.port.flush()?;
        let deadline = Instant::now() + self.timeout;
        let mut buf = [0u8; 512];
        loop {
            if let Some(frame) = self.decoder.next_frame() {
                return Ok(frame?.response()?);
            }
            let n = read_some(&mut self.port, &mut buf, deadline)?;
            if n == 0 {
                return Err(ReaderError::Timeout);
            }
            self.decoder.push(&buf[..n]);
        }
    }

    /// Checks the SAM module (`11 FF`).
    pub fn check_sam(&mut self) -> Result<(), ReaderError> {
        match self.transact(Command::SamStatus)?.sw3 {
            Sw3::Ok => Ok(()),
            s => Err(ReaderError::Status(s)),
        }
    }

    /// One poll: `Ok(Some(card))` the first time a card is read,
    /// `Ok(None)` when there is no card or the same card is still there.
    pub fn poll(&mut self) -> Result<Option<Card>, ReaderError> {
        match self.transact(Command::FindCard)?.sw3 {
            Sw3::FindOk => {}
            Sw3::NoCard => {
                self.present = None;
                return Ok(None);
            }
            s => return Err(ReaderError::Status(s)),
        }
        match self.transact(Command::SelectCard)?.sw3 {
            Sw3::Ok => {}
            s => return Err(ReaderError::Status(s)),
        }
        let r = self.transact(Command::ReadBase)?;
        if r.sw3 != Sw3::Ok {
            return Err(ReaderError::Status(r.sw3));
        }
        let card = parse_read_data(&r.data)?;
        let id = card.id_number.keyed_hash(&self.key);
        if self.present.as_deref() == Some(id.as_str()) {
            return Ok(None);
        }
        self.present = Some(id);
        Ok(Some(card))
    }

    /// Polls every `interval` until a card is read, a persistent error occurs,
    /// or `deadline` passes (`Ok(None)`). Up to three transient errors in a
    /// row are retried.
    pub fn wait_card(&mut self, interval: Duration, deadline: Option<Instant>) -> Result<Option<Card>, ReaderError> {
        let mut transient = 0;
        loop {
            match self.poll() {
                Ok(Some(card)) => return Ok(Some(card)),
                Ok(None) => transient = 0,
                Err(e) if e.is_transient() && transient < 3 => transient += 1,
                Err(e) => return Err(e),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            std::thread::sleep(interval);
        }
    }
}

fn rand_key() -> [u8; 16] {
    // Only needs to differ between processes; not a secret for anyone else.
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&(t.as_nanos() as u64).to_le_bytes());
    k[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    k
}
