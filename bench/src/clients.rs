//! `hall-bench clients --seconds S`: the three Slint clients in their
//! windows on an X server (Xvfb, a virtual screen without a GPU), idle with
//! the hall running: what each costs a small fanless PC.
//!
//! It starts `Xvfb` on a free display, a demo `hall-server`, then the
//! kiosk, the counter terminal (its login screen) and the lobby board,
//! each in its own window with the software renderer. After a warm-up it
//! reads each client's CPU time from `/proc` over `S` seconds and its RSS
//! at the end. Nothing happens meanwhile but the clocks and the board's
//! notice line, so the figures are the idle cost. The last line is
//! key=value figures.

use crate::proc::{cpu_secs, rss_mib, start_server, wait_serving};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ClientsArgs {
    /// Seconds of measurement (after the warm-up).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Seconds each client gets to start and settle before measuring.
    #[arg(long, default_value_t = 8)]
    warmup: u64,
    /// Where the clients' binaries are (default: beside this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

/// Kills the child when dropped, so nothing is left behind on an error.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A display number with no X server on it.
fn free_display() -> u32 {
    (90..200)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .unwrap_or(99)
}

fn start_xvfb() -> anyhow::Result<(Guard, String)> {
    let n = free_display();
    let display = format!(":{n}");
    let child = Command::new("Xvfb")
        .args([
            display.as_str(),
            "-screen",
            "0",
            "1920x1080x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting Xvfb (Debian package xvfb; ./hall.sh installs it)")?;
    let guard = Guard(child);
    let socket = format!("/tmp/.X11-unix/X{n}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !Path::new(&socket).exists() {
        if Instant::now() > deadline {
            bail!("Xvfb did not open {display} within 10 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((guard, display))
}

pub async fn run(a: ClientsArgs) -> anyhow::Result<()> {
    let dir = match &a.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the bench's folder")?
            .to_path_buf(),
    };
    for b in ["hall-server", "kiosk", "counter-terminal", "display-board"] {
        if !dir.join(b).exists() {
            bail!(
                "{} is missing: build the workspace first (cargo build --release)",
                dir.join(b).display()
            );
        }
    }
    let (_x, display) = start_xvfb()?;
    let tmp = tempfile::tempdir()?;
    let server = start_server(
        &dir.join("hall-server"),
        &tmp.path().join("data"),
        None,
        true,
        &["--always-open".to_string()],
    )?;
    let _server = Guard(server.child);
    wait_serving(&server.url).await?;
    println!("clients: Xvfb on {display}, hall-server at {}", server.url);
    let spawn = |bin: &str, args: &[&str]| -> anyhow::Result<Guard> {
        let out = tmp.path().join(bin);
        std::fs::create_dir_all(&out)?;
        let child = Command::new(dir.join(bin))
            .args(args)
            .current_dir(&out)
            .env("DISPLAY", &display)
            .env("RUST_LOG", "warn")
            // The software renderer, as on a fanless PC without a GPU.
            .env("SLINT_BACKEND", "winit-software")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        Ok(Guard(child))
    };
    let url = server.url.as_str();
    let clients = [
        ("kiosk", spawn("kiosk", &["--server", url])?),
        ("counter", spawn("counter-terminal", &["--server", url])?),
        ("board", spawn("display-board", &["--server", url])?),
    ];
    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    for (name, g) in &clients {
        if !Path::new(&format!("/proc/{}", g.0.id())).exists() {
            bail!("{name} exited during the warm-up");
        }
    }
    let before: Vec<f64> = clients
        .iter()
        .map(|(_, g)| cpu_secs(&g.0.id().to_string()))
        .collect();
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    let wall = t.elapsed().as_secs_f64();
    let mut kv = Vec::new();
    println!("{:<10} {:>8} {:>9}", "client", "CPU %", "RSS MiB");
    for ((name, g), b) in clients.iter().zip(before) {
        let pid = g.0.id();
        let cpu = (cpu_secs(&pid.to_string()) - b) / wall * 100.0;
        let rss = rss_mib(pid);
        println!("{name:<10} {cpu:>8.2} {rss:>9.1}");
        kv.push(format!("{name}_cpu_pct={cpu:.2}"));
        kv.push(format!("{name}_rss_mib={rss:.1}"));
    }
    kv.push(format!("seconds={wall:.0}"));
    println!("{}", kv.join(" "));
    Ok(())
}
