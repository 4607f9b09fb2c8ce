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
        let caller = roles::caller(&req);
        let from = limits::checked(req)?.from_seq.max(1);
        let (tx, rx) = mpsc::channel(256);
        crate::stream::spawn_subscriber(self.store.clone(), self.shared.clone(), from, tx);
        let events = tokio_stream::wrappers::ReceiverStream::new(rx);
        // The role table is checked when a call starts; a stream lives for
        // days. Before each event the certificate is checked again, so a
        // revoked board or kiosk stops receiving at once.
        let (Some(revocations), roles::Caller::Device(subject)) =
            (self.revocations.clone(), caller)
        else {
            return Ok(Response::new(Box::pin(events)));
        };
        let mut ended = false;
        let guarded = tokio_stream::StreamExt::map_while(events, move |item| {
            if ended {
                return None;
            }
            if revocations.is_revoked(&subject.serial) {
                ended = true;
                tracing::warn!(device = %subject.id, "event stream of a revoked certificate ended");
                return Some(Err(Refusal::new(
                    Code::Unauthenticated,
                    Reason::CertificateRequired,
                    "this device's certificate was revoked",
                )
                .with("method", "hall.v1.EventService/Subscribe")
                .into_status()));
            }
            Some(item)
        });
        Ok(Response::new(Box::pin(guarded)))
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
