//! Calling and serving at a window: clerk sessions, pause and resume, call
//! next (through the policy) or a chosen ticket, recall, start, finish,
//! no-show, late requeue, suspend and call back.

use crate::catalog::*;
use crate::*;

impl Hall {
    pub(super) fn login(
        &self,
        window: WindowNo,
        clerk: String,
        token: String,
    ) -> Result<Vec<Event>, EngineError> {
        let rt = self
            .windows
            .get(&window)
            .ok_or(EngineError::UnknownWindow(window))?;
        // The PIN was checked before the command was made (`catalog::
        // verify_pin`, an Argon2id evaluation too slow for the one thread
        // that decides); an unknown clerk is still refused here.
        let who = self
            .catalog
            .clerk(&clerk)
            .ok_or(EngineError::BadCredentials)?;
        // Remote windows (远程虚拟窗口) take only the clerks of the site that
        // staffs them, and those clerks only remote windows.
        let remote = self
            .catalog
            .window(window)
            .and_then(|w| w.remote.as_ref())
            .map(|r| r.staffed_from.as_str());
        match (remote, who.home_site.as_str()) {
            (None, "") => {}
            (Some(from), home) if from == home => {}
            (Some(from), _) => {
                return Err(EngineError::invalid(
                    "window",
                    format!("window {window} is a remote window staffed from {from}"),
                ));
            }
            (None, home) => {
                return Err(EngineError::invalid(
                    "window",
                    format!("{clerk} staffs this hall's remote windows from {home} only"),
                ));
            }
        }
        if let Some(holder) = &rt.clerk
            && *holder != clerk
        {
            let clerk_name = self
                .catalog
                .clerk(holder)
                .map_or(holder.clone(), |c| c.name.clone());
            return Err(EngineError::WindowTaken {
                window,
                clerk: holder.clone(),
                clerk_name,
            });
        }
        if let Some((other, _)) = self
            .windows
            .iter()
            .find(|(n, r)| **n != window && r.clerk.as_deref() == Some(&clerk))
        {
            return Err(EngineError::ClerkElsewhere {
                clerk,
                window: *other,
            });
        }
        // The same clerk logging in again (a restarted terminal) takes
        // over the window with a new token and keeps its current ticket.
        Ok(vec![Event::WindowOpened {
            window,
            clerk,
            token,
        }])
    }

    pub(super) fn logout(&self, session: Session) -> Result<Vec<Event>, EngineError> {
        let rt = self.session(&session)?;
        if let Some(t) = rt.current.and_then(|id| self.tickets.get(&id)) {
            return Err(EngineError::Busy {
                window: session.window,
                number: t.number.clone(),
                state: t.state.name(),
                hint: "finish, suspend or transfer it before logging out",
            });
        }
        Ok(vec![Event::WindowClosed {
            window: session.window,
        }])
    }

    pub(super) fn pause(
        &self,
        session: Session,
        reason: String,
    ) -> Result<Vec<Event>, EngineError> {
        self.ensure_free(&session)?;
        Ok(vec![Event::WindowPaused {
            window: session.window,
            reason,
        }])
    }

    /// A supervisor pauses a window (a clerk called away) or resumes it.
    pub(super) fn supervise_pause(
        &self,
        window: WindowNo,
        reason: String,
        resume: bool,
    ) -> Result<Vec<Event>, EngineError> {
        let rt = self
            .windows
            .get(&window)
            .ok_or(EngineError::UnknownWindow(window))?;
        if rt.status == WindowStatus::Closed {
            return Err(EngineError::NotLoggedIn(window));
        }
        if resume {
            return Ok(if rt.status == WindowStatus::Paused {
                vec![Event::WindowResumed { window }]
            } else {
                vec![]
            });
        }
        if reason.trim().is_empty() {
            return Err(EngineError::invalid(
                "reason",
                "say why the window is paused",
            ));
        }
        if rt.status == WindowStatus::Paused {
            return Ok(vec![]);
        }
        // As for the clerk's own pause: not with a citizen at the counter.
        if let Some(t) = rt.current.and_then(|id| self.tickets.get(&id)) {
            return Err(EngineError::Busy {
                window,
                number: t.number.clone(),
                state: t.state.name(),
                hint: "wait until it is finished, or force-logout the window",
            });
        }
        Ok(vec![Event::WindowPaused { window, reason }])
    }

