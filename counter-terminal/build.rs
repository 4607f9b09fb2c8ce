//! Compiles the counter terminal's one root .slint file. Fonts are embedded whole
//! (EmbedFiles): the software renderer's pre-rendered glyph mode
//! would only carry the characters that appear in .slint literals, and
//! names, categories and notices come from the server.
fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .embed_resources(slint_build::EmbedResourcesKind::EmbedFiles);
    slint_build::compile_with_config("ui/counter.slint", config).expect("the counter terminal's Slint UI compiles");
}
