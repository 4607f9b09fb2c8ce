//! Following the hall's event stream, for every client: a `Snapshot` when
//! the client has no position yet, then `EventService.Subscribe(from_seq =
//! last + 1)`; when the stream is cut, reconnect with backoff and resume from
//! the last sequence seen, so nothing is missed (the server replays from its
//! log). The [`Connection`] is reported for the screen's banner.
//!
//! Every event carries what readers need after it (the queues it changed,
//! with their waiting counts and estimates, and the window it changed), so
//! nothing is polled: the snapshot is read only when the follower has no
//! position (first start, or a server that no longer has it) or sees a gap
//! in the sequence numbers; the catalogue, if wanted, on each connection and
//! again after the events that change it (see [`CatalogReads`]).
//!
//! Not for what an event means: a [`Handler`] (each client's adapter to its
//! pure core) decides that.

use hall_proto::v1 as pb;
use hall_proto::v1::event_service_client::EventServiceClient;
use hall_proto::v1::kiosk_service_client::KioskServiceClient;
use std::time::Duration;
use tonic::transport::Channel;

/// The connection as a banner shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Subscribed: events arrive live.
    Connected,
    /// No stream since `since_ms` (Unix ms); retrying with backoff.
    Reconnecting { since_ms: i64 },
}

impl Connection {
    pub fn is_connected(self) -> bool {
        self == Connection::Connected
    }
}

/// What a client does with the stream. Called on the follower's task.
pub trait Handler: Send {
    /// The server's state, read when the follower had no position (first
    /// start, or the server no longer had it) or saw a gap in the sequence:
    /// it replaces whatever the client held.
    fn snapshot(&mut self, _snapshot: &pb::BoardState) {}
    /// One event, in sequence order, each once.
    fn event(&mut self, event: &pb::Event);
    /// The catalogue (see [`CatalogReads`]).
    fn catalog(&mut self, _catalog: &pb::Catalog) {}
    /// When the catalogue should be read again though no event says it
    /// changed: what it says by the clock (the kiosk: a category opening or
    /// closing for the day). Asked before each wait for the next event;
    /// only with [`CatalogReads::OnChange`].
    fn catalog_due(&self) -> Option<std::time::Instant> {
        None
    }
    fn connection(&mut self, state: Connection);
    /// True when the client is gone: the follower returns.
    fn finished(&self) -> bool {
        false
    }
}

/// When the follower reads the catalogue (`KioskService.GetCatalog`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatalogReads {
    #[default]
    Never,
    /// Once per connection (the time zone, the hall's names).
    OnConnect,
    /// On connecting, after a gap in the sequence, and after every event
    /// that changes the catalogue itself (see [`changes_catalog`]); queue
    /// lengths and waits come with the events.
    OnChange,
}

/// Whether an event changes what `GetCatalog` says beyond the queue counts
/// the events carry: a new catalogue (names, windows, the notice, the time
/// zone) or a new day (the date, today's hours, counts back to zero).
pub fn changes_catalog(e: &pb::Event) -> bool {
    use pb::event::Body;
    matches!(e.body, Some(Body::CatalogChanged(_) | Body::DayRolled(_)))
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Sent as `x-device-token` (a server with device tokens needs one for
    /// the catalogue).
    pub device_token: String,
    pub catalog: CatalogReads,
}

impl Options {
    fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        if !self.device_token.is_empty()
            && let Ok(v) = self.device_token.parse()
        {
            r.metadata_mut().insert("x-device-token", v);
        }
        r
    }
}

/// One session on `channel`: a snapshot if `seq` is 0, then events from
/// `seq + 1` until the stream ends or fails. `seq` follows every event.
pub async fn session(channel: Channel, seq: &mut u64, opts: &Options, h: &mut dyn Handler) -> Result<(), tonic::Status> {
    session_reporting(channel, seq, opts, h, &mut false).await
}

