//! Events: every state change, what the store persists and `Hall::fold`
//! applies, with the records they carry (the audit trail's entries, what a
//! retention run removed) and what the store asks of them (`strip_persons`
//! for the retention run, `ticket_id` for the console's history).

use super::catalog::Catalog;
use super::model::*;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Every state change. `Hall` is the fold of all events; the store persists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Event {
    DayRolled {
        to: NaiveDate,
        expired: Vec<TicketId>,
    },
    CatalogReplaced {
        catalog: Box<Catalog>,
    },
    TicketIssued {
        ticket: Box<Ticket>,
        request_id: Option<String>,
        appointment: Option<u64>,
    },
    AppointmentBooked {
        appointment: Box<Appointment>,
        request_id: Option<String>,
    },
    TicketCancelled {
        ticket: TicketId,
        reason: String,
    },
    AppointmentCancelled {
        id: u64,
        by_visitor: bool,
        reason: String,
    },
    /// A booking's reminder is due: the day before (`soon` false) or 30
    /// minutes before its slot.
    AppointmentReminder {
        id: u64,
        soon: bool,
    },
    /// Bookings whose day ended without a check-in (at the rollover).
    AppointmentsMissed {
        ids: Vec<u64>,
    },
    /// Too many missed appointments: no booking before `until`.
    BookingBlocked {
        person_key: String,
        until: NaiveDate,
        missed: u32,
    },
    /// A remote ticket's visitor checked in: callable from now, at its place.
    RemoteArrived {
        ticket: TicketId,
    },
    /// A remote ticket not yet checked in has nobody ahead of it: its grace
    /// period runs from now.
    RemoteAtFront {
        ticket: TicketId,
    },
    /// A remote ticket's grace period ran out before its visitor arrived.
    TicketExpired {
        ticket: TicketId,
        reason: String,
    },
    WindowOpened {
        window: WindowNo,
        clerk: String,
        token: String,
    },
    WindowClosed {
        window: WindowNo,
    },
    /// A supervisor logged the window's clerk out (`Command::ForceLogout`).
    WindowForcedOut {
        window: WindowNo,
        clerk: String,
        by: String,
        reason: String,
    },
    WindowPaused {
        window: WindowNo,
        reason: String,
    },
    WindowResumed {
        window: WindowNo,
    },
    TicketCalled {
        ticket: TicketId,
        window: WindowNo,
        clerk: String,
        reason: CallReason,
    },
    TicketRecalled {
        ticket: TicketId,
        window: WindowNo,
        count: u32,
    },
    ServiceStarted {
        ticket: TicketId,
        window: WindowNo,
    },
    TicketFinished {
        ticket: TicketId,
        window: WindowNo,
        resolved: bool,
        reason: String,
        after: AfterFinish,
    },
    TicketNoShow {
        ticket: TicketId,
        window: WindowNo,
        auto: bool,
    },
    TicketRequeued {
        ticket: TicketId,
        sort_at: Millis,
    },
    TicketSuspended {
        ticket: TicketId,
        window: WindowNo,
        reason: String,
    },
    TicketTransferred {
        ticket: TicketId,
        from_window: WindowNo,
        target: TransferTarget,
        return_to: Option<ReturnTo>,
        reason: String,
    },
    RatingSubmitted {
        ticket: TicketId,
        window: WindowNo,
        rating: u8,
        comment: String,
        /// Where it came from (old logs: the clerk's terminal).
        #[serde(default)]
        channel: crate::report::RatingChannel,
    },
    /// The clerk attached the case number (办件编号) and the service item's
    /// code to a ticket at finish, for the 好差评 record.
    CaseRecorded {
        ticket: TicketId,
        case_no: String,
        service_code: String,
    },
    FollowUpOpened {
        follow_up: Box<FollowUp>,
    },
    FollowUpClosed {
        id: u64,
        resolution: String,
    },
    FollowUpWorked {
        id: u64,
        by: String,
        step: FollowUpStep,
    },
    DeviceReported {
        device_id: String,
        kind: String,
        status: String,
        detail: String,
    },
    /// A retention run: person keys, masked names and birth dates older
    /// than `cutoff` are gone from the state (and, by the store, from the log).
    RetentionApplied {
        cutoff: Millis,
        report: RetentionReport,
    },
    /// A ticket's holder opted in to notifications (`notify`).
    NotifyOptedIn {
        ticket: TicketId,
        /// Blanked by the retention run.
        phone: String,
        ahead: u32,
    },
    /// A notification was decided: it is in the outbox until every sink
    /// took it (or gave up).
    NotificationQueued {
        notification: Box<crate::notify::Notification>,
    },
    /// One sink's delivery of a notification ended.
    NotificationDone {
        id: u64,
        sink: String,
        outcome: crate::notify::Outcome,
    },
    /// The audit trail: who did (or tried) what, written in the same batch
    /// as the events of the action it describes. Changes no state.
    Audited {
        record: Box<AuditRecord>,
    },
}

