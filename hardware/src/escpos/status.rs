//! Printer status: `DLE EOT n` replies and Automatic Status Back blocks
//! (hardware-protocols.md §2.7, §2.8), decoded into one [`PrinterStatus`]; and
//! the reverse, used by the simulator to answer like a real printer.

/// Paper roll level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaperLevel {
    #[default]
    Ok,
    NearEnd,
    End,
}

/// Everything a kiosk needs to know about its printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PrinterStatus {
    pub offline: bool,
    pub cover_open: bool,
    pub paper: PaperLevel,
    pub cutter_error: bool,
    pub unrecoverable_error: bool,
    pub auto_recoverable_error: bool,
}

/// Why a printer cannot print now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotReady {
    #[error("printer is out of paper")]
    PaperOut,
    #[error("printer cover is open")]
    CoverOpen,
    #[error("printer cutter is jammed")]
    CutterError,
    #[error("printer has an unrecoverable error")]
    Unrecoverable,
    #[error("printer is overheated or recovering")]
    Recovering,
    #[error("printer is offline")]
    Offline,
}

/// A reply byte that does not carry the fixed bits of a status reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("status reply {0:#04x} fails the fixed-bit pattern 0xx1xx10")]
    BadReply(u8),
    #[error("ASB block {0:02x?} fails the fixed-bit pattern")]
    BadAsb([u8; 4]),
    #[error("DLE EOT {0} is not a status query (1..=4)")]
    BadQuery(u8),
}

/// `(b & 0x93) == 0x12`: bit 7 = 0, bit 4 = 1, bit 1 = 1, bit 0 = 0.
pub fn is_status_reply(b: u8) -> bool {
    b & 0x93 == 0x12
}

impl PrinterStatus {
    /// Folds the reply to `DLE EOT n` into the status.
    pub fn apply_reply(&mut self, n: u8, b: u8) -> Result<(), StatusError> {
        if !is_status_reply(b) {
            return Err(StatusError::BadReply(b));
        }
        match n {
            1 => self.offline = b & 0x08 != 0,
            2 => {
                self.cover_open = b & 0x04 != 0;
                if b & 0x20 != 0 {
                    self.paper = PaperLevel::End;
                }
            }
            3 => {
                self.cutter_error = b & 0x08 != 0;
                self.unrecoverable_error = b & 0x20 != 0;
                self.auto_recoverable_error = b & 0x40 != 0;
            }
            4 => {
                // Robust rule (§2.7): either bit of a pair counts, since some
                // printers set only one of them.
                self.paper = if b & 0x60 != 0 {
                    PaperLevel::End
                } else if b & 0x0C != 0 {
                    PaperLevel::NearEnd
                } else {
                    PaperLevel::Ok
                };
            }
            _ => return Err(StatusError::BadQuery(n)),
        }
        Ok(())
    }

    /// Decodes a 4-byte Automatic Status Back block.
    pub fn from_asb(block: [u8; 4]) -> Result<Self, StatusError> {
        let [b1, b2, b3, b4] = block;
        let ok = b1 & 0x93 == 0x10 && [b2, b3, b4].iter().all(|b| b & 0x90 == 0);
        if !ok {
            return Err(StatusError::BadAsb(block));
        }
        Ok(PrinterStatus {
            offline: b1 & 0x08 != 0,
            cover_open: b1 & 0x20 != 0,
            cutter_error: b2 & 0x08 != 0,
            unrecoverable_error: b2 & 0x20 != 0,
            auto_recoverable_error: b2 & 0x40 != 0,
            paper: if b3 & 0x0C != 0 {
                PaperLevel::End
            } else if b3 & 0x03 != 0 {
                PaperLevel::NearEnd
            } else {
                PaperLevel::Ok
            },
        })
    }

    /// The byte a printer in this state answers to `DLE EOT n`.
    pub fn reply_byte(&self, n: u8) -> Option<u8> {
        let mut b = 0x12;
        match n {
            1 => {
                if self.is_offline() {
                    b |= 0x08;
                }
            }
            2 => {
                if self.cover_open {
                    b |= 0x04;
                }
                if self.paper == PaperLevel::End {
                    b |= 0x20;
                }
                if self.cutter_error || self.unrecoverable_error || self.auto_recoverable_error {
                    b |= 0x40;
                }
            }
            3 => {
                if self.cutter_error {
                    b |= 0x08;
                }
                if self.unrecoverable_error {
                    b |= 0x20;
                }
                if self.auto_recoverable_error {
                    b |= 0x40;
                }
            }
            4 => match self.paper {
                PaperLevel::Ok => {}
                PaperLevel::NearEnd => b |= 0x0C,
                PaperLevel::End => b |= 0x6C,
            },
            _ => return None,
        }
        Some(b)
    }

