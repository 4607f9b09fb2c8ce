//! 掌上办 on the phone: `/book` (appointments) and `/remote` (remote
//! tickets), their JSON under `/api/v1/book/…` and `/api/v1/remote`, and
//! the phone's check-in on the hall's network
//! (`/api/v1/tickets/{secret}/arrive`).
//!
//! Who the visitor is: a one-time code (验证码) sent to their phone through
//! the hall's notification sinks, then a visitor token the page keeps
//! (`X-Visitor-Token`): the person's keyed hash and masked name, signed
//! with the site secret, valid for two hours. The code itself lives only in
//! memory (a hash of it, five minutes, five tries): it is worth less than
//! what writing it into the log would expose, and asking again is cheap.
//! A code goes to each sink once, not through the durable outbox.

// A handler's early answer is the `Response` itself: boxing it would only
// move the allocation.
#![allow(clippy::result_large_err)]

use super::Web;
use super::api::{error, same_origin};
use crate::engine::Person;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hall_proto::errors::{ErrorReason, Refusal};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tonic::Code;

const BOOK_PAGE: &str = include_str!("../../web/book.html");
const REMOTE_PAGE: &str = include_str!("../../web/remote.html");

/// How long a code is good for, how often one may be asked for a phone,
/// and how many wrong tries it takes.
const CODE_TTL: Duration = Duration::from_secs(300);
const CODE_EVERY: Duration = Duration::from_secs(60);
const CODE_TRIES: u32 = 5;
/// Codes outstanding at once (a flood of requests cannot grow the map).
const CODES_MAX: usize = 20_000;
/// Codes one address may ask for per window: a hall's visitor Wi-Fi puts
/// many phones behind one address, so this only stops one machine from
/// texting numbers by the thousand.
const CODES_PER_ADDRESS: u32 = 30;
const ADDRESS_WINDOW: Duration = Duration::from_secs(600);
/// Codes the whole hall sends per window (every address together): the
/// ceiling of what a distributed flood can cost the hall's SMS account.
const CODES_PER_HALL: u32 = 2_000;
/// A visitor token's life.
const TOKEN_TTL_MS: i64 = 2 * 3600 * 1000;
/// The header the pages send their visitor token in.
pub const TOKEN_HEADER: &str = "x-visitor-token";

/// Outstanding one-time codes by phone number, and the codes asked for
/// per address in the current window.
#[derive(Default)]
pub struct Codes(
    Mutex<HashMap<String, Pending>>,
    Mutex<HashMap<std::net::IpAddr, (Instant, u32)>>,
    Mutex<Option<(Instant, u32)>>,
);

/// The address a limit counts: an IPv6 client's /64 (it can pick any
/// address inside it), an IPv4 one's own.
fn limit_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => {
                std::net::IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64)))
            }
        },
        v4 => v4,
    }
}

/// Counts one code against a fixed window: false when `max` are used up.
fn take(slot: &mut (Instant, u32), max: u32) -> bool {
    if slot.0.elapsed() >= ADDRESS_WINDOW {
        *slot = (Instant::now(), 0);
    }
    if slot.1 >= max {
        return false;
    }
    slot.1 += 1;
    true
}

struct Pending {
    /// HMAC of the code under the site secret (never the code itself).
    hash: String,
    sent: Instant,
    tries: u32,
}

fn code_hash(key: &[u8], phone: &str, code: &str) -> String {
    crate::notify::signature(key, format!("code|{phone}|{code}").as_bytes())
}

fn bad_code(message: &str) -> Response {
    error(Refusal::new(
        Code::PermissionDenied,
        ErrorReason::BadCode,
        message.to_string(),
    ))
}

fn html(page: &'static str) -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (http::header::CACHE_CONTROL, "no-cache"),
            (
                http::header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline' 'self'; img-src 'self' data:",
            ),
            (http::header::REFERRER_POLICY, "no-referrer"),
        ],
        page,
    )
        .into_response()
}

