//! `hall-sim`: a deterministic day of the hall through the real engine.
//!
//! - `hall-sim --seed N [--scenario FILE] [--out DIR]`: compares the engine's
//!   policy with FIFO per category and one global FIFO on the same visitors;
//!   prints a table, writes `summary.csv`, `staffing.csv` and `waiting.png`
//!   into DIR; the last stdout line is key=value pairs.
//! - `hall-sim erlang --arrivals-per-hour L --service-min S --windows C`.
//! - `hall-sim remote [--shares 0,20,40]`: walk-ins' waits when part of the
//!   visitors take remote tickets.
//! - `hall-sim drive --server URL [--speed X] [--duration S]`: simulated
//!   visitors and clerks against a running server.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hall_sim::report::{compare, csv, key_values, mmc_check, staffing, table};
use hall_sim::{Scenario, chart, drive, erlang};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "hall-sim",
    about = "Simulate a day of the hall and compare allocation policies"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Scenario TOML (default: the built-in day of the new hall).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Hall configuration TOML (default: the built-in hall).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to write summary.csv, staffing.csv and waiting.png.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Erlang C: probability of waiting and mean wait.
    Erlang {
        #[arg(long)]
        arrivals_per_hour: f64,
        #[arg(long)]
        service_min: f64,
        #[arg(long)]
        windows: u32,
        /// Also print the share served within this many minutes.
        #[arg(long, default_value_t = 15.0)]
        target_min: f64,
    },
    /// Walk-ins' waits when part of the visitors take remote tickets
    /// (线上取号) 20-60 min before they come: the same day at each share.
    Remote {
        /// Remote shares in percent, e.g. 0,20,40.
        #[arg(long, default_value = "0,20,40")]
        shares: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Drive a running server with simulated visitors and clerks.
    Drive {
        #[arg(long, default_value = "http://127.0.0.1:50051")]
        server: String,
        /// Simulated minutes per real minute.
        #[arg(long, default_value_t = 30.0)]
        speed: f64,
        /// Stop after this many seconds (default: run until stopped).
        #[arg(long)]
        duration: Option<u64>,
        /// Windows the simulated clerks staff, e.g. 3-30 or 1,2,5.
        #[arg(long, default_value = "3-30")]
        windows: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// For an https:// server: the enrolled kiosk's folder (device.pem,
        /// device.key, ca.pem) the visitors take numbers with.
        #[arg(long)]
        kiosk_tls: Option<PathBuf>,
        /// ... and the enrolled counter terminal's, for the clerks.
        #[arg(long)]
        counter_tls: Option<PathBuf>,
    },
}

fn load_scenario(path: &Option<PathBuf>) -> Result<Scenario> {
    match path {
        None => Ok(Scenario::builtin()),
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Ok(Scenario::parse(&text, &p.display().to_string())?)
        }
    }
}

