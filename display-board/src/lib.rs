//! The display board (综合显示屏) and window screens (窗口屏).
//!
//! - [`model`]: the board's state, pure (snapshot + events, zone filter).
//! - [`core`]: the pure core, `update(&mut Board, Input) -> Vec<Effect>`.
//! - [`follow`]: keeps a model in step with the server: snapshot, then the
//!   event stream from that sequence; on a cut, resume from the last seen.
//! - [`view`]: model → the Slint `BoardAdapter` global; headless rendering.
//! - [`voice`]: the phrase planner, voice packs, the announcer.
//! - [`sample`]: built-in sample data for screenshots without a server.

pub mod core;
pub mod follow;
pub mod model;
pub mod sample;
pub mod view;
pub mod voice;

pub use hall_client::headless;

slint::include_modules!();
