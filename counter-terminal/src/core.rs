//! The counter terminal's pure core: `update(&mut State, Input) -> Vec<Effect>`.
//! It decides what a key, a button, an event on the stream or a change of
//! the connection leads to; [`crate::terminal::Terminal`] runs the effects
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

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A button or F-key.
    Action(Action),
    Login { window: u32, clerk: String, pin: String },
    CallTicket(String),
    CallBack(String),
    /// The transfer dialog's choice (index into [`transfer_targets`]).
    Transfer { index: usize, with_return: bool },
    Rate { rating: u32, reason: String },
    /// Something happened in the hall: this window's queue may have changed.
    Event,
    /// The event stream's connection changed.
    Stream(Connection),
    /// A queue read (the [`Effect::Refresh`] or [`Effect::Reconnect`]) finished.
    Refreshed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Act(Action),
    Login { window: u32, clerk: String, pin: String },
    CallTicket(String),
    CallBack(String),
    Transfer(Target, bool),
    Rate(u32, String),
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
        Input::Rate { rating, reason } => vec![Effect::Rate(rating.clamp(1, 5), reason)],
        Input::Stream(c) => {
            st.stream = Some(c);
            refresh(st)
        }
        Input::Event => refresh(st),
        Input::Refreshed => {
            st.refresh_pending = false;
            vec![]
        }
    }
}

/// One queue read at a time: a busy hall sends many events, and one read
/// covers them all. A terminal that lost the server connects again instead.
fn refresh(st: &mut State) -> Vec<Effect> {
    if st.refresh_pending {
        return vec![];
    }
    st.refresh_pending = true;
    vec![if st.connected { Effect::Refresh } else { Effect::Reconnect }]
}

#[cfg(test)]
mod tests;
