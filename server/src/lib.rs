//! The hall's queue server around the sans-IO engine (crate `hall-engine`,
//! re-exported as `engine`): a durable sled event log (`store`), the writer
//! thread with group commit (`writer`), the gap-free event stream (`stream`)
//! and the gRPC edge (`grpc`). `run` serves on a bound listener until
//! `shutdown` resolves; `main` only parses flags.

pub mod config;
pub use hall_engine as engine;
pub mod grpc;
pub mod heap;
pub mod notify;
pub mod passwd;
pub mod pki;
pub mod pki_client;
pub mod read_model;
pub mod reports;
pub mod ship;
pub mod store;
pub mod stream;
pub mod web;
pub mod writer;

use anyhow::Context;
use engine::catalog::Catalog;
use engine::{Command, Event};
use hall_proto::v1 as pb;
use prost::Message;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub data_dir: PathBuf,
    /// The configured catalogue: applied at first start, and again whenever
    /// the configured file changes (admin edits made over gRPC persist otherwise).
    pub catalog: Catalog,
    /// fsync the data file on every group commit (survives a power cut).
    pub fsync: bool,
    /// Events between snapshots.
    pub snapshot_every: u64,
    /// Events per sled log segment before it is archived to a flat file.
    pub segment_events: u64,
    /// When not empty, every KioskService call must carry one of these in
    /// its `x-device-token` metadata (kiosks are provisioned with a token).
    pub device_tokens: Vec<String>,
    /// When not empty, every AdminService call (configuration, follow-ups,
    /// reports) must carry one of these in `x-admin-token`.
    pub admin_tokens: Vec<String>,
    /// No TLS, no certificates, no roles: every caller may do everything.
    /// Only for a demo on one machine; logged as a warning at start.
    pub insecure_demo: bool,
    /// Extra DNS names or addresses for the server certificate that `init`
    /// makes (besides 127.0.0.1, ::1 and localhost).
    pub tls_names: Vec<String>,
    /// Tests only: keep personal data this many milliseconds instead of
    /// the configured `hall.retention_days`.
    pub retention_override_ms: Option<i64>,
}

impl Options {
    pub fn new(data_dir: PathBuf, catalog: Catalog) -> Options {
        Options {
            data_dir,
            catalog,
            fsync: true,
            snapshot_every: 20_000,
            segment_events: store::SEGMENT_EVENTS,
            device_tokens: Vec::new(),
            admin_tokens: Vec::new(),
            insecure_demo: false,
            tls_names: Vec::new(),
            retention_override_ms: None,
        }
    }
}

/// The server's TLS side: its certificate, the CA that signs devices, and
/// the revocation list. Made by `pki::init` on the first start.
struct Security {
    files: pki::ServerFiles,
    ca: Arc<pki::Ca>,
    revocations: Arc<pki::Revocations>,
}

impl Security {
    fn load(opts: &Options) -> anyhow::Result<Security> {
        let init = pki::init(&opts.data_dir, &opts.tls_names).context("creating the hall CA")?;
        if init.created {
            tracing::info!(ca = %init.ca.display(), "created the hall CA and the server certificate");
        }
        Ok(Security {
            files: pki::server_files(&opts.data_dir)?,
            ca: Arc::new(pki::Ca::load(&opts.data_dir)?),
            revocations: Arc::new(pki::Revocations::new(&opts.data_dir)),
        })
    }
}

/// A service's gate: with tokens configured, a call without one of them in
/// the `header` metadata is refused before it reaches the engine.
fn token_check(
    header: &'static str,
    what: &'static str,
    tokens: std::sync::Arc<Vec<String>>,
) -> impl tonic::service::Interceptor + Clone + Send + 'static {
    move |req: tonic::Request<()>| {
        if tokens.is_empty() {
            return Ok(req);
        }
        let given = req.metadata().get(header).and_then(|v| v.to_str().ok());
        match given {
            Some(t) if tokens.iter().any(|k| k == t) => Ok(req),
            Some(_) => Err(token_refused(
                header,
                format!("this {what} token is not accepted ({header})"),
            )),
            None => Err(token_refused(
                header,
                format!("{what} calls need a token ({header} metadata)"),
            )),
        }
    }
}

fn token_refused(header: &str, msg: String) -> tonic::Status {
    use hall_proto::errors::{ErrorReason, Refusal};
    Refusal::new(
        tonic::Code::Unauthenticated,
        ErrorReason::TokenRejected,
        msg,
    )
    .with("header", header)
    .into_status()
}