pub(super) async fn book_page() -> Response {
    html(BOOK_PAGE)
}

pub(super) async fn remote_page() -> Response {
    html(REMOTE_PAGE)
}

fn status_error(s: tonic::Status) -> Response {
    error(Refusal::from_status(&s))
}

fn json<T: serde::Serialize>(v: T) -> Response {
    ([(http::header::CACHE_CONTROL, "no-store")], axum::Json(v)).into_response()
}

/// `GET /api/v1/book/catalog`: the categories that can be booked or taken
/// remotely, with today's date.
pub(super) async fn catalog(State(web): State<Web>) -> Response {
    match web.hub.public_catalog().await {
        Ok(c) => json(c),
        Err(s) => status_error(s),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct SlotQuery {
    category: String,
    date: String,
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate, Response> {
    s.parse().map_err(|_| {
        error(Refusal::invalid_field(
            "date",
            format!("'{}' is not YYYY-MM-DD", hall_proto::errors::echo(s)),
        ))
    })
}

/// `GET /api/v1/book/slots?category=&date=`: free slots now.
pub(super) async fn slots(State(web): State<Web>, Query(q): Query<SlotQuery>) -> Response {
    let date = match parse_date(&q.date) {
        Ok(d) => d,
        Err(r) => return r,
    };
    match web.hub.free_slots(q.category, date).await {
        Ok(s) => json(serde_json::json!({ "date": date.to_string(), "slots": s })),
        Err(s) => status_error(s),
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CodeRequest {
    phone: String,
}

/// `POST /api/v1/book/code {"phone"}`: sends a six-digit code to the phone
/// through the hall's notification sinks.
pub(super) async fn send_code(
    State(web): State<Web>,
    uri: http::Uri,
    headers: HeaderMap,
    conn: axum::Extension<super::Peer>,
    axum::Json(r): axum::Json<CodeRequest>,
) -> Response {
    if let Err(resp) = same_origin(&headers, &uri) {
        return resp;
    }
    {
        let too_many = |what: &str, since: Instant| {
            let wait = ADDRESS_WINDOW
                .saturating_sub(since.elapsed())
                .as_secs()
                .max(1);
            error(
                Refusal::new(
                    Code::ResourceExhausted,
                    ErrorReason::BadCode,
                    format!("too many codes {what}: try again in {wait} s"),
                )
                .with("retry_after_s", wait),
            )
        };
        let ip = limit_key((conn.0).0.ip());
        let mut per = web.codes.1.lock().unwrap_or_else(|e| e.into_inner());
        if per.len() >= CODES_MAX {
            per.retain(|_, (since, _)| since.elapsed() < ADDRESS_WINDOW);
            if per.len() >= CODES_MAX && !per.contains_key(&ip) {
                return too_many("from everywhere at once", Instant::now());
            }
        }
        let entry = per.entry(ip).or_insert((Instant::now(), 0));
        if !take(entry, CODES_PER_ADDRESS) {
            return too_many("from this address", entry.0);
        }
        let mut hall = web.codes.2.lock().unwrap_or_else(|e| e.into_inner());
        let all = hall.get_or_insert((Instant::now(), 0));
        if !take(all, CODES_PER_HALL) {
            return too_many("for the hall", all.0);
        }
    }
    let phone = match phone_of(&r.phone) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
    {
        let mut codes = web.codes.0.lock().unwrap_or_else(|e| e.into_inner());
        codes.retain(|_, p| p.sent.elapsed() < CODE_TTL);
        if let Some(p) = codes.get(&phone)
            && p.sent.elapsed() < CODE_EVERY
        {
            let wait = (CODE_EVERY - p.sent.elapsed()).as_secs().max(1);
            return error(
                Refusal::new(
                    Code::ResourceExhausted,
                    ErrorReason::BadCode,
                    format!("a code was sent to this phone just now: ask again in {wait} s"),
                )
                .with("retry_after_s", wait),
            );
        }
        if codes.len() >= CODES_MAX {
            return error(Refusal::new(
                Code::ResourceExhausted,
                ErrorReason::BadCode,
                "too many codes outstanding: try again in a few minutes",
            ));
        }
        codes.insert(
            phone.clone(),
            Pending {
                hash: code_hash(&web.hub.secret, &phone, &code),
                sent: Instant::now(),
                tries: 0,
            },
        );
    }
    match web.hub.send_code(&phone, &code).await {
        Ok(()) => json(serde_json::json!({
            "phoneMasked": crate::engine::notify::mask_phone(&phone),
            "expiresInS": CODE_TTL.as_secs(),
        })),
        Err(s) => {
            // Nothing was sent: the visitor may ask again at once.
            web.codes
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&phone);
            status_error(s)
        }
    }
}

/// The visitor's phone number, normalised, or the refusal naming the field.
fn phone_of(raw: &str) -> Result<String, Response> {
    crate::engine::notify::normalise_phone(raw)
        .map_err(|e| error(Refusal::invalid_field("phone", e.to_string())))
}

/// Checks (and uses up) the code for `phone`.
fn check_code(web: &Web, phone: &str, code: &str) -> Result<(), Response> {
    let mut codes = web.codes.0.lock().unwrap_or_else(|e| e.into_inner());
    let Some(p) = codes.get_mut(phone).filter(|p| p.sent.elapsed() < CODE_TTL) else {
        return Err(bad_code(
            "no code is outstanding for this phone: ask for one",
        ));
    };
    p.tries += 1;
    let want = code_hash(&web.hub.secret, phone, code.trim());
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        want.as_bytes(),
        p.hash.as_bytes(),
    )) {
        if p.tries >= CODE_TRIES {
            codes.remove(phone);
            return Err(bad_code(
                "wrong code, and too many tries: ask for a new one",
            ));
        }
        return Err(bad_code("wrong code"));
    }
    codes.remove(phone);
    Ok(())
}

/// What a visitor token says: the person (keyed hash, masked name) and
/// the phone the code confirmed (where the booking's notifications go).
/// Signed, not encrypted: it says nothing the visitor did not type.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Token {
    k: String,
    n: String,
    p: String,
    e: i64,
}

fn make_token(key: &[u8], person: &Person, phone: &str) -> String {
    let body = serde_json::to_string(&Token {
        k: person.key.clone(),
        n: person.masked_name.clone(),
        p: phone.to_string(),
        e: crate::now_ms() + TOKEN_TTL_MS,
    })
    .expect("a token serialises");
    let b = hex::encode(body.as_bytes());
    let mac = crate::notify::signature(key, format!("token|{b}").as_bytes());
    format!("{b}.{}", mac.trim_start_matches("sha256="))
}

/// The person of the request's visitor token, and their phone.
fn visitor(web: &Web, headers: &HeaderMap) -> Result<(Person, String), Response> {
    let unauth = |why: &str| {
        error(Refusal::new(
            Code::Unauthenticated,
            ErrorReason::BadCode,
            format!("{why}: confirm your phone again"),
        ))
    };
    let raw = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauth("no visitor token"))?;
    let (b, mac) = raw
        .split_once('.')
        .ok_or_else(|| unauth("a bad visitor token"))?;
    let want = crate::notify::signature(&web.hub.secret, format!("token|{b}").as_bytes());
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        want.trim_start_matches("sha256=").as_bytes(),
        mac.as_bytes(),
    )) {
        return Err(unauth("a bad visitor token"));
    }
    let t: Token = hex::decode(b)
        .ok()
        .and_then(|v| serde_json::from_slice(&v).ok())
        .ok_or_else(|| unauth("a bad visitor token"))?;
    if t.e < crate::now_ms() {
        return Err(unauth("the visitor token has expired"));
    }
    Ok((
        Person {
            key: t.k,
            masked_name: t.n,
            birth_date: None,
        },
        t.p,
    ))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Verify {
    phone: String,
    code: String,
    id_number: String,
    #[serde(default)]
    name: String,
}

