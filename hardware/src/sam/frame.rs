//! SAM frames (hardware-protocols.md §3.1–3.3): building command and response
//! frames, and a streaming decoder that resynchronises on the preamble, caps
//! LEN and checks the XOR.

/// `AA AA AA 96 69`
pub const PREAMBLE: [u8; 5] = [0xAA, 0xAA, 0xAA, 0x96, 0x69];

/// The largest LEN a reader sends: `30 10` with a 1,024-byte fingerprint is
/// 2,321 bytes in all, LEN 2,314. Anything larger is noise.
pub const MAX_LEN: usize = 2400;

/// Host commands (§3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    ResetSam,
    SamStatus,
    SamId,
    FindCard,
    SelectCard,
    ReadBase,
    ReadAppendedAddress,
    ReadManagementNumber,
    ReadWithFingerprint,
    /// `60 xx`: 0 = 115200 … 4 = 9600.
    SetBaud(u8),
}

impl Command {
    pub fn cmd_para(self) -> (u8, u8) {
        match self {
            Command::ResetSam => (0x10, 0xFF),
            Command::SamStatus => (0x11, 0xFF),
            Command::SamId => (0x12, 0xFF),
            Command::FindCard => (0x20, 0x01),
            Command::SelectCard => (0x20, 0x02),
            Command::ReadBase => (0x30, 0x01),
            Command::ReadAppendedAddress => (0x30, 0x03),
            Command::ReadManagementNumber => (0x30, 0x05),
            Command::ReadWithFingerprint => (0x30, 0x10),
            Command::SetBaud(n) => (0x60, n),
        }
    }

    pub fn from_cmd_para(cmd: u8, para: u8) -> Option<Command> {
        Some(match (cmd, para) {
            (0x10, 0xFF) => Command::ResetSam,
            (0x11, 0xFF) => Command::SamStatus,
            (0x12, 0xFF) => Command::SamId,
            (0x20, 0x01) => Command::FindCard,
            (0x20, 0x02) => Command::SelectCard,
            (0x30, 0x01) => Command::ReadBase,
            (0x30, 0x03) => Command::ReadAppendedAddress,
            (0x30, 0x05) => Command::ReadManagementNumber,
            (0x30, 0x10) => Command::ReadWithFingerprint,
            (0x60, n @ 0..=4) => Command::SetBaud(n),
            _ => return None,
        })
    }

    /// The full host frame.
    pub fn frame(self) -> Vec<u8> {
        let (c, p) = self.cmd_para();
        encode(&[c, p])
    }
}

/// Wraps `body` (everything between LEN and CHK) into a frame.
pub fn encode(body: &[u8]) -> Vec<u8> {
    let len = body.len() + 1;
    let mut f = Vec::with_capacity(len + 7);
    f.extend_from_slice(&PREAMBLE);
    f.push((len >> 8) as u8);
    f.push(len as u8);
    f.extend_from_slice(body);
    let chk = f[5..].iter().fold(0, |a, b| a ^ b);
    f.push(chk);
    f
}

/// A reader reply frame.
pub fn encode_response(sw3: Sw3, data: &[u8]) -> Vec<u8> {
    let mut body = vec![0x00, 0x00, sw3.code()];
    body.extend_from_slice(data);
    encode(&body)
}

/// SW3: the reader's status (§3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sw3 {
    Ok,
    FindOk,
    NoContent,
    BadChecksum,
    BadLength,
    BadCommand,
    NotPermitted,
    Unrecognised,
    CardAuthFailed,
    SamAuthFailed,
    VerifyFailed,
    WrongCardType,
    ReadFailed,
    RandomFailed,
    SamSelfTestFailed,
    SamNotAuthorised,
    NoCard,
    SelectFailed,
    CommFault,
    Other(u8),
}

