//! `GET /api/v1/events`: the event stream as Server-Sent Events. Each event
//! is one `hall.v1.Event` in proto3 JSON, its SSE `id` the sequence number,
//! so a browser's automatic reconnect (`Last-Event-ID: N`) resumes with
//! exactly the events after N, as `Subscribe(from_seq = N + 1)` does.
//! `?from_seq=N` replays from N; with neither, the stream starts with the
//! next event. It is `EventService.Subscribe` underneath, called in-process:
//! the same role check, the same gap-free replay, the same end of the
//! stream when the device's certificate is revoked.

use super::api::{POOL, error, to_json};
use super::{ConnCaller, Web};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hall_proto::errors::Refusal;
use prost::Message;
use prost_reflect::DynamicMessage;
use std::sync::atomic::Ordering;
use tokio_stream::StreamExt;

#[derive(Debug, serde::Deserialize)]
pub(super) struct From {
    from_seq: Option<u64>,
}

/// Where a stream starts: after `Last-Event-ID`, at `from_seq`, or after
/// what is committed now.
pub fn start(
    last_event_id: Option<&str>,
    from_seq: Option<u64>,
    committed: u64,
) -> Result<u64, Refusal> {
    if let Some(id) = last_event_id {
        return id
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| Refusal::invalid_field("Last-Event-ID", "not a sequence number"));
    }
    Ok(from_seq.unwrap_or(committed + 1).max(1))
}

pub(super) async fn serve(
    State(web): State<Web>,
    conn: axum::Extension<ConnCaller>,
    peer: axum::Extension<super::Peer>,
    Query(q): Query<From>,
    headers: HeaderMap,
) -> Response {
    let committed = web.hub.shared.committed.load(Ordering::Acquire);
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let from = match start(last, q.from_seq, committed) {
        Ok(f) => f,
        Err(r) => return error(r),
    };
    let caller = web.caller(&conn.0, &headers);
    let req = hall_proto::v1::SubscribeRequest { from_seq: from }.encode_to_vec();
    let stream = match web
        .streaming(
            caller,
            "/hall.v1.EventService/Subscribe",
            req.into(),
            &headers,
            peer.0.0,
        )
        .await
    {
        Ok(s) => s,
        Err(status) => return error(Refusal::from_status(&status)),
    };
    let desc = POOL
        .get_message_by_name("hall.v1.Event")
        .expect("hall.v1.Event is in the descriptors");
    let events = stream.map_while(move |item| match item {
        Ok(bytes) => {
            let msg = DynamicMessage::decode(desc.clone(), bytes).ok()?;
            let seq = msg
                .get_field_by_name("seq")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let json = to_json(&msg);
            Some(Ok::<_, std::convert::Infallible>(
                Event::default().id(seq.to_string()).data(json.to_string()),
            ))
        }
        Err(status) => {
            // The stream ends with the reason (a revoked certificate, the
            // server stopping); the browser reconnects by itself.
            let body = super::api::error_body(&Refusal::from_status(&status));
            Some(Ok(Event::default().event("error").data(body.to_string())))
        }
    });
    let first = tokio_stream::once(Ok(Event::default()
        .retry(std::time::Duration::from_secs(1))
        .comment("hall")));
    Sse::new(first.chain(events))
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_starts_after_the_last_event_id_else_at_from_seq_else_after_now() {
        assert_eq!(start(Some("41"), Some(3), 99).unwrap(), 42);
        assert_eq!(start(None, Some(3), 99).unwrap(), 3);
        assert_eq!(start(None, Some(0), 99).unwrap(), 1);
        assert_eq!(start(None, None, 99).unwrap(), 100);
        assert!(start(Some("x"), None, 99).is_err());
        assert!(start(Some("18446744073709551615"), None, 99).is_err());
    }
}
