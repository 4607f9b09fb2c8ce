//! The hall on the web: an HTTP server in the same process and runtime as
//! gRPC, on its own port (`--http`), with the same TLS (the hall's server
//! certificate; a client certificate optional, as for gRPC).
//!
//! - `/api/v1/{Service}/{Method}`: every unary hall.v1 method, JSON in and
//!   out in the canonical proto3 JSON mapping (`api`). The call is made
//!   in-process through the very gRPC stack the devices use — role gate,
//!   input limits, handlers, audit — so the two APIs cannot drift apart: one
//!   schema, one role table, the same reasons.
//! - `/api/v1/events`: the event stream as Server-Sent Events (`events`),
//!   the event id being the sequence number.
//! - `/api/v1/openapi.json`: the OpenAPI 3 document, generated from the
//!   same descriptors (`openapi`).
//! - `/screen`: the hall's live data screen (可视化数据大屏), ECharts
//!   vendored under `/assets`.
//! - `/t/{secret}`: the visitor's ticket page behind the slip's QR
//!   (`ticket`), with its own JSON and SSE under it; the ticket's secret is
//!   the only credential it needs.
//!
//! Who calls: with `--insecure-demo`, everyone is the demo caller (as on
//! gRPC). Otherwise the connection's client certificate, if it showed one
//! that the hall CA signed and that is not revoked, is the caller; a
//! `authorization: Bearer` staff session travels on to the gate. Without a
//! certificate only what the role table opens to anyone answers, plus the
//! ticket pages.

mod api;
mod book;
mod events;
pub mod openapi;
mod reports;
mod ticket;

// The reports API's answers, shared with the city (`hall-city`).
pub use reports::{ratings_answer, report_answer};

use crate::grpc::roles::{Caller, InProcessCaller};
use crate::pki::Revocations;
use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use std::sync::Arc;
use tokio::net::TcpListener;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// The gRPC services behind the role gate, as one cloneable service: what
/// the web face calls in-process.
pub type GrpcStack = crate::grpc::roles::Gate<tonic::service::Routes>;

/// What every web handler shares.
#[derive(Clone)]
pub struct Web {
    pub grpc: GrpcStack,
    pub hub: crate::grpc::Hub,
    /// `None` with `--insecure-demo`.
    pub revocations: Option<Arc<Revocations>>,
    /// Live ticket-page streams per ticket (`ticket::events` caps them).
    pub ticket_streams: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    /// One-time codes outstanding (`book`).
    pub codes: Arc<book::Codes>,
}

/// The caller a connection authenticated (its client certificate), put on
/// each of its requests.
#[derive(Debug, Clone)]
struct ConnCaller(Caller);

impl Web {
    /// The caller of one request: the connection's, unless its certificate
    /// has been revoked since the handshake.
    fn caller(&self, conn: &ConnCaller, headers: &http::HeaderMap) -> Caller {
        // A browser has no client certificate; a paired one (the data
        // screen) carries the signed cookie naming the certificate issued
        // for it.
        let caller = match &conn.0 {
            // A paired screen, or the console (a browser a staff member
            // logged in from). A browser that is both: a request carrying
            // the staff session is the console's.
            Caller::Nobody => {
                let console = cookie(headers, reports::STAFF_COOKIE)
                    .and(cookie(headers, reports::CONSOLE_COOKIE));
                console
                    .or_else(|| cookie(headers, crate::grpc::DEVICE_COOKIE))
                    .or_else(|| cookie(headers, reports::CONSOLE_COOKIE))
                    .and_then(|v| self.hub.browser_from_cookie(v))
                    .map_or(Caller::Nobody, Caller::Device)
            }
            c => c.clone(),
        };
        match (caller, &self.revocations) {
            (Caller::Device(s), Some(r)) if r.is_revoked(&s.serial) => Caller::Nobody,
            (c, _) => c,
        }
    }

    /// Calls a unary gRPC method in-process with raw protobuf bytes.
    async fn unary(
        &self,
        caller: Caller,
        path: &str,
        body: Bytes,
        headers: &http::HeaderMap,
        peer: std::net::SocketAddr,
    ) -> Result<Bytes, tonic::Status> {
        let mut grpc = tonic::client::Grpc::new(self.grpc.clone());
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("{e}")))?;
        let req = request(caller, body, headers, peer);
        let path = http::uri::PathAndQuery::try_from(path)
            .map_err(|_| tonic::Status::invalid_argument("bad method path"))?;
        grpc.unary(req, path, RawCodec)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Calls a server-streaming gRPC method in-process.
    async fn streaming(
        &self,
        caller: Caller,
        path: &'static str,
        body: Bytes,
        headers: &http::HeaderMap,
        peer: std::net::SocketAddr,
    ) -> Result<tonic::Streaming<Bytes>, tonic::Status> {
        let mut grpc = tonic::client::Grpc::new(self.grpc.clone());
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("{e}")))?;
        let req = request(caller, body, headers, peer);
        grpc.server_streaming(req, http::uri::PathAndQuery::from_static(path), RawCodec)
            .await
            .map(tonic::Response::into_inner)
    }
}

