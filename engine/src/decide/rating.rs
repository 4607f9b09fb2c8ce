//! Ratings (好差评) and follow-ups (回访): a bad rating or an unresolved
//! matter opens a follow-up item; closing one records its resolution.

use crate::*;

impl Hall {
    /// A rating from the window's rating pad (评价器, facing the citizen):
    /// for a ticket this window just finished and nobody rated yet.
    pub(super) fn rate_from_pad(
        &self,
        window: WindowNo,
        number: String,
        rating: u8,
        comment: String,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        let rt = self
            .windows
            .get(&window)
            .ok_or(EngineError::UnknownWindow(window))?;
        if !(1..=5).contains(&rating) {
            return Err(EngineError::invalid(
                "rating",
                format!("rating {rating} is out of range: 5 非常满意 … 1 非常不满意"),
            ));
        }
        let t = self.today_ticket(&number)?;
        if t.rating.is_some() {
            return Err(EngineError::AlreadyRated(number));
        }
        if !rt.rateable.contains(&t.id) {
            return Err(EngineError::Conflict {
                problem: format!("ticket {number} was not just finished at window {window}"),
                number,
            });
        }
        if rating <= 2 && comment.trim().is_empty() {
            return Err(EngineError::invalid(
                "comment",
                "a rating of 不满意 or 非常不满意 needs a reason",
            ));
        }
        let mut events = vec![Event::RatingSubmitted {
            ticket: t.id,
            window,
            rating,
            comment: comment.clone(),
            channel: crate::report::RatingChannel::Pad,
        }];
        if rating <= 2 {
            let reason = if comment.trim().is_empty() {
                format!("rated {rating}/5")
            } else {
                comment
            };
            let mut f = self.follow_up_event(t, FollowUpKind::BadRating, reason, now);
            // The clerk of the window rated (who just finished it there).
            if let Event::FollowUpOpened { follow_up } = &mut f {
                follow_up.window = Some(window);
                follow_up.clerk = rt.clerk.clone().or_else(|| t.clerk.clone());
            }
            events.push(f);
        }
        Ok(events)
    }

    /// A rating from the visitor's phone: for a ticket served today (done
    /// or finished unresolved) and not rated yet; the window that served it
    /// gets the rating, and a bad one opens a follow-up as at the counter.
    pub(super) fn rate_from_phone(
        &self,
        service_date: NaiveDate,
        number: String,
        rating: u8,
        comment: String,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        if !(1..=5).contains(&rating) {
            return Err(EngineError::invalid(
                "rating",
                format!("rating {rating} is out of range: 5 非常满意 … 1 非常不满意"),
            ));
        }
        let t = self.ticket_of_day(service_date, &number)?;
        if t.rating.is_some() {
            return Err(EngineError::AlreadyRated(number));
        }
        let window = match (t.state, t.window) {
            (TicketState::Done | TicketState::Unresolved, Some(w)) => w,
            _ => {
                return Err(EngineError::Conflict {
                    problem: format!("ticket {number} has not been served yet"),
                    number,
                });
            }
        };
        let mut events = vec![Event::RatingSubmitted {
            ticket: t.id,
            window,
            rating,
            comment: comment.clone(),
            channel: crate::report::RatingChannel::Phone,
        }];
        if rating <= 2 {
            let reason = if comment.trim().is_empty() {
                format!("rated {rating}/5 from the phone")
            } else {
                comment
            };
            let mut f = self.follow_up_event(t, FollowUpKind::BadRating, reason, now);
            if let Event::FollowUpOpened { follow_up } = &mut f {
                follow_up.window = Some(window);
                follow_up.clerk = t.clerk.clone();
            }
            events.push(f);
        }
        Ok(events)
    }

    pub(super) fn close_follow_up(
        &self,
        id: u64,
        resolution: String,
    ) -> Result<Vec<Event>, EngineError> {
        match self.follow_ups.get(&id) {
            Some(f) if f.closed.is_none() => {}
            _ => return Err(EngineError::UnknownFollowUp(id)),
        }
        Ok(vec![Event::FollowUpClosed { id, resolution }])
    }
    pub(super) fn work_follow_up(
        &self,
        id: u64,
        by: String,
        step: FollowUpStep,
    ) -> Result<Vec<Event>, EngineError> {
        let f = match self.follow_ups.get(&id) {
            Some(f) if f.closed.is_none() => f,
            _ => return Err(EngineError::UnknownFollowUp(id)),
        };
        let text = |field: &'static str, v: &str, required: bool| {
            if required && v.trim().is_empty() {
                return Err(EngineError::invalid(
                    field,
                    "say what was done (it is kept with the follow-up)",
                ));
            }
            if v.chars().count() > 400 {
                return Err(EngineError::invalid(field, "at most 400 characters"));
            }
            Ok(())
        };
        let conflict = |problem: &str| EngineError::Conflict {
            number: f.ticket_number.clone(),
            problem: format!("follow-up {id}: {problem}"),
        };
        match &step {
            FollowUpStep::Assign { to } => {
                if self.catalog.staff_account(to).is_none() && self.catalog.clerk(to).is_none() {
                    return Err(EngineError::invalid(
                        "to",
                        format!("no staff member or clerk '{to}'"),
                    ));
                }
            }
            FollowUpStep::Contact { note, .. } => text("note", note, false)?,
            FollowUpStep::Fix { text: t } => text("text", t, true)?,
            FollowUpStep::RateFix { .. } => {
                if f.fix.is_none() {
                    return Err(conflict(
                        "record the fix (整改) before the citizen rates it",
                    ));
                }
            }
            FollowUpStep::Appeal { reason } => {
                text("reason", reason, true)?;
                if f.kind != FollowUpKind::BadRating {
                    return Err(conflict("only a bad rating can be appealed"));
                }
                if f.appeal.is_some() {
                    return Err(conflict("it was appealed already"));
                }
            }
            FollowUpStep::Review { note, .. } => {
                text("note", note, false)?;
                if !matches!(&f.appeal, Some(a) if a.upheld.is_none()) {
                    return Err(conflict("no appeal awaits review"));
                }
            }
        }
        Ok(vec![Event::FollowUpWorked { id, by, step }])
    }

    pub(super) fn follow_up_event(
        &self,
        t: &Ticket,
        kind: FollowUpKind,
        reason: String,
        now: Millis,
    ) -> Event {
        Event::FollowUpOpened {
            follow_up: Box::new(FollowUp {
                id: self.next_follow_up,
                ticket_number: t.number.clone(),
                service_date: t.service_date,
                kind,
                reason,
                window: t.window,
                clerk: t.clerk.clone(),
                masked_name: t.person.as_ref().map(|p| p.masked_name.clone()),
                opened_at: now,
                closed: None,
                assignee: None,
                due: Some(crate::calendar::add_working_days(
                    &self.catalog.calendar,
                    self.clock().service_date(now),
                    self.catalog.policy.follow_up_due_working_days,
                )),
                contacts: vec![],
                fix: None,
                fix_rating: None,
                appeal: None,
            }),
        }
    }
}
