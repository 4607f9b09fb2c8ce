//! `hall-bench` from outside: its contract flags stay. Being an integration
//! test of this package also makes `cargo test --workspace` build the binary.

use std::process::Command;

#[test]
fn the_benchmark_takes_its_contract_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_hall-bench"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--clients",
        "--seconds",
        "--subscribers",
        "--calls",
        "--no-fsync",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn the_benchmark_names_a_missing_server_binary() {
    let out = Command::new(env!("CARGO_BIN_EXE_hall-bench"))
        .args(["--seconds", "1", "--server-bin", "/nonexistent/hall-server"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/hall-server"), "{err}");
}
