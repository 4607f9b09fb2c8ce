//! The server binary from outside. (Being an integration test of this
//! package also makes `cargo test --workspace` build the binary, so the
//! integration binary in `tests/` finds it next to its own.)

use std::process::Command;

#[test]
fn hall_server_refuses_a_bad_flag_with_a_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_hall-server"))
        .args(["--listen", "not-an-address", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("binding not-an-address"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