/// [`session`], telling whether it got as far as subscribing.
async fn session_reporting(
    channel: Channel,
    seq: &mut u64,
    opts: &Options,
    h: &mut dyn Handler,
    subscribed: &mut bool,
) -> Result<(), tonic::Status> {
    let mut events = EventServiceClient::new(channel.clone());
    let mut kiosk = KioskServiceClient::new(channel);
    if *seq == 0 {
        let s = events.snapshot(opts.request(pb::SnapshotRequest {})).await?.into_inner();
        *seq = s.seq;
        h.snapshot(&s);
    }
    let mut stream = events.subscribe(opts.request(pb::SubscribeRequest { from_seq: *seq + 1 })).await?.into_inner();
    *subscribed = true;
    h.connection(Connection::Connected);
    let mut stale = opts.catalog != CatalogReads::Never;
    let mut last_read = std::time::Instant::now();
    loop {
        if h.finished() {
            return Ok(());
        }
        if stale {
            stale = false;
            last_read = std::time::Instant::now();
            match kiosk.get_catalog(opts.request(pb::GetCatalogRequest::default())).await {
                Ok(c) => h.catalog(&c.into_inner()),
                Err(s) if s.code() == tonic::Code::Unavailable => return Err(s),
                // E.g. a server with device tokens and a board without
                // one: the stream still works, the defaults stay.
                Err(s) => tracing::warn!(status = %s, "reading the catalogue"),
            }
            continue;
        }
        // At most one timed read a second, whatever the handler asks.
        let due = h
            .catalog_due()
            .filter(|_| opts.catalog == CatalogReads::OnChange)
            .map(|d| d.max(last_read + Duration::from_secs(1)));
        let msg = tokio::select! {
            msg = stream.message() => msg?,
            _ = tokio::time::sleep_until(due.unwrap_or_else(std::time::Instant::now).into()), if due.is_some() => {
                stale = true;
                continue;
            }
        };
        let Some(ev) = msg else { return Ok(()) };
        if ev.seq <= *seq {
            continue;
        }
        if ev.seq > *seq + 1 {
            // The server promises no gaps; should one appear anyway, what
            // the client holds may be wrong: start again from a snapshot.
            tracing::warn!(expected = *seq + 1, got = ev.seq, "gap in the event stream; reading a snapshot");
            let s = events.snapshot(opts.request(pb::SnapshotRequest {})).await?.into_inner();
            *seq = s.seq;
            h.snapshot(&s);
            stale = opts.catalog == CatalogReads::OnChange;
            if ev.seq <= *seq {
                continue;
            }
        }
        *seq = ev.seq;
        h.event(&ev);
        stale |= opts.catalog == CatalogReads::OnChange && changes_catalog(&ev);
    }
}

/// Follows the server until the handler is finished: sessions one after the
/// other, with backoff (200 ms doubling to 5 s) between failed ones.
pub async fn follow(url: String, opts: Options, h: &mut dyn Handler) {
    let mut seq = 0u64;
    let mut delay = Duration::from_millis(200);
    let mut lost_since: Option<i64> = None;
    while !h.finished() {
        match hall_proto::client::connect_with_backoff(&url, 1, Duration::from_secs(1)).await {
            Ok(ch) => {
                let mut subscribed = false;
                let result = session_reporting(ch, &mut seq, &opts, h, &mut subscribed).await;
                if let Err(status) = &result {
                    tracing::warn!(%status, "event stream ended");
                    // The server no longer has our position (a new data
                    // folder): start over from a snapshot.
                    if matches!(status.code(), tonic::Code::OutOfRange | tonic::Code::InvalidArgument) {
                        seq = 0;
                    }
                }
                if subscribed {
                    delay = Duration::from_millis(200);
                    lost_since = None;
                }
            }
            Err(e) => tracing::debug!(error = %e, "server unreachable"),
        }
        if h.finished() {
            return;
        }
        let since_ms = *lost_since.get_or_insert_with(crate::time::now_ms);
        h.connection(Connection::Reconnecting { since_ms });
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
