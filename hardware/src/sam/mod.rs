//! Second-generation ID-card readers speaking the SAM protocol (GA 467
//! family, hardware-protocols.md §3): frames, the text block, and the reader
//! driver.

pub mod card;
pub mod frame;
pub mod reader;

pub use card::{Card, CardError, CardKind, CardSpec, Gender, Validity};
pub use frame::{Command, Frame, FrameDecoder, FrameError, Response, Sw3};
pub use reader::{Reader, ReaderError};
