//! AdminService: the configuration, follow-ups, the day report and device
//! alerts.

use super::*;

#[tonic::async_trait]
impl pb::admin_service_server::AdminService for Hub {
    async fn get_catalog(
        &self,
        _: Req<pb::GetConfigRequest>,
    ) -> Result<Response<pb::Catalog>, Status> {
        self.read(|h, _, now| Ok(convert::catalog(h, now))).await
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
        let catalog = crate::config::parse(&limits::checked(req)?.toml, "UpdateConfig")
            .map_err(|e| Refusal::invalid_field("toml", e.to_string()).into_status())?;
        let cmd = Command::ReplaceCatalog {
            catalog: Box::new(catalog),
        };
        let sessions = self.staff.clone();
        self.ask(
            Some(cmd),
            Box::new(move |h, _, now| {
                // A staff session lasts only while its account has the same
                // role and password.
                let ended = sessions.retain(|who, hash| {
                    h.catalog.staff_account(&who.account).is_some_and(|a| {
                        staff_role(a.role) == who.role && a.password_argon2 == hash
                    })
                });
                if ended > 0 {
                    tracing::info!(ended, "staff sessions ended by the configuration change");
                }
                Ok(convert::catalog(h, now))
            }),
        )
        .await
        .map(Response::new)
    }
    async fn staff_login(
        &self,
        req: Req<pb::StaffLoginRequest>,
    ) -> Result<Response<pb::StaffSession>, Status> {
        let device = roles::session_device(&req);
        // Sessions are bound to the certificate itself (its serial): a
        // re-enrolled device with the same id does not inherit them.
        let serial = match roles::caller(&req) {
            roles::Caller::Device(s) => s.serial,
            _ => device.clone(),
        };
        let r = limits::checked(req)?;
        let generation = self.staff.generation();
        let id = r.account.clone();
        let password = r.password;
        let account = self
            .check_login(
                format!("staff:{}", r.account),
                &device,
                move |h| h.catalog.staff_account(&id).cloned(),
                move |a| match a {
                    Some(a) => engine::catalog::verify_password(a, &password),
                    None => {
                        engine::catalog::verify_password(&NO_ACCOUNT, &password);
                        false
                    }
                },
            )
            .await?;
        let now = std::time::Instant::now();
        let who = staff::StaffIdentity {
            account: account.id.clone(),
            role: staff_role(account.role),
        };
        let Some(token) = self
            .staff
            .open(who, &serial, &account.password_argon2, generation, now)
        else {
            return Err(refusal(
                Code::Aborted,
                Reason::StaffSessionInvalid,
                "the configuration changed while logging in: log in again",
            ));
        };
        self.audit_as(&account.id, format!("staff {}", account.id), "", "ok")
            .await?;
        Ok(Response::new(pb::StaffSession {
            token,
            account: account.id,
            name: account.name,
            role: account.role.as_str().into(),
            expires_at_ms: crate::now_ms() + staff::MAX_AGE.as_millis() as i64,
            idle_minutes: (staff::IDLE.as_secs() / 60) as u32,
        }))
    }
    async fn staff_logout(
        &self,
        req: Req<pb::StaffLogoutRequest>,
    ) -> Result<Response<pb::StaffLogoutResponse>, Status> {
        let serial = match roles::caller(&req) {
            roles::Caller::Device(s) => s.serial,
            _ => roles::session_device(&req),
        };
        let r = limits::checked(req)?;
        // Only the device that opened a session ends it.
        let ended = self.staff.close(&r.token, &serial);
        match &ended {
            Some(who) => {
                self.audit_as(&who.account, format!("staff {}", who.account), "", "ok")
                    .await?
            }
            None => {
                self.audit_outcome(
                    "staff session".into(),
                    "",
                    "refused: no such session on this device",
                )
                .await?
            }
        }
        Ok(Response::new(pb::StaffLogoutResponse {
            ended: ended.is_some(),
        }))
    }
    async fn list_follow_ups(
        &self,
        req: Req<pb::ListFollowUpsRequest>,
    ) -> Result<Response<pb::FollowUpList>, Status> {
        let all = limits::checked(req)?.include_closed;
        // The list names masked citizens and their complaints.
        self.audit("follow-ups".into(), "").await?;
        let render = move |h: &Hall, _seq: u64, _| {
            let items = h
                .follow_ups
                .values()
                .filter(|f| all || f.closed.is_none())
                .map(|f| convert::follow_up_on(f, h.service_date))
                .collect();
            Ok(pb::FollowUpList { items })
        };
        self.read(render).await
    }
    async fn close_follow_up(
        &self,
        req: Req<pb::CloseFollowUpRequest>,
    ) -> Result<Response<pb::FollowUp>, Status> {
        let r = limits::checked(req)?;
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
    async fn get_server_status(
        &self,
        req: Req<pb::ServerStatusRequest>,
    ) -> Result<Response<pb::ServerStatus>, Status> {
        limits::checked(req)?;
        let site = super::outbox::site_tag(&self.secret);
        // The outbox comes from the read model; the storage status must
        // answer even when that read does not.
        let notifications = self
            .read(move |h, _, _| {
                let n = &h.notify;
                Ok(pb::NotificationStatus {
                    pending: n.outbox.len() as u64,
                    delivered: n.delivered,
                    dead: n.dead_total,
                    dead_letters: n
                        .dead
                        .iter()
                        .rev()
                        .map(|d| pb::DeadLetter {
                            id: d.id,
                            key: format!("{site}-{}", d.key),
                            trigger: d.trigger.as_str().into(),
                            number: d.number.clone(),
                            phone_masked: d.phone_masked.clone(),
                            sink: d.sink.clone(),
                            attempts: d.attempts,
                            error: d.error.clone(),
                            at_ms: d.at,
                        })
                        .collect(),
                })
            })
            .await
            .ok()
            .map(Response::into_inner);
        let problem = self.shared.storage.borrow().clone();
        let committed = self
            .shared
            .committed
            .load(std::sync::atomic::Ordering::Acquire);
        Ok(Response::new(pb::ServerStatus {
            notifications,
            shipping: Some(convert::ship_status(&self.ship, committed)),
            writable: problem.is_none(),
            refusing_since_ms: problem.as_ref().map_or(0, |p| p.since),
            storage_problem: problem.map(|p| p.reason).unwrap_or_default(),
            committed_seq: self
                .shared
                .committed
                .load(std::sync::atomic::Ordering::Acquire),
            data_dir_free_bytes: self.store.free_bytes().unwrap_or(0),
        }))
    }

    async fn list_audit(
        &self,
        req: Req<pb::ListAuditRequest>,
    ) -> Result<Response<pb::AuditList>, Status> {
        let r = limits::checked(req)?;
        let limit = match r.limit {
            0 => 500,
            n => n.min(5000) as usize,
        };
        let store = self.store.clone();
        let upto = self
            .shared
            .committed
            .load(std::sync::atomic::Ordering::Acquire);
        let list = tokio::task::spawn_blocking(move || super::audit::list(&store, upto, &r, limit))
            .await
            .map_err(|e| Status::internal(format!("reading the audit trail: {e}")))?
            .map_err(|e| status(Failure::Storage(e.to_string())))?;
        Ok(Response::new(list))
    }

    async fn force_logout(
        &self,
        req: Req<pb::ForceLogoutRequest>,
    ) -> Result<Response<pb::WindowInfo>, Status> {
        // The staff account of the session, else the certificate's id.
        let by = match (audit::current().and_then(|c| c.staff), roles::caller(&req)) {
            (Some(account), _) => account,
            (None, roles::Caller::Device(s)) => s.id,
            _ => "admin".into(),
        };
        let r = limits::checked(req)?;
        let ticket = match pb::ForcedTicket::try_from(r.current_ticket) {
            Ok(pb::ForcedTicket::Requeue) => engine::ForcedTicket::Requeue,
            Ok(pb::ForcedTicket::Suspend) => engine::ForcedTicket::Suspend,
            _ => {
                return Err(Refusal::invalid_field(
                    "current_ticket",
                    "say what happens to the window's ticket: REQUEUE or SUSPEND",
                )
                .into_status());
            }
        };
        let window = r.window;
        let cmd = Command::ForceLogout {
            window,
            by,
            reason: r.reason,
            ticket,
        };
        self.ask(
            Some(cmd),
            Box::new(move |h, _, _| Ok(convert::window_info(h, window))),
        )
        .await
        .map(Response::new)
    }
    async fn cancel_appointment(
        &self,
        req: Req<pb::CancelAppointmentRequest>,
    ) -> Result<Response<pb::CancelAppointmentResponse>, Status> {
        let r = limits::checked(req)?;
        if r.reason.trim().is_empty() {
            return Err(Refusal::invalid_field(
                "reason",
                "say why the booking is cancelled (it is recorded, and the visitor is told)",
            )
            .into_status());
        }
        let id = r.id;
        let cmd = Command::CancelAppointment {
            id,
            person_key: None,
            reason: r.reason,
        };
        self.ask(
            Some(cmd),
            Box::new(move |h, _, _| {
                Ok(pb::CancelAppointmentResponse {
                    id,
                    state: h
                        .appointments
                        .get(&id)
                        .map(|a| a.state.name().to_string())
                        .unwrap_or_default(),
                })
            }),
        )
        .await
        .map(Response::new)
    }

    async fn work_follow_up(
        &self,
        req: Req<pb::WorkFollowUpRequest>,
    ) -> Result<Response<pb::FollowUp>, Status> {
        let by = console::acting(&req);
        let r = limits::checked(req)?;
        let id = r.id;
        let cmd = Command::WorkFollowUp {
            id,
            by,
            step: console::step(&r)?,
        };
        let render = Box::new(move |h: &Hall, _: &[LoggedEvent], _| {
            h.follow_ups
                .get(&id)
                .map(|f| convert::follow_up_on(f, h.service_date))
                .ok_or_else(|| status(EngineError::UnknownFollowUp(id).into()))
        });
        self.ask(Some(cmd), render).await.map(Response::new)
    }
    async fn pause_window(
        &self,
        req: Req<pb::PauseWindowRequest>,
    ) -> Result<Response<pb::WindowInfo>, Status> {
        let by = console::acting(&req);
        let r = limits::checked(req)?;
        let window = r.window;
        let cmd = Command::SupervisePause {
            window,
            by,
            reason: r.reason,
            resume: r.resume,
        };
        self.ask(
            Some(cmd),
            Box::new(move |h, _, _| Ok(convert::window_info(h, window))),
        )
        .await
        .map(Response::new)
    }
    async fn check_config(
        &self,
        req: Req<pb::ConfigDocument>,
    ) -> Result<Response<pb::ConfigCheck>, Status> {
        let text = limits::checked(req)?.toml;
        self.read(move |h: &Hall, _, _| {
            Ok(console::check_config(
                &text,
                &crate::config::to_toml(&h.catalog),
            ))
        })
        .await
    }
    async fn get_calendar(
        &self,
        req: Req<pb::CalendarRequest>,
    ) -> Result<Response<pb::CalendarMonth>, Status> {
        let month = limits::checked(req)?.month;
        self.read(move |h: &Hall, _, _| console::calendar_month(&h.catalog, &month))
            .await
    }
    async fn search_tickets(
        &self,
        req: Req<pb::TicketSearchRequest>,
    ) -> Result<Response<pb::TicketSearchResult>, Status> {
        let r = limits::checked(req)?;
        let date = super::reports::date_range(&r.date, &r.date)?.0;
        let day = self.day_log(date).await?;
        let clock = engine::calendar::Clock::from_parts(
            &day.builder.catalog.timezone,
            &day.builder.catalog.day_starts_at,
        );
        let limit = match r.limit {
            0 => 200,
            n => n.min(2000) as usize,
        };
        let closed = day
            .builder
            .date
            .is_some_and(|d| d < clock.service_date(crate::now_ms()));
        let found: Vec<pb::TicketSummary> = console::summaries(&day, closed)
            .into_iter()
            .map(|(_, t)| t)
            .filter(|t| console::matches(t, &r, &clock))
            .collect();
        self.audit(format!("tickets of {date}"), "").await?;
        Ok(Response::new(pb::TicketSearchResult {
            date: date.to_string(),
            truncated: found.len() > limit,
            tickets: found.into_iter().take(limit).collect(),
        }))
    }
    async fn get_ticket_history(
        &self,
        req: Req<pb::TicketHistoryRequest>,
    ) -> Result<Response<pb::TicketHistory>, Status> {
        let r = limits::checked(req)?;
        let date = super::reports::date_range(&r.date, &r.date)?.0;
        let day = self.day_log(date).await?;
        let today = self
            .read(|h: &Hall, _, _| Ok(h.service_date))
            .await?
            .into_inner();
        let Some((id, ticket)) = console::summaries(&day, date < today)
            .into_iter()
            .find(|(_, t)| t.number == r.number.to_uppercase())
        else {
            return Err(status(EngineError::UnknownTicket(r.number).into()));
        };
        let mut clerk = None;
        let entries = day
            .events
            .iter()
            .filter(|l| l.event.ticket_id() == Some(id))
            .filter_map(|l| console::history_entry(l, &mut clerk))
            .collect();
        self.audit(format!("ticket {} of {date}", ticket.number), "")
            .await?;
        Ok(Response::new(pb::TicketHistory {
            ticket: Some(ticket),
            entries,
        }))
    }
    async fn list_devices(
        &self,
        req: Req<pb::ListDevicesRequest>,
    ) -> Result<Response<pb::DeviceList>, Status> {
        limits::checked(req)?;
        self.device_list().await.map(Response::new)
    }
    async fn revoke_device(
        &self,
        req: Req<pb::RevokeDeviceRequest>,
    ) -> Result<Response<pb::DeviceList>, Status> {
        let r = limits::checked(req)?;
        if r.reason.trim().is_empty() {
            return Err(
                Refusal::invalid_field("reason", "say why the device is revoked").into_status(),
            );
        }
        let dir = self.data_dir.clone();
        let id = r.id.clone();
        let n = tokio::task::spawn_blocking(move || crate::pki::revoke(&dir, &id))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::failed_precondition(format!("revoking: {e}")))?;
        if n == 0 {
            return Err(refusal(
                Code::NotFound,
                Reason::Unspecified,
                format!("no enrolled, unrevoked device {}", r.id),
            ));
        }
        // The revocation list is re-read within a second; the audit task
        // records the new lines too.
        self.audit(format!("device {}", r.id), &r.reason).await?;
        self.device_list().await.map(Response::new)
    }
    async fn get_day_report(
        &self,
        _: Req<pb::DayReportRequest>,
    ) -> Result<Response<pb::DayReport>, Status> {
        let render = |h: &Hall, _seq: u64, _| Ok(day_report(h));
        self.read(render).await
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

impl Hub {
    /// Every enrolled device with its last report.
    async fn device_list(&self) -> Result<pb::DeviceList, Status> {
        let dir = self.data_dir.clone();
        let enrolled = tokio::task::spawn_blocking(move || crate::pki::devices(&dir))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::internal(format!("listing devices: {e}")))?;
        self.read(move |h: &Hall, _, _| {
            Ok(pb::DeviceList {
                devices: enrolled
                    .iter()
                    .map(|d| {
                        let last = h.devices.get(&d.subject.id);
                        pb::EnrolledDevice {
                            role: d.subject.role.to_string(),
                            id: d.subject.id.clone(),
                            serial: d.subject.serial.clone(),
                            not_after: d.not_after.clone(),
                            revoked: d.revoked,
                            last_status: last.map(|l| l.status.clone()).unwrap_or_default(),
                            last_detail: last.map(|l| l.detail.clone()).unwrap_or_default(),
                            last_report_ms: last.map_or(0, |l| l.at),
                        }
                    })
                    .collect(),
            })
        })
        .await
        .map(Response::into_inner)
    }
}

/// Devices whose last report is a problem, oldest first.
pub(super) fn device_alerts(h: &Hall) -> Vec<pb::DeviceAlert> {
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

/// The role a staff account acts with.
fn staff_role(r: engine::catalog::StaffRole) -> crate::pki::Role {
    match r {
        engine::catalog::StaffRole::Supervisor => crate::pki::Role::Supervisor,
        engine::catalog::StaffRole::Admin => crate::pki::Role::Admin,
    }
}

/// Stands in for an unknown account, so a wrong account id costs the same
/// Argon2id evaluation as a wrong password.
static NO_ACCOUNT: std::sync::LazyLock<engine::catalog::StaffAccount> =
    std::sync::LazyLock::new(|| engine::catalog::StaffAccount {
        id: String::new(),
        name: String::new(),
        role: engine::catalog::StaffRole::Supervisor,
        password_argon2: engine::catalog::hash_pin("", "", rand::random()),
    });
