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

/// Window 2, serving queue "a" first and "b" second.
fn at_window_serving_a_and_b() -> State {
    let mut st = with_current(logged_in(), pb::WindowState::Open, None);
    st.queue.as_mut().unwrap().window.as_mut().unwrap().tiers =
        vec![pb::Tier { codes: vec!["a".into()] }, pb::Tier { codes: vec!["b".into()] }];
    st
}

fn issued_in(code: &str, seq: u64) -> pb::Event {
    pb::Event {
        seq,
        body: Some(pb::event::Body::TicketIssued(pb::TicketIssued { category: code.into(), ..Default::default() })),
        queues: vec![pb::QueueCount { code: code.into(), waiting: 1, ..Default::default() }],
        ..Default::default()
    }
}

fn event(e: pb::Event, now_ms: i64) -> Input {
    Input::Event { event: Box::new(e), now_ms }
}

#[test]
fn only_events_that_touch_this_window_read_its_queue() {
    let st = at_window_serving_a_and_b();
    assert!(touches(&st, &issued_in("a", 1)));
    assert!(touches(&st, &issued_in("b", 1)), "a second-tier queue counts too");
    assert!(!touches(&st, &issued_in("z", 1)), "a queue this window does not serve");
    let window = |n: u32| pb::Event {
        window: Some(pb::WindowInfo { number: n, ..Default::default() }),
        body: Some(pb::event::Body::WindowChanged(pb::WindowChanged::default())),
        ..Default::default()
    };
    assert!(touches(&st, &window(2)));
    assert!(!touches(&st, &window(7)));
    let body = |b: pb::event::Body| pb::Event { body: Some(b), ..Default::default() };
    assert!(touches(&st, &body(pb::event::Body::DeviceReported(Default::default()))), "device alerts show here");
    assert!(touches(&st, &body(pb::event::Body::CatalogChanged(Default::default()))));
    assert!(touches(&st, &body(pb::event::Body::RatingSubmitted(pb::RatingSubmitted { window: 2, ..Default::default() }))));
    assert!(!touches(&st, &body(pb::event::Body::RatingSubmitted(pb::RatingSubmitted { window: 3, ..Default::default() }))));
    // Sent back to waiting from another window: maybe to this one.
    let transferred = pb::TicketStateChanged { window: 7, state: pb::TicketState::Waiting as i32, category: "z".into(), ..Default::default() };
    assert!(touches(&st, &body(pb::event::Body::TicketStateChanged(transferred))));
    let finished = pb::TicketStateChanged { window: 7, state: pb::TicketState::Done as i32, category: "z".into(), ..Default::default() };
    assert!(!touches(&st, &body(pb::event::Body::TicketStateChanged(finished))));
    // Logged out: nothing to read; tiers unknown yet: everything may matter.
    assert!(!touches(&State::default(), &issued_in("a", 1)));
    assert!(touches(&logged_in(), &issued_in("z", 1)));
}

#[test]
fn a_burst_of_events_makes_one_read_now_and_one_when_due() {
    let mut st = at_window_serving_a_and_b();
    assert!(update(&mut st, event(issued_in("z", 1), 1_000)).is_empty(), "not this window's");
    assert_eq!(update(&mut st, event(issued_in("a", 2), 1_000)), vec![Effect::Refresh]);
    // More within 300 ms: one read, deferred to 1 300.
    for (seq, t) in [(3, 1_010), (4, 1_100), (5, 1_299)] {
        assert!(update(&mut st, event(issued_in("a", seq), t)).is_empty());
    }
    assert_eq!(st.read_due_ms, Some(1_000 + COALESCE_MS));
    assert!(update(&mut st, Input::Due { now_ms: 1_200 }).is_empty(), "not yet");
    assert_eq!(update(&mut st, Input::Due { now_ms: 1_300 }), vec![Effect::Refresh]);
    assert_eq!(st.read_due_ms, None);
    assert!(update(&mut st, Input::Due { now_ms: 1_400 }).is_empty(), "nothing left to read");
    // A quiet spell later, the next event is read at once.
    assert_eq!(update(&mut st, event(issued_in("b", 6), 5_000)), vec![Effect::Refresh]);
}

#[test]
fn a_terminal_that_lost_the_server_reconnects_when_the_stream_is_back() {
    let mut st = State { connected: false, ..logged_in() };
    assert_eq!(update(&mut st, Input::Stream(Connection::Reconnecting { since_ms: 5 })), vec![Effect::Reconnect]);
    assert_eq!(st.stream, Some(Connection::Reconnecting { since_ms: 5 }));
    assert_eq!(update(&mut st, Input::Stream(Connection::Connected)), vec![Effect::Reconnect]);
    st.connected = true;
    assert_eq!(update(&mut st, Input::Stream(Connection::Connected)), vec![Effect::Refresh]);
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

#[test]
fn a_ticket_goes_to_an_open_category_at_a_site_that_answered() {
    let cat = |code: &str, name: &str, waiting: u32, open: bool| pb::PeerCategory {
        code: code.into(),
        name_zh: name.into(),
        waiting,
        estimated_wait_min: waiting * 4,
        open_now: open,
        ..Default::default()
    };
    let mut st = with_current(logged_in(), pb::WindowState::Serving, Some(pb::TicketState::Serving));
    // Logged out or cut off: the dialog reads nothing.
    assert!(update(&mut State::default(), Input::LoadPeers).is_empty());
    st.peers = vec![pb::PeerSite { site: "old".into(), reachable: true, ..Default::default() }];
    st.peers_loaded = true;
    assert_eq!(update(&mut st, Input::LoadPeers), vec![Effect::LoadPeers]);
    assert!(st.peers.is_empty() && !st.peers_loaded, "the last opening's list is not offered while the new one loads");
    st.peers_loaded = true;
    st.peers = vec![
        pb::PeerSite {
            site: "s1".into(),
            name: "街道中心".into(),
            reachable: true,
            categories: vec![cat("pension", "养老", 3, true), cat("tax", "税务", 0, false), cat("medical", "医保", 0, true)],
            ..Default::default()
        },
        pb::PeerSite { site: "c1".into(), name: "社区站".into(), reachable: false, error: "refused".into(), ..Default::default() },
    ];
    let labels: Vec<String> = site_targets(&st).into_iter().map(|(l, ..)| l).collect();
    // A category closed now is not offered; neither is a site that did not answer.
    assert_eq!(labels, vec!["街道中心 · 养老（pension）等候 3 人，约 12 分钟", "街道中心 · 医保（medical）等候 0 人"]);
    assert_eq!(unreachable_sites(&st), "暂时无法连接：社区站（c1）");
    assert_eq!(
        update(&mut st, Input::SendToSite { index: 1 }),
        vec![Effect::SendToSite { site: "s1".into(), category: "medical".into() }]
    );
    assert!(update(&mut st, Input::SendToSite { index: 2 }).is_empty());
    st.connected = false;
    assert!(update(&mut st, Input::SendToSite { index: 0 }).is_empty());
}
