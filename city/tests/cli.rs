//! The command line as outside checks use it (the database-backed tests
//! are in the integration binary `it::city`, with a real PostgreSQL).

use std::process::Command;

fn city() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hall-city"))
}

#[test]
fn the_contract_flags_are_there() {
    let out = city().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--pg", "--http", "--insecure-demo", "--data", "--config"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn without_staff_accounts_it_does_not_start() {
    // The built-in demo passwords are published: the city never falls back
    // to them outside --insecure-demo.
    let out = city()
        .args(["--pg", "postgres://127.0.0.1:1/x", "--http", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--config FILE"), "{err}");
}

#[test]
fn a_bad_database_url_is_a_clear_error_not_a_hang() {
    let out = city()
        .args([
            "--pg",
            "mysql://nobody",
            "--http",
            "127.0.0.1:0",
            "--insecure-demo",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("connecting to mysql://nobody"), "{err}");
}
