//! The OpenAPI 3 document of the web face, generated from the hall's own
//! descriptors (the same ones the gRPC services and the JSON transcoding
//! use): one path per unary hall.v1 method, one schema per message and
//! enum in their proto3 JSON form, the error body, and the routes that are
//! not RPCs (`super::STATIC_ROUTES`).

use super::api::POOL;
use axum::response::{IntoResponse, Response};
use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::LazyLock;

static DOCUMENT: LazyLock<String> = LazyLock::new(|| document().to_string());

pub(super) async fn serve() -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
        .into_response()
}

/// Error responses every RPC path documents (code → HTTP status, as
/// `api::http_status`).
const ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "INVALID_ARGUMENT: a malformed body or a bad field (fieldViolations)",
    ),
    (
        "401",
        "UNAUTHENTICATED: no client certificate, a locked account, an ended staff session",
    ),
    (
        "403",
        "PERMISSION_DENIED: the role table refuses the caller's role, or the window is another's",
    ),
    (
        "404",
        "NOT_FOUND: no such ticket, window, follow-up or method",
    ),
    (
        "409",
        "FAILED_PRECONDITION / ALREADY_EXISTS: the hall's state forbids it now",
    ),
    ("429", "RESOURCE_EXHAUSTED: a quota or a per-person limit"),
    ("500", "INTERNAL"),
    (
        "503",
        "UNAVAILABLE: the disk is full or the server is stopping (retry with the same requestId)",
    ),
];

fn schema_name(m: &MessageDescriptor) -> String {
    m.full_name().to_string()
}

fn field_schema(f: &FieldDescriptor) -> Value {
    if f.is_map() {
        let Kind::Message(entry) = f.kind() else {
            return json!({"type": "object"});
        };
        let value = entry.map_entry_value_field();
        return json!({"type": "object", "additionalProperties": kind_schema(&value)});
    }
    let one = kind_schema(f);
    if f.cardinality() == Cardinality::Repeated {
        json!({"type": "array", "items": one})
    } else {
        one
    }
}

fn kind_schema(f: &FieldDescriptor) -> Value {
    match f.kind() {
        Kind::Double | Kind::Float => json!({"type": "number"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({"type": "integer", "format": "int32"})
        }
        Kind::Uint32 | Kind::Fixed32 => json!({"type": "integer", "format": "int64", "minimum": 0}),
        // proto3 JSON writes 64-bit integers as decimal strings.
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({"type": "string", "format": "int64"}),
        Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "string", "format": "byte"}),
        Kind::Message(m) => json!({"$ref": format!("#/components/schemas/{}", schema_name(&m))}),
        Kind::Enum(e) => json!({"$ref": format!("#/components/schemas/{}", e.full_name())}),
    }
}

fn message_schema(m: &MessageDescriptor) -> Value {
    let mut props = Map::new();
    for f in m.fields() {
        props.insert(f.json_name().to_string(), field_schema(&f));
    }
    json!({"type": "object", "properties": props, "additionalProperties": false})
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "reason", "message"],
            "properties": {
                "code": {"type": "string", "description": "the gRPC code's name, e.g. NOT_FOUND"},
                "reason": {"$ref": "#/components/schemas/hall.v1.ErrorReason"},
                "message": {"type": "string"},
                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                "fieldViolations": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "description": {"type": "string"}},
                }},
            },
        }},
    })
}

