//! Test harness for the one integration test binary (`tests/it`): starts the
//! real server on 127.0.0.1:0 with a temporary sled dir, in-process or as the
//! real `hall-server` binary, and hands out gRPC clients.
//!
//! Over TLS, as in production: one hall CA per test process (made once, in
//! a temporary folder) is copied into every test server's data dir, and
//! each role has one device certificate from it ([`identity`]). Clients of
//! `TestServer` speak as the role their service is for (`kiosk()` as a
//! kiosk, `events()` as a board, `admin()` as an admin); a test process
//! that runs a client in-process sets its role with [`speak_as`].

use hall_proto::client::Tls;
use hall_proto::v1 as pb;
use hall_server::engine::catalog::Catalog;
pub use hall_server::pki::Role;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// A throwaway PostgreSQL for the city tests (`hall_pg::cluster`).
pub use hall_pg::cluster as pg;
pub mod webdriver;

/// The test process's hall CA: a data dir holding only `tls/`.
static CA_DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("a temp dir for the test CA");
    hall_server::pki::init(dir.path(), &[]).expect("making the test CA");
    dir
});

static IDENTITIES: LazyLock<Mutex<Vec<(Role, String, Tls)>>> = LazyLock::new(Mutex::default);

/// A certificate of the test CA for `role` with device id `id` (made once).
pub fn identity_named(role: Role, id: &str) -> Tls {
    let mut ids = IDENTITIES.lock().unwrap();
    if let Some((_, _, t)) = ids.iter().find(|(r, i, _)| *r == role && i == id) {
        return t.clone();
    }
    let ca = hall_server::pki::Ca::load(CA_DIR.path()).expect("loading the test CA");
    let made = ca
        .issue(role, id, -1, 30)
        .expect("issuing a test certificate");
    let tls = Tls {
        ca_pem: made.ca_pem,
        identity: Some((made.cert_pem, made.key_pem)),
    };
    ids.push((role, id.to_string(), tls.clone()));
    tls
}

/// The test certificate of a role (device id `<role>-t`).
pub fn identity(role: Role) -> Tls {
    identity_named(role, &format!("{role}-t"))
}

/// The test CA's data dir (its `tls/ca.pem` is the CA to pin).
pub fn ca_dir() -> &'static Path {
    CA_DIR.path()
}

/// Writes the role's certificate as the files `hall-server redeem` writes
/// (`device.pem`, `device.key`, `ca.pem`), for a client binary's
/// `HALL_TLS_DIR`.
pub fn identity_dir(role: Role, id: &str) -> PathBuf {
    let dir = CA_DIR
        .path()
        .join("devices-out")
        .join(format!("{role}-{id}"));
    let t = identity_named(role, id);
    let (cert, key) = t.identity.clone().unwrap();
    hall_server::pki::Identity {
        cert_pem: cert,
        key_pem: key,
        ca_pem: t.ca_pem,
    }
    .write_to(&dir)
    .expect("writing a test identity");
    dir
}

/// Makes every `https://` connection of this process speak as `role`
/// (for a client run in-process, e.g. the kiosk's controller). First call wins.
pub fn speak_as(role: Role) {
    hall_proto::client::set_default_tls(identity(role));
}

