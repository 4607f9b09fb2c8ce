//! Runs the flow's effects against the world: the server over gRPC, the
//! printer thread, and feeds each result back into [`flow::update`].
//!
//! - Issuing: the printer is asked first (a fresh status); then `IssueTicket`
//!   is sent and, while the server is unreachable, re-sent with the *same*
//!   request id with backoff — a server restart mid-request gives one ticket,
//!   never two.
//! - The catalogue follows the server's event stream: each event's queue
//!   counts and estimates (and tickets issued) update it in place; it is
//!   re-read only on (re)connecting, after a catalogue change or a new day,
//!   and when a category opens or closes by the clock.
//! - Each outcome is also written as one line to the `log` sink (stdout in
//!   the binary): `kiosk ready: catalogue 23 categories` (once, when the
//!   first catalogue is in), `issued A001 category=A people_ahead=2 wait_min=9`,
//!   `printed A001`, `print_failed A001 paper_out`, `printer paper_out`,
//!   `failed <message>`, `card 王*明`. Never a plain name or number.

use crate::config::KioskConfig;
use crate::devices::{self, PrinterHandle};
use crate::flow::{self, CatalogView, Effect, Figures, Input, PrinterHealth, Settings, State};
use hall_proto::v1 as pb;
use hall_proto::v1::kiosk_service_client::KioskServiceClient;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tonic::transport::Channel;

/// How long a visitor's request is retried while the server is unreachable.
pub const ISSUE_RETRY_FOR: Duration = Duration::from_secs(60);

pub use hall_client::time::now_ms;

/// A server refusal in the visitor's words (the shared table).
pub fn plain(status: &tonic::Status, en: bool) -> String {
    hall_client::texts::refusal(status, hall_client::texts::Lang::from_en(en))
}

fn transient(s: &tonic::Status) -> bool {
    matches!(s.code(), tonic::Code::Unavailable | tonic::Code::Cancelled | tonic::Code::DeadlineExceeded | tonic::Code::Unknown)
}

/// A request with the device token and a deadline.
fn request<T>(token: &str, msg: T) -> tonic::Request<T> {
    let mut r = request_stream(token, msg);
    r.set_timeout(Duration::from_secs(5));
    r
}

/// A request with the device token and no deadline (a stream lasts as long
/// as the connection).
fn request_stream<T>(token: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if !token.is_empty()
        && let Ok(v) = token.parse()
    {
        r.metadata_mut().insert("x-device-token", v);
    }
    r
}

pub struct Controller {
    pub state: State,
    pub settings: Settings,
    url: String,
    token: String,
    kiosk_id: String,
    client: Option<KioskServiceClient<Channel>>,
    printer: PrinterHandle,
    log: Box<dyn FnMut(&str) + Send>,
    publish: Box<dyn FnMut(&State) + Send>,
}

pub fn settings(cfg: &KioskConfig) -> Settings {
    Settings {
        green_channel_age: cfg.green_channel_age,
        idle_timeout_ms: cfg.idle_timeout_s as i64 * 1000,
        done_timeout_ms: cfg.done_timeout_s as i64 * 1000,
        status_url: cfg.status_url.clone(),
        elder_categories: cfg.elder_categories.clone(),
        default_en: cfg.lang == "en",
    }
}

impl Controller {
    pub fn new(
        cfg: &KioskConfig,
        printer: PrinterHandle,
        log: impl FnMut(&str) + Send + 'static,
        publish: impl FnMut(&State) + Send + 'static,
    ) -> Controller {
        Controller {
            state: State::new(cfg.lang == "en"),
            settings: settings(cfg),
            url: cfg.server.clone(),
            token: cfg.device_token.clone(),
            kiosk_id: cfg.kiosk_id.clone(),
            client: None,
            printer,
            log: Box::new(log),
            publish: Box::new(publish),
        }
    }

    async fn client(&mut self) -> Option<KioskServiceClient<Channel>> {
        if self.client.is_none()
            && let Ok(ch) = hall_proto::client::connect_with_backoff(&self.url, 1, Duration::from_secs(1)).await
        {
            self.client = Some(KioskServiceClient::new(ch));
        }
        self.client.clone()
    }

    fn lost(&mut self) {
        self.client = None;
    }