/// The value of cookie `name` in the request's `cookie` headers.
fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A gRPC request made in-process: the caller as an extension for the
/// gate, the browser's address as the connection's (the lockout of redeems
/// counts by it), and the headers a gRPC client would send as metadata:
/// the staff session's `authorization` and the old `x-device-token` /
/// `x-admin-token`.
fn request(
    caller: Caller,
    body: Bytes,
    headers: &http::HeaderMap,
    peer: std::net::SocketAddr,
) -> tonic::Request<Bytes> {
    let console = matches!(&caller, Caller::Device(s) if s.role == crate::pki::Role::Console);
    let mut req = tonic::Request::new(body);
    req.extensions_mut().insert(InProcessCaller(caller));
    req.extensions_mut()
        .insert(tonic::transport::server::TcpConnectInfo {
            local_addr: None,
            remote_addr: Some(peer),
        });
    for name in ["authorization", "x-device-token", "x-admin-token"] {
        if let Some(v) = headers.get(name)
            && let Ok(v) = tonic::metadata::MetadataValue::try_from(v.as_bytes())
        {
            req.metadata_mut().insert(name, v);
        }
    }
    // The console's session rides in its cookie (HttpOnly: page scripts
    // never see the token), and only for the console's own identity.
    if console
        && !headers.contains_key(http::header::AUTHORIZATION)
        && let Some(token) = cookie(headers, reports::STAFF_COOKIE)
        && let Ok(v) = tonic::metadata::MetadataValue::try_from(format!("Bearer {token}"))
    {
        req.metadata_mut().insert("authorization", v);
    }
    req
}

/// Passes protobuf bytes through unchanged (the JSON side converts them
/// with the descriptors).
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put(dst, item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        let n = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, n)))
    }
}

/// The routes (also what the OpenAPI test compares the document with).
pub fn router(web: Web) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/events", get(events::serve))
        .route("/api/v1/reports", get(reports::report))
        .route("/metrics", get(reports::metrics))
        .route("/api/v1/ratings/export", get(reports::ratings))
        .route("/api/v1/tickets/{secret}/rating", post(ticket::rate))
        .route("/api/v1/tickets/{secret}/notify", post(ticket::opt_in))
        .route("/api/v1/tickets/{secret}/arrive", post(book::arrive))
        .route("/api/v1/book/catalog", get(book::catalog))
        .route("/api/v1/book/slots", get(book::slots))
        .route("/api/v1/book/code", post(book::send_code))
        .route("/api/v1/book/verify", post(book::verify))
        .route("/api/v1/book/mine", get(book::mine))
        .route("/api/v1/book/{id}/cancel", post(book::cancel))
        .route("/api/v1/book", post(book::book))
        .route("/api/v1/remote", post(book::remote))
        .route("/book", get(book::book_page))
        .route("/remote", get(book::remote_page))
        .route("/api/v1/{service}/{method}", post(api::call))
        .route("/console", get(reports::page))
        .route("/console/login", post(reports::login))
        .route("/console/logout", post(reports::logout))
        .route("/t/{secret}", get(ticket::page))
        .route("/t/{secret}/state", get(ticket::state))
        .route("/t/{secret}/events", get(ticket::events))
        .route("/t/{secret}/rating", post(ticket::rate))
        .route("/t/{secret}/notify", post(ticket::opt_in))
        .route("/t/{secret}/arrive", post(book::arrive))
        .route("/t/{secret}/qr.svg", get(book::ticket_qr))
        .route("/b/{secret}/qr.svg", get(book::booking_qr))
        .route("/screen", get(screen))
        .route("/assets/echarts.min.js", get(echarts))
        .route("/assets/echarts-LICENSE", get(echarts_licence))
        .route("/assets/hall-sans.ttf", get(font))
        .route(
            "/",
            get(|| async { axum::response::Redirect::temporary("/screen") }),
        )
        .fallback(api::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_BODY))
        .with_state(web)
}

