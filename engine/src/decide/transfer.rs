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
}