    pub(super) fn resume(&self, session: Session) -> Result<Vec<Event>, EngineError> {
        let rt = self.session(&session)?;
        if rt.status != WindowStatus::Paused {
            return Ok(vec![]);
        }
        Ok(vec![Event::WindowResumed {
            window: session.window,
        }])
    }

    pub(super) fn call_next(
        &self,
        session: Session,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        self.ensure_free(&session)?;
        let w = self
            .catalog
            .window(session.window)
            .ok_or(EngineError::UnknownWindow(session.window))?;
        let rt = &self.windows[&session.window];
        let (ticket, reason) = policy::pick_next(self, w, rt.priority_streak, now)
            .ok_or(EngineError::NothingWaiting(session.window))?;
        let clerk = rt.clerk.clone().unwrap_or_default();
        Ok(vec![Event::TicketCalled {
            ticket,
            window: session.window,
            clerk,
            reason,
        }])
    }

    pub(super) fn call_ticket(
        &self,
        session: Session,
        number: String,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        self.ensure_free(&session)?;
        let t = self.today_ticket(&number)?;
        if t.state != TicketState::Waiting {
            return Err(Self::wrong_state(t, "call it"));
        }
        if t.awaiting_arrival() {
            return Err(EngineError::Conflict {
                problem: format!(
                    "{number} is a remote ticket whose visitor has not checked in at the hall"
                ),
                number,
            });
        }
        if let Some(w) = t.target_window
            && w != session.window
        {
            return Err(EngineError::Conflict {
                problem: format!("ticket {number} was transferred to window {w}"),
                number,
            });
        }
        let rt = &self.windows[&session.window];
        let reason = CallReason {
            rule: CallRule::Chosen,
            tier: 0,
            waited_s: (now - t.sort_at) / 1000,
            others_waiting: self.waiting_for_window(session.window).saturating_sub(1),
        };
        Ok(vec![Event::TicketCalled {
            ticket: t.id,
            window: session.window,
            clerk: rt.clerk.clone().unwrap_or_default(),
            reason,
        }])
    }

    pub(super) fn recall(&self, session: Session) -> Result<Vec<Event>, EngineError> {
        let t = self.current(&session)?;
        if t.state != TicketState::Called {
            return Err(Self::wrong_state(t, "recall it"));
        }
        if t.recall_count >= self.catalog.policy.max_recalls {
            return Ok(vec![Event::TicketNoShow {
                ticket: t.id,
                window: session.window,
                auto: true,
            }]);
        }
        Ok(vec![Event::TicketRecalled {
            ticket: t.id,
            window: session.window,
            count: t.recall_count + 1,
        }])
    }

    pub(super) fn start_service(&self, session: Session) -> Result<Vec<Event>, EngineError> {
        let t = self.current(&session)?;
        if t.state != TicketState::Called {
            return Err(Self::wrong_state(t, "start serving it"));
        }
        Ok(vec![Event::ServiceStarted {
            ticket: t.id,
            window: session.window,
        }])
    }

