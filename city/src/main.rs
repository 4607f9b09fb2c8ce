//! `hall-city`: the city view of every site (三级协同), from PostgreSQL only.
//!
//! ```text
//! hall-city --pg postgres://city@db/city --http 0.0.0.0:8500 --config staff.toml [--data DIR]
//!           [--offline-minutes N] [--insecure-demo]
//! ```
//! It applies the schema's migrations, then serves `/city` and the reports
//! API over HTTPS with its own CA and server certificate under `DIR/tls`
//! (made on first start, as a site's), and the staff accounts of `--config`
//! (`[[staff]]`, required). With
//! `--insecure-demo`: plain HTTP and no login, for a demo on one machine.
//! It prints `city ready: http(s)://ADDR/city` once it serves.

mod auth;
mod web;

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "hall-city",
    about = "The city view of every site (三级协同), from PostgreSQL"
)]
struct Cli {
    /// The city database (postgres://user@host:port/db).
    #[arg(long)]
    pg: String,
    /// A file with the database password (first line).
    #[arg(long)]
    pg_password_file: Option<String>,
    /// Where to serve the city screen and the reports API.
    #[arg(long)]
    http: String,
    /// The city's own data: its CA and server certificate (`tls/`).
    #[arg(long, default_value = "city-data")]
    data: PathBuf,
    /// A TOML file with `[[staff]]` accounts (supervisor, admin), as in a
    /// hall configuration (`hall-server passwd --staff ID --config FILE`
    /// writes them). Required unless `--insecure-demo`: the built-in demo
    /// passwords are published.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Extra DNS names or addresses for the server certificate.
    #[arg(long = "tls-name")]
    tls_names: Vec<String>,
    /// A site without contact for this many minutes shows as offline.
    #[arg(long, default_value_t = 5)]
    offline_minutes: u32,
    /// Plain HTTP and no login (a demo on one machine only).
    #[arg(long)]
    insecure_demo: bool,
}

#[derive(serde::Deserialize)]
struct StaffFile {
    #[serde(default)]
    staff: Vec<hall_engine::catalog::StaffAccount>,
}

fn staff_of(path: Option<&PathBuf>) -> anyhow::Result<Vec<hall_engine::catalog::StaffAccount>> {
    let Some(path) = path else {
        anyhow::bail!(
            "--config FILE with the city's [[staff]] accounts is required (or --insecure-demo for a demo on one machine)"
        );
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // A whole hall configuration works too: only [[staff]] is read.
    let v: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: not TOML", path.display()))?;
    let staff = toml::Value::Table(v)
        .get("staff")
        .cloned()
        .unwrap_or(toml::Value::Array(Vec::new()));
    let f: StaffFile = toml::Value::Table(toml::Table::from_iter([("staff".to_string(), staff)]))
        .try_into()
        .with_context(|| format!("{}: [[staff]]", path.display()))?;
    if f.staff.is_empty() {
        anyhow::bail!("{}: no [[staff]] account", path.display());
    }
    Ok(f.staff)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if cli.offline_minutes == 0 || cli.offline_minutes > 1440 {
        anyhow::bail!("--offline-minutes: between 1 and 1440");
    }
    let staff = if cli.insecure_demo {
        None
    } else {
        Some(staff_of(cli.config.as_ref())?)
    };
    let mut client = hall_pg::connect(&cli.pg, cli.pg_password_file.as_deref())
        .await
        .with_context(|| format!("connecting to {}", hall_pg::redact_url(&cli.pg)))?;
    hall_pg::migrate::migrate(&mut client)
        .await
        .context("migrating the city schema")?;
    let tls = if cli.insecure_demo {
        None
    } else {
        hall_server::pki::init(&cli.data, &cli.tls_names)
            .with_context(|| format!("the city's certificates under {}", cli.data.display()))?;
        let files = hall_server::pki::server_files(&cli.data)?;
        Some(hall_server::web::tls_config(&files)?)
    };
    let listener = tokio::net::TcpListener::bind(&cli.http)
        .await
        .with_context(|| format!("--http {}", cli.http))?;
    let addr = listener.local_addr()?;
    let city = web::City {
        pg: Arc::new(web::Pg {
            url: cli.pg.clone(),
            password_file: cli.pg_password_file.clone(),
            client: tokio::sync::Mutex::new(Arc::new(client)),
        }),
        auth: Arc::new(auth::Auth::new(staff)),
        offline_after: chrono::Duration::minutes(i64::from(cli.offline_minutes)),
        tls: tls.is_some(),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("city ready: {scheme}://{addr}/city");
    // Serving until SIGINT or SIGTERM: the city holds no state of its own
    // to save (sessions end with the process).
    tokio::select! {
        () = serve(listener, web::router(city), tls) => {}
        _ = tokio::signal::ctrl_c() => {}
        () = terminate() => {}
    }
    Ok(())
}

#[cfg(unix)]
async fn terminate() {
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        s.recv().await;
    }
}

/// Accepts connections (TLS when configured) and serves the router on each.
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(tokio::sync::Semaphore::new(1024));
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10));
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let r = match acceptor {
                None => builder.serve_connection(TokioIo::new(tcp), svc).await,
                Some(a) => {
                    match tokio::time::timeout(std::time::Duration::from_secs(10), a.accept(tcp))
                        .await
                    {
                        Ok(Ok(tls)) => builder.serve_connection(TokioIo::new(tls), svc).await,
                        _ => return,
                    }
                }
            };
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "city: connection ended with an error");
            }
        });
    }
}