/// `POST /api/v1/book/verify {"phone","code","idNumber","name"}`: the code
/// checked, the ID number made the person's keyed hash (never kept); the
/// answer's `token` identifies the visitor to the calls below.
pub(super) async fn verify(
    State(web): State<Web>,
    uri: http::Uri,
    headers: HeaderMap,
    axum::Json(v): axum::Json<Verify>,
) -> Response {
    if let Err(resp) = same_origin(&headers, &uri) {
        return resp;
    }
    let phone = match phone_of(&v.phone) {
        Ok(p) => p,
        Err(r) => return r,
    };
    // The ID number first: a typo in it must not use up the code.
    let person = match web.hub.visitor_person(&v.id_number, &v.name) {
        Ok(p) => p,
        Err(s) => return status_error(s),
    };
    if let Err(resp) = check_code(&web, &phone, &v.code) {
        return resp;
    }
    json(serde_json::json!({
        "token": make_token(&web.hub.secret, &person, &phone),
        "maskedName": person.masked_name,
        "phoneMasked": crate::engine::notify::mask_phone(&phone),
    }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Book {
    category: String,
    date: String,
    slot_start: String,
    slot_end: String,
    /// One per attempt, the same on its retries.
    request_id: String,
}

/// `POST /api/v1/book` (visitor token): books a slot.
pub(super) async fn book(
    State(web): State<Web>,
    uri: http::Uri,
    headers: HeaderMap,
    axum::Json(b): axum::Json<Book>,
) -> Response {
    if let Err(resp) = same_origin(&headers, &uri) {
        return resp;
    }
    let (person, phone) = match visitor(&web, &headers) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let date = match parse_date(&b.date) {
        Ok(d) => d,
        Err(r) => return r,
    };
    match web
        .hub
        .book_for_visitor(
            person,
            phone,
            b.category,
            date,
            (b.slot_start, b.slot_end),
            b.request_id,
        )
        .await
    {
        Ok(v) => json(v),
        Err(s) => status_error(s),
    }
}

/// `GET /api/v1/book/mine` (visitor token): the visitor's bookings.
pub(super) async fn mine(State(web): State<Web>, headers: HeaderMap) -> Response {
    let (person, phone) = match visitor(&web, &headers) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match web.hub.visitor_bookings(person.key, phone).await {
        Ok(v) => json(v),
        Err(s) => status_error(s),
    }
}

/// `POST /api/v1/book/{id}/cancel` (visitor token): cancels one of the
/// visitor's bookings; answers their bookings.
pub(super) async fn cancel(
    State(web): State<Web>,
    Path(id): Path<u64>,
    uri: http::Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(resp) = same_origin(&headers, &uri) {
        return resp;
    }
    let (person, phone) = match visitor(&web, &headers) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(s) = web
        .hub
        .cancel_for_visitor(person.key.clone(), phone.clone(), id)
        .await
    {
        return status_error(s);
    }
    match web.hub.visitor_bookings(person.key, phone).await {
        Ok(v) => json(v),
        Err(s) => status_error(s),
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Remote {
    category: String,
    phone: String,
    code: String,
    request_id: String,
}

/// `POST /api/v1/remote {"category","phone","code","requestId"}`: a remote
/// ticket for the confirmed phone; answers the ticket page's address.
pub(super) async fn remote(
    State(web): State<Web>,
    uri: http::Uri,
    headers: HeaderMap,
    axum::Json(r): axum::Json<Remote>,
) -> Response {
    if let Err(resp) = same_origin(&headers, &uri) {
        return resp;
    }
    let phone = match phone_of(&r.phone) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let page = |t: crate::grpc::RemoteTicket| {
        json(serde_json::json!({
            "number": t.number,
            "serviceDate": t.service_date,
            "page": format!("/t/{}", t.secret),
        }))
    };
    // A retry of an attempt that was answered (the answer lost on the way)
    // is that ticket again: its code was used up by the first.
    match web.hub.remote_of_request(&r.request_id, &phone).await {
        Ok(Some(t)) => return page(t),
        Ok(None) => {}
        Err(s) => return status_error(s),
    }
    // Before the code is used up: a category that takes no remote numbers.
    if let Err(s) = web.hub.remote_offered(&r.category).await {
        return status_error(s);
    }
    if let Err(resp) = check_code(&web, &phone, &r.code) {
        return resp;
    }
    match web.hub.issue_remote(r.category, phone, r.request_id).await {
        Ok(t) => page(t),
        Err(s) => status_error(s),
    }
}

/// `POST /api/v1/tickets/{secret}/arrive`: the holder of a remote ticket
/// checks in from the phone, accepted only from the hall's own network
/// (`hall.checkin_networks`); elsewhere, the kiosk's QR scan does it.
pub(super) async fn arrive(
    State(web): State<Web>,
    Path(secret): Path<String>,
    uri: http::Uri,
    headers: HeaderMap,
    conn: axum::Extension<super::Peer>,
) -> Response {
    let ip = (conn.0).0.ip();
    super::ticket::holder_post(
        web,
        &secret,
        &uri,
        &headers,
        move |web, date, number| async move {
            let nets = web.hub.checkin_networks().await?;
            if !nets
                .iter()
                .any(|n| crate::engine::catalog::in_network(n, ip))
            {
                return Err(Refusal::new(
                    Code::PermissionDenied,
                    ErrorReason::RoleForbidden,
                    "check in on the hall's Wi-Fi, or scan your QR code at a kiosk",
                )
                .with("role", "phone outside the hall")
                .into_status());
            }
            web.hub.arrive_remote(&date, number).await
        },
    )
    .await
}

/// `text` as a QR code in SVG (medium error correction, a quiet zone of 4).
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    let n = code.width();
    let colors = code.to_colors();
    let size = n + 8;
    let mut path = String::new();
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            use std::fmt::Write;
            let _ = write!(path, "M{} {}h1v1h-1z", i % n + 4, i / n + 4);
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

fn svg(body: String) -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "image/svg+xml"),
            (http::header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn nothing() -> Response {
    (http::StatusCode::NOT_FOUND, "not found").into_response()
}

/// `GET /b/{secret}/qr.svg`: a booking's QR (`{base}/b/{secret}`), which a
/// kiosk's scanner reads to check it in.
pub(super) async fn booking_qr(State(web): State<Web>, Path(secret): Path<String>) -> Response {
    match web.hub.booking_exists(&secret).await {
        Ok(true) => {}
        Ok(_) => return nothing(),
        Err(s) => return status_error(s),
    }
    let base = match web.hub.public_base().await {
        Ok(b) => b,
        Err(s) => return status_error(s),
    };
    qr_svg(&format!("{base}/b/{}", secret.to_ascii_lowercase())).map_or_else(nothing, svg)
}

/// `GET /t/{secret}/qr.svg`: a ticket page's QR, which checks a remote
/// ticket in at a kiosk.
pub(super) async fn ticket_qr(State(web): State<Web>, Path(secret): Path<String>) -> Response {
    match web.hub.find_by_secret(&secret).await {
        Ok(Some(_)) => {}
        Ok(None) => return nothing(),
        Err(s) => return status_error(s),
    }
    let base = match web.hub.public_base().await {
        Ok(b) => b,
        Err(s) => return status_error(s),
    };
    qr_svg(&format!("{base}/t/{}", secret.to_ascii_lowercase())).map_or_else(nothing, svg)
}
