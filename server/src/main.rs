//! `hall-server`: parses flags, sets up tracing, binds, and calls `run`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "hall-server",
    about = "Queue server of the government service hall (政务大厅排队叫号)"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: String,
    /// Address of the web face (JSON API, events, pages), with the same TLS
    /// as gRPC; `none` to serve no web face.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: String,
    /// Folder of the embedded sled store.
    #[arg(long, default_value = "./hall-data")]
    data_dir: PathBuf,
    /// Hall configuration (TOML); without it the built-in hall is served.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Without --config: the built-in site to serve — `district` (the
    /// district hall), `street` (a street service centre) or `community` (a
    /// community station), one network of three levels (三级协同).
    #[arg(long, default_value = "district", value_parser = ["district", "street", "community"], conflicts_with = "config")]
    profile: String,
    /// Skip the fsync after each group commit: survives a killed process but
    /// not a power cut. Faster on slow disks.
    #[arg(long)]
    no_fsync: bool,
    /// Events between state snapshots (restart replays at most this many).
    #[arg(long, default_value_t = 20_000)]
    snapshot_every: u64,
    /// Events per sled log segment; full segments move to flat archive files.
    #[arg(long, default_value_t = hall_server::store::SEGMENT_EVENTS)]
    segment_events: u64,
    /// Accept kiosk calls only with this `x-device-token` (repeat for
    /// several kiosks; none = no check, for a closed network).
    #[arg(long = "device-token")]
    device_tokens: Vec<String>,
    /// Accept AdminService calls (configuration, follow-ups, reports) only
    /// with this `x-admin-token` (repeatable; none = no check).
    #[arg(long = "admin-token")]
    admin_tokens: Vec<String>,
    /// Demo and test mode: issue numbers around the clock every day, with no
    /// cutoff and no ID-card requirement (a real hall keeps its calendar).
    #[arg(long)]
    always_open: bool,
    /// Plaintext gRPC with no client certificates and no roles: anyone on
    /// the network can act as any kiosk, clerk or admin. A demo on one
    /// machine only; logged as a warning.
    #[arg(long)]
    insecure_demo: bool,
    /// Benchmarks and tests only: the hall's clock starts at this instant
    /// (ms since 1970) and moves only forward with each call's
    /// `x-hall-test-clock` header, so simulated days pass in seconds. Never
    /// for a real hall (not a configuration key; logged as a warning).
    #[arg(long, hide = true)]
    test_clock: Option<i64>,
    /// Another DNS name or address the server certificate is valid for
    /// (repeatable; used when the hall CA is first made).
    #[arg(long = "tls-name")]
    tls_names: Vec<String>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Validates a configuration file: exit 0 when valid, 1 with the problems otherwise.
    CheckConfig { file: PathBuf },
    /// Prints the built-in hall configuration (a starting point for a real
    /// one), or another built-in profile's.
    PrintDefaultConfig {
        /// district, street or community.
        #[arg(long, default_value = "district", value_parser = ["district", "street", "community"])]
        profile: String,
    },
    /// Sets a clerk's PIN (`--clerk ID`) or a supervisor's or admin's
    /// password (`--staff ID`), read from the first line of stdin, as an
    /// Argon2id hash: in the configuration file given (edited in place; a
    /// new staff account needs `--role`), or printed as the line to paste.
    /// E.g. `read -s PIN && echo "$PIN" | hall-server passwd --clerk c01 --config hall.toml`
    Passwd {
        #[arg(long, conflicts_with = "staff", required_unless_present = "staff")]
        clerk: Option<String>,
        #[arg(long)]
        staff: Option<String>,
        /// The role of a staff account (required when adding one).
        #[arg(long, value_parser = ["supervisor", "admin"], requires = "staff")]
        role: Option<String>,
        /// The name of a staff account being added.
        #[arg(long, requires = "staff", default_value = "")]
        name: String,
        /// The configuration file to edit.
        #[arg(long = "config")]
        file: Option<PathBuf>,
    },
    /// Creates the hall CA and the server certificate in DATA_DIR/tls (the
    /// CA at DATA_DIR/tls/ca.pem); keeps them if they exist.
    Init {
        #[arg(long, default_value = "./hall-data")]
        data_dir: PathBuf,
        /// Another DNS name or address for the server certificate (repeatable).
        #[arg(long = "tls-name")]
        tls_names: Vec<String>,
    },
    /// Prints a one-time pairing code (valid 10 minutes) for a device or
    /// staff member with this role and id, as the last line of stdout.
    /// Works whether or not a server runs on DATA_DIR (and makes the hall CA
    /// if there is none yet).
    Enroll {
        #[arg(long, default_value = "./hall-data")]
        data_dir: PathBuf,
        /// kiosk, board, counter, pad (a rating pad: id pad-N for window N), supervisor or admin.
        #[arg(long)]
        role: String,
        /// The device's id, e.g. kiosk-3.
        #[arg(long)]
        id: String,
    },
    /// The device side of enrollment: makes a key, redeems the pairing code
    /// at the server and writes OUT/device.pem, OUT/device.key, OUT/ca.pem.
    Redeem {
        /// The server, e.g. https://127.0.0.1:50051.
        #[arg(long)]
        server: String,
        /// The hall CA to pin (DATA_DIR/tls/ca.pem of the hall).
        #[arg(long)]
        ca: PathBuf,
        #[arg(long)]
        code: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Lists the certificates signed for devices; `--revoke ID` revokes
    /// every certificate of that device (a running server refuses it
    /// within a second).
    Devices {
        #[arg(long, default_value = "./hall-data")]
        data_dir: PathBuf,
        #[arg(long)]
        revoke: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    // Before any thread: a few shared malloc arenas keep the RSS flat over
    // months of days (hall_server::heap).
    hall_server::heap::limit_arenas(2);
    let cli = Cli::parse();
    match &cli.command {
        Some(Cmd::CheckConfig { file }) => {
            return match hall_server::config::load(file) {
                Ok(c) => {
                    println!(
                        "{}: valid ({} categories, {} bundles, {} windows, {} clerks)",
                        file.display(),
                        c.categories.len(),
                        c.bundles.len(),
                        c.windows.len(),
                        c.clerks.len()
                    );
                    Ok(())
                }
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            };
        }
        Some(Cmd::PrintDefaultConfig { profile }) => {
            print!(
                "{}",
                hall_server::config::profile_text(profile).unwrap_or_default()
            );
            return Ok(());
        }
        Some(Cmd::Passwd {
            clerk,
            staff,
            role,
            name,
            file,
        }) => {
            let who = match (clerk, staff) {
                (Some(c), _) => Account::Clerk(c.clone()),
                (None, Some(s)) => {
                    Account::Staff(s.clone(), role.as_deref().map(staff_role), name.clone())
                }
                (None, None) => anyhow::bail!("give --clerk ID or --staff ID"),
            };
            return passwd(who, file.as_deref());
        }
        Some(Cmd::Init {
            data_dir,
            tls_names,
        }) => {
            let done = hall_server::pki::init(data_dir, tls_names)?;
            let what = if done.created {
                "created"
            } else {
                "kept the existing"
            };
            println!("{what} hall CA {}", done.ca.display());
            return Ok(());
        }
        Some(Cmd::Enroll { data_dir, role, id }) => {
            let role: hall_server::pki::Role = role.parse()?;
            // A hall that has not started yet gets its CA now, as its first
            // start would make it.
            if hall_server::pki::init(data_dir, &[])?.created {
                eprintln!(
                    "created the hall CA {}",
                    data_dir.join("tls/ca.pem").display()
                );
            }
            let code = hall_server::pki::enroll(data_dir, role, id)?;
            eprintln!(
                "pairing code for {role} {id}, valid {} minutes, usable once:",
                hall_server::pki::PAIRING_TTL.as_secs() / 60
            );
            println!("{code}");
            return Ok(());
        }
        Some(Cmd::Redeem {
            server,
            ca,
            code,
            out,
        }) => {
            let rt = tokio::runtime::Runtime::new()?;
            let done = rt.block_on(hall_server::pki_client::redeem(server, ca, code, out))?;
            println!(
                "enrolled as {} {}: {}",
                done.role,
                done.device_id,
                out.join("device.pem").display()
            );
            return Ok(());
        }
        Some(Cmd::Devices { data_dir, revoke }) => {
            if let Some(id) = revoke {
                let n = hall_server::pki::revoke(data_dir, id)?;
                println!("{id}: {n} certificate(s) revoked");
                return Ok(());
            }
            println!(
                "{:<10} {:<20} {:<34} {:<22} state",
                "role", "id", "serial", "valid until"
            );
            for d in hall_server::pki::devices(data_dir)? {
                println!(
                    "{:<10} {:<20} {:<34} {:<22} {}",
                    d.subject.role,
                    d.subject.id,
                    d.subject.serial,
                    d.not_after,
                    if d.revoked { "revoked" } else { "valid" }
                );
            }
            return Ok(());
        }
        None => {}
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,h2=warn,tower=warn".into()),
        )
        // Logs on stderr: stdout's first line is the "listening on" line
        // that scripts and the whole-hall runner read.
        .with_writer(std::io::stderr)
        .init();
    let catalog = match &cli.config {
        Some(path) => hall_server::config::load(path)?,
        None => hall_server::config::profile(&cli.profile)
            .with_context(|| format!("no built-in profile {:?}", cli.profile))?,
    };
    let catalog = if cli.always_open {
        hall_server::config::around_the_clock(catalog)
    } else {
        catalog
    };
    if let Some(start) = cli.test_clock {
        tracing::warn!(
            start_ms = start,
            "TEST CLOCK: the hall's time is set by its callers (a bench or a test, never a real hall)"
        );
        hall_server::test_clock::enable(start);
    }
    let mut opts = hall_server::Options::new(cli.data_dir.clone(), catalog);
    opts.fsync = !cli.no_fsync;
    opts.snapshot_every = cli.snapshot_every.max(10);
    opts.segment_events = cli.segment_events.max(10);
    opts.device_tokens = cli.device_tokens.clone();
    opts.admin_tokens = cli.admin_tokens.clone();
    opts.insecure_demo = cli.insecure_demo;
    opts.tls_names = cli.tls_names.clone();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&cli.listen)
            .await
            .with_context(|| format!("binding {}", cli.listen))?;
        tracing::info!(addr = %listener.local_addr()?, data_dir = %cli.data_dir.display(), "hall-server starting");
        // Only once the store is open and recovered: scripts and the
        // whole-hall runner take this line to mean "it serves".
        let web = if cli.http == "none" {
            None
        } else {
            Some(
                tokio::net::TcpListener::bind(&cli.http)
                    .await
                    .with_context(|| format!("binding the web face to {} (--http)", cli.http))?,
            )
        };
        let prepared = hall_server::prepare(opts)?;
        // Written, not printed: whoever reads the first line may close the
        // pipe after it (the tests do), and that must not stop the server.
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "hall-server listening on {}", listener.local_addr()?);
        if let Some(w) = &web {
            let scheme = if cli.insecure_demo { "http" } else { "https" };
            let _ = writeln!(out, "hall-server web on {scheme}://{}", w.local_addr()?);
        }
        let _ = out.flush();
        prepared.serve(listener, web, shutdown_signal()).await
    })
}