/// What a retention run removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionReport {
    /// Tickets in the live state whose person was dropped.
    pub tickets: u32,
    /// Past appointments dropped from the live state.
    pub appointments: u32,
    /// Follow-ups whose masked name was dropped.
    pub follow_ups: u32,
    /// Records of the stored log rewritten without persons.
    pub log_records: u64,
}

/// One entry of the audit trail (every staff and admin action, every
/// configuration change and enrollment, every read of personal data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The person: the clerk logged in at the window, or the staff
    /// member's certificate id.
    pub who: String,
    /// kiosk, board, counter, supervisor, admin (or "demo", "server").
    pub role: String,
    /// The device the call came from (its certificate id).
    pub device: String,
    /// The method, e.g. `CounterService/CallNext`.
    pub action: String,
    /// What it acted on: `window 3`, `ticket A012`, `follow-up 7`, ...
    pub subject: String,
    /// The reason given, if any.
    pub why: String,
    /// `ok`, or why it was refused.
    pub outcome: String,
}

impl Event {
    /// Removes what identifies a person (person key, masked name, birth
    /// date) from this event, as the retention run does to old log records.
    /// True when anything was removed.
    pub fn strip_persons(&mut self) -> bool {
        const GONE: &str = "";
        match self {
            Event::TicketIssued { ticket, .. } => ticket.person.take().is_some(),
            Event::AppointmentBooked { appointment, .. } => {
                let phone = !std::mem::take(&mut appointment.phone).is_empty();
                let p = &mut appointment.person;
                let had = phone
                    || !p.key.is_empty()
                    || !p.masked_name.is_empty()
                    || p.birth_date.is_some();
                *p = Person {
                    key: GONE.into(),
                    masked_name: GONE.into(),
                    birth_date: None,
                };
                had
            }
            Event::FollowUpOpened { follow_up } => follow_up.masked_name.take().is_some(),
            Event::BookingBlocked { person_key, .. } => !std::mem::take(person_key).is_empty(),
            Event::NotifyOptedIn { phone, .. } => !std::mem::take(phone).is_empty(),
            Event::NotificationQueued { notification } => {
                !std::mem::take(&mut notification.phone).is_empty()
            }
            _ => false,
        }
    }

    /// The ticket an event changes, for the events about one ticket.
    pub fn ticket_id(&self) -> Option<TicketId> {
        match self {
            Event::TicketIssued { ticket, .. } => Some(ticket.id),
            Event::TicketCancelled { ticket, .. }
            | Event::RemoteArrived { ticket }
            | Event::RemoteAtFront { ticket }
            | Event::TicketExpired { ticket, .. }
            | Event::TicketCalled { ticket, .. }
            | Event::TicketRecalled { ticket, .. }
            | Event::ServiceStarted { ticket, .. }
            | Event::TicketFinished { ticket, .. }
            | Event::TicketNoShow { ticket, .. }
            | Event::TicketRequeued { ticket, .. }
            | Event::TicketSuspended { ticket, .. }
            | Event::TicketTransferred { ticket, .. }
            | Event::RatingSubmitted { ticket, .. }
            | Event::CaseRecorded { ticket, .. }
            | Event::NotifyOptedIn { ticket, .. } => Some(*ticket),
            _ => None,
        }
    }
}
