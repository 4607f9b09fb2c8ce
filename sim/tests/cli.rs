//! `hall-sim` from outside. Being an integration test of this package also
//! makes `cargo test --workspace` build the binary, which the integration
//! tests in `tests/` run against a live server.

use std::process::Command;

#[test]
fn erlang_answers_from_the_command_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_hall-sim"))
        .args([
            "erlang",
            "--arrivals-per-hour",
            "60",
            "--service-min",
            "10",
            "--windows",
            "12",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.trim().is_empty());
}

#[test]
fn a_missing_config_file_is_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_hall-sim"))
        .args(["--config", "/nonexistent/hall.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/hall.toml"), "{err}");
}
