//! The whole-hall runner (`hall`) from outside. Being an integration test of
//! this package also makes `cargo test --workspace` build the binary.

use std::process::Command;

#[test]
fn the_hall_runner_takes_the_contract_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_hall")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--headless", "--out <OUT>", "--duration <DURATION>", "--speed", "--listen"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn the_hall_runner_says_what_to_build_when_a_binary_is_missing() {
    // A copy of the runner alone in a folder: its siblings are missing.
    let dir = tempfile::tempdir().unwrap();
    let runner = dir.path().join("hall");
    std::fs::copy(env!("CARGO_BIN_EXE_hall"), &runner).unwrap();
    let out = Command::new(&runner).args(["--headless", "--duration", "1", "--out"]).arg(dir.path().join("out")).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hall-server is missing: build the hall first"), "{err}");
}
