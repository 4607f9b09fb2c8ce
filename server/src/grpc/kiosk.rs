//! KioskService: the catalogue, issuing, appointments, ticket status,
//! cancel and device reports (kiosks, phones, the status page).

use super::*;

/// A ticket render that also reads the configured `hall.public_url` (into
/// `status_url`, which `Hub::with_secret` completes).
fn with_public_url(inner: Render<pb::Ticket>) -> Render<pb::Ticket> {
    Box::new(move |h, l, now| {
        inner(h, l, now).map(|mut t| {
            t.status_url = h.catalog.hall.public_url.clone();
            t
        })
    })
}

#[tonic::async_trait]
impl pb::kiosk_service_server::KioskService for Hub {
    #[tracing::instrument(skip_all)]
    async fn get_catalog(
        &self,
        _: Req<pb::GetCatalogRequest>,
    ) -> Result<Response<pb::Catalog>, Status> {
        self.read(|h, _, now| Ok(convert::catalog(h, now))).await
    }

    #[tracing::instrument(skip_all)]
    async fn issue_ticket(
        &self,
        req: Req<pb::IssueTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let caller = roles::caller(&req);
        let r = limits::checked(req)?;
        if let Some(origin) = r.origin {
            return self
                .issue_from_site(&caller, r.request_id, r.category, origin)
                .await;
        }
        let person = self.person(r.identity)?;
        let rid = request_id(r.request_id)?;
        let channel = convert::channel_from(r.channel)?;
        if channel == crate::engine::Channel::Site {
            return Err(Refusal::invalid_field(
                "channel",
                "only another site sends a ticket here (with its origin)",
            )
            .into_status());
        }
        if channel == crate::engine::Channel::Mobile {
            // A remote ticket is not callable before its visitor checks in:
            // it comes from the phone (`/remote`), never from a device.
            return Err(Refusal::invalid_field(
                "channel",
                "remote tickets are taken on the phone (/remote), not at a device",
            )
            .into_status());
        }
        let cmd = Command::IssueTicket {
            request_id: Some(rid.clone()),
            code: r.category,
            priority: convert::priority_from(r.priority)?,
            channel,
            person,
        };
        self.ask(Some(cmd), with_public_url(render_request(rid)))
            .await
            .map(|t| Response::new(self.with_secret(t)))
    }

    async fn check_in_appointment(
        &self,
        req: Req<pb::CheckInAppointmentRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let r = limits::checked(req)?;
        if !r.qr.trim().is_empty() {
            return self
                .check_in_qr(&r.qr, r.request_id)
                .await
                .map(Response::new);
        }
        let person = self.person(r.identity)?.ok_or_else(|| {
            Refusal::invalid_field("identity", "check-in needs the ID card or the booking's QR")
                .into_status()
        })?;
        let rid = request_id(r.request_id)?;
        let cmd = Command::CheckInAppointment {
            request_id: Some(rid.clone()),
            person_key: person.key,
            appointment: None,
        };
        self.ask(Some(cmd), with_public_url(render_request(rid)))
            .await
            .map(|t| Response::new(self.with_secret(t)))
    }

    async fn book_appointment(
        &self,
        req: Req<pb::BookAppointmentRequest>,
    ) -> Result<Response<pb::Appointment>, Status> {
        let r = limits::checked(req)?;
        let person = self.person(r.identity)?.ok_or_else(|| {
            Refusal::invalid_field("identity", "booking needs an ID number").into_status()
        })?;
        let date = r.date.parse().map_err(|_| {
            Refusal::invalid_field(
                "date",
                format!("'{}' is not YYYY-MM-DD", hall_proto::errors::echo(&r.date)),
            )
            .into_status()
        })?;
        let rid = request_id(r.request_id)?;
        let cmd = Command::BookAppointment {
            request_id: Some(rid.clone()),
            code: r.category,
            person,
            date,
            slot_start: r.slot_start,
            slot_end: r.slot_end,
            phone: None,
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
        let r = limits::checked(req)?;
        if !r.service_date.is_empty() && r.service_date.parse::<chrono::NaiveDate>().is_err() {
            return Err(Refusal::invalid_field(
                "service_date",
                format!(
                    "'{}' is not YYYY-MM-DD",
                    hall_proto::errors::echo(&r.service_date)
                ),
            )
            .into_status());
        }
        // Staff looking a ticket up (its masked name, its history) is a read
        // of personal data; a kiosk showing a visitor their own is not.
        self.audit(
            format!("ticket {}", hall_proto::errors::echo(&r.number)),
            "",
        )
        .await?;
        let render = move |h: &Hall, _seq: u64, now| {
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
        };
        self.read(render).await
    }

    async fn cancel_ticket(
        &self,
        req: Req<pb::CancelTicketRequest>,
    ) -> Result<Response<pb::Ticket>, Status> {
        let caller = roles::caller(&req);
        let r = limits::checked(req)?;
        let staff = matches!(&caller, roles::Caller::Device(s) if matches!(s.role, crate::pki::Role::Supervisor | crate::pki::Role::Admin));
        if staff {
            // Staff cancel any ticket by its number, and say why.
            if r.reason.trim().is_empty() {
                return Err(Refusal::invalid_field(
                    "reason",
                    "staff cancel with a reason (it is recorded with the ticket)",
                )
                .into_status());
            }
        } else if !r.secret.is_empty() || !matches!(caller, roles::Caller::Demo) {
            // A kiosk (or anyone outside) cancels only with the ticket's own
            // secret from its slip's QR: the number alone is on the board.
            let date = self
                .read(|h, _, _| Ok(h.service_date.to_string()))
                .await?
                .into_inner();
            let expected = self.ticket_secret(&date, &r.number);
            use subtle::ConstantTimeEq;
            if !bool::from(expected.as_bytes().ct_eq(r.secret.as_bytes())) {
                return Err(Refusal::new(
                    Code::PermissionDenied,
                    Reason::TicketSecretMismatch,
                    "cancelling a ticket needs its secret, from the QR on its slip",
                )
                .with("number", hall_proto::errors::echo(&r.number))
                .into_status());
            }
        }
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
        let caller = roles::caller(&req);
        let r = limits::checked(req)?;
        // A device reports for itself: its certificate's id prefixes what it
        // names (`kiosk-3/printer`), so no device can raise or clear
        // another's alerts.
        let device_id = match caller {
            roles::Caller::Device(s)
                if r.device_id != s.id && !r.device_id.starts_with(&format!("{}/", s.id)) =>
            {
                format!("{}/{}", s.id, r.device_id)
            }
            _ => r.device_id,
        };
        let cmd = Command::ReportDevice {
            device_id,
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
