//! Compiles `hall/v1/*.proto` with the pure-Rust `protox` compiler, so no
//! system `protoc` is needed, and keeps the file descriptor set for gRPC
//! reflection.
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "hall/v1/common.proto",
        "hall/v1/errors.proto",
        "hall/v1/kiosk.proto",
        "hall/v1/counter.proto",
        "hall/v1/events.proto",
        "hall/v1/admin.proto",
        "hall/v1/devices.proto",
        "hall/v1/reports.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(
        out.join("hall_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    // Type names (`prost::Name`) let the server look up a request's
    // descriptor generically (its input limits).
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure().compile_fds_with_config(fds, config)?;
    Ok(())
}
