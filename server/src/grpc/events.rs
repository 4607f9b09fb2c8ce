//! EventService: `Subscribe(from_seq)` (gap-free, see `crate::stream`) and
//! `Snapshot` for boards.

use super::*;

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;

#[tonic::async_trait]
impl pb::event_service_server::EventService for Hub {
    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        req: Req<pb::SubscribeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let from = limits::checked(req)?.from_seq.max(1);
        let (tx, rx) = mpsc::channel(256);
        crate::stream::spawn_subscriber(self.store.clone(), self.shared.clone(), from, tx);
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn snapshot(
        &self,
        _: Req<pb::SnapshotRequest>,
    ) -> Result<Response<pb::BoardState>, Status> {
        // The replica's own sequence number: a board subscribes from the
        // next one and misses nothing in between.
        self.read(|h, seq, _| Ok(convert::board(h, seq))).await
    }
}
