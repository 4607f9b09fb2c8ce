//! The Slint build step every client's `build.rs` calls: its one root
//! `.slint` file compiled against the shared library (`@hall/…` =
//! `client/ui`: theme, fonts, connection banner).
//!
//! Fonts are embedded whole (`EmbedFiles`): names and categories come from
//! the server, so the pre-rendered glyph mode (only the characters of .slint
//! literals) would leave gaps.
//!
//! Not for run-time code: that is `hall-client`.

use std::path::PathBuf;

/// Compiles `root` (relative to the calling crate) for `slint::include_modules!()`.
pub fn compile(root: &str) {
    let ui = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui");
    let library = std::collections::HashMap::from([("hall".to_string(), ui)]);
    let config = slint_build::CompilerConfiguration::new()
        .with_library_paths(library)
        .embed_resources(slint_build::EmbedResourcesKind::EmbedFiles);
    if let Err(e) = slint_build::compile_with_config(root, config) {
        panic!("compiling {root}: {e}");
    }
}