/// The data screen (可视化数据大屏): a page that reads
/// `EventService/GetScreen` and follows `/api/v1/events`. `?pair=CODE`
/// pairs this browser first (a pairing code from `hall-server enroll
/// --role board --id screen-1`): the answer sets the device cookie and
/// sends the browser on to `/screen`.
async fn screen(
    axum::extract::State(web): axum::extract::State<Web>,
    axum::extract::Query(q): axum::extract::Query<Pair>,
    conn: axum::Extension<Peer>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(code) = q.pair.as_deref().filter(|c| !c.trim().is_empty()) {
        return match web
            .hub
            .pair_browser(code.trim(), &(conn.0).0.ip().to_string())
            .await
        {
            Ok(p) => {
                let secure = if web.revocations.is_some() {
                    "; Secure"
                } else {
                    ""
                };
                let max_age = (p.expires_ms - crate::now_ms()) / 1000;
                let cookie = format!(
                    "{}={}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
                    crate::grpc::DEVICE_COOKIE,
                    web.hub.browser_cookie(&p)
                );
                (
                    http::StatusCode::SEE_OTHER,
                    [
                        (http::header::SET_COOKIE, cookie),
                        (http::header::LOCATION, "/screen".to_string()),
                    ],
                )
                    .into_response()
            }
            Err(status) => api::error(hall_proto::errors::Refusal::from_status(&status)),
        };
    }
    (
        [
            (http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (http::header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../web/screen.html"),
    )
        .into_response()
}

#[derive(Debug, serde::Deserialize)]
struct Pair {
    pair: Option<String>,
}

/// The connection's peer address (the lockout of pairing attempts and
/// redeems counts by it).
#[derive(Debug, Clone, Copy)]
struct Peer(std::net::SocketAddr);

/// ECharts 6.1.0 (Apache-2.0), vendored: `web/vendor/echarts/`.
async fn echarts() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (http::header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../web/vendor/echarts/echarts.min.js"),
    )
        .into_response()
}

/// Droid Sans Fallback (Apache-2.0), the clients' own CJK font
/// (`assets/fonts`), for browsers without a Chinese font.
async fn font() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (http::header::CONTENT_TYPE, "font/ttf"),
            (http::header::CACHE_CONTROL, "public, max-age=604800"),
        ],
        &include_bytes!("../../../assets/fonts/DroidSansFallbackFull.ttf")[..],
    )
        .into_response()
}

async fn echarts_licence() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        concat!(
            include_str!("../../web/vendor/echarts/LICENSE"),
            "\n",
            include_str!("../../web/vendor/echarts/NOTICE")
        ),
    )
        .into_response()
}

/// The server's TLS configuration for the web port: the hall's server
/// certificate, a client certificate optional (verified against the hall
/// CA when shown), HTTP/2 and HTTP/1.1.
pub fn tls_config(files: &crate::pki::ServerFiles) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use anyhow::Context;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(files.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .context("server certificate")?;
    let key = PrivateKeyDer::from_pem_slice(files.key_pem.as_bytes()).context("server key")?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(files.ca_pem.as_bytes()) {
        roots.add(ca.context("hall CA")?).context("hall CA")?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .context("client certificate verifier")?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .context("server certificate and key")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Web connections open at once.
pub const MAX_CONNECTIONS: usize = 4096;

/// Serves the web face on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    web: Web,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: tokio_util::sync::CancellationToken,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    let app = router(web.clone());
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut conns = tokio::task::JoinSet::new();
    // Connections at once: the process's file descriptors are shared with
    // gRPC, and a flood of idle connections must not starve the devices.
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (tcp, peer) = tokio::select! {
            () = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "web: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "web: {MAX_CONNECTIONS} connections open; refusing more");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let acceptor = acceptor.clone();
        let stop = stop.clone();
        // Finished connections are reaped as new ones arrive.
        while conns.try_join_next().is_some() {}
        conns.spawn(async move {
            let _slot = slot;
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // A client that sends its headers slowly (or never) is cut off;
            // an HTTP/2 connection that stops answering pings is closed.
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10));
            builder
                .http2()
                .timer(hyper_util::rt::TokioTimer::new())
                .keep_alive_interval(Some(std::time::Duration::from_secs(30)))
                .keep_alive_timeout(std::time::Duration::from_secs(20));
            let with_caller = |caller: Caller| {
                let conn = ConnCaller(caller);
                let from = Peer(peer);
                hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
                    app,
                    move |mut req: http::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(conn.clone());
                        req.extensions_mut().insert(from.clone());
                        req
                    },
                ))
            };
            let served = match acceptor {
                None => {
                    let conn = builder.serve_connection_with_upgrades(
                        TokioIo::new(tcp),
                        with_caller(Caller::Demo),
                    );
                    until_drained!(conn, stop)
                }
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(tcp),
                    )
                    .await
                    {
                        Ok(Ok(tls)) => tls,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "web: TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let caller = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|der| crate::pki::subject_of(der))
                        .map_or(Caller::Nobody, Caller::Device);
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(tls), with_caller(caller));
                    until_drained!(conn, stop)
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "web: connection ended with an error");
            }
        });
    }
    // Each connection finishes what it is answering (event streams end
    // with `stop`); whatever is still open after the drain time is cut.
    let drained = tokio::time::timeout(DRAIN + std::time::Duration::from_secs(1), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            ?DRAIN,
            "web connections still open after the drain time; closing them"
        );
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

/// How long a stopping server lets a web connection finish its answers.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves one connection; once `stop` is cancelled it takes no new request
/// and gets `DRAIN` to finish the ones it is answering. (A macro: hyper's
/// connection type carries bounds a helper function would have to repeat.)
macro_rules! until_drained {
    ($conn:expr, $stop:expr) => {{
        let conn = $conn;
        tokio::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => r,
            () = $stop.cancelled() => {
                conn.as_mut().graceful_shutdown();
                tokio::time::timeout(DRAIN, conn).await.unwrap_or(Ok(()))
            }
        }
    }};
}
use until_drained;
