//! The clerk's counter terminal (窗口叫号终端).
//!
//! - [`terminal`]: the controller over gRPC — session, actions, the window's
//!   queue (`GetMyQueue`), ratings — and errors in plain words.
//! - [`view`]: the terminal's state → the Slint `CounterAdapter` global, and
//!   headless rendering to PNG.
//! - [`auto`]: a simulated clerk working a real terminal (demo, end-to-end test).
//! - [`sample`]: representative data for screenshots without a server.

pub mod auto;
/// Rendering without a display: one file for the three Slint clients.
#[path = "../../display-board/src/headless.rs"]
pub mod headless;
pub mod sample;
pub mod terminal;
pub mod view;

slint::include_modules!();
