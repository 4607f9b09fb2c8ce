//! The clerk's counter terminal (窗口叫号终端).
//!
//! - [`core`]: the pure core — `update(&mut State, Input) -> Vec<Effect>`:
//!   keys and buttons, the event stream, the connection; the desk state.
//! - [`terminal`]: runs the effects over gRPC — session, actions, the
//!   window's queue (`GetMyQueue`), ratings.
//! - [`view`]: the terminal's state → the Slint `CounterAdapter` global (and
//!   Slint's typed actions back to the core's).
//! - [`sites`]: one terminal at several sites (a session, a stream and a
//!   core per site; the tabs and the site on screen).
//! - [`auto`]: a simulated clerk working a real terminal (demo, end-to-end test).
//! - [`pad`]: the rating pad (评价器, `--rating-pad`): the citizen's screen
//!   at one window; the only place a rating is given at the counter.
//! - [`sample`]: representative data for screenshots without a server.
//!
//! Headless rendering, time, the event-stream follower and the words of
//! refusals come from `hall_client`.

pub mod auto;
pub mod core;
pub mod pad;
pub mod sample;
pub mod sites;
pub mod terminal;
pub mod view;

pub use hall_client::headless;

slint::include_modules!();
