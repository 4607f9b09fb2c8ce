//! Compiles the board's one root .slint file against the shared Slint library
//! (`@hall/…` = client/ui: theme, fonts, connection banner). Fonts are
//! embedded whole (EmbedFiles): names and categories come from the server, so
//! the pre-rendered glyph mode (only characters of .slint literals) would
//! show gaps. Debug info names elements for i-slint-backend-testing.
fn main() {
    let manifest = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let library = std::collections::HashMap::from([("hall".to_string(), manifest.join("../client/ui"))]);
    let config = slint_build::CompilerConfiguration::new()
        .with_library_paths(library)
        .with_debug_info(true)
        .embed_resources(slint_build::EmbedResourcesKind::EmbedFiles);
    slint_build::compile_with_config("ui/board.slint", config).expect("the board's Slint UI compiles");
}