impl Sw3 {
    pub fn from_code(c: u8) -> Sw3 {
        match c {
            0x90 => Sw3::Ok,
            0x9F => Sw3::FindOk,
            0x91 => Sw3::NoContent,
            0x10 => Sw3::BadChecksum,
            0x11 => Sw3::BadLength,
            0x21 => Sw3::BadCommand,
            0x23 => Sw3::NotPermitted,
            0x24 => Sw3::Unrecognised,
            0x31 => Sw3::CardAuthFailed,
            0x32 => Sw3::SamAuthFailed,
            0x33 => Sw3::VerifyFailed,
            0x40 => Sw3::WrongCardType,
            0x41 => Sw3::ReadFailed,
            0x47 => Sw3::RandomFailed,
            0x60 => Sw3::SamSelfTestFailed,
            0x66 => Sw3::SamNotAuthorised,
            0x80 => Sw3::NoCard,
            0x81 => Sw3::SelectFailed,
            0xFF => Sw3::CommFault,
            c => Sw3::Other(c),
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Sw3::Ok => 0x90,
            Sw3::FindOk => 0x9F,
            Sw3::NoContent => 0x91,
            Sw3::BadChecksum => 0x10,
            Sw3::BadLength => 0x11,
            Sw3::BadCommand => 0x21,
            Sw3::NotPermitted => 0x23,
            Sw3::Unrecognised => 0x24,
            Sw3::CardAuthFailed => 0x31,
            Sw3::SamAuthFailed => 0x32,
            Sw3::VerifyFailed => 0x33,
            Sw3::WrongCardType => 0x40,
            Sw3::ReadFailed => 0x41,
            Sw3::RandomFailed => 0x47,
            Sw3::SamSelfTestFailed => 0x60,
            Sw3::SamNotAuthorised => 0x66,
            Sw3::NoCard => 0x80,
            Sw3::SelectFailed => 0x81,
            Sw3::CommFault => 0xFF,
            Sw3::Other(c) => c,
        }
    }

    /// Plain words for the operator.
    pub fn describe(self) -> &'static str {
        match self {
            Sw3::Ok => "operation succeeded",
            Sw3::FindOk => "card found",
            Sw3::NoContent => "the card has no such item",
            Sw3::BadChecksum => "reader rejected the frame checksum",
            Sw3::BadLength => "reader rejected the frame length",
            Sw3::BadCommand => "reader rejected the command",
            Sw3::NotPermitted => "operation not permitted",
            Sw3::Unrecognised => "unrecognised reader error",
            Sw3::CardAuthFailed => "card failed to authenticate the SAM",
            Sw3::SamAuthFailed => "SAM failed to authenticate the card",
            Sw3::VerifyFailed => "card information failed verification",
            Sw3::WrongCardType => "not an identity card (unrecognised card type)",
            Sw3::ReadFailed => "reading the card failed (hold the card still)",
            Sw3::RandomFailed => "reader could not get a random number from the card",
            Sw3::SamSelfTestFailed => "reader's SAM failed its self-test",
            Sw3::SamNotAuthorised => "reader's SAM is not authorised",
            Sw3::NoCard => "no card on the reader",
            Sw3::SelectFailed => "selecting the card failed",
            Sw3::CommFault => "communication fault",
            Sw3::Other(_) => "unknown reader status",
        }
    }
}

/// A decoded frame: the bytes between LEN and CHK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub body: Vec<u8>,
}

/// A reader reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub sw1: u8,
    pub sw2: u8,
    pub sw3: Sw3,
    pub data: Vec<u8>,
}

impl Frame {
    /// Reads the body as a reply (SW1 SW2 SW3 DATA).
    pub fn response(&self) -> Result<Response, FrameError> {
        if self.body.len() < 3 {
            return Err(FrameError::TooShort(self.body.len() + 1));
        }
        Ok(Response {
            sw1: self.body[0],
            sw2: self.body[1],
            sw3: Sw3::from_code(self.body[2]),
            data: self.body[3..].to_vec(),
        })
    }

