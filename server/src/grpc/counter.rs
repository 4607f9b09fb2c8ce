//! CounterService: what a clerk does at a window, through a session token
//! from `Login`.

use super::*;

/// Stands in for an unknown clerk, so a wrong clerk id costs the same
/// Argon2id evaluation as a wrong PIN (the answer's timing tells nothing).
static NOBODY: std::sync::LazyLock<crate::engine::catalog::Clerk> =
    std::sync::LazyLock::new(|| crate::engine::catalog::Clerk {
        id: String::new(),
        name: String::new(),
        pin_argon2: crate::engine::catalog::hash_pin("", "", rand::random()),
        pin_sha256: None,
        home_site: String::new(),
        desk: String::new(),
    });

impl Hub {
    /// Checks a clerk's PIN before the login reaches the writer.
    async fn check_pin(&self, clerk_id: &str, pin: String, device: &str) -> Result<(), Status> {
        let id = clerk_id.to_string();
        self.check_login(
            format!("clerk:{clerk_id}"),
            device,
            move |h| h.catalog.clerk(&id).cloned(),
            move |c| match c {
                Some(c) => crate::engine::catalog::verify_pin(c, &pin),
                None => {
                    crate::engine::catalog::verify_pin(&NOBODY, &pin);
                    false
                }
            },
        )
        .await
        .map(|_| ())
    }

