//! The gRPC edge: the four hall.v1 services, health and reflection. Handlers
//! turn requests into engine commands (hashing ID numbers on the way in),
//! send them to the writer, and render its answer as wire types.

pub mod convert;

use crate::engine::{
    self, Command, EngineError, Hall, Millis, Person, Session, TicketId, TicketState,
    TransferTarget,
};
use hall_privacy::{self as privacy, IdNumber};
use crate::store::Store;
use crate::writer::{Failure, LoggedEvent, Request, Shared};
use hall_proto::v1 as pb;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::Stream;
use hall_proto::errors::{ErrorReason as Reason, Refusal, refusal};
use tonic::{Code, Request as Req, Response, Status};

/// The one place domain errors become gRPC statuses: a code, the message,
/// and the rich details (`ErrorInfo` with a stable reason and metadata; a
/// `BadRequest` for a bad field) that clients switch on.
pub fn status(f: Failure) -> Status {
    let msg = f.to_string();
    let Failure::Engine(e) = f else {
        return refusal(Code::Unavailable, Reason::StorageUnavailable, msg);
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
        EngineError::UnknownFollowUp(id) => {
            r(Code::NotFound, Reason::UnknownFollowUp).with("id", id)
        }
        EngineError::QuotaExhausted { code, quota } => {
            r(Code::ResourceExhausted, Reason::QuotaExhausted)
                .with("category", code)
                .with("quota", quota)
        }
        EngineError::PersonLimit { code, limit } => r(Code::ResourceExhausted, Reason::PersonLimit)
            .with("category", code)
            .with("limit", limit),
        EngineError::AlreadyHoldsTicket { code, number } => {
            r(Code::AlreadyExists, Reason::AlreadyHoldsTicket)
                .with("category", code)
                .with("number", number)
        }
        EngineError::AlreadyRated(n) => r(Code::AlreadyExists, Reason::AlreadyRated).with("number", n),
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
    };
    refusal.into_status()
}