/// How long a stopping server waits for open connections to finish.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Every health entry NOT_SERVING: the server is stopping for good.
async fn not_serving(health: &tonic_health::server::HealthReporter) {
    for service in [
        "",
        STORAGE_HEALTH,
        "hall.v1.KioskService",
        "hall.v1.CounterService",
        "hall.v1.EventService",
        "hall.v1.AdminService",
    ] {
        health
            .set_service_status(service, tonic_health::ServingStatus::NotServing)
            .await;
    }
}

/// The health entry that is NOT_SERVING while writes are refused.
pub const STORAGE_HEALTH: &str = "hall.v1.Storage";

/// The health entry of shipping to the city's PostgreSQL (`[ship]`):
/// SERVING while the database takes the log, NOT_SERVING while shipping is
/// paused (the site itself serves on; `GetServerStatus.shipping` has the
/// backlog and the error). Unknown to the health service without `[ship]`.
pub const SHIP_HEALTH: &str = "hall.v1.Shipping";

/// The hall's time: the system clock, or the test clock when the process
/// was started with one ([`test_clock`]).
pub(crate) fn now_ms() -> i64 {
    match test_clock::now() {
        Some(t) => t,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    }
}

/// A controllable clock for benchmarks and tests (`hall-server
/// --test-clock START_MS`, never a configuration key): simulated days pass
/// in seconds with real day rollovers, calendars and retention runs.
///
/// The clock starts at `START_MS` and stands still; each gRPC call may move
/// it forward with the header `x-hall-test-clock: MS` (read before the call
/// is handled; a time before the clock's own is ignored, so the hall's time
/// never runs backwards). Without `--test-clock` the header is ignored and
/// the hall keeps the system's time.
pub mod test_clock {
    use std::sync::atomic::{AtomicI64, Ordering};

    /// The header that moves the clock.
    pub const HEADER: &str = "x-hall-test-clock";

    /// 0: no test clock (the system's time).
    static NOW: AtomicI64 = AtomicI64::new(0);

    /// Starts the test clock at `start_ms` (once, before serving).
    pub fn enable(start_ms: i64) {
        NOW.store(start_ms.max(1), Ordering::SeqCst);
    }

    pub fn now() -> Option<i64> {
        match NOW.load(Ordering::SeqCst) {
            0 => None,
            t => Some(t),
        }
    }

    /// Moves the clock forward to `to_ms` (never back); ignored without a
    /// test clock.
    pub fn advance(to_ms: i64) {
        if NOW.load(Ordering::SeqCst) != 0 {
            NOW.fetch_max(to_ms, Ordering::SeqCst);
        }
    }

    /// [`advance`] from a call's headers.
    pub fn from_headers(h: &http::HeaderMap) {
        if NOW.load(Ordering::SeqCst) == 0 {
            return;
        }
        if let Some(ms) = h
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
        {
            advance(ms);
        }
    }
}

/// Runs the server until `shutdown` completes, then drains the writer and
/// flushes the store.
pub async fn run(
    listener: TcpListener,
    opts: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    prepare(opts)?.serve(listener, None, shutdown).await
}

/// [`run`] with the web face (`web`) on `web_listener`.
pub async fn run_with_web(
    listener: TcpListener,
    web_listener: TcpListener,
    opts: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    prepare(opts)?
        .serve(listener, Some(web_listener), shutdown)
        .await
}

/// A hall whose store is open and recovered, ready to serve.
pub struct Prepared {
    opts: Options,
    security: Option<Security>,
    store: store::Store,
    writer: writer::Writer,
    shared: Arc<writer::Shared>,
}

