//! The gRPC edge: the four hall.v1 services, health and reflection. Handlers
//! turn requests into engine commands (hashing ID numbers on the way in),
//! send them to the writer, and render its answer as wire types.

mod admin;
pub mod audit;
mod booking;
pub mod convert;
mod counter;
mod devices;
pub use devices::{DEVICE_COOKIE, PairedBrowser, audit_revocations};
mod console;
mod events;
mod kiosk;
pub mod limits;
pub mod lockout;
mod outbox;
pub mod reports;
pub mod roles;
mod sites;
pub mod staff;
mod visitor;
pub use booking::{PublicCatalog, RemoteTicket, VisitorBooking, VisitorBookings};
pub use outbox::{Delivery, Retry, site_tag};
pub use visitor::{VisitorIndex, VisitorTicket};

use crate::engine::{
    self, Command, EngineError, Hall, Millis, Person, Session, TicketId, TicketState,
    TransferTarget,
};
use crate::store::Store;
use crate::writer::{Failure, LoggedEvent, Request, Shared};
use hall_privacy::{self as privacy, IdNumber};
use hall_proto::errors::{ErrorReason as Reason, Refusal, refusal};
use hall_proto::v1 as pb;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::Stream;
use tonic::{Code, Request as Req, Response, Status};

/// The one place domain errors become gRPC statuses: a code, the message,
/// and the rich details (`ErrorInfo` with a stable reason and metadata; a
/// `BadRequest` for a bad field) that clients switch on.
pub fn status(f: Failure) -> Status {
    let msg = f.to_string();
    let e = match f {
        Failure::Engine(e) => e,
        Failure::DiskFull(problem) => {
            return Refusal::new(Code::Unavailable, Reason::StorageFull, msg)
                .with("since", problem.since)
                .into_status();
        }
        Failure::Storage(_) => {
            return refusal(Code::Unavailable, Reason::StorageUnavailable, msg);
        }
    };
    let r = |code, reason| Refusal::new(code, reason, msg.clone());
    let refusal = match e {
        EngineError::UnknownCategory(c) => {
            r(Code::InvalidArgument, Reason::UnknownCategory).with("category", c)
        }
        EngineError::InvalidField { field, problem } => Refusal::invalid_field(field, problem),
        EngineError::IdCardRequired(c) => {
            r(Code::InvalidArgument, Reason::IdCardRequired).with("category", c)
        }
        EngineError::UnknownWindow(w) => r(Code::NotFound, Reason::UnknownWindow).with("window", w),
        EngineError::UnknownTicket(n) => r(Code::NotFound, Reason::UnknownTicket).with("number", n),
        EngineError::NothingWaiting(w) => {
            r(Code::NotFound, Reason::NothingWaiting).with("window", w)
        }
        EngineError::NoAppointment => r(Code::NotFound, Reason::NoAppointment),
        EngineError::UnknownAppointment(id) => {
            r(Code::NotFound, Reason::UnknownAppointment).with("id", id)
        }
        EngineError::BookingBlocked { until, missed } => {
            r(Code::FailedPrecondition, Reason::BookingBlocked)
                .with("until", until)
                .with("missed", missed)
        }
        EngineError::BookingLimit { period, limit } => {
            r(Code::ResourceExhausted, Reason::BookingLimit)
                .with("period", period)
                .with("limit", limit)
        }
        EngineError::RemoteShareExhausted { code, cap } => {
            r(Code::ResourceExhausted, Reason::RemoteShareExhausted)
                .with("category", code)
                .with("cap", cap)
        }
        EngineError::UnknownFollowUp(id) => {
            r(Code::NotFound, Reason::UnknownFollowUp).with("id", id)
        }
        EngineError::QuotaExhausted { code, quota } => {
            r(Code::ResourceExhausted, Reason::QuotaExhausted)
                .with("category", code)
                .with("quota", quota)
        }
        EngineError::SlotFull {
            code,
            date,
            slot,
            capacity,
        } => r(Code::ResourceExhausted, Reason::QuotaExhausted)
            .with("category", code)
            .with("date", date)
            .with("slot", slot)
            .with("quota", capacity),
        EngineError::PersonLimit { code, limit } => r(Code::ResourceExhausted, Reason::PersonLimit)
            .with("category", code)
            .with("limit", limit),
        EngineError::AlreadyHoldsTicket { code, number } => {
            r(Code::AlreadyExists, Reason::AlreadyHoldsTicket)
                .with("category", code)
                .with("number", number)
        }
        EngineError::AlreadyRated(n) => {
            r(Code::AlreadyExists, Reason::AlreadyRated).with("number", n)
        }
        EngineError::NotLoggedIn(w) => {
            r(Code::PermissionDenied, Reason::NotLoggedIn).with("window", w)
        }
        EngineError::BadCredentials => r(Code::Unauthenticated, Reason::BadCredentials),
        EngineError::NotIssuing { code, reason, next } => {
            r(Code::FailedPrecondition, Reason::OutsideHours)
                .with("category", code)
                .with("why", reason)
                .with("next_opening", next)
        }
        EngineError::WindowTaken {
            window,
            clerk,
            clerk_name,
        } => r(Code::FailedPrecondition, Reason::WindowTaken)
            .with("window", window)
            .with("clerk", clerk)
            .with("clerk_name", clerk_name),
        EngineError::ClerkElsewhere { clerk, window } => {
            r(Code::FailedPrecondition, Reason::ClerkElsewhere)
                .with("clerk", clerk)
                .with("window", window)
        }
        EngineError::WindowPaused(w) => {
            r(Code::FailedPrecondition, Reason::WindowPaused).with("window", w)
        }
        EngineError::NoCurrentTicket(w) => {
            r(Code::FailedPrecondition, Reason::NoCurrentTicket).with("window", w)
        }
        EngineError::Busy {
            window,
            number,
            state,
            ..
        } => r(Code::FailedPrecondition, Reason::WindowBusy)
            .with("window", window)
            .with("number", number)
            .with("state", state),
        EngineError::WrongState {
            number,
            state,
            action,
        } => r(Code::FailedPrecondition, Reason::WrongState)
            .with("number", number)
            .with("state", state)
            .with("action", action),
        EngineError::CatalogConflict(_) => r(Code::FailedPrecondition, Reason::CatalogConflict),
        EngineError::Conflict { number, .. } => {
            r(Code::FailedPrecondition, Reason::WrongState).with("number", number)
        }
    };
    refusal.into_status()
}

