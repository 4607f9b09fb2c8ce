//! The soak's client: each simulator command sent to the server as its
//! client would send it (kiosk, counter, pad, staff), with the simulated
//! instant in the test clock's header.

use anyhow::bail;
use hall_engine::{Command, Millis, Session, TransferTarget};
use hall_proto::v1 as pb;
use hall_server::grpc::convert::priority_to;
use std::collections::HashMap;
use tonic::transport::Channel;

/// The server's clients, every call stamped with the simulated instant.
pub struct Wire {
    pub ch: Channel,
    /// The server's session of each window (its own tokens, not the simulator's).
    pub sessions: HashMap<u32, pb::Session>,
}

pub fn at<T>(msg: T, ms: Millis) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        hall_server::test_clock::HEADER,
        ms.to_string().parse().expect("digits"),
    );
    r
}

impl Wire {
    fn kiosk(&self) -> pb::kiosk_service_client::KioskServiceClient<Channel> {
        pb::kiosk_service_client::KioskServiceClient::new(self.ch.clone())
    }
    fn counter(&self) -> pb::counter_service_client::CounterServiceClient<Channel> {
        pb::counter_service_client::CounterServiceClient::new(self.ch.clone())
    }

    fn session(&self, s: &Session) -> Option<pb::Session> {
        self.sessions.get(&s.window).cloned()
    }

    /// Sends one command as its client would; `Ok(false)` = the server
    /// refused it.
    pub async fn send(
        &mut self,
        cmd: &Command,
        identity: Option<pb::Identity>,
        rid: &str,
        now: Millis,
    ) -> anyhow::Result<bool> {
        let mut c = self.counter();
        let win = |s: &Session, me: &Wire| pb::WindowRequest {
            session: me.session(s),
        };
        let r: Result<(), tonic::Status> = match cmd {
            Command::IssueTicket { code, priority, .. } => self
                .kiosk()
                .issue_ticket(at(
                    pb::IssueTicketRequest {
                        request_id: rid.into(),
                        category: code.clone(),
                        priority: priority_to(*priority) as i32,
                        identity,
                        ..Default::default()
                    },
                    now,
                ))
                .await
                .map(drop),
            Command::Login { window, clerk, .. } => {
                match c
                    .login(at(
                        pb::LoginRequest {
                            window: *window,
                            clerk_id: clerk.clone(),
                            pin: "1234".into(),
                        },
                        now,
                    ))
                    .await
                {
                    Ok(r) => {
                        if let Some(s) = r.into_inner().session {
                            self.sessions.insert(*window, s);
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Command::Logout { session } => c.logout(at(win(session, self), now)).await.map(drop),
            Command::Pause { session, reason } => c
                .pause(at(
                    pb::PauseRequest {
                        session: self.session(session),
                        reason: reason.clone(),
                    },
                    now,
                ))
                .await
                .map(drop),
            Command::Resume { session } => c.resume(at(win(session, self), now)).await.map(drop),
            Command::CallNext { session } => {
                c.call_next(at(win(session, self), now)).await.map(drop)
            }
            Command::Recall { session } => c.recall(at(win(session, self), now)).await.map(drop),
            Command::StartService { session } => {
                c.start_service(at(win(session, self), now)).await.map(drop)
            }
            Command::NoShow { session } => c.no_show(at(win(session, self), now)).await.map(drop),
            Command::Finish {
                session,
                resolved,
                reason,
                ..
            } => c
                .finish(at(
                    pb::FinishRequest {
                        session: self.session(session),
                        outcome: if *resolved {
                            pb::FinishOutcome::Resolved
                        } else {
                            pb::FinishOutcome::Unresolved
                        } as i32,
                        unresolved_reason: reason.clone(),
                        ..Default::default()
                    },
                    now,
                ))
                .await
                .map(drop),
            Command::Requeue { session, number } => c
                .requeue(at(
                    pb::TicketRequest {
                        session: self.session(session),
                        number: number.clone(),
                    },
                    now,
                ))
                .await
                .map(drop),
            Command::CallTicket { session, number } => c
                .call_ticket(at(
                    pb::TicketRequest {
                        session: self.session(session),
                        number: number.clone(),
                    },
                    now,
                ))
                .await
                .map(drop),
            Command::CallBack { session, number } => c
                .call_back(at(
                    pb::TicketRequest {
                        session: self.session(session),
                        number: number.clone(),
                    },
                    now,
                ))
                .await
                .map(drop),
            Command::Suspend { session, reason } => c
                .suspend(at(
                    pb::SuspendRequest {
                        session: self.session(session),
                        reason: reason.clone(),
                    },
                    now,
                ))
                .await
                .map(drop),
            Command::Transfer {
                session,
                target,
                with_return,
                reason,
            } => {
                let target = match target {
                    TransferTarget::Queue(q) => pb::transfer_request::Target::Category(q.clone()),
                    TransferTarget::Window(w) => pb::transfer_request::Target::Window(*w),
                };
                c.transfer(at(
                    pb::TransferRequest {
                        session: self.session(session),
                        target: Some(target),
                        with_return: *with_return,
                        reason: reason.clone(),
                    },
                    now,
                ))
                .await
                .map(drop)
            }
            Command::RateFromPad {
                window,
                number,
                rating,
                comment,
            } => pb::pad_service_client::PadServiceClient::new(self.ch.clone())
                .rate(at(
                    pb::PadRatingRequest {
                        window: *window,
                        number: number.clone(),
                        rating: *rating as u32,
                        comment: comment.clone(),
                    },
                    now,
                ))
                .await
                .map(drop),
            Command::CloseFollowUp { id, resolution } => {
                pb::admin_service_client::AdminServiceClient::new(self.ch.clone())
                    .close_follow_up(at(
                        pb::CloseFollowUpRequest {
                            id: *id,
                            resolution: resolution.clone(),
                        },
                        now,
                    ))
                    .await
                    .map(drop)
            }
            other => bail!("the soak does not play {other:?}"),
        };
        match r {
            Ok(()) => Ok(true),
            Err(e)
                if matches!(
                    e.code(),
                    tonic::Code::Unavailable | tonic::Code::Internal | tonic::Code::Unknown
                ) =>
            {
                bail!("the server failed: {e}")
            }
            Err(_) => Ok(false),
        }
    }
}