/// Opens the data dir and recovers the hall (and applies a changed
/// configuration). A data dir that cannot be opened or read fails here,
/// before anything says the server is listening.
pub fn prepare(opts: Options) -> anyhow::Result<Prepared> {
    let store = store::Store::open_with(&opts.data_dir, opts.fsync, opts.segment_events)
        .with_context(|| format!("opening the data dir {}", opts.data_dir.display()))?;
    let security = if opts.insecure_demo {
        tracing::warn!(
            "--insecure-demo: plaintext gRPC, no client certificates, no roles; anyone on the network can act as any device or admin. Never in a real hall."
        );
        None
    } else {
        Some(Security::load(&opts).context("TLS")?)
    };
    let started = std::time::Instant::now();
    let (hall, seq, replayed) =
        writer::recover(&store, &opts.catalog).context("recovering the hall")?;
    tracing::info!(
        seq,
        replayed,
        ms = started.elapsed().as_millis() as u64,
        "recovered"
    );
    let encoder: writer::WireEncoder =
        Arc::new(|h, l| grpc::convert::wire_event(h, l).encode_to_vec());
    let (mut w, shared) = writer::Writer::new(
        hall,
        seq,
        store.clone(),
        opts.snapshot_every,
        encoder,
        Box::new(now_ms),
    );

    // The configured catalogue: the log's first event on a new store; later
    // only when the file's content changed since it was last applied.
    let digest = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(config::to_toml(&opts.catalog).as_bytes()))
    };
    if seq == 0 {
        w.commit_raw(vec![Event::CatalogReplaced {
            catalog: Box::new(opts.catalog.clone()),
        }])?;
        store.set_meta("config_digest", digest.as_bytes())?;
    } else if store.get_meta("config_digest")?.as_deref() != Some(digest.as_bytes()) {
        match w.apply_now(Command::ReplaceCatalog {
            catalog: Box::new(opts.catalog.clone()),
        }) {
            Ok(_) => {
                tracing::info!("configured catalogue changed; applied");
                // A configuration change is audited like an admin's edit.
                w.commit_raw(vec![Event::Audited {
                    record: Box::new(engine::AuditRecord {
                        who: "configuration file".into(),
                        role: "server".into(),
                        action: "configuration file applied at start".into(),
                        subject: "configuration".into(),
                        why: format!("sha256 {digest}"),
                        outcome: "ok".into(),
                        ..Default::default()
                    }),
                }])?;
                store.set_meta("config_digest", digest.as_bytes())?;
            }
            Err(e) => {
                tracing::warn!(error = %e, "configured catalogue not applied; keeping the stored one")
            }
        }
    }
    w.apply_now(Command::Tick)?;
    if let Some(ms) = opts.retention_override_ms {
        w.override_retention(ms);
    }
    // Personal data past the retention period goes before anyone connects.
    w.retain().context("the retention run")?;

    Ok(Prepared {
        opts,
        security,
        store,
        writer: w,
        shared,
    })
}

