//! A streaming ESC/POS decoder: bytes in, a paper model out (lines with their
//! sizes and alignment, QR payloads, barcodes, cuts), plus the host's status
//! queries. The printer simulator and the golden tests read slips with it.
//!
//! It never panics and never waits forever: every command has a bounded
//! length; an unknown or malformed command is reported and skipped byte by
//! byte, so the decoder resynchronises on the next command it knows.
//!
//! Why one long file: the decoder is one state machine over the ESC/POS
//! command table; splitting the table would scatter the resynchronisation rules.

use super::encode::{Align, QrEc};
use serde::Serialize;

/// Longest `GS ( k` payload accepted (QR version 40 holds 7,089 digits).
const MAX_2D: usize = 7089 + 3;
/// Longest raster image accepted (`GS v 0`), 64 KiB.
const MAX_RASTER: usize = 64 * 1024;
/// Longest printable line kept (longer lines are wrapped by the printer; we
/// only guard memory).
const MAX_LINE: usize = 4096;

/// A run of text with one style.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub text: String,
    pub bold: bool,
    pub width: u8,
    pub height: u8,
}

/// One printed line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Line {
    pub align: Align,
    pub runs: Vec<Run>,
}

impl Line {
    pub fn text(&self) -> String {
        self.runs.iter().map(|r| r.text.as_str()).collect()
    }

    /// The largest height multiplier on the line.
    pub fn height(&self) -> u8 {
        self.runs.iter().map(|r| r.height).max().unwrap_or(1)
    }
}

/// Something on the paper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    Line(Line),
    Qr { data: String, module: u8, ec: QrEc, align: Align },
    Barcode { system: u8, data: String, align: Align },
    Raster { width_bytes: u16, height: u16 },
    Feed { lines: u8 },
}

/// A piece of paper between two cuts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PrintedSlip {
    pub items: Vec<Item>,
    /// `true` when a cut ended the slip (full or partial).
    pub cut: bool,
    pub beeps: u32,
}

impl PrintedSlip {
    /// The text lines, in order.
    pub fn lines(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Line(l) => Some(l.text()),
                _ => None,
            })
            .collect()
    }

    pub fn qr_payloads(&self) -> Vec<&str> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Qr { data, .. } => Some(data.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// What the decoder saw besides paper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `DLE EOT n`: the host wants one status byte now.
    StatusQuery(u8),
    /// `GS a n`: Automatic Status Back mask.
    AsbMask(u8),
    /// `GS r n` / `ESC v`: clone paper status query.
    PaperQuery,
    /// `DLE ENQ n`: recover from an error.
    Recover(u8),
    /// A cut finished a slip.
    Cut(PrintedSlip),
    /// Bytes that are not a command we know, skipped.
    Error(DecodeError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown command {0:02X?}")]
    Unknown(Vec<u8>),
    #[error("GS ( k payload of {0} bytes is larger than a QR code can hold")]
    Oversized2d(usize),
    #[error("raster image of {0} bytes is too large")]
    OversizedRaster(usize),
    #[error("QR print without stored data")]
    QrWithoutData,
    #[error("barcode data is not text")]
    BadBarcode,
}

#[derive(Debug, Clone)]
struct Style {
    align: Align,
    bold: bool,
    width: u8,
    height: u8,
    chinese: bool,
}

/// Result of trying to parse one command at the head of the buffer.
enum Step {
    /// Consumed this many bytes.
    Done(usize),
    /// Need more bytes.
    More,
    /// Not a valid command: skip one byte.
    Bad(DecodeError),
}

/// The streaming decoder. Feed it with [`Decoder::push`].
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    style: Style,
    line: Line,
    line_align: Option<Align>,
    slip: PrintedSlip,
    qr_data: Option<String>,
    qr_module: u8,
    qr_ec: QrEc,
}

impl Default for Style {
    fn default() -> Self {
        Style::power_on()
    }
}

impl Style {
    /// Chinese clones power up in Chinese mode (§2.2).
    fn power_on() -> Self {
        Style { align: Align::Left, bold: false, width: 1, height: 1, chinese: true }
    }
}

impl Decoder {
    pub fn new() -> Self {
        Decoder { qr_module: 3, ..Default::default() }
    }

