//! The counter terminal's pure core: `update(&mut State, Input) -> Vec<Effect>`.
//! It decides what a key, a button, an event on the stream or a change of
//! the connection leads to (an event leads to a queue read only if it
//! touches this window or its queues, and reads are coalesced); [`crate::terminal::Terminal`] runs the effects
//! over gRPC and [`crate::view`] shows the state. No I/O and no clock here,
//! so every decision is tested without a window or a server (`core/tests.rs`).
//!
//! Not for wording server refusals (`hall_client::texts`) or drawing.

use crate::terminal::{State, Target};
use hall_client::follow::Connection;
use hall_proto::v1 as pb;

/// A clerk's action on the current ticket or the window (buttons, F-keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CallNext,
    Recall,
    Start,
    Finish,
    Unresolved,
    NoShow,
    Suspend,
    Pause,
    Resume,
    Logout,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Action::CallNext,
        Action::Recall,
        Action::Start,
        Action::Finish,
        Action::Unresolved,
        Action::NoShow,
        Action::Suspend,
        Action::Pause,
        Action::Resume,
        Action::Logout,
    ];

    /// The action's name (`call-next`, …), as the auto clerk and tests say it.
    pub fn name(self) -> &'static str {
        match self {
            Action::CallNext => "call-next",
            Action::Recall => "recall",
            Action::Start => "start",
            Action::Finish => "finish",
            Action::Unresolved => "unresolved",
            Action::NoShow => "no-show",
            Action::Suspend => "suspend",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Logout => "logout",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// The window as the clerk sees it. `Called` lasts until service starts: the
/// server's window state says "serving" as soon as a ticket is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Desk {
    #[default]
    Closed,
    Idle,
    Called,
    Serving,
    Paused,
}

/// The desk state from the server's queue answer.
pub fn desk(state: &State) -> Desk {
    let Some(q) = &state.queue else { return Desk::Closed };
    let window = q.window.as_ref().map(|w| pb::WindowState::try_from(w.state).unwrap_or(pb::WindowState::Closed));
    if window == Some(pb::WindowState::Paused) {
        return Desk::Paused;
    }
    match q.current.as_ref().map(|t| pb::TicketState::try_from(t.state).unwrap_or(pb::TicketState::Unspecified)) {
        Some(pb::TicketState::Called) => Desk::Called,
        Some(pb::TicketState::Serving) => Desk::Serving,
        _ if matches!(window, Some(pb::WindowState::Open | pb::WindowState::Serving)) => Desk::Idle,
        _ => Desk::Closed,
    }
}

/// Transfer targets offered in the dialog: every category with guidance but
/// the current ticket's, by code, at most nine.
pub fn transfer_targets(state: &State) -> Vec<(String, Target)> {
    let current = state.queue.as_ref().and_then(|q| q.current.as_ref()).map(|t| t.category.clone()).unwrap_or_default();
    let mut cats: Vec<(&String, &crate::terminal::CategoryInfo)> =
        state.categories.iter().filter(|(c, i)| **c != current && !i.materials.is_empty()).collect();
    cats.sort_by(|a, b| a.0.cmp(b.0));
    cats.into_iter().take(9).map(|(c, i)| (format!("{}（{}）", i.name, c), Target::Category(c.clone()))).collect()
}

/// 跨区域通办 targets offered in the dialog: every category open now at
/// every site that answered, with its waiting count, as (label, site,
/// category), in the order the server listed the sites.
pub fn site_targets(state: &State) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in state.peers.iter().filter(|p| p.reachable) {
        for c in p.categories.iter().filter(|c| c.open_now) {
            let wait = if c.estimated_wait_min > 0 { format!("，约 {} 分钟", c.estimated_wait_min) } else { String::new() };
            out.push((format!("{} · {}（{}）等候 {} 人{wait}", p.name, c.name_zh, c.code, c.waiting), p.site.clone(), c.code.clone()));
        }
    }
    out
}

/// The sites of the network that did not answer, for the dialog's footnote.
pub fn unreachable_sites(state: &State) -> String {
    let down: Vec<String> = state.peers.iter().filter(|p| !p.reachable).map(|p| format!("{}（{}）", p.name, p.site)).collect();
    if down.is_empty() { String::new() } else { format!("暂时无法连接：{}", down.join("、")) }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A button or F-key.
    Action(Action),
    Login { window: u32, clerk: String, pin: String },
    CallTicket(String),
    CallBack(String),
    /// The transfer dialog's choice (index into [`transfer_targets`]).
    Transfer { index: usize, with_return: bool },
    /// The 跨区域通办 dialog opened: read the other sites' categories.
    LoadPeers,
    /// The 跨区域通办 dialog's choice (index into [`site_targets`]).
    SendToSite { index: usize },
    /// An event on the stream, at `now_ms`: a read of the queue if it
    /// [`touches`] this window (at most one per [`COALESCE_MS`]).
    Event { event: Box<pb::Event>, now_ms: i64 },
    /// The time a deferred read asked for ([`State::read_due_ms`]) has come.
    Due { now_ms: i64 },
    /// The event stream's connection changed.
    Stream(Connection),
}

/// Reads of the queue caused by events are at least this far apart: a
/// burst of events (a busy kiosk, thirty calls at once) makes one or two
/// reads, not one per event.
pub const COALESCE_MS: i64 = 300;