    /// The ASB block a printer in this state sends.
    pub fn asb_block(&self) -> [u8; 4] {
        let mut b1 = 0x10;
        if self.is_offline() {
            b1 |= 0x08;
        }
        if self.cover_open {
            b1 |= 0x20;
        }
        let mut b2 = 0;
        if self.cutter_error {
            b2 |= 0x08;
        }
        if self.unrecoverable_error {
            b2 |= 0x20;
        }
        if self.auto_recoverable_error {
            b2 |= 0x40;
        }
        let b3 = match self.paper {
            PaperLevel::Ok => 0,
            PaperLevel::NearEnd => 0x03,
            PaperLevel::End => 0x0F,
        };
        [b1, b2, b3, 0]
    }

    /// A printer goes offline by itself when its cover is open, its paper has
    /// run out or an error occurred, not only when switched offline.
    pub fn is_offline(&self) -> bool {
        self.offline
            || self.cover_open
            || self.paper == PaperLevel::End
            || self.cutter_error
            || self.unrecoverable_error
            || self.auto_recoverable_error
    }

    /// Whether a slip can be printed now, and if not, the most specific reason.
    pub fn ready(&self) -> Result<(), NotReady> {
        if self.paper == PaperLevel::End {
            Err(NotReady::PaperOut)
        } else if self.cover_open {
            Err(NotReady::CoverOpen)
        } else if self.cutter_error {
            Err(NotReady::CutterError)
        } else if self.unrecoverable_error {
            Err(NotReady::Unrecoverable)
        } else if self.auto_recoverable_error {
            Err(NotReady::Recovering)
        } else if self.offline {
            Err(NotReady::Offline)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(n: u8, b: u8) -> PrinterStatus {
        let mut s = PrinterStatus::default();
        s.apply_reply(n, b).unwrap();
        s
    }

    #[test]
    fn worked_replies_from_the_protocol_notes() {
        assert!(!decode(1, 0x12).offline);
        assert!(decode(1, 0x1A).offline);
        assert!(decode(2, 0x16).cover_open);
        assert_eq!(decode(2, 0x32).paper, PaperLevel::End);
        assert!(decode(3, 0x1A).cutter_error);
        assert!(decode(3, 0x32).unrecoverable_error);
        assert!(decode(3, 0x52).auto_recoverable_error);
        assert_eq!(decode(4, 0x12).paper, PaperLevel::Ok);
        assert_eq!(decode(4, 0x1E).paper, PaperLevel::NearEnd);
        assert_eq!(decode(4, 0x72).paper, PaperLevel::End);
        assert_eq!(decode(4, 0x7E).paper, PaperLevel::End);
        // Only bit 5 set: python-escpos says "adequate", we say end (§2.7).
        assert_eq!(decode(4, 0x32).paper, PaperLevel::End);
    }

    #[test]
    fn rejects_bytes_without_the_fixed_bits() {
        let mut s = PrinterStatus::default();
        for b in [0x00, 0x13 /* XOFF */, 0x92, 0x10, 0xFF] {
            assert_eq!(s.apply_reply(1, b), Err(StatusError::BadReply(b)));
        }
        assert_eq!(s.apply_reply(5, 0x12), Err(StatusError::BadQuery(5)));
    }

    #[test]
    fn asb_examples() {
        assert_eq!(PrinterStatus::from_asb([0x10, 0, 0, 0]).unwrap(), PrinterStatus::default());
        let cover = PrinterStatus::from_asb([0x38, 0, 0, 0]).unwrap();
        assert!(cover.cover_open && cover.offline);
        assert_eq!(PrinterStatus::from_asb([0x18, 0, 0x0C, 0]).unwrap().paper, PaperLevel::End);
        assert_eq!(PrinterStatus::from_asb([0x18, 0, 0x0F, 0]).unwrap().paper, PaperLevel::End);
        assert!(PrinterStatus::from_asb([0x12, 0, 0, 0]).is_err());
        assert!(PrinterStatus::from_asb([0x10, 0x80, 0, 0]).is_err());
    }

    #[test]
    fn replies_round_trip_for_every_state() {
        for paper in [PaperLevel::Ok, PaperLevel::NearEnd, PaperLevel::End] {
            for bits in 0..32u8 {
                let s = PrinterStatus {
                    offline: bits & 1 != 0,
                    cover_open: bits & 2 != 0,
                    cutter_error: bits & 4 != 0,
                    unrecoverable_error: bits & 8 != 0,
                    auto_recoverable_error: bits & 16 != 0,
                    paper,
                };
                let mut d = PrinterStatus::default();
                for n in 1..=4 {
                    let b = s.reply_byte(n).unwrap();
                    assert!(is_status_reply(b));
                    d.apply_reply(n, b).unwrap();
                }
                assert_eq!(d.ready(), s.ready(), "{s:?}");
                let a = PrinterStatus::from_asb(s.asb_block()).unwrap();
                assert_eq!(a.ready(), s.ready(), "{s:?}");
            }
        }
    }
}
