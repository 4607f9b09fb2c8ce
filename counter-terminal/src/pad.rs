//! The rating pad (评价器): the counter terminal's `--rating-pad` mode, a
//! screen facing the citizen at one window. It reads its window
//! (`PadService.GetPadState`: the clerk, the current ticket, the tickets
//! just finished and not rated) and sends the citizen's rating
//! (`PadService.Rate`). The server binds a pad to its window by its
//! certificate (`pad-N`), so a pad cannot rate for another window, and the
//! clerk's terminal has no way to rate at all.
//!
//! [`phase`] is the pure part: what the screen shows for a state.

use hall_proto::v1 as pb;
use hall_proto::v1::pad_service_client::PadServiceClient;
use tonic::transport::Channel;

/// What the pad shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Nobody being served: a welcome.
    #[default]
    Idle,
    /// A ticket called or in service here.
    Serving,
    /// A ticket just finished here, not rated: the five levels.
    Rate,
    /// 不满意 or 非常不满意 chosen: the reason, then submit.
    Reason,
    /// Rated: thanks (for a few seconds).
    Thanks,
    /// No server.
    Offline,
}

/// The screen for a window's state: the ticket in service, if any (the
/// citizen at the counter now); else the ticket just finished and not
/// rated, until the window calls the next one (so the next citizen is never
/// asked to rate someone else's service).
pub fn phase(st: &pb::PadState) -> (Phase, String) {
    if !st.current_number.is_empty() {
        return (Phase::Serving, st.current_number.clone());
    }
    if let Some(n) = st.rateable.first() {
        return (Phase::Rate, n.clone());
    }
    (Phase::Idle, String::new())
}

/// The pad's view: what the Slint adapter shows.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub phase: Phase,
    pub window_name: String,
    pub clerk_name: String,
    pub clerk_id: String,
    pub ticket: String,
    /// The level chosen (1–5; 0 none yet).
    pub chosen: u32,
    pub message: String,
    pub message_is_error: bool,
}

/// A rating pad connected to the server.
pub struct Pad {
    client: PadServiceClient<Channel>,
    pub window: u32,
    pub view: View,
}

impl Pad {
    pub async fn connect(url: &str, window: u32) -> anyhow::Result<Pad> {
        let ch = hall_proto::client::connect_with_backoff(url, 20, std::time::Duration::from_secs(2)).await?;
        Ok(Pad::on(ch, window).await)
    }

    /// A pad on an open channel (its certificate decides which window it may rate).
    pub async fn on(channel: Channel, window: u32) -> Pad {
        let mut p = Pad { client: PadServiceClient::new(channel), window, view: View::default() };
        p.refresh().await;
        p
    }

    /// Reads the window again. Keeps a reason being typed, and the thanks.
    pub async fn refresh(&mut self) {
        match self.client.get_pad_state(pb::PadRequest { window: self.window }).await {
            Ok(r) => {
                let st = r.into_inner();
                self.view.window_name = st.window_name.clone();
                self.view.clerk_name = st.clerk_name.clone();
                self.view.clerk_id = st.clerk_id.clone();
                let (phase, ticket) = phase(&st);
                let keep = matches!(self.view.phase, Phase::Reason | Phase::Thanks) && (phase != Phase::Rate || ticket == self.view.ticket);
                if !keep {
                    if phase != self.view.phase || ticket != self.view.ticket {
                        self.view.chosen = 0;
                        self.view.message.clear();
                    }
                    self.view.phase = phase;
                    self.view.ticket = ticket;
                }
            }
            Err(e) => {
                self.view.phase = Phase::Offline;
                self.view.message = hall_client::texts::refusal(&e, hall_client::texts::Lang::Zh);
                self.view.message_is_error = true;
            }
        }
    }

    /// The citizen touched a level: 3–5 are sent at once, 1–2 ask for a
    /// reason first.
    pub async fn choose(&mut self, level: u32) -> bool {
        self.view.chosen = level.clamp(1, 5);
        if self.view.chosen <= 2 {
            self.view.phase = Phase::Reason;
            return false;
        }
        self.submit("").await
    }

    /// Sends the rating (with the reason for 1–2).
    pub async fn submit(&mut self, reason: &str) -> bool {
        let req = pb::PadRatingRequest {
            window: self.window,
            number: self.view.ticket.clone(),
            rating: self.view.chosen,
            comment: reason.trim().to_string(),
        };
        match self.client.rate(req).await {
            Ok(_) => {
                self.view.phase = Phase::Thanks;
                self.view.message.clear();
                self.view.message_is_error = false;
                true
            }
            Err(e) => {
                self.view.message = hall_client::texts::refusal(&e, hall_client::texts::Lang::Zh);
                self.view.message_is_error = true;
                false
            }
        }
    }

    /// After the thanks: back to what the window shows now.
    pub async fn done(&mut self) {
        self.view.phase = Phase::Idle;
        self.view.ticket.clear();
        self.refresh().await;
    }
}

/// Whether an event may change what a pad of `window` shows.
pub fn touches(window: u32, e: &pb::Event) -> bool {
    use pb::event::Body;
    e.window.as_ref().is_some_and(|w| w.number == window)
        || match &e.body {
            Some(Body::RatingSubmitted(r)) => r.window == window,
            Some(Body::TicketCalled(c)) => c.call.as_ref().is_some_and(|c| c.window == window),
            Some(Body::TicketStateChanged(t)) => t.window == window,
            Some(Body::DayRolled(_) | Body::CatalogChanged(_)) => true,
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_ticket_is_offered_until_the_next_is_called() {
        let mut st = pb::PadState { rateable: vec!["B001".into()], ..Default::default() };
        assert_eq!(phase(&st), (Phase::Rate, "B001".into()));
        // The next citizen is at the counter: never asked to rate B001.
        st.current_number = "B002".into();
        assert_eq!(phase(&st), (Phase::Serving, "B002".into()));
        assert_eq!(phase(&pb::PadState::default()), (Phase::Idle, String::new()));
    }
}