impl Prepared {
    /// Serves until `shutdown` completes or the writer stops on its own (a
    /// storage failure or a panic): then health turns NOT_SERVING, the
    /// server stops, and this returns the writer's error, so the process
    /// exits non-zero and a supervisor restarts it.
    pub async fn serve(
        self,
        listener: TcpListener,
        web_listener: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let Prepared {
            opts,
            security,
            store,
            writer: mut w,
            shared,
        } = self;
        let (tx, rx) = tokio::sync::mpsc::channel::<writer::Request>(8192);
        let (read_model, feed, read_model_stopped) = {
            let (hall, seq) = w.hall();
            read_model::ReadModel::start(hall.clone(), seq)?
        };
        w.feed(feed);
        let (writer_done, writer_stopped) = tokio::sync::oneshot::channel::<()>();
        let writer_thread = std::thread::Builder::new()
            .name("hall-writer".into())
            .spawn(move || {
                // Dropped on return and on a panic alike: either way the
                // server learns that nothing can be written any more.
                let _done = writer_done;
                w.run(rx)
            })?;

        // A tick every second rolls the day at midnight even when the hall is idle.
        let tick_tx = tx.clone();
        let wake_tx = tx.clone();
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                every.tick().await;
                let req = writer::Request {
                    cmd: Some(Command::Tick),
                    respond: Box::new(|_, _| {}),
                    audit: None,
                };
                if tick_tx.send(req).await.is_err() {
                    break;
                }
            }
        });

        let stopping = shared.stopping.clone();
        let stop_writer = shared.clone();
        // The report aggregates follow the committed log on their own task.
        let reports = reports::Reports::open(&opts.data_dir, &opts.catalog, store.last_seq()?);
        let reports_task = reports.spawn(store.clone(), shared.clone());
        let hub = grpc::Hub {
            writer: tx,
            read_model: Arc::new(read_model),
            shared,
            secret: Arc::new(store.site_secret()?),
            lockout: Arc::default(),
            pin_checks: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            store: store.clone(),
            ca: security.as_ref().map(|s| s.ca.clone()),
            revocations: security.as_ref().map(|s| s.revocations.clone()),
            data_dir: opts.data_dir.clone(),
            staff: Arc::default(),
            visitor_index: Arc::default(),
            reports,
            ship: Arc::default(),
            web_url: match web_listener.as_ref().and_then(|l| l.local_addr().ok()) {
                Some(a) if security.is_some() => format!("https://{a}"),
                Some(a) => format!("http://{a}"),
                None => String::new(),
            },
        };
        // Notifications leave the hall from their own task (`notify`).
        let notify_task = notify::spawn(hub.clone());
        // The log and figures go to the city's PostgreSQL (`[ship]`).
        let ship_task = ship::spawn(hub.clone());
        let revocation_audit = security
            .is_some()
            .then(|| tokio::spawn(grpc::audit_revocations(hub.clone())));
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<pb::kiosk_service_server::KioskServiceServer<grpc::Hub>>()
            .await;
        health
            .set_serving::<pb::counter_service_server::CounterServiceServer<grpc::Hub>>()
            .await;
        health
            .set_serving::<pb::event_service_server::EventServiceServer<grpc::Hub>>()
            .await;
        health
            .set_serving::<pb::admin_service_server::AdminServiceServer<grpc::Hub>>()
            .await;
        // A full disk: the services whose job is writing turn NOT_SERVING,
        // and so does the pseudo-service `hall.v1.Storage`; reads (events,
        // reports, the overall "" status) stay SERVING, since restarting the
        // server would not free any space. AdminService.GetServerStatus says why.
        health
            .set_service_status(STORAGE_HEALTH, tonic_health::ServingStatus::Serving)
            .await;
        let storage_health = {
            let health = health.clone();
            let mut rx = stop_writer.storage.subscribe();
            // A problem raised before this subscribed counts too.
            rx.mark_changed();
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    let problem = rx.borrow_and_update().clone();
                    let status = match &problem {
                        Some(p) => {
                            tracing::warn!(reason = %p.reason, "health: writes refused (disk full)");
                            tonic_health::ServingStatus::NotServing
                        }
                        None => tonic_health::ServingStatus::Serving,
                    };
                    for service in [
                        STORAGE_HEALTH,
                        "hall.v1.KioskService",
                        "hall.v1.CounterService",
                    ] {
                        health.set_service_status(service, status).await;
                    }
                }
            })
        };
        let ship_health = {
            let health = health.clone();
            let ship = hub.ship.clone();
            tokio::spawn(async move {
                let mut said = None;
                let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
                loop {
                    every.tick().await;
                    if !ship.configured.load(std::sync::atomic::Ordering::Acquire) {
                        continue;
                    }
                    let up = ship.connected.load(std::sync::atomic::Ordering::Acquire);
                    if said != Some(up) {
                        let status = if up {
                            tonic_health::ServingStatus::Serving
                        } else {
                            tonic_health::ServingStatus::NotServing
                        };
                        health.set_service_status(SHIP_HEALTH, status).await;
                        said = Some(up);
                    }
                }
            })
        };
        // Reflection v1 and v1alpha: grpcurl speaks v1, Python's grpcio-reflection
        // and older grpcurl only v1alpha.
        let reflection_builder = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(hall_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection = reflection_builder().build_v1()?;
        let reflection_v1alpha = reflection_builder().build_v1alpha()?;

        // `Server::tcp_nodelay` only reaches sockets tonic accepts itself; these
        // are ours. Without it Nagle holds back small event frames until the
        // client's delayed ACK (~40 ms).
        let incoming = tokio_stream::StreamExt::map(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            |s| s.and_then(|s| s.set_nodelay(true).map(|()| s)),
        );
        tracing::info!("serving");
        let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
        let died = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let read_model_died = died.clone();
        let mut builder = tonic::transport::Server::builder();
        if let Some(sec) = &security {
            use tonic::transport::{Certificate, Identity, ServerTlsConfig};
            builder = builder
                .tls_config(
                    ServerTlsConfig::new()
                        .identity(Identity::from_pem(&sec.files.cert_pem, &sec.files.key_pem))
                        .client_ca_root(Certificate::from_pem(&sec.files.ca_pem))
                        // Health and Redeem answer without a certificate;
                        // the role table refuses every other call without one.
                        .client_auth_optional(true),
                )
                .context("TLS configuration")?;
        }
        let gate = grpc::roles::GateLayer::new(
            security.as_ref().map(|s| s.revocations.clone()),
            hub.staff.clone(),
        );
        let routes = tonic::service::Routes::new(health_service)
            .add_service(reflection)
            .add_service(reflection_v1alpha)
            .add_service(
                pb::kiosk_service_server::KioskServiceServer::with_interceptor(
                    hub.clone(),
                    token_check(
                        "x-device-token",
                        "kiosk",
                        std::sync::Arc::new(opts.device_tokens.clone()),
                    ),
                ),
            )
            .add_service(pb::counter_service_server::CounterServiceServer::new(
                hub.clone(),
            ))
            .add_service(pb::event_service_server::EventServiceServer::new(
                hub.clone(),
            ))
            .add_service(pb::device_service_server::DeviceServiceServer::new(
                hub.clone(),
            ))
            .add_service(pb::report_service_server::ReportServiceServer::new(
                hub.clone(),
            ))
            .add_service(pb::pad_service_server::PadServiceServer::new(hub.clone()))
            .add_service(
                pb::admin_service_server::AdminServiceServer::with_interceptor(
                    hub.clone(),
                    token_check(
                        "x-admin-token",
                        "admin",
                        std::sync::Arc::new(opts.admin_tokens.clone()),
                    ),
                ),
            )
            .prepare();
        // The web face calls the same services, behind the same gate.
        let web_task = match web_listener {
            None => None,
            Some(l) => {
                let tls = match &security {
                    Some(sec) => Some(web::tls_config(&sec.files).context("web TLS")?),
                    None => None,
                };
                let web = web::Web {
                    grpc: tower::Layer::layer(&gate, routes.clone()),
                    hub: hub.clone(),
                    revocations: security.as_ref().map(|s| s.revocations.clone()),
                    ticket_streams: Arc::default(),
                    codes: Arc::default(),
                };
                tracing::info!(url = %hub.web_url, "web face serving");
                Some(tokio::spawn(web::serve(l, web, tls, stopping.clone())))
            }
        };
        drop(hub);
        let serving = builder
        .tcp_nodelay(true)
        .layer(gate)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, async move {
            tokio::select! {
                () = shutdown => {}
                _ = writer_stopped => {
                    tracing::error!("the writer stopped: nothing can be saved; health NOT_SERVING, stopping");
                    not_serving(&health).await;
                }
                Err(_) = read_model_stopped => {
                    tracing::error!("the read model stopped: reads cannot be answered; health NOT_SERVING, stopping");
                    read_model_died.store(true, std::sync::atomic::Ordering::Release);
                    not_serving(&health).await;
                }
            }
            // End the event streams, or the graceful stop waits on them forever.
            stopping.cancel();
            let _ = signalled_tx.send(());
        });
        // A graceful stop waits for every connection to close, and some
        // never do by themselves (a load balancer's Health/Watch stream):
        // after the signal, connections get DRAIN to finish, then are cut.
        let served = tokio::select! {
            r = serving => r,
            () = async {
                if signalled_rx.await.is_err() {
                    // No signal ever (the server ended by itself first).
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(DRAIN).await;
            } => {
                tracing::warn!(?DRAIN, "connections still open after the drain time; closing them");
                Ok(())
            }
        };
        // Stop feeding the writer; it drains what it has, snapshots and flushes.
        storage_health.abort();
        ship_health.abort();
        ticker.abort();
        let _ = ticker.await;
        if let Some(t) = revocation_audit {
            t.abort();
            let _ = t.await;
        }
        // What it has not delivered stays in the outbox for the next start.
        notify_task.abort();
        let _ = notify_task.await;
        // What it has not shipped, the next start ships (from the
        // database's own shipped_seq).
        ship_task.abort();
        let _ = ship_task.await;
        if let Some(t) = web_task {
            // Cancelled with `stopping`: it closes its connections.
            let _ = t.await;
        }
        // Cancelled with `stopping` too: it saves its state first.
        let _ = reports_task.await;
        stop_writer
            .stop_writer
            .store(true, std::sync::atomic::Ordering::Release);
        // Wakes a writer that waits for requests (the flag is read after each batch).
        let _ = wake_tx
            .send(writer::Request {
                cmd: None,
                respond: Box::new(|_, _| {}),
                audit: None,
            })
            .await;
        drop(wake_tx);
        let joined = tokio::task::spawn_blocking(move || writer_thread.join()).await?;
        match joined {
            Ok(r) => r.context("writer")?,
            Err(_) => anyhow::bail!("the writer thread panicked"),
        }
        if died.load(std::sync::atomic::Ordering::Acquire) {
            anyhow::bail!("the read model thread panicked");
        }
        tracing::info!("stopped; store flushed");
        served.context("serving gRPC")
    }
}