enum Account {
    Clerk(String),
    Staff(String, Option<StaffRole>, String),
}

use hall_server::engine::catalog::StaffRole;

fn staff_role(r: &str) -> StaffRole {
    if r == "admin" {
        StaffRole::Admin
    } else {
        StaffRole::Supervisor
    }
}

fn passwd(who: Account, file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let mut secret = String::new();
    std::io::stdin()
        .read_line(&mut secret)
        .context("reading the PIN or password from stdin")?;
    let secret = secret.trim_end_matches(['\r', '\n']);
    let Some(file) = file else {
        let (id, key) = match &who {
            Account::Clerk(c) => {
                hall_server::passwd::check_pin(secret)?;
                (c, "pin_argon2")
            }
            Account::Staff(s, ..) => {
                hall_server::passwd::check_password(secret)?;
                (s, "password_argon2")
            }
        };
        let hash = hall_server::engine::catalog::hash_pin(id, secret, rand::random());
        println!("{key} = \"{hash}\"");
        return Ok(());
    };
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let (out, what) = match &who {
        Account::Clerk(c) => (
            hall_server::passwd::set_pin(&text, c, secret),
            format!("PIN of clerk {c}"),
        ),
        Account::Staff(s, role, name) => (
            hall_server::passwd::set_staff_password(
                &text,
                s,
                role.map(|r| (r, name.as_str())),
                secret,
            ),
            format!("password of staff account {s}"),
        ),
    };
    let out = out.with_context(|| format!("{}", file.display()))?;
    // Written beside, then renamed: a crash leaves the old file or the new.
    let tmp = file.with_extension("passwd.tmp");
    std::fs::write(&tmp, &out).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("replacing {}", file.display()))?;
    println!("{}: {what} set (Argon2id)", file.display());
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}
