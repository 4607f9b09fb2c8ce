//! The counter's decisions without a window or a server.

use super::*;
use crate::terminal::{CategoryInfo, State};

fn logged_in() -> State {
    State { session: Some(pb::Session { window: 2, token: "t".into() }), connected: true, ..Default::default() }
}

fn with_current(mut st: State, window: pb::WindowState, ticket: Option<pb::TicketState>) -> State {
    st.queue = Some(pb::MyQueue {
        window: Some(pb::WindowInfo { number: 2, state: window as i32, ..Default::default() }),
        current: ticket.map(|s| pb::Ticket { number: "A001".into(), state: s as i32, category: "a".into(), ..Default::default() }),
        ..Default::default()
    });
    st
}

#[test]
fn a_called_ticket_is_called_until_service_starts() {
    // The server says "serving" for the window as soon as a ticket is called.
    let st = with_current(logged_in(), pb::WindowState::Serving, Some(pb::TicketState::Called));
    assert_eq!(desk(&st), Desk::Called);
    let st = with_current(logged_in(), pb::WindowState::Serving, Some(pb::TicketState::Serving));
    assert_eq!(desk(&st), Desk::Serving);
    let st = with_current(logged_in(), pb::WindowState::Open, None);
    assert_eq!(desk(&st), Desk::Idle);
    let st = with_current(logged_in(), pb::WindowState::Paused, None);
    assert_eq!(desk(&st), Desk::Paused);
    assert_eq!(desk(&State::default()), Desk::Closed);
}

#[test]
fn pause_or_resume_follows_the_window_state_not_a_label() {
    let mut paused = with_current(logged_in(), pb::WindowState::Paused, None);
    assert_eq!(update(&mut paused, Input::Action(Action::Pause)), vec![Effect::Act(Action::Resume)]);
    let mut open = with_current(logged_in(), pb::WindowState::Open, None);
    assert_eq!(update(&mut open, Input::Action(Action::Resume)), vec![Effect::Act(Action::Pause)]);
    assert_eq!(update(&mut open, Input::Action(Action::CallNext)), vec![Effect::Act(Action::CallNext)]);
}

#[test]
fn keys_do_nothing_while_logged_out_or_cut_off() {
    let mut out = State { connected: true, ..Default::default() };
    assert!(update(&mut out, Input::Action(Action::CallNext)).is_empty());
    let mut cut = State { connected: false, ..logged_in() };
    assert!(update(&mut cut, Input::Action(Action::CallNext)).is_empty());
    assert!(update(&mut cut, Input::CallTicket("A001".into())).is_empty());
    // Logging in is always possible.
    let login = Input::Login { window: 2, clerk: "c02".into(), pin: "1234".into() };
    assert_eq!(update(&mut out, login).len(), 1);
}

#[test]
fn many_events_make_one_queue_read_at_a_time() {
    let mut st = logged_in();
    assert_eq!(update(&mut st, Input::Event), vec![Effect::Refresh]);
    assert!(update(&mut st, Input::Event).is_empty());
    assert!(update(&mut st, Input::Stream(Connection::Connected)).is_empty());
    assert!(update(&mut st, Input::Refreshed).is_empty());
    assert_eq!(update(&mut st, Input::Event), vec![Effect::Refresh]);
}

#[test]
fn a_terminal_that_lost_the_server_reconnects_when_the_stream_is_back() {
    let mut st = State { connected: false, ..logged_in() };
    assert_eq!(update(&mut st, Input::Stream(Connection::Reconnecting { since_ms: 5 })), vec![Effect::Reconnect]);
    assert_eq!(st.stream, Some(Connection::Reconnecting { since_ms: 5 }));
    update(&mut st, Input::Refreshed);
    assert_eq!(update(&mut st, Input::Stream(Connection::Connected)), vec![Effect::Reconnect]);
}

#[test]
fn a_transfer_picks_the_chosen_target() {
    let mut st = with_current(logged_in(), pb::WindowState::Serving, Some(pb::TicketState::Serving));
    for (code, name) in [("a", "甲"), ("b", "乙"), ("c", "丙")] {
        st.categories.insert(code.into(), CategoryInfo { name: name.into(), materials: vec!["身份证".into()] });
    }
    // The current ticket's own category is not offered.
    let labels: Vec<String> = transfer_targets(&st).into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, vec!["乙（b）", "丙（c）"]);
    assert_eq!(update(&mut st, Input::Transfer { index: 1, with_return: true }), vec![Effect::Transfer(Target::Category("c".into()), true)]);
    assert!(update(&mut st, Input::Transfer { index: 7, with_return: true }).is_empty());
}