/// Whether an event may change what this terminal shows: its own window, a
/// queue it serves (a tier's code), a ticket sent back to waiting from a
/// window (a transfer or a return may be meant for this one), a rating here,
/// a device alert, a new day or catalogue. Before the first queue read
/// (tiers unknown) every event does; logged out, none.
pub fn touches(st: &State, e: &pb::Event) -> bool {
    use pb::event::Body;
    let Some(me) = st.session.as_ref().map(|s| s.window) else { return false };
    let Some(window) = st.queue.as_ref().and_then(|q| q.window.as_ref()) else { return true };
    let serves = |code: &str| window.tiers.iter().any(|t| t.codes.iter().any(|c| c == code));
    if e.window.as_ref().is_some_and(|w| w.number == me) || e.queues.iter().any(|q| serves(&q.code)) {
        return true;
    }
    match &e.body {
        Some(Body::CatalogChanged(_) | Body::DayRolled(_) | Body::DeviceReported(_)) => true,
        Some(Body::RatingSubmitted(r)) => r.window == me,
        Some(Body::TicketCalled(c)) => c.call.as_ref().is_some_and(|c| c.window == me),
        Some(Body::TicketStateChanged(t)) => t.window == me || (t.window != 0 && t.state == pb::TicketState::Waiting as i32),
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Act(Action),
    Login { window: u32, clerk: String, pin: String },
    CallTicket(String),
    CallBack(String),
    Transfer(Target, bool),
    LoadPeers,
    SendToSite { site: String, category: String },
    /// Re-read the window's queue.
    Refresh,
    /// Connect again (keeping the session), then re-read.
    Reconnect,
}

/// Applies one input; returns what to run.
pub fn update(st: &mut State, input: Input) -> Vec<Effect> {
    let usable = st.session.is_some() && st.connected;
    match input {
        // Keys and buttons do nothing while logged out or cut off (the
        // screen says so); a transfer or rating in flight is the server's to judge.
        Input::Action(a) if usable => {
            // Pause and resume are decided by the window's state, whatever
            // the caller thought it was.
            let a = match (a, desk(st)) {
                (Action::Pause, Desk::Paused) => Action::Resume,
                (Action::Resume, d) if d != Desk::Paused => Action::Pause,
                (a, _) => a,
            };
            vec![Effect::Act(a)]
        }
        Input::Action(_) => vec![],
        Input::Login { window, clerk, pin } => vec![Effect::Login { window, clerk, pin }],
        Input::CallTicket(n) if usable => vec![Effect::CallTicket(n)],
        Input::CallBack(n) if usable => vec![Effect::CallBack(n)],
        Input::CallTicket(_) | Input::CallBack(_) => vec![],
        Input::Transfer { index, with_return } if usable => {
            transfer_targets(st).into_iter().nth(index).map(|(_, t)| Effect::Transfer(t, with_return)).into_iter().collect()
        }
        Input::Transfer { .. } => vec![],
        // The list is read afresh: until it answers the dialog offers
        // nothing, so an index always means a row of the list on screen.
        Input::LoadPeers if usable => {
            st.peers.clear();
            st.peers_loaded = false;
            vec![Effect::LoadPeers]
        }
        Input::SendToSite { index } if usable => site_targets(st)
            .into_iter()
            .nth(index)
            .map(|(_, site, category)| Effect::SendToSite { site, category })
            .into_iter()
            .collect(),
        Input::LoadPeers => {
            // Logged out or cut off: the dialog says there is nothing to offer.
            st.peers.clear();
            st.peers_loaded = true;
            vec![]
        }
        Input::SendToSite { .. } => vec![],
        // A new or lost stream: read (or reconnect) at once, whatever was due.
        Input::Stream(c) => {
            st.stream = Some(c);
            st.read_due_ms = None;
            vec![read(st)]
        }
        Input::Event { event, now_ms } if touches(st, &event) => {
            // The citizen rated on the window's pad (评价器): the clerk only
            // sees that it arrived, never submits one.
            if let Some(pb::event::Body::RatingSubmitted(r)) = &event.body {
                if st.rating_for.as_deref() == Some(r.number.as_str()) {
                    st.rating_for = None;
                }
                st.message = format!("{} 已收到市民评价", r.number);
                st.message_is_error = false;
            }
            if st.read_due_ms.is_some() {
                return vec![]; // the read already due covers this event too
            }
            match st.last_read_ms.map(|l| l + COALESCE_MS).filter(|&due| due > now_ms) {
                Some(due) => {
                    st.read_due_ms = Some(due);
                    vec![]
                }
                None => {
                    st.last_read_ms = Some(now_ms);
                    vec![read(st)]
                }
            }
        }
        Input::Event { .. } => vec![],
        Input::Due { now_ms } => match st.read_due_ms {
            Some(due) if due <= now_ms => {
                st.read_due_ms = None;
                st.last_read_ms = Some(now_ms);
                vec![read(st)]
            }
            _ => vec![],
        },
    }
}

/// A read of the queue; a terminal that lost the server connects again instead.
fn read(st: &State) -> Effect {
    if st.connected { Effect::Refresh } else { Effect::Reconnect }
}

#[cfg(test)]
mod tests;