/// Handle shared by all services: the writer's inbox and the read side.
#[derive(Clone)]
pub struct Hub {
    pub writer: mpsc::Sender<Request>,
    pub shared: Arc<Shared>,
    pub store: Store,
    pub secret: Arc<Vec<u8>>,
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
        self.writer
            .send(Request { cmd, respond })
            .await
            .map_err(|_| refusal(Code::Unavailable, Reason::ShuttingDown, "the server is shutting down"))?;
        rx.await
            .map_err(|_| {
                refusal(Code::Unavailable, Reason::ShuttingDown, "the server stopped before answering")
            })?
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
                    format!("'{}' is not YYYY-MM-DD", hall_proto::errors::echo(&id.birth_date)),
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

fn session(s: Option<pb::Session>) -> Result<Session, Status> {
    let s = s.ok_or_else(|| refusal(Code::PermissionDenied, Reason::NoSession, "no session: log in first"))?;
    Ok(Session {
        window: s.window,
        token: s.token,
    })
}

fn request_id(r: String) -> String {
    if r.is_empty() {
        hall_proto::client::new_request_id()
    } else {
        r
    }
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

// ---- KioskService ----------------------------------------------------------

#[tonic::async_trait]
impl pb::kiosk_service_server::KioskService for Hub {
    #[tracing::instrument(skip_all)]
    async fn get_catalog(
        &self,
        _: Req<pb::GetCatalogRequest>,
    ) -> Result<Response<pb::Catalog>, Status> {
        self.ask(None, Box::new(|h, _, now| Ok(convert::catalog(h, now))))
            .await
            .map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(category = %req.get_ref().category))]
    async fn issue_ticket(
        &self,
        req: Req<pb::IssueTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let r = req.into_inner();
        let person = self.person(r.identity)?;
        let rid = request_id(r.request_id);
        let cmd = Command::IssueTicket {
            request_id: Some(rid.clone()),
            code: r.category,
            priority: convert::priority_from(r.priority),
            channel: convert::channel_from(r.channel),
            person,
        };
        self.ask(Some(cmd), render_request(rid))
            .await
            .map(Response::new)
    }

    async fn check_in_appointment(
        &self,
        req: Req<pb::CheckInAppointmentRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let r = req.into_inner();
        let person = self
            .person(r.identity)?
            .ok_or_else(|| Refusal::invalid_field("identity", "check-in needs the ID card").into_status())?;
        let rid = request_id(r.request_id);
        let cmd = Command::CheckInAppointment {
            request_id: Some(rid.clone()),
            person_key: person.key,
        };
        self.ask(Some(cmd), render_request(rid))
            .await
            .map(Response::new)
    }

    async fn book_appointment(
        &self,
        req: Req<pb::BookAppointmentRequest>,
    ) -> Result<Response<pb::Appointment>, Status> {
        let r = req.into_inner();
        let person = self
            .person(r.identity)?
            .ok_or_else(|| Refusal::invalid_field("identity", "booking needs an ID number").into_status())?;
        let date = r.date.parse().map_err(|_| {
            Refusal::invalid_field(
                "date",
                format!("'{}' is not YYYY-MM-DD", hall_proto::errors::echo(&r.date)),
            )
            .into_status()
        })?;
        let rid = request_id(r.request_id);
        let cmd = Command::BookAppointment {
            request_id: Some(rid.clone()),
            code: r.category,
            person,
            date,
            slot_start: r.slot_start,
            slot_end: r.slot_end,
        };
        let render = Box::new(move |h: &Hall, _: &[LoggedEvent], _| {
            let a = h
                .appointment_for_request(&rid)
                .ok_or_else(|| Status::internal("appointment not found"))?;
            Ok(pb::Appointment {
                id: a.id,
                category: a.queue.clone(),
                date: a.date.to_string(),
                slot_start: a.slot_label.0.clone(),
                slot_end: a.slot_label.1.clone(),
                masked_name: a.person.masked_name.clone(),
                checked_in: a.ticket.is_some(),
            })
        });
        self.ask(Some(cmd), render).await.map(Response::new)
    }

    async fn get_ticket_status(
        &self,
        req: Req<pb::GetTicketStatusRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let r = req.into_inner();
        let render = Box::new(move |h: &Hall, _: &[LoggedEvent], now| {
            if !r.service_date.is_empty() && r.service_date != h.service_date.to_string() {
                return Err(refusal(
                    Code::NotFound,
                    Reason::UnknownTicket,
                    format!("only today's tickets ({}) can be looked up", h.service_date),
                ));
            }
            let t = h.ticket_by_number(&r.number).ok_or_else(|| {
                let number = hall_proto::errors::echo(&r.number);
                let earlier = h.was_issued_today(&r.number);
                let msg = if earlier {
                    format!("ticket {number} was issued today and has long been finished")
                } else {
                    format!("no ticket {number} today")
                };
                Refusal::new(Code::NotFound, Reason::UnknownTicket, msg)
                    .with("number", &number)
                    .with("issued_today", earlier)
                    .into_status()
            })?;
            Ok(convert::ticket(h, t, now))
        });
        self.ask(None, render).await.map(Response::new)
    }

    async fn cancel_ticket(
        &self,
        req: Req<pb::CancelTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let r = req.into_inner();
        let cmd = Command::CancelTicket {
            number: r.number,
            reason: r.reason,
        };
        self.ask(Some(cmd), Box::new(render_subject))
            .await
            .map(Response::new)
    }

    async fn report_device(
        &self,
        req: Req<pb::ReportDeviceRequest>,
    ) -> Result<Response<pb::ReportDeviceResponse>, Status> {
        let r = req.into_inner();
        let cmd = Command::ReportDevice {
            device_id: r.device_id,
            kind: r.kind,
            status: r.status,
            detail: r.detail,
        };
        self.ask(
            Some(cmd),
            Box::new(|_, _, _| Ok(pb::ReportDeviceResponse {})),
        )
        .await
        .map(Response::new)
    }
}

// ---- CounterService --------------------------------------------------------

impl Hub {
    async fn ticket_cmd(&self, cmd: Command) -> Result<Response<pb::Ticket>, Status> {
        self.ask(Some(cmd), Box::new(render_subject))
            .await
            .map(Response::new)
    }

