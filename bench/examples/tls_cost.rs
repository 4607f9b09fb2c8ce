//! What TLS with client certificates costs the hall, measured in one run:
//! two `hall-server` processes (fsync on), one with TLS and roles (the
//! default), one with `--insecure-demo`, each driven by the same N clients
//! for the same time with a no-op call (health Check) and with durable
//! IssueTicket; plus the time to open a connection (TCP, and the TLS
//! handshake with a client certificate). Prints one `key=value` line.
//!
//! `cargo run --release -p hall-bench --example tls_cost -- [CLIENTS] [SECONDS]`

use anyhow::{Context, bail};
use hall_proto::client::Tls;
use hall_proto::v1 as pb;
use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn start(
    bin: &std::path::Path,
    data: &std::path::Path,
    config: &std::path::Path,
    demo: bool,
) -> anyhow::Result<(std::process::Child, String)> {
    let mut cmd = std::process::Command::new(bin);
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--always-open",
        "--data-dir",
    ])
    .arg(data)
    .arg("--config")
    .arg(config);
    if demo {
        cmd.arg("--insecure-demo");
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
    let Some(addr) = line.trim().strip_prefix("hall-server listening on ") else {
        bail!("no listening line: {line:?}")
    };
    let scheme = if demo { "http" } else { "https" };
    Ok((child, format!("{scheme}://{addr}")))
}

async fn run(
    url: &str,
    tls: Option<&Tls>,
    clients: usize,
    secs: u64,
    issue: bool,
) -> anyhow::Result<f64> {
    let mut channels = Vec::new();
    for _ in 0..clients {
        channels
            .push(hall_proto::client::connect_tls(url, tls, 20, Duration::from_millis(200)).await?);
    }
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (c, ch) in channels.into_iter().enumerate() {
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
            let mut kiosk = pb::kiosk_service_client::KioskServiceClient::new(ch);
            let mut i = 0u64;
            while Instant::now() < stop {
                let res = if issue {
                    kiosk
                        .issue_ticket(pb::IssueTicketRequest {
                            request_id: format!("c{c}-{i}"),
                            category: "invoice".into(),
                            ..Default::default()
                        })
                        .await
                        .map(|_| ())
                } else {
                    health
                        .check(tonic_health::pb::HealthCheckRequest::default())
                        .await
                        .map(|_| ())
                };
                if let Err(e) = res {
                    panic!("a call failed: {e:?}");
                }
                i += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / secs as f64)
}

async fn connect_ms(url: &str, tls: Option<&Tls>, n: u32) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    for _ in 0..n {
        let ch = hall_proto::client::connect_tls(url, tls, 1, Duration::from_millis(100)).await?;
        tonic_health::pb::health_client::HealthClient::new(ch)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await?;
    }
    Ok(t0.elapsed().as_secs_f64() * 1000.0 / f64::from(n))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map_or(Ok(16), |a| a.parse())?;
    let secs: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let bin = std::env::current_exe()?
        .parent()
        .and_then(|p| p.parent())
        .context("target folder")?
        .join("hall-server");
    let tmp = tempfile::tempdir()?;
    let (tls_dir, plain_dir) = (tmp.path().join("tls"), tmp.path().join("plain"));
    hall_server::pki::init(&tls_dir, &[])?;
    let ca = hall_server::pki::Ca::load(&tls_dir)?;
    let id = ca.issue(hall_server::pki::Role::Kiosk, "bench-kiosk", -1, 2)?;
    let tls = Tls {
        ca_pem: id.ca_pem,
        identity: Some((id.cert_pem, id.key_pem)),
    };
    // Quotas off, so issuing never runs out in the measurement.
    let mut catalog = hall_server::config::around_the_clock(hall_server::config::builtin());
    for c in &mut catalog.categories {
        c.daily_quota = 0;
    }
    let config = tmp.path().join("hall.toml");
    std::fs::write(&config, hall_server::config::to_toml(&catalog))?;
    // What reading role and id from a certificate costs (the gate does it
    // for each call on a connection it has not seen).
    let (_, der) = x509_parser::pem::parse_x509_pem(tls.identity.as_ref().unwrap().0.as_bytes())?;
    let t0 = Instant::now();
    for _ in 0..20_000 {
        std::hint::black_box(hall_server::pki::subject_of(std::hint::black_box(
            &der.contents,
        )));
    }
    let parse_us = t0.elapsed().as_secs_f64() * 1e6 / 20_000.0;
    let (mut a, tls_url) = start(&bin, &tls_dir, &config, false)?;
    let (mut b, plain_url) = start(&bin, &plain_dir, &config, true)?;
    // Interleaved, so a slow spell of the machine falls on both.
    let plain_noop = run(&plain_url, None, clients, secs, false).await?;
    let tls_noop = run(&tls_url, Some(&tls), clients, secs, false).await?;
    let plain_issue = run(&plain_url, None, clients, secs, true).await?;
    let tls_issue = run(&tls_url, Some(&tls), clients, secs, true).await?;
    let plain_conn = connect_ms(&plain_url, None, 50).await?;
    let tls_conn = connect_ms(&tls_url, Some(&tls), 50).await?;
    let _ = (a.kill(), b.kill(), a.wait(), b.wait());
    println!(
        "clients={clients} seconds={secs} plain_noop_per_s={plain_noop:.0} tls_noop_per_s={tls_noop:.0} tls_noop_pct={:.1} plain_issue_per_s={plain_issue:.0} tls_issue_per_s={tls_issue:.0} tls_issue_pct={:.1} plain_connect_ms={plain_conn:.2} tls_connect_ms={tls_conn:.2} subject_parse_us={parse_us:.2}",
        tls_noop / plain_noop * 100.0,
        tls_issue / plain_issue * 100.0
    );
    Ok(())
}
