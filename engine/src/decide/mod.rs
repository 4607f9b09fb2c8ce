//! `decide`: which events a command causes, on `&Hall` (it never mutates).
//! One file per command family, one method per command; the shared guards
//! (session checks, the window being free) are here.
//!
//! A new command: add its variant to `Command` (model.rs), a method in the
//! family's file, its arm below, and the events it emits to `fold.rs`.

mod admin;
mod issuing;
mod rating;
mod serving;
mod transfer;

use crate::*;

impl Hall {
    pub(crate) fn decide(&self, cmd: Command, now: Millis) -> Result<Vec<Event>, EngineError> {
        match cmd {
            Command::Tick => self.tick(now),
            Command::OptInNotify {
                service_date,
                number,
                phone,
                ahead,
            } => self.opt_in_notify(service_date, number, phone, ahead),
            Command::NotificationOutcome { id, sink, outcome } => {
                self.notification_outcome(id, sink, outcome)
            }
            Command::IssueTicket {
                request_id,
                code,
                priority,
                channel,
                person,
            } => self.issue_ticket(request_id, code, priority, channel, person, now),
            Command::IssueFromSite {
                request_id,
                code,
                from,
            } => self.issue_from_site(request_id, code, from, now),
            Command::SendToSite {
                session,
                ticket,
                to,
            } => self.send_to_site(session, ticket, to),
            Command::BookAppointment {
                request_id,
                code,
                person,
                date,
                slot_start,
                slot_end,
                phone,
            } => self.book_appointment(
                request_id, code, person, date, slot_start, slot_end, phone, now,
            ),
            Command::CheckInAppointment {
                request_id,
                person_key,
                appointment,
            } => self.check_in_appointment(request_id, person_key, appointment, now),
            Command::CancelTicket { number, reason } => self.cancel_ticket(number, reason),
            Command::CancelAppointment {
                id,
                person_key,
                reason,
            } => self.cancel_appointment(id, person_key, reason, now),
            Command::ArriveRemote {
                service_date,
                number,
            } => self.arrive_remote(service_date, number, now),
            Command::Login {
                window,
                clerk,
                token,
            } => self.login(window, clerk, token),
            Command::Logout { session } => self.logout(session),
            Command::Pause { session, reason } => self.pause(session, reason),
            Command::Resume { session } => self.resume(session),
            Command::CallNext { session } => self.call_next(session, now),
            Command::CallTicket { session, number } => self.call_ticket(session, number, now),
            Command::Recall { session } => self.recall(session),
            Command::StartService { session } => self.start_service(session),
            Command::Finish {
                session,
                resolved,
                reason,
                case,
            } => self.finish(session, resolved, reason, case, now),
            Command::NoShow { session } => self.no_show(session),
            Command::Requeue { session, number } => self.requeue(session, number, now),
            Command::Suspend { session, reason } => self.suspend(session, reason),
            Command::CallBack { session, number } => self.call_back(session, number, now),
            Command::Transfer {
                session,
                target,
                with_return,
                reason,
            } => self.transfer(session, target, with_return, reason),
            Command::WorkFollowUp { id, by, step } => self.work_follow_up(id, by, step),
            Command::SupervisePause {
                window,
                by: _,
                reason,
                resume,
            } => self.supervise_pause(window, reason, resume),
            Command::RateFromPad {
                window,
                number,
                rating,
                comment,
            } => self.rate_from_pad(window, number, rating, comment, now),
            Command::RateFromPhone {
                service_date,
                number,
                rating,
                comment,
            } => self.rate_from_phone(service_date, number, rating, comment, now),
            Command::CloseFollowUp { id, resolution } => self.close_follow_up(id, resolution),
            Command::ReplaceCatalog { catalog } => self.replace_catalog(catalog),
            Command::ForceLogout {
                window,
                by,
                reason,
                ticket,
            } => self.force_logout(window, by, reason, ticket),
            Command::ApplyRetention {
                cutoff,
                log_records,
            } => Ok(vec![Event::RetentionApplied {
                cutoff,
                report: self.retention_report(cutoff, log_records),
            }]),
            Command::ReportDevice {
                device_id,
                kind,
                status,
                detail,
            } => self.report_device(device_id, kind, status, detail),
        }
    }

    fn session(&self, s: &Session) -> Result<&WindowRuntime, EngineError> {
        let rt = self
            .windows
            .get(&s.window)
            .ok_or(EngineError::UnknownWindow(s.window))?;
        if rt.status == WindowStatus::Closed || rt.token.as_deref() != Some(s.token.as_str()) {
            return Err(EngineError::NotLoggedIn(s.window));
        }
        Ok(rt)
    }

    fn current(&self, s: &Session) -> Result<&Ticket, EngineError> {
        let rt = self.session(s)?;
        rt.current
            .and_then(|id| self.tickets.get(&id))
            .ok_or(EngineError::NoCurrentTicket(s.window))
    }

    pub(crate) fn today_ticket(&self, number: &str) -> Result<&Ticket, EngineError> {
        self.ticket_by_number(number)
            .ok_or_else(|| EngineError::UnknownTicket(number.to_string()))
    }

    /// Ticket `number` of `service_date`, which must still be today: a
    /// holder's request that arrives after the rollover is for no ticket.
    pub(crate) fn ticket_of_day(
        &self,
        service_date: NaiveDate,
        number: &str,
    ) -> Result<&Ticket, EngineError> {
        if service_date != self.service_date {
            return Err(EngineError::UnknownTicket(number.to_string()));
        }
        self.today_ticket(number)
    }

    fn ensure_free(&self, s: &Session) -> Result<(), EngineError> {
        let rt = self.session(s)?;
        if rt.status == WindowStatus::Paused {
            return Err(EngineError::WindowPaused(s.window));
        }
        if let Some(t) = rt.current.and_then(|id| self.tickets.get(&id)) {
            let hint = if t.state == TicketState::Called {
                "start it, recall it or mark it no-show first"
            } else {
                "finish, suspend or transfer it first"
            };
            return Err(EngineError::Busy {
                window: s.window,
                number: t.number.clone(),
                state: t.state.name(),
                hint,
            });
        }
        Ok(())
    }

    fn wrong_state(t: &Ticket, action: &'static str) -> EngineError {
        EngineError::WrongState {
            number: t.number.clone(),
            state: t.state.name(),
            action,
        }
    }
}
