//! Keeps a [`Board`] in step with the server. The first connection takes a
//! snapshot; after that the board subscribes from its last sequence + 1, so
//! a board whose stream was cut gets every event it missed, in order, before
//! live ones (the server replays them from its log).

use crate::model::{Board, Call};
use hall_proto::v1 as pb;
use hall_proto::v1::event_service_client::EventServiceClient;
use std::time::Duration;
use tonic::transport::Channel;

/// What the follower reports to the screen.
pub trait Sink: Send {
    /// The board changed; `call` is set when a call (or recall) arrived.
    fn changed(&mut self, board: &Board, call: Option<&Call>);
    fn connection(&mut self, connected: bool);
}

/// One session: snapshot if the board is empty, then events until the
/// stream ends or fails.
pub async fn sync_once(channel: Channel, board: &mut Board, sink: &mut dyn Sink) -> Result<(), tonic::Status> {
    let mut client = EventServiceClient::new(channel);
    if board.seq == 0 {
        let s = client.snapshot(pb::SnapshotRequest {}).await?.into_inner();
        board.apply_snapshot(&s);
        sink.changed(board, None);
    }
    let mut stream = client.subscribe(pb::SubscribeRequest { from_seq: board.seq + 1 }).await?.into_inner();
    sink.connection(true);
    let mut refresh = tokio::time::interval(Duration::from_secs(20));
    refresh.tick().await;
    loop {
        tokio::select! {
            msg = stream.message() => {
                let Some(ev) = msg? else { return Ok(()) };
                let call = board.apply_event(&ev);
                sink.changed(board, call.as_ref());
            }
            _ = refresh.tick() => {
                // Waiting counts also change on cancels, no-shows and
                // transfers, which events do not count: take them from a
                // fresh snapshot now and then.
                if let Ok(s) = client.snapshot(pb::SnapshotRequest {}).await {
                    board.refresh_queues(&s.into_inner());
                    sink.changed(board, None);
                }
            }
        }
    }
}

/// Follows the server forever, reconnecting with backoff.
pub async fn follow(url: String, mut board: Board, mut sink: Box<dyn Sink>) {
    let mut delay = Duration::from_millis(200);
    loop {
        match hall_proto::client::connect_with_backoff(&url, 1, Duration::from_secs(1)).await {
            Ok(ch) => {
                let result = sync_once(ch, &mut board, sink.as_mut()).await;
                if let Err(status) = &result {
                    tracing::warn!(%status, "event stream ended");
                    // The server no longer has our position (new data
                    // folder): start over from a snapshot.
                    if matches!(status.code(), tonic::Code::OutOfRange | tonic::Code::InvalidArgument) {
                        board.seq = 0;
                    }
                }
                delay = Duration::from_millis(200);
            }
            Err(e) => tracing::debug!(error = %e, "server unreachable"),
        }
        sink.connection(false);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
