//! Compiles the kiosk's one root .slint file. Fonts are embedded whole
//! (EmbedFiles): category names and guidance come from the server, so the
//! pre-rendered glyph mode (only characters of .slint literals) would show boxes.
fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .embed_resources(slint_build::EmbedResourcesKind::EmbedFiles);
    slint_build::compile_with_config("ui/kiosk.slint", config).expect("the kiosk's Slint UI compiles");
}