/// Gives a data dir the test CA, so a server started on it uses the same
/// CA as every test identity.
pub fn provision(dir: &Path) {
    let from = CA_DIR.path().join("tls");
    let to = dir.join("tls");
    std::fs::create_dir_all(&to).unwrap();
    for f in ["ca.pem", "ca.key", "server.pem", "server.key"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

/// A channel to `url` speaking as `role`.
pub async fn channel_as(url: &str, role: Role) -> Channel {
    channel_named(url, role, &format!("{role}-t")).await
}

/// A channel to `url` speaking as the device `id` of `role`.
pub async fn channel_named(url: &str, role: Role, id: &str) -> Channel {
    hall_proto::client::connect_tls(
        url,
        Some(&identity_named(role, id)),
        50,
        std::time::Duration::from_millis(200),
    )
    .await
    .unwrap()
}

/// A real `hall-server` process with the test PKI (`provision`): gRPC on
/// a free port of 127.0.0.1, the web face on `http`, then `extra`
/// arguments; answers the child and its gRPC URL once it serves.
pub fn spawn_server_process(
    data: &Path,
    config: &Path,
    http: &str,
    extra: &[&str],
) -> (std::process::Child, String) {
    provision(data);
    let mut child = std::process::Command::new(workspace_bin("hall-server"))
        .args(["--listen", "127.0.0.1:0", "--http", http, "--data-dir"])
        .arg(data)
        .arg("--config")
        .arg(config)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting hall-server");
    let addr = listening_addr(&mut child);
    (child, format!("https://{addr}"))
}

/// The address a `hall-server` process serves on, from its first stdout
/// line (`hall-server listening on ADDR`, printed once it serves).
pub fn listening_addr(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout piped"))
        .read_line(&mut line)
        .unwrap();
    line.trim()
        .strip_prefix("hall-server listening on ")
        .unwrap_or_else(|| panic!("no listening line: {line:?}"))
        .to_string()
}

/// The built-in hall open around the clock without ID-card requirements,
/// so tests do not depend on when CI runs.
/// A fixed-offset time zone in which it is about noon now: a test that
/// needs the rest of "today" (today's booking slots, say) has half a day of
/// it whenever it runs.
pub fn midday_zone() -> String {
    use chrono::Timelike;
    let off = 12 - chrono::Utc::now().hour() as i32; // -11..=12
    // Etc/GMT-N is N hours *ahead* of UTC (the POSIX sign).
    if off >= 0 {
        format!("Etc/GMT-{off}")
    } else {
        format!("Etc/GMT+{}", -off)
    }
}

pub fn always_open() -> Catalog {
    hall_server::config::around_the_clock(hall_server::config::builtin())
}

/// A server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub web_addr: SocketAddr,
    pub dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(dir: &Path, catalog: Catalog) -> TestServer {
        Self::start_at(dir, catalog, "127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts on a given address: a restart on the address clients know.
    pub async fn start_at(dir: &Path, catalog: Catalog, addr: SocketAddr) -> TestServer {
        Self::start_with(dir, catalog, addr, |_| {}).await
    }

    /// Starts with options changed by `adjust` (e.g. device tokens).
    pub async fn start_with(
        dir: &Path,
        catalog: Catalog,
        addr: SocketAddr,
        adjust: impl FnOnce(&mut hall_server::Options),
    ) -> TestServer {
        Self::start_on(dir, catalog, addr, "127.0.0.1:0".parse().unwrap(), adjust).await
    }

    /// Starts on given gRPC and web addresses (a restart where clients,
    /// browsers included, know the server).
    pub async fn start_on(
        dir: &Path,
        catalog: Catalog,
        addr: SocketAddr,
        web_addr: SocketAddr,
        adjust: impl FnOnce(&mut hall_server::Options),
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let web = tokio::net::TcpListener::bind(web_addr).await.unwrap();
        let web_addr = web.local_addr().unwrap();
        provision(dir);
        let (tx, rx) = oneshot::channel::<()>();
        let mut opts = hall_server::Options::new(dir.to_path_buf(), catalog);
        // Small snapshots and log segments, so every test also runs through
        // snapshot loading, segment rotation and archived events.
        opts.snapshot_every = 50;
        opts.segment_events = 100;
        adjust(&mut opts);
        let task = tokio::spawn(hall_server::run_with_web(listener, web, opts, async move {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            web_addr,
            dir: dir.to_path_buf(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The web face (JSON API, events, pages).
    pub fn web_url(&self) -> String {
        format!("https://{}", self.web_addr)
    }

    /// A channel that speaks as an admin (health and reflection answer anyone).
    pub async fn channel(&self) -> Channel {
        self.channel_as(Role::Admin).await
    }

    pub async fn channel_as(&self, role: Role) -> Channel {
        channel_as(&self.url(), role).await
    }

    pub async fn kiosk(&self) -> pb::kiosk_service_client::KioskServiceClient<Channel> {
        pb::kiosk_service_client::KioskServiceClient::new(self.channel_as(Role::Kiosk).await)
    }
    pub async fn counter(&self) -> pb::counter_service_client::CounterServiceClient<Channel> {
        pb::counter_service_client::CounterServiceClient::new(self.channel_as(Role::Counter).await)
    }
    /// The event stream as a board reads it.
    pub async fn events(&self) -> pb::event_service_client::EventServiceClient<Channel> {
        pb::event_service_client::EventServiceClient::new(self.channel_as(Role::Board).await)
    }
    pub async fn admin(&self) -> pb::admin_service_client::AdminServiceClient<Channel> {
        pb::admin_service_client::AdminServiceClient::new(self.channel_as(Role::Admin).await)
    }
    /// The rating pad (评价器) of `window` (certificate id `pad-N`).
    pub async fn pad(&self, window: u32) -> pb::pad_service_client::PadServiceClient<Channel> {
        pb::pad_service_client::PadServiceClient::new(
            channel_named(&self.url(), Role::Pad, &format!("pad-{window}")).await,
        )
    }
    /// Reports, as a supervisor's device.
    pub async fn reports(&self) -> pb::report_service_client::ReportServiceClient<Channel> {
        pb::report_service_client::ReportServiceClient::new(self.channel_as(Role::Supervisor).await)
    }

    /// The event stream from the next event on (after the current snapshot).
    pub async fn subscribe_from_now(&self) -> tonic::Streaming<pb::Event> {
        let mut events = self.events().await;
        let from = events
            .snapshot(pb::SnapshotRequest {})
            .await
            .unwrap()
            .into_inner()
            .seq
            + 1;
        events
            .subscribe(pb::SubscribeRequest { from_seq: from })
            .await
            .unwrap()
            .into_inner()
    }

    /// Graceful stop: drains the writer and flushes.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

/// Path of a workspace binary. Cargo only builds a package's binaries for
/// that package's own integration tests, so the first call builds them all
/// with `cargo test --workspace --no-run`: the same feature resolution as
/// `cargo test --workspace`, so under that command it is a no-op (a plain
/// `cargo build -p kiosk` would resolve features differently and rebuild
/// Slint and tonic inside the test), and under `cargo test -p hall-tests`
/// it brings every binary up to date.
pub fn workspace_bin(bin: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    BUILT.call_once(|| {
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.args(["test", "--workspace", "--no-run", "--quiet"]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo");
        assert!(status.success(), "building the workspace's binaries failed");
    });
    let path = dir.join(bin);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// A login for window `w` with the built-in demo clerk `cNN` (PIN 1234).
pub async fn login(
    counter: &mut pb::counter_service_client::CounterServiceClient<Channel>,
    window: u32,
    clerk: &str,
) -> pb::Session {
    let r = counter
        .login(pb::LoginRequest {
            window,
            clerk_id: clerk.into(),
            pin: "1234".into(),
        })
        .await
        .unwrap()
        .into_inner();
    r.session.unwrap()
}

/// An IssueTicket request; an empty `request_id` gets a fresh one (the
/// server requires one: a retry reuses it).
pub fn issue(category: &str, request_id: &str) -> pb::IssueTicketRequest {
    pb::IssueTicketRequest {
        request_id: if request_id.is_empty() {
            hall_proto::client::new_request_id()
        } else {
            request_id.into()
        },
        category: category.into(),
        ..Default::default()
    }
}

/// Issues a ticket and expects success.
pub async fn issue_ok(
    kiosk: &mut pb::kiosk_service_client::KioskServiceClient<Channel>,
    category: &str,
    request_id: &str,
) -> pb::Ticket {
    kiosk
        .issue_ticket(issue(category, request_id))
        .await
        .unwrap_or_else(|e| panic!("issuing {category}: {e}"))
        .into_inner()
}
