//! The visitors' ticket kiosk (取号机).
//!
//! - [`flow`]: the screens as a pure state machine (input → effects).
//! - [`controller`]: runs the effects — gRPC to the server (with retries that
//!   reuse the request id), the printer and the ID-card reader — and feeds the
//!   results back into the flow.
//! - [`devices`]: the printer and reader on their own threads, over real
//!   serial ports or the simulators' pseudo-terminals.
//! - [`config`]: the kiosk's TOML configuration.
//! - [`view`]: the flow's state → the Slint `KioskAdapter` global; headless
//!   rendering to PNG.
//! - [`sample`]: representative data for screenshots without a server.

pub mod config;
pub mod controller;
pub mod devices;
pub mod flow;
pub mod sample;
pub mod view;

pub use hall_client::headless;

slint::include_modules!();