fn errors() -> Value {
    let mut out = Map::new();
    for (status, what) in ERRORS {
        out.insert(
            (*status).into(),
            json!({"description": what, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    Value::Object(out)
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = BTreeMap::new();
    let mut schemas = BTreeMap::new();
    for m in POOL.all_messages() {
        if m.is_map_entry() {
            continue;
        }
        schemas.insert(schema_name(&m), message_schema(&m));
    }
    for e in POOL.all_enums() {
        let names: Vec<String> = e.values().map(|v| v.name().to_string()).collect();
        schemas.insert(
            e.full_name().to_string(),
            json!({"type": "string", "enum": names}),
        );
    }
    schemas.insert("Error".into(), error_schema());
    schemas.insert("TicketView".into(), ticket_view_schema());
    for s in POOL.services().filter(|s| s.package_name() == "hall.v1") {
        for m in s.methods() {
            if m.is_server_streaming() || m.is_client_streaming() {
                continue;
            }
            let mut responses = errors();
            responses["200"] = json!({
                "description": "the answer",
                "content": {"application/json": {"schema": {
                    "$ref": format!("#/components/schemas/{}", schema_name(&m.output()))}}},
            });
            paths.insert(
                format!("/api/v1/{}/{}", s.name(), m.name()),
                json!({"post": {
                    "operationId": format!("{}_{}", s.name(), m.name()),
                    "tags": [s.name()],
                    "summary": format!("{}.{} (gRPC {}/{})", s.name(), m.name(), s.full_name(), m.name()),
                    "requestBody": {"required": false, "content": {"application/json": {"schema": {
                        "$ref": format!("#/components/schemas/{}", schema_name(&m.input()))}}}},
                    "responses": responses,
                }}),
            );
        }
    }
    for (method, path, doc) in static_paths() {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method] = doc;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Hall queue server — web API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The hall.v1 gRPC services as JSON (canonical proto3 JSON mapping; 64-bit integers as strings), the event stream as Server-Sent Events, and the visitor's ticket page. The same role table and refusal reasons as gRPC: a client certificate of the hall (mutual TLS) is the caller; `authorization: Bearer TOKEN` carries a staff session (AdminService/StaffLogin).",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

fn ticket_view_schema() -> Value {
    let s = json!({"type": "string"});
    let n = json!({"type": "integer", "minimum": 0});
    json!({"type": "object", "properties": {
        "seq": s, "hallNameZh": s, "hallNameEn": s, "number": s, "serviceDate": s,
        "categoryNameZh": s, "categoryNameEn": s,
        "state": {"type": "string", "enum": ["UNSPECIFIED", "WAITING", "CALLED", "SERVING", "DONE",
            "NO_SHOW", "SUSPENDED", "CANCELLED", "EXPIRED", "UNRESOLVED"]},
        "maskedName": s, "peopleAhead": n, "estimatedWaitMin": n, "window": n, "windowName": s,
        "recallCount": n, "issuedAtMs": s, "calledAtMs": s, "rating": n,
        "canRate": {"type": "boolean"},
        "materials": {"type": "array", "items": s},
        "awaitingArrival": {"type": "boolean", "description": "a remote ticket not checked in yet (not called until it is)"},
        "checkInByMs": {"type": "string", "description": "with nobody ahead: check in before this (Unix ms), or it expires; \"0\" otherwise"},
        "canNotify": {"type": "boolean"},
        "notify": {"type": "object", "nullable": true,
                   "properties": {"phoneMasked": s, "ahead": n}},
    }})
}

fn query(name: &str, what: &str, required: bool) -> Value {
    json!({"name": name, "in": "query", "required": required, "description": what,
           "schema": {"type": "string"}})
}

/// A holder's POST on their ticket with its secret (the ticket page's
/// routes): a JSON body, the ticket's view after it.
fn holder_op(
    id: &str,
    summary: &str,
    body: Value,
    after: &str,
    secret: &Value,
    not_found: &Value,
) -> Value {
    json!({
        "operationId": id,
        "summary": summary,
        "parameters": secret,
        "requestBody": {"required": true, "content": {"application/json": {"schema": body}}},
        "responses": (|| { let mut r = errors(); r["200"] = json!({"description": after,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TicketView"}}}});
            r["404"] = not_found.clone(); r })(),
    })
}

/// Rating a finished ticket with its secret.
fn rating_op(id: &str, secret: &Value, not_found: &Value) -> Value {
    holder_op(
        id,
        "the visitor rates a ticket served today, once (5 非常满意 … 1 非常不满意; a reason for 2 and 1)",
        json!({"type": "object", "required": ["level"],
            "properties": {"level": {"type": "integer", "minimum": 1, "maximum": 5},
                           "reason": {"type": "string", "maxLength": 600}}}),
        "the ticket's view after the rating",
        secret,
        not_found,
    )
}

/// Opting in to notifications with the ticket's secret.
fn notify_op(id: &str, secret: &Value, not_found: &Value) -> Value {
    holder_op(
        id,
        "the holder asks to be told (through the hall's webhooks) when `ahead` or fewer people are ahead, and when the ticket is called or recalled; again replaces the opt-in",
        json!({"type": "object", "required": ["phone"], "additionalProperties": false,
            "properties": {"phone": {"type": "string", "maxLength": 32,
                                     "description": "a mainland mobile number (11 digits; +86, spaces, dashes allowed)"},
                           "ahead": {"type": "integer", "minimum": 1, "maximum": 100,
                                     "description": "default: the hall's notify.default_ahead"}}}),
        "the ticket's view after the opt-in",
        secret,
        not_found,
    )
}

/// An HTML page.
fn page(id: &str, summary: &str) -> Value {
    json!({"operationId": id, "summary": summary,
           "responses": {"200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}}}})
}

/// A JSON object answer.
fn obj(what: &str) -> Value {
    json!({"description": what, "content": {"application/json": {"schema": {"type": "object"}}}})
}

/// One of the phone pages' calls (`web::book`): a JSON body or none, the
/// visitor token or not.
fn visitor_op(id: &str, summary: &str, body: Option<Value>, token: bool) -> Value {
    let mut op = json!({
        "operationId": id, "summary": summary,
        "responses": (|| { let mut r = errors(); r["200"] = obj("the answer"); r })(),
    });
    if let Some(b) = body {
        op["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": b}}});
    }
    if token {
        op["parameters"] = json!([{"name": "X-Visitor-Token", "in": "header", "required": true,
            "description": "from /api/v1/book/verify", "schema": {"type": "string"}}]);
    }
    op
}

/// The routes that are not RPCs, as (method, OpenAPI path, operation).
fn static_paths() -> Vec<(&'static str, &'static str, Value)> {
    let secret = json!([{"name": "secret", "in": "path", "required": true,
        "description": "the ticket's secret (32 hex digits, from the slip's QR)",
        "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}}]);
    let not_found = json!({"description": "no ticket of today has this secret (nothing more is said)",
        "content": {"text/html": {"schema": {"type": "string"}}}});
    let sse = |what: &str| json!({"description": what, "content": {"text/event-stream": {"schema": {"type": "string"}}}});
    vec![
        (
            "get",
            "/api/v1/openapi.json",
            json!({
                "operationId": "openapi", "summary": "this document",
                "responses": {"200": {"description": "OpenAPI 3", "content": {"application/json": {"schema": {"type": "object"}}}}},
            }),
        ),
        (
            "get",
            "/api/v1/events",
            json!({
                "operationId": "events",
                "summary": "the event stream (EventService/Subscribe) as Server-Sent Events: `id` is the sequence number, `data` a hall.v1.Event in proto3 JSON",
                "parameters": [
                    {"name": "Last-Event-ID", "in": "header", "required": false,
                     "description": "resume with exactly the events after this sequence number",
                     "schema": {"type": "string"}},
                    {"name": "from_seq", "in": "query", "required": false,
                     "description": "replay from this sequence number (without either: from the next event)",
                     "schema": {"type": "integer", "minimum": 1}},
                ],
                "responses": (|| { let mut r = errors(); r["200"] = sse("events; `event: error` carries a refusal and ends the stream"); r })(),
            }),
        ),
        (
            "get",
            "/t/{secret}",
            json!({
                "operationId": "ticketPage", "summary": "the visitor's ticket page (HTML)",
                "parameters": secret,
                "responses": {"200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}}, "404": not_found},
            }),
        ),
        (
            "get",
            "/t/{secret}/state",
            json!({
                "operationId": "ticketState", "summary": "the ticket as its holder sees it",
                "parameters": secret,
                "responses": {"200": {"description": "the view", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TicketView"}}}}, "404": not_found},
            }),
        ),
        (
            "get",
            "/t/{secret}/events",
            json!({
                "operationId": "ticketEvents", "summary": "the same view again whenever it changes (SSE); `event: gone` when the day is over",
                "parameters": secret,
                "responses": {"200": sse("views"), "404": not_found},
            }),
        ),
        (
            "post",
            "/t/{secret}/rating",
            rating_op("rateFromTicketPage", &secret, &not_found),
        ),
        (
            "post",
            "/api/v1/tickets/{secret}/rating",
            rating_op("rateTicket", &secret, &not_found),
        ),
        (
            "post",
            "/t/{secret}/notify",
            notify_op("notifyFromTicketPage", &secret, &not_found),
        ),
        (
            "post",
            "/api/v1/tickets/{secret}/notify",
            notify_op("notifyTicket", &secret, &not_found),
        ),
        (
            "get",
            "/api/v1/reports",
            json!({
                "operationId": "report",
                "summary": "a report across dates (ReportService/GetReport) as JSON (the Report message plus `table`), CSV or XLSX; supervisor or admin",
                "parameters": [
                    query("from", "first day, YYYY-MM-DD", true),
                    query("to", "last day, YYYY-MM-DD (at most 366 days)", true),
                    {"name": "by", "in": "query", "required": false, "schema": {"type": "string",
                     "enum": ["category", "zone", "window", "clerk", "hour"], "default": "category"}},
                    {"name": "format", "in": "query", "required": false, "schema": {"type": "string",
                     "enum": ["json", "csv", "xlsx"], "default": "json"}},
                ],
                "responses": (|| { let mut r = errors(); r["200"] = json!({"description": "the report",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/hall.v1.Report"}},
                                "text/csv": {"schema": {"type": "string"}},
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}}}}); r })(),
            }),
        ),
        (
            "get",
            "/api/v1/ratings/export",
            json!({
                "operationId": "ratingsExport",
                "summary": "the 好差评 records (ReportService/ExportRatings) as JSON or CSV",
                "parameters": [
                    query("from", "first day, YYYY-MM-DD", true),
                    query("to", "last day, YYYY-MM-DD", true),
                    {"name": "format", "in": "query", "required": false, "schema": {"type": "string",
                     "enum": ["json", "csv"], "default": "json"}},
                ],
                "responses": (|| { let mut r = errors(); r["200"] = json!({"description": "the records",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/hall.v1.RatingExport"}},
                                "text/csv": {"schema": {"type": "string"}}}}); r })(),
            }),
        ),
        (
            "get",
            "/console",
            json!({
                "operationId": "console", "summary": "the supervisor console (HTML)",
                "responses": {"200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}}},
            }),
        ),
        (
            "post",
            "/console/login",
            json!({
                "operationId": "consoleLogin",
                "summary": "a supervisor's or admin's password login for this browser (AdminService/StaffLogin): sets the HttpOnly session cookies",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object",
                    "required": ["account", "password"],
                    "properties": {"account": {"type": "string"}, "password": {"type": "string"}}}}}},
                "responses": (|| { let mut r = errors(); r["200"] = json!({"description": "logged in",
                    "content": {"application/json": {"schema": {"type": "object"}}}}); r })(),
            }),
        ),
        (
            "post",
            "/console/logout",
            json!({
                "operationId": "consoleLogout", "summary": "ends the console's session and clears its cookies",
                "responses": (|| { let mut r = errors(); r["200"] = json!({"description": "logged out",
                    "content": {"application/json": {"schema": {"type": "object"}}}}); r })(),
            }),
        ),
        (
            "post",
            "/api/v1/tickets/{secret}/arrive",
            json!({
                "operationId": "ticketArrive",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "summary": "the holder of a remote ticket (线上取号) checks in from the phone; accepted only from the hall's networks (`hall.checkin_networks`), elsewhere the kiosk's QR scan does it (KioskService/CheckInAppointment with `qr`)",
                "parameters": secret,
                "responses": (|| { let mut r = errors(); r["200"] = json!({"description": "the ticket's view, callable from now",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TicketView"}}}});
                    r["404"] = not_found.clone(); r })(),
            }),
        ),
        (
            "post",
            "/t/{secret}/arrive",
            json!({
                "operationId": "ticketArriveFromPage", "summary": "as /api/v1/tickets/{secret}/arrive (the ticket page's own route)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "parameters": secret,
                "responses": (|| { let mut r = errors(); r["200"] = json!({"description": "the ticket's view",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TicketView"}}}});
                    r["404"] = not_found.clone(); r })(),
            }),
        ),
        (
            "get",
            "/t/{secret}/qr.svg",
            json!({
                "operationId": "ticketQr", "summary": "the ticket page's address as a QR code (SVG): a kiosk's scan of it checks a remote ticket in",
                "parameters": secret,
                "responses": {"200": {"description": "SVG", "content": {"image/svg+xml": {"schema": {"type": "string"}}}}, "404": not_found},
            }),
        ),
        (
            "get",
            "/b/{secret}/qr.svg",
            json!({
                "operationId": "bookingQr", "summary": "a booking's QR code (SVG, `{base}/b/{secret}`): a kiosk's scan of it checks the booking in (KioskService/CheckInAppointment with `qr`)",
                "parameters": [{"name": "secret", "in": "path", "required": true, "description": "the booking's secret (from /api/v1/book)",
                                "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}}],
                "responses": {"200": {"description": "SVG", "content": {"image/svg+xml": {"schema": {"type": "string"}}}}, "404": {"description": "no such booking"}},
            }),
        ),
        (
            "get",
            "/book",
            page(
                "bookPage",
                "掌上办: book a slot, see and cancel one's bookings (HTML, zh/en)",
            ),
        ),
        (
            "get",
            "/remote",
            page(
                "remotePage",
                "掌上办: take a number remotely, then follow it on its ticket page (HTML, zh/en)",
            ),
        ),
        (
            "get",
            "/api/v1/book/catalog",
            visitor_op(
                "bookCatalog",
                "the categories that can be booked (`slotMinutes` > 0) or taken remotely (`remote`), with today's date and the cancel deadline",
                None,
                false,
            ),
        ),
        (
            "get",
            "/api/v1/book/slots",
            json!({
                "operationId": "bookSlots", "summary": "the slots of a category on a day still open for booking, with their free places",
                "parameters": [query("category", "category code", true), query("date", "YYYY-MM-DD", true)],
                "responses": (|| { let mut r = errors(); r["200"] = obj("`{date, slots: [{start, end, free}]}`"); r })(),
            }),
        ),
        (
            "post",
            "/api/v1/book/code",
            visitor_op(
                "bookCode",
                "sends a six-digit one-time code (验证码) to the phone through the hall's notification sinks (trigger `code`); once a minute per phone, good for 5 minutes and 5 tries",
                Some(
                    json!({"type": "object", "required": ["phone"], "additionalProperties": false,
                "properties": {"phone": {"type": "string", "maxLength": 32}}}),
                ),
                false,
            ),
        ),
        (
            "post",
            "/api/v1/book/verify",
            visitor_op(
                "bookVerify",
                "checks the code and the ID number; answers `{token, maskedName, phoneMasked}`: the visitor token for the calls below (header X-Visitor-Token, two hours)",
                Some(
                    json!({"type": "object", "required": ["phone", "code", "idNumber"], "additionalProperties": false,
                "properties": {"phone": {"type": "string"}, "code": {"type": "string"},
                               "idNumber": {"type": "string", "description": "18 characters; kept only as its keyed hash"},
                               "name": {"type": "string", "description": "shown masked (张*三)"}}}),
                ),
                false,
            ),
        ),
        (
            "post",
            "/api/v1/book",
            visitor_op(
                "book",
                "books a slot for the visitor (limits per week and month, blocks after missed appointments, capacity); answers the booking with its QR secret (`/b/{secret}` at a kiosk checks it in)",
                Some(
                    json!({"type": "object", "required": ["category", "date", "slotStart", "slotEnd", "requestId"], "additionalProperties": false,
                "properties": {"category": {"type": "string"}, "date": {"type": "string"},
                               "slotStart": {"type": "string"}, "slotEnd": {"type": "string"},
                               "requestId": {"type": "string", "description": "one per attempt, the same on its retries"}}}),
                ),
                true,
            ),
        ),
        (
            "get",
            "/api/v1/book/mine",
            visitor_op(
                "bookMine",
                "the visitor's bookings (upcoming and of the last month) and any block (`blockedUntil`, `missed`)",
                None,
                true,
            ),
        ),
        (
            "post",
            "/api/v1/book/{id}/cancel",
            json!({
                "operationId": "bookCancel",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "summary": "the visitor cancels one of their bookings (until `policy.booking_cancel_minutes` before it); answers their bookings",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                               {"name": "X-Visitor-Token", "in": "header", "required": true, "schema": {"type": "string"}}],
                "responses": (|| { let mut r = errors(); r["200"] = obj("the visitor's bookings"); r })(),
            }),
        ),
        (
            "post",
            "/api/v1/remote",
            visitor_op(
                "remoteTicket",
                "a remote ticket (线上取号) for the phone that the code confirms, within the category's share of the day's quota; answers `{number, serviceDate, page}` (the ticket page, where it is checked in)",
                Some(
                    json!({"type": "object", "required": ["category", "phone", "code", "requestId"], "additionalProperties": false,
                "properties": {"category": {"type": "string"}, "phone": {"type": "string"},
                               "code": {"type": "string"}, "requestId": {"type": "string"}}}),
                ),
                false,
            ),
        ),
        (
            "get",
            "/",
            json!({
                "operationId": "root", "summary": "redirects to the data screen",
                "responses": {"307": {"description": "to /screen"}},
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document is OpenAPI 3.0 as a typed model of the specification
    /// reads it: every path item, operation, parameter, schema and
    /// response in its place and of its type.
    #[test]
    fn the_document_reads_as_openapi_3() {
        let doc: openapiv3::OpenAPI =
            serde_json::from_value(document()).expect("valid OpenAPI 3.0");
        assert!(doc.openapi.starts_with("3.0"));
        let ticket = doc
            .paths
            .paths
            .get("/api/v1/KioskService/IssueTicket")
            .and_then(|p| p.as_item())
            .and_then(|i| i.post.as_ref())
            .expect("IssueTicket");
        for code in ["200", "400", "401", "403", "503"] {
            assert!(
                ticket
                    .responses
                    .responses
                    .contains_key(&openapiv3::StatusCode::Code(code.parse().unwrap())),
                "{code}"
            );
        }
        let schemas = &doc.components.as_ref().unwrap().schemas;
        assert!(schemas.contains_key("hall.v1.Ticket") && schemas.contains_key("Error"));
    }

    /// Every `$ref` in the document names a schema it defines.
    #[test]
    fn every_reference_resolves_and_every_unary_method_has_a_path() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        if k == "$ref" {
                            out.push(v.as_str().unwrap().to_string());
                        } else {
                            refs(v, out);
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = vec![];
        refs(&doc, &mut all);
        assert!(all.len() > 100, "{}", all.len());
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            assert!(schemas.contains_key(name), "{r} is not defined");
        }
        let paths = doc["paths"].as_object().unwrap();
        for s in POOL.services().filter(|s| s.package_name() == "hall.v1") {
            for m in s.methods().filter(|m| !m.is_server_streaming()) {
                let p = format!("/api/v1/{}/{}", s.name(), m.name());
                assert!(paths.contains_key(&p), "{p} missing");
            }
        }
        assert_eq!(
            doc["components"]["schemas"]["hall.v1.Ticket"]["properties"]["statusUrl"]["type"],
            "string"
        );
    }
}