    /// Reads the body as a host command (CMD PARA DATA).
    pub fn request(&self) -> Result<(u8, u8, &[u8]), FrameError> {
        if self.body.len() < 2 {
            return Err(FrameError::TooShort(self.body.len() + 1));
        }
        Ok((self.body[0], self.body[1], &self.body[2..]))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame checksum wrong: computed {computed:#04x}, frame says {found:#04x}")]
    Checksum { computed: u8, found: u8 },
    #[error("frame length {0} exceeds the limit of {MAX_LEN}")]
    TooLong(usize),
    #[error("frame length {0} is too short to hold a command or status")]
    TooShort(usize),
}

/// Streaming decoder: push bytes, pull frames. Bytes before a preamble are
/// skipped (counted in `skipped`); a frame with a bad LEN or XOR is reported
/// and the search resumes one byte after its preamble, so a valid frame
/// hidden behind noise is still found.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Noise bytes dropped while looking for a preamble.
    pub skipped: usize,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Drops everything buffered (after a timeout, before a new command).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// The next complete frame, an error for a broken one, or `None` when
    /// more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        // Find the preamble; keep a possible partial preamble at the end.
        match find(&self.buf, &PREAMBLE) {
            Some(i) => {
                self.skipped += i;
                self.buf.drain(..i);
            }
            None => {
                let keep = partial_suffix(&self.buf, &PREAMBLE);
                let drop = self.buf.len() - keep;
                self.skipped += drop;
                self.buf.drain(..drop);
                return None;
            }
        }
        if self.buf.len() < 7 {
            return None;
        }
        let len = (self.buf[5] as usize) << 8 | self.buf[6] as usize;
        if len > MAX_LEN {
            self.buf.drain(..1);
            return Some(Err(FrameError::TooLong(len)));
        }
        if len < 3 {
            self.buf.drain(..1);
            return Some(Err(FrameError::TooShort(len)));
        }
        if self.buf.len() < 7 + len {
            return None;
        }
        let computed = self.buf[5..6 + len].iter().fold(0, |a, b| a ^ b);
        let found = self.buf[6 + len];
        if computed != found {
            self.buf.drain(..1);
            return Some(Err(FrameError::Checksum { computed, found }));
        }
        let body = self.buf[7..6 + len].to_vec();
        self.buf.drain(..7 + len);
        Some(Ok(Frame { body }))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Length of the longest suffix of `hay` that is a prefix of `needle`.
fn partial_suffix(hay: &[u8], needle: &[u8]) -> usize {
    (1..needle.len().min(hay.len() + 1))
        .rev()
        .find(|&k| hay[hay.len() - k..] == needle[..k])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn command_frames_from_the_protocol_notes() {
        let cases = [
            (Command::ResetSam, "AA AA AA 96 69 00 03 10 FF EC"),
            (Command::SamStatus, "AA AA AA 96 69 00 03 11 FF ED"),
            (Command::SamId, "AA AA AA 96 69 00 03 12 FF EE"),
            (Command::FindCard, "AA AA AA 96 69 00 03 20 01 22"),
            (Command::SelectCard, "AA AA AA 96 69 00 03 20 02 21"),
            (Command::ReadBase, "AA AA AA 96 69 00 03 30 01 32"),
            (Command::ReadAppendedAddress, "AA AA AA 96 69 00 03 30 03 30"),
            (Command::ReadManagementNumber, "AA AA AA 96 69 00 03 30 05 36"),
            (Command::ReadWithFingerprint, "AA AA AA 96 69 00 03 30 10 23"),
            (Command::SetBaud(0), "AA AA AA 96 69 00 03 60 00 63"),
            (Command::SetBaud(4), "AA AA AA 96 69 00 03 60 04 67"),
        ];
        for (c, want) in cases {
            assert_eq!(hex(&c.frame()), want, "{c:?}");
            let (cmd, para) = c.cmd_para();
            assert_eq!(Command::from_cmd_para(cmd, para), Some(c));
        }
        assert_eq!(hex(&encode_response(Sw3::NoCard, &[])), "AA AA AA 96 69 00 04 00 00 80 84");
        assert_eq!(hex(&encode_response(Sw3::Ok, &[])), "AA AA AA 96 69 00 04 00 00 90 94");
        assert_eq!(
            hex(&encode_response(Sw3::FindOk, &[0, 0, 0, 0])),
            "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97"
        );
    }

    #[test]
    fn resyncs_after_noise_and_broken_frames() {
        let good = encode_response(Sw3::FindOk, &[1, 2, 3, 4]);
        let mut bad_xor = encode_response(Sw3::Ok, &[]);
        *bad_xor.last_mut().unwrap() ^= 0xFF;
        let mut d = FrameDecoder::new();
        d.push(&[0x00, 0xAA, 0xAA, 0x13]);
        d.push(&bad_xor);
        d.push(&[0xAA, 0xAA, 0xAA, 0x96, 0x69, 0xFF, 0xFF]); // oversized LEN
        d.push(&good[..6]);
        assert!(matches!(d.next_frame(), Some(Err(FrameError::Checksum { .. }))));
        assert_eq!(d.next_frame(), Some(Err(FrameError::TooLong(0xFFFF))));
        assert_eq!(d.next_frame(), None, "the good frame is incomplete");
        d.push(&good[6..]);
        let f = d.next_frame().unwrap().unwrap();
        let r = f.response().unwrap();
        assert_eq!((r.sw3, r.data), (Sw3::FindOk, vec![1, 2, 3, 4]));
        assert_eq!(d.next_frame(), None);
        assert!(d.skipped >= 4);
    }

    #[test]
    fn sample_read_response_is_one_frame() {
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sample_read_response.bin")).unwrap();
        let mut d = FrameDecoder::new();
        d.push(&bytes);
        let r = d.next_frame().unwrap().unwrap().response().unwrap();
        assert_eq!(r.sw3, Sw3::Ok);
        assert_eq!(r.data.len(), 4 + 256 + 1024);
        assert_eq!(bytes[1294], 0x5A);
    }
}
