//! The display board (综合显示屏) and window screens (窗口屏).
//!
//! - [`model`]: the board's state, pure (snapshot + events, zone filter).
//! - [`follow`]: keeps a model in step with the server: snapshot, then the
//!   event stream from that sequence; on a cut, resume from the last seen.
//! - [`view`]: model → the Slint `BoardAdapter` global; headless rendering.
//! - [`headless`]: rendering without a display (shared with the other clients).
//! - [`voice`]: the phrase planner, voice packs, the announcer.
//! - [`sample`]: built-in sample data for screenshots without a server.

pub mod follow;
pub mod headless;
pub mod model;
pub mod sample;
pub mod view;
pub mod voice;

slint::include_modules!();