    pub(super) fn finish(
        &self,
        session: Session,
        resolved: bool,
        reason: String,
        case: Option<CaseRef>,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        let t = self.current(&session)?;
        if t.state != TicketState::Serving && t.state != TicketState::Called {
            return Err(Self::wrong_state(t, "finish it"));
        }
        if let Some(c) = &case {
            for (field, v) in [("case_no", &c.case_no), ("service_code", &c.service_code)] {
                if v.chars().count() > 64
                    || v.chars()
                        .any(|ch| !(ch.is_alphanumeric() || "-_./".contains(ch)))
                {
                    return Err(EngineError::invalid(
                        field,
                        "at most 64 letters, digits and - _ . /",
                    ));
                }
            }
        }
        if !resolved && reason.trim().is_empty() {
            return Err(EngineError::invalid(
                "reason",
                "an unresolved finish needs a reason (it opens a follow-up)",
            ));
        }
        let after = if let Some(r) = &t.return_to {
            AfterFinish::Returned {
                window: r.window,
                queue: r.queue.clone(),
            }
        } else if resolved
            && let Some(b) = &t.bundle
            && (b.stage as usize + 1) < b.stages.len()
            && self
                .catalog
                .bundle(&b.code)
                .is_some_and(|b| b.mode == BundleMode::Staged)
        {
            AfterFinish::NextStage {
                stage: b.stage + 1,
                queue: b.stages[b.stage as usize + 1].clone(),
            }
        } else {
            AfterFinish::Closed
        };
        let mut events = vec![Event::TicketFinished {
            ticket: t.id,
            window: session.window,
            resolved,
            reason: reason.clone(),
            after,
        }];
        if let Some(c) = case.filter(|c| !c.case_no.is_empty() || !c.service_code.is_empty()) {
            events.push(Event::CaseRecorded {
                ticket: t.id,
                case_no: c.case_no,
                service_code: c.service_code,
            });
        }
        if !resolved {
            events.push(self.follow_up_event(t, FollowUpKind::Unresolved, reason, now));
        }
        Ok(events)
    }

    pub(super) fn no_show(&self, session: Session) -> Result<Vec<Event>, EngineError> {
        let t = self.current(&session)?;
        if t.state != TicketState::Called {
            return Err(Self::wrong_state(t, "mark it no-show"));
        }
        Ok(vec![Event::TicketNoShow {
            ticket: t.id,
            window: session.window,
            auto: false,
        }])
    }

    pub(super) fn requeue(
        &self,
        session: Session,
        number: String,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        self.session(&session)?;
        let t = self.today_ticket(&number)?;
        if t.state != TicketState::NoShow {
            return Err(Self::wrong_state(t, "requeue it as a late arrival"));
        }
        // Behind `late_requeue_behind` tickets of its queue, or at the back.
        let behind = self.catalog.policy.late_requeue_behind as usize;
        let mut places: Vec<Millis> = self
            .queues
            .get(&t.queue)
            .map(|q| {
                q.normal
                    .iter()
                    .chain(&q.priority)
                    .chain(&q.appointment)
                    .map(|k| k.0)
                    .collect()
            })
            .unwrap_or_default();
        places.sort_unstable();
        let sort_at = places.get(behind).map_or(now, |&at| at.min(now));
        Ok(vec![Event::TicketRequeued {
            ticket: t.id,
            sort_at,
        }])
    }

    pub(super) fn suspend(
        &self,
        session: Session,
        reason: String,
    ) -> Result<Vec<Event>, EngineError> {
        let t = self.current(&session)?;
        if t.state != TicketState::Serving && t.state != TicketState::Called {
            return Err(Self::wrong_state(t, "suspend it"));
        }
        Ok(vec![Event::TicketSuspended {
            ticket: t.id,
            window: session.window,
            reason,
        }])
    }

    pub(super) fn call_back(
        &self,
        session: Session,
        number: String,
        now: Millis,
    ) -> Result<Vec<Event>, EngineError> {
        self.ensure_free(&session)?;
        let t = self.today_ticket(&number)?;
        if t.state != TicketState::Suspended {
            return Err(Self::wrong_state(t, "call it back"));
        }
        let rt = &self.windows[&session.window];
        let reason = CallReason {
            rule: CallRule::CalledBack,
            tier: 0,
            waited_s: (now - t.sort_at) / 1000,
            others_waiting: self.waiting_for_window(session.window),
        };
        Ok(vec![Event::TicketCalled {
            ticket: t.id,
            window: session.window,
            clerk: rt.clerk.clone().unwrap_or_default(),
            reason,
        }])
    }
}