/// Handle shared by all services: the writer's inbox and the read side.
#[derive(Clone)]
pub struct Hub {
    pub writer: mpsc::Sender<Request>,
    /// Answers every read (`Hub::read`), off the writer thread.
    pub read_model: Arc<crate::read_model::ReadModel>,
    pub shared: Arc<Shared>,
    pub store: Store,
    pub secret: Arc<Vec<u8>>,
    /// Failed logins per account and per device (`lockout`).
    pub lockout: Arc<lockout::Lockout>,
    /// PIN checks running at once (Argon2id is memory- and CPU-hard).
    pub pin_checks: Arc<tokio::sync::Semaphore>,
    /// The hall CA, to sign redeemed devices' certificates (`None` with
    /// `--insecure-demo`).
    pub ca: Option<Arc<crate::pki::Ca>>,
    /// The revocation list (`None` with `--insecure-demo`): checked again
    /// before each event of a long-lived stream.
    pub revocations: Option<Arc<crate::pki::Revocations>>,
    pub data_dir: std::path::PathBuf,
    /// Supervisor and admin sessions (`staff`), shared with the role gate.
    pub staff: Arc<staff::StaffSessions>,
    /// The web face's own address (`https://127.0.0.1:8080`), for ticket
    /// links when the configuration names no `public_url`.
    pub web_url: String,
    /// Today's ticket secrets, for the ticket pages (`visitor`).
    pub visitor_index: Arc<std::sync::Mutex<VisitorIndex>>,
    /// The per-day report aggregates (`crate::reports`).
    pub reports: Arc<crate::reports::Reports>,
    /// Shipping to PostgreSQL (`crate::ship`): its progress for the status.
    pub ship: Arc<crate::ship::ShipState>,
}

type Render<R> = Box<dyn FnOnce(&Hall, &[LoggedEvent], Millis) -> Result<R, Status> + Send>;