fn parse_windows(s: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.trim().parse::<u32>()?..=b.trim().parse::<u32>()?),
            None => out.push(part.trim().parse()?),
        }
    }
    Ok(out)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Some(Cmd::Erlang {
            arrivals_per_hour,
            service_min,
            windows,
            target_min,
        }) => {
            let lambda = arrivals_per_hour / 60.0;
            let a = lambda * service_min;
            let p = erlang::prob_wait(a, windows);
            let w = erlang::mean_wait(lambda, service_min, windows);
            let sl = erlang::service_level(lambda, service_min, windows, target_min);
            println!(
                "offered load {a:.3} erlangs on {windows} windows (utilisation {:.1}%)",
                a / windows as f64 * 100.0
            );
            println!("probability of waiting {p:.4}");
            println!("mean wait {w:.3} min");
            println!("served within {target_min} min {:.1}%", sl * 100.0);
            println!(
                "prob_wait={p:.4} mean_wait_min={w:.3} within_target_pct={:.1}",
                sl * 100.0
            );
            Ok(())
        }
        Some(Cmd::Remote {
            shares,
            seed,
            scenario,
        }) => {
            let scn = load_scenario(&scenario)?;
            let shares = shares
                .split(',')
                .map(|p| p.trim().parse::<u32>())
                .collect::<Result<Vec<_>, _>>()
                .context("--shares: percentages like 0,20,40")?;
            if let Some(bad) = shares.iter().find(|p| **p > 100) {
                anyhow::bail!("--shares: {bad} is more than 100");
            }
            let base = hall_engine::config::builtin();
            print!(
                "{}",
                hall_sim::report::remote_table(&hall_sim::report::remote_shares(
                    &scn, &base, seed, &shares
                ))
            );
            Ok(())
        }
        Some(Cmd::Drive {
            server,
            speed,
            duration,
            windows,
            seed,
            scenario,
            kiosk_tls,
            counter_tls,
        }) => {
            let tls = |d: Option<PathBuf>| -> Result<Option<hall_proto::client::Tls>> {
                d.map(|d| hall_proto::client::Tls::from_dir(&d))
                    .transpose()
                    .map_err(Into::into)
            };
            let opts = drive::DriveOptions {
                kiosk_tls: tls(kiosk_tls)?,
                counter_tls: tls(counter_tls)?,
                server,
                speed,
                duration: duration.map(Duration::from_secs),
                windows: parse_windows(&windows)?,
                seed,
                scenario: load_scenario(&scenario)?,
                pad_tls: Default::default(),
            };
            let rt = tokio::runtime::Runtime::new()?;
            let stats = rt.block_on(drive::drive(opts))?;
            use std::sync::atomic::Ordering::Relaxed;
            println!(
                "issued={} served={} no_shows={} errors={}",
                stats.issued.load(Relaxed),
                stats.served.load(Relaxed),
                stats.no_shows.load(Relaxed),
                stats.errors.load(Relaxed)
            );
            Ok(())
        }
        None => {
            let scn = load_scenario(&cli.scenario)?;
            let base = match &cli.config {
                None => hall_engine::config::builtin(),
                Some(p) => hall_engine::config::parse(
                    &std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?,
                    &p.display().to_string(),
                )?,
            };
            let started = std::time::Instant::now();
            let (drawn, figs) = compare(&scn, &base, cli.seed);
            let mmc = mmc_check(&base, cli.seed);
            let staff = staffing(&scn, 0.8);
            print!("{}", table(&scn, drawn, &figs, &mmc, &staff));
            if let Some(dir) = &cli.out {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                std::fs::write(dir.join("summary.csv"), csv(&figs))?;
                let mut s = String::from("category");
                let from: u32 = cli_hour(&scn.arrivals_from);
                for h in 0..scn.hourly_profile.len() {
                    s.push_str(&format!(",{:02}:00", from as usize + h));
                }
                s.push('\n');
                for (code, per_hour) in &staff {
                    s.push_str(code);
                    for n in per_hour {
                        s.push_str(&format!(",{n}"));
                    }
                    s.push('\n');
                }
                std::fs::write(dir.join("staffing.csv"), s)?;
                let series: Vec<chart::Series> = figs
                    .iter()
                    .map(|f| chart::Series {
                        name: f.kind.key(),
                        points: &f.curve,
                    })
                    .collect();
                let title = format!("Tickets waiting, {} (seed {})", scn.date, cli.seed);
                chart::waiting_chart(&dir.join("waiting.png"), &title, &series)?;
                println!(
                    "wrote {0}/summary.csv, {0}/staffing.csv, {0}/waiting.png",
                    dir.display()
                );
            }
            println!("simulated in {:.2} s", started.elapsed().as_secs_f64());
            println!("{}", key_values(&figs, &mmc));
            Ok(())
        }
    }
}

fn cli_hour(hm: &str) -> u32 {
    hm.split(':')
        .next()
        .and_then(|h| h.parse().ok())
        .unwrap_or(9)
}
