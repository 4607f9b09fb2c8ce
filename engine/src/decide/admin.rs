//! Configuration and housekeeping: the day rollover (`Tick`), replacing the
//! catalogue, device reports from kiosks.

use crate::catalog::*;
use crate::*;

impl Hall {
    pub(super) fn tick(&self, now: Millis) -> Result<Vec<Event>, EngineError> {
        let to = self.clock().service_date(now);
        if to == self.service_date {
            return Ok(vec![]);
        }
        let mut expired: Vec<TicketId> = self
            .tickets
            .values()
            .filter(|t| t.state.is_active())
            .map(|t| t.id)
            .collect();
        expired.sort_unstable();
        let mut events = vec![Event::DayRolled { to, expired }];
        // Clerk sessions end with the service day: each clerk logs in again
        // in the morning, so a session token left on a terminal (or taken
        // from it) is worth one day at most.
        let mut open: Vec<WindowNo> = self
            .windows
            .iter()
            .filter(|(_, rt)| rt.clerk.is_some())
            .map(|(n, _)| *n)
            .collect();
        open.sort_unstable();
        events.extend(
            open.into_iter()
                .map(|window| Event::WindowClosed { window }),
        );
        Ok(events)
    }

    pub(super) fn replace_catalog(&self, catalog: Box<Catalog>) -> Result<Vec<Event>, EngineError> {
        if let Err(problems) = catalog.validate() {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            return Err(EngineError::invalid("catalog", text.join("; ")));
        }
        for (code, q) in &self.queues {
            if q.len() > 0 && catalog.queue(code).is_none() {
                return Err(EngineError::CatalogConflict(format!(
                    "'{code}' still has {} waiting tickets today",
                    q.len()
                )));
            }
        }
        for (n, rt) in &self.windows {
            if rt.status != WindowStatus::Closed && catalog.window(*n).is_none() {
                return Err(EngineError::CatalogConflict(format!(
                    "window {n} is logged in"
                )));
            }
        }
        if *catalog == self.catalog {
            return Ok(vec![]);
        }
        Ok(vec![Event::CatalogReplaced { catalog }])
    }

    pub(super) fn report_device(
        &self,
        device_id: String,
        kind: String,
        status: String,
        detail: String,
    ) -> Result<Vec<Event>, EngineError> {
        if device_id.is_empty() {
            return Err(EngineError::invalid("device_id", "device_id is empty"));
        }
        if let Some(d) = self.devices.get(&device_id)
            && d.status == status
            && d.detail == detail
        {
            return Ok(vec![]);
        }
        Ok(vec![Event::DeviceReported {
            device_id,
            kind,
            status,
            detail,
        }])
    }

    pub(super) fn force_logout(
        &self,
        window: WindowNo,
        by: String,
        reason: String,
        ticket: ForcedTicket,
    ) -> Result<Vec<Event>, EngineError> {
        let rt = self
            .windows
            .get(&window)
            .ok_or(EngineError::UnknownWindow(window))?;
        if rt.status == WindowStatus::Closed {
            return Err(EngineError::NotLoggedIn(window));
        }
        if reason.trim().is_empty() {
            return Err(EngineError::invalid(
                "reason",
                "a force-logout needs a reason (it is recorded)",
            ));
        }
        let mut events = Vec::new();
        if let Some(t) = rt.current.and_then(|id| self.tickets.get(&id)) {
            events.push(match ticket {
                // Its own place: the time it was queued by, not now.
                ForcedTicket::Requeue => Event::TicketRequeued {
                    ticket: t.id,
                    sort_at: t.sort_at,
                },
                ForcedTicket::Suspend => Event::TicketSuspended {
                    ticket: t.id,
                    window,
                    reason: reason.clone(),
                },
            });
        }
        events.push(Event::WindowForcedOut {
            window,
            clerk: rt.clerk.clone().unwrap_or_default(),
            by,
            reason,
        });
        Ok(events)
    }
}