impl Hub {
    /// Sends a command (or a query, with `cmd = None`) and waits for the
    /// writer's answer, rendered on the writer thread after the commit.
    async fn ask<R: Send + 'static>(
        &self,
        cmd: Option<Command>,
        render: Render<R>,
    ) -> Result<R, Status> {
        let (tx, rx) = oneshot::channel();
        let respond = Box::new(
            move |res: Result<(&Hall, &[LoggedEvent]), Failure>, now: Millis| {
                let out = res.map_err(status).and_then(|(h, evs)| render(h, evs, now));
                let _ = tx.send(out);
            },
        );
        let audit = cmd.as_ref().and_then(audit::for_command);
        self.submit(
            Request {
                cmd,
                respond,
                audit,
            },
            rx,
        )
        .await
    }

    /// Hands a request to the writer and waits for its answer.
    async fn submit<R>(
        &self,
        req: Request,
        answer: oneshot::Receiver<Result<R, Status>>,
    ) -> Result<R, Status> {
        self.writer.send(req).await.map_err(|_| {
            refusal(
                Code::Unavailable,
                Reason::ShuttingDown,
                "the server is shutting down",
            )
        })?;
        answer.await.map_err(|_| {
            refusal(
                Code::Unavailable,
                Reason::ShuttingDown,
                "the server stopped before answering",
            )
        })?
    }

    /// Records a read of personal data (or an action outside the writer) in
    /// the audit trail, when the caller is staff; waits until it is stored,
    /// so no answer leaves without its record.
    async fn audit(&self, subject: String, why: &str) -> Result<(), Status> {
        self.audit_outcome(subject, why, "ok").await
    }

    /// [`Hub::audit`] of something refused before it reached the writer
    /// (a failed login).
    async fn audit_outcome(&self, subject: String, why: &str, outcome: &str) -> Result<(), Status> {
        self.audit_as("", subject, why, outcome).await
    }

    /// [`Hub::audit_outcome`] in the name of `who` (a staff account that
    /// just logged in; empty: as the call's session or device).
    async fn audit_as(
        &self,
        who: &str,
        subject: String,
        why: &str,
        outcome: &str,
    ) -> Result<(), Status> {
        let Some(mut record) = audit::for_read(subject, why) else {
            return Ok(());
        };
        if !who.is_empty() {
            record.who = who.to_string();
        }
        record.outcome = outcome.to_string();
        self.record(record).await
    }

    /// Stores one audit record (waits until it is on disk).
    pub async fn record(&self, record: crate::engine::AuditRecord) -> Result<(), Status> {
        let (tx, rx) = oneshot::channel();
        let respond = Box::new(move |res: Result<(&Hall, &[LoggedEvent]), Failure>, _| {
            let _ = tx.send(res.map(|_| ()).map_err(status));
        });
        let req = Request {
            cmd: None,
            respond,
            audit: Some(record),
        };
        self.submit(req, rx).await
    }

    /// Answers a read from the read model, once it holds everything
    /// committed when the read arrived; the answer's `x-hall-seq` metadata
    /// says which sequence number it reflects.
    async fn read<R: Send + 'static>(
        &self,
        render: impl FnOnce(&Hall, u64, Millis) -> Result<R, Status> + Send + 'static,
    ) -> Result<Response<R>, Status> {
        let committed = self
            .shared
            .committed
            .load(std::sync::atomic::Ordering::Acquire);
        let (out, seq) = self
            .read_model
            .read(committed, crate::now_ms(), render)
            .await
            .ok_or_else(|| {
                refusal(
                    Code::Unavailable,
                    Reason::ShuttingDown,
                    "the read model is not keeping up; retry",
                )
            })?;
        let mut resp = Response::new(out?);
        resp.metadata_mut().insert("x-hall-seq", seq.into());
        Ok(resp)
    }

    /// A ticket's holder secret: 128 bits derived from the site secret, the
    /// service date and the number (HMAC-SHA256, domain-separated from the
    /// person keys). Derived, not stored: a retried IssueTicket answers the
    /// same secret, and nothing secret reaches the log.
    pub fn ticket_secret(&self, service_date: &str, number: &str) -> String {
        ticket_secret(&self.secret, service_date, number)
    }

    /// The answer to the request that issued a ticket: with its secret.
    /// `status_url` holds the configured `hall.public_url` (see
    /// `kiosk::with_public_url`); empty: the server's own `--http` address.
    fn with_secret(&self, mut t: pb::Ticket) -> pb::Ticket {
        t.holder_secret = self.ticket_secret(&t.service_date, &t.number);
        let base = if t.status_url.is_empty() {
            self.web_url.as_str()
        } else {
            t.status_url.as_str()
        };
        t.status_url = format!("{}/t/{}", base.trim_end_matches('/'), t.holder_secret);
        self.visitor_index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(&t.service_date, &t.holder_secret, &t.number);
        t
    }

    fn person(&self, id: Option<pb::Identity>) -> Result<Option<Person>, Status> {
        let Some(id) = id else { return Ok(None) };
        // Normalised once, so the check, the birth date and the key all read
        // the same 18 characters.
        if id.id_number.trim().is_empty() {
            return Ok(None);
        }
        // Never echo the number back: it would end up in client logs.
        let number = IdNumber::parse(&id.id_number).map_err(|_| {
            let mut r = Refusal::new(
                Code::InvalidArgument,
                Reason::InvalidIdNumber,
                "the ID number is not a valid 18-character number (check digit or birth date)",
            );
            r.field_violations.push((
                "identity.id_number".into(),
                "not a valid 18-character number".into(),
            ));
            r.into_status()
        })?;
        let birth_date = if id.birth_date.is_empty() {
            // GB 11643 numbers carry the birth date at positions 7-14.
            number.birth_date()
        } else {
            Some(id.birth_date.parse().map_err(|_| {
                Refusal::invalid_field(
                    "identity.birth_date",
                    format!(
                        "'{}' is not YYYY-MM-DD",
                        hall_proto::errors::echo(&id.birth_date)
                    ),
                )
                .into_status()
            })?)
        };
        Ok(Some(Person {
            key: number.keyed_hash(&self.secret),
            masked_name: privacy::mask_name(&id.name),
            birth_date,
        }))
    }
}