    /// Checks a login (`key` is `clerk:ID` or `staff:ID`): the lockout first
    /// (per account and per device), then `verify` against the account
    /// `lookup` finds in the configuration, on a blocking thread (Argon2id:
    /// tens of milliseconds of CPU). `verify` gets `None` for an unknown
    /// account and must cost the same then. A failure is logged and
    /// audited, never with the secret tried.
    pub(super) async fn check_login<T: Send + 'static>(
        &self,
        key: String,
        device: &str,
        lookup: impl FnOnce(&Hall) -> Option<T> + Send + 'static,
        verify: impl FnOnce(Option<&T>) -> bool + Send + 'static,
    ) -> Result<T, Status> {
        let keys = [key.clone(), format!("device:{device}")];
        let (kind, id) = key.split_once(':').unwrap_or(("", &key));
        let now = std::time::Instant::now();
        // Counted before the check, refunded on success: see `lockout`.
        if let Err(l) = self.lockout.begin(&keys, now) {
            return Err(locked_out(&l, now));
        }
        let account = self.read(move |h, _, _| Ok(lookup(h))).await?.into_inner();
        // Argon2id takes 19 MiB and tens of ms per check: at most one check
        // per core at a time, so a flood of logins queues here instead of
        // exhausting memory.
        let _permit = self
            .pin_checks
            .acquire()
            .await
            .map_err(|_| refusal(Code::Unavailable, Reason::ShuttingDown, "stopping"))?;
        let (ok, account) =
            tokio::task::spawn_blocking(move || (verify(account.as_ref()), account))
                .await
                .map_err(|e| Status::internal(format!("checking the login: {e}")))?;
        let now = std::time::Instant::now();
        if ok && let Some(account) = account {
            self.lockout.succeeded(&keys, now);
            return Ok(account);
        }
        // The account id and the device are logged, never the secret tried.
        tracing::warn!(
            kind,
            account = id,
            device,
            "login refused: wrong account id or secret"
        );
        let locked = self.lockout.failed(&keys, now);
        let what = if kind == "clerk" {
            "wrong clerk id or PIN"
        } else {
            "wrong account or password"
        };
        let outcome = if locked.is_empty() {
            format!("refused: {what}")
        } else {
            format!(
                "refused: {what}; locked {}",
                locked
                    .iter()
                    .map(|l| l.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        if let Err(e) = self
            .audit_outcome(
                format!("{kind} {}", hall_proto::errors::echo(id)),
                "",
                &outcome,
            )
            .await
        {
            tracing::warn!(error = %e, "failed login not recorded in the audit trail");
        }
        for l in locked {
            tracing::warn!(
                locked = %l.key,
                minutes = lockout::LOCK.as_secs() / 60,
                "{} failed logins: locked",
                lockout::MAX_FAILURES
            );
        }
        Err(status(EngineError::BadCredentials.into()))
    }

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
    #[tracing::instrument(skip_all, fields(window = req.get_ref().window))]
    async fn login(
        &self,
        req: Req<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let caller = roles::caller(&req);
        let device = caller.device(req.remote_addr());
        let bound_to = roles::session_device(&req);
        let r = limits::checked(req)?;
        self.check_pin(&r.clerk_id, r.pin, &device).await?;
        let token = hall_proto::client::new_request_id();
        let window = r.window;
        let cmd = Command::Login {
            window,
            clerk: r.clerk_id.clone(),
            token: bind_token(&bound_to, &token),
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
        let dev = roles::session_device(&req);
        let s = session(&dev, limits::checked(req)?.session)?;
        self.window_cmd(s.window, Command::Logout { session: s })
            .await
    }
    async fn pause(&self, req: Req<pb::PauseRequest>) -> Result<Response<pb::WindowInfo>, Status> {
        let dev = roles::session_device(&req);
        let r = limits::checked(req)?;
        let s = session(&dev, r.session)?;
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
        let dev = roles::session_device(&req);
        let s = session(&dev, limits::checked(req)?.session)?;
        self.window_cmd(s.window, Command::Resume { session: s })
            .await
    }
    #[tracing::instrument(skip_all)]
    async fn call_next(&self, req: Req<pb::WindowRequest>) -> Result<Response<pb::Ticket>, Status> {
        let dev = roles::session_device(&req);
        self.ticket_cmd(Command::CallNext {
            session: session(&dev, limits::checked(req)?.session)?,
        })
        .await
    }
    async fn call_ticket(
        &self,
        req: Req<pb::TicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let dev = roles::session_device(&req);
        let r = limits::checked(req)?;
        self.ticket_cmd(Command::CallTicket {
            session: session(&dev, r.session)?,
            number: r.number,
        })
        .await
    }
    async fn recall(&self, req: Req<pb::WindowRequest>) -> Result<Response<pb::Ticket>, Status> {
        let dev = roles::session_device(&req);
        self.ticket_cmd(Command::Recall {
            session: session(&dev, limits::checked(req)?.session)?,
        })
        .await
    }
    async fn start_service(
        &self,
        req: Req<pb::WindowRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let dev = roles::session_device(&req);
        self.ticket_cmd(Command::StartService {
            session: session(&dev, limits::checked(req)?.session)?,
        })
        .await
    }
    async fn finish(&self, req: Req<pb::FinishRequest>) -> Result<Response<pb::Ticket>, Status> {
        let dev = roles::session_device(&req);
        let r = limits::checked(req)?;
        let resolved = match pb::FinishOutcome::try_from(r.outcome) {
            Ok(pb::FinishOutcome::Resolved) => true,
            Ok(pb::FinishOutcome::Unresolved) => false,
            _ => {
                return Err(Refusal::invalid_field(
                    "outcome",
                    "say how the matter ended: RESOLVED or UNRESOLVED (opens a follow-up)",
                )
                .into_status());
            }
        };
        let cmd = Command::Finish {
            session: session(&dev, r.session)?,
            resolved,
            reason: r.unresolved_reason,
            case: Some(crate::engine::CaseRef {
                case_no: r.case_no,
                service_code: r.service_code,
            }),
        };
        self.ticket_cmd(cmd).await
    }
    async fn no_show(&self, req: Req<pb::WindowRequest>) -> Result<Response<pb::Ticket>, Status> {
        let dev = roles::session_device(&req);
        self.ticket_cmd(Command::NoShow {
            session: session(&dev, limits::checked(req)?.session)?,
        })
        .await
    }
    async fn requeue(&self, req: Req<pb::TicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        let dev = roles::session_device(&req);
        let r = limits::checked(req)?;
        self.ticket_cmd(Command::Requeue {
            session: session(&dev, r.session)?,
            number: r.number,
        })
        .await
    }
    async fn suspend(&self, req: Req<pb::SuspendRequest>) -> Result<Response<pb::Ticket>, Status> {
        let dev = roles::session_device(&req);
        let r = limits::checked(req)?;
        self.ticket_cmd(Command::Suspend {
            session: session(&dev, r.session)?,
            reason: r.reason,
        })
        .await
    }
    async fn call_back(&self, req: Req<pb::TicketRequest>) -> Result<Response<pb::Ticket>, Status> {
        let dev = roles::session_device(&req);
        let r = limits::checked(req)?;
        self.ticket_cmd(Command::CallBack {
            session: session(&dev, r.session)?,
            number: r.number,
        })
        .await
    }
    async fn transfer(
        &self,
        req: Req<pb::TransferRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let dev = roles::session_device(&req);
        let r = limits::checked(req)?;
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
            session: session(&dev, r.session)?,
            target,
            with_return: r.with_return,
            reason: r.reason,
        };
        self.ticket_cmd(cmd).await
    }
    async fn send_to_site(
        &self,
        req: Req<pb::SendToSiteRequest>,
    ) -> Result<Response<pb::SendToSiteResponse>, Status> {
        let dev = roles::session_device(&req);
        let r = limits::checked(req)?;
        self.send_ticket_to_site(&dev, r).await
    }
    async fn list_peer_sites(
        &self,
        req: Req<pb::WindowRequest>,
    ) -> Result<Response<pb::PeerSites>, Status> {
        let dev = roles::session_device(&req);
        let r = limits::checked(req)?;
        self.peer_sites(&dev, r).await
    }
    async fn get_my_queue(
        &self,
        req: Req<pb::WindowRequest>,
    ) -> Result<Response<pb::MyQueue>, Status> {
        let dev = roles::session_device(&req);
        let s = session(&dev, limits::checked(req)?.session)?;
        let render = move |h: &Hall, _seq: u64, now| {
            let rt = logged_in(h, &s)?;
            let waiting = h
                .window_queue(s.window, now, 20)
                .into_iter()
                .filter_map(|id| h.ticket(id))
                .map(|t| convert::ticket(h, t, now))
                .collect();
            let suspended = h.suspended_at(s.window);
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
                device_alerts: super::admin::device_alerts(h),
            })
        };
        self.read(render).await
    }
    async fn get_catalog(
        &self,
        req: Req<pb::WindowRequest>,
    ) -> Result<Response<pb::Catalog>, Status> {
        let dev = roles::session_device(&req);
        // The catalogue is what the hall shows anyone; a session, when
        // given, must still be the window's current one.
        let given = limits::checked(req)?.session.map(|s| Session {
            window: s.window,
            token: bind_token(&dev, &s.token),
        });
        let render = move |h: &Hall, _seq: u64, now| {
            if let Some(s) = &given
                && h.windows.get(&s.window).and_then(|rt| rt.token.as_deref())
                    != Some(s.token.as_str())
            {
                return Err(status(EngineError::NotLoggedIn(s.window).into()));
            }
            Ok(convert::catalog(h, now))
        };
        self.read(render).await
    }
}

/// The refusal for a locked account or device: how long it lasts.
pub(super) fn locked_out(l: &lockout::Locked, now: std::time::Instant) -> Status {
    let secs = l.until.saturating_duration_since(now).as_secs();
    let (scope, who) = l.key.split_once(':').unwrap_or(("", ""));
    let scope = if scope == "clerk" || scope == "staff" {
        "account"
    } else {
        "device"
    };
    Refusal::new(
        Code::Unauthenticated,
        Reason::LockedOut,
        format!(
            "too many failed logins: this {scope} is locked for {} more minutes",
            secs.div_ceil(60)
        ),
    )
    .with("scope", scope)
    .with("who", who)
    .with("retry_after_s", secs)
    .into_status()
}
