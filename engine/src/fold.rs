//! `fold`: how each event changes the `Hall`. The live path (`apply`) and
//! recovery (replaying the log) both go through here, which is what makes a
//! `Hall` exactly the fold of its events.

use crate::*;

impl Hall {
    /// Folds one event into the state. Total: an event that was valid when
    /// decided always folds; replay uses this same function.
    pub fn fold(&mut self, event: &Event, at: Millis) {
        // Before the ticket part: a rollover's subscriptions go with its day.
        self.fold_notify(event);
        self.fold_event(event, at);
        match event {
            Event::DayRolled { .. } => {
                self.suspended.clear();
                self.remote_pending.clear();
            }
            e => {
                if let Some(id) = e.ticket_id() {
                    self.index_suspended(id);
                }
            }
        }
    }

    fn fold_event(&mut self, event: &Event, at: Millis) {
        match event {
            Event::DayRolled { to, expired: _ } => {
                self.service_date = *to;
                self.tickets.clear();
                self.by_number.clear();
                self.last_number.clear();
                self.issued.clear();
                self.person_daily.clear();
                self.person_active.clear();
                self.requests.clear();
                self.appointment_requests.clear();
                self.queues.clear();
                self.targeted.clear();
                self.recent_calls.clear();
                self.figures.clear();
                self.closed.clear();
                self.ticket_requests.clear();
                self.shrink();
                self.issued_remote.clear();
                // Past bookings stay a while: the week/month limits and the
                // missed-appointment block count them.
                let keep = self.booking_memory_days();
                self.appointments
                    .retain(|_, a| a.date + chrono::Days::new(keep) >= *to);
                self.booking_blocks.retain(|_, b| b.until > *to);
                self.index_all_reminders();
                for rt in self.windows.values_mut() {
                    rt.current = None;
                    rt.priority_streak = 0;
                    rt.rateable.clear();
                    rt.served = 0;
                    rt.no_shows = 0;
                    rt.handling_total_s = 0;
                    rt.rating_sum = 0;
                    rt.ratings = 0;
                }
            }
            Event::CatalogReplaced { catalog } => {
                self.catalog = (**catalog).clone();
                self.clock = Some(Clock::new(&self.catalog));
                self.sync_windows();
            }
            Event::TicketIssued {
                ticket,
                request_id,
                appointment,
            } => {
                let t = (**ticket).clone();
                let id = t.id;
                self.next_ticket_id = self.next_ticket_id.max(id + 1);
                let prefix = t
                    .number
                    .trim_end_matches(|c: char| c.is_ascii_digit())
                    .to_string();
                let n: u32 = t.number[prefix.len()..].parse().unwrap_or(0);
                let last = self.last_number.entry(prefix).or_insert(0);
                *last = (*last).max(n);
                *self.issued.entry(t.origin.clone()).or_insert(0) += 1;
                self.figures.entry(t.origin.clone()).or_default().issued += 1;
                if t.channel == Channel::Mobile {
                    *self.issued_remote.entry(t.origin.clone()).or_insert(0) += 1;
                }
                if let Some(p) = &t.person {
                    let slot = person_slot(&t.origin, &p.key);
                    *self.person_daily.entry(slot.clone()).or_insert(0) += 1;
                    self.person_active.insert(slot, id);
                }
                if let Some(r) = request_id {
                    self.requests.insert(r.clone(), id);
                    self.ticket_requests.insert(id, r.clone());
                }
                if let Some(a) = appointment.and_then(|a| self.appointments.get_mut(&a)) {
                    a.ticket = Some(id);
                    a.state = AppointmentState::CheckedIn;
                    let a = a.id;
                    self.index_reminder(a);
                }
                self.by_number.insert(t.number.clone(), id);
                self.tickets.insert(id, t);
                self.index(id);
            }
            Event::AppointmentBooked {
                appointment,
                request_id,
            } => {
                let mut a = (**appointment).clone();
                self.next_appointment = self.next_appointment.max(a.id + 1);
                if let Some(r) = request_id {
                    self.appointment_requests.insert(r.clone(), a.id);
                }
                // Booked within a day (or half an hour) of the slot: the
                // confirmation is that reminder.
                if a.slot.start - at < 24 * 3_600_000 {
                    a.reminded |= REMIND_DAY;
                }
                if a.slot.start - at < 30 * 60_000 {
                    a.reminded |= REMIND_SOON;
                }
                let id = a.id;
                self.appointments.insert(id, a);
                self.index_reminder(id);
            }
            Event::AppointmentCancelled { id, .. } => {
                if let Some(a) = self.appointments.get_mut(id) {
                    a.state = AppointmentState::Cancelled;
                }
                self.index_reminder(*id);
            }
            Event::AppointmentReminder { id, soon } => {
                if let Some(a) = self.appointments.get_mut(id) {
                    a.reminded |= if *soon {
                        REMIND_DAY | REMIND_SOON
                    } else {
                        REMIND_DAY
                    };
                }
                self.index_reminder(*id);
            }
            Event::AppointmentsMissed { ids } => {
                for id in ids {
                    if let Some(a) = self.appointments.get_mut(id) {
                        a.state = AppointmentState::Missed;
                    }
                    self.index_reminder(*id);
                }
            }
            Event::BookingBlocked {
                person_key,
                until,
                missed,
            } => {
                self.booking_blocks.insert(
                    person_key.clone(),
                    BookingBlock {
                        since: self.service_date,
                        until: *until,
                        missed: *missed,
                    },
                );
            }
            Event::RemoteArrived { ticket } => {
                self.update(*ticket, |t| {
                    if let Some(r) = &mut t.remote {
                        r.arrived_at = Some(at);
                    }
                });
            }
            Event::RemoteAtFront { ticket } => {
                self.update(*ticket, |t| {
                    if let Some(r) = &mut t.remote {
                        r.front_at = Some(at);
                    }
                });
            }
            Event::TicketExpired { ticket, reason } => {
                self.update(*ticket, |t| {
                    t.state = TicketState::Expired;
                    t.finished_at = Some(at);
                    t.note = Some(reason.clone());
                });
            }
            Event::TicketCancelled { ticket, reason } => {
                if let Some(f) = self.figures_of(*ticket) {
                    f.cancelled += 1;
                }
                self.update(*ticket, |t| {
                    t.state = TicketState::Cancelled;
                    t.finished_at = Some(at);
                    t.note = Some(reason.clone());
                });
            }
            Event::WindowOpened {
                window,
                clerk,
                token,
            } => {
                if let Some(rt) = self.windows.get_mut(window) {
                    if rt.status == WindowStatus::Closed {
                        rt.status = WindowStatus::Open;
                    }
                    rt.clerk = Some(clerk.clone());
                    rt.token = Some(token.clone());
                }
            }
            Event::WindowClosed { window } | Event::WindowForcedOut { window, .. } => {
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.status = WindowStatus::Closed;
                    rt.clerk = None;
                    rt.token = None;
                    rt.pause_reason = None;
                    rt.priority_streak = 0;
                }
            }
            Event::WindowPaused { window, reason } => {
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.status = WindowStatus::Paused;
                    rt.pause_reason = Some(reason.clone());
                }
            }
            Event::WindowResumed { window } => {
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.status = WindowStatus::Open;
                    rt.pause_reason = None;
                }
            }
            Event::TicketCalled {
                ticket,
                window,
                clerk,
                reason,
            } => {
                let priority = reason.is_priority();
                if let Some(t) = self.tickets.get(ticket)
                    && t.called_at.is_none()
                {
                    // A remote ticket waits in the hall from its check-in.
                    let since = t
                        .remote
                        .as_ref()
                        .and_then(|r| r.arrived_at)
                        .unwrap_or(t.issued_at);
                    let waited = ((at - since) / 1000).max(0) as u64;
                    if let Some(f) = self.figures_of(*ticket) {
                        f.called += 1;
                        f.wait_s += waited;
                    }
                }
                self.update(*ticket, |t| {
                    t.state = TicketState::Called;
                    t.called_at = Some(at);
                    t.window = Some(*window);
                    t.clerk = Some(clerk.clone());
                    t.recall_count = 0;
                    t.call_reason = Some(reason.clone());
                    t.target_window = None;
                });
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.current = Some(*ticket);
                    match reason.rule {
                        CallRule::Chosen | CallRule::CalledBack | CallRule::Targeted => {}
                        _ if priority => rt.priority_streak += 1,
                        _ => rt.priority_streak = 0,
                    }
                }
                self.push_recent(*ticket, at);
            }
            Event::TicketRecalled {
                ticket,
                window: _,
                count,
            } => {
                self.update(*ticket, |t| t.recall_count = *count);
                self.push_recent(*ticket, at);
            }
            Event::ServiceStarted { ticket, window: _ } => {
                self.update(*ticket, |t| {
                    t.state = TicketState::Serving;
                    t.started_at = Some(at);
                });
            }
            Event::TicketFinished {
                ticket,
                window,
                resolved,
                reason,
                after,
            } => {
                let Some(t) = self.tickets.get(ticket) else {
                    return;
                };
                let handled_s =
                    ((at - t.started_at.or(t.called_at).unwrap_or(at)) / 1000).max(0) as u32;
                let queue = t.queue.clone();
                if matches!(after, AfterFinish::Closed)
                    && let Some(f) = self.figures_of(*ticket)
                {
                    if *resolved {
                        f.served += 1;
                    } else {
                        f.unresolved += 1;
                    }
                    f.handling_s += u64::from(handled_s);
                }
                let samples = self.catalog.policy.recent_handling_samples.max(1);
                let d = self.handling.entry(queue).or_default();
                d.push_back(handled_s);
                while d.len() > samples {
                    d.pop_front();
                }
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.current = None;
                    rt.served += 1;
                    rt.handling_total_s += u64::from(handled_s);
                    rt.rateable.push_back(*ticket);
                    while rt.rateable.len() > RATEABLE {
                        rt.rateable.pop_front();
                    }
                }
                self.update(*ticket, |t| {
                    t.finished_at = Some(at);
                    if !*resolved {
                        t.note = Some(reason.clone());
                    }
                    match after {
                        AfterFinish::Closed => {
                            t.state = if *resolved {
                                TicketState::Done
                            } else {
                                TicketState::Unresolved
                            };
                        }
                        AfterFinish::NextStage { stage, queue } => {
                            t.state = TicketState::Waiting;
                            t.queue = queue.clone();
                            if let Some(b) = &mut t.bundle {
                                b.stage = *stage;
                            }
                            t.sort_at = t.issued_at;
                        }
                        AfterFinish::Returned { window, queue } => {
                            t.state = TicketState::Waiting;
                            t.queue = queue.clone();
                            t.target_window = Some(*window);
                            t.return_to = None;
                        }
                        AfterFinish::SentAway { to } => {
                            t.state = TicketState::Done;
                            t.sent_to = Some(to.clone());
                        }
                    }
                });
            }
            Event::TicketNoShow {
                ticket,
                window,
                auto: _,
            } => {
                if let Some(f) = self.figures_of(*ticket) {
                    f.no_shows += 1;
                }
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.current = None;
                    rt.no_shows += 1;
                }
                self.update(*ticket, |t| {
                    t.state = TicketState::NoShow;
                    t.finished_at = Some(at);
                });
            }
            Event::TicketRequeued { ticket, sort_at } => {
                // Back to waiting: the person is active again in its category.
                // A window that still had it (a force-logout) lets it go.
                for rt in self.windows.values_mut() {
                    if rt.current == Some(*ticket) {
                        rt.current = None;
                    }
                }
                let mut slot = None;
                self.update(*ticket, |t| {
                    t.state = TicketState::Waiting;
                    t.sort_at = *sort_at;
                    t.finished_at = None;
                    // A force-requeued ticket may have been in service: its
                    // next handling time starts at its next start.
                    t.started_at = None;
                    t.window = None;
                    slot = t.person.as_ref().map(|p| person_slot(&t.origin, &p.key));
                });
                if let Some(s) = slot {
                    self.person_active.insert(s, *ticket);
                }
            }
            Event::TicketSuspended {
                ticket,
                window,
                reason,
            } => {
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.current = None;
                }
                self.update(*ticket, |t| {
                    t.state = TicketState::Suspended;
                    t.note = Some(reason.clone());
                });
            }
            Event::TicketTransferred {
                ticket,
                from_window,
                target,
                return_to,
                reason,
            } => {
                if let Some(rt) = self.windows.get_mut(from_window) {
                    rt.current = None;
                }
                self.update(*ticket, |t| {
                    t.state = TicketState::Waiting;
                    t.note = Some(reason.clone());
                    t.return_to = return_to.clone();
                    match target {
                        TransferTarget::Queue(q) => {
                            t.queue = q.clone();
                            t.target_window = None;
                        }
                        TransferTarget::Window(w) => t.target_window = Some(*w),
                    }
                    // Keep its place only when it returns; otherwise a plain
                    // transfer also keeps its issue time (the visitor already waited).
                });
            }
            Event::RatingSubmitted {
                ticket,
                window,
                rating,
                ..
            } => {
                if let Some(f) = self.figures_of(*ticket) {
                    f.ratings += 1;
                    f.rating_sum += u32::from(*rating);
                }
                // Rated once: no window offers it any more (a bundle or a
                // return finished it at more than one).
                for rt in self.windows.values_mut() {
                    rt.rateable.retain(|t| t != ticket);
                }
                if let Some(rt) = self.windows.get_mut(window) {
                    rt.rating_sum += u32::from(*rating);
                    rt.ratings += 1;
                }
                self.update(*ticket, |t| t.rating = Some(*rating));
            }
            // Only the reports and the 好差评 records use it.
            Event::CaseRecorded { .. } => {}
            Event::FollowUpOpened { follow_up } => {
                self.next_follow_up = self.next_follow_up.max(follow_up.id + 1);
                self.follow_ups.insert(follow_up.id, (**follow_up).clone());
            }
            Event::FollowUpWorked { id, by, step } => {
                if let Some(f) = self.follow_ups.get_mut(id) {
                    match step {
                        FollowUpStep::Assign { to } => f.assignee = Some(to.clone()),
                        FollowUpStep::Contact { reached, note } => {
                            f.contacts.push(ContactAttempt {
                                at,
                                by: by.clone(),
                                reached: *reached,
                                note: note.clone(),
                            })
                        }
                        FollowUpStep::Fix { text } => f.fix = Some(text.clone()),
                        FollowUpStep::RateFix { rating } => f.fix_rating = Some(*rating),
                        FollowUpStep::Appeal { reason } => {
                            f.appeal = Some(Appeal {
                                at,
                                by: by.clone(),
                                reason: reason.clone(),
                                upheld: None,
                                review_note: String::new(),
                            })
                        }
                        FollowUpStep::Review { upheld, note } => {
                            if let Some(a) = &mut f.appeal {
                                a.upheld = Some(*upheld);
                                a.review_note = note.clone();
                            }
                        }
                    }
                }
            }
            Event::FollowUpClosed { id, resolution } => {
                if let Some(f) = self.follow_ups.get_mut(id) {
                    f.closed = Some(resolution.clone());
                }
            }
            Event::DeviceReported {
                device_id,
                kind,
                status,
                detail,
            } => {
                self.devices.insert(
                    device_id.clone(),
                    DeviceStatus {
                        kind: kind.clone(),
                        status: status.clone(),
                        detail: detail.clone(),
                        at,
                    },
                );
            }
            // The trail lives in the log only; the hall's state is unchanged.
            Event::Audited { .. }
            | Event::NotifyOptedIn { .. }
            | Event::NotificationQueued { .. }
            | Event::NotificationDone { .. } => {}
            Event::RetentionApplied { cutoff, .. } => self.drop_persons_before(*cutoff),
        }
    }

    /// Forgets who everything before `cutoff` was about: the fold of a
    /// retention run (the same on replay).
    fn drop_persons_before(&mut self, cutoff: Millis) {
        let mut slots = std::collections::HashSet::new();
        for t in self.tickets.values_mut() {
            if t.issued_at < cutoff
                && let Some(p) = t.person.take()
            {
                slots.insert(person_slot(&t.origin, &p.key));
            }
        }
        // The per-person limits of the day are keyed by the person too (only
        // a period shorter than a day reaches today's tickets).
        self.person_daily.retain(|slot, _| !slots.contains(slot));
        self.person_active.retain(|slot, _| !slots.contains(slot));
        let cutoff_day = self.clock().service_date(cutoff);
        self.appointments.retain(|_, a| a.date >= cutoff_day);
        self.booking_blocks.retain(|_, b| b.since >= cutoff_day);
        self.index_all_reminders();
        for f in self.follow_ups.values_mut() {
            if f.opened_at < cutoff {
                f.masked_name = None;
            }
        }
        for c in self.recent_calls.iter_mut() {
            if c.at < cutoff {
                c.masked_name = None;
            }
        }
        // A notification still owed after the retention period (a sink down
        // for months) is sent without its phone; a dead letter's is masked.
        for p in self.notify.outbox.values_mut() {
            if p.notification.at < cutoff {
                p.notification.phone.clear();
            }
        }
        for d in self.notify.dead.iter_mut() {
            if d.at < cutoff {
                d.phone_masked.clear();
            }
        }
    }

    /// What a retention run at `cutoff` would drop from the live state.
    pub fn retention_report(&self, cutoff: Millis, log_records: u64) -> RetentionReport {
        let cutoff_day = self.clock().service_date(cutoff);
        RetentionReport {
            tickets: self
                .tickets
                .values()
                .filter(|t| t.issued_at < cutoff && t.person.is_some())
                .count() as u32,
            appointments: self
                .appointments
                .values()
                .filter(|a| a.date < cutoff_day)
                .count() as u32,
            follow_ups: self
                .follow_ups
                .values()
                .filter(|f| f.opened_at < cutoff && f.masked_name.is_some())
                .count() as u32,
            log_records,
        }
    }

    pub(crate) fn push_recent(&mut self, id: TicketId, at: Millis) {
        let Some(t) = self.tickets.get(&id) else {
            return;
        };
        self.recent_calls.retain(|c| c.ticket != id);
        self.recent_calls.push_front(RecentCall {
            ticket: id,
            number: t.number.clone(),
            window: t.window.unwrap_or(0),
            queue: t.queue.clone(),
            masked_name: t.person.as_ref().map(|p| p.masked_name.clone()),
            at,
            recall_count: t.recall_count,
        });
        self.recent_calls.truncate(RECENT_CALLS);
    }
}