    async fn window_cmd(
        &self,
        window: u32,
        cmd: Command,
    ) -> Result<Response<pb::WindowInfo>, Status> {
        self.ask(
            Some(cmd),
            Box::new(move |h, _, _| Ok(convert::window_info(h, window))),
        )
        .await
        .map(Response::new)
    }
}

#[tonic::async_trait]
impl pb::counter_service_server::CounterService for Hub {
    #[tracing::instrument(skip_all, fields(window = req.get_ref().window, clerk = %req.get_ref().clerk_id))]
    async fn login(
        &self,
        req: Req<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let r = req.into_inner();
        let token = hall_proto::client::new_request_id();
        let window = r.window;
        let cmd = Command::Login {
            window,
            clerk: r.clerk_id.clone(),
            pin: r.pin,
            token: token.clone(),
        };
        let render = Box::new(move |h: &Hall, _: &[LoggedEvent], now| {
            Ok(pb::LoginResponse {
                session: Some(pb::Session { window, token }),
                window: Some(convert::window_info(h, window)),
                clerk_name: h
                    .catalog
                    .clerk(&r.clerk_id)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                current: h.window_current(window).map(|t| convert::ticket(h, t, now)),
            })
        });
        self.ask(Some(cmd), render).await.map(Response::new)
    }
    async fn logout(
        &self,
        req: Req<pb::WindowRequest>,
    ) -> Result<Response<pb::WindowInfo>, Status> {
        let s = session(req.into_inner().session)?;
        self.window_cmd(s.window, Command::Logout { session: s })
            .await
    }
    async fn pause(&self, req: Req<pb::PauseRequest>) -> Result<Response<pb::WindowInfo>, Status> {
        let r = req.into_inner();
        let s = session(r.session)?;
        self.window_cmd(
            s.window,
            Command::Pause {
                session: s,
                reason: r.reason,
            },
        )
        .await
    }
    async fn resume(
        &self,
        req: Req<pb::WindowRequest>,
    ) -> Result<Response<pb::WindowInfo>, Status> {
        let s = session(req.into_inner().session)?;
        self.window_cmd(s.window, Command::Resume { session: s })
            .await
    }
    #[tracing::instrument(skip_all)]
    async fn call_next(&self, req: Req<pb::WindowRequest>) -> Result<Response<pb::Ticket>, Status> {
        self.ticket_cmd(Command::CallNext {
            session: session(req.into_inner().session)?,
        })
        .await
    }
    async fn call_ticket(
        &self,
        req: Req<pb::TicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let r = req.into_inner();
        self.ticket_cmd(Command::CallTicket {
            session: session(r.session)?,
            number: r.number,
        })
        .await
    }
    async fn recall(&self, req: Req<pb::WindowRequest>) -> Result<Response<pb::Ticket>, Status> {
        self.ticket_cmd(Command::Recall {
            session: session(req.into_inner().session)?,
        })
        .await
    }
    async fn start_service(
        &self,
        req: Req<pb::WindowRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        self.ticket_cmd(Command::StartService {
            session: session(req.into_inner().session)?,
        })
        .await
    }
    async fn finish(&self, req: Req<pb::FinishRequest>) -> Result<Response<pb::Ticket>, Status> {
        let r = req.into_inner();
        let cmd = Command::Finish {
            session: session(r.session)?,
            resolved: r.resolved,
            reason: r.unresolved_reason,
        };
        self.ticket_cmd(cmd).await
    }
    async fn no_show(&self, req: Req<pb::WindowRequest>) -> Result<Response<pb::Ticket>, Status> {
        self.ticket_cmd(Command::NoShow {
            session: session(req.into_inner().session)?,
        })
        .await
    }
    async fn requeue(&self, req: Req<pb::TicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        let r = req.into_inner();
        self.ticket_cmd(Command::Requeue {
            session: session(r.session)?,
            number: r.number,
        })
        .await
    }
    async fn suspend(&self, req: Req<pb::SuspendRequest>) -> Result<Response<pb::Ticket>, Status> {
        let r = req.into_inner();
        self.ticket_cmd(Command::Suspend {
            session: session(r.session)?,
            reason: r.reason,
        })
        .await
    }
    async fn call_back(&self, req: Req<pb::TicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        let r = req.into_inner();
        self.ticket_cmd(Command::CallBack {
            session: session(r.session)?,
            number: r.number,
        })
        .await
    }
    async fn transfer(
        &self,
        req: Req<pb::TransferRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let r = req.into_inner();
        let target = match r.target {
            Some(pb::transfer_request::Target::Category(c)) => TransferTarget::Queue(c),
            Some(pb::transfer_request::Target::Window(w)) => TransferTarget::Window(w),
            None => {
                return Err(Refusal::invalid_field(
                    "target",
                    "transfer needs a target category or window",
                )
                .into_status());
            }
        };
        let cmd = Command::Transfer {
            session: session(r.session)?,
            target,
            with_return: r.with_return,
            reason: r.reason,
        };
        self.ticket_cmd(cmd).await
    }
    async fn submit_rating(
        &self,
        req: Req<pb::RatingRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let r = req.into_inner();
        let rating = u8::try_from(r.rating).unwrap_or(u8::MAX);
        let cmd = Command::Rate {
            session: session(r.session)?,
            number: r.number,
            rating,
            comment: r.comment,
        };
        self.ticket_cmd(cmd).await
    }
    async fn get_my_queue(
        &self,
        req: Req<pb::WindowRequest>,
    ) -> Result<Response<pb::MyQueue>, Status> {
        let s = session(req.into_inner().session)?;
        let render = Box::new(move |h: &Hall, _: &[LoggedEvent], now| {
            let rt = h
                .windows
                .get(&s.window)
                .ok_or_else(|| status(EngineError::UnknownWindow(s.window).into()))?;
            if rt.token.as_deref() != Some(s.token.as_str()) {
                return Err(status(EngineError::NotLoggedIn(s.window).into()));
            }
            let waiting = h
                .window_queue(s.window, now, 20)
                .into_iter()
                .filter_map(|id| h.ticket(id))
                .map(|t| convert::ticket(h, t, now))
                .collect();
            let mut suspended: Vec<_> = h
                .tickets()
                .filter(|t| t.state == TicketState::Suspended && t.window == Some(s.window))
                .collect();
            suspended.sort_by_key(|t| t.id);
            Ok(pb::MyQueue {
                window: Some(convert::window_info(h, s.window)),
                current: h
                    .window_current(s.window)
                    .map(|t| convert::ticket(h, t, now)),
                waiting,
                waiting_total: h.waiting_for_window(s.window),
                suspended: suspended
                    .into_iter()
                    .map(|t| convert::ticket(h, t, now))
                    .collect(),
                today: Some(pb::WindowFigures {
                    served: rt.served,
                    no_shows: rt.no_shows,
                    avg_handling_s: (rt.handling_total_s / u64::from(rt.served.max(1))) as u32,
                    avg_rating: if rt.ratings == 0 {
                        0.0
                    } else {
                        f64::from(rt.rating_sum) / f64::from(rt.ratings)
                    },
                    ratings: rt.ratings,
                }),
                device_alerts: device_alerts(h),
            })
        });
        self.ask(None, render).await.map(Response::new)
    }
}

// ---- EventService ----------------------------------------------------------

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl pb::event_service_server::EventService for Hub {
    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        req: Req<pb::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let from = req.into_inner().from_seq.max(1);
        let (tx, rx) = mpsc::channel(256);
        crate::stream::spawn_subscriber(self.store.clone(), self.shared.clone(), from, tx);
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn snapshot(
        &self,
        _: Req<pb::SnapshotRequest>,
    ) -> Result<Response<pb::BoardState>, Status> {
        let shared = self.shared.clone();
        let render = Box::new(move |h: &Hall, _: &[LoggedEvent], _| {
            // Queries run between batches, so everything folded is committed.
            let seq = shared.committed.load(std::sync::atomic::Ordering::Acquire);
            Ok(convert::board(h, seq))
        });
        self.ask(None, render).await.map(Response::new)
    }
}

// ---- AdminService ----------------------------------------------------------

#[tonic::async_trait]
impl pb::admin_service_server::AdminService for Hub {
    async fn get_catalog(
        &self,
        _: Req<pb::GetConfigRequest>,
    ) -> Result<Response<pb::Catalog>, Status> {
        self.ask(None, Box::new(|h, _, now| Ok(convert::catalog(h, now))))
            .await
            .map(Response::new)
    }
    async fn get_config(
        &self,
        _: Req<pb::GetConfigRequest>,
    ) -> Result<Response<pb::ConfigDocument>, Status> {
        self.ask(
            None,
            Box::new(|h, _, _| {
                Ok(pb::ConfigDocument {
                    toml: crate::config::to_toml(&h.catalog),
                })
            }),
        )
        .await
        .map(Response::new)
    }
    async fn update_config(
        &self,
        req: Req<pb::ConfigDocument>,
    ) -> Result<Response<pb::Catalog>, Status> {
        let catalog = crate::config::parse(&req.into_inner().toml, "UpdateConfig")
            .map_err(|e| Refusal::invalid_field("toml", e.to_string()).into_status())?;
        let cmd = Command::ReplaceCatalog {
            catalog: Box::new(catalog),
        };
        self.ask(
            Some(cmd),
            Box::new(|h, _, now| Ok(convert::catalog(h, now))),
        )
        .await
        .map(Response::new)
    }
    async fn list_follow_ups(
        &self,
        req: Req<pb::ListFollowUpsRequest>,
    ) -> Result<Response<pb::FollowUpList>, Status> {
        let all = req.into_inner().include_closed;
        let render = Box::new(move |h: &Hall, _: &[LoggedEvent], _| {
            let items = h
                .follow_ups
                .values()
                .filter(|f| all || f.closed.is_none())
                .map(convert::follow_up)
                .collect();
            Ok(pb::FollowUpList { items })
        });
        self.ask(None, render).await.map(Response::new)
    }
    async fn close_follow_up(
        &self,
        req: Req<pb::CloseFollowUpRequest>,
    ) -> Result<Response<pb::FollowUp>, Status> {
        let r = req.into_inner();
        let id = r.id;
        let render = Box::new(move |h: &Hall, _: &[LoggedEvent], _| {
            h.follow_ups
                .get(&id)
                .map(convert::follow_up)
                .ok_or_else(|| status(EngineError::UnknownFollowUp(id).into()))
        });
        self.ask(
            Some(Command::CloseFollowUp {
                id,
                resolution: r.resolution,
            }),
            render,
        )
        .await
        .map(Response::new)
    }
    async fn get_day_report(
        &self,
        _: Req<pb::DayReportRequest>,
    ) -> Result<Response<pb::DayReport>, Status> {
        let render = Box::new(|h: &Hall, _: &[LoggedEvent], _| Ok(day_report(h)));
        self.ask(None, render).await.map(Response::new)
    }
}

fn day_report(h: &Hall) -> pb::DayReport {
    let categories: Vec<pb::CategoryFigures> = h
        .figures
        .iter()
        .map(|(code, f)| pb::CategoryFigures {
            code: code.clone(),
            issued: f.issued,
            served: f.served + f.unresolved,
            no_shows: f.no_shows,
            waiting: h
                .tickets()
                .filter(|t| t.origin == *code && t.state == TicketState::Waiting)
                .count() as u32,
            avg_wait_s: (f.wait_s / u64::from(f.called.max(1))) as u32,
            avg_handling_s: (f.handling_s / u64::from((f.served + f.unresolved).max(1))) as u32,
        })
        .collect();
    let (ratings, rating_sum) = h
        .figures
        .values()
        .fold((0, 0), |(n, s), f| (n + f.ratings, s + f.rating_sum));
    pb::DayReport {
        service_date: h.service_date.to_string(),
        issued: categories.iter().map(|c| c.issued).sum(),
        served: categories.iter().map(|c| c.served).sum(),
        waiting: categories.iter().map(|c| c.waiting).sum(),
        ratings,
        avg_rating: if ratings == 0 {
            0.0
        } else {
            f64::from(rating_sum) / f64::from(ratings)
        },
        open_follow_ups: h.follow_ups.values().filter(|f| f.closed.is_none()).count() as u32,
        categories,
        device_alerts: device_alerts(h),
    }
}

/// Devices whose last report is a problem, oldest first.
fn device_alerts(h: &Hall) -> Vec<pb::DeviceAlert> {
    let mut v: Vec<pb::DeviceAlert> = h
        .devices
        .iter()
        .filter(|(_, d)| d.status != "ok")
        .map(|(id, d)| pb::DeviceAlert {
            device_id: id.clone(),
            kind: d.kind.clone(),
            status: d.status.clone(),
            detail: d.detail.clone(),
            at_ms: d.at,
        })
        .collect();
    v.sort_by_key(|d| d.at_ms);
    v
}
