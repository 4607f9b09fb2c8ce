//! The visitor's ticket page behind the slip's QR: `/t/{secret}` (the page),
//! `/t/{secret}/state` (its JSON) and `/t/{secret}/events` (the same JSON
//! again, as Server-Sent Events, whenever it changes). The ticket's secret
//! is the only credential; an unknown, mistyped or yesterday's secret gets
//! the same plain "not found", whatever the reason.

use super::Web;
use super::api::error;
use crate::grpc::VisitorTicket;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use hall_proto::errors::Refusal;
use hall_proto::v1 as pb;

const PAGE: &str = include_str!("../../web/ticket.html");

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (http::header::CACHE_CONTROL, "no-store"),
        ],
        Html(
            "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
             <title>未找到</title><body style=\"font-family:sans-serif;padding:2em\">\
             <h1>未找到此号</h1><p>Ticket not found.</p></body>",
        ),
    )
        .into_response()
}

/// The JSON the page renders: the ticket as its holder may see it.
pub fn view(v: &VisitorTicket) -> serde_json::Value {
    let t = &v.ticket;
    let state = pb::TicketState::try_from(t.state)
        .unwrap_or(pb::TicketState::Unspecified)
        .as_str_name()
        .trim_start_matches("TICKET_STATE_")
        .to_string();
    serde_json::json!({
        "seq": v.seq.to_string(),
        "hallNameZh": v.hall_name_zh,
        "hallNameEn": v.hall_name_en,
        "number": t.number,
        "serviceDate": t.service_date,
        "categoryNameZh": t.category_name_zh,
        "categoryNameEn": t.category_name_en,
        "state": state,
        "maskedName": t.masked_name,
        "peopleAhead": t.people_ahead,
        "estimatedWaitMin": t.estimated_wait_min,
        "window": t.window,
        "windowName": v.window_name,
        "recallCount": t.recall_count,
        "issuedAtMs": t.issued_at_ms.to_string(),
        "calledAtMs": t.called_at_ms.to_string(),
        "rating": t.rating,
        "canRate": t.rating == 0 && matches!(state.as_str(), "DONE" | "UNRESOLVED"),
        "materials": v.materials,
        "awaitingArrival": t.awaiting_arrival,
        "checkInByMs": t.check_in_by_ms.to_string(),
        "canNotify": v.can_notify && matches!(state.as_str(), "WAITING" | "CALLED" | "SERVING" | "SUSPENDED"),
        "notify": v.notify.as_ref().map(|(phone, ahead)| serde_json::json!({
            "phoneMasked": phone,
            "ahead": ahead,
        })),
    })
}

async fn find(web: &Web, secret: &str) -> Result<Option<(String, String)>, Response> {
    web.hub
        .find_by_secret(secret)
        .await
        .map_err(|s| error(Refusal::from_status(&s)))
}

