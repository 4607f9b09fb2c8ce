//! Issuing: tickets from kiosks and phones (quotas, hours, per-person
//! limits, green channel, bundles), appointments and their check-in, cancel.

use crate::catalog::*;
use crate::*;

impl Hall {
    pub(super) fn issue_ticket(
        &self,
        request_id: Option<String>,
        code: String,
        priority: Priority,
        channel: Channel,
        person: Option<Person>,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        self.decide_issue(request_id, &code, priority, channel, person, None, now)
    }

    /// A ticket for one another site sent here: issued as a kiosk's would
    /// be (quota, hours), without an identity (the origin checked it), with
    /// its origin recorded.
    pub(super) fn issue_from_site(
        &self,
        request_id: String,
        code: String,
        from: SiteTicket,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        if from.site.is_empty() || from.number.is_empty() {
            return Err(EngineError::invalid(
                "origin",
                "a transferred ticket names its site and number",
            ));
        }
        let mut events = self.decide_issue(
            Some(request_id),
            &code,
            Priority::Normal,
            Channel::Site,
            None,
            None,
            now,
        )?;
        for e in &mut events {
            if let Event::TicketIssued { ticket, .. } = e {
                ticket.from_site = Some(from.clone());
            }
        }
        Ok(events)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn book_appointment(
        &self,
        request_id: Option<String>,
        code: String,
        person: Person,
        date: NaiveDate,
        slot_start: String,
        slot_end: String,
        phone: Option<String>,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        if let Some(r) = &request_id
            && self.appointment_requests.contains_key(r)
        {
            return Ok(vec![]);
        }
        if self.catalog.queue(&code).is_none() {
            return Err(EngineError::UnknownCategory(code));
        }
        let phone = match phone.filter(|p| !p.trim().is_empty()) {
            Some(p) => crate::notify::normalise_phone(&p)?,
            None => String::new(),
        };
        let (Some(s), Some(e)) = (calendar::hhmm(&slot_start), calendar::hhmm(&slot_end)) else {
            return Err(EngineError::invalid(
                "slot_start",
                format!("slot '{slot_start}'-'{slot_end}' is not HH:MM-HH:MM"),
            ));
        };
        if s >= e {
            return Err(EngineError::invalid(
                "slot_end",
                "slot end must be after its start",
            ));
        }
        if date < self.service_date {
            return Err(EngineError::invalid(
                "date",
                format!("{date} is in the past"),
            ));
        }
        let Some((open, close)) = calendar::hall_hours(&self.catalog.calendar, date) else {
            return Err(EngineError::invalid(
                "date",
                format!("the hall is closed on {date}"),
            ));
        };
        if s < open || e > close {
            return Err(EngineError::invalid(
                "slot_start",
                format!(
                    "slot {slot_start}-{slot_end} is outside opening hours {}-{} on {date}",
                    open.format("%H:%M"),
                    close.format("%H:%M")
                ),
            ));
        }
        if let Some(b) = self.booking_block(&person.key) {
            return Err(EngineError::BookingBlocked {
                until: b.until,
                missed: b.missed,
            });
        }
        self.check_booking_limits(&person.key, date)?;
        if let Some(a) = self.appointments.values().find(|a| {
            a.person.key == person.key
                && a.queue == code
                && a.date == date
                && a.state == AppointmentState::Booked
        }) {
            return Err(EngineError::invalid(
                "date",
                format!(
                    "you already have booking {} for this on {date} at {}-{}",
                    a.id, a.slot_label.0, a.slot_label.1
                ),
            ));
        }
        // A person books with one phone: their bookings' notifications (and
        // the visitor pages' "my bookings") go to the number they first
        // booked with, not to whoever else knows their ID number.
        if !phone.is_empty()
            && let Some(a) = self.appointments.values().find(|a| {
                a.person.key == person.key
                    && !a.phone.is_empty()
                    && a.phone != phone
                    && matches!(
                        a.state,
                        AppointmentState::Booked | AppointmentState::CheckedIn
                    )
            })
        {
            return Err(EngineError::invalid(
                "phone",
                format!(
                    "this ID number is booked with another phone ({}): book with that phone, or at the hall",
                    crate::notify::mask_phone(&a.phone)
                ),
            ));
        }
        let clock = self.clock();
        let start = clock.instant(date.and_time(s));
        if let Some(b) = self
            .catalog
            .category(&code)
            .and_then(|c| c.booking.as_ref())
        {
            let len = (e - s).num_minutes();
            let from_open = (s - open).num_minutes();
            if len != i64::from(b.slot_minutes) || from_open % i64::from(b.slot_minutes) != 0 {
                return Err(EngineError::invalid(
                    "slot_start",
                    format!(
                        "{slot_start}-{slot_end} is not one of the {}-minute slots from {}",
                        b.slot_minutes,
                        open.format("%H:%M")
                    ),
                ));
            }
            let last = self.service_date + chrono::Days::new(u64::from(b.horizon_days));
            if date > last {
                return Err(EngineError::invalid(
                    "date",
                    format!(
                        "bookings open {} days ahead: {last} at the latest",
                        b.horizon_days
                    ),
                ));
            }
            if now > start - i64::from(b.cutoff_minutes) * 60_000 {
                return Err(EngineError::invalid(
                    "slot_start",
                    format!(
                        "booking {slot_start} on {date} closed {} minutes before it",
                        b.cutoff_minutes
                    ),
                ));
            }
            let taken = self
                .appointments
                .values()
                .filter(|a| {
                    a.queue == code
                        && a.slot.start == start
                        && a.state != AppointmentState::Cancelled
                })
                .count();
            if taken >= b.capacity as usize {
                return Err(EngineError::SlotFull {
                    code,
                    date,
                    slot: format!("{slot_start}-{slot_end}"),
                    capacity: b.capacity,
                });
            }
        }
        let appointment = Appointment {
            id: self.next_appointment,
            queue: code,
            person,
            date,
            slot: Slot {
                start,
                end: clock.instant(date.and_time(e)),
            },
            slot_label: (slot_start, slot_end),
            ticket: None,
            state: AppointmentState::Booked,
            phone,
            reminded: 0,
            counted: true,
        };
        Ok(vec![Event::AppointmentBooked {
            appointment: Box::new(appointment),
            request_id,
        }])
    }

    pub(super) fn check_in_appointment(
        &self,
        request_id: Option<String>,
        person_key: String,
        appointment: Option<u64>,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        if let Some(r) = &request_id
            && self.requests.contains_key(r)
        {
            return Ok(vec![]);
        }
        let appt = self
            .appointments
            .values()
            .filter(|a| {
                a.date == self.service_date
                    && a.person.key == person_key
                    && a.state == AppointmentState::Booked
                    && appointment.is_none_or(|id| id == a.id)
            })
            .min_by_key(|a| a.slot.start)
            .ok_or(EngineError::NoAppointment)?;
        self.decide_issue(
            request_id,
            &appt.queue.clone(),
            Priority::Appointment,
            Channel::Appointment,
            Some(appt.person.clone()),
            Some((appt.id, appt.slot.clone())),
            now,
        )
    }

    /// The week and month limits of `policy.booking_per_person_*` for a
    /// booking of `person_key` on `date`.
    fn check_booking_limits(&self, person_key: &str, date: NaiveDate) -> Result<(), EngineError> {
        use chrono::Datelike;
        let policy = &self.catalog.policy;
        let held: Vec<NaiveDate> = self
            .appointments
            .values()
            .filter(|a| a.person.key == person_key && a.state != AppointmentState::Cancelled)
            .map(|a| a.date)
            .collect();
        let week = date.iso_week();
        let in_week = held.iter().filter(|d| d.iso_week() == week).count() as u32;
        if policy.booking_per_person_week > 0 && in_week >= policy.booking_per_person_week {
            return Err(EngineError::BookingLimit {
                period: "week",
                limit: policy.booking_per_person_week,
            });
        }
        let in_month = held
            .iter()
            .filter(|d| d.year() == date.year() && d.month() == date.month())
            .count() as u32;
        if policy.booking_per_person_month > 0 && in_month >= policy.booking_per_person_month {
            return Err(EngineError::BookingLimit {
                period: "month",
                limit: policy.booking_per_person_month,
            });
        }
        Ok(())
    }

    pub(super) fn cancel_appointment(
        &self,
        id: u64,
        person_key: Option<String>,
        reason: String,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        let a = self
            .appointments
            .get(&id)
            .filter(|a| person_key.as_ref().is_none_or(|k| *k == a.person.key))
            .ok_or(EngineError::UnknownAppointment(id))?;
        match a.state {
            AppointmentState::Booked => {}
            AppointmentState::Cancelled => return Ok(vec![]), // a retry
            other => {
                return Err(EngineError::invalid(
                    "id",
                    format!(
                        "booking {id} is {} and can no longer be cancelled",
                        other.name()
                    ),
                ));
            }
        }
        let by_visitor = person_key.is_some();
        let minutes = self.catalog.policy.booking_cancel_minutes;
        let deadline = a.slot.start - i64::from(if by_visitor { minutes } else { 0 }) * 60_000;
        if now > deadline {
            return Err(EngineError::invalid(
                "id",
                format!(
                    "booking {id} ({} {}-{}) could be cancelled until {} minutes before it",
                    a.date, a.slot_label.0, a.slot_label.1, minutes
                ),
            ));
        }
        Ok(vec![Event::AppointmentCancelled {
            id,
            by_visitor,
            reason,
        }])
    }

    pub(super) fn arrive_remote(
        &self,
        service_date: NaiveDate,
        number: String,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        let t = self.ticket_of_day(service_date, &number)?;
        if t.remote.is_none() {
            return Err(EngineError::invalid(
                "number",
                format!("{number} was taken in the hall, not remotely"),
            ));
        }
        if !t.awaiting_arrival() {
            return Ok(vec![]); // already checked in: a second scan changes nothing
        }
        if t.state != TicketState::Waiting {
            return Err(Self::wrong_state(t, "check in"));
        }
        // Past its grace, whether or not a tick has expired it yet.
        if let Some(by) = self.check_in_by(t)
            && now >= by
        {
            return Err(EngineError::Conflict {
                problem: format!(
                    "remote ticket {number} was not checked in in time: please take a new number"
                ),
                number,
            });
        }
        Ok(vec![Event::RemoteArrived { ticket: t.id }])
    }

    pub(super) fn cancel_ticket(
        &self,
        number: String,
        reason: String,
    ) -> Result<Vec<Event>, EngineError> {
        let t = self.today_ticket(&number)?;
        if !matches!(t.state, TicketState::Waiting | TicketState::Suspended) {
            return Err(Self::wrong_state(t, "cancel"));
        }
        Ok(vec![Event::TicketCancelled {
            ticket: t.id,
            reason,
        }])
    }
    #[allow(clippy::too_many_arguments)]
    pub(super) fn decide_issue(
        &self,
        request_id: Option<String>,
        code: &str,
        priority: Priority,
        channel: Channel,
        person: Option<Person>,
        appointment: Option<(u64, Slot)>,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        if let Some(r) = &request_id
            && self.requests.contains_key(r)
        {
            return Ok(vec![]); // a retry: the first attempt's ticket stands
        }
        let q = self
            .catalog
            .queue(code)
            .ok_or_else(|| EngineError::UnknownCategory(code.to_string()))?;
        let policy = &self.catalog.policy;
        let (prefix, quota, id_required, limit, hours_cat, queue, bundle) = match q {
            QueueRef::Category(c) => (
                &c.prefix,
                c.daily_quota,
                c.id_card_required,
                c.per_person_daily_limit
                    .unwrap_or(policy.per_person_daily_limit),
                Some(c),
                c.code.clone(),
                None,
            ),
            QueueRef::Bundle(b) => {
                let (queue, stages) = match b.mode {
                    BundleMode::Staged => (b.stages[0].clone(), b.stages.clone()),
                    BundleMode::Whole => (b.code.clone(), vec![b.code.clone()]),
                };
                (
                    &b.prefix,
                    b.daily_quota,
                    b.id_card_required,
                    policy.per_person_daily_limit,
                    None,
                    queue,
                    Some(BundleProgress {
                        code: b.code.clone(),
                        stage: 0,
                        stages,
                    }),
                )
            }
        };
        let local = self.clock().local(now);
        if let Err(closed) = calendar::check_issuing(&self.catalog.calendar, hours_cat, local) {
            return Err(EngineError::NotIssuing {
                code: code.to_string(),
                reason: closed.reason.to_string(),
                next: closed
                    .next_opening
                    .map_or("none in the next 60 days".into(), |t| {
                        t.format("%Y-%m-%d %H:%M").to_string()
                    }),
            });
        }
        if id_required && person.is_none() && channel != Channel::Site {
            return Err(EngineError::IdCardRequired(code.to_string()));
        }
        if priority == Priority::Elderly {
            let age = person
                .as_ref()
                .and_then(|p| p.birth_date)
                .map(|b| calendar::age_on(b, local.date()));
            if age.is_none_or(|a| a < policy.green_channel_age) {
                return Err(EngineError::invalid(
                    "priority",
                    format!(
                        "the elderly green channel needs an ID card showing age {} or over",
                        policy.green_channel_age
                    ),
                ));
            }
        }
        if priority == Priority::Appointment && appointment.is_none() {
            return Err(EngineError::invalid(
                "priority",
                "appointment tickets come from appointment check-in",
            ));
        }
        if let Some(p) = &person {
            let slot = person_slot(code, &p.key);
            if let Some(id) = self.person_active.get(&slot) {
                return Err(EngineError::AlreadyHoldsTicket {
                    code: code.to_string(),
                    number: self.tickets[id].number.clone(),
                });
            }
            if limit > 0 && self.person_daily.get(&slot).copied().unwrap_or(0) >= limit {
                return Err(EngineError::PersonLimit {
                    code: code.to_string(),
                    limit,
                });
            }
        }
        // Booked appointments were granted capacity when booked.
        if quota > 0 && appointment.is_none() && self.issued_today(code) >= quota {
            return Err(EngineError::QuotaExhausted {
                code: code.to_string(),
                quota,
            });
        }
        let remote = if channel == Channel::Mobile {
            let rules = hours_cat.and_then(|c| c.remote.as_ref()).ok_or_else(|| {
                EngineError::invalid(
                    "channel",
                    format!("'{code}' cannot be taken remotely: please take a number in the hall"),
                )
            })?;
            // Walk-ins keep the rest of the quota.
            let cap = quota * rules.share_pct / 100;
            if self.issued_remote.get(code).copied().unwrap_or(0) >= cap {
                return Err(EngineError::RemoteShareExhausted {
                    code: code.to_string(),
                    cap,
                });
            }
            Some(Remote::default())
        } else {
            None
        };
        let n = self.last_number.get(prefix).copied().unwrap_or(0) + 1;
        let ticket = Ticket {
            id: self.next_ticket_id,
            number: format!("{prefix}{n:03}"),
            service_date: self.service_date,
            origin: code.to_string(),
            queue,
            priority,
            channel,
            state: TicketState::Waiting,
            person,
            issued_at: now,
            sort_at: now,
            called_at: None,
            started_at: None,
            finished_at: None,
            window: None,
            clerk: None,
            recall_count: 0,
            call_reason: None,
            bundle,
            target_window: None,
            return_to: None,
            appointment: appointment.as_ref().map(|a| a.1.clone()),
            rating: None,
            note: None,
            remote,
            from_site: None,
            sent_to: None,
        };
        Ok(vec![Event::TicketIssued {
            ticket: Box::new(ticket),
            request_id,
            appointment: appointment.map(|a| a.0),
        }])
    }
}
