//! Delivers the notification outbox (the engine's `notify`): a task reads
//! the pending deliveries from the read model (so only committed
//! notifications leave the hall), POSTs each to its sink, and writes each
//! sink's outcome back through the writer. The outbox is in the log, so a
//! restart resumes it: what was decided is delivered at least once, and a
//! delivery repeated after a crash carries the same idempotency key.
//!
//! The request: `POST url` with the notification as JSON (see
//! `grpc::outbox::body`), `Content-Type: application/json`,
//! `Idempotency-Key: <key>`, `X-Hall-Trigger: <trigger>` and
//! `X-Hall-Signature: sha256=<hex HMAC-SHA256 of the body with the sink's
//! secret>`. Any 2xx is delivered; anything else (an error status, a
//! refused connection, a TLS failure, no answer within 10 s) is retried
//! after `retry_base_ms`, doubling up to five minutes, and after
//! `max_attempts` (at once for a sink taken out of the configuration) the
//! notification becomes a dead letter for that sink. At most 16 deliveries
//! are in flight, 4 per sink, so one sink that hangs does not hold up the
//! others. Attempts are counted in memory: a restart gives every pending
//! delivery its full count again (late rather than lost). An outcome the
//! writer refuses (a full disk) keeps its delivery in flight, not sent
//! again, until the outcome is stored.
//!
//! The phone number is in the body (the sink is the hall's own SMS or
//! WeChat gateway, which needs it); it is never logged here.

use crate::engine::notify::Outcome;
use crate::grpc::{Delivery, Hub, Retry};
use hmac::{Hmac, Mac};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Deliveries in flight at once, and to one sink.
const CONCURRENCY: usize = 16;
const PER_SINK: usize = 4;
/// How an error for a sink no longer configured starts.
const GONE: &str = "sink no longer configured";
/// One attempt's time limit (connect, TLS, request and answer).
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often the outbox is looked at when nothing is committed.
const IDLE_SCAN: Duration = Duration::from_millis(500);

type Key = (u64, String);

/// A delivery's retry state (in memory only).
struct Attempts {
    count: u32,
    next: Instant,
}

/// Starts the delivery task; it ends when the server stops.
pub fn spawn(hub: Hub) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stopping = hub.shared.stopping.clone();
        let mut live = hub.shared.events.subscribe();
        let mut attempts: HashMap<Key, Attempts> = HashMap::new();
        let mut inflight: HashSet<Key> = HashSet::new();
        // Outcomes the writer did not take (a full disk): their deliveries
        // stay in flight, and only the outcome is tried again.
        let mut unsaved: Vec<(Key, Outcome)> = Vec::new();
        let mut save_again = Instant::now();
        let mut save_failures = 0u32;
        let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<(Key, Result<(), String>)>(64);
        let tls = Arc::new(TlsConfigs::default());
        // Until the first read says what the configuration wants.
        let defaults = crate::engine::notify::NotifyConfig::default();
        let mut retry = Retry {
            max_attempts: defaults.max_attempts,
            base_ms: defaults.retry_base_ms,
        };
        loop {
            if !unsaved.is_empty() && Instant::now() >= save_again {
                let mut still = Vec::new();
                for (key, outcome) in std::mem::take(&mut unsaved) {
                    if still.is_empty() && save(&hub, &key, outcome.clone()).await {
                        inflight.remove(&key);
                    } else {
                        still.push((key, outcome));
                    }
                }
                if still.is_empty() {
                    save_failures = 0;
                } else {
                    save_failures += 1;
                    save_again = Instant::now() + backoff(500, save_failures);
                }
                unsaved = still;
            }
            // Look at the outbox: start what is due and not in flight.
            let now = Instant::now();
            let skip: HashSet<Key> = inflight
                .iter()
                .cloned()
                .chain(
                    attempts
                        .iter()
                        .filter(|(_, a)| a.next > now)
                        .map(|(k, _)| k.clone()),
                )
                .collect();
            match hub.pending_deliveries(Arc::new(skip)).await {
                Ok((deliveries, r)) => {
                    retry = r;
                    let mut per_sink: HashMap<String, usize> = HashMap::new();
                    for k in &inflight {
                        *per_sink.entry(k.1.clone()).or_default() += 1;
                    }
                    for d in deliveries {
                        if inflight.len() >= CONCURRENCY {
                            break;
                        }
                        // A sink that never answers must not hold every slot.
                        let n = per_sink.entry(d.sink.clone()).or_default();
                        if *n >= PER_SINK {
                            continue;
                        }
                        *n += 1;
                        let key = (d.id, d.sink.clone());
                        inflight.insert(key.clone());
                        let (tx, tls) = (done_tx.clone(), tls.clone());
                        tokio::spawn(async move {
                            let r = match tokio::time::timeout(ATTEMPT_TIMEOUT, deliver(&d, &tls))
                                .await
                            {
                                Ok(r) => r,
                                Err(_) => Err(format!("no answer within {ATTEMPT_TIMEOUT:?}")),
                            };
                            let _ = tx.send((key, r)).await;
                        });
                    }
                }
                Err(_) if stopping.is_cancelled() => return,
                Err(e) => tracing::warn!(error = %e.message(), "notify: reading the outbox failed"),
            }
            tokio::select! {
                () = stopping.cancelled() => return,
                r = live.recv() => {
                    if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        return;
                    }
                    // A burst of commits is one look at the outbox.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    while live.try_recv().is_ok() {}
                }
                Some((key, r)) = done_rx.recv() => {
                    let outcome = match r {
                        Ok(()) => {
                            let n = attempts.get(&key).map_or(0, |a| a.count) + 1;
                            tracing::debug!(id = key.0, sink = %key.1, attempts = n, "notify: delivered");
                            Some(Outcome::Delivered { attempts: n })
                        }
                        Err(error) => {
                            let a = attempts.entry(key.clone()).or_insert(Attempts {
                                count: 0,
                                next: Instant::now(),
                            });
                            a.count += 1;
                            tracing::info!(id = key.0, sink = %key.1, attempt = a.count, %error, "notify: delivery failed");
                            // A sink taken out of the configuration will not come back.
                            if a.count >= retry.max_attempts || error.starts_with(GONE) {
                                Some(Outcome::Dead { attempts: a.count, error })
                            } else {
                                a.next = Instant::now() + backoff(retry.base_ms, a.count);
                                None
                            }
                        }
                    };
                    match outcome {
                        Some(outcome) => {
                            attempts.remove(&key);
                            // Until the outcome is stored the delivery stays
                            // in flight, so no look sends it again.
                            if unsaved.is_empty() && save(&hub, &key, outcome.clone()).await {
                                inflight.remove(&key);
                            } else {
                                unsaved.push((key, outcome));
                            }
                        }
                        None => {
                            inflight.remove(&key);
                        }
                    }
                }
                _ = tokio::time::sleep(IDLE_SCAN) => {}
            }
        }
    })
}

