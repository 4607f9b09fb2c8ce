//! ESC/POS thermal printers (hardware-protocols.md §2): the pure encoder for
//! ticket slips, the streaming decoder used by the simulator and the golden
//! tests, the status decoder, and the driver over a serial link.

pub mod decode;
pub mod encode;
pub mod layout;
pub mod status;

pub use decode::{Decoder, Item, Line, PrintedSlip};
pub use encode::{
    encode_slip, sample_slip, Align, Beep, Charset, Commands, Paper, PrinterProfile, QrEc,
    SlipLabels, TicketSlip,
};
pub use status::{NotReady, PaperLevel, PrinterStatus, StatusError};
