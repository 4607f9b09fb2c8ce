//! The board's pure core: `update(&mut Board, Input) -> Vec<Effect>`. The
//! follower feeds it what the server sends (snapshots, events, the
//! catalogue, the connection); it answers with what the screen must do (a
//! call to show, flash, print and announce, or a plain redraw). No I/O and
//! no clock, so it is tested without a window or a server.
//!
//! Not for drawing ([`crate::view`]) or sound ([`crate::voice`]).

use crate::model::{Board, Call};
use hall_client::follow::Connection;
use hall_proto::v1 as pb;

#[derive(Debug, Clone)]
pub enum Input {
    /// The server's state when the board had no position (start, or the
    /// server lost it, or a gap in the sequence).
    Snapshot(pb::BoardState),
    /// One event, with the queues and the window it changed.
    Event(pb::Event),
    Catalog(pb::Catalog),
    Connection(Connection),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A call (or recall) arrived: show it, flash it, print its line,
    /// announce it.
    Call(Call),
    /// Something on the screen changed.
    Redraw,
}

pub fn update(board: &mut Board, input: Input) -> Vec<Effect> {
    match input {
        Input::Snapshot(s) => {
            board.apply_snapshot(&s);
            vec![Effect::Redraw]
        }
        Input::Event(e) => match board.apply_event(&e) {
            Some(call) => vec![Effect::Call(call)],
            None => vec![Effect::Redraw],
        },
        Input::Catalog(c) => {
            board.apply_catalog(&c);
            vec![Effect::Redraw]
        }
        Input::Connection(c) => {
            let changed = board.connection != Some(c);
            board.connection = Some(c);
            if changed { vec![Effect::Redraw] } else { vec![] }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Filter;
    use hall_client::time::HallZone;

    fn called(seq: u64, number: &str, window: u32, recall: bool) -> Input {
        Input::Event(pb::Event {
            seq,
            at_ms: 0,
            body: Some(pb::event::Body::TicketCalled(pb::TicketCalled {
                call: Some(pb::CallInfo { number: number.into(), window, recall, category: "a".into(), ..Default::default() }),
                reason: String::new(),
            })),
            ..Default::default()
        })
    }

    #[test]
    fn a_call_is_shown_announced_once_and_a_recall_again() {
        let mut b = Board::new(Filter::default());
        update(&mut b, Input::Snapshot(pb::BoardState { seq: 3, ..Default::default() }));
        let fx = update(&mut b, called(4, "A001", 2, false));
        assert!(matches!(&fx[..], [Effect::Call(c)] if c.number == "A001" && !c.recall));
        // The same event replayed after a reconnect: nothing to announce.
        assert_eq!(update(&mut b, called(4, "A001", 2, false)), vec![Effect::Redraw]);
        let fx = update(&mut b, called(5, "A001", 2, true));
        assert!(matches!(&fx[..], [Effect::Call(c)] if c.recall));
    }

    #[test]
    fn a_zone_board_announces_only_its_zone() {
        let mut b = Board::new(Filter { zone: Some("enterprise".into()) });
        let windows = vec![
            pb::WindowInfo { number: 1, zone: "general".into(), ..Default::default() },
            pb::WindowInfo { number: 23, zone: "enterprise".into(), ..Default::default() },
        ];
        update(&mut b, Input::Snapshot(pb::BoardState { seq: 1, windows, ..Default::default() }));
        assert_eq!(update(&mut b, called(2, "A001", 1, false)), vec![Effect::Redraw]);
        assert!(matches!(&update(&mut b, called(3, "Q001", 23, false))[..], [Effect::Call(_)]));
    }

    #[test]
    fn the_time_zone_comes_from_the_catalogue() {
        let mut b = Board::new(Filter::default());
        assert_eq!(b.zone, HallZone::default());
        update(&mut b, Input::Catalog(pb::Catalog { timezone: "Asia/Urumqi".into(), ..Default::default() }));
        assert_eq!(b.zone.name(), "Asia/Urumqi");
    }

    #[test]
    fn the_connection_is_kept_for_the_banner() {
        let mut b = Board::new(Filter::default());
        let lost = Connection::Reconnecting { since_ms: 1_000 };
        assert_eq!(update(&mut b, Input::Connection(lost)), vec![Effect::Redraw]);
        assert!(update(&mut b, Input::Connection(lost)).is_empty(), "no redraw for the same state");
        update(&mut b, Input::Connection(Connection::Connected));
        assert_eq!(b.connection, Some(Connection::Connected));
    }
}
