//! What the three Slint clients (kiosk, counter terminal, display board)
//! share, so each of them keeps only its own screens and its pure core:
//!
//! - [`args`]: the run-mode flags every client binary takes.
//! - [`headless`]: whether there is a display, the software-rendered
//!   platform without one, PNG snapshots.
//! - [`time`]: `now_ms` and local times in the hall's time zone, which comes
//!   from the server's catalogue ([`time::HallZone`]).
//! - [`follow`]: following the event stream from the last sequence seen, with
//!   reconnect and backoff, reporting the [`follow::Connection`] for a banner.
//! - [`texts`]: the one zh/en table of user-facing words for server refusals
//!   (typed reasons, never message text), priority classes and printer states.
//! - `ui/` (not Rust): the Slint library every `.slint` root imports as
//!   `@hall/…` — theme, embedded fonts, the connection banner.
//!
//! Not for screens or domain decisions: those stay in each client.

pub mod args;
pub mod follow;
pub mod headless;
pub mod texts;
pub mod time;

/// Logs to stderr, filtered by `RUST_LOG` (stdout carries the clients'
/// outcome lines).
pub fn init_logging() {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_writer(std::io::stderr).init();
}

/// The folder of the shared Slint library (`@hall/…` in `.slint` files).
pub const UI_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/ui");