    /// Feeds bytes; returns what happened besides paper.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut pos = 0;
        while pos < self.buf.len() {
            let rest = &self.buf[pos..];
            // Copying the head keeps the borrow checker out of `step`.
            let rest = rest.to_vec();
            match self.step(&rest, &mut events) {
                Step::Done(n) => pos += n,
                Step::More => break,
                Step::Bad(e) => {
                    events.push(Event::Error(e));
                    pos += 1;
                }
            }
        }
        self.buf.drain(..pos);
        events
    }

    /// Paper printed but not cut yet (the slip in progress), including an
    /// unfinished line.
    pub fn pending(&self) -> PrintedSlip {
        let mut s = self.slip.clone();
        if !self.line.runs.is_empty() {
            s.items.push(Item::Line(self.line.clone()));
        }
        s
    }

    /// Decodes a whole byte string into slips (one per cut, plus the uncut rest).
    pub fn decode_all(bytes: &[u8]) -> (Vec<PrintedSlip>, Vec<DecodeError>) {
        let mut d = Decoder::new();
        let mut slips = Vec::new();
        let mut errors = Vec::new();
        for e in d.push(bytes) {
            match e {
                Event::Cut(s) => slips.push(s),
                Event::Error(e) => errors.push(e),
                _ => {}
            }
        }
        let rest = d.pending();
        if !rest.is_empty() {
            slips.push(rest);
        }
        (slips, errors)
    }

    fn step(&mut self, b: &[u8], ev: &mut Vec<Event>) -> Step {
        let need = |n: usize| b.len() < n;
        match b[0] {
            0x0A => {
                self.end_line();
                Step::Done(1)
            }
            0x0D => Step::Done(1),
            0x09 => {
                self.put_text("    ");
                Step::Done(1)
            }
            0x07 => {
                self.slip.beeps += 1;
                Step::Done(1)
            }
            0x10 => {
                if need(3) {
                    return Step::More;
                }
                match (b[1], b[2]) {
                    (0x04, n @ 1..=4) => {
                        ev.push(Event::StatusQuery(n));
                        Step::Done(3)
                    }
                    (0x05, n) => {
                        ev.push(Event::Recover(n));
                        Step::Done(3)
                    }
                    _ => Step::Bad(DecodeError::Unknown(b[..3].to_vec())),
                }
            }
            0x1B => self.esc(b, ev),
            0x1C => {
                if need(2) {
                    return Step::More;
                }
                match b[1] {
                    0x26 => {
                        self.style.chinese = true;
                        Step::Done(2)
                    }
                    0x2E => {
                        self.style.chinese = false;
                        Step::Done(2)
                    }
                    // FS ! n, FS W n, FS - n: Chinese print modes; GS ! is what we use.
                    0x21 | 0x57 | 0x2D => {
                        if need(3) {
                            Step::More
                        } else {
                            Step::Done(3)
                        }
                    }
                    _ => Step::Bad(DecodeError::Unknown(b[..2].to_vec())),
                }
            }
            0x1D => self.gs(b, ev),
            c if c < 0x20 || c == 0x7F => Step::Bad(DecodeError::Unknown(vec![c])),
            c if c < 0x80 => {
                // A run of printable ASCII at once.
                let n = b.iter().take_while(|&&c| (0x20..0x7F).contains(&c)).count();
                let s = std::str::from_utf8(&b[..n]).unwrap_or("").to_string();
                self.put_text(&s);
                Step::Done(n)
            }
            c => {
                if !self.style.chinese {
                    // One-byte code page: we do not model PC437 glyphs.
                    self.put_text("?");
                    return Step::Done(1);
                }
                // GB18030: 2 bytes, or 4 when the second is a digit.
                if c == 0x80 || c == 0xFF {
                    return Step::Bad(DecodeError::Unknown(vec![c]));
                }
                if need(2) {
                    return Step::More;
                }
                let len = if (0x30..=0x39).contains(&b[1]) { 4 } else { 2 };
                if need(len) {
                    return Step::More;
                }
                let (s, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(&b[..len]);
                if had_errors {
                    return Step::Bad(DecodeError::Unknown(b[..len].to_vec()));
                }
                let s = s.into_owned();
                self.put_text(&s);
                Step::Done(len)
            }
        }
    }

    fn esc(&mut self, b: &[u8], ev: &mut Vec<Event>) -> Step {
        if b.len() < 2 {
            return Step::More;
        }
        let with_arg = |n: usize| if b.len() < n { None } else { Some(()) };
        match b[1] {
            0x40 => {
                self.end_line_if_any();
                let chinese = self.style.chinese;
                self.style = Style { chinese, ..Style::power_on() };
                Step::Done(2)
            }
            0x61 | 0x45 | 0x21 | 0x74 | 0x64 | 0x2D | 0x47 | 0x33 | 0x4A | 0x4D | 0x20 | 0x52 | 0x56 | 0x7B => {
                if with_arg(3).is_none() {
                    return Step::More;
                }
                let n = b[2];
                match b[1] {
                    0x61 => {
                        self.style.align = match n {
                            0 | 48 => Align::Left,
                            1 | 49 => Align::Center,
                            2 | 50 => Align::Right,
                            _ => return Step::Bad(DecodeError::Unknown(b[..3].to_vec())),
                        }
                    }
                    0x45 => self.style.bold = n & 1 == 1,
                    0x21 => {
                        // ESC !: bit3 emphasised, bit4 double height, bit5 double width.
                        self.style.bold = n & 0x08 != 0;
                        self.style.height = if n & 0x10 != 0 { 2 } else { 1 };
                        self.style.width = if n & 0x20 != 0 { 2 } else { 1 };
                    }
                    0x64 => {
                        self.end_line_if_any();
                        self.slip.items.push(Item::Feed { lines: n });
                    }
                    _ => {}
                }
                Step::Done(3)
            }
            0x32 | 0x3C => Step::Done(2),
            0x76 => {
                ev.push(Event::PaperQuery);
                Step::Done(2)
            }
            0x42 => {
                if b.len() < 4 {
                    return Step::More;
                }
                self.slip.beeps += 1;
                Step::Done(4)
            }
            0x28 => {
                // ESC ( A pL pH ...: Epson beeper; skip the parameters.
                if b.len() < 5 {
                    return Step::More;
                }
                if b[2] != 0x41 {
                    return Step::Bad(DecodeError::Unknown(b[..3].to_vec()));
                }
                let n = b[3] as usize | (b[4] as usize) << 8;
                if n > 16 {
                    return Step::Bad(DecodeError::Unknown(b[..5].to_vec()));
                }
                if b.len() < 5 + n {
                    return Step::More;
                }
                self.slip.beeps += 1;
                Step::Done(5 + n)
            }
            _ => Step::Bad(DecodeError::Unknown(b[..2].to_vec())),
        }
    }

    fn gs(&mut self, b: &[u8], ev: &mut Vec<Event>) -> Step {
        if b.len() < 2 {
            return Step::More;
        }
        match b[1] {
            0x21 | 0x68 | 0x77 | 0x66 | 0x48 | 0x61 | 0x72 | 0x42 => {
                if b.len() < 3 {
                    return Step::More;
                }
                let n = b[2];
                match b[1] {
                    0x21 => {
                        self.style.width = (n >> 4) + 1;
                        self.style.height = (n & 0x0F) + 1;
                        if self.style.width > 8 || self.style.height > 8 {
                            self.style.width = self.style.width.min(8);
                            self.style.height = self.style.height.min(8);
                            return Step::Bad(DecodeError::Unknown(b[..3].to_vec()));
                        }
                    }
                    0x61 => ev.push(Event::AsbMask(n)),
                    0x72 => ev.push(Event::PaperQuery),
                    _ => {}
                }
                Step::Done(3)
            }
            0x56 => {
                if b.len() < 3 {
                    return Step::More;
                }
                let len = match b[2] {
                    0x00 | 0x01 | 0x30 | 0x31 => 3,
                    0x41 | 0x42 | 0x61 | 0x62 | 0x67 | 0x68 => 4,
                    _ => return Step::Bad(DecodeError::Unknown(b[..3].to_vec())),
                };
                if b.len() < len {
                    return Step::More;
                }
                self.end_line_if_any();
                let mut slip = std::mem::take(&mut self.slip);
                slip.cut = true;
                ev.push(Event::Cut(slip));
                Step::Done(len)
            }
            0x28 => {
                if b.len() < 5 {
                    return Step::More;
                }
                if b[2] != 0x6B {
                    return Step::Bad(DecodeError::Unknown(b[..3].to_vec()));
                }
                let n = b[3] as usize | (b[4] as usize) << 8;
                if n > MAX_2D {
                    return Step::Bad(DecodeError::Oversized2d(n));
                }
                if n < 2 {
                    return Step::Bad(DecodeError::Unknown(b[..5].to_vec()));
                }
                if b.len() < 5 + n {
                    return Step::More;
                }
                self.qr_fn(&b[5..5 + n]).map_or(Step::Done(5 + n), Step::Bad)
            }
            0x6B => self.barcode(b),
            0x76 => {
                // GS v 0 m xL xH yL yH data: a raster image.
                if b.len() < 8 {
                    return Step::More;
                }
                if b[2] != 0x30 {
                    return Step::Bad(DecodeError::Unknown(b[..3].to_vec()));
                }
                let x = b[4] as usize | (b[5] as usize) << 8;
                let y = b[6] as usize | (b[7] as usize) << 8;
                let n = x * y;
                if n > MAX_RASTER {
                    return Step::Bad(DecodeError::OversizedRaster(n));
                }
                if b.len() < 8 + n {
                    return Step::More;
                }
                self.end_line_if_any();
                self.slip.items.push(Item::Raster { width_bytes: x as u16, height: y as u16 });
                Step::Done(8 + n)
            }
            0x4C | 0x57 => {
                if b.len() < 4 {
                    Step::More
                } else {
                    Step::Done(4)
                }
            }
            _ => Step::Bad(DecodeError::Unknown(b[..2].to_vec())),
        }
    }

    /// One `GS ( k` function for QR (cn = '1').
    fn qr_fn(&mut self, p: &[u8]) -> Option<DecodeError> {
        let (cn, f) = (p[0], p[1]);
        if cn != 0x31 {
            // Other 2-D symbologies (PDF417 …): accepted, not modelled.
            return None;
        }
        match f {
            0x41 => {}
            0x43 => self.qr_module = p.get(2).copied().unwrap_or(3),
            0x45 => {
                self.qr_ec = match p.get(2) {
                    Some(0x30) => QrEc::L,
                    Some(0x32) => QrEc::Q,
                    Some(0x33) => QrEc::H,
                    _ => QrEc::M,
                }
            }
            0x50 => {
                let data = p.get(3..).unwrap_or_default();
                self.qr_data = Some(String::from_utf8_lossy(data).into_owned());
            }
            0x51 => {
                let Some(data) = self.qr_data.take() else {
                    return Some(DecodeError::QrWithoutData);
                };
                self.end_line_if_any();
                self.slip.items.push(Item::Qr {
                    data,
                    module: self.qr_module,
                    ec: self.qr_ec,
                    align: self.style.align,
                });
            }
            _ => {}
        }
        None
    }

    fn barcode(&mut self, b: &[u8]) -> Step {
        if b.len() < 3 {
            return Step::More;
        }
        let m = b[2];
        let (data, len) = match m {
            0..=6 => {
                // Function A: NUL-terminated, at most 255 bytes.
                match b[3..].iter().position(|&c| c == 0) {
                    Some(end) => (&b[3..3 + end], 3 + end + 1),
                    None if b.len() - 3 > 255 => {
                        return Step::Bad(DecodeError::BadBarcode);
                    }
                    None => return Step::More,
                }
            }
            65..=78 => {
                if b.len() < 4 {
                    return Step::More;
                }
                let n = b[3] as usize;
                if b.len() < 4 + n {
                    return Step::More;
                }
                (&b[4..4 + n], 4 + n)
            }
            _ => return Step::Bad(DecodeError::Unknown(b[..3].to_vec())),
        };
        let Ok(data) = std::str::from_utf8(data) else {
            return Step::Bad(DecodeError::BadBarcode);
        };
        self.end_line_if_any();
        self.slip.items.push(Item::Barcode { system: m, data: data.to_string(), align: self.style.align });
        Step::Done(len)
    }

    fn put_text(&mut self, s: &str) {
        if self.line.runs.is_empty() {
            // Alignment is taken at the start of a line, as printers do.
            self.line_align = Some(self.style.align);
        }
        // Guard memory with a hard line length, character by character so
        // the paper does not depend on how the bytes were chunked.
        let mut total: usize = self.line.runs.iter().map(|r| r.text.len()).sum();
        if total + s.len() > MAX_LINE {
            for c in s.chars() {
                if total + c.len_utf8() > MAX_LINE {
                    self.end_line();
                    self.line_align = Some(self.style.align);
                    total = 0;
                }
                self.put_run(c.encode_utf8(&mut [0; 4]));
                total += c.len_utf8();
            }
            return;
        }
        self.put_run(s);
    }

    fn put_run(&mut self, s: &str) {
        let st = &self.style;
        match self.line.runs.last_mut() {
            Some(r) if r.bold == st.bold && r.width == st.width && r.height == st.height => {
                r.text.push_str(s)
            }
            _ => self.line.runs.push(Run {
                text: s.to_string(),
                bold: st.bold,
                width: st.width,
                height: st.height,
            }),
        }
    }

    fn end_line(&mut self) {
        let mut line = std::mem::take(&mut self.line);
        line.align = self.line_align.take().unwrap_or(self.style.align);
        if line.runs.is_empty() {
            // An empty LF still feeds one line at the current size.
            line.runs.push(Run { text: String::new(), bold: false, width: 1, height: self.style.height });
        }
        self.slip.items.push(Item::Line(line));
    }

    fn end_line_if_any(&mut self) {
        if !self.line.runs.is_empty() {
            self.end_line();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::encode::{encode_slip, sample_slip, Paper, PrinterProfile};

    #[test]
    fn our_slip_decodes_back_to_its_content() {
        let slip = sample_slip();
        for paper in [Paper::Mm58, Paper::Mm80] {
            let bytes = encode_slip(&slip, &PrinterProfile::for_paper(paper)).into_bytes();
            let (slips, errors) = Decoder::decode_all(&bytes);
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(slips.len(), 1);
            let s = &slips[0];
            assert!(s.cut);
            let lines = s.lines();
            assert!(lines.contains(&"A001".to_string()), "{lines:?}");
            assert_eq!(s.qr_payloads(), vec![slip.status_url.as_str()]);
            // Every line fits the paper at its size.
            for item in &s.items {
                if let Item::Line(l) = item {
                    let w: usize = l
                        .runs
                        .iter()
                        .map(|r| crate::escpos::layout::text_width(&r.text) * r.width as usize)
                        .sum();
                    assert!(w <= paper.columns(), "{:?} is {w} wide on {paper:?}", l.text());
                }
            }
            let joined = lines.concat().replace(' ', "");
            assert!(joined.contains("近期一寸白底免冠彩色照片一张"), "{joined}");
        }
    }

    #[test]
    fn streaming_in_single_bytes_gives_the_same_paper() {
        let bytes = encode_slip(&sample_slip(), &PrinterProfile::default()).into_bytes();
        let (whole, _) = Decoder::decode_all(&bytes);
        let mut d = Decoder::new();
        let mut cut = Vec::new();
        for b in &bytes {
            for e in d.push(std::slice::from_ref(b)) {
                if let Event::Cut(s) = e {
                    cut.push(s);
                }
            }
        }
        assert_eq!(cut, whole);
    }

    #[test]
    fn status_queries_are_reported_even_between_text() {
        let mut d = Decoder::new();
        let ev = d.push(&[b'A', 0x10, 0x04, 0x01, b'B', 0x10, 0x04, 0x04, 0x1D, 0x61, 0x0F]);
        assert_eq!(ev, vec![Event::StatusQuery(1), Event::StatusQuery(4), Event::AsbMask(0x0F)]);
        assert_eq!(d.pending().lines(), vec!["AB"]);
    }

    #[test]
    fn garbage_is_skipped_and_reported() {
        let mut d = Decoder::new();
        let ev = d.push(&[0x1B, 0xFF, 0x01, b'O', b'K', 0x0A]);
        assert!(matches!(ev[0], Event::Error(DecodeError::Unknown(_))));
        assert_eq!(d.pending().lines(), vec!["OK"]);
        // An oversized QR store is rejected, not awaited.
        let ev = d.push(&[0x1D, 0x28, 0x6B, 0xFF, 0xFF, 0x31, 0x50]);
        assert!(ev.contains(&Event::Error(DecodeError::Oversized2d(0xFFFF))), "{ev:?}");
    }
}
