//! The engine crate's boundary, checked: nothing with I/O in its normal
//! dependency tree. A dependency on tokio, sled, tonic, prost or axum (even
//! through another crate) fails this test, so "the engine is sans-IO" holds
//! by construction, not by review.

use std::process::Command;

#[test]
fn the_engine_depends_on_nothing_with_io() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--manifest-path",
            manifest,
        ])
        .args(["-p", "hall-engine"])
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"hall-engine"), "{tree}");
    for forbidden in ["tokio", "sled", "tonic", "prost", "axum", "hyper", "mio"] {
        assert!(
            !crates
                .iter()
                .any(|c| *c == forbidden || c.starts_with(&format!("{forbidden}-"))),
            "hall-engine must not depend on {forbidden}:\n{tree}"
        );
    }
}