/// Stores one outcome; false when the writer did not take it.
async fn save(hub: &Hub, key: &Key, outcome: Outcome) -> bool {
    match hub
        .notification_outcome(key.0, key.1.clone(), outcome)
        .await
    {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(id = key.0, error = %e.message(), "notify: the outcome was not stored; trying again");
            false
        }
    }
}

/// The wait after the `n`th failed attempt: base, 2·base, 4·base, …
fn backoff(base_ms: u64, n: u32) -> Duration {
    let ms = base_ms.saturating_mul(1u64 << n.saturating_sub(1).min(20));
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

/// `sha256=<hex HMAC-SHA256(body, secret)>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// TLS client configurations per CA file ("" = the system's roots), made once.
#[derive(Default)]
pub(crate) struct TlsConfigs(std::sync::Mutex<HashMap<String, Arc<rustls::ClientConfig>>>);

/// Where the system's CA bundle is (Debian and Ubuntu, Fedora and RHEL,
/// openSUSE, Alpine), after `SSL_CERT_FILE` if that is set.
const SYSTEM_ROOTS: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

impl TlsConfigs {
    fn get(&self, ca_file: &str) -> Result<Arc<rustls::ClientConfig>, String> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get(ca_file) {
            return Ok(c.clone());
        }
        let path = if ca_file.is_empty() {
            std::env::var("SSL_CERT_FILE")
                .ok()
                .or_else(|| {
                    SYSTEM_ROOTS
                        .iter()
                        .find(|p| std::path::Path::new(p).exists())
                        .map(|p| p.to_string())
                })
                .ok_or("no system CA bundle found: set the sink's ca_file")?
        } else {
            ca_file.to_string()
        };
        let path = path.as_str();
        use rustls::pki_types::pem::PemObject;
        let pem = std::fs::read(path).map_err(|e| format!("CA file {path}: {e}"))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem).flatten() {
            // A bundle may hold a certificate rustls cannot use; the rest still count.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(format!("CA file {path}: no certificate in it"));
        }
        let config = Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth(),
        );
        map.insert(ca_file.to_string(), config.clone());
        Ok(config)
    }
}

/// One attempt: POST the body to the sink's URL; Ok on a 2xx answer.
pub(crate) async fn deliver(d: &Delivery, tls: &TlsConfigs) -> Result<(), String> {
    use http_body_util::Full;
    if d.url.is_empty() {
        return Err(format!("{GONE}: {}", d.sink));
    }
    let uri: http::Uri = d.url.parse().map_err(|e| format!("bad URL: {e}"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err("the URL is not http(s)".into()),
    };
    let host = uri.host().ok_or("the URL has no host")?.to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    // Host is host[:port]: never the URL's credentials, if it has any.
    let authority = match uri.port_u16() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("connect {authority}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let req = http::Request::post(path)
        .header(http::header::HOST, authority)
        .header(http::header::CONTENT_TYPE, d.content_type.as_str())
        .header("Idempotency-Key", &d.key)
        .header("X-Hall-Trigger", d.trigger)
        .header("X-Hall-Signature", signature(d.secret.as_bytes(), &d.body))
        .header(http::header::USER_AGENT, "hall-server")
        .body(Full::new(bytes::Bytes::from(d.body.clone())))
        .map_err(|e| e.to_string())?;
    let status = if https {
        let config = tls.get(&d.ca_file)?;
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|e| format!("server name {host}: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host}: {e}"))?;
        send(stream, req).await?
    } else {
        send(tcp, req).await?
    };
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", status.as_u16()))
    }
}

/// Sends one request on a fresh connection; the answer's status.
async fn send<S>(
    stream: S,
    req: http::Request<http_body_util::Full<bytes::Bytes>>,
) -> Result<http::StatusCode, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
    let conn = tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let status = resp.status();
    use http_body_util::BodyExt;
    // Read the answer (at most 64 KiB) so the connection ends cleanly.
    let _ = http_body_util::Limited::new(resp.into_body(), 64 * 1024)
        .collect()
        .await;
    drop(sender);
    let _ = conn.await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let s = |n| backoff(1_000, n).as_secs();
        assert_eq!([s(1), s(2), s(3), s(4)], [1, 2, 4, 8]);
        assert_eq!(s(30), 300);
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
