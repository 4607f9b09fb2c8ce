//! Serial hardware of the hall: ESC/POS ticket printers and second-generation
//! ID-card readers (SAM protocol), with byte-exact simulators.
//!
//! - [`escpos`]: the pure slip encoder, the streaming paper decoder, status
//!   replies; [`printer`]: the driver (status check before every print).
//! - [`sam`]: SAM frames, the 256-byte text block, the reader driver.
//! - [`privacy`]: masking and keyed hashing used by every component.
//! - [`sim`] and [`render`] (feature `sim`): simulators on pseudo-terminals
//!   and the slip-to-PNG renderer.
//! - [`serial`]: opening real ports with explicit line settings.
//!
//! Everything byte-level follows `docs/hardware-protocols.md` (copied from
//! the shared design folder); section numbers in comments refer to it.

pub mod escpos;
pub mod printer;
/// The privacy helpers live in their own crate (`hall-privacy`) so the server
/// and the clients get them without the serial drivers; re-exported here.
pub use hall_privacy as privacy;
pub mod sam;
pub mod serial;

#[cfg(feature = "sim")]
pub mod render;
#[cfg(feature = "sim")]
pub mod sim;
