//! The benchmarks' processes: starting the real `hall-server` binary,
//! waiting until it serves, and reading a process's RSS and CPU time from
//! `/proc`.

use anyhow::{Context, bail};
use std::time::Duration;
use tonic::transport::Channel;

pub struct Server {
    pub child: std::process::Child,
    pub url: String,
    /// The web face (plain HTTP: the bench's server runs as a demo).
    pub web: std::net::SocketAddr,
}

/// The `hall-server` binary: `given`, or the one beside this benchmark;
/// an error that says how to build it when it is missing.
pub fn server_bin(given: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    let bin = match given {
        Some(b) => b.to_path_buf(),
        None => std::env::current_exe()?.with_file_name("hall-server"),
    };
    if !bin.exists() {
        bail!(
            "{} is missing: build it first (cargo build --release -p hall-server)",
            bin.display()
        );
    }
    Ok(bin)
}

/// Starts `bin` on free ports (a demo hall: plaintext, no roles) with
/// `config` (the built-in hall when `None`) and `extra` arguments; returns
/// once it prints its addresses.
pub fn start_server(
    bin: &std::path::Path,
    data: &std::path::Path,
    config: Option<&std::path::Path>,
    fsync: bool,
    extra: &[String],
) -> anyhow::Result<Server> {
    use std::io::BufRead;
    let mut cmd = std::process::Command::new(bin);
    // Plaintext, no roles: the figures compare the server's work with the
    // no-op gRPC ceiling on the same transport (its clients speak as
    // kiosk, clerk and board over shared connections, which roles forbid).
    cmd.args([
        "--insecure-demo",
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(data)
    .args(extra);
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    if !fsync {
        cmd.arg("--no-fsync");
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    // The first line that names the address (a wrapper such as a profiler
    // may print its own lines before it).
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut addr = None;
    let web = loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("hall-server exited before listening");
        }
        if let Some(a) = line.trim().strip_prefix("hall-server listening on ") {
            addr = Some(a.to_string());
        }
        if let Some(w) = line.trim().strip_prefix("hall-server web on http://") {
            break w.parse::<std::net::SocketAddr>()?;
        }
    };
    let addr = addr.context("no listening line before the web line")?;
    Ok(Server {
        child,
        url: format!("http://{addr}"),
        web,
    })
}

pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds (user + system) a process has used so far, from
/// `/proc/<pid>/stat` (`self` for this one). Linux counts in USER_HZ = 100.
pub fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub async fn connect(url: &str) -> anyhow::Result<Channel> {
    Ok(hall_proto::client::connect_with_backoff(url, 100, Duration::from_millis(200)).await?)
}

pub async fn wait_serving(url: &str) -> anyhow::Result<()> {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    loop {
        if let Ok(ch) = connect(url).await
            && HealthClient::new(ch)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
