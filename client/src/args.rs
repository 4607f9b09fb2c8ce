//! The run-mode flags of every client binary: `--headless`, `--out DIR`,
//! `--every S`, `--duration S` (flattened into each binary's clap `Cli`).
//!
//! Not for a client's own flags.

use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct RunArgs {
    /// Run without a window (chosen by itself when there is no display).
    #[arg(long)]
    pub headless: bool,
    /// Where headless mode writes its screenshots (default: `<client>-out`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seconds between headless screenshots.
    #[arg(long, default_value_t = 5)]
    pub every: u64,
    /// Stop after this many seconds (default: run until stopped).
    #[arg(long)]
    pub duration: Option<u64>,
}

impl RunArgs {
    /// Fills in the client's default output folder.
    pub fn with_default_out(mut self, dir: &str) -> RunArgs {
        self.out.get_or_insert_with(|| PathBuf::from(dir));
        self
    }

    /// The output folder (after [`RunArgs::with_default_out`]).
    pub fn out(&self) -> &Path {
        self.out.as_deref().unwrap_or(Path::new("."))
    }

    /// Headless: asked for, or no display to open a window on.
    pub fn headless(&self) -> bool {
        self.headless || !crate::headless::has_display()
    }
}
