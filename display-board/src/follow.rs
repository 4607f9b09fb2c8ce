//! Keeps a [`Board`] in step with the server through the shared follower
//! (`hall_client::follow`): a snapshot first, then `Subscribe(from_seq =
//! last + 1)`, so a board whose stream was cut gets every event it missed,
//! in order, before live ones. Events carry the waiting counts and window
//! states they changed, so nothing is polled: a snapshot only when the board
//! has no position or sees a gap, the catalogue (time zone, names, notice,
//! windows) on each connection and after a catalogue change or a new day.
//! Everything goes through [`crate::core::update`].

use crate::core::{self, Effect, Input};
use crate::model::{Board, Call};
use hall_client::follow::{self as shared, CatalogReads, Connection, Handler, Options};
use hall_proto::v1 as pb;
use tonic::transport::Channel;

/// What the follower reports to the screen.
pub trait Sink: Send {
    /// The board changed; `call` is set when a call (or recall) arrived.
    fn changed(&mut self, board: &Board, call: Option<&Call>);
    fn connection(&mut self, state: Connection);
    /// A snapshot was applied (at start, or to start over): the board shows
    /// the server's state as of `board.seq`.
    fn snapshot_applied(&mut self, _board: &Board) {}
}

fn options() -> Options {
    Options { device_token: String::new(), catalog: CatalogReads::OnChange }
}

/// The follower's callbacks as core inputs; the core's effects to the sink.
struct ToCore<'a> {
    board: &'a mut Board,
    sink: &'a mut dyn Sink,
}

impl ToCore<'_> {
    fn input(&mut self, input: Input) {
        for effect in core::update(self.board, input) {
            match effect {
                Effect::Call(c) => self.sink.changed(self.board, Some(&c)),
                Effect::Redraw => self.sink.changed(self.board, None),
            }
        }
    }
}

impl Handler for ToCore<'_> {
    fn snapshot(&mut self, s: &pb::BoardState) {
        self.input(Input::Snapshot(s.clone()));
        self.sink.snapshot_applied(self.board);
    }
    fn event(&mut self, e: &pb::Event) {
        self.input(Input::Event(e.clone()));
    }
    fn catalog(&mut self, c: &pb::Catalog) {
        self.input(Input::Catalog(c.clone()));
    }
    fn connection(&mut self, state: Connection) {
        self.input(Input::Connection(state));
        self.sink.connection(state);
    }
}

/// One session: snapshot if the board is empty, then events until the
/// stream ends or fails.
pub async fn sync_once(channel: Channel, board: &mut Board, sink: &mut dyn Sink) -> Result<(), tonic::Status> {
    let mut seq = board.seq;
    shared::session(channel, &mut seq, &options(), &mut ToCore { board, sink }).await
}

/// Follows the server forever, reconnecting with backoff.
pub async fn follow(url: String, mut board: Board, mut sink: Box<dyn Sink>) {
    shared::follow(url, options(), &mut ToCore { board: &mut board, sink: sink.as_mut() }).await;
}