/// A ticket's secret under the site secret `key` (see `Hub::ticket_secret`).
fn ticket_secret(key: &[u8], service_date: &str, number: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(b"hall ticket secret v1\0");
    mac.update(service_date.as_bytes());
    mac.update(b"\0");
    mac.update(number.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// A clerk session as the engine keeps it: the token bound to the counter
/// terminal (certificate id) that logged in, so the same token sent from
/// another device is no session at all (`NOT_LOGGED_IN`).
fn bind_token(device: &str, token: &str) -> String {
    if device.is_empty() {
        token.to_string()
    } else {
        format!("{device}|{token}")
    }
}

fn session(device: &str, s: Option<pb::Session>) -> Result<Session, Status> {
    let s = s.ok_or_else(|| {
        refusal(
            Code::PermissionDenied,
            Reason::NoSession,
            "no session: log in first",
        )
    })?;
    Ok(Session {
        window: s.window,
        token: bind_token(device, &s.token),
    })
}

/// The window of a read-only counter call, if `s` holds its session (an
/// action is checked by the engine instead).
fn logged_in<'h>(h: &'h Hall, s: &Session) -> Result<&'h hall_engine::WindowRuntime, Status> {
    let rt = h
        .windows
        .get(&s.window)
        .ok_or_else(|| status(EngineError::UnknownWindow(s.window).into()))?;
    if rt.token.as_deref() != Some(s.token.as_str()) {
        return Err(status(EngineError::NotLoggedIn(s.window).into()));
    }
    Ok(rt)
}

/// The client's request id of a request that creates something. Required:
/// a server-made id would make two identical retries two tickets.
fn request_id(r: String) -> Result<String, Status> {
    if r.trim().is_empty() {
        return Err(Refusal::invalid_field(
            "request_id",
            "required: one id per attempt, reused on every retry of it",
        )
        .into_status());
    }
    Ok(r)
}

/// The ticket a command acted on: the first ticket its events name.
fn subject(events: &[LoggedEvent]) -> Option<TicketId> {
    use engine::Event::*;
    events.iter().find_map(|l| match &l.event {
        TicketIssued { ticket, .. } => Some(ticket.id),
        TicketCalled { ticket, .. }
        | TicketRecalled { ticket, .. }
        | ServiceStarted { ticket, .. }
        | TicketFinished { ticket, .. }
        | TicketNoShow { ticket, .. }
        | TicketRequeued { ticket, .. }
        | TicketSuspended { ticket, .. }
        | TicketTransferred { ticket, .. }
        | RatingSubmitted { ticket, .. }
        | TicketCancelled { ticket, .. } => Some(*ticket),
        _ => None,
    })
}

fn render_subject(h: &Hall, evs: &[LoggedEvent], now: Millis) -> Result<pb::Ticket, Status> {
    let id = subject(evs).ok_or_else(|| Status::internal("command changed no ticket"))?;
    let t = h
        .ticket(id)
        .ok_or_else(|| Status::internal("ticket vanished"))?;
    Ok(convert::ticket(h, t, now))
}

/// Renders the ticket a create request made. Also the answer to a retry with
/// the same request id: the first attempt's ticket.
fn render_request(rid: String) -> Render<pb::Ticket> {
    Box::new(move |h: &Hall, _: &[LoggedEvent], now| {
        let t = h
            .ticket_for_request(&rid)
            .ok_or_else(|| Status::internal("the request's ticket was not found"))?;
        Ok(convert::ticket(h, t, now))
    })
}
