//! Transfers to another category or window, with or without return (a
//! returning ticket keeps its place), and bundle stages moving on.

use crate::*;

impl Hall {
    pub(super) fn transfer(
        &self,
        session: Session,
        target: TransferTarget,
        with_return: bool,
        reason: String,
    ) -> Result<Vec<Event>, EngineError> {
        let t = self.current(&session)?;
        if t.state != TicketState::Serving && t.state != TicketState::Called {
            return Err(Self::wrong_state(t, "transfer it"));
        }
        match &target {
            TransferTarget::Queue(code) => {
                if self.catalog.queue(code).is_none() {
                    return Err(EngineError::UnknownCategory(code.clone()));
                }
            }
            TransferTarget::Window(w) => {
                if self.catalog.window(*w).is_none() {
                    return Err(EngineError::UnknownWindow(*w));
                }
                if *w == session.window {
                    return Err(EngineError::invalid(
                        "target",
                        "cannot transfer to the same window",
                    ));
                }
            }
        }
        let return_to = with_return.then(|| ReturnTo {
            window: session.window,
            queue: t.queue.clone(),
        });
        Ok(vec![Event::TicketTransferred {
            ticket: t.id,
            from_window: session.window,
            target,
            return_to,
            reason,
        }])
    }

    /// 跨区域通办: the window's current ticket goes to another site of the
    /// network (a `[[peers]]` entry), which has already issued it `to`.
    pub(super) fn send_to_site(
        &self,
        session: Session,
        ticket: TicketId,
        to: SiteTicket,
    ) -> Result<Vec<Event>, EngineError> {
        let t = self.current(&session)?;
        if t.id != ticket {
            return Err(EngineError::invalid(
                "session",
                format!(
                    "window {} has moved on to {}: {} is no longer its ticket",
                    session.window,
                    t.number,
                    self.tickets
                        .get(&ticket)
                        .map_or("the ticket", |x| x.number.as_str())
                ),
            ));
        }
        if t.state != TicketState::Serving && t.state != TicketState::Called {
            return Err(Self::wrong_state(t, "send it to another site"));
        }
        if !self.catalog.peers.iter().any(|p| p.site == to.site) {
            return Err(EngineError::invalid(
                "site",
                format!(
                    "'{}' is not a site of this hall's network ([[peers]])",
                    to.site
                ),
            ));
        }
        if to.number.is_empty() || to.category.is_empty() {
            return Err(EngineError::invalid(
                "number",
                "the other site's ticket is needed",
            ));
        }
        Ok(vec![Event::TicketFinished {
            ticket: t.id,
            window: session.window,
            resolved: true,
            reason: format!("跨区域通办 → {} {}", to.site, to.number),
            after: AfterFinish::SentAway { to },
        }])
    }
}