    /// Reads the catalogue; false when the server cannot be reached.
    pub async fn load_catalog(&mut self) -> bool {
        let got = match self.client().await {
            Some(mut c) => c.get_catalog(request(&self.token, pb::GetCatalogRequest {})).await.map(|r| r.into_inner()),
            None => Err(tonic::Status::unavailable("not connected")),
        };
        match got {
            Ok(c) => {
                self.handle(Input::Fault(String::new())).await;
                self.handle(Input::Connected(true)).await;
                self.handle(Input::Catalog(CatalogView::from_pb(&c))).await;
                true
            }
            Err(e) => {
                if transient(&e) {
                    self.lost();
                } else {
                    // Not a network problem: staff must act (e.g. a refused token).
                    (self.log)(&format!("failed {}", plain(&e, false)));
                    self.handle(Input::Fault(plain(&e, self.state.en))).await;
                }
                self.handle(Input::Connected(false)).await;
                false
            }
        }
    }

    /// Asks the printer for its status and tells the flow.
    pub async fn poll_printer(&mut self) {
        let h = devices::health(&self.printer.status().await);
        self.handle(Input::Printer(h)).await;
    }

    /// Applies an input and runs every effect it leads to, in order.
    pub async fn handle(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            if let Input::Card(v) = &input {
                let line = format!("card {}", v.masked_name);
                (self.log)(&line);
            }
            let before = self.state.clone();
            let effects = flow::update(&mut self.state, input, now_ms(), &self.settings);
            if before.catalog_loads == 0 && self.state.catalog_loads > 0 {
                let n = self.state.catalog.items.iter().filter(|i| !i.bundle).count();
                (self.log)(&format!("kiosk ready: catalogue {n} categories"));
            }
            // Ticks and repeated figures usually change nothing: the screen
            // is only redrawn for a real change.
            if self.state != before {
                (self.publish)(&self.state);
            }
            for e in effects {
                queue.extend(self.run(e).await);
            }
        }
    }

    async fn run(&mut self, effect: Effect) -> Option<Input> {
        match effect {
            Effect::Issue { request_id, code, priority, identity } => {
                // Never issue a ticket this kiosk cannot print: ask the printer now.
                let h = devices::health(&self.printer.status().await);
                if let PrinterHealth::Blocked(code) = &h {
                    (self.log)(&format!("refused {code}"));
                    return Some(Input::Refused(h));
                }
                let req = pb::IssueTicketRequest {
                    request_id,
                    category: code.clone(),
                    priority: priority as i32,
                    channel: pb::Channel::Kiosk as i32,
                    identity,
                    kiosk_id: self.kiosk_id.clone(),
                    origin: None,
                };
                let r = self.with_retry(|mut c, token| {
                    let req = req.clone();
                    async move { c.issue_ticket(request(&token, req)).await }
                }).await;
                Some(self.issued(r))
            }
            Effect::CheckIn { request_id, identity } => {
                let req = pb::CheckInAppointmentRequest { request_id, identity: Some(identity), kiosk_id: self.kiosk_id.clone(), qr: String::new() };
                let r = self.with_retry(|mut c, token| {
                    let req = req.clone();
                    async move { c.check_in_appointment(request(&token, req)).await }
                }).await;
                Some(self.issued(r))
            }
            Effect::CheckInQr { request_id, qr } => {
                let req = pb::CheckInAppointmentRequest { request_id, identity: None, kiosk_id: self.kiosk_id.clone(), qr };
                let r = self.with_retry(|mut c, token| {
                    let req = req.clone();
                    async move { c.check_in_appointment(request(&token, req)).await }
                }).await;
                Some(self.issued(r))
            }
            Effect::Print(slip) => {
                let number = slip.ticket_no.clone();
                let r = self.printer.print(*slip).await;
                match r {
                    Ok(report) => {
                        (self.log)(&format!("printed {number}"));
                        Some(Input::Printed(Ok(devices::health(&Ok(report.after)))))
                    }
                    Err(e) => {
                        (self.log)(&format!("print_failed {number} {}", e.code()));
                        Some(Input::Printed(Err(e.code().to_string())))
                    }
                }
            }
            Effect::Report(h) => {
                (self.log)(&format!("printer {}", h.code()));
                let req = pb::ReportDeviceRequest {
                    device_id: format!("{}/printer", self.kiosk_id),
                    kind: "printer".into(),
                    status: h.code().into(),
                    detail: match &h {
                        PrinterHealth::Blocked(_) => "本机已暂停取号 (kiosk stopped issuing)".into(),
                        PrinterHealth::NearEnd => "请及时更换打印纸 (replace the paper roll soon)".into(),
                        PrinterHealth::Ok => String::new(),
                    },
                };
                if let Some(mut c) = self.client().await
                    && let Err(e) = c.report_device(request(&self.token, req)).await
                {
                    tracing::warn!(error = %e, "reporting the printer state");
                }
                None
            }
        }
    }

    fn issued(&mut self, r: Result<pb::Ticket, String>) -> Input {
        match &r {
            Ok(t) => (self.log)(&format!(
                "issued {} category={} people_ahead={} wait_min={}",
                t.number, t.category, t.people_ahead, t.estimated_wait_min
            )),
            Err(m) => (self.log)(&format!("failed {m}")),
        }
        Input::Issued(r)
    }

    /// Calls `f` until it answers, reconnecting with backoff while the server
    /// is unreachable (for at most [`ISSUE_RETRY_FOR`]).
    async fn with_retry<F, Fut>(&mut self, f: F) -> Result<pb::Ticket, String>
    where
        F: Fn(KioskServiceClient<Channel>, String) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<pb::Ticket>, tonic::Status>>,
    {
        let deadline = Instant::now() + ISSUE_RETRY_FOR;
        let mut delay = Duration::from_millis(200);
        loop {
            let result = match self.client().await {
                Some(c) => f(c, self.token.clone()).await,
                None => Err(tonic::Status::unavailable("server unreachable")),
            };
            match result {
                Ok(t) => {
                    if self.state.retrying || !self.state.connected {
                        flow::update(&mut self.state, Input::Connected(true), now_ms(), &self.settings);
                    }
                    return Ok(t.into_inner());
                }
                Err(s) if transient(&s) => {
                    self.lost();
                    if !self.state.retrying {
                        flow::update(&mut self.state, Input::Retrying(true), now_ms(), &self.settings);
                        flow::update(&mut self.state, Input::Connected(false), now_ms(), &self.settings);
                        (self.publish)(&self.state);
                        (self.log)("retrying server unreachable");
                    }
                    if Instant::now() >= deadline {
                        // The request may have been committed with only its
                        // answer lost, so the words do not claim it was not.
                        return Err(if self.state.en {
                            "The server cannot be reached, so your number could not be confirmed and no slip was printed. Please ask at the desk (staff can look it up) or use another kiosk.".into()
                        } else {
                            "暂时无法连接服务器，取号结果未能确认，也未打印号票。请到咨询台（工作人员可查询）或使用其他取号机。".into()
                        });
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Err(s) => return Err(plain(&s, self.state.en)),
            }
        }
    }
}

/// Follows the event stream: a fresh catalogue on each connection, after a
/// catalogue change or a new day, and when a category opens or closes by the
/// clock (or a quota seems used up, to be sure); in between, each event's
/// [`Figures`]. `Connected(false)` while the server is gone. Runs until `tx`
/// is closed.
pub async fn follow_catalog(url: String, token: String, tx: UnboundedSender<Input>) {
    let opts = hall_client::follow::Options { device_token: token, catalog: hall_client::follow::CatalogReads::OnChange };
    hall_client::follow::follow(url, opts, &mut CatalogFollower::new(tx)).await;
}

/// The follower's handler: forwards to the controller and keeps its own copy
/// of the catalogue to know when to read it again.
pub struct CatalogFollower {
    tx: UnboundedSender<Input>,
    view: Option<CatalogView>,
    /// A quota reached zero by counting events: read the catalogue to be
    /// sure (a ticket issued while the catalogue was being read is counted
    /// twice).
    recheck: bool,
}

impl CatalogFollower {
    pub fn new(tx: UnboundedSender<Input>) -> CatalogFollower {
        CatalogFollower { tx, view: None, recheck: false }
    }
}

impl hall_client::follow::Handler for CatalogFollower {
    fn event(&mut self, event: &pb::Event) {
        let Some(f) = Figures::of(event) else { return };
        if let Some(v) = &mut self.view {
            let left = |v: &CatalogView| v.items.iter().filter(|i| i.quota_left == Some(0)).count();
            let before = left(v);
            v.apply(&f);
            self.recheck |= left(v) > before;
        }
        let _ = self.tx.send(Input::Figures(f));
    }
    fn catalog(&mut self, catalog: &pb::Catalog) {
        let view = CatalogView::from_pb(catalog);
        self.view = Some(view.clone());
        self.recheck = false;
        let _ = self.tx.send(Input::Connected(true));
        let _ = self.tx.send(Input::Catalog(view));
    }
    fn catalog_due(&self) -> Option<Instant> {
        if self.recheck {
            return Some(Instant::now());
        }
        let now = now_ms();
        // Half a second after the minute turns, so the server agrees.
        let next = self.view.as_ref()?.next_change(now)? + 500;
        Some(Instant::now() + Duration::from_millis((next - now).max(0) as u64))
    }
    fn connection(&mut self, state: hall_client::follow::Connection) {
        // Connected is said with the first catalogue of the connection.
        if !state.is_connected() {
            let _ = self.tx.send(Input::Connected(false));
        }
    }
    fn finished(&self) -> bool {
        self.tx.is_closed()
    }
}