pub(super) async fn page(State(web): State<Web>, Path(secret): Path<String>) -> Response {
    match find(&web, &secret).await {
        Ok(Some(_)) => (
            [
                (http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (http::header::CACHE_CONTROL, "no-store"),
                // The page's own script and styles only.
                (
                    http::header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline' 'self'; img-src 'self' data:",
                ),
                (http::header::REFERRER_POLICY, "no-referrer"),
            ],
            PAGE,
        )
            .into_response(),
        Ok(None) => not_found(),
        Err(r) => r,
    }
}

pub(super) async fn state(State(web): State<Web>, Path(secret): Path<String>) -> Response {
    let Some((date, number)) = (match find(&web, &secret).await {
        Ok(f) => f,
        Err(r) => return r,
    }) else {
        return not_found();
    };
    match web.hub.visitor_ticket(date, number).await {
        Ok(Some(v)) => (
            [(http::header::CACHE_CONTROL, "no-store")],
            axum::Json(view(&v)),
        )
            .into_response(),
        Ok(None) => not_found(),
        Err(s) => error(Refusal::from_status(&s)),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct Rating {
    /// 5 非常满意 … 1 非常不满意 (`level` in `/api/v1/tickets/{secret}/rating`).
    #[serde(alias = "level")]
    rating: u32,
    #[serde(default, alias = "reason")]
    comment: String,
}

/// `POST /t/{secret}/rating`: 好差评 from the phone, once, for a ticket
/// served today. Answers the page's view again.
pub(super) async fn rate(
    State(web): State<Web>,
    Path(secret): Path<String>,
    uri: http::Uri,
    headers: axum::http::HeaderMap,
    axum::Json(r): axum::Json<Rating>,
) -> Response {
    holder_post(
        web,
        &secret,
        &uri,
        &headers,
        |web, date, number| async move {
            web.hub
                .rate_from_phone(&date, number, r.rating, r.comment)
                .await
        },
    )
    .await
}

/// A holder's POST on their ticket (a rating, an opt-in): the ticket found
/// by its secret, the request same-origin JSON, then `act` with the
/// ticket's (date, number); answers the page's view again.
pub(super) async fn holder_post<F, Fut>(
    web: Web,
    secret: &str,
    uri: &http::Uri,
    headers: &axum::http::HeaderMap,
    act: F,
) -> Response
where
    F: FnOnce(Web, String, String) -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>>,
{
    let Some((date, number)) = (match find(&web, secret).await {
        Ok(f) => f,
        Err(resp) => return resp,
    }) else {
        return not_found();
    };
    if let Err(resp) = super::api::same_origin(headers, uri) {
        return resp;
    }
    if let Err(s) = act(web.clone(), date.clone(), number.clone()).await {
        return error(Refusal::from_status(&s));
    }
    match web.hub.visitor_ticket(date, number).await {
        Ok(Some(v)) => axum::Json(view(&v)).into_response(),
        Ok(None) => not_found(),
        Err(s) => error(Refusal::from_status(&s)),
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OptIn {
    /// A mainland mobile number (11 digits; `+86`, spaces, dashes allowed).
    phone: String,
    /// Tell me when this many or fewer people are ahead (default: the
    /// hall's `notify.default_ahead`).
    #[serde(default)]
    ahead: Option<u32>,
}

/// `POST /api/v1/tickets/{secret}/notify` (and `/t/{secret}/notify`): the
/// holder opts in to notifications (`ahead`, `called`, `recalled`) to the
/// hall's configured sinks. Again with another phone or count replaces the
/// opt-in. Answers the page's view.
pub(super) async fn opt_in(
    State(web): State<Web>,
    Path(secret): Path<String>,
    uri: http::Uri,
    headers: axum::http::HeaderMap,
    axum::Json(o): axum::Json<OptIn>,
) -> Response {
    holder_post(web, &secret, &uri, &headers, |web, date, number| async move {
        web.hub.opt_in_notify(&date, number, o.phone, o.ahead).await
    })
    .await
}

/// The page's live view: the JSON again after every committed batch that
/// changed it (checked at most every 200 ms), the event id the sequence
/// number it reflects. Ends with `event: gone` when the ticket leaves the
/// day (the rollover).
pub(super) async fn events(State(web): State<Web>, Path(secret): Path<String>) -> Response {
    let Some((date, number)) = (match find(&web, &secret).await {
        Ok(f) => f,
        Err(r) => return r,
    }) else {
        return not_found();
    };
    // A handful of live pages per ticket (a phone, a second tab, a
    // reconnect racing its predecessor): more is someone replaying the
    // secret, and each stream costs a read per committed batch.
    let Some(slot) = StreamSlot::take(&web, &number) else {
        return error(Refusal::new(
            tonic::Code::ResourceExhausted,
            hall_proto::errors::ErrorReason::Unspecified,
            format!("at most {STREAMS_PER_TICKET} live pages per ticket"),
        ));
    };
    let mut published = web.hub.shared.events.subscribe();
    let stopping = web.hub.shared.stopping.clone();
    let stream = async_stream(move |tx| async move {
        let _slot = slot;
        let mut last: Option<serde_json::Value> = None;
        loop {
            let v = match web.hub.visitor_ticket(date.clone(), number.clone()).await {
                Ok(v) => v,
                Err(_) => None,
            };
            let Some(v) = v else {
                let _ = tx.send(Event::default().event("gone").data("{}")).await;
                return;
            };
            let json = view(&v);
            // The sequence number alone changing is no news for the page.
            let mut key = json.clone();
            key["seq"] = serde_json::Value::Null;
            if last.as_ref() != Some(&key) {
                let ev = Event::default()
                    .id(v.seq.to_string())
                    .data(json.to_string());
                if tx.send(ev).await.is_err() {
                    return;
                }
                last = Some(key);
            }
            // Wait for the next committed event (any: the queue ahead moves).
            tokio::select! {
                r = published.recv() => {
                    if let Err(tokio::sync::broadcast::error::RecvError::Closed) = r {
                        return;
                    }
                }
                () = stopping.cancelled() => return,
                () = tx.closed() => return,
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            // Whatever else arrived meanwhile is covered by the next render.
            while published.try_recv().is_ok() {}
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

/// Live page streams one ticket may have at once.
pub const STREAMS_PER_TICKET: usize = 8;

/// One of a ticket's stream slots, given back when its stream ends.
struct StreamSlot {
    web: Web,
    number: String,
}

impl StreamSlot {
    fn take(web: &Web, number: &str) -> Option<StreamSlot> {
        let mut map = web.ticket_streams.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(number.to_string()).or_default();
        if *n >= STREAMS_PER_TICKET {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            web: web.clone(),
            number: number.to_string(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut map = self
            .web
            .ticket_streams
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.number) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.number);
            }
        }
    }
}

/// A stream fed by a task: `f` sends events until it returns or the
/// client goes away.
fn async_stream<F, Fut>(
    f: F,
) -> impl tokio_stream::Stream<Item = Result<Event, std::convert::Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let first = Event::default()
        .retry(std::time::Duration::from_secs(1))
        .comment("ticket");
    let _ = tx.try_send(first);
    tokio::spawn(f(tx));
    tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok)
}
