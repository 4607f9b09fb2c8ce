//! Client helpers shared by the kiosk, counter terminal, display board, the
//! simulator and the tests: connecting (over TLS with the hall CA pinned and
//! the device's certificate, for `https://` addresses) with backoff, and
//! fresh request ids.
//!
//! Not for domain logic: clients only speak the wire types of [`crate::v1`].

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// A device's TLS material: the hall CA to pin and, once enrolled, the
/// device's own certificate and key (the files `hall-server redeem` writes).
#[derive(Clone)]
pub struct Tls {
    pub ca_pem: String,
    /// `(certificate, key)`, PEM.
    pub identity: Option<(String, String)>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("identity", &self.identity.is_some())
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads `ca.pem`, and `device.pem` with `device.key` when present.
    pub fn from_dir(dir: &Path) -> std::io::Result<Tls> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|e| {
                std::io::Error::new(e.kind(), format!("{}: {e}", dir.join(name).display()))
            })
        };
        let ca_pem = read("ca.pem")?;
        let identity = if dir.join("device.pem").exists() {
            Some((read("device.pem")?, read("device.key")?))
        } else {
            None
        };
        Ok(Tls { ca_pem, identity })
    }

    fn config(&self) -> ClientTlsConfig {
        let c = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&self.ca_pem));
        match &self.identity {
            Some((cert, key)) => c.identity(Identity::from_pem(cert, key)),
            None => c,
        }
    }
}

static DEFAULT_TLS: OnceLock<Tls> = OnceLock::new();

/// Sets the TLS material every `https://` connection of this process uses
/// (a client binary's `--tls-dir`). The first call wins.
pub fn set_default_tls(tls: Tls) {
    let _ = DEFAULT_TLS.set(tls);
}

/// The process's TLS material: [`set_default_tls`], else the folder named
/// by `HALL_TLS_DIR`.
pub fn default_tls() -> Option<&'static Tls> {
    if let Some(t) = DEFAULT_TLS.get() {
        return Some(t);
    }
    let dir = std::env::var_os("HALL_TLS_DIR")?;
    match Tls::from_dir(Path::new(&dir)) {
        Ok(t) => {
            set_default_tls(t);
            DEFAULT_TLS.get()
        }
        Err(e) => {
            tracing::warn!(error = %e, "HALL_TLS_DIR cannot be read");
            None
        }
    }
}

/// A fresh client request id (random, 128 bits, hex). Reuse the same id when
/// retrying one logical request, so the server can answer it only once.
pub fn new_request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Connects to `url`, retrying with exponential backoff (100 ms doubling up
/// to `max_delay`) until `attempts` tries have failed. An `https://` URL
/// uses the process's TLS material ([`default_tls`]).
pub async fn connect_with_backoff(
    url: &str,
    attempts: u32,
    max_delay: Duration,
) -> Result<Channel, tonic::transport::Error> {
    connect_tls(url, default_tls(), attempts, max_delay).await
}

/// [`connect_with_backoff`] with the TLS material given: for a process
/// that speaks as several devices (the tests, the whole-hall runner).
pub async fn connect_tls(
    url: &str,
    tls: Option<&Tls>,
    attempts: u32,
    max_delay: Duration,
) -> Result<Channel, tonic::transport::Error> {
    let mut endpoint = Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        // Without material, the handshake fails on the unknown hall CA:
        // that error says more than one made up here.
        let tls = tls.cloned().unwrap_or(Tls {
            ca_pem: String::new(),
            identity: None,
        });
        endpoint = endpoint.tls_config(tls.config())?;
    }
    let mut delay = Duration::from_millis(100);
    let mut tries = 0;
    loop {
        match endpoint.connect().await {
            Ok(ch) => return Ok(ch),
            Err(e) => {
                tries += 1;
                if tries >= attempts {
                    return Err(e);
                }
                tracing::debug!(error = %e, ?delay, "connect failed, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(max_delay);
            }
        }
    }
}
